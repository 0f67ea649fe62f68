/**
 * An HTTP proxy in front of dynalite that counts what each DynamoDB call reads: `ScannedCount`
 * of every Scan answer, `Count` of every Query answer, 1 per GetItem, the returned items of a
 * BatchGetItem. `GET /__bench/stats` answers the counters, so a process that only knows the
 * endpoint can measure one message at a time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ReadStats {
  /** Items DynamoDB read (what on-demand read units are billed on). */
  itemsRead: number;
  /** Requests by operation (`Scan`, `GetItem`, `BatchWriteItem`…). */
  requests: Record<string, number>;
}

/** Writes (PutItem, UpdateItem, DeleteItem) per item and per partition key, since the last reset. */
export interface WriteStats {
  total: number;
  /** `table|key` → writes; the key is the item's key attributes as JSON. */
  byItem: Map<string, number>;
  /** `table|partition key value` → writes. */
  byPartition: Map<string, number>;
}

export interface CountingProxy {
  endpoint: string;
  stats(): ReadStats;
  writes(): WriteStats;
  resetWrites(): void;
  close(): Promise<void>;
}

export const STATS_PATH = '/__bench/stats';

export async function startCountingProxy(
  target: string,
  /** Each table's key attributes, partition key first (to tell a PutItem's key). */
  keyAttributes: Record<string, string[]> = {},
): Promise<CountingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const stats: ReadStats = { itemsRead: 0, requests: {} };
  let writes: WriteStats = { total: 0, byItem: new Map(), byPartition: new Map() };

  const countWrite = (operation: string, body: Buffer) => {
    if (!['PutItem', 'UpdateItem', 'DeleteItem'].includes(operation)) return;
    try {
      const request = JSON.parse(body.toString('utf8')) as {
        TableName: string;
        Key?: Record<string, unknown>;
        Item?: Record<string, unknown>;
      };
      const attributes = keyAttributes[request.TableName] ?? Object.keys(request.Key ?? {});
      const source = request.Key ?? request.Item ?? {};
      const key = attributes.map((name) => source[name]);
      const add = (map: Map<string, number>, name: string) =>
        map.set(name, (map.get(name) ?? 0) + 1);
      writes.total++;
      add(writes.byItem, `${request.TableName}|${JSON.stringify(key)}`);
      add(writes.byPartition, `${request.TableName}|${JSON.stringify(key[0])}`);
    } catch {
      // Not a request the table would take: no write.
    }
  };

  const count = (operation: string, body: Buffer, encoding: string | undefined) => {
    stats.requests[operation] = (stats.requests[operation] ?? 0) + 1;
    if (operation === 'GetItem') {
      stats.itemsRead += 1;
      return;
    }
    if (!['Scan', 'Query', 'BatchGetItem'].includes(operation)) return;
    try {
      const text = (encoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      const answer = JSON.parse(text) as {
        ScannedCount?: number;
        Count?: number;
        Responses?: Record<string, unknown[]>;
      };
      if (operation === 'Scan') stats.itemsRead += answer.ScannedCount ?? 0;
      else if (operation === 'Query') stats.itemsRead += answer.Count ?? 0;
      else
        stats.itemsRead += Object.values(answer.Responses ?? {}).reduce(
          (sum, items) => sum + items.length,
          0,
        );
    } catch {
      // An error answer reads nothing.
    }
  };

  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === STATS_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1) || 'unknown';
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: request.url,
          method: request.method,
          headers: request.headers,
          agent,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const body = Buffer.concat(parts);
            if ((answer.statusCode ?? 500) < 300) {
              count(operation, body, answer.headers['content-encoding'] as string | undefined);
              countWrite(operation, Buffer.concat(chunks));
            }
            response.writeHead(answer.statusCode ?? 502, answer.headers).end(body);
          });
        },
      );
      forward.on('error', () => response.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => structuredClone(stats),
    writes: () => writes,
    resetWrites: () => (writes = { total: 0, byItem: new Map(), byPartition: new Map() }),
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The counters of a proxy known only by its endpoint (from another process). */
export async function fetchReadStats(endpoint: string): Promise<ReadStats> {
  const response = await fetch(`${endpoint}${STATS_PATH}`, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as ReadStats;
}
