/**
 * AWS Signature Version 4 for one kind of request: a header-signed call with an empty query, as
 * PostToConnection is. The steps are those of "Create a signed AWS API request" (IAM User Guide):
 * canonical request → string to sign → signature with the derived signing key.
 *
 * Why not @smithy/signature-v4 (the SDK's signer, which local/aws/sigv4.ts verifies with): per
 * request it clones the request, normalises every header, awaits a credential provider and
 * re-derives the key through async hashes; at a fan-out of 1 000 posts that is most of the CPU
 * (`npm run bench -- --only fanout`, rows `lean` and `project`). Here the signing key is kept
 * per day and the payload hash per body (a broadcast posts one body to every connection), so a
 * post costs one SHA-256 and one HMAC. Tests check every signature with the SDK's signer.
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (a Lambda's role) carry one; it is sent and signed. */
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  /** The host header as sent (with a port when not the default). */
  host: string;
  /** The path as sent on the wire (already percent-encoded), without a query. */
  path: string;
  body: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

export class RequestSigner {
  private signingKey: { day: string; key: Buffer } | undefined;
  private payload: { body: string; hash: string } | undefined;

  constructor(
    private readonly credentials: AwsCredentials,
    private readonly region: string,
    private readonly service: string,
  ) {}

  /** The headers to add: x-amz-date, the session token if any, and authorization. */
  sign(request: SignableRequest, now: Date = new Date()): Record<string, string> {
    const amzDate = now
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '');
    const day = amzDate.slice(0, 8);
    const { sessionToken } = this.credentials;
    const signedHeaders = sessionToken ? 'host;x-amz-date;x-amz-security-token' : 'host;x-amz-date';
    const canonicalRequest = [
      request.method,
      canonicalPath(request.path),
      '',
      `host:${request.host}`,
      `x-amz-date:${amzDate}`,
      ...(sessionToken ? [`x-amz-security-token:${sessionToken}`] : []),
      '',
      signedHeaders,
      this.payloadHash(request.body),
    ].join('\n');
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    const signature = createHmac('sha256', this.keyFor(day)).update(stringToSign).digest('hex');
    return {
      'x-amz-date': amzDate,
      ...(sessionToken ? { 'x-amz-security-token': sessionToken } : {}),
      authorization:
        `${ALGORITHM} Credential=${this.credentials.accessKeyId}/${scope}, ` +
        `SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
  }

  private payloadHash(body: string): string {
    if (this.payload?.body !== body) this.payload = { body, hash: sha256Hex(body) };
    return this.payload.hash;
  }

  private keyFor(day: string): Buffer {
    if (this.signingKey?.day !== day) {
      let key = hmac(`AWS4${this.credentials.secretAccessKey}`, day);
      for (const part of [this.region, this.service, 'aws4_request']) key = hmac(key, part);
      this.signingKey = { day, key };
    }
    return this.signingKey.key;
  }
}

/**
 * Every service but S3 signs the path URI-encoded twice: each byte that the wire form keeps
 * encoded (`%3D`) is encoded again (`%253D`), and characters RFC 3986 does not leave unreserved
 * (`@`) are encoded once. Slashes stay.
 */
function canonicalPath(path: string): string {
  return path
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');
}

const sha256Hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();
