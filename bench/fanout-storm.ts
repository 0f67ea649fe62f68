/**
 * A reconnect storm: API Gateway closes every connection after 2 hours ("Quotas for configuring
 * and running a WebSocket API in API Gateway": connection duration), and clients that connected
 * together reconnect together. Each of `clients` disconnects ($disconnect removes it) and
 * connects again ($connect saves the new connection), through the project's repository, against
 * dynalite behind a proxy that counts the writes per item and per partition key.
 *
 * dynalite is not DynamoDB's speed, so the storm's duration is the scenario's (`stormSeconds`),
 * not the time this machine took: writes per second per key = the key's writes / stormSeconds,
 * as if the storm were spread evenly over it. The earlier design's one `#version` item took a
 * write per change; that figure is the changes / stormSeconds.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { forEachConcurrently } from '../shared/connections/broadcaster';
import { DynamoConnectionRepository } from '../shared/connections/repository';
import type { CountingProxy } from './support/counting-proxy';
import { round } from './support/stats';

export const STORM_TABLE = 'telemetry-bench-storm';

export interface StormOptions {
  clients: number;
  stormSeconds: number;
  shards: number;
  log: (line: string) => void;
}

export interface HotKey {
  key: string;
  writes: number;
  perSecond: number;
}

export interface StormResult {
  clients: number;
  stormSeconds: number;
  shards: number;
  /** Connects and disconnects: entries in the change log. */
  changes: number;
  writes: number;
  hottestItem: HotKey;
  hottestPartition: HotKey;
  /** The earlier design: every change also wrote the one `#version` item. */
  singleCounterPerSecond: number;
  /** How long this machine took (dynalite), for the record. */
  elapsedMs: number;
}

export async function runStorm(proxy: CountingProxy, options: StormOptions): Promise<StormResult> {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'offline', secretAccessKey: 'offline' },
    }),
  );
  const repository = new DynamoConnectionRepository(client, STORM_TABLE, 3 * 3600, {
    shards: options.shards,
  });
  const ids = Array.from({ length: options.clients }, (_, i) => i);
  try {
    const now = Date.now();
    await forEachConcurrently(ids, 32, (i) =>
      repository.save({ connectionId: `old-${i}`, connectedAt: now }),
    );
    proxy.resetWrites();
    const started = performance.now();
    await forEachConcurrently(ids, 32, async (i) => {
      await repository.remove(`old-${i}`);
      await repository.save({ connectionId: `new-${i}`, connectedAt: Date.now() });
    });
    const elapsedMs = performance.now() - started;
    const { total, byItem, byPartition } = proxy.writes();
    const hottest = (map: Map<string, number>): HotKey => {
      const [key, writes] = [...map.entries()].reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0]);
      return { key, writes, perSecond: round(writes / options.stormSeconds, 1) };
    };
    const changes = options.clients * 2;
    const result: StormResult = {
      clients: options.clients,
      stormSeconds: options.stormSeconds,
      shards: options.shards,
      changes,
      writes: total,
      hottestItem: hottest(byItem),
      hottestPartition: hottest(byPartition),
      singleCounterPerSecond: round(changes / options.stormSeconds, 1),
      elapsedMs: round(elapsedMs),
    };
    options.log(
      `storm: ${options.clients} clients reconnect (${changes} changes, ${total} writes) in ` +
        `${options.stormSeconds} s: hottest item ${result.hottestItem.key} ` +
        `${result.hottestItem.perSecond} writes/s, hottest partition ` +
        `${result.hottestPartition.key} ${result.hottestPartition.perSecond} writes/s ` +
        `(one #version item: ${result.singleCounterPerSecond}/s); dynalite took ${result.elapsedMs} ms`,
    );
    return result;
  } finally {
    client.destroy();
  }
}
