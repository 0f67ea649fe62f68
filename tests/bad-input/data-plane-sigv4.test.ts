/**
 * The offline IoT data-plane endpoint refuses what the IoT data endpoint refuses: a publish that
 * is not signed (SigV4, service `iotdata`) with the credentials the offline cloud gives its
 * Lambdas gets 403 ForbiddenException and publishes nothing ("Signing AWS API requests", IAM User
 * Guide; the data plane's ForbiddenException in the IoT data-plane API reference). Real HTTP
 * server, the real SDK client and curl.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import {
  startDataPlaneEndpoint,
  type DataPlaneEndpoint,
} from '../../local/iot/endpoints/data-plane';
import type { PublishRequest } from '../../local/iot/endpoints/publish-request';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';

const run = promisify(execFile);

let endpoint: DataPlaneEndpoint;
let url: string;
const published: PublishRequest[] = [];

beforeAll(async () => {
  endpoint = await startDataPlaneEndpoint({
    host: '127.0.0.1',
    port: 0,
    publish: async (request) => {
      published.push(request);
    },
  });
  url = `http://127.0.0.1:${endpoint.port}`;
});
afterAll(() => endpoint.stop());
beforeEach(() => {
  published.length = 0;
});

async function publishWith(credentials: { accessKeyId: string; secretAccessKey: string }) {
  const client = new IoTDataPlaneClient({
    endpoint: url,
    region: OFFLINE_REGION,
    credentials,
    maxAttempts: 1,
  });
  try {
    return await client.send(
      new PublishCommand({
        topic: 'devices/sensor-1/commands',
        qos: 1,
        payload: Buffer.from('{"reboot":true}'),
      }),
    );
  } finally {
    client.destroy();
  }
}

describe('the offline IoT data plane', () => {
  it('publishes a request signed with the offline credentials', async () => {
    await publishWith(OFFLINE_CREDENTIALS);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ topic: 'devices/sensor-1/commands', qos: 1 });
    expect(published[0]?.payload.toString()).toBe('{"reboot":true}');
  });

  it('answers a wrong secret with 403 ForbiddenException and AWS’s message', async () => {
    const error = await publishWith({ accessKeyId: 'offline', secretAccessKey: 'guessed' }).then(
      () => undefined,
      (caught: unknown) => caught as { name: string; message: string; $metadata: object },
    );
    expect(error).toMatchObject({
      name: 'ForbiddenException',
      message: expect.stringMatching(/^The request signature we calculated does not match/),
      $metadata: { httpStatusCode: 403 },
    });
    expect(published).toEqual([]);
  });

  it('answers another access key with 403', async () => {
    await expect(
      publishWith({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'offline' }),
    ).rejects.toMatchObject({ name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
    expect(published).toEqual([]);
  });

  it('answers an unsigned POST (curl) with 403 and a JSON body, publishing nothing', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data',
      '{"forged":true}',
      '-w',
      '\n%{http_code} %header{x-amzn-errortype}',
      `${url}/topics/devices%2Fsensor-1%2Fcommands?qos=1`,
    ]);
    const [body, status] = stdout.split('\n');
    expect(status).toBe('403 ForbiddenException');
    expect(JSON.parse(body as string)).toEqual({
      message: 'Missing Authentication Token',
      traceId: expect.any(String),
    });
    expect(published).toEqual([]);
  });

  it('answers a header that only looks like a signature with 403', async () => {
    const response = await fetch(`${url}/topics/devices%2Fsensor-1%2Fcommands?qos=1`, {
      method: 'POST',
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=offline/20260101/us-east-1/iotdata/aws4_request, ' +
          'SignedHeaders=host;x-amz-date, Signature=' +
          '0'.repeat(64),
        'x-amz-date': new Date()
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z')
          .replace(/[-:]/g, ''),
      },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(published).toEqual([]);
  });

  it('still answers an oversized body with 413 before anything else', async () => {
    const response = await fetch(`${url}/topics/devices%2Fsensor-1%2Fcommands?qos=1`, {
      method: 'POST',
      body: 'x'.repeat(128 * 1024 + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('x-amzn-errortype')).toBe('RequestEntityTooLargeException');
    expect(published).toEqual([]);
  });
});
