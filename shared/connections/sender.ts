/**
 * Posting a frame to one connection through API Gateway's @connections management API
 * ("Use @connections commands in your backend service"): `POST {endpoint}/@connections/{id}`,
 * signed with SigV4 for `execute-api`, over keep-alive sockets. No SDK client: its middleware
 * stack cost ~0.5 ms of CPU per post, which a 256 MB Lambda's fraction of a vCPU cannot spare
 * at a fan-out of hundreds (docs/scaling.md).
 */
import http from 'node:http';
import https from 'node:https';
import { RequestSigner, type AwsCredentials } from '../aws/sigv4';

export type SendOutcome = 'delivered' | 'gone';

export interface ConnectionSender {
  /**
   * Resolves 'gone' when the connection no longer exists (410); rejects on other failures,
   * and when no answer came within `timeoutMs`.
   */
  send(connectionId: string, data: string, timeoutMs?: number): Promise<SendOutcome>;
}

/** An answer other than 200 or 410, shaped as the SDK's service errors (name, $metadata). */
export class ManagementApiError extends Error {
  readonly $metadata: { httpStatusCode: number };

  constructor(status: number, type: string | undefined, message: string) {
    super(message);
    // API Gateway names the error in x-amzn-ErrorType (e.g. PayloadTooLargeException for 413).
    this.name = type?.split(':')[0] || `Http${status}`;
    this.$metadata = { httpStatusCode: status };
  }
}

/** No answer within the request's time: the retry policy treats it as transient. */
export class RequestTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';

  constructor(timeoutMs: number) {
    super(`PostToConnection: no answer within ${timeoutMs} ms`);
  }
}

export interface SignedSenderOptions {
  /** `https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or the offline one. */
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
  /** When send() is given none. */
  timeoutMs: number;
  /** Sockets kept per host; the broadcaster's concurrency bounds what is in flight anyway. */
  maxSockets?: number;
}

/** An error body is small; more is not read. */
const ERROR_BODY_MAX = 4 * 1024;

export class SignedConnectionSender implements ConnectionSender {
  private readonly url: URL;
  private readonly basePath: string;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly signer: RequestSigner;
  private readonly timeoutMs: number;

  constructor(options: SignedSenderOptions) {
    this.url = new URL(options.endpoint);
    // The stage is part of the path (and of what is signed): /dev/@connections/{id}.
    this.basePath = this.url.pathname.replace(/\/+$/, '');
    this.transport = this.url.protocol === 'https:' ? https : http;
    this.agent = new this.transport.Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? Infinity,
    });
    this.signer = new RequestSigner(options.credentials, options.region, 'execute-api');
    this.timeoutMs = options.timeoutMs;
  }

  send(connectionId: string, data: string, timeoutMs = this.timeoutMs): Promise<SendOutcome> {
    if (timeoutMs <= 0) return Promise.reject(new RequestTimeoutError(0));
    const path = `${this.basePath}/@connections/${encodeURIComponent(connectionId)}`;
    const body = Buffer.from(data);
    const headers = {
      host: this.url.host,
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...this.signer.sign({ method: 'POST', host: this.url.host, path, body: data }),
    };
    return new Promise<SendOutcome>((resolve, reject) => {
      const request = this.transport.request(
        {
          protocol: this.url.protocol,
          host: this.url.hostname,
          port: this.url.port,
          path,
          method: 'POST',
          headers,
          agent: this.agent,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          // Any 2xx is a success, as the SDK takes it (API Gateway answers 200; serverless-offline
          // answers 204).
          const delivered = status >= 200 && status < 300;
          if (delivered || status === 410) {
            response.resume();
            response.once('end', () => {
              clearTimeout(timer);
              resolve(delivered ? 'delivered' : 'gone');
            });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < ERROR_BODY_MAX) chunks.push(chunk);
            size += chunk.length;
          });
          response.once('end', () => {
            clearTimeout(timer);
            const type = response.headers['x-amzn-errortype'];
            const text = Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_MAX);
            reject(
              new ManagementApiError(
                status,
                Array.isArray(type) ? type[0] : type,
                `PostToConnection answered ${status}: ${messageOf(text)}`,
              ),
            );
          });
        },
      );
      // A hung post must not outlive the broadcast's deadline (nor the Lambda's timeout).
      const timer = setTimeout(
        () => request.destroy(new RequestTimeoutError(timeoutMs)),
        timeoutMs,
      );
      request.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.end(body);
    });
  }

  /** Closes the kept sockets (tests, benchmarks); a Lambda instance keeps them for its life. */
  destroy(): void {
    this.agent.destroy();
  }
}

function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; Message?: unknown };
    return String(parsed.message ?? parsed.Message ?? text);
  } catch {
    return text || '(no body)';
  }
}
