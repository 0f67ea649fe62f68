/**
 * `npm run dlq -- --delivery`: the dead-letter queue of the batched delivery mode's queue
 * (`telemetry-<stage>-telemetry-delivery-dlq`, resources/delivery-batched.yml), where SQS moves a
 * reading forwardTelemetry did not take in maxReceiveCount receives. Each message is the reading
 * as the telemetry rule queued it (its SQL output: payload, topic, deviceId, receivedAt,
 * messageId). Offline it is the offline SQS twin's queue (the stack must run in batched mode);
 * with --stage, the stage's queue in AWS.
 *
 * Redrive is SQS's own dead-letter queue redrive ("Configure a dead-letter queue redrive", Amazon
 * SQS Developer Guide; StartMessageMoveTask, ListMessageMoveTasks): the messages go back to the
 * delivery queue, and its event source mapping hands them to forwardTelemetry again. One message
 * (--id) is moved by hand: sent to its source queue, then deleted here.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { UsageError } from './cli/command-line';
import type { CommandIo } from './dead-letter-queue';

/** The name `sls deploy --stage <stage>` gives it (resources/delivery-batched.yml). */
export const deliveryDeadLetterQueueName = (stage: string) =>
  `telemetry-${stage}-telemetry-delivery-dlq`;
const NAME_SUFFIX = '-telemetry-delivery-dlq';

/** ReceiveMessage returns at most 10 per call. */
const RECEIVE_BATCH = 10;
/** Long enough to list or move a batch before SQS shows the messages to anyone else. */
const VISIBILITY_TIMEOUT_SECONDS = 60;
const MOVE_TASK_POLL_MS = 1_000;
const MOVE_TASK_WAIT_MS = 5 * 60_000;

export interface DeliveryDeadLetter {
  messageId: string;
  receiptHandle: string;
  deviceId: string | undefined;
  topic: string | undefined;
  /** ISO 8601: when IoT Core received the reading (the rule's receivedAt), if readable. */
  receivedAt: string | undefined;
  /** ISO 8601: when the rule queued it (SentTimestamp, kept through the move to this queue). */
  sentAt: string;
  /**
   * ApproximateReceiveCount as SQS reports it: the receives in the delivery queue (offline, the
   * count moves with the message) and this listing's own.
   */
  receiveCount: number;
  /** The queue it came from (DeadLetterQueueSourceArn). */
  sourceArn: string | undefined;
  body: string;
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

export function decodeDeliveryDeadLetter(message: {
  MessageId?: string;
  ReceiptHandle?: string;
  Body?: string;
  Attributes?: Partial<Record<string, string>>;
}): DeliveryDeadLetter {
  let reading: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(message.Body ?? '');
    if (typeof parsed === 'object' && parsed !== null) reading = parsed as Record<string, unknown>;
  } catch {
    // Not the rule's JSON: listed as it is.
  }
  const sent = Number(message.Attributes?.SentTimestamp);
  const received = typeof reading.receivedAt === 'number' ? reading.receivedAt : NaN;
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    deviceId: text(reading.deviceId),
    topic: text(reading.topic),
    receivedAt: Number.isFinite(received) ? new Date(received).toISOString() : undefined,
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : 'unknown',
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    sourceArn: message.Attributes?.DeadLetterQueueSourceArn,
    body: message.Body ?? '',
  };
}

export class DeliveryDeadLetterQueue {
  private queueUrl: string | undefined;

  constructor(
    private readonly sqs: SQSClient,
    readonly queueName: string,
  ) {}

  /** The one delivery dead-letter queue an endpoint has (offline: whatever the stack's stage). */
  static async find(sqs: SQSClient): Promise<DeliveryDeadLetterQueue> {
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
    const names = QueueUrls.map((url) => url.split('/').at(-1) ?? '').filter((name) =>
      name.endsWith(NAME_SUFFIX),
    );
    if (names.length !== 1) {
      throw new Error(
        names.length === 0
          ? 'the offline stack has no delivery dead-letter queue: start it in batched mode (npm start -- --param="deliveryMode=batched")'
          : `several delivery dead-letter queues (${names.join(', ')}): use --stage`,
      );
    }
    return new DeliveryDeadLetterQueue(sqs, names[0]!);
  }

  private async url(): Promise<string> {
    this.queueUrl ??= (
      await this.sqs.send(new GetQueueUrlCommand({ QueueName: this.queueName }))
    ).QueueUrl;
    if (!this.queueUrl) throw new Error(`no queue URL for ${this.queueName}`);
    return this.queueUrl;
  }

  /** Every message, each hidden from other readers until release (or VISIBILITY_TIMEOUT_SECONDS). */
  async receiveAll(): Promise<DeliveryDeadLetter[]> {
    const QueueUrl = await this.url();
    const letters = new Map<string, DeliveryDeadLetter>();
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: RECEIVE_BATCH,
          VisibilityTimeout: VISIBILITY_TIMEOUT_SECONDS,
          // Long polling asks every SQS server: an empty answer means the queue is drained.
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: [
            'SentTimestamp',
            'ApproximateReceiveCount',
            'DeadLetterQueueSourceArn',
          ],
        }),
      );
      if (Messages.length === 0) return [...letters.values()];
      for (const message of Messages) {
        const letter = decodeDeliveryDeadLetter(message);
        letters.set(letter.messageId, letter);
      }
    }
  }

  /** Makes the messages visible again at once. */
  async release(letters: DeliveryDeadLetter[]): Promise<void> {
    const QueueUrl = await this.url();
    for (let i = 0; i < letters.length; i += RECEIVE_BATCH) {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: letters.slice(i, i + RECEIVE_BATCH).map((letter, index) => ({
            Id: String(index),
            ReceiptHandle: letter.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }

  /** StartMessageMoveTask back to the source queue; resolves with the finished task. */
  async redriveAll(): Promise<{ status: string; moved: number; toMove: number }> {
    const QueueUrl = await this.url();
    const { Attributes } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const SourceArn = Attributes?.QueueArn;
    if (!SourceArn) throw new Error(`no ARN for ${this.queueName}`);
    const { TaskHandle } = await this.sqs.send(new StartMessageMoveTaskCommand({ SourceArn }));
    const deadline = Date.now() + MOVE_TASK_WAIT_MS;
    for (;;) {
      const { Results = [] } = await this.sqs.send(
        new ListMessageMoveTasksCommand({ SourceArn, MaxResults: 1 }),
      );
      const task = Results.find((result) => result.TaskHandle === TaskHandle) ?? Results[0];
      const status = task?.Status ?? 'UNKNOWN';
      if (status !== 'RUNNING' || Date.now() > deadline) {
        return {
          status,
          moved: task?.ApproximateNumberOfMessagesMoved ?? 0,
          toMove: task?.ApproximateNumberOfMessagesToMove ?? 0,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, MOVE_TASK_POLL_MS));
    }
  }

  /** One message back to the queue it came from: sent there, then deleted here. */
  async redriveOne(letter: DeliveryDeadLetter): Promise<void> {
    const source = letter.sourceArn?.split(':').at(-1);
    if (!source)
      throw new Error(`message ${letter.messageId} does not say which queue it came from`);
    const { QueueUrl } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: source }));
    await this.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: letter.body }));
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: await this.url(), ReceiptHandle: letter.receiptHandle }),
    );
  }

  async purge(): Promise<void> {
    await this.sqs.send(new PurgeQueueCommand({ QueueUrl: await this.url() }));
  }
}

export interface DeliveryCommandOptions {
  id: string | undefined;
  json: boolean;
  yes: boolean;
}

/** `list`, `redrive` or `purge` on a delivery dead-letter queue; resolves with the exit code. */
export async function runDeliveryCommand(
  queue: DeliveryDeadLetterQueue,
  subcommand: 'list' | 'redrive' | 'purge',
  { id, json, yes }: DeliveryCommandOptions,
  io: CommandIo,
): Promise<number> {
  if (subcommand === 'purge') {
    if (!yes) {
      const answer = await io.ask(
        `Purge deletes every message in ${queue.queueName}, for good. Type the queue name to go on: `,
      );
      if (answer === undefined)
        throw new UsageError('purge deletes every message: confirm with --yes');
      if (answer.trim() !== queue.queueName)
        throw new Error('purge not confirmed: nothing was deleted');
    }
    await queue.purge();
    io.write(`Purged ${queue.queueName}.\n`);
    return 0;
  }
  if (subcommand === 'redrive' && id === undefined) {
    const task = await queue.redriveAll();
    io.write(
      `Redrive of ${queue.queueName} to its source queue: ${task.status}, ${task.moved} of ` +
        `${task.toMove} message(s) moved.\n`,
    );
    return task.status === 'COMPLETED' ? 0 : 1;
  }

  const received = await queue.receiveAll();
  const letters = received.filter((letter) => id === undefined || letter.messageId === id);
  await queue.release(received.filter((letter) => !letters.includes(letter)));
  if (id !== undefined && letters.length === 0) {
    throw new Error(`no message with id ${id} in ${queue.queueName}`);
  }
  if (subcommand === 'redrive') {
    await queue.redriveOne(letters[0]!);
    io.write(`redriven ${letters[0]!.messageId} → ${letters[0]!.sourceArn}\n`);
    return 0;
  }
  await queue.release(letters);
  if (json) {
    io.write(
      `${JSON.stringify(
        letters.map(({ receiptHandle: _, ...rest }) => rest),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  for (const letter of letters) {
    io.write(
      `${letter.messageId}  queued ${letter.sentAt}, receive count ${letter.receiveCount}\n` +
        `  device ${letter.deviceId ?? '?'}, topic ${letter.topic ?? '?'}, read at ${letter.receivedAt ?? '?'}\n`,
    );
  }
  io.write(`${letters.length} message(s) in ${queue.queueName}.\n`);
  return 0;
}
