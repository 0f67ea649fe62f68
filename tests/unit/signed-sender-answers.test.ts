/**
 * What the fan-out's PostToConnection (shared/connections/sender.ts) makes of each kind of answer,
 * beyond the statuses signed-sender.test.ts maps: an error without API Gateway's error-type
 * header, error bodies in either casing of `message` or not JSON at all, a long error body, a
 * redirect; and how it posts: a JSON content type, one kept-alive socket for successive posts,
 * an endpoint given with a trailing slash, TLS for an https endpoint (the server's certificate
 * verified). API Gateway's side: "Use @connections commands in your backend service" (API Gateway
 * Developer Guide), whose errors carry `x-amzn-ErrorType` and a JSON `message`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  ensureLocalCa,
  ensureServerCertificate,
} from '../../local/iot/identity/certificate-authority';
import { SignedConnectionSender } from '../../shared/connections/sender';

const CREDENTIALS = { accessKeyId: 'AKIATEST', secretAccessKey: 'secret' };

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}
interface Seen {
  path: string;
  contentType: string | undefined;
  socket: number;
}

let server: http.Server;
let origin: string;
let answer: Answer = { status: 200 };
const seen: Seen[] = [];
const sockets = new Map<object, number>();
let closedSockets = 0;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      seen.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        socket: sockets.get(request.socket) ?? -1,
      });
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
    });
  });
  server.on('connection', (socket) => {
    sockets.set(socket, sockets.size);
    socket.on('close', () => closedSockets++);
  });
  // Idle sockets stay open (Node's default closes them after 5 s): only the client closes them.
  server.keepAliveTimeout = 120_000;
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
  answer = { status: 200 };
  seen.length = 0;
});

const sender = (endpoint = `${origin}/prod`) =>
  new SignedConnectionSender({
    endpoint,
    region: 'eu-west-1',
    credentials: CREDENTIALS,
    timeoutMs: 2_000,
  });

async function failureOf(posting: SignedConnectionSender): Promise<Record<string, unknown>> {
  const outcome = await posting.send('c1', '{}').then(
    (value) => ({ resolved: value }),
    (error: unknown) => error as Record<string, unknown>,
  );
  posting.destroy();
  return outcome;
}

describe('SignedConnectionSender: error answers', () => {
  it('an error without x-amzn-ErrorType is named by its status, an empty body said so', async () => {
    answer = { status: 502 };
    const error = await failureOf(sender());
    expect(error).toMatchObject({
      name: 'Http502',
      $metadata: { httpStatusCode: 502 },
      message: 'PostToConnection answered 502: (no body)',
    });
  });

  it.each([
    ['message', '{"message":"Forbidden"}', 'Forbidden'],
    ['Message', '{"Message":"Rate exceeded"}', 'Rate exceeded'],
    ['neither', '{"code":7}', '{"code":7}'],
    ['not JSON', 'Bad Gateway', 'Bad Gateway'],
  ])('takes the message of a JSON error body (%s)', async (_case, body, message) => {
    answer = { status: 403, headers: { 'x-amzn-ErrorType': 'ForbiddenException:http://x' }, body };
    const error = await failureOf(sender());
    expect(error).toMatchObject({
      name: 'ForbiddenException',
      message: `PostToConnection answered 403: ${message}`,
    });
  });

  it('keeps the first 4 KB of a long error body', async () => {
    answer = { status: 500, body: 'x'.repeat(100_000) };
    const error = await failureOf(sender());
    expect(error.message).toBe(`PostToConnection answered 500: ${'x'.repeat(4096)}`);
  });

  it('a redirect (3xx) is not a delivery', async () => {
    answer = { status: 300, headers: { location: '/elsewhere' } };
    const error = await failureOf(sender());
    expect(error).toMatchObject({ name: 'Http300', $metadata: { httpStatusCode: 300 } });
  });

  it('an attempt given no time at all fails at once, as timed out, without posting', async () => {
    const posting = sender();
    await expect(posting.send('c1', '{}', 0)).rejects.toMatchObject({
      name: 'TimeoutError',
      code: 'ETIMEDOUT',
      message: 'PostToConnection: no answer within 0 ms',
    });
    await expect(posting.send('c1', '{}', -20)).rejects.toMatchObject({
      message: 'PostToConnection: no answer within 0 ms',
    });
    // A post with time left comes through; it is the only one the API saw.
    await expect(posting.send('late', '{}')).resolves.toBe('delivered');
    expect(seen.map((request) => request.path)).toEqual(['/prod/@connections/late']);
    posting.destroy();
  });
});

describe('SignedConnectionSender: how it posts', () => {
  it('posts JSON, on one kept-alive socket for successive posts, until destroyed', async () => {
    const posting = sender();
    const closedBefore = closedSockets;
    for (let i = 0; i < 3; i++)
      await expect(posting.send(`c${i}`, '{}')).resolves.toBe('delivered');
    expect(seen.map((request) => request.contentType)).toEqual([
      'application/json',
      'application/json',
      'application/json',
    ]);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
    posting.destroy();
    // The kept socket is closed by destroy(): the server sees it go.
    await new Promise<void>((resolve) => {
      const check = () => (closedSockets > closedBefore ? resolve() : setImmediate(check));
      check();
    });
    expect(closedSockets).toBe(closedBefore + 1);
  });

  it('keeps to the sockets it is given: posts in flight at once share one socket when told so', async () => {
    const posting = new SignedConnectionSender({
      endpoint: `${origin}/prod`,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      timeoutMs: 2_000,
      maxSockets: 1,
    });
    await Promise.all(['a', 'b', 'c'].map((id) => posting.send(id, '{}')));
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((request) => request.socket)).size).toBe(1);
    posting.destroy();
  });

  it('an endpoint given with trailing slashes posts under the stage all the same', async () => {
    await failureOf(sender(`${origin}/prod//`));
    expect(seen.map((request) => request.path)).toEqual(['/prod/@connections/c1']);
  });
});

describe('SignedConnectionSender over https', () => {
  let tls: https.Server;
  let dir: string;
  let httpsOrigin: string;

  beforeAll(async () => {
    // A server certificate from the offline cloud's own CA, which the sender does not trust.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sender-tls-'));
    const certificate = ensureServerCertificate(dir, ensureLocalCa(dir));
    tls = https.createServer(
      { cert: certificate.certificatePem, key: certificate.privateKeyPem },
      (_request, response) => response.writeHead(200).end(),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    httpsOrigin = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    tls.closeAllConnections();
    await new Promise((resolve) => tls.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('speaks TLS to an https endpoint and refuses a certificate it cannot verify', async () => {
    const error = await failureOf(sender(`${httpsOrigin}/prod`));
    // Not a plain-HTTP request to a TLS port (a parse error or a reset): the TLS handshake's own
    // verdict on the certificate.
    expect(error.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
