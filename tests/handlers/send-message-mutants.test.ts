/**
 * sendMessage's own work, beyond the fan-out the route tests check: the frame it posts (its id is
 * the Lambda request id, the same one the sender's answer names; `sentAt` is the time it was
 * sent, ISO 8601), what it answers with nobody else connected, and the fan-out metrics it prints
 * (CloudWatch embedded metric format: deliveries, viewers, the fan-out's duration). Found
 * unguarded by the mutation run (docs/mutation.md). Real dynalite and the local @connections
 * server, as in the other handler tests.
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

// Before shared/metrics.ts is first imported (tests/support/setup-env.ts turns metrics off).
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'telemetry-test';

const { handler: connect } = await import('../../handlers/connect');
const { handler: disconnect } = await import('../../handlers/disconnect');
const { handler: sendMessage } = await import('../../handlers/sendMessage');

let env: HandlerEnv;
let printed: string[];
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  resetLazyValues();
});
beforeEach(async () => {
  for (const item of await env.items()) {
    await disconnect(webSocketEvent(item.connectionId as string, '$disconnect'), lambdaContext());
  }
  env.api.posts.length = 0;
  printed = capturePrintedLines(isEmfLine);
});
afterEach(() => {
  jest.restoreAllMocks();
});

const send = async (connectionId: string, message: string) => {
  const context = lambdaContext('sendMessage');
  const response = await sendMessage(
    webSocketEvent(connectionId, 'sendMessage', JSON.stringify({ action: 'sendMessage', message })),
    context,
  );
  return { answer: JSON.parse(response.body ?? 'null') as Record<string, unknown>, context };
};

const emf = () =>
  printed
    .flatMap((chunk) => chunk.split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('sendMessage', () => {
  it('posts one frame with the request id and the time sent, and answers with that id', async () => {
    for (const id of ['a', 'b']) await connect(webSocketEvent(id, '$connect'), lambdaContext());
    const before = Date.now();
    const { answer, context } = await send('a', 'hello');
    const after = Date.now();

    expect(answer).toEqual({
      type: 'sent',
      id: context.awsRequestId,
      delivered: 2,
      gone: 0,
      failed: 0,
    });
    for (const id of ['a', 'b']) {
      const frames = env.api.framesFor(id) as Record<string, unknown>[];
      expect(frames).toHaveLength(1);
      expect(frames[0]).toEqual({
        type: 'message',
        id: context.awsRequestId,
        from: expect.any(String),
        message: 'hello',
        sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      const sentAt = Date.parse(frames[0]!.sentAt as string);
      expect(sentAt).toBeGreaterThanOrEqual(before);
      expect(sentAt).toBeLessThanOrEqual(after);
    }
  });

  it('with nobody else connected reaches the sender alone', async () => {
    await connect(webSocketEvent('alone', '$connect'), lambdaContext());
    expect((await send('alone', 'x')).answer).toMatchObject({ delivered: 1, gone: 0, failed: 0 });
    expect(env.api.framesFor('alone')).toHaveLength(1);
  });

  it('prints the fan-out metrics: deliveries, viewers, its duration', async () => {
    for (const id of ['m1', 'm2', 'm3']) {
      await connect(webSocketEvent(id, '$connect'), lambdaContext());
    }
    env.api.failing.set('m3', 400);
    printed.length = 0;
    const started = Date.now();
    await send('m1', 'metrics');
    const took = Date.now() - started;
    env.api.failing.clear();

    const lines = emf();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      DeliveriesDelivered: 2,
      DeliveriesGone: 0,
      DeliveriesFailed: 1,
      Viewers: 3,
      FramesPerViewer: 1,
    });
    const duration = lines[0]!.FanOutDuration as number;
    expect(duration).toBeGreaterThanOrEqual(0);
    expect(duration).toBeLessThanOrEqual(took);
  });
});
