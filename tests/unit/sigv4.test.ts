/**
 * The SigV4 verifier of the offline endpoints, on requests signed by the real SDK clients (caught
 * by a real HTTP server on loopback) and on tampered copies of them. The rules are AWS's: "Create
 * a signed AWS API request" (IAM User Guide) and RequestExpired's 15 minutes ("Common Errors").
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { verifySigV4, type SigV4Request } from '../../local/aws/sigv4';

const CREDENTIALS = { accessKeyId: 'offline', secretAccessKey: 'offline' };
const IOT = { service: 'iotdata', region: 'us-east-1' };

interface Caught {
  request: SigV4Request;
  at: Date;
}

let server: http.Server;
let endpoint: string;
const caught: Caught[] = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const query: Record<string, string> = {};
      for (const [name, value] of url.searchParams) query[name] = value;
      caught.push({
        request: {
          method: request.method ?? '',
          path: (request.url ?? '/').split('?')[0] as string,
          query,
          headers: request.headers,
          body: Buffer.concat(chunks),
        },
        at: new Date(),
      });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** What IoTDataPlaneClient sends for a publish, as the server received it. */
async function signedPublish(
  topic = 'devices/sensor 1/commands',
  credentials = CREDENTIALS,
): Promise<Caught> {
  const client = new IoTDataPlaneClient({ endpoint, region: 'us-east-1', credentials });
  try {
    await client.send(
      new PublishCommand({ topic, qos: 1, payload: Buffer.from('{"reboot":true}') }),
    );
  } finally {
    client.destroy();
  }
  return caught.at(-1) as Caught;
}

const verify = (request: SigV4Request, at: Date, options = IOT) =>
  verifySigV4(request, CREDENTIALS, { ...options, now: at });

const withHeaders = (request: SigV4Request, headers: Record<string, string | undefined>) => ({
  ...request,
  headers: { ...request.headers, ...headers },
});

describe('verifySigV4 accepts what the SDK signs', () => {
  it('an IoT data-plane publish (percent-encoded topic, query, body)', async () => {
    const { request, at } = await signedPublish();
    expect(request.path).toContain('%2F'); // the topic's slashes travel encoded
    await expect(verify(request, at)).resolves.toEqual({ ok: true, accessKeyId: 'offline' });
  });

  it('a PostToConnection of the @connections API (service execute-api)', async () => {
    const client = new ApiGatewayManagementApiClient({
      endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    await client.send(new PostToConnectionCommand({ ConnectionId: 'abc=', Data: 'hello' }));
    client.destroy();
    const { request, at } = caught.at(-1) as Caught;
    await expect(
      verify(request, at, { service: 'execute-api', region: 'us-east-1' }),
    ).resolves.toMatchObject({ ok: true });
  });

  it('a request up to 15 minutes before or after the receiver’s clock', async () => {
    const { request, at } = await signedPublish();
    const minutes = (n: number) => new Date(at.getTime() + n * 60_000);
    await expect(verify(request, minutes(14))).resolves.toMatchObject({ ok: true });
    await expect(verify(request, minutes(-14))).resolves.toMatchObject({ ok: true });
  });
});

describe('verifySigV4 refuses', () => {
  let signed: Caught;
  beforeAll(async () => {
    signed = await signedPublish();
  });

  it.each<[string, (request: SigV4Request) => SigV4Request, string]>([
    [
      'another body',
      (r) => ({ ...r, body: Buffer.from('{"reboot":false}') }),
      'SignatureDoesNotMatch',
    ],
    [
      'another topic',
      (r) => ({ ...r, path: r.path.replace('sensor%201', 'sensor%202') }),
      'SignatureDoesNotMatch',
    ],
    ['another query', (r) => ({ ...r, query: { ...r.query, qos: '0' } }), 'SignatureDoesNotMatch'],
    ['another method', (r) => ({ ...r, method: 'PUT' }), 'SignatureDoesNotMatch'],
    ['another host', (r) => withHeaders(r, { host: 'evil.example:443' }), 'SignatureDoesNotMatch'],
    [
      'a payload hash header that lies',
      (r) => withHeaders(r, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      'SignatureDoesNotMatch',
    ],
    [
      'another signature',
      (r) =>
        withHeaders(r, {
          authorization: String(r.headers.authorization).replace(
            /Signature=(\w)/,
            (_all, first: string) => `Signature=${first === '0' ? '1' : '0'}`,
          ),
        }),
      'SignatureDoesNotMatch',
    ],
    [
      'no Authorization',
      (r) => withHeaders(r, { authorization: undefined }),
      'MissingAuthenticationToken',
    ],
    [
      'an Authorization without a signature',
      (r) =>
        withHeaders(r, {
          authorization: String(r.headers.authorization).replace(/, Signature=\w+/, ''),
        }),
      'IncompleteSignature',
    ],
    [
      'a Basic Authorization',
      (r) => withHeaders(r, { authorization: 'Basic b2ZmbGluZTpvZmZsaW5l' }),
      'IncompleteSignature',
    ],
    ['no X-Amz-Date', (r) => withHeaders(r, { 'x-amz-date': undefined }), 'IncompleteSignature'],
    [
      'another access key id',
      (r) =>
        withHeaders(r, {
          authorization: String(r.headers.authorization).replace(
            'Credential=offline/',
            'Credential=AKIDEXAMPLE/',
          ),
        }),
      'InvalidClientTokenId',
    ],
  ])('%s', async (_name, tamper, code) => {
    await expect(verify(tamper(signed.request), signed.at)).resolves.toMatchObject({
      ok: false,
      code,
      reason: expect.any(String),
    });
  });

  it('a signature made with another secret, with AWS’s message', async () => {
    const { request, at } = await signedPublish(undefined, {
      accessKeyId: 'offline',
      secretAccessKey: 'not-the-offline-secret',
    });
    await expect(verify(request, at)).resolves.toEqual({
      ok: false,
      code: 'SignatureDoesNotMatch',
      reason: expect.stringMatching(/^The request signature we calculated does not match/),
    });
  });

  it('a request signed more than 15 minutes before or after now (RequestExpired)', async () => {
    const later = new Date(signed.at.getTime() + 16 * 60_000);
    const earlier = new Date(signed.at.getTime() - 16 * 60_000);
    await expect(verify(signed.request, later)).resolves.toMatchObject({
      ok: false,
      code: 'RequestExpired',
      reason: expect.stringMatching(/^Signature expired: \d{8}T\d{6}Z is now earlier than/),
    });
    await expect(verify(signed.request, earlier)).resolves.toMatchObject({
      ok: false,
      code: 'RequestExpired',
      reason: expect.stringMatching(/^Signature not yet current/),
    });
  });

  it('a signature scoped to another service or region', async () => {
    await expect(
      verify(signed.request, signed.at, { service: 'execute-api', region: 'us-east-1' }),
    ).resolves.toMatchObject({
      ok: false,
      reason: expect.stringContaining("service: 'execute-api'"),
    });
    await expect(
      verify(signed.request, signed.at, { service: 'iotdata', region: 'eu-west-1' }),
    ).resolves.toMatchObject({ ok: false, reason: expect.stringContaining("not 'us-east-1'") });
  });
});
