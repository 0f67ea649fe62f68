/**
 * Offline, the functions' CloudWatch embedded metric format lines appear in the stack's output,
 * as they appear in the functions' CloudWatch Logs in AWS ("Specification: Embedded metric
 * format", Amazon CloudWatch User Guide).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';

let stack: OfflineStack;
beforeAll(async () => {
  // tests/support/setup-env.ts turns metrics off for the tests; this stack shows them.
  stack = await startOfflineStack({ env: { POWERTOOLS_METRICS_DISABLED: 'false' } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
}, 30_000);

type EmfLine = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
};

/** Every EMF line printed so far. */
function emfLines(): EmfLine[] {
  return stack
    .output()
    .split('\n')
    .flatMap((line) => {
      const start = line.indexOf('{"_aws"');
      if (start < 0) return [];
      try {
        return [JSON.parse(line.slice(start)) as EmfLine];
      } catch {
        return [];
      }
    });
}

/** Resolves with the first EMF line that passes `test`, once the stack has printed it. */
async function emfLine(test: (line: EmfLine) => boolean, timeoutMs = 20_000): Promise<EmfLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = emfLines().find(test);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no such EMF line; the stack printed: ${JSON.stringify(emfLines())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('a sendMessage fan-out prints its deliveries and duration', async () => {
  const first = await connectClient(stack.websocketUrl);
  const second = await connectClient(stack.websocketUrl);
  first.send({ action: 'sendMessage', message: 'metrics' });
  const sent = await first.waitFor((frame) => frame.type === 'sent');

  // The metrics say what the sender was told: one line for this fan-out to the two clients.
  const line = await emfLine((l) => l.Viewers === 2);
  expect(line).toMatchObject({
    service: 'telemetry',
    stage: 'dev',
    DeliveriesDelivered: sent.delivered,
    DeliveriesGone: sent.gone,
    DeliveriesFailed: sent.failed,
    FramesPerViewer: 1,
  });
  expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
    Namespace: 'telemetry',
    Dimensions: [['service', 'stage']],
  });
  expect(line.FanOutDuration).toEqual(expect.any(Number));
  await Promise.all([first.close(), second.close()]);
}, 30_000);

it('a handshake the authorizer refuses prints one refusal', async () => {
  const url = `${stack.websocketUrl.replace(/\?.*$/, '')}?token=not-a-token`;
  const before = emfLines().filter((l) => l.AuthorizerRefusals === 1).length;
  const refused = await new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    socket.once('open', () => reject(new Error('the handshake was accepted')));
    socket.once('error', () => {});
  });
  expect(refused).toBe(403);
  await emfLine(() => emfLines().filter((l) => l.AuthorizerRefusals === 1).length > before);
}, 30_000);
