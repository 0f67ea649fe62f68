/**
 * Fan-out of one telemetry message to N connections seeded in dynalite, through a management
 * API with a fixed latency. Compares, in the same run: the seed's algorithm (full Scan, then one
 * PostToConnection at a time), an unbounded Promise.all over a full Scan, the limit (a bare
 * keep-alive loop against the same server, no DynamoDB, no SDK) and the project (Broadcaster +
 * ConnectionSnapshot, wired as shared/runtime/broadcaster.ts wires them, at steady state). More
 * rows explain it: the project when a client connects and one leaves before every message
 * (`churn`: the snapshot applies the change log), the same Broadcaster with the AWS SDK client
 * (`sdk`, the earlier sender) and with @smithy/signature-v4 signing (`smithy`), and — at the
 * sweep size — the project and the limit in a process held to a 256 MB Lambda's CPU share
 * (`lambda`, `lambda-limit`). Each case runs in its own process, as a Lambda instance would.
 * Last, a reconnect storm counts the writes per key (fanout-storm.ts).
 */
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { connectionTables } from '../local/dynamodb/connection-tables';
import { startLocalDynamoDb } from '../local/dynamodb/server';
import { loadConfig } from '../shared/config';
import { BENCH_TABLE, seedConnections } from './fanout-connections';
import { runStorm, STORM_TABLE, type StormResult } from './fanout-storm';
import { createCpuQuota, LAMBDA_CPU_SHARE } from './support/cpu-quota';
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
  /** Clients in the reconnect storm, and the seconds it is spread over. */
  stormClients: number;
  stormSeconds: number;
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
  stormClients: 5_000,
  stormSeconds: 10,
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
  stormClients: 200,
  stormSeconds: 10,
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
  /**
   * `lambda*` rows: how the CPU share was imposed — a CFS quota on the process (`cgroup`), or,
   * where none could be made, a model (each message's wall time at least its CPU time / share).
   */
  cpuLimit?: 'cgroup' | 'model';
}

export interface FanoutResult {
  defaultConcurrency: number;
  /** The CPU share the `lambda*` rows ran with (256 MB / 1 769 MB per vCPU). */
  lambdaCpuShare: number;
  /** Counters the change log spreads its writes over (CONNECTION_CHANGE_SHARDS). */
  changeShards: number;
  storm?: StormResult;
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
/** Variants that post through the AWS SDK client (its pool holds 50 sockets). */
const SDK_VARIANTS: FanoutVariant[] = ['seed', 'unbounded', 'sdk'];

const CASE_TIMEOUT_MS = 240_000;
/** Per-post CPU cost assumed when estimating how long a case will take. */
const POST_OVERHEAD_MS = 0.5;

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const { log } = options;
  const defaults = loadConfig({
    CONNECTIONS_TABLE: 'bench',
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://localhost',
  });
  const defaultConcurrency = defaults.broadcastConcurrency;
  const changeShards = defaults.connectionChanges.shards;
  const db = await startLocalDynamoDb({
    host: '127.0.0.1',
    port: 0,
    // Always consistent here: the figures are the project's reads, not replication's.
    eventualConsistencyMs: 0,
    resources: Object.fromEntries(
      [BENCH_TABLE, STORM_TABLE].flatMap((table, i) =>
        Object.entries(connectionTables(table, String(i))),
      ),
    ),
  });
  const keyAttributes = Object.fromEntries(
    [BENCH_TABLE, STORM_TABLE].flatMap((table) => [
      [table, ['connectionId']],
      [`${table}-changes`, ['shard', 'seq']],
    ]),
  );
  const proxy = await startCountingProxy(db.endpoint, keyAttributes);
  const cpuQuota = await createCpuQuota(LAMBDA_CPU_SHARE);
  log(
    cpuQuota
      ? `fan-out: lambda rows in a cgroup limited to ${(LAMBDA_CPU_SHARE * 100).toFixed(1)} % of a CPU (${cpuQuota.directory})`
      : `fan-out: no cgroup could be made; lambda rows use the CPU-time model (wall ≥ CPU / ${LAMBDA_CPU_SHARE.toFixed(3)})`,
  );
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
    const inFlight = SDK_VARIANTS.includes(variant)
      ? Math.min(concurrency ?? 50, 50)
      : (concurrency ?? 1);
    const limited = variant === 'lambda' || variant === 'lambda-limit';
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
      churnPrefix: `churn-${latencyMs}-${connections}`,
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
      ...(limited && cpuQuota ? { cpuQuota } : {}),
    });
    if (limited && !cpuQuota) {
      for (const message of result.messages) {
        message.wallMs = Math.max(message.wallMs, message.cpuMs / LAMBDA_CPU_SHARE);
      }
    }
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
      ...(limited ? { cpuLimit: cpuQuota ? ('cgroup' as const) : ('model' as const) } : {}),
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
  let storm: StormResult | undefined;
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
        rows.push(await runCase('sdk', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('smithy', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('churn', size, latencyMs, defaultConcurrency));
        if (size !== options.sweepSize) continue;
        rows.push(await runCase('lambda-limit', size, latencyMs, defaultConcurrency));
        rows.push(await runCase('lambda', size, latencyMs, defaultConcurrency));
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
    storm = await runStorm(proxy, {
      clients: options.stormClients,
      stormSeconds: options.stormSeconds,
      shards: changeShards,
      log,
    });
  } finally {
    client.destroy();
    await cpuQuota?.remove();
    await Promise.all([server.close(), proxy.close()]);
    await db.stop();
  }
  return {
    defaultConcurrency,
    lambdaCpuShare: round(LAMBDA_CPU_SHARE, 4),
    changeShards,
    ...(storm ? { storm } : {}),
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
