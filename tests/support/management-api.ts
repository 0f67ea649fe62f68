/**
 * A real HTTP server standing in for API Gateway's @connections management API, as strict as
 * API Gateway ("Use @connections commands in your backend service", API Gateway Developer Guide;
 * "Quotas for configuring and running a WebSocket API in API Gateway"):
 * - the API lives under the stage: `POST /{stage}/@connections/{connectionId}`; another stage or
 *   a path without one is refused (403 ForbiddenException, as API Gateway answers an unknown
 *   resource), so the handlers' WEBSOCKET_MANAGEMENT_ENDPOINT must carry the stage as
 *   production's `https://{api}.execute-api.{region}.amazonaws.com/{stage}` does;
 * - every request must carry a valid SigV4 signature for `execute-api` (the offline cloud's own
 *   verifier, local/aws/sigv4.ts, with the credentials the handlers run with);
 * - data over 128 KB: 413 PayloadTooLargeException; a connection that is gone: 410 with
 *   `x-amzn-ErrorType: GoneException`, from which the SDK raises its GoneException;
 * - every error names its type in `x-amzn-ErrorType`, as API Gateway's do.
 *
 * Unlike the offline cloud's @connections (local/websocket/api-gateway.ts), it can be told to
 * misbehave per request (statuses, latency, a hang that never answers, a reset socket) and it
 * records every post: the handler tests need both, without a WebSocket client per connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySigV4 } from '../../local/aws/sigv4';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';

/** API Gateway's WebSocket message payload size. */
export const MESSAGE_PAYLOAD_MAX_BYTES = 128 * 1024;

/** The stage the stand-in serves; its endpoint ends with it, as production's does. */
export const MANAGEMENT_STAGE = 'test';

/**
 * A network fault instead of an answer: `hang` reads the request and never answers (the client
 * waits until its own timeout), `reset` destroys the socket (the client sees ECONNRESET).
 */
export type NetworkFault = 'hang' | 'reset';

export interface Post {
  connectionId: string;
  body: string;
}

export interface Refusal {
  status: number;
  type: string;
  message: string;
}

export interface ManagementApi {
  /** `http://127.0.0.1:{port}/{stage}`: what WEBSOCKET_MANAGEMENT_ENDPOINT must be. */
  endpoint: string;
  posts: Post[];
  gone: Set<string>;
  /** Status to answer instead of 200 for these connections (e.g. 500). */
  failing: Map<string, number>;
  /** While set, every post is answered with this status (a stretch of 429s or 500s). */
  outage: number | undefined;
  /** Answers the next requests with these statuses, in order (e.g. 15 × 429 then 15 × 500). */
  failNext(statuses: number[]): void;
  /** Network faults for these connections' posts. */
  faults: Map<string, NetworkFault>;
  /** While set, every post meets this network fault. */
  fault: NetworkFault | undefined;
  /** Requests that were read and are being left unanswered (`hang`). */
  hanging(): number;
  /** Every request received, answered or not. */
  requests: number;
  /** Posts refused with 413 because their data exceeded 128 KB. */
  tooLarge: number;
  /** Requests refused before any post (wrong stage or path, bad signature), with why. */
  refused: Refusal[];
  /** Delay before each answer, as a real API's latency. */
  latencyMs: number;
  /**
   * Called with each accepted post before its 200 (e.g. to hand the data to a real WebSocket, as
   * API Gateway does); a throw is answered 410, as for a connection that went away meanwhile.
   */
  relay: ((connectionId: string, data: string) => void) | undefined;
  /** The most requests the server had in flight at once (since the last reset). */
  maxInFlight(): number;
  resetMaxInFlight(): void;
  framesFor(connectionId: string): unknown[];
  close(): Promise<void>;
}

/** The error type API Gateway names for a status the tests make it answer. */
const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestException',
  403: 'ForbiddenException',
  404: 'NotFoundException',
  410: 'GoneException',
  413: 'PayloadTooLargeException',
  429: 'LimitExceededException',
};

export async function startManagementApi(): Promise<ManagementApi> {
  const posts: Post[] = [];
  const gone = new Set<string>();
  const failing = new Map<string, number>();
  const faults = new Map<string, NetworkFault>();
  const upcomingFailures: number[] = [];
  const refused: Refusal[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let hanging = 0;
  const pathPattern = /^\/([^/?]+)\/@connections\/([^/?]+)$/;

  const server = http.createServer((request, response) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const settle = () => {
      if (counted) inFlight--;
      counted = false;
    };
    response.on('close', settle);
    const rawPath = (request.url ?? '').split('?')[0] as string;
    const match = pathPattern.exec(rawPath);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => setTimeout(() => void answer(), api.latencyMs));

    const refuse = (status: number, message: string, record = false) => {
      const type = ERROR_TYPES[status] ?? 'InternalServerErrorException';
      if (record) refused.push({ status, type, message });
      response
        .writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': type })
        .end(JSON.stringify({ message }));
    };

    const answer = async () => {
      api.requests++;
      const body = Buffer.concat(chunks);
      if (!match || match[1] !== MANAGEMENT_STAGE) {
        // API Gateway answers a path outside the API's stages like any unknown resource.
        refuse(403, 'Forbidden', true);
        return;
      }
      const signature = await verifySigV4(
        {
          method: request.method ?? '',
          path: rawPath,
          query: {},
          headers: request.headers,
          body,
        },
        OFFLINE_CREDENTIALS,
        { service: 'execute-api', region: OFFLINE_REGION },
      );
      if (!signature.ok) {
        refuse(403, `${signature.code}: ${signature.reason}`, true);
        return;
      }
      if (request.method !== 'POST') {
        refuse(403, 'Forbidden', true);
        return;
      }
      const connectionId = decodeURIComponent(match[2] as string);
      const fault = api.fault ?? faults.get(connectionId);
      if (fault === 'hang') {
        hanging++;
        response.on('close', () => hanging--);
        return;
      }
      if (fault === 'reset') {
        request.socket.destroy();
        return;
      }
      const outage = api.outage ?? upcomingFailures.shift();
      if (outage !== undefined) {
        refuse(outage, 'outage');
        return;
      }
      if (body.length > MESSAGE_PAYLOAD_MAX_BYTES) {
        api.tooLarge++;
        refuse(413, 'Message too long');
        return;
      }
      if (gone.has(connectionId)) {
        refuse(410, 'Gone');
        return;
      }
      const status = failing.get(connectionId);
      if (status) {
        refuse(status, 'err');
        return;
      }
      try {
        api.relay?.(connectionId, body.toString('utf8'));
      } catch {
        refuse(410, 'Gone');
        return;
      }
      posts.push({ connectionId, body: body.toString('utf8') });
      response.writeHead(200).end();
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const api: ManagementApi = {
    latencyMs: 0,
    relay: undefined,
    outage: undefined,
    failNext: (statuses) => upcomingFailures.push(...statuses),
    faults,
    fault: undefined,
    hanging: () => hanging,
    requests: 0,
    tooLarge: 0,
    refused,
    endpoint: `http://127.0.0.1:${port}/${MANAGEMENT_STAGE}`,
    posts,
    gone,
    failing,
    maxInFlight: () => maxInFlight,
    resetMaxInFlight: () => {
      maxInFlight = inFlight;
    },
    framesFor: (connectionId) =>
      posts
        .filter((post) => post.connectionId === connectionId)
        .map((post) => JSON.parse(post.body)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}
