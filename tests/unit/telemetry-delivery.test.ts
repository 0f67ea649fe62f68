/**
 * forwardTelemetry's two delivery modes (shared/telemetry/delivery.ts) over the real Broadcaster
 * with in-memory connections and a recording sender: what the handler tests (dynalite, a real
 * @connections server) did not pin when a mutation run changed it: the direct mode fails the
 * invocation when a viewer is unreachable (so Lambda retries it), both modes bound their posts
 * by the Lambda's remaining time less a second, a reading the queue holds twice comes back as
 * both its records when it is not delivered, and batch frames are named after the request.
 */
import { describe, expect, it } from '@jest/globals';
import type { Context } from 'aws-lambda';
import type { SqsRecord } from '../../shared/protocol';
import { forwardBatch, forwardReading } from '../../shared/telemetry/delivery';
import { broadcasterOver, FORBIDDEN } from '../support/delivery-stand-ins';

const context = (remainingMs = 10_000): Context =>
  ({ awsRequestId: 'req-1', getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

const event = (deviceId: string, messageId: string) => ({
  deviceId,
  receivedAt: 1_000,
  messageId,
  payload: Buffer.from('{"t":1}').toString('base64'),
});
const record = (messageId: string, body: object): SqsRecord =>
  ({ messageId, body: JSON.stringify(body) }) as SqsRecord;

describe('forwardReading (direct delivery)', () => {
  it('fails the invocation when a viewer cannot be reached, naming it, after the others got it', async () => {
    const { broadcaster, sender } = broadcasterOver(
      [
        { connectionId: 'ok', topics: null },
        { connectionId: 'bad', topics: null },
      ],
      { refuse: ['bad'] },
    );
    const failure = await forwardReading(broadcaster, event('d1', 'm1'), context()).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({
      name: 'PartialDeliveryError',
      report: { delivered: 1, gone: 0, failed: 1 },
      failures: [{ connectionId: 'bad', error: String(FORBIDDEN) }],
    });
    expect(sender.attempts.map((post) => post.connectionId).sort()).toEqual(['bad', 'ok']);
  });

  it('gives the posts the Lambda’s remaining time less a second', async () => {
    const { broadcaster, sender } = broadcasterOver([{ connectionId: 'a', topics: null }]);
    const report = await forwardReading(broadcaster, event('d1', 'm1'), context(1_500));
    expect(report).toEqual({ delivered: 1, gone: 0, failed: 0 });
    expect(sender.attempts[0]!.timeoutMs).toBeGreaterThan(300);
    expect(sender.attempts[0]!.timeoutMs).toBeLessThanOrEqual(500);
  });
});

describe('forwardBatch (batched delivery)', () => {
  it('gives the posts the Lambda’s remaining time less a second', async () => {
    const { broadcaster, sender } = broadcasterOver([{ connectionId: 'a', topics: null }]);
    await forwardBatch(broadcaster, [record('r1', event('d1', 'm1'))], context(1_500));
    expect(sender.attempts[0]!.timeoutMs).toBeGreaterThan(300);
    expect(sender.attempts[0]!.timeoutMs).toBeLessThanOrEqual(500);
  });

  it('a reading the queue holds twice, not delivered, comes back as both its records', async () => {
    const { broadcaster } = broadcasterOver([{ connectionId: 'bad', topics: null }], {
      refuse: ['bad'],
    });
    const twice = event('d1', 'm1');
    const response = await forwardBatch(
      broadcaster,
      [record('r1', twice), record('r2', twice)],
      context(),
    );
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'r1' }, { itemIdentifier: 'r2' }],
    });
  });

  it('names each batch frame after the request, numbered from 0', async () => {
    const { broadcaster, sender } = broadcasterOver([
      { connectionId: 'one', topics: ['devices/d1/#'] },
      { connectionId: 'two', topics: ['devices/d2/#'] },
    ]);
    await forwardBatch(
      broadcaster,
      [record('r1', event('d1', 'm1')), record('r2', event('d2', 'm2'))],
      context(),
    );
    const ids = sender.attempts.map((post) => (JSON.parse(post.data) as { id: string }).id).sort();
    expect(ids).toEqual(['req-1-0', 'req-1-1']);
  });
});
