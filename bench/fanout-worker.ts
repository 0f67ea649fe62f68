/**
 * One fan-out case in a fresh process (a Lambda instance): delivers `messages` telemetry frames
 * to the seeded connections with one algorithm and reports, per message, the wall time, the
 * DynamoDB items read (from the counting proxy) and the posts the management server received.
 */
import http from 'node:http';
import type { Connection } from '../shared/connections/repository';
import { Broadcaster, forEachConcurrently } from '../shared/connections/broadcaster';
import type { ConnectionSender } from '../shared/connections/sender';
import { ConnectionSnapshot } from '../shared/connections/snapshot';
import { broadcaster } from '../shared/runtime/broadcaster';
import { connectionRepository } from '../shared/runtime/connections';
import { BENCH_TOPIC, connectionIdFor, telemetryFrame } from './fanout-connections';
import { SdkConnectionSender, SmithySignedConnectionSender } from './lean-sender';
import { fetchReadStats } from './support/counting-proxy';
import { childInput, childResult } from './support/child';
import { fetchManagementStats } from './support/management-server';

/**
 * `project` runs shared/runtime/broadcaster.ts as forwardTelemetry does; `sdk` and `smithy` are
 * the same Broadcaster and snapshot with another sender (bench/lean-sender.ts); `churn` is the
 * project with one connect and one leave before each message; `lambda` and `lambda-limit` are
 * the project and the limit in a process held to a 256 MB Lambda's CPU share.
 */
export type FanoutVariant =
  | 'seed'
  | 'unbounded'
  | 'limit'
  | 'project'
  | 'sdk'
  | 'smithy'
  | 'churn'
  | 'lambda'
  | 'lambda-limit';

export interface FanoutCase {
  variant: FanoutVariant;
  connections: number;
  /** Posts in flight for `limit`, `sdk`, `smithy` (the project reads BROADCAST_CONCURRENCY). */
  concurrency: number;
  messages: number;
  /** `seed` only: post to this many connections and extrapolate to all of them. */
  sampleLimit?: number;
  dynamoEndpoint: string;
  managementEndpoint: string;
  /** `churn`: the prefix of the ids it connects (unique per case). */
  churnPrefix?: string;
}

export interface MessageMeasurement {
  wallMs: number;
  /** CPU time the process spent on the message (user + system). */
  cpuMs: number;
  itemsRead: number;
  dynamoRequests: number;
  posts: number;
  /** Set when the time was extrapolated from a sample of the posts. */
  extrapolatedFrom?: number;
}

export interface FanoutCaseResult {
  messages: MessageMeasurement[];
  /** Peak resident set size of the process, before any work and at the end, in MB. */
  baselineRssMb: number;
  peakRssMb: number;
}

const input = childInput<FanoutCase>();
const baselineRssMb = process.resourceUsage().maxRSS / 1024;

async function scanAll(): Promise<Connection[]> {
  const connections: Connection[] = [];
  for await (const page of connectionRepository().pages()) connections.push(...page);
  return connections;
}

type Deliver = (sequence: number) => Promise<{ extrapolatedFrom?: number; wallMs?: number }>;

function seedAlgorithm(): Deliver {
  // The seed's Lambda: the SDK client, one post after the other.
  const sender = new SdkConnectionSender(input.managementEndpoint);
  return async (sequence) => {
    const started = performance.now();
    const data = JSON.stringify(telemetryFrame(sequence));
    const connections = await scanAll();
    const scanned = performance.now();
    const sample =
      input.sampleLimit !== undefined && input.sampleLimit < connections.length
        ? connections.slice(0, input.sampleLimit)
        : connections;
    for (const { connectionId } of sample) await sender.send(connectionId, data);
    if (sample.length === connections.length) return {};
    const postMs = performance.now() - scanned;
    return {
      extrapolatedFrom: sample.length,
      wallMs: scanned - started + (postMs * connections.length) / sample.length,
    };
  };
}

function unboundedAlgorithm(): Deliver {
  const sender = new SdkConnectionSender(input.managementEndpoint);
  return async (sequence) => {
    const data = JSON.stringify(telemetryFrame(sequence));
    const connections = await scanAll();
    await Promise.all(connections.map(({ connectionId }) => sender.send(connectionId, data)));
    return {};
  };
}

/** The management server's ceiling: a bare keep-alive loop, no SDK, no DynamoDB, no Lambda. */
function limitLoop(): Deliver {
  const endpoint = new URL(input.managementEndpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: input.concurrency });
  const ids = Array.from({ length: input.connections }, (_, index) => connectionIdFor(index));
  const post = (connectionId: string, body: string) =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        {
          host: endpoint.hostname,
          port: endpoint.port,
          path: `/@connections/${encodeURIComponent(connectionId)}`,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.once('end', () =>
            response.statusCode === 200 ? resolve() : reject(new Error(`${response.statusCode}`)),
          );
        },
      );
      request.once('error', reject);
      request.end(body);
    });
  return async (sequence) => {
    const data = JSON.stringify(telemetryFrame(sequence));
    await forEachConcurrently(ids, input.concurrency, (id) => post(id, data));
    return {};
  };
}

/** The project as forwardTelemetry runs it: shared/runtime/broadcaster.ts, from the environment. */
function projectBroadcaster(): Deliver {
  return async (sequence) => {
    const result = await broadcaster().broadcast(telemetryFrame(sequence), {
      topic: BENCH_TOPIC,
      deadline: Date.now() + 60_000,
    });
    if (result.failed > 0) throw new Error(`${result.failed} posts failed`);
    return {};
  };
}

/**
 * Before each message of `churn` (untimed): one client connects and one that was there leaves,
 * as API Gateway's 2-hour reconnects do all the time: two entries in the change log, the same
 * number of recipients. Afterwards (untimed) the table is put back as it was.
 */
const churnId = (sequence: number) => `${input.churnPrefix ?? 'churn'}-${sequence}`;
async function churn(sequence: number): Promise<void> {
  const repository = connectionRepository();
  await repository.save({ connectionId: churnId(sequence), connectedAt: Date.now() });
  await repository.remove(connectionIdFor(sequence));
}
async function undoChurn(messages: number): Promise<void> {
  const repository = connectionRepository();
  for (let sequence = 0; sequence < messages; sequence++) {
    await repository.remove(churnId(sequence));
    await repository.save({ connectionId: connectionIdFor(sequence), connectedAt: Date.now() });
  }
}

/** Broadcaster + ConnectionSnapshot as the project wires them, with another sender. */
function withSender(sender: ConnectionSender): Deliver {
  const repository = connectionRepository();
  const other = new Broadcaster({
    connections: new ConnectionSnapshot(repository, 300_000),
    repository,
    sender,
    concurrency: input.concurrency,
  });
  return async (sequence) => {
    const result = await other.broadcast(telemetryFrame(sequence), {
      topic: BENCH_TOPIC,
      deadline: Date.now() + 60_000,
    });
    if (result.failed > 0) throw new Error(`${result.failed} posts failed`);
    return {};
  };
}

const deliver: Deliver = {
  seed: seedAlgorithm,
  unbounded: unboundedAlgorithm,
  limit: limitLoop,
  project: projectBroadcaster,
  churn: projectBroadcaster,
  lambda: projectBroadcaster,
  'lambda-limit': limitLoop,
  sdk: () => withSender(new SdkConnectionSender(input.managementEndpoint)),
  smithy: () => withSender(new SmithySignedConnectionSender(input.managementEndpoint)),
}[input.variant]();

const messages: MessageMeasurement[] = [];
for (let sequence = 0; sequence < input.messages; sequence++) {
  if (input.variant === 'churn') await churn(sequence);
  const [readsBefore, postsBefore] = await Promise.all([
    fetchReadStats(input.dynamoEndpoint),
    fetchManagementStats(input.managementEndpoint),
  ]);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const outcome = await deliver(sequence);
  const wallMs = outcome.wallMs ?? performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const [readsAfter, postsAfter] = await Promise.all([
    fetchReadStats(input.dynamoEndpoint),
    fetchManagementStats(input.managementEndpoint),
  ]);
  const requests = (stats: typeof readsAfter) =>
    Object.values(stats.requests).reduce((sum, n) => sum + n, 0);
  messages.push({
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    itemsRead: readsAfter.itemsRead - readsBefore.itemsRead,
    dynamoRequests: requests(readsAfter) - requests(readsBefore),
    posts: postsAfter.posts - postsBefore.posts,
    ...(outcome.extrapolatedFrom === undefined
      ? {}
      : { extrapolatedFrom: outcome.extrapolatedFrom }),
  });
}

if (input.variant === 'churn') await undoChurn(input.messages);

childResult({
  messages,
  baselineRssMb,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
} satisfies FanoutCaseResult);
