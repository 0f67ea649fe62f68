/**
 * forwardTelemetry's metrics in batched delivery, as the EMF line it prints (the shape
 * tests/handlers/metrics.test.ts checks for every function): the records of the batch, the
 * frames posted (each one metered API Gateway message) and how many readings a frame held.
 */
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest,
} from '@jest/globals';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';
import { capturePrintedLines, isEmfLine } from '../support/printed-lines';

// Before shared/metrics.ts is first imported: tests/support/setup-env.ts turns metrics off.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'telemetry-test';
process.env.STAGE = 'test';

const { handler: connect } = await import('../../handlers/connect');
const { handler: subscribe } = await import('../../handlers/subscribe');
const { handler: forwardTelemetry } = await import('../../handlers/forwardTelemetry');

let env: HandlerEnv;
let printed: string[];
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  delete process.env.STAGE;
  resetLazyValues();
});
beforeEach(() => {
  printed = capturePrintedLines(isEmfLine);
});
afterEach(() => {
  jest.restoreAllMocks();
});

const record = (deviceId: string, n: number) => ({
  messageId: `record-${deviceId}-${n}`,
  body: JSON.stringify({
    payload: Buffer.from(`{"n":${n}}`).toString('base64'),
    topic: `devices/${deviceId}/telemetry`,
    deviceId,
    receivedAt: 1_767_225_600_000 + n,
    messageId: `${deviceId}-${n}`,
  }),
  attributes: { ApproximateReceiveCount: '1' },
  eventSource: 'aws:sqs',
});

describe('forwardTelemetry with an SQS batch', () => {
  it('counts the batch, the frames posted and the readings per frame', async () => {
    await connect(webSocketEvent('all', '$connect'), lambdaContext());
    await connect(webSocketEvent('only-b', '$connect'), lambdaContext());
    await subscribe(
      webSocketEvent(
        'only-b',
        'subscribe',
        JSON.stringify({ action: 'subscribe', topics: ['devices/b/telemetry'] }),
      ),
      lambdaContext(),
    );
    printed.length = 0;

    // 'all' gets one frame of 4 readings, 'only-b' one frame of b's 1.
    const records = [record('a', 1), record('a', 2), record('b', 3), record('a', 4)];
    await expect(forwardTelemetry({ Records: records }, lambdaContext())).resolves.toEqual({
      batchItemFailures: [],
    });

    const lines = printed
      .flatMap((chunk) => chunk.split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      stage: 'test',
      BatchRecords: 4,
      FramesSent: 2,
      ReadingsPerFrame: 2.5,
      ReadingsForwarded: 4,
      DeliveriesDelivered: 2,
      DeliveriesFailed: 0,
      Viewers: 2,
      FramesPerViewer: 1,
    });
  });
});
