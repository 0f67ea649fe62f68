/**
 * The two PostToConnection senders the project's own (shared/connections/sender.ts) is measured
 * against (docs/scaling.md):
 * - `SmithySignedConnectionSender`: no SDK client, the request signed by @smithy/signature-v4
 *   (the SDK's signer) and posted over a keep-alive agent — what a library signer costs;
 * - `SdkConnectionSender`: the AWS SDK v3 client the project used before — middleware stack,
 *   signing, serialization.
 * Not part of the project.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ConnectionSender, SendOutcome } from '../shared/connections/sender';

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 and HMAC-SHA-256 from Node's crypto, in the shape the signer wants. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

export class SmithySignedConnectionSender implements ConnectionSender {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly signer: SignatureV4;

  constructor(endpoint: string, region = process.env.AWS_REGION ?? 'us-east-1') {
    this.url = new URL(endpoint);
    const options = { keepAlive: true, maxSockets: Infinity };
    this.agent =
      this.url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    this.signer = new SignatureV4({
      service: 'execute-api',
      region,
      sha256: NodeSha256,
      credentials: async () => ({
        accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: process.env.AWS_SESSION_TOKEN,
      }),
    });
  }

  async send(connectionId: string, data: string): Promise<SendOutcome> {
    const base = this.url.pathname.replace(/\/$/, '');
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port ? Number(this.url.port) : undefined,
      path: `${base}/@connections/${encodeURIComponent(connectionId)}`,
      query: {},
      headers: {
        host: this.url.host,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(data)),
      },
      body: data,
    });
    const status = await new Promise<number>((resolve, reject) => {
      const transport = this.url.protocol === 'https:' ? https : http;
      const request = transport.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: signed.path,
          method: 'POST',
          headers: signed.headers,
          agent: this.agent,
        },
        (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.once('error', reject);
      request.end(data);
    });
    if (status === 200) return 'delivered';
    if (status === 410) return 'gone';
    // Shaped as the SDK's errors, so the retry policy sees the status.
    throw Object.assign(new Error(`PostToConnection answered ${status}`), {
      $metadata: { httpStatusCode: status },
    });
  }
}

export class SdkConnectionSender implements ConnectionSender {
  // As the project configured it: the broadcaster retries, so the SDK must not.
  private readonly client: ApiGatewayManagementApiClient;

  constructor(endpoint: string) {
    this.client = new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1 });
  }

  async send(connectionId: string, data: string): Promise<SendOutcome> {
    try {
      await this.client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }),
      );
      return 'delivered';
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      if (error instanceof GoneException || status === 410) return 'gone';
      throw error;
    }
  }
}
