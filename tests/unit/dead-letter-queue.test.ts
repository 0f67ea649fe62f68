/**
 * `npm run dlq -- --stage`: a stage's SQS dead-letter queue, against aws-sdk-client-mock (no
 * offline SQS twin exists yet), asserting every call exactly. The two record formats are the
 * ones AWS documents: "Error handling (error action)" (AWS IoT Core Developer Guide) and
 * "Capturing records of Lambda asynchronous invocations" (AWS Lambda Developer Guide).
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { UsageError } from '../../scripts/cli/command-line';
import {
  decodeDeadLetter,
  runStageCommand,
  StageDeadLetterQueue,
} from '../../scripts/dead-letter-queue';

const sqsMock = mockClient(SQSClient);
const lambdaMock = mockClient(LambdaClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/telemetry-prod-telemetry-dlq';
const READING = '{"temperature":21.5}';
const SENT = 1_767_225_600_000;

/** The topic rule's error action message (IoT Core could not invoke the Lambda action). */
const ruleErrorMessage: Message = {
  MessageId: 'msg-rule',
  ReceiptHandle: 'handle-rule',
  Attributes: { SentTimestamp: String(SENT) },
  Body: JSON.stringify({
    ruleName: 'telemetry_prod_forwardTelemetry_1',
    topic: 'devices/sensor-7/telemetry',
    cloudwatchTraceId: '7e146a2c-95b5-6caf-98b9-50e3969734c7',
    clientId: 'sensor-7',
    base64OriginalPayload: Buffer.from(READING).toString('base64'),
    failures: [
      {
        failedAction: 'LambdaAction',
        failedResource:
          'arn:aws:lambda:us-east-1:123456789012:function:telemetry-prod-forwardTelemetry',
        errorMessage:
          'Failed to invoke lambda function. Received Server error from Lambda. The error code is 429',
      },
    ],
  }),
};

/** The rule's output as forwardTelemetry received it (serverless.yml custom.telemetryRuleSql). */
const ruleOutput = {
  payload: Buffer.from(READING).toString('base64'),
  topic: 'devices/sensor-9/telemetry',
  deviceId: 'sensor-9',
  receivedAt: SENT - 60_000,
  messageId: 'b7c0b1f6-2d1c-4a43-9b7e-1d2f3a4b5c6d',
};

/** Lambda's invocation record on its on-failure destination (every attempt failed). */
const lambdaFailureMessage: Message = {
  MessageId: 'msg-lambda',
  ReceiptHandle: 'handle-lambda',
  Attributes: { SentTimestamp: String(SENT + 1_000) },
  Body: JSON.stringify({
    version: '1.0',
    timestamp: '2026-01-01T00:00:00.500Z',
    requestContext: {
      requestId: 'cabbfbd0-e266-42a9-a52e-6e96eb16c695',
      functionArn:
        'arn:aws:lambda:us-east-1:123456789012:function:telemetry-prod-forwardTelemetry:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: ruleOutput,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: {
      errorType: 'PartialDeliveryError',
      errorMessage: '1 of 3 connections could not be reached',
    },
  }),
};

const strangeMessage: Message = {
  MessageId: 'msg-strange',
  ReceiptHandle: 'handle-strange',
  Attributes: { SentTimestamp: String(SENT) },
  Body: 'not json',
};

/** Every call, as [operation, input], in order. */
const callsOf = (mock: typeof sqsMock | typeof lambdaMock) =>
  mock.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name.replace(/Command$/, ''), command.input];
  });

const RECEIVE = {
  QueueUrl: QUEUE_URL,
  MaxNumberOfMessages: 10,
  VisibilityTimeout: 60,
  WaitTimeSeconds: 1,
  MessageSystemAttributeNames: ['SentTimestamp'],
};

function queueHolding(messages: Message[]): StageDeadLetterQueue {
  sqsMock
    .on(GetQueueUrlCommand, { QueueName: 'telemetry-prod-telemetry-dlq' })
    .resolves({ QueueUrl: QUEUE_URL });
  sqsMock.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({});
  return new StageDeadLetterQueue(
    new SQSClient({ region: 'us-east-1' }),
    new LambdaClient({ region: 'us-east-1' }),
    'prod',
  );
}

function io(answer?: string) {
  const out: string[] = [];
  const asked: string[] = [];
  return {
    out,
    asked,
    text: () => out.join(''),
    write: (text: string) => void out.push(text),
    ask: async (question: string) => {
      asked.push(question);
      return answer;
    },
  };
}

const options = { id: undefined, json: false, yes: false };
const invokePayload = (event: unknown) => new TextEncoder().encode(JSON.stringify(event));
/** A function's answer as the SDK hands it over (a Uint8Array that can also say its text). */
const functionAnswer = (value: unknown) =>
  Object.assign(invokePayload(value), { transformToString: () => JSON.stringify(value) });

beforeEach(() => {
  sqsMock.reset();
  lambdaMock.reset();
});

describe('decoding the two kinds of record', () => {
  it('the IoT rule error action: topic, device, the failed action and its error, SQS send time', () => {
    expect(decodeDeadLetter(ruleErrorMessage)).toEqual({
      messageId: 'msg-rule',
      receiptHandle: 'handle-rule',
      kind: 'rule-error-action',
      topic: 'devices/sensor-7/telemetry',
      deviceId: 'sensor-7',
      reason:
        'LambdaAction: Failed to invoke lambda function. Received Server error from Lambda. The error code is 429',
      time: '2026-01-01T00:00:00.000Z',
      // What the rule's SQL makes of the original message, so forwardTelemetry can take it.
      event: {
        payload: Buffer.from(READING).toString('base64'),
        topic: 'devices/sensor-7/telemetry',
        deviceId: 'sensor-7',
        receivedAt: SENT,
        messageId: '7e146a2c-95b5-6caf-98b9-50e3969734c7',
      },
    });
  });

  it("Lambda's on-failure record: the original event, condition, attempts, error, record time", () => {
    expect(decodeDeadLetter(lambdaFailureMessage)).toEqual({
      messageId: 'msg-lambda',
      receiptHandle: 'handle-lambda',
      kind: 'lambda-on-failure',
      topic: 'devices/sensor-9/telemetry',
      deviceId: 'sensor-9',
      reason:
        'RetriesExhausted after 3 attempt(s): PartialDeliveryError: 1 of 3 connections could not be reached',
      time: '2026-01-01T00:00:00.500Z',
      event: ruleOutput,
    });
  });

  it('anything else is listed as unrecognized and never redriven', () => {
    expect(decodeDeadLetter(strangeMessage)).toMatchObject({
      kind: 'unrecognized',
      event: undefined,
      time: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('npm run dlq -- list --stage prod', () => {
  it('reads the whole queue, prints each record decoded, and leaves every message in place', async () => {
    const queue = queueHolding([ruleErrorMessage, lambdaFailureMessage, strangeMessage]);
    const out = io();
    expect(await runStageCommand(queue, 'list', options, out)).toBe(0);

    expect(callsOf(sqsMock)).toEqual([
      ['GetQueueUrl', { QueueName: 'telemetry-prod-telemetry-dlq' }],
      ['ReceiveMessage', RECEIVE],
      ['ReceiveMessage', RECEIVE],
      // Every listed message visible again at once.
      [
        'ChangeMessageVisibilityBatch',
        {
          QueueUrl: QUEUE_URL,
          Entries: [
            { Id: '0', ReceiptHandle: 'handle-rule', VisibilityTimeout: 0 },
            { Id: '1', ReceiptHandle: 'handle-lambda', VisibilityTimeout: 0 },
            { Id: '2', ReceiptHandle: 'handle-strange', VisibilityTimeout: 0 },
          ],
        },
      ],
    ]);
    expect(lambdaMock.calls()).toHaveLength(0);
    const text = out.text();
    expect(text).toContain(
      'msg-rule  2026-01-01T00:00:00.000Z  rule-error-action\n  topic devices/sensor-7/telemetry, device sensor-7\n  redrivable: LambdaAction: Failed to invoke lambda function.',
    );
    expect(text).toContain(
      'msg-lambda  2026-01-01T00:00:00.500Z  lambda-on-failure\n  topic devices/sensor-9/telemetry, device sensor-9\n  redrivable: RetriesExhausted after 3 attempt(s)',
    );
    expect(text).toContain(
      'msg-strange  2026-01-01T00:00:00.000Z  unrecognized\n  topic ?, device ?\n  not redrivable',
    );
    expect(text).toContain('3 message(s) in telemetry-prod-telemetry-dlq.');
  });

  it('--json prints the decoded records without their receipt handles', async () => {
    const queue = queueHolding([lambdaFailureMessage]);
    const out = io();
    await runStageCommand(queue, 'list', { ...options, json: true }, out);
    const printed = JSON.parse(out.text()) as Record<string, unknown>[];
    expect(printed).toEqual([
      expect.objectContaining({ messageId: 'msg-lambda', deviceId: 'sensor-9', event: ruleOutput }),
    ]);
    expect(printed[0]).not.toHaveProperty('receiptHandle');
  });
});

describe('npm run dlq -- redrive --stage prod', () => {
  it('invokes forwardTelemetry with the original event; deletes what succeeded, keeps the rest', async () => {
    const queue = queueHolding([ruleErrorMessage, lambdaFailureMessage, strangeMessage]);
    const ruleEvent = decodeDeadLetter(ruleErrorMessage).event;
    lambdaMock
      .on(InvokeCommand, { Payload: invokePayload(ruleEvent) })
      .resolves({ StatusCode: 200, Payload: functionAnswer({ delivered: 2, gone: 0, failed: 0 }) });
    lambdaMock.on(InvokeCommand, { Payload: invokePayload(ruleOutput) }).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: functionAnswer({ errorType: 'PartialDeliveryError', errorMessage: 'still down' }),
    });
    const out = io();

    expect(await runStageCommand(queue, 'redrive', options, out)).toBe(1);

    expect(callsOf(lambdaMock)).toEqual([
      [
        'Invoke',
        {
          FunctionName: 'telemetry-prod-forwardTelemetry',
          InvocationType: 'RequestResponse',
          Payload: invokePayload(ruleEvent),
        },
      ],
      [
        'Invoke',
        {
          FunctionName: 'telemetry-prod-forwardTelemetry',
          InvocationType: 'RequestResponse',
          Payload: invokePayload(ruleOutput),
        },
      ],
    ]);
    expect(callsOf(sqsMock).slice(3)).toEqual([
      ['DeleteMessage', { QueueUrl: QUEUE_URL, ReceiptHandle: 'handle-rule' }],
      // The failed one and the unrecognized one are visible again, for a later redrive.
      [
        'ChangeMessageVisibilityBatch',
        {
          QueueUrl: QUEUE_URL,
          Entries: [
            { Id: '0', ReceiptHandle: 'handle-lambda', VisibilityTimeout: 0 },
            { Id: '1', ReceiptHandle: 'handle-strange', VisibilityTimeout: 0 },
          ],
        },
      ],
    ]);
    expect(out.text()).toContain('redriven msg-rule\n');
    expect(out.text()).toContain(
      'failed msg-lambda: Unhandled: {"errorType":"PartialDeliveryError","errorMessage":"still down"}',
    );
    expect(out.text()).toContain(
      'Redrive to telemetry-prod-forwardTelemetry: 1 redriven (deleted), 1 failed, 1 skipped (kept).',
    );
  });

  it('an Invoke that AWS refuses keeps the message too', async () => {
    const queue = queueHolding([lambdaFailureMessage]);
    lambdaMock
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    const out = io();
    expect(await runStageCommand(queue, 'redrive', options, out)).toBe(1);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(out.text()).toContain('failed msg-lambda: TooManyRequestsException: Rate exceeded');
  });

  it('--id redrives that message only and releases the others at once', async () => {
    const queue = queueHolding([ruleErrorMessage, lambdaFailureMessage]);
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200 });
    const out = io();
    expect(await runStageCommand(queue, 'redrive', { ...options, id: 'msg-lambda' }, out)).toBe(0);
    expect(callsOf(lambdaMock)).toHaveLength(1);
    expect(callsOf(sqsMock).slice(3)).toEqual([
      [
        'ChangeMessageVisibilityBatch',
        {
          QueueUrl: QUEUE_URL,
          Entries: [{ Id: '0', ReceiptHandle: 'handle-rule', VisibilityTimeout: 0 }],
        },
      ],
      ['DeleteMessage', { QueueUrl: QUEUE_URL, ReceiptHandle: 'handle-lambda' }],
    ]);
  });

  it('an --id that is not in the queue is an error, and every message goes back', async () => {
    const queue = queueHolding([ruleErrorMessage]);
    await expect(
      runStageCommand(queue, 'redrive', { ...options, id: 'nope' }, io()),
    ).rejects.toThrow('no message with id nope in telemetry-prod-telemetry-dlq');
    expect(lambdaMock.calls()).toHaveLength(0);
    expect(
      sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand)[0]!.args[0].input.Entries,
    ).toEqual([{ Id: '0', ReceiptHandle: 'handle-rule', VisibilityTimeout: 0 }]);
  });
});

describe('npm run dlq -- purge --stage prod', () => {
  it('with --yes: one PurgeQueue call, no question', async () => {
    const queue = queueHolding([]);
    const out = io();
    expect(await runStageCommand(queue, 'purge', { ...options, yes: true }, out)).toBe(0);
    expect(callsOf(sqsMock)).toEqual([
      ['GetQueueUrl', { QueueName: 'telemetry-prod-telemetry-dlq' }],
      ['PurgeQueue', { QueueUrl: QUEUE_URL }],
    ]);
    expect(out.asked).toEqual([]);
  });

  it('purges once the operator types the queue name', async () => {
    const queue = queueHolding([]);
    const out = io('telemetry-prod-telemetry-dlq\n');
    await runStageCommand(queue, 'purge', options, out);
    expect(out.asked).toHaveLength(1);
    expect(sqsMock.commandCalls(PurgeQueueCommand)).toHaveLength(1);
  });

  it('any other answer purges nothing', async () => {
    const queue = queueHolding([]);
    await expect(runStageCommand(queue, 'purge', options, io('y'))).rejects.toThrow(
      'purge not confirmed: nothing was deleted',
    );
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it('with nobody to ask (no terminal) and no --yes: a usage error, nothing purged', async () => {
    const queue = queueHolding([]);
    await expect(runStageCommand(queue, 'purge', options, io(undefined))).rejects.toThrow(
      UsageError,
    );
    expect(sqsMock.calls()).toHaveLength(0);
  });
});
