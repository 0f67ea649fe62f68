/**
 * The fan-out's own PostToConnection (shared/connections/sender.ts) against a real HTTP server
 * that checks every request as API Gateway's @connections does ("Use @connections commands in
 * your backend service", API Gateway Developer Guide): the path under the stage, and a SigV4
 * signature recomputed by the offline cloud's verifier (local/aws/sigv4.ts, the SDK's own
 * signer). Each status API Gateway answers is mapped as the broadcaster needs it; a post that
 * hangs or whose connection is reset ends within its time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySigV4 } from '../../local/aws/sigv4';
import { Broadcaster } from '../../shared/connections/broadcaster';
import type { ConnectionRepository } from '../../shared/connections/repository';
import { DEFAULT_RETRY_POLICY, isTransient } from '../../shared/connections/retry';
import { SignedConnectionSender } from '../../shared/connections/sender';

const CREDENTIALS = {
  accessKeyId: 'ASIATESTKEY',
  secretAccessKey: 'test/secret+key',
  sessionToken: 'session-token-from-the-lambda-role',
};
const STAGE = 'prod';

type Behaviour = number | 'hang' | 'reset';
interface Received {
  path: string;
  body: string;
  verdict: string;
}

let server: http.Server;
let origin: string;
let behaviour: Behaviour = 200;
const received: Received[] = [];
const hanging = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const path = (request.url ?? '').split('?')[0] as string;
      const body = Buffer.concat(chunks);
      const result = await verifySigV4(
        { method: request.method ?? '', path, query: {}, headers: request.headers, body },
        CREDENTIALS,
        { service: 'execute-api', region: 'eu-west-1' },
      );
      received.push({
        path,
        body: body.toString('utf8'),
        verdict: result.ok ? 'ok' : result.code,
      });
      const answer = (status: number, type?: string) =>
        response
          .writeHead(status, {
            'content-type': 'application/json',
            ...(type ? { 'x-amzn-ErrorType': type } : {}),
          })
          .end(type ? JSON.stringify({ message: type }) : '');
      if (!result.ok) return answer(403, 'ForbiddenException');
      if (!path.startsWith(`/${STAGE}/@connections/`)) return answer(403, 'ForbiddenException');
      if (behaviour === 'hang') {
        hanging.add(response);
        return;
      }
      if (behaviour === 'reset') {
        request.socket.destroy();
        return;
      }
      const types: Record<number, string> = {
        204: '',
        410: 'GoneException',
        413: 'PayloadTooLargeException',
        429: 'LimitExceededException',
        500: 'InternalServerErrorException',
      };
      answer(behaviour, types[behaviour]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);
beforeEach(() => {
  behaviour = 200;
  received.length = 0;
  for (const response of hanging) response.destroy();
  hanging.clear();
});

const sender = (credentials = CREDENTIALS, timeoutMs = 2_000) =>
  new SignedConnectionSender({
    endpoint: `${origin}/${STAGE}`,
    region: 'eu-west-1',
    credentials,
    timeoutMs,
  });

describe('SignedConnectionSender', () => {
  it('signs each post as the SDK would (stage path, session token, ids needing encoding)', async () => {
    const posting = sender();
    const ids = ['L0SM9cOFvHcCIhw=', 'a/b c+d', 'plain'];
    for (const id of ids) {
      await expect(posting.send(id, '{"type":"telemetry","text":"é"}')).resolves.toBe('delivered');
    }
    expect(received.map((r) => r.verdict)).toEqual(['ok', 'ok', 'ok']);
    expect(received.map((r) => r.path)).toEqual([
      '/prod/@connections/L0SM9cOFvHcCIhw%3D',
      '/prod/@connections/a%2Fb%20c%2Bd',
      '/prod/@connections/plain',
    ]);
    expect(received[0]?.body).toBe('{"type":"telemetry","text":"é"}');
    posting.destroy();
  });

  it('is refused (403, not retried) when signed with other credentials', async () => {
    const wrong = sender({ ...CREDENTIALS, secretAccessKey: 'not-the-secret' });
    const error = await wrong.send('c1', '{}').catch((e: unknown) => e);
    expect(received.map((r) => r.verdict)).toEqual(['SignatureDoesNotMatch']);
    expect(error).toMatchObject({ name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
    expect(isTransient(error)).toBe(false);
    wrong.destroy();
  });

  it.each([
    [204, 'delivered', undefined],
    [410, 'gone', undefined],
    [413, 'PayloadTooLargeException', false],
    [429, 'LimitExceededException', true],
    [500, 'InternalServerErrorException', true],
  ] as [number, string, boolean | undefined][])(
    'maps %i: %s',
    async (status, expected, transient) => {
      behaviour = status;
      const posting = sender();
      const outcome = await posting.send('c1', '{}').catch((e: unknown) => e);
      if (transient === undefined) {
        expect(outcome).toBe(expected);
      } else {
        expect(outcome).toMatchObject({ name: expected, $metadata: { httpStatusCode: status } });
        expect(isTransient(outcome)).toBe(transient);
      }
      posting.destroy();
    },
  );

  it('gives up on a post that hangs after its timeout, with a transient error', async () => {
    behaviour = 'hang';
    const posting = sender(CREDENTIALS, 300);
    const started = Date.now();
    const error = await posting.send('c1', '{}').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(isTransient(error)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(600);
    posting.destroy();
  });

  it('reports a reset connection as a transient network error', async () => {
    behaviour = 'reset';
    const posting = sender();
    const error = await posting.send('c1', '{}').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(isTransient(error)).toBe(true);
    posting.destroy();
  });
});

describe('a broadcast against a @connections API that hangs or resets', () => {
  const repository = { remove: async () => false } as unknown as ConnectionRepository;
  const broadcastTo = async (ids: string[], deadlineInMs: number) => {
    const posting = sender(CREDENTIALS, DEFAULT_RETRY_POLICY.requestTimeoutMs);
    const broadcaster = new Broadcaster({
      connections: {
        pages: async function* () {
          yield ids.map((connectionId) => ({ connectionId, topics: null }));
        },
      },
      repository,
      sender: posting,
      concurrency: 8,
    });
    const started = Date.now();
    const deadline = started + deadlineInMs;
    const result = await broadcaster.broadcast({ type: 'x' }, { deadline });
    posting.destroy();
    return { result, overrunMs: Date.now() - deadline };
  };

  it('a hanging API: every post ends at the deadline, long before the request timeout', async () => {
    behaviour = 'hang';
    // The request timeout (3 s) is far beyond the deadline: only the deadline can end the posts.
    const { result, overrunMs } = await broadcastTo(['a', 'b', 'c'], 700);
    expect(result).toMatchObject({ delivered: 0, failed: 3 });
    expect(result.failures.map((f) => (f.error as Error).name)).toEqual([
      'TimeoutError',
      'TimeoutError',
      'TimeoutError',
    ]);
    expect(overrunMs).toBeLessThan(150);
  });

  it('a resetting API: retried with backoff until the deadline, then failed', async () => {
    behaviour = 'reset';
    const { result, overrunMs } = await broadcastTo(['a', 'b'], 700);
    expect(result).toMatchObject({ delivered: 0, failed: 2 });
    // Each post was tried more than once (retried), none after the deadline.
    expect(received.length).toBeGreaterThan(2);
    expect(overrunMs).toBeLessThan(150);
  });
});
