/**
 * The offline SQS queues: the queues of the template (local/sqs/template.ts), each in memory
 * (local/sqs/queue.ts) with its journal under `.local-cloud/sqs/` (local/sqs/journal.ts). The
 * SQS endpoint (local/sqs/server.ts), the Lambda event source mappings (local/sqs/event-source.ts)
 * and the IoT rules' SQS action all act on the same instance, so a message the rules engine sends
 * is at once receivable through the API and by the mapping.
 *
 * Long polling ("Amazon SQS short and long polling"): a receive that finds nothing waits, up to
 * WaitTimeSeconds, until a message is sent, made visible again, or its timeout ends.
 */
import path from 'node:path';
import { SqsError, queueDoesNotExist, invalidValue } from './errors';
import { Journal, journalFile, readJournal } from './journal';
import {
  OfflineQueue,
  SQS_DEFAULTS,
  copyMessage,
  validateVisibilityTimeout,
  type MessageAttributeValue,
  type QueueSettings,
  type ReceivedMessage,
  type StoredMessage,
} from './queue';

/** What `list` returns (the shape the first file-per-message store had). */
export interface QueuedMessage {
  messageId: string;
  body: string;
  /** ISO 8601: when it was first sent. */
  sentAt: string;
  receiveCount: number;
}

export interface SendOptions {
  delaySeconds?: number;
  messageAttributes?: Record<string, MessageAttributeValue>;
  /** The SenderId attribute; by default the IoT rules' role, since they are the usual sender. */
  senderId?: string;
}

export interface ReceiveOptions {
  /** 1 to 10. */
  maxNumberOfMessages?: number;
  /** Seconds; the queue's VisibilityTimeout unless given. */
  visibilityTimeout?: number;
  /** Long polling, 0 to 20 s; the queue's ReceiveMessageWaitTimeSeconds unless given. */
  waitTimeSeconds?: number;
  /** Long polling in ms, for the in-process event source mappings (overrides waitTimeSeconds). */
  waitMs?: number;
  /** Ends a long poll early (the caller is stopping). */
  signal?: AbortSignal;
}

export interface MoveOutcome {
  moved: number;
  /** Messages whose source queue is unknown or gone stay where they were. */
  failed: number;
}

export interface OfflineSqsQueuesOptions {
  queues?: QueueSettings[];
  /** Epoch ms; Date.now unless given (the unit tests move time). */
  clock?: () => number;
  /** How often messages past their retention period are deleted (default 60 s, 0: never). */
  expiryIntervalMs?: number;
}

/** The SenderId of the messages the offline IoT rules' SQS action sends (a role's session). */
export const RULES_SENDER_ID = 'AROAOFFLINEIOTRULES000:iot-rules';

/** SQS queue names: 1-80 of [A-Za-z0-9_-] (a FIFO queue's name ends in .fifo). */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$|^[A-Za-z0-9_-]{1,75}\.fifo$/;

export const isQueueName = (name: string) => QUEUE_NAME.test(name);

export class OfflineSqsQueues {
  private readonly queues = new Map<string, OfflineQueue>();
  private readonly journals = new Map<string, Journal>();
  private readonly now: () => number;
  private opened: Promise<void> | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly directory: string,
    private readonly options: OfflineSqsQueuesOptions = {},
  ) {
    this.now = options.clock ?? Date.now;
    for (const settings of options.queues ?? []) {
      this.queues.set(settings.name, new OfflineQueue(settings));
    }
    for (const queue of this.queues.values()) {
      const target = queue.settings.redrivePolicy?.deadLetterTargetArn;
      if (target !== undefined && !this.byArn(target)) {
        throw new Error(
          `SQS queue ${queue.name}: the redrive policy's deadLetterTargetArn ${target} is not a queue of this template`,
        );
      }
    }
  }

  /** Replays each queue's journal and opens it for appends; idempotent. */
  open(): Promise<void> {
    this.opened ??= (async () => {
      const now = this.now();
      for (const queue of this.queues.values()) {
        const file = journalFile(this.directory, queue.name);
        for (const message of await readJournal(file)) queue.restore(message, now);
        const journal = new Journal(file, () => queue.messages());
        await journal.open();
        this.journals.set(queue.name, journal);
        this.expireQueue(queue, now);
      }
      const interval = this.options.expiryIntervalMs ?? 60_000;
      if (interval > 0) {
        this.expiry = setInterval(() => this.expireAll(), interval);
        this.expiry.unref();
      }
    })();
    return this.opened;
  }

  /** Ends long polls and writes what is pending. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    clearInterval(this.expiry);
    await this.opened?.catch(() => undefined);
    await Promise.all([...this.journals.values()].map((journal) => journal.close()));
  }

  names(): string[] {
    return [...this.queues.keys()];
  }

  /** The queue of that name; QueueDoesNotExist as SQS answers otherwise. */
  queue(name: string): OfflineQueue {
    const queue = this.queues.get(name);
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  byArn(arn: string): OfflineQueue | undefined {
    for (const queue of this.queues.values()) if (queue.settings.arn === arn) return queue;
    return undefined;
  }

  /** The source queues whose redrive policy names this queue as their dead-letter queue. */
  deadLetterSources(name: string): OfflineQueue[] {
    const arn = this.queue(name).settings.arn;
    return [...this.queues.values()].filter(
      (queue) => queue.settings.redrivePolicy?.deadLetterTargetArn === arn,
    );
  }

  /** SendMessage; resolves once the message is on file. The IoT rules' SQS action calls this. */
  async send(queueName: string, body: string, options: SendOptions = {}): Promise<StoredMessage> {
    const queue = this.queue(queueName);
    await this.open();
    const message = queue.send(
      {
        body,
        delaySeconds: options.delaySeconds,
        messageAttributes: options.messageAttributes,
        senderId: options.senderId ?? RULES_SENDER_ID,
      },
      this.now(),
    );
    await this.journal(queue).sent(message);
    return message;
  }

  /** ReceiveMessage, with long polling. */
  async receive(queueName: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const queue = this.queue(queueName);
    const max = options.maxNumberOfMessages ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw invalidValue('MaxNumberOfMessages', max, 'Must be between 1 and 10, if provided');
    }
    const visibilityTimeout = options.visibilityTimeout ?? queue.settings.visibilityTimeout;
    validateVisibilityTimeout(visibilityTimeout);
    const wait = options.waitTimeSeconds ?? queue.settings.receiveMessageWaitTimeSeconds;
    if (!Number.isInteger(wait) || wait < 0 || wait > 20) {
      throw invalidValue('WaitTimeSeconds', wait, 'Must be >= 0 and <= 20, if provided');
    }
    await this.open();
    const deadline = this.now() + (options.waitMs ?? wait * 1000);
    for (;;) {
      const received = this.receiveNow(queue, max, visibilityTimeout);
      const now = this.now();
      if (received.length > 0 || now >= deadline || this.closed || options.signal?.aborted) {
        return received;
      }
      await this.changeOf(queue, Math.min(deadline, queue.nextVisibleTime(now)) - now, options);
    }
  }

  /** DeleteMessage by receipt handle. */
  delete(queueName: string, receiptHandle: string): void {
    const queue = this.queue(queueName);
    const deleted = queue.delete(receiptHandle);
    if (deleted) this.journal(queue).deleted([deleted.id]);
  }

  /** ChangeMessageVisibility. */
  changeVisibility(queueName: string, receiptHandle: string, visibilityTimeout: number): void {
    this.queue(queueName).changeVisibility(receiptHandle, visibilityTimeout, this.now());
  }

  /** PurgeQueue. */
  purge(queueName: string): void {
    const queue = this.queue(queueName);
    const purged = queue.purge(this.now());
    this.journal(queue).deleted(purged.map((message) => message.id));
  }

  /**
   * A dead-letter queue redrive (StartMessageMoveTask, "Configure a dead-letter queue redrive"):
   * every message of `queueName` goes back to the queue it was dead-lettered from, or to
   * `destination`, as a message that has not been received yet.
   */
  async moveMessages(queueName: string, destination?: string): Promise<MoveOutcome> {
    const queue = this.queue(queueName);
    await this.open();
    const sources = this.deadLetterSources(queueName);
    const fallback = destination
      ? this.queue(destination)
      : sources.length === 1
        ? sources[0]
        : undefined;
    let moved = 0;
    let failed = 0;
    const now = this.now();
    const writes: Promise<void>[] = [];
    const gone: string[] = [];
    for (const message of queue.messages()) {
      const origin = message.deadLetterSourceArn;
      const target = destination ? fallback : ((origin && this.byArn(origin)) ?? fallback);
      if (!target || target === queue) {
        failed++;
        continue;
      }
      queue.remove(message.id);
      gone.push(message.id);
      const fresh = copyMessage(message, { receiveCount: 0, visibleAt: now }, [
        'firstReceivedAt',
        'deadLetterSourceArn',
      ]);
      target.restore(fresh, now);
      writes.push(this.journal(target).sent(fresh));
      moved++;
    }
    this.journal(queue).deleted(gone);
    await Promise.all(writes);
    return { moved, failed };
  }

  /** GetQueueAttributes' values, all of them (the caller picks). */
  attributes(queueName: string): Record<string, string> {
    const queue = this.queue(queueName);
    const { settings } = queue;
    const counts = queue.counts(this.now());
    return {
      QueueArn: settings.arn,
      ApproximateNumberOfMessages: String(counts.visible),
      ApproximateNumberOfMessagesNotVisible: String(counts.notVisible),
      ApproximateNumberOfMessagesDelayed: String(counts.delayed),
      VisibilityTimeout: String(settings.visibilityTimeout),
      MessageRetentionPeriod: String(settings.messageRetentionPeriod),
      DelaySeconds: String(settings.delaySeconds),
      MaximumMessageSize: String(settings.maximumMessageSize),
      ReceiveMessageWaitTimeSeconds: String(settings.receiveMessageWaitTimeSeconds),
      ...(settings.redrivePolicy ? { RedrivePolicy: JSON.stringify(settings.redrivePolicy) } : {}),
    };
  }

  /**
   * Every message of a queue, oldest first, left where it is. A store that has not opened the
   * queue (another process owns it, e.g. a running stack) reads its journal instead.
   */
  async list(queueName: string): Promise<QueuedMessage[]> {
    const owned = this.opened !== undefined && this.queues.has(queueName);
    if (owned) await this.opened;
    else if (!isQueueName(queueName)) throw queueDoesNotExist();
    const messages = owned
      ? this.queue(queueName).messages()
      : await readJournal(journalFile(this.directory, queueName));
    return messages.map((message) => ({
      messageId: message.id,
      body: message.body,
      sentAt: new Date(message.sentAt).toISOString(),
      receiveCount: message.receiveCount,
    }));
  }

  /** Deletes what outlived its queue's retention period (SQS does so whether anyone looks). */
  expireAll(): void {
    const now = this.now();
    for (const queue of this.queues.values()) this.expireQueue(queue, now);
  }

  private expireQueue(queue: OfflineQueue, now: number): void {
    const expired = queue.expire(now);
    this.journals.get(queue.name)?.deleted(expired.map((message) => message.id));
  }

  private receiveNow(queue: OfflineQueue, max: number, visibilityTimeout: number) {
    const now = this.now();
    const effects = queue.receive(max, visibilityTimeout, now);
    const journal = this.journal(queue);
    journal.received(
      effects.received.map(({ message }) => message.id),
      now,
    );
    journal.deleted([...effects.expired, ...effects.deadLettered].map((message) => message.id));
    if (effects.deadLettered.length > 0) {
      const target = this.byArn(queue.settings.redrivePolicy!.deadLetterTargetArn)!;
      for (const message of effects.deadLettered) {
        const moved = copyMessage(message, {
          visibleAt: now,
          deadLetterSourceArn: queue.settings.arn,
        });
        target.restore(moved, now);
        void this.journal(target)
          .sent(moved)
          .catch(() => undefined);
      }
    }
    return effects.received;
  }

  private journal(queue: OfflineQueue): Journal {
    const journal = this.journals.get(queue.name);
    if (!journal) throw new SqsError('InternalFailure', `the queue ${queue.name} is not open`);
    return journal;
  }

  /** Resolves at the queue's next change, after `ms`, or when the receiver or the store stops. */
  private changeOf(queue: OfflineQueue, ms: number, options: ReceiveOptions): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        options.signal?.removeEventListener('abort', done);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      const unsubscribe = queue.onChange(done);
      options.signal?.addEventListener('abort', done);
      this.closing.signal.addEventListener('abort', done);
    });
  }
}

/** The queue settings SQS assumes for a queue the template does not describe further. */
export function defaultQueueSettings(name: string, arn: string): QueueSettings {
  return { name, arn, ...SQS_DEFAULTS };
}

export const sqsDirectory = (stateDir: string) => path.join(stateDir, 'sqs');
