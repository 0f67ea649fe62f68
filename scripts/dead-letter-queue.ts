/**
 * A stage's dead-letter queue in AWS (`telemetry-<stage>-telemetry-dlq`, resources/telemetry-rule.yml)
 * holds two kinds of record, and `npm run dlq -- --stage <stage>` reads both:
 *
 * - the topic rule's error action: IoT Core could not invoke forwardTelemetry. Its message is
 *   `{ ruleName, topic, cloudwatchTraceId, clientId, base64OriginalPayload, failures: [{
 *   failedAction, failedResource, errorMessage }] }` ("Error handling (error action)", AWS IoT
 *   Core Developer Guide); it carries no time, so the time is SQS's SentTimestamp.
 * - Lambda's on-failure destination: forwardTelemetry failed every attempt. Its message is the
 *   invocation record `{ version, timestamp, requestContext: { requestId, functionArn, condition,
 *   approximateInvokeCount }, requestPayload, responseContext, responsePayload }` ("Capturing
 *   records of Lambda asynchronous invocations", AWS Lambda Developer Guide).
 *
 * Redrive invokes forwardTelemetry synchronously with the event the rule would have handed it,
 * deletes the message once the function succeeded, and makes it visible again otherwise.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { UsageError } from './cli/command-line';

export type DeadLetterKind = 'rule-error-action' | 'lambda-on-failure' | 'unrecognized';

export interface StageDeadLetter {
  messageId: string;
  receiptHandle: string;
  kind: DeadLetterKind;
  topic: string | undefined;
  deviceId: string | undefined;
  reason: string;
  /** ISO 8601: when it failed. */
  time: string;
  /** The event forwardTelemetry is invoked with on redrive; undefined when none can be rebuilt. */
  event: Record<string, unknown> | undefined;
}

/** The names `sls deploy --stage <stage>` gives the queue and the function (serverless.yml). */
export const stageQueueName = (stage: string) => `telemetry-${stage}-telemetry-dlq`;
export const stageFunctionName = (stage: string) => `telemetry-${stage}-forwardTelemetry`;

/** ReceiveMessage returns at most 10 per call (Amazon SQS API Reference, ReceiveMessage). */
const RECEIVE_BATCH = 10;
/** Long enough to list or redrive a batch before SQS shows the messages to anyone else. */
const VISIBILITY_TIMEOUT_SECONDS = 60;

/** `devices/{id}/telemetry` → id, as the rule's `topic(2)` does. */
function deviceOfTopic(topic: string | undefined): string | undefined {
  const match = topic === undefined ? null : /^devices\/([^/]+)\/telemetry$/.exec(topic);
  return match?.[1];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

export function decodeDeadLetter(message: Message): StageDeadLetter {
  const sent = Number(message.Attributes?.SentTimestamp);
  const sentAt = Number.isFinite(sent) ? new Date(sent).toISOString() : 'unknown';
  const base = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
  };
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    body = undefined;
  }

  if (isObject(body) && Array.isArray(body.failures) && 'base64OriginalPayload' in body) {
    const topic = text(body.topic);
    const deviceId = deviceOfTopic(topic);
    const reason =
      body.failures
        .filter(isObject)
        .map(
          (failure) =>
            `${text(failure.failedAction) ?? 'action'}: ${text(failure.errorMessage) ?? ''}`,
        )
        .join('; ') || 'the rule action failed';
    const payload = text(body.base64OriginalPayload);
    return {
      ...base,
      kind: 'rule-error-action',
      topic,
      deviceId: deviceId ?? text(body.clientId),
      reason,
      time: sentAt,
      // What the rule's SQL (serverless.yml custom.telemetryRuleSql) makes of the message:
      // encode(*, 'base64') is the original payload in base64, topic(2) the device.
      event:
        topic !== undefined && deviceId !== undefined && payload !== undefined
          ? {
              payload,
              topic,
              deviceId,
              receivedAt: Number.isFinite(sent) ? sent : Date.now(),
              messageId: text(body.cloudwatchTraceId) ?? randomUUID(),
            }
          : undefined,
    };
  }

  if (isObject(body) && isObject(body.requestContext) && 'requestPayload' in body) {
    const event = isObject(body.requestPayload) ? body.requestPayload : undefined;
    const context = body.requestContext;
    const response = isObject(body.responsePayload) ? body.responsePayload : {};
    const error = [text(response.errorType), text(response.errorMessage)]
      .filter(Boolean)
      .join(': ');
    const attempts = context.approximateInvokeCount;
    return {
      ...base,
      kind: 'lambda-on-failure',
      topic: text(event?.topic),
      deviceId: text(event?.deviceId),
      reason:
        `${text(context.condition) ?? 'failed'}` +
        (typeof attempts === 'number' ? ` after ${attempts} attempt(s)` : '') +
        (error ? `: ${error}` : ''),
      time: text(body.timestamp) ?? sentAt,
      event,
    };
  }

  return {
    ...base,
    kind: 'unrecognized',
    topic: undefined,
    deviceId: undefined,
    reason: 'neither an IoT rule error action message nor a Lambda invocation record',
    time: sentAt,
    event: undefined,
  };
}

export interface RedriveOutcome {
  messageId: string;
  outcome: 'redriven' | 'failed' | 'skipped';
  detail?: string;
}

export class StageDeadLetterQueue {
  private queueUrl: string | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly lambda: LambdaClient,
    readonly stage: string,
  ) {}

  get queueName(): string {
    return stageQueueName(this.stage);
  }

  get functionName(): string {
    return stageFunctionName(this.stage);
  }

  private async url(): Promise<string> {
    this.queueUrl ??= (
      await this.sqs.send(new GetQueueUrlCommand({ QueueName: this.queueName }))
    ).QueueUrl;
    if (!this.queueUrl) throw new Error(`no queue URL for ${this.queueName}`);
    return this.queueUrl;
  }

  /**
   * Every message now in the queue, each hidden from other readers until `release` (or for
   * VISIBILITY_TIMEOUT_SECONDS). Long polling (1 s) asks every SQS server, so an empty answer
   * means the queue is drained rather than that a sample missed the messages.
   */
  async receiveAll(): Promise<StageDeadLetter[]> {
    const QueueUrl = await this.url();
    const letters = new Map<string, StageDeadLetter>();
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: RECEIVE_BATCH,
          VisibilityTimeout: VISIBILITY_TIMEOUT_SECONDS,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      if (Messages.length === 0) return [...letters.values()];
      for (const message of Messages) {
        const letter = decodeDeadLetter(message);
        letters.set(letter.messageId, letter);
      }
    }
  }

  /** Makes the messages visible again at once (ChangeMessageVisibility to 0), 10 per call. */
  async release(letters: StageDeadLetter[]): Promise<void> {
    const QueueUrl = await this.url();
    for (let i = 0; i < letters.length; i += RECEIVE_BATCH) {
      const batch = letters.slice(i, i + RECEIVE_BATCH);
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: batch.map((letter, index) => ({
            Id: String(index),
            ReceiptHandle: letter.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }

  /** Lists and leaves every message where it was. */
  async list(): Promise<StageDeadLetter[]> {
    const letters = await this.receiveAll();
    await this.release(letters);
    return letters;
  }

  /**
   * Invokes forwardTelemetry with each letter's event (RequestResponse: the answer says whether
   * it succeeded). Succeeded: the message is deleted. Failed or not redrivable: it stays.
   */
  async redrive(letters: StageDeadLetter[]): Promise<RedriveOutcome[]> {
    const QueueUrl = await this.url();
    const outcomes: RedriveOutcome[] = [];
    const kept: StageDeadLetter[] = [];
    for (const letter of letters) {
      if (!letter.event) {
        kept.push(letter);
        outcomes.push({ messageId: letter.messageId, outcome: 'skipped', detail: letter.reason });
        continue;
      }
      const failure = await this.invoke(letter.event);
      if (failure) {
        kept.push(letter);
        outcomes.push({ messageId: letter.messageId, outcome: 'failed', detail: failure });
        continue;
      }
      await this.sqs.send(
        new DeleteMessageCommand({ QueueUrl, ReceiptHandle: letter.receiptHandle }),
      );
      outcomes.push({ messageId: letter.messageId, outcome: 'redriven' });
    }
    await this.release(kept);
    return outcomes;
  }

  /** Undefined when the function succeeded, else why not. */
  private async invoke(event: Record<string, unknown>): Promise<string | undefined> {
    try {
      const response = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      );
      if (!response.FunctionError) return undefined;
      const answer = response.Payload ? new TextDecoder().decode(response.Payload) : '';
      return `${response.FunctionError}: ${answer}`;
    } catch (error) {
      return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }

  /** Deletes every message (PurgeQueue: SQS allows one purge per queue every 60 s). */
  async purge(): Promise<void> {
    await this.sqs.send(new PurgeQueueCommand({ QueueUrl: await this.url() }));
  }
}

export interface StageCommandOptions {
  id: string | undefined;
  json: boolean;
  yes: boolean;
}

export interface CommandIo {
  write(text: string): void;
  /** Asks the operator; resolves with the answer, or undefined when nobody can answer. */
  ask(question: string): Promise<string | undefined>;
}

/** `list`, `redrive` or `purge` on a stage's queue; resolves with the exit code. */
export async function runStageCommand(
  queue: StageDeadLetterQueue,
  subcommand: 'list' | 'redrive' | 'purge',
  { id, json, yes }: StageCommandOptions,
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

  const received = await queue.receiveAll();
  const letters = received.filter((letter) => id === undefined || letter.messageId === id);
  // The letters left out by --id go back at once.
  await queue.release(received.filter((letter) => !letters.includes(letter)));
  if (id !== undefined && letters.length === 0) {
    throw new Error(`no message with id ${id} in ${queue.queueName}`);
  }

  if (subcommand === 'list') {
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
        `${letter.messageId}  ${letter.time}  ${letter.kind}\n` +
          `  topic ${letter.topic ?? '?'}, device ${letter.deviceId ?? '?'}\n` +
          `  ${letter.event ? 'redrivable' : 'not redrivable'}: ${letter.reason}\n`,
      );
    }
    io.write(`${letters.length} message(s) in ${queue.queueName}.\n`);
    return 0;
  }

  const outcomes = await queue.redrive(letters);
  for (const { messageId, outcome, detail } of outcomes) {
    io.write(`${outcome} ${messageId}${detail ? `: ${detail}` : ''}\n`);
  }
  const count = (outcome: RedriveOutcome['outcome']) =>
    outcomes.filter((o) => o.outcome === outcome).length;
  io.write(
    `Redrive to ${queue.functionName}: ${count('redriven')} redriven (deleted), ` +
      `${count('failed')} failed, ${count('skipped')} skipped (kept).\n`,
  );
  return count('failed') > 0 ? 1 : 0;
}
