/**
 * Fan-out of one telemetry message to N connections seeded in dynalite, through a management
 * API with a fixed latency. Compares, in the same run: the seed's algorithm (full Scan, then one
 * PostToConnection at a time), an unbounded Promise.all over a full Scan, the limit (a bare
 * keep-alive loop against the same server, no DynamoDB, no SDK) and the project (Broadcaster +
 * ConnectionSnapshot, wired as shared/runtime/broadcaster.ts wires them, at steady state). Two
 * more rows explain it: the project when a client connects and one leaves before every message
 * (`churn`: the snapshot rescans), and the project's Broadcaster with an SDK-less signed sender
 * (`lean`: what the SDK client's per-request CPU costs). Each case runs in its own process, as a
 * Lambda instance would.
 */
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startLocalDynamoDb } from '../local/dynamodb/server';
import { loadConfig } from '../shared/config';
import { BENCH_TABLE, seedConnections } from './fanout-connections';
import type { FanoutCase, FanoutCaseResult, FanoutVariant } from './fanout-worker';
import { startCountingProxy } from './support/counting-proxy';
import { BENCH_DIR, runChild } from './support/child';
import { startManagementServer } from './support/management-server';
import { median, round } from './support/stats';

export interface FanoutOptions {
  sizes: number[];
  latenciesMs: number[];
  /** The concurrencies the project is measured at, on `sweepSize` connections. */
  sweepConcurrencies: number[];
  sweepSize: number;
  /**
   * Messages per case, within [min, max] so that a case takes about `caseBudgetMs`; the first
   * warms the instance (a cold snapshot, new sockets, the JIT).
   */
  minMessages: number;
  maxMessages: number;
  caseBudgetMs: number;
  /** Above this estimated time the seed algorithm posts to a sample and extrapolates. */
  seedBudgetMs: number;
  /** The sample the seed algorithm posts to when over budget. */
  seedSample: number;
  log: (line: string) => void;
}

export const FULL_FANOUT: Omit<FanoutOptions, 'log'> = {
  sizes: [100, 1_000, 10_000],
  latenciesMs: [0, 20],
  // 50 is the AWS SDK's default socket pool per client: above it, posts queue for a socket.
  sweepConcurrencies: [8, 16, 32, 50, 64, 128],
  sweepSize: 1_000,
  minMessages: 3,
  maxMessages: 10,
  caseBudgetMs: 8_000,
  seedBudgetMs: 25_000,
  seedSample: 1_000,
};

export const QUICK_FANOUT: Omit<FanoutOptions, 'log'> = {
  sizes: [100],
  latenciesMs: [0],
  sweepConcurrencies: [8, 32],
  sweepSize: 100,
  minMessages: 3,
  maxMessages: 3,
  caseBudgetMs: 1_000,
  seedBudgetMs: 5_000,
  seedSample: 100,
};

export interface FanoutRow {
  variant: FanoutVariant;
  connections: number;
  latencyMs: number;
  /** In-flight posts; `null` for the unbounded Promise.all. */
  concurrency: number | null;
  /** Median wall time of a message at steady state (the 2nd..k-th; the only one if k = 1). */
  wallMs: number;
  /** The first message of the instance (cold snapshot, new sockets). */
  firstWallMs: number;
  /** CPU time of the instance per post at steady state. */
  cpuMsPerPost: number;
  /** DynamoDB items read per message at steady state, and by the first message. */
  itemsRead: number;
  firstItemsRead: number;
  postsPerMessage: number;
  peakRssMb: number;
  baselineRssMb: number;
  /** The most posts the management server had in flight at once (what really ran in parallel). */
  serverMaxInFlight: number;
  messages: number;
  /** Set when the seed algorithm posted to a sample only and the time is extrapolated. */
  extrapolatedFrom?: number;
}

export interface FanoutResult {
  defaultConcurrency: number;
  rows: FanoutRow[];
  sweep: FanoutRow[];
  chosen: ConcurrencyChoice[];
}

export interface ConcurrencyChoice {
  connections: number;
  latencyMs: number;
  best: number;
  /** The most posts in flight the server saw at the best concurrency (the SDK pools 50). */
  bestInFlight: number;
  bestWallMs: number;
  defaultWallMs: number;
  /** defaultWallMs / bestWallMs. */
  gain: number;
  /** Posts that wait on latency can overlap; with none, only CPU counts. */
  regime: 'latency-bound' | 'cpu-bound';
  /** Fastest and slowest steady-state time across the concurrencies. */
  spreadMs: [number, number];
  /** Latency-bound, and the best is more than 10 % faster than the default. */
  clearlyBetter: boolean;
}

const WORKER = path.join(BENCH_DIR, 'fanout-worker.ts');
const CASE_TIMEOUT_MS = 240_000;
/** Per-post CPU cost assumed when estimating how long a case will take. */
const POST_OVERHEAD_MS = 0.5;

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const { log } = options;
  const defaultConcurrency = loadConfig({
    CONNECTIONS_TABLE: 'bench',
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://localhost',
  }).broadcastConcurrency;
  const db = await startLocalDynamoDb({
    host: '127.0.0.1',
    port: 0,
    resources: {
      ConnectionsTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: BENCH_TABLE,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
        },
      },
    },
  });
  const proxy = await startCountingProxy(db.endpoint);
  const server = await startManagementServer();
  const client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'offline', secretAccessKey: 'offline' },
  });

  const runCase = async (
    variant: FanoutVariant,
    connections: number,
    latencyMs: number,
    concurrency: number | null,
  ): Promise<FanoutRow> => {
    // The SDK's socket pool holds 50 sockets, whatever the concurrency asks for.
    const inFlight =
      variant === 'limit' || variant === 'lean'
        ? (concurrency ?? 1)
        : Math.min(concurrency ?? 50, 50);
    const perMessageMs =
      variant === 'seed'
        ? connections * (latencyMs + POST_OVERHEAD_MS)
        : Math.max((connections * latencyMs) / inFlight, connections * POST_OVERHEAD_MS);
    const overBudget = variant === 'seed' && perMessageMs > options.seedBudgetMs;
    const sampleLimit = overBudget ? options.seedSample : undefined;
    // The seed has no warm state worth measuring; a long seed message runs once.
    const messages =
      variant === 'seed'
        ? perMessageMs > options.seedBudgetMs / 5
          ? 1
          : options.minMessages
        : Math.min(
            options.maxMessages,
            Math.max(options.minMessages, Math.floor(options.caseBudgetMs / perMessageMs)),
          );
    const input: FanoutCase = {
      variant,
      connections,
      concurrency: concurrency ?? 0,
      messages,
      sampleLimit,
      dynamoEndpoint: proxy.endpoint,
      managementEndpoint: server.endpoint,
    };
    server.reset();
    const result = await runChild<FanoutCase, FanoutCaseResult>(WORKER, input, {
      timeoutMs: CASE_TIMEOUT_MS,
      env: {
        AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
        CONNECTIONS_TABLE: BENCH_TABLE,
        WEBSOCKET_MANAGEMENT_ENDPOINT: server.endpoint,
        BROADCAST_CONCURRENCY: String(concurrency ?? defaultConcurrency),
      },
    });
    const steady = result.messages.length > 1 ? result.messages.slice(1) : result.messages;
    const first = result.messages[0]!;
    const expectedPosts = sampleLimit ?? connections;
    for (const message of result.messages) {
      if (message.posts !== expectedPosts) {
        throw new Error(
          `${variant} at ${connections} connections posted ${message.posts}, expected ${expectedPosts}`,
        );
      }
    }
    const row: FanoutRow = {
      variant,
      connections,
      latencyMs,
      concurrency,
      wallMs: round(median(steady.map((m) => m.wallMs)), 2),
      firstWallMs: round(first.wallMs, 2),
      cpuMsPerPost: round(median(steady.map((m) => m.cpuMs / expectedPosts)), 3),
      itemsRead: median(steady.map((m) => m.itemsRead)),
      firstItemsRead: first.itemsRead,
      postsPerMessage: connections,
      peakRssMb: round(result.peakRssMb),
      baselineRssMb: round(result.baselineRssMb),
      serverMaxInFlight: server.stats().maxInFlight,
      messages: result.messages.length,
      ...(first.extrapolatedFrom === undefined ? {} : { extrapolatedFrom: first.extrapolatedFrom }),
    };
    log(
      `fan-out ${variant.padEnd(9)} N=${connections} latency=${latencyMs}ms c=${concurrency ?? '∞'}: ` +
        `${row.wallMs} ms/message${row.extrapolatedFrom ? ` (extrapolated from ${row.extrapolatedFrom} posts)` : ''}, ` +
        `${row.cpuMsPerPost} ms CPU/post, ${row.itemsRead} items read, ${row.serverMaxInFlight} in flight, ` +
        `peak RSS ${row.peakRssMb} MB (${row.messages} messages)`,
    );
    return row;
  };

  const rows: FanoutRow[] = [];
  const sweep: FanoutRow[] = [];
  try {
    let seeded = 0;
    for (const size of [...options.sizes].sort((a, b) => a - b)) {
      const started = performance.now();
      await seedConnections(client, seeded, size);
      seeded = size;
      log(`fan-out: ${size} connections seeded in ${Math.round(performance.now() - started)} ms`);
      for (const latencyMs of options.latenciesMs) {
        server.latencyMs = latencyMs;
        rows.push(await runCase('seed', size, latencyMs, 1));
        rows.push(await runCase('unbounded', size, latencyMs, null));
        rows.push(await runCase('limit', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('project', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('lean', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('churn', size, latencyMs, defaultConcurrency));
        if (size !== options.sweepSize) continue;
        for (const concurrency of options.sweepConcurrencies) {
          const measured = (variant: FanoutVariant) =>
            rows.find(
              (row) =>
                row.variant === variant &&
                row.connections === size &&
                row.latencyMs === latencyMs &&
                row.concurrency === concurrency,
            );
          const project =
            measured('project') ?? (await runCase('project', size, latencyMs, concurrency));
          const limit = measured('limit') ?? (await runCase('limit', size, latencyMs, concurrency));
          sweep.push(project, limit);
        }
      }
    }
  } finally {
    client.destroy();
    await Promise.all([server.close(), proxy.close()]);
    await db.stop();
  }
  return {
    defaultConcurrency,
    rows,
    sweep,
    chosen: chooseConcurrency(sweep, defaultConcurrency),
  };
}

/**
 * Per latency: the concurrency with the lowest steady-state time, against the default. Only
 * where posts wait (latency > 0) can concurrency help; with none the fan-out is CPU-bound and
 * the differences between concurrencies are noise, so nothing is "clearly better" there.
 */
export function chooseConcurrency(
  sweep: readonly FanoutRow[],
  defaultConcurrency: number,
): ConcurrencyChoice[] {
  const project = sweep.filter((row) => row.variant === 'project');
  const groups = new Map<string, FanoutRow[]>();
  for (const row of project) {
    const key = `${row.connections}/${row.latencyMs}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => {
    const best = group.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
    const byDefault = group.find((row) => row.concurrency === defaultConcurrency) ?? best;
    const gain = byDefault.wallMs / best.wallMs;
    return {
      connections: best.connections,
      latencyMs: best.latencyMs,
      best: best.concurrency ?? defaultConcurrency,
      bestInFlight: best.serverMaxInFlight,
      bestWallMs: best.wallMs,
      defaultWallMs: byDefault.wallMs,
      gain: round(gain, 2),
      regime: best.latencyMs > 0 ? 'latency-bound' : 'cpu-bound',
      spreadMs: [
        Math.min(...group.map((row) => row.wallMs)),
        Math.max(...group.map((row) => row.wallMs)),
      ],
      clearlyBetter: best.latencyMs > 0 && gain > 1.1,
    };
  });
}
