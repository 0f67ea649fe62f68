/**
 * One standard SQS queue in memory, with SQS's semantics and a clock the caller passes in (so
 * the tests move time instead of sleeping). What this follows, from the Amazon SQS Developer
 * Guide and API Reference:
 *
 * - "Amazon SQS visibility timeout": a received message stays in the queue, invisible for the
 *   visibility timeout (the queue's, or the ReceiveMessage's); unless deleted, it is received
 *   again afterwards. ChangeMessageVisibility sets a new timeout from now (0: visible at once).
 * - DeleteMessage: "you must provide the most recently received ReceiptHandle for the message
 *   (otherwise, the request succeeds, but the message will not be deleted)".
 * - "Using dead-letter queues in Amazon SQS": a message whose ReceiveCount would exceed the
 *   redrive policy's maxReceiveCount is moved to the dead-letter queue instead of being received;
 *   for a standard queue "the enqueue timestamp is unchanged" ("Setting-up dead-letter queue
 *   retention"), so it expires there by its first SentTimestamp.
 * - MessageRetentionPeriod: a message older than it is deleted, received or not.
 * - DelaySeconds: a new message is invisible for that long (the queue's default, or the send's).
 * - PurgeQueue: deletes the messages sent before the call; one purge per queue every 60 s.
 *
 * Order is best effort, as in a standard queue: messages come back roughly in the order sent,
 * a message whose visibility timeout ran out goes to the back.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SqsError, invalidValue } from './errors';

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

export interface QueueSettings {
  name: string;
  arn: string;
  /** Seconds, 0 to 43 200 (12 h); SQS's default 30. */
  visibilityTimeout: number;
  /** Seconds, 60 to 1 209 600 (14 days); SQS's default 345 600 (4 days). */
  messageRetentionPeriod: number;
  /** Seconds, 0 to 900; default 0. */
  delaySeconds: number;
  /** Bytes, 1 024 to 1 048 576; default 262 144 (256 KiB). */
  maximumMessageSize: number;
  /** The default long-poll wait of ReceiveMessage, 0 to 20 s. */
  receiveMessageWaitTimeSeconds: number;
  redrivePolicy?: RedrivePolicy;
}

export const SQS_DEFAULTS = {
  visibilityTimeout: 30,
  messageRetentionPeriod: 4 * 24 * 60 * 60,
  delaySeconds: 0,
  maximumMessageSize: 256 * 1024,
  receiveMessageWaitTimeSeconds: 0,
} as const;

/** A message attribute as the SQS API carries it (BinaryValue in base64). */
export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export interface StoredMessage {
  id: string;
  body: string;
  md5OfBody: string;
  /** Epoch ms: when it was first sent (kept through a move to the dead-letter queue). */
  sentAt: number;
  senderId: string;
  messageAttributes?: Record<string, MessageAttributeValue>;
  md5OfMessageAttributes?: string;
  receiveCount: number;
  firstReceivedAt?: number;
  /** Epoch ms from which it can be received (delay, or visibility timeout). */
  visibleAt: number;
  /** The token of the latest receive's handle; only that handle deletes it. */
  receipt?: string;
  /** In a dead-letter queue: the queue it was moved from (where a redrive sends it back). */
  deadLetterSourceArn?: string;
}

export interface ReceivedMessage {
  message: StoredMessage;
  receiptHandle: string;
  /** ApproximateReceiveCount and …FirstReceiveTimestamp as of this receive. */
  receiveCount: number;
  firstReceivedAt: number;
}

export interface SendInput {
  body: string;
  delaySeconds?: number;
  messageAttributes?: Record<string, MessageAttributeValue>;
  senderId: string;
}

/** What a receive did besides returning messages: the journal records it. */
export interface ReceiveEffects {
  received: ReceivedMessage[];
  /** Moved out because their receive count would have exceeded maxReceiveCount. */
  deadLettered: StoredMessage[];
  /** Older than the retention period: deleted. */
  expired: StoredMessage[];
}

/** A copy of the message as a new delivery: no receipt, and the given fields changed. */
export function copyMessage(
  message: StoredMessage,
  changes: Partial<StoredMessage>,
  drop: readonly (keyof StoredMessage)[] = [],
): StoredMessage {
  const copy: StoredMessage = { ...message, ...changes };
  for (const key of ['receipt', ...drop] as const) delete copy[key];
  return copy;
}

export const MAX_VISIBILITY_TIMEOUT = 12 * 60 * 60;
const PURGE_INTERVAL_MS = 60_000;

/** "Amazon SQS message quotas", message content: the characters SQS accepts. */
// eslint-disable-next-line no-control-regex -- tab, LF and CR are the allowed control characters
const INVALID_CHARACTER = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export const md5 = (text: string | Buffer) => createHash('md5').update(text).digest('hex');

/**
 * "Calculating the MD5 message digest for message attributes" (Amazon SQS Developer Guide): each
 * attribute in name order as length-prefixed name, data type, a transport byte (1 string, 2
 * binary) and length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const parts: Buffer[] = [];
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const value = attributes[name]!;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      field(Buffer.from(value.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      field(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return md5(Buffer.concat(parts));
}

/** The bytes SQS counts against MaximumMessageSize: body, attribute names, types and values. */
export function messageSize(body: string, attributes?: Record<string, MessageAttributeValue>) {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType);
    bytes +=
      value.BinaryValue !== undefined
        ? Buffer.from(value.BinaryValue, 'base64').length
        : Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

export class OfflineQueue {
  /** Receivable now (or once promoted), roughly in the order sent. */
  private readonly ready = new Map<string, StoredMessage>();
  /** Delayed or in flight: invisible until visibleAt. */
  private readonly hidden = new Map<string, StoredMessage>();
  /** The earliest visibleAt among the hidden ones (a lower bound: may be stale-early). */
  private nextVisibleAt = Infinity;
  private lastPurgeAt = -Infinity;
  private readonly listeners = new Set<() => void>();

  constructor(readonly settings: QueueSettings) {}

  get name(): string {
    return this.settings.name;
  }

  /** Validates and stores a new message (SendMessage). */
  send(input: SendInput, now: number): StoredMessage {
    const delay = input.delaySeconds ?? this.settings.delaySeconds;
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) {
      throw invalidValue('DelaySeconds', delay, 'must be between 0 and 900, if provided');
    }
    this.validateBody(input.body, input.messageAttributes);
    const attributes =
      input.messageAttributes && Object.keys(input.messageAttributes).length > 0
        ? input.messageAttributes
        : undefined;
    const message: StoredMessage = {
      id: randomUUID(),
      body: input.body,
      md5OfBody: md5(input.body),
      sentAt: now,
      senderId: input.senderId,
      receiveCount: 0,
      visibleAt: now + delay * 1000,
      ...(attributes
        ? {
            messageAttributes: attributes,
            md5OfMessageAttributes: md5OfMessageAttributes(attributes),
          }
        : {}),
    };
    this.restore(message, now);
    return message;
  }

  private validateBody(body: string, attributes?: Record<string, MessageAttributeValue>): void {
    if (body.length === 0) {
      throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    }
    if (INVALID_CHARACTER.test(body)) {
      throw new SqsError(
        'InvalidMessageContents',
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const size = messageSize(body, attributes);
    if (size > this.settings.maximumMessageSize) {
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${this.settings.maximumMessageSize} bytes.`,
      );
    }
  }

  /** Puts back a message as it was (journal replay, a move from another queue). */
  restore(message: StoredMessage, now: number): void {
    if (message.visibleAt > now) {
      this.hidden.set(message.id, message);
      this.nextVisibleAt = Math.min(this.nextVisibleAt, message.visibleAt);
    } else {
      this.ready.set(message.id, message);
    }
    this.notify();
  }

  /**
   * Up to `max` messages, each hidden for `visibilityTimeout` seconds. A message that would go
   * past the redrive policy's maxReceiveCount is handed back in deadLettered instead (the caller
   * moves it), an expired one in expired.
   */
  receive(max: number, visibilityTimeout: number, now: number): ReceiveEffects {
    this.promote(now);
    const effects: ReceiveEffects = { received: [], deadLettered: [], expired: [] };
    const maxReceiveCount = this.settings.redrivePolicy?.maxReceiveCount;
    for (const message of this.ready.values()) {
      if (effects.received.length >= max) break;
      this.ready.delete(message.id);
      if (this.isExpired(message, now)) {
        effects.expired.push(message);
        continue;
      }
      if (maxReceiveCount !== undefined && message.receiveCount >= maxReceiveCount) {
        effects.deadLettered.push(message);
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.receipt = randomBytes(12).toString('base64url');
      message.visibleAt = now + visibilityTimeout * 1000;
      this.hidden.set(message.id, message);
      this.nextVisibleAt = Math.min(this.nextVisibleAt, message.visibleAt);
      effects.received.push({
        message,
        receiptHandle: this.handleOf(message),
        receiveCount: message.receiveCount,
        firstReceivedAt: message.firstReceivedAt,
      });
    }
    return effects;
  }

  /** DeleteMessage: true when the message went (a stale handle succeeds and deletes nothing). */
  delete(receiptHandle: string): StoredMessage | undefined {
    const { id, receipt } = this.parseHandle(receiptHandle);
    const message = this.hidden.get(id) ?? this.ready.get(id);
    if (!message || message.receipt !== receipt) return undefined;
    this.hidden.delete(id);
    this.ready.delete(id);
    return message;
  }

  /** Takes a message out whatever its state (a dead-letter redrive moves it elsewhere). */
  remove(id: string): void {
    this.hidden.delete(id);
    this.ready.delete(id);
  }

  /** ChangeMessageVisibility: a new timeout counted from now, for a message in flight. */
  changeVisibility(receiptHandle: string, visibilityTimeout: number, now: number): StoredMessage {
    validateVisibilityTimeout(visibilityTimeout);
    const { id, receipt } = this.parseHandle(receiptHandle);
    const message = this.hidden.get(id) ?? this.ready.get(id);
    if (!message || message.receipt !== receipt) {
      throw invalidValue(
        'ReceiptHandle',
        receiptHandle,
        'Message does not exist or is not available for visibility timeout change',
      );
    }
    if (!this.hidden.has(id) || message.visibleAt <= now) {
      throw new SqsError('MessageNotInflight', 'The specified message isn’t in flight.');
    }
    message.visibleAt = now + visibilityTimeout * 1000;
    if (visibilityTimeout === 0) {
      this.hidden.delete(id);
      this.ready.set(id, message);
      this.notify();
    } else {
      this.nextVisibleAt = Math.min(this.nextVisibleAt, message.visibleAt);
    }
    return message;
  }

  /** PurgeQueue: every message sent before now goes; SQS allows one purge every 60 s. */
  purge(now: number): StoredMessage[] {
    if (now - this.lastPurgeAt < PURGE_INTERVAL_MS) {
      throw new SqsError(
        'PurgeQueueInProgress',
        `Only one PurgeQueue operation on ${this.name} is allowed every 60 seconds.`,
      );
    }
    this.lastPurgeAt = now;
    const purged = [...this.ready.values(), ...this.hidden.values()];
    this.ready.clear();
    this.hidden.clear();
    this.nextVisibleAt = Infinity;
    return purged;
  }

  /** Deletes the messages past the retention period, received or not. */
  expire(now: number): StoredMessage[] {
    const expired: StoredMessage[] = [];
    for (const map of [this.ready, this.hidden]) {
      for (const message of map.values()) {
        if (this.isExpired(message, now)) {
          map.delete(message.id);
          expired.push(message);
        }
      }
    }
    return expired;
  }

  /** ApproximateNumberOfMessages, …NotVisible (in flight) and …Delayed. */
  counts(now: number): { visible: number; notVisible: number; delayed: number } {
    this.promote(now);
    let notVisible = 0;
    let delayed = 0;
    for (const message of this.hidden.values()) {
      if (message.receipt === undefined) delayed++;
      else notVisible++;
    }
    return { visible: this.ready.size, notVisible, delayed };
  }

  /** Every message, oldest first (for listing, the journal's snapshot and the DLQ tooling). */
  messages(): StoredMessage[] {
    return [...this.ready.values(), ...this.hidden.values()].sort((a, b) => a.sentAt - b.sentAt);
  }

  get size(): number {
    return this.ready.size + this.hidden.size;
  }

  /** When the next hidden message becomes visible (for a long poll's timer). */
  nextVisibleTime(now: number): number {
    this.promote(now);
    return this.nextVisibleAt;
  }

  /** Called once at the next change that may make a message receivable. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private isExpired(message: StoredMessage, now: number): boolean {
    return now - message.sentAt >= this.settings.messageRetentionPeriod * 1000;
  }

  /** Moves the hidden messages whose time came to the back of the ready ones. */
  private promote(now: number): void {
    if (now < this.nextVisibleAt) return;
    let next = Infinity;
    for (const message of this.hidden.values()) {
      if (message.visibleAt <= now) {
        this.hidden.delete(message.id);
        this.ready.set(message.id, message);
      } else next = Math.min(next, message.visibleAt);
    }
    this.nextVisibleAt = next;
  }

  /** Opaque to clients: the queue, the message and this receive's token. */
  private handleOf(message: StoredMessage): string {
    return Buffer.from(`${this.name}\n${message.id}\n${message.receipt}`, 'utf8').toString(
      'base64url',
    );
  }

  private parseHandle(receiptHandle: string): { id: string; receipt: string } {
    const parts = Buffer.from(receiptHandle, 'base64url').toString('utf8').split('\n');
    if (parts.length !== 3 || parts[0] !== this.name || !parts[1] || !parts[2]) {
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle.slice(0, 200)}" is not a valid receipt handle.`,
      );
    }
    return { id: parts[1], receipt: parts[2] };
  }
}

export function validateVisibilityTimeout(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_TIMEOUT) {
    throw invalidValue(
      'VisibilityTimeout',
      seconds,
      `Must be between 0 and ${MAX_VISIBILITY_TIMEOUT}, if provided`,
    );
  }
}
