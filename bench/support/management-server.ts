/**
 * The @connections management API as a benchmark sees it: a keep-alive HTTP server that answers
 * every `POST /@connections/{id}` with 200 after a fixed latency and counts what it received.
 * Unlike tests/support/management-api.ts it keeps no bodies, so 10 000-connection runs stay cheap.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ManagementStats {
  posts: number;
  bytes: number;
  maxInFlight: number;
}

export interface ManagementServer {
  endpoint: string;
  /** Delay before each answer, as API Gateway's own latency. */
  latencyMs: number;
  stats(): ManagementStats;
  reset(): void;
  close(): Promise<void>;
}

export const MANAGEMENT_STATS_PATH = '/__bench/stats';

export async function startManagementServer(latencyMs = 0): Promise<ManagementServer> {
  let stats: ManagementStats = { posts: 0, bytes: 0, maxInFlight: 0 };
  let inFlight = 0;
  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === MANAGEMENT_STATS_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      const answer = () => {
        inFlight--;
        if (request.method !== 'POST' || !request.url?.startsWith('/@connections/')) {
          response.writeHead(404).end();
          return;
        }
        stats.posts++;
        stats.bytes += bytes;
        response.writeHead(200, { 'content-length': '0' }).end();
      };
      if (api.latencyMs > 0) setTimeout(answer, api.latencyMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api: ManagementServer = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    latencyMs,
    stats: () => ({ ...stats }),
    reset: () => (stats = { posts: 0, bytes: 0, maxInFlight: 0 }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}

export async function fetchManagementStats(endpoint: string): Promise<ManagementStats> {
  const response = await fetch(`${endpoint}${MANAGEMENT_STATS_PATH}`, {
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as ManagementStats;
}
