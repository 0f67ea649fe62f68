/**
 * The offline SQS event source mapping against the Lambda Developer Guide:
 * - "Using Lambda with Amazon SQS": the event's Records[] (messageId, receiptHandle, body,
 *   attributes ApproximateReceiveCount/SentTimestamp/SenderId/ApproximateFirstReceiveTimestamp,
 *   messageAttributes, md5OfBody, eventSource aws:sqs, eventSourceARN, awsRegion).
 * - "Lambda parameters for Amazon SQS event source mappings" / "Batching behavior": a batch is
 *   invoked when batchSize records are gathered or the maximumBatchingWindow runs out.
 * - "Handling errors for an SQS event source in Lambda": an invocation error leaves the batch to
 *   come back after the visibility timeout (and to the dead-letter queue after maxReceiveCount);
 *   with ReportBatchItemFailures only the reported records stay, and an invalid response (empty,
 *   null or unknown itemIdentifier, not an object) fails the whole batch.
 * The invoker here is a scripted LambdaInvoker (the interface the offline Lambda API client
 * implements); tests/integration/offline-sqs-stack.test.ts runs the real one.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { InvokeOutcome, LambdaInvoker } from '../../local/iot/lambda-invoker';
import { SqsEventSource, failedItems, type SqsRecord } from '../../local/sqs/event-source';
import { md5 } from '../../local/sqs/queue';
import {
  OfflineSqsQueues,
  RULES_SENDER_ID,
  defaultQueueSettings,
} from '../../local/sqs/queue-store';
import type { EventSourceMapping } from '../../local/sqs/template';
import { waitUntil } from '../support/held-lambda';

const ARN = (name: string) => `arn:aws:sqs:eu-west-1:000000000000:${name}`;

class ScriptedLambda implements LambdaInvoker {
  readonly batches: { at: number; records: SqsRecord[] }[] = [];
  constructor(private readonly answer: (records: SqsRecord[]) => InvokeOutcome) {}
  async invoke(_name: string, payload: unknown): Promise<InvokeOutcome> {
    const records = (payload as { Records: SqsRecord[] }).Records;
    this.batches.push({ at: Date.now(), records });
    return this.answer(records);
  }
  get records(): SqsRecord[] {
    return this.batches.flatMap((batch) => batch.records);
  }
}

let dir: string;
let queues: OfflineSqsQueues;
let source: SqsEventSource | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-esm-'));
});

afterEach(async () => {
  await source?.stop();
  source = undefined;
  await queues.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(
  lambda: LambdaInvoker,
  mapping: Partial<EventSourceMapping> = {},
  queue: { visibilityTimeout?: number; maxReceiveCount?: number } = {},
): Promise<void> {
  queues = new OfflineSqsQueues(dir, {
    queues: [
      {
        ...defaultQueueSettings('work', ARN('work')),
        visibilityTimeout: queue.visibilityTimeout ?? 30,
        redrivePolicy: {
          deadLetterTargetArn: ARN('work-dlq'),
          maxReceiveCount: queue.maxReceiveCount ?? 5,
        },
      },
      defaultQueueSettings('work-dlq', ARN('work-dlq')),
    ],
  });
  await queues.open();
  source = new SqsEventSource({
    queues,
    invoker: lambda,
    region: 'eu-west-1',
    mapping: {
      functionKey: 'consume',
      functionName: 'svc-dev-consume',
      queueName: 'work',
      queueArn: ARN('work'),
      batchSize: 10,
      maximumBatchingWindow: 0,
      reportBatchItemFailures: true,
      maximumConcurrency: undefined,
      ...mapping,
    },
  });
  source.start();
}

const ok = (result: unknown = null): InvokeOutcome => ({ ok: true, result });
const counts = () => queues.attributes('work');

describe('the SQS event', () => {
  it('is built as Lambda builds it, and a successful batch is deleted', async () => {
    const lambda = new ScriptedLambda(() => ok());
    await start(lambda);
    const before = Date.now();
    const sent = await queues.send('work', '{"reading":1}', {
      messageAttributes: { unit: { DataType: 'String', StringValue: 'C' } },
    });
    await waitUntil(() => lambda.records.length === 1, 'the invocation');
    const [record] = lambda.records;
    expect(record).toEqual({
      messageId: sent.id,
      receiptHandle: expect.any(String),
      body: '{"reading":1}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(sent.sentAt),
        SenderId: RULES_SENDER_ID,
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {
        unit: { stringValue: 'C', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      md5OfBody: md5('{"reading":1}'),
      md5OfMessageAttributes: sent.md5OfMessageAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: ARN('work'),
      awsRegion: 'eu-west-1',
    });
    expect(Number(record!.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
      before,
    );
    await waitUntil(() => source!.status().deleted === 1, 'the delete');
    expect(await queues.list('work')).toEqual([]);
  });
});

describe('batching', () => {
  it('without a window, invokes with what one receive gives (at most 10)', async () => {
    const lambda = new ScriptedLambda(() => ok());
    await start(lambda, { batchSize: 10 });
    await source!.stop();
    source = undefined;
    for (let i = 0; i < 25; i++) await queues.send('work', `m${i}`);
    source = new SqsEventSource({
      queues,
      invoker: lambda,
      region: 'eu-west-1',
      mapping: {
        functionKey: 'consume',
        functionName: 'svc-dev-consume',
        queueName: 'work',
        queueArn: ARN('work'),
        batchSize: 10,
        maximumBatchingWindow: 0,
        reportBatchItemFailures: false,
        maximumConcurrency: undefined,
      },
      pollers: 1,
    });
    source.start();
    await waitUntil(() => lambda.records.length === 25, 'all 25 records');
    expect(lambda.batches.map((batch) => batch.records.length)).toEqual([10, 10, 5]);
  });

  it('gathers until the batching window ends when fewer than batchSize arrive', async () => {
    const lambda = new ScriptedLambda(() => ok());
    await start(lambda, { batchSize: 100, maximumBatchingWindow: 1 }, {});
    const first = Date.now();
    for (let i = 0; i < 5; i++) await queues.send('work', `early${i}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 5; i++) await queues.send('work', `late${i}`);
    await waitUntil(() => lambda.records.length === 10, 'the batch', 5_000);
    // Both pollers may have started a batch; every record went in a batch invoked after the window.
    for (const batch of lambda.batches) expect(batch.at - first).toBeGreaterThanOrEqual(950);
    expect(lambda.batches.length).toBeLessThanOrEqual(2);
  });

  it('invokes as soon as batchSize records are gathered, before the window ends', async () => {
    const lambda = new ScriptedLambda(() => ok());
    await start(lambda, { batchSize: 20, maximumBatchingWindow: 30 });
    const first = Date.now();
    await Promise.all([...Array(40).keys()].map((i) => queues.send('work', `m${i}`)));
    await waitUntil(() => lambda.records.length === 40, 'two full batches', 10_000);
    expect(lambda.batches.map((batch) => batch.records.length)).toEqual([20, 20]);
    expect(Date.now() - first).toBeLessThan(10_000);
  });
});

describe('failures', () => {
  it('ReportBatchItemFailures: deletes all but the reported records, which come back', async () => {
    // 'bad' fails the first time it is seen, and succeeds the second.
    const lambda = new ScriptedLambda((records) => {
      const failed = records.filter(
        (r) => r.body === 'bad' && r.attributes.ApproximateReceiveCount === '1',
      );
      return ok({ batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) });
    });
    await start(lambda, { batchSize: 10 }, { visibilityTimeout: 1 });
    await queues.send('work', 'good1');
    await queues.send('work', 'bad');
    await queues.send('work', 'good2');
    await waitUntil(() => source!.status().deleted === 3, 'the retried record deleted', 10_000);
    const bad = lambda.records.filter((r) => r.body === 'bad');
    expect(bad.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(lambda.records.filter((r) => r.body.startsWith('good'))).toHaveLength(2);
    expect(source!.status()).toMatchObject({ failed: 1, failedInvocations: 0 });
  });

  it('an invalid partial batch response fails the whole batch', async () => {
    const lambda = new ScriptedLambda(() => ok({ batchItemFailures: [{ itemIdentifier: '' }] }));
    await start(lambda, {}, { visibilityTimeout: 60 });
    await queues.send('work', 'a');
    await queues.send('work', 'b');
    await waitUntil(() => source!.status().failedInvocations >= 1, 'the failed batch');
    expect(source!.status().deleted).toBe(0);
    expect(Number(counts().ApproximateNumberOfMessagesNotVisible)).toBe(2);
  });

  it('an invocation error leaves the batch; after maxReceiveCount it is in the dead-letter queue', async () => {
    const lambda = new ScriptedLambda(() => ({ ok: false, error: 'Unhandled: boom' }));
    await start(lambda, {}, { visibilityTimeout: 0, maxReceiveCount: 3 });
    const sent = await queues.send('work', 'poison');
    await waitUntil(
      () => queues.attributes('work-dlq').ApproximateNumberOfMessages === '1',
      'the dead letter',
    );
    expect(lambda.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect((await queues.list('work-dlq'))[0]).toMatchObject({
      messageId: sent.id,
      receiveCount: 3,
    });
    expect(await queues.list('work')).toEqual([]);
  });
});

describe('failedItems (the partial batch response)', () => {
  const batch = new Set(['id1', 'id2']);
  it.each([
    ['null response', null, []],
    ['empty object', {}, []],
    ['null list', { batchItemFailures: null }, []],
    ['empty list', { batchItemFailures: [] }, []],
    ['one failure', { batchItemFailures: [{ itemIdentifier: 'id2' }] }, ['id2']],
  ])('%s is a success for the rest', (_name, response, expected) => {
    expect([...(failedItems(response, batch) as Set<string>)]).toEqual(expected);
  });
  it.each([
    ['a string', 'not json'],
    ['an array', []],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a misnamed key', { batchItemFailures: [{ itemIdentifer: 'id1' }] }],
    ['an unknown message id', { batchItemFailures: [{ itemIdentifier: 'other' }] }],
    ['a list that is not one', { batchItemFailures: 'id1' }],
  ])('%s fails the whole batch', (_name, response) => {
    expect(failedItems(response, batch)).toBe('all');
  });
});
