/**
 * A Lambda event source mapping on an offline SQS queue, polling as Lambda's does ("Using Lambda
 * with Amazon SQS", "Lambda parameters for Amazon SQS event source mappings", "Handling errors for
 * an SQS event source in Lambda", AWS Lambda Developer Guide):
 *
 * - A few pollers long-poll the queue (Lambda starts with five; offline they are as many as the
 *   offline Lambda workers of a function, two by default, so that a poller never waits for a
 *   worker while holding messages). Each gathers a batch until it has `batchSize` records, the
 *   `maximumBatchingWindow` has passed since its first record, or the event would pass the 6 MB
 *   synchronous invocation payload limit; with no window it invokes with what one receive gave.
 * - The function is invoked synchronously with the SQS event as AWS builds it (Records[] with
 *   messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody, eventSource,
 *   eventSourceARN, awsRegion), through the same offline Lambda API the IoT rules use.
 * - Success: the batch is deleted. An invocation error: nothing is deleted; the messages come
 *   back after the queue's visibility timeout, and after maxReceiveCount receives SQS moves them
 *   to the dead-letter queue. With ReportBatchItemFailures, the function's
 *   `{ batchItemFailures: [{ itemIdentifier }] }` names the records that failed: the others are
 *   deleted. An empty or null list, or an empty or null response, is a complete success; a
 *   response that is not an object, or an itemIdentifier that is empty, null, misnamed or not a
 *   message of the batch, fails the whole batch ("Implementing partial batch responses").
 */
import type { LambdaInvoker } from '../iot/lambda-invoker';
import type { MessageAttributeValue, ReceivedMessage } from './queue';
import type { OfflineSqsQueues } from './queue-store';
import type { EventSourceMapping } from './template';

/** The synchronous invocation payload limit ("Lambda quotas"): 6 MB. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** Lambda long-polls with the longest wait SQS allows. */
const LONG_POLL_MS = 20_000;
/** How long stop() lets invocations in flight finish before it aborts them. */
const DEFAULT_STOP_DRAIN_MS = 5_000;

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    SenderId: string;
    ApproximateFirstReceiveTimestamp: string;
  };
  messageAttributes: Record<string, SqsRecordAttribute>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

interface SqsRecordAttribute {
  stringValue?: string;
  binaryValue?: string;
  stringListValues: string[];
  binaryListValues: string[];
  dataType: string;
}

export interface EventSourceStatus {
  invocations: number;
  /** Records handed to the function. */
  records: number;
  /** Records deleted after the function succeeded with them. */
  deleted: number;
  /** Records left in the queue by a failed invocation or a batchItemFailures entry. */
  failed: number;
  /** Invocations whose whole batch failed (an error, or an invalid partial batch response). */
  failedInvocations: number;
}

export interface SqsEventSourceOptions {
  queues: OfflineSqsQueues;
  mapping: EventSourceMapping;
  invoker: LambdaInvoker;
  region: string;
  /** Pollers (concurrent batches) for this mapping; capped by the mapping's maximumConcurrency. */
  pollers?: number;
  stopDrainMs?: number;
  /** A line worth logging: an invocation that failed, with why. */
  onError?: (message: string) => void;
}

/** The SQS event record AWS builds for one received message. */
export function sqsRecord(
  { message, receiptHandle, receiveCount, firstReceivedAt }: ReceivedMessage,
  queueArn: string,
  region: string,
): SqsRecord {
  return {
    messageId: message.id,
    receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: message.senderId,
      ApproximateFirstReceiveTimestamp: String(firstReceivedAt),
    },
    messageAttributes: recordAttributes(message.messageAttributes),
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes
      ? { md5OfMessageAttributes: message.md5OfMessageAttributes }
      : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function recordAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, SqsRecordAttribute> {
  const out: Record<string, SqsRecordAttribute> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    out[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue } : {}),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType,
    };
  }
  return out;
}

/**
 * The message ids a partial batch response reports failed, or 'all' when the response makes the
 * whole batch a failure.
 */
export function failedItems(response: unknown, batch: ReadonlySet<string>): Set<string> | 'all' {
  const failed = new Set<string>();
  if (response === null || response === undefined) return failed;
  if (typeof response !== 'object' || Array.isArray(response)) return 'all';
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return failed;
  if (!Array.isArray(failures)) return 'all';
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !batch.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

export class SqsEventSource {
  private readonly polling = new AbortController();
  private readonly invoking = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly counts: EventSourceStatus = {
    invocations: 0,
    records: 0,
    deleted: 0,
    failed: 0,
    failedInvocations: 0,
  };

  constructor(private readonly options: SqsEventSourceOptions) {}

  get mapping(): EventSourceMapping {
    return this.options.mapping;
  }

  status(): EventSourceStatus {
    return { ...this.counts };
  }

  start(): void {
    const { mapping } = this.options;
    const pollers = Math.min(
      this.options.pollers ?? 2,
      mapping.maximumConcurrency ?? Number.POSITIVE_INFINITY,
    );
    for (let i = 0; i < pollers; i++) this.running.push(this.poll());
  }

  /** No new batches; the invocations in flight get stopDrainMs to finish, then are aborted. */
  async stop(): Promise<void> {
    this.polling.abort();
    const drained = Promise.all(this.running);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.stopDrainMs ?? DEFAULT_STOP_DRAIN_MS);
    });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    this.invoking.abort();
    await drained;
  }

  private async poll(): Promise<void> {
    const signal = this.polling.signal;
    while (!signal.aborted) {
      try {
        const batch = await this.gather(signal);
        if (batch.length > 0) await this.invoke(batch);
      } catch (error) {
        this.options.onError?.(`SQS event source ${this.describe()}: ${String(error)}`);
        // A store that fails (its journal cannot be written) is not retried in a tight loop.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** One batch: up to batchSize records, within the batching window and the payload limit. */
  private async gather(signal: AbortSignal): Promise<ReceivedMessage[]> {
    const { queues, mapping } = this.options;
    const batch: ReceivedMessage[] = [];
    let bytes = 0;
    let windowEnds = 0;
    for (;;) {
      const first = batch.length === 0;
      const waitMs = first ? LONG_POLL_MS : windowEnds - Date.now();
      if (!first && (waitMs <= 0 || batch.length >= mapping.batchSize)) return batch;
      const received = await queues.receive(mapping.queueName, {
        maxNumberOfMessages: Math.min(10, mapping.batchSize - batch.length),
        waitMs: Math.max(0, waitMs),
        signal,
      });
      if (signal.aborted) {
        // Stopping: what was gathered goes back to the queue at once, untouched.
        this.release([...batch, ...received]);
        return [];
      }
      for (const message of received) {
        // Received again within the window (a visibility timeout shorter than the window, which
        // AWS advises against): one record, with the latest handle, the only one that deletes.
        const seen = batch.findIndex((item) => item.message.id === message.message.id);
        if (seen >= 0) {
          batch[seen] = message;
          continue;
        }
        const size = Buffer.byteLength(message.message.body) + 1024;
        if (batch.length > 0 && bytes + size > MAX_EVENT_BYTES) {
          this.release(received.slice(received.indexOf(message)));
          return batch;
        }
        bytes += size;
        batch.push(message);
      }
      if (first && batch.length > 0) {
        if (mapping.maximumBatchingWindow === 0) return batch;
        windowEnds = Date.now() + mapping.maximumBatchingWindow * 1000;
      }
    }
  }

  private release(messages: ReceivedMessage[]): void {
    for (const { receiptHandle } of messages) {
      try {
        this.options.queues.changeVisibility(this.mapping.queueName, receiptHandle, 0);
      } catch {
        // Deleted or timed out meanwhile: it is visible or gone already.
      }
    }
  }

  private async invoke(batch: ReceivedMessage[]): Promise<void> {
    const { mapping, region, queues, invoker } = this.options;
    const records = batch.map((received) => sqsRecord(received, mapping.queueArn, region));
    this.counts.invocations++;
    this.counts.records += records.length;
    const outcome = await invoker.invoke(
      mapping.functionName,
      { Records: records },
      { signal: this.invoking.signal },
    );
    let failed: Set<string> | 'all';
    if (!outcome.ok) failed = 'all';
    else if (mapping.reportBatchItemFailures) {
      failed = failedItems(outcome.result, new Set(records.map((record) => record.messageId)));
    } else failed = new Set();
    if (failed === 'all') {
      this.counts.failedInvocations++;
      this.counts.failed += records.length;
      this.options.onError?.(
        `SQS event source ${this.describe()}: the batch of ${records.length} failed, it returns ` +
          `after the visibility timeout: ${outcome.ok ? `invalid partial batch response ${preview(outcome.result)}` : outcome.error}`,
      );
      return;
    }
    for (const record of records) {
      if (failed.has(record.messageId)) {
        this.counts.failed++;
        continue;
      }
      try {
        queues.delete(mapping.queueName, record.receiptHandle);
        this.counts.deleted++;
      } catch (error) {
        this.options.onError?.(`SQS event source ${this.describe()}: ${String(error)}`);
      }
    }
  }

  private describe(): string {
    return `${this.mapping.queueName} → ${this.mapping.functionName}`;
  }
}

/** The start of a function's answer, for a log line (a structure too deep to print is named). */
function preview(value: unknown): string {
  try {
    return String(JSON.stringify(value)).slice(0, 200);
  } catch {
    return `(${typeof value})`;
  }
}
