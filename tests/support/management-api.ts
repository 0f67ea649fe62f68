/**
 * A real HTTP server standing in for API Gateway's @connections management API: records every
 * PostToConnection, answers 410 Gone for connections the test marks as stale, and 413 for data
 * over API Gateway's 128 KB message payload size ("Quotas for configuring and running a
 * WebSocket API in API Gateway"), with the x-amzn-errortype header from which the SDK makes a
 * PayloadTooLargeException.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** API Gateway's WebSocket message payload size. */
export const MESSAGE_PAYLOAD_MAX_BYTES = 128 * 1024;

export interface Post {
  connectionId: string;
  body: string;
}

export interface ManagementApi {
  endpoint: string;
  posts: Post[];
  gone: Set<string>;
  /** Status to answer instead of 200 for these connections (e.g. 500). */
  failing: Map<string, number>;
  /** While set, every post is answered with this status (a stretch of 429s or 500s). */
  outage: number | undefined;
  /** Answers the next requests with these statuses, in order (e.g. 15 × 429 then 15 × 500). */
  failNext(statuses: number[]): void;
  /** Every request received, answered or not. */
  requests: number;
  /** Posts refused with 413 because their data exceeded 128 KB. */
  tooLarge: number;
  /** Delay before each answer, as a real API's latency. */
  latencyMs: number;
  /** The most requests the server had in flight at once. */
  maxInFlight(): number;
  framesFor(connectionId: string): unknown[];
  close(): Promise<void>;
}

export async function startManagementApi(): Promise<ManagementApi> {
  const posts: Post[] = [];
  const gone = new Set<string>();
  const failing = new Map<string, number>();
  const upcomingFailures: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((request, response) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    response.on('finish', () => inFlight--);
    const match = /^\/@connections\/([^/?]+)/.exec(request.url ?? '');
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => setTimeout(answer, api.latencyMs));
    const answer = () => {
      api.requests++;
      const outage = api.outage ?? upcomingFailures.shift();
      if (outage !== undefined) {
        response
          .writeHead(outage, { 'content-type': 'application/json' })
          .end('{"message":"outage"}');
        return;
      }
      if (!match || request.method !== 'POST') {
        response.writeHead(404).end();
        return;
      }
      const connectionId = decodeURIComponent(match[1] as string);
      const body = Buffer.concat(chunks);
      if (body.length > MESSAGE_PAYLOAD_MAX_BYTES) {
        api.tooLarge++;
        response
          .writeHead(413, {
            'content-type': 'application/json',
            'x-amzn-errortype': 'PayloadTooLargeException',
          })
          .end(JSON.stringify({ message: 'Request entity too large' }));
        return;
      }
      if (gone.has(connectionId)) {
        response.writeHead(410, { 'content-type': 'application/json' }).end('{"message":"Gone"}');
        return;
      }
      const status = failing.get(connectionId);
      if (status) {
        response.writeHead(status, { 'content-type': 'application/json' }).end('{"message":"err"}');
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
    outage: undefined,
    failNext: (statuses) => upcomingFailures.push(...statuses),
    requests: 0,
    tooLarge: 0,
    endpoint: `http://127.0.0.1:${port}`,
    posts,
    gone,
    failing,
    maxInFlight: () => maxInFlight,
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
