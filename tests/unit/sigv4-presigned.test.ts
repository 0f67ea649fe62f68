/**
 * verifyPresignedSigV4: query-string SigV4 as IoT Core takes it for MQTT over WebSocket (AWS IoT
 * Core Developer Guide, "MQTT over WebSocket protocol"; IAM User Guide, "Create a signed AWS API
 * request"), for URLs signed by the AWS SDK's presigner and by IoT's WebSocket signing.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifyPresignedSigV4 } from '../../local/aws/sigv4';
import { presignedMqttUrl } from '../../scripts/simulator/wss-url';

const credentials = { accessKeyId: 'offline', secretAccessKey: 'offline' };
const options = { service: 'iotdevicegateway', region: 'us-east-1' };
const host = 'localhost:4443';
const now = new Date('2026-12-02T08:00:00Z');

/** What the server sees of a wss URL. */
function received(url: string) {
  const parsed = new URL(url);
  return {
    method: 'GET',
    path: parsed.pathname,
    rawQuery: parsed.search.slice(1),
    headers: { host: parsed.host },
  };
}

const iotUrl = (extra: Partial<Parameters<typeof presignedMqttUrl>[0]> = {}) =>
  presignedMqttUrl({
    host: 'localhost',
    port: 4443,
    region: 'us-east-1',
    credentials,
    now,
    ...extra,
  });

class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac(
            'sha256',
            typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer),
          );
  }
  update(chunk: Uint8Array) {
    this.hash.update(chunk);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

describe('verifyPresignedSigV4', () => {
  it("accepts IoT's WebSocket signing, with the session token appended after signing", () => {
    expect(verifyPresignedSigV4(received(iotUrl()), credentials, { ...options, now })).toEqual({
      ok: true,
      accessKeyId: 'offline',
    });
    const withToken = { ...credentials, sessionToken: 'tok/en+=' };
    const url = iotUrl({ credentials: withToken });
    expect(url).toContain('X-Amz-Security-Token=tok%2Fen%2B%3D');
    expect(verifyPresignedSigV4(received(url), withToken, { ...options, now }).ok).toBe(true);
  });

  it("accepts the AWS SDK's presigned URL (X-Amz-Expires signed)", async () => {
    const signer = new SignatureV4({ credentials, ...options, sha256: Sha256 });
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol: 'wss:',
        hostname: 'localhost',
        port: 4443,
        path: '/mqtt',
        headers: { host },
        query: {},
      },
      { signingDate: now, expiresIn: 3600 },
    );
    const query = new URLSearchParams(signed.query as Record<string, string>).toString();
    const request = received(`wss://${host}/mqtt?${query}`);
    const later = new Date(now.getTime() + 59 * 60 * 1000);
    expect(verifyPresignedSigV4(request, credentials, { ...options, now: later }).ok).toBe(true);
    const tooLate = new Date(now.getTime() + 61 * 60 * 1000);
    expect(verifyPresignedSigV4(request, credentials, { ...options, now: tooLate })).toMatchObject({
      ok: false,
      code: 'RequestExpired',
    });
  });

  it.each([
    ['no signature at all', `wss://${host}/mqtt`, 'MissingAuthenticationToken'],
    [
      'a wrong secret',
      iotUrl({ credentials: { ...credentials, secretAccessKey: 'x' } }),
      'SignatureDoesNotMatch',
    ],
    [
      'another access key',
      iotUrl({ credentials: { ...credentials, accessKeyId: 'AKIA' } }),
      'InvalidClientTokenId',
    ],
    ['another region', iotUrl({ region: 'eu-west-1' }), 'SignatureDoesNotMatch'],
    ['a changed path', iotUrl().replace('/mqtt?', '/other?'), 'SignatureDoesNotMatch'],
    ['no X-Amz-Date', iotUrl().replace(/&X-Amz-Date=[^&]+/, ''), 'IncompleteSignature'],
  ])('refuses %s', (_name, url, code) => {
    expect(verifyPresignedSigV4(received(url), credentials, { ...options, now })).toMatchObject({
      ok: false,
      code,
    });
  });

  it('refuses a URL signed more than 15 minutes ago (no X-Amz-Expires)', () => {
    const later = new Date(now.getTime() + 16 * 60 * 1000);
    expect(
      verifyPresignedSigV4(received(iotUrl()), credentials, { ...options, now: later }),
    ).toMatchObject({
      ok: false,
      code: 'RequestExpired',
    });
  });

  it('refuses a Host other than the one signed', () => {
    const request = { ...received(iotUrl()), headers: { host: 'evil:4443' } };
    expect(verifyPresignedSigV4(request, credentials, { ...options, now })).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
    });
  });
});
