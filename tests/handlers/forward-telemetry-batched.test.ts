/**
 * forwardTelemetry in the batched delivery mode: invoked by the delivery queue's event source
 * mapping with an SQS event ("Using Lambda with Amazon SQS", example event), it answers with a
 * partial batch response naming exactly the records some viewer did not get ("Handling errors for
 * an SQS event source in Lambda": ReportBatchItemFailures). Real dynalite and a real @connections
 * server, as tests/handlers/forward-telemetry.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { handler as subscribe } from '../../handlers/subscribe';
import { logger } from '../../shared/logger';
import type { TelemetryBatchFrame, TelemetryFrame } from '../../shared/protocol';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS = '250';
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  delete process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS;
});

beforeEach(async () => {
  for (const item of await env.items()) {
    await disconnect(webSocketEvent(item.connectionId as string, '$disconnect'), lambdaContext());
  }
  env.api.posts.length = 0;
  env.api.gone.clear();
  env.api.failing.clear();
  env.api.relay = undefined;
});

const open = (id: string) => connect(webSocketEvent(id, '$connect'), lambdaContext());
const subscribeTo = (id: string, topics: string[]) =>
  subscribe(
    webSocketEvent(id, 'subscribe', JSON.stringify({ action: 'subscribe', topics })),
    lambdaContext(),
  );

/** The rule's SQL output (serverless.yml custom.telemetryRuleSql), as the SQS action sends it. */
const ruleOutput = (deviceId: string, n: number, payload = `{"n":${n}}`) => ({
  payload: Buffer.from(payload).toString('base64'),
  topic: `devices/${deviceId}/telemetry`,
  deviceId,
  receivedAt: 1_767_225_600_000 + n,
  messageId: `${deviceId}-${n}`,
});

/** One record as Lambda's event source mapping builds it, with every field AWS sends. */
function record(body: unknown, messageId = randomUUID()) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    messageId,
    receiptHandle: `AQEB${randomUUID()}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1767225600000',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1767225600001',
    },
    messageAttributes: {},
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:telemetry-test-telemetry-delivery',
    awsRegion: 'us-east-1',
  };
}

const sqsEvent = (records: ReturnType<typeof record>[]) => ({ Records: records });

/** The reading ids a connection received, in order, unpacking batch frames. */
const idsFor = (connectionId: string) =>
  (env.api.framesFor(connectionId) as (TelemetryBatchFrame | TelemetryFrame)[]).flatMap((frame) =>
    frame.type === 'telemetryBatch' ? frame.items.map((item) => item.id) : [frame.id],
  );

describe('forwardTelemetry with an SQS batch', () => {
  it('sends every viewer one telemetryBatch frame of the readings it subscribed to, each item as direct delivery sends it', async () => {
    await open('all');
    await open('only-7');
    await subscribeTo('only-7', ['devices/sensor-7/#']);
    const outputs = [
      ruleOutput('sensor-1', 1),
      ruleOutput('sensor-7', 2),
      ruleOutput('sensor-1', 3),
      ruleOutput('sensor-7', 4),
    ];

    const response = await forwardTelemetry(
      sqsEvent(outputs.map((output) => record(output))),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    const [batch, ...more] = env.api.framesFor('all') as TelemetryBatchFrame[];
    expect(more).toEqual([]);
    expect(batch).toEqual({
      type: 'telemetryBatch',
      id: expect.any(String),
      items: expect.any(Array),
    });
    expect(batch!.items[0]).toEqual({
      type: 'telemetry',
      id: 'sensor-1-1',
      topic: 'devices/sensor-1/telemetry',
      deviceId: 'sensor-1',
      receivedAt: 1_767_225_600_001,
      kind: 'object',
      size: Buffer.byteLength('{"n":1}'),
      data: { n: 1 },
    });
    expect(idsFor('all')).toEqual(['sensor-1-1', 'sensor-7-2', 'sensor-1-3', 'sensor-7-4']);
    expect(idsFor('only-7')).toEqual(['sensor-7-2', 'sensor-7-4']);
  });

  it('the items are exactly the frames the direct mode sends for the same events', async () => {
    await open('viewer');
    const outputs = [ruleOutput('sensor-1', 1, 'plain text'), ruleOutput('sensor-2', 2, '')];
    for (const output of outputs) await forwardTelemetry(output, lambdaContext());
    const direct = env.api.framesFor('viewer');
    env.api.posts.length = 0;

    await forwardTelemetry(sqsEvent(outputs.map((output) => record(output))), lambdaContext());

    const [batch] = env.api.framesFor('viewer') as TelemetryBatchFrame[];
    expect(batch!.items).toEqual(direct);
  });

  it("reports failed exactly the records a viewer did not get; the others' are deleted", async () => {
    await open('healthy');
    await open('broken');
    await subscribeTo('broken', ['devices/sensor-7/telemetry']);
    // Refused for good (403 is not retried): broken's frame of sensor-7's readings never arrives.
    env.api.failing.set('broken', 403);
    const records = [
      record(ruleOutput('sensor-1', 1)),
      record(ruleOutput('sensor-7', 2)),
      record(ruleOutput('sensor-1', 3)),
      record(ruleOutput('sensor-7', 4)),
    ];

    const response = await forwardTelemetry(sqsEvent(records), lambdaContext());

    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: records[1]!.messageId },
        { itemIdentifier: records[3]!.messageId },
      ],
    });
    // healthy got all four; after the redelivery it drops sensor-7's two by id.
    expect(idsFor('healthy')).toEqual(['sensor-1-1', 'sensor-7-2', 'sensor-1-3', 'sensor-7-4']);
    expect(idsFor('broken')).toEqual([]);
  });

  it("a viewer's later frames are not sent after one fails; their records come back too, the delivered ones do not", async () => {
    await open('viewer');
    // ~12 KB each: two readings per 32 KB frame, so three frames for five readings.
    const big = (n: number) => ruleOutput(`sensor-${n}`, n, 'x'.repeat(12_000));
    const records = [1, 2, 3, 4, 5].map((n) => record(big(n)));
    // The first post arrives; every later one is refused.
    env.api.relay = (connectionId) => {
      env.api.failing.set(connectionId, 403);
    };

    const response = await forwardTelemetry(sqsEvent(records), lambdaContext());

    expect(env.api.posts).toHaveLength(1);
    expect(idsFor('viewer')).toEqual(['sensor-1-1', 'sensor-2-2']);
    expect(response).toEqual({
      batchItemFailures: records.slice(2).map((r) => ({ itemIdentifier: r.messageId })),
    });
  });

  it('a viewer that is gone (410) fails nothing and is removed', async () => {
    await open('live');
    await open('stale');
    env.api.gone.add('stale');
    await env.backdate('stale', 60_000);

    const response = await forwardTelemetry(
      sqsEvent([record(ruleOutput('sensor-1', 1))]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(idsFor('live')).toEqual(['sensor-1-1']);
    expect((await env.items()).map((item) => item.connectionId)).toEqual(['live']);
  });

  it('reports an unreadable record failed with the reason in the log, and delivers the rest', async () => {
    await open('viewer');
    const warn = jest.spyOn(logger, 'warn');
    try {
      const notJson = record('{"deviceId":');
      const noDevice = record({ payload: '', receivedAt: 1 });
      const good = record(ruleOutput('sensor-1', 1));

      const response = await forwardTelemetry(sqsEvent([notJson, good, noDevice]), lambdaContext());

      // SQS brings them back until maxReceiveCount, then moves them to the dead-letter queue.
      expect(response).toEqual({
        batchItemFailures: [
          { itemIdentifier: notJson.messageId },
          { itemIdentifier: noDevice.messageId },
        ],
      });
      expect(idsFor('viewer')).toEqual(['sensor-1-1']);
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('Unreadable delivery record'),
        expect.objectContaining({
          messageId: notJson.messageId,
          receiveCount: '1',
          reason: expect.stringContaining('not JSON'),
        }),
      );
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('Unreadable delivery record'),
        expect.objectContaining({
          messageId: noDevice.messageId,
          reason: expect.stringContaining('deviceId'),
        }),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('sends a reading the queue holds twice once; both records succeed', async () => {
    await open('viewer');
    const output = ruleOutput('sensor-1', 1);
    const response = await forwardTelemetry(
      sqsEvent([record(output), record(output)]),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(idsFor('viewer')).toEqual(['sensor-1-1']);
  });

  it('an event whose records are not SQS records fails as a whole, so the batch comes back', async () => {
    await open('viewer');
    const notSqs = { ...record(ruleOutput('sensor-1', 1)), eventSource: 'aws:kinesis' };
    await expect(forwardTelemetry({ Records: [notSqs] }, lambdaContext())).rejects.toThrow(
      /eventSource/,
    );
    expect(env.api.posts).toEqual([]);
  });

  it('takes the sample event of sls invoke local (events/forwardTelemetry-sqs.json)', async () => {
    await open('viewer');
    const sample = JSON.parse(
      await readFile(new URL('../../events/forwardTelemetry-sqs.json', import.meta.url), 'utf8'),
    ) as ReturnType<typeof sqsEvent>;
    await expect(forwardTelemetry(sample, lambdaContext())).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(idsFor('viewer')).toEqual([
      '0b0f8a4e-6c1e-4d57-9d5f-3c1f0f5f1a02',
      '0b0f8a4e-6c1e-4d57-9d5f-3c1f0f5f1a03',
    ]);
  });

  it('an empty batch or no viewer at all sends nothing and fails nothing', async () => {
    await expect(forwardTelemetry(sqsEvent([]), lambdaContext())).resolves.toEqual({
      batchItemFailures: [],
    });
    await expect(
      forwardTelemetry(sqsEvent([record(ruleOutput('sensor-1', 1))]), lambdaContext()),
    ).resolves.toEqual({ batchItemFailures: [] });
    expect(env.api.posts).toEqual([]);
  });
});
