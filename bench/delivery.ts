/**
 * Issue 15, measured side by side: the `direct` delivery mode (rule → Lambda per reading → one
 * frame per viewer) against `batched` (rule → SQS → Lambda per batch → `telemetryBatch` frames of
 * ≤ 32 KB), through the real offline stack (`startOfflineStack`, batched with
 * `--param=deliveryMode=batched`) with real devices (MQTT, QoS 1) and real WebSocket viewers.
 *
 * Per cell (mode × readings/s × viewers) and per reading: the API Gateway messages each viewer
 * was metered for (each frame it received costs ⌈bytes / 32 768⌉, "Amazon API Gateway pricing"),
 * the forwardTelemetry invocations (counted from the function's log: serverless-offline prints
 * one `(λ: forwardTelemetry) RequestId: … Duration: …` line per invocation, as Lambda writes one
 * REPORT line to CloudWatch Logs), end-to-end latency (device publish → viewer receipt, one
 * clock: both live in this process), and readings lost or duplicated (per viewer).
 *
 * Two cores cannot drive every cell: direct at 1 000 readings/s × 1 000 viewers is a million
 * frames a second. Each cell is bounded (duration and deliveries), and a cell whose readings
 * were not published at the rate, or whose deliveries fell behind, says so with what it achieved.
 */
import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { startOfflineStack, type OfflineStack } from '../local/stack';
import { connectDevice, deviceCredentials } from '../local/stack/devices';
import { percentile, preciseNow, round, sleep } from './support/stats';

export type DeliveryMode = 'direct' | 'batched';

export interface DeliveryOptions {
  modes: DeliveryMode[];
  /** Offered readings per second, across the devices. */
  rates: number[];
  viewers: number[];
  /** How long a cell publishes at most… */
  durationMs: number;
  /** …and at most this many deliveries (readings × viewers), per mode… */
  maxDeliveries: Record<DeliveryMode, number>;
  /** …but never fewer readings than this. */
  minReadings: number;
  /** Before the cells of a viewer count: this many readings, not measured (cold instances). */
  warmupReadings: number;
  /** After a cell: wait for its frames until this long without one… */
  drainIdleMs: number;
  /** …or at most this long. */
  drainMaxMs: number;
  /** Before a cell: wait until no frame and no invocation for `quietMs`, at most `quiesceMaxMs`. */
  quietMs: number;
  quiesceMaxMs: number;
  /** Batched: the event source mapping's settings the stack is started with. */
  batchSize: number;
  batchWindowSeconds: number;
  log: (line: string) => void;
}

export const FULL_DELIVERY: Omit<DeliveryOptions, 'log'> = {
  modes: ['direct', 'batched'],
  rates: [10, 100, 1_000],
  viewers: [10, 100, 1_000],
  durationMs: 3_000,
  maxDeliveries: { direct: 5_000, batched: 60_000 },
  minReadings: 10,
  warmupReadings: 20,
  drainIdleMs: 4_000,
  drainMaxMs: 20_000,
  quietMs: 1_500,
  quiesceMaxMs: 20_000,
  batchSize: 100,
  batchWindowSeconds: 1,
};

export const QUICK_DELIVERY: Omit<DeliveryOptions, 'log'> = {
  modes: ['direct', 'batched'],
  rates: [20],
  viewers: [3],
  durationMs: 2_000,
  maxDeliveries: { direct: 1_000, batched: 1_000 },
  minReadings: 10,
  warmupReadings: 10,
  drainIdleMs: 3_000,
  drainMaxMs: 15_000,
  quietMs: 1_000,
  quiesceMaxMs: 10_000,
  batchSize: 100,
  batchWindowSeconds: 1,
};

export interface DeliveryRow {
  mode: DeliveryMode;
  /** Offered readings per second. */
  rate: number;
  viewers: number;
  devices: number;
  /** Readings published (QoS 1). */
  readings: number;
  /** Publishes that failed (refused, or the connection lost): not expected at the viewers. */
  publishFailures: number;
  /** Readings per second as published. */
  achievedRate: number;
  /** How long the publishing took. */
  publishMs: number;
  /** Frames received by all viewers, and their metering units (⌈bytes / 32 KB⌉ each). */
  frames: number;
  meteredMessages: number;
  /** The largest frame received, bytes. */
  maxFrameBytes: number;
  /** Metered API Gateway messages per reading per viewer. */
  meteredPerReadingPerViewer: number;
  /** forwardTelemetry invocations (the function's log lines) and per reading. */
  invocations: number;
  invocationsPerReading: number;
  /** Median duration of those invocations as serverless-offline reports them. */
  invocationP50Ms: number;
  /** readings × viewers. */
  expectedDeliveries: number;
  delivered: number;
  /** Deliveries not received within the drain window… */
  lost: number;
  /** …of which this many came later, before the benchmark ended. */
  late: number;
  /** Deliveries received twice or more (the same reading at the same viewer). */
  duplicates: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Deliveries per second, from the first publish to the last delivery. */
  deliveriesPerSecond: number;
  /** Last delivery − last publish: what the stack still had queued when publishing stopped. */
  backlogMs: number;
  /** The cell ran at its target: the rate was published for ≥ 1 s and delivery kept up. */
  driven: boolean;
  /** Why not, with what was achieved. */
  notDriven?: string;
}

export interface DeliveryResult {
  batchSize: number;
  batchWindowSeconds: number;
  stackStartMs: Partial<Record<DeliveryMode, number>>;
  rows: DeliveryRow[];
  /** Cells or modes that could not be measured (the others are kept). */
  errors: string[];
}

/** AWS IoT Core allows 100 publishes per second per connection; the bench stays at half. */
const RATE_PER_DEVICE = 50;
const MAX_OUTSTANDING_PUBLISHES = 256;
/** One API Gateway WebSocket metering unit. */
const METER_BYTES = 32 * 1024;
/** What serverless-offline prints once per invocation of the function. */
const INVOCATION_LINE = /\(λ: forwardTelemetry\) RequestId: \S+\s+Duration: ([\d.]+) ms/;

export async function runDelivery(options: DeliveryOptions): Promise<DeliveryResult> {
  const result: DeliveryResult = {
    batchSize: options.batchSize,
    batchWindowSeconds: options.batchWindowSeconds,
    stackStartMs: {},
    rows: [],
    errors: [],
  };
  for (const mode of options.modes) {
    try {
      await measureMode(mode, options, result);
    } catch (error) {
      const message = `${mode}: ${(error as Error).message}`;
      options.log(`delivery: ${message}`);
      result.errors.push(message);
    }
  }
  return result;
}

/** Every forwardTelemetry invocation the stack's output reported, as it comes. */
class InvocationLog {
  count = 0;
  lastAt = 0;
  readonly durations: number[] = [];
  private partial = '';

  take(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const match = INVOCATION_LINE.exec(line);
      if (!match) continue;
      this.count++;
      this.lastAt = preciseNow();
      this.durations.push(Number(match[1]));
    }
  }
}

async function measureMode(
  mode: DeliveryMode,
  options: DeliveryOptions,
  result: DeliveryResult,
): Promise<void> {
  const { log } = options;
  const invocations = new InvocationLog();
  const startedAt = preciseNow();
  const stack = await startOfflineStack({
    serverlessArgs:
      mode === 'batched'
        ? [
            '--param=deliveryMode=batched',
            `--param=deliveryBatchSize=${options.batchSize}`,
            `--param=deliveryBatchWindowSeconds=${options.batchWindowSeconds}`,
          ]
        : ['--param=deliveryMode=direct'],
    // Only the invocation lines are of interest; the whole output would grow for minutes.
    keepOutput: false,
    onOutput: (chunk) => invocations.take(chunk),
  });
  result.stackStartMs[mode] = round(preciseNow() - startedAt, 0);
  log(`delivery ${mode}: offline stack ready in ${result.stackStartMs[mode]} ms`);
  const recorder = new FrameRecorder();
  const viewers: WebSocket[] = [];
  const devices: MqttClient[] = [];
  try {
    const deviceCount = Math.ceil(Math.max(...options.rates) / RATE_PER_DEVICE);
    // One at a time: 20 TLS handshakes at once on a loaded machine outlast a CONNACK timeout.
    for (let index = 0; index < deviceCount; index++) {
      devices.push(
        await connectDevice(
          stack.ports.mqtt,
          deviceCredentials(stack.localCloudDir, `delivery-device-${index}`),
          { connectTimeout: 30_000 },
        ),
      );
    }
    const rows: (DeliveryRow & { runId: string })[] = [];
    for (const viewerCount of [...options.viewers].sort((a, b) => a - b)) {
      await addViewers(stack, viewers, viewerCount, recorder);
      // Not measured: starts the Lambda workers and the pollers with this many viewers.
      await measureCell(options, recorder, invocations, devices, {
        mode,
        rate: Math.min(...options.rates),
        viewers: viewerCount,
        readings: options.warmupReadings,
      });
      for (const rate of options.rates) {
        const readings = cellReadings(options, mode, rate, viewerCount);
        try {
          const row = await measureCell(options, recorder, invocations, devices, {
            mode,
            rate,
            viewers: viewerCount,
            readings,
          });
          if (mode === 'batched' && recorder.batchFrames === 0) {
            throw new Error(
              `no telemetryBatch frame arrived (${row.delivered} of ${row.expectedDeliveries} ` +
                'deliveries as telemetry frames): the stack did not run in the batched mode ' +
                '(serverless.yml deliveryMode, the SQS event source)',
            );
          }
          rows.push(row);
          log(
            `delivery ${mode} ${rate}/s × ${viewerCount} viewers: ${row.readings} readings, ` +
              `${row.meteredPerReadingPerViewer} msgs/reading/viewer, ${row.invocationsPerReading} ` +
              `invocations/reading, p50 ${row.p50Ms} / p99 ${row.p99Ms} ms, lost ${row.lost}, ` +
              `dup ${row.duplicates}${row.driven ? '' : ` — not driven: ${row.notDriven}`}`,
          );
        } catch (error) {
          recorder.current = undefined;
          const message = `${mode} ${rate}/s × ${viewerCount}: ${(error as Error).message}`;
          log(`delivery cell failed: ${message}`);
          result.errors.push(message);
          if (/did not run in the batched mode/.test(message)) return;
        }
      }
    }
    await quiesce(options, recorder, invocations);
    for (const row of rows) {
      const { runId, ...measured } = row;
      result.rows.push({ ...measured, late: recorder.closed.get(runId)?.late ?? 0 });
    }
  } finally {
    for (const viewer of viewers) viewer.terminate();
    await Promise.all(devices.map((device) => device.endAsync(true).catch(() => undefined)));
    await stack.stop();
  }
}

/** A cell's readings: its duration at its rate, within the mode's delivery budget. */
export function cellReadings(
  options: Pick<DeliveryOptions, 'durationMs' | 'maxDeliveries' | 'minReadings'>,
  mode: DeliveryMode,
  rate: number,
  viewers: number,
): number {
  const byDuration = Math.round((rate * options.durationMs) / 1000);
  const byBudget = Math.floor(options.maxDeliveries[mode] / viewers);
  return Math.max(options.minReadings, Math.min(byDuration, byBudget));
}

/** What one cell's viewers received, per (viewer, reading). */
interface Run {
  id: string;
  seen: Set<string>;
  delivered: number;
  duplicates: number;
  late: number;
  frames: number;
  metered: number;
  maxFrameBytes: number;
  latencies: number[];
  lastDeliveryAt: number;
}

/**
 * Every viewer's messages go here. A message is metered as API Gateway meters it, by its bytes;
 * its readings (one, or a batch's items) are counted for the cell their `bench` mark names.
 */
class FrameRecorder {
  current: Run | undefined;
  readonly closed = new Map<string, Run>();
  lastFrameAt = 0;
  /** telemetryBatch frames seen at all: proof the batched mode is running. */
  batchFrames = 0;
  private viewers = 0;

  viewer(): (data: Buffer) => void {
    const index = this.viewers++;
    return (data) => this.record(index, data);
  }

  private record(viewer: number, data: Buffer): void {
    const receivedAt = preciseNow();
    this.lastFrameAt = receivedAt;
    let frame: { type?: unknown; items?: unknown; data?: { bench?: unknown } };
    try {
      frame = JSON.parse(data.toString()) as typeof frame;
    } catch {
      return;
    }
    const items =
      frame.type === 'telemetryBatch' && Array.isArray(frame.items) ? frame.items : [frame];
    if (frame.type === 'telemetryBatch') this.batchFrames++;
    const marks = (items as { data?: { bench?: unknown } }[]).flatMap((item) => {
      const bench = item?.data?.bench;
      return typeof bench === 'string' ? [parseMark(bench)] : [];
    });
    if (marks.length === 0) return;
    const run = this.current;
    // The frame is billed to the cell whose readings it carries.
    const owner = run && marks.some((mark) => mark.runId === run.id) ? run : undefined;
    if (owner) {
      owner.frames++;
      owner.metered += Math.ceil(data.length / METER_BYTES);
      owner.maxFrameBytes = Math.max(owner.maxFrameBytes, data.length);
    }
    for (const mark of marks) {
      if (!run || mark.runId !== run.id) {
        const closed = this.closed.get(mark.runId);
        if (closed) closed.late++;
        continue;
      }
      const key = `${viewer}:${mark.seq}`;
      if (run.seen.has(key)) {
        run.duplicates++;
        continue;
      }
      run.seen.add(key);
      run.delivered++;
      run.lastDeliveryAt = receivedAt;
      run.latencies.push(receivedAt - mark.sentAt);
    }
  }
}

/** A reading's `bench` mark: `runId:seq:sentAt`. */
function parseMark(bench: string): { runId: string; seq: number; sentAt: number } {
  const [runId = '', seq, sentAt] = bench.split(':');
  return { runId, seq: Number(seq), sentAt: Number(sentAt) };
}

async function addViewers(
  stack: OfflineStack,
  viewers: WebSocket[],
  count: number,
  recorder: FrameRecorder,
): Promise<void> {
  while (viewers.length < count) {
    const batch = Math.min(10, count - viewers.length);
    viewers.push(
      ...(await Promise.all(
        Array.from({ length: batch }, () => openViewer(stack.websocketUrl, recorder.viewer())),
      )),
    );
  }
}

function openViewer(url: string, onFrame: (data: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: 30_000 });
    socket.on('message', onFrame);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`WebSocket handshake refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
    socket.once('open', () => resolve(socket));
  });
}

interface CellSpec {
  mode: DeliveryMode;
  rate: number;
  viewers: number;
  readings: number;
}

async function measureCell(
  options: DeliveryOptions,
  recorder: FrameRecorder,
  invocations: InvocationLog,
  devices: MqttClient[],
  { mode, rate, viewers, readings }: CellSpec,
): Promise<DeliveryRow & { runId: string }> {
  await quiesce(options, recorder, invocations);
  const run: Run = {
    id: `d${randomUUID().slice(0, 8)}`,
    seen: new Set(),
    delivered: 0,
    duplicates: 0,
    late: 0,
    frames: 0,
    metered: 0,
    maxFrameBytes: 0,
    latencies: [],
    lastDeliveryAt: 0,
  };
  recorder.current = run;
  const invocationsBefore = invocations.count;
  const durationsBefore = invocations.durations.length;
  const deviceCount = Math.min(devices.length, Math.ceil(rate / RATE_PER_DEVICE));
  const published = await publish(
    devices.slice(0, deviceCount),
    rate,
    readings,
    run.id,
    // At most half again the cell's planned time, plus a second.
    (readings / rate) * 1500 + 1_000,
  );
  const expected = (published.sent - published.failures) * viewers;
  const drainStart = preciseNow();
  for (;;) {
    const now = preciseNow();
    if (run.delivered >= expected) break;
    if (now - drainStart > options.drainMaxMs) break;
    if (now - Math.max(recorder.lastFrameAt, drainStart) > options.drainIdleMs) break;
    await sleep(20);
  }
  // Invocations still running (a partial batch failed and came back) are the cell's too.
  await quiesce(options, recorder, invocations);
  recorder.current = undefined;
  run.seen.clear();
  recorder.closed.set(run.id, run);
  const invocationCount = invocations.count - invocationsBefore;
  const span = Math.max(1, run.lastDeliveryAt - published.firstAt);
  const achievedRate = round(published.sent / (Math.max(1, published.spanMs) / 1000), 1);
  const deliveriesPerSecond = round(run.delivered / (span / 1000), 0);
  const backlogMs = round(Math.max(0, run.lastDeliveryAt - published.lastAt), 0);
  // A cell kept up when its rate was published for a second or more and the last delivery
  // came within a batching window (+ 1 s) of the last publish.
  const allowedBacklogMs = 1_000 + (mode === 'batched' ? options.batchWindowSeconds * 1000 : 0);
  const reasons = [
    ...(published.spanMs < 1_000
      ? [`a burst of ${published.sent} readings in ${round(published.spanMs, 0)} ms`]
      : []),
    ...(achievedRate < 0.9 * rate ? [`published ${achievedRate} readings/s`] : []),
    ...(backlogMs > allowedBacklogMs || run.delivered < expected
      ? [
          `delivered ${deliveriesPerSecond.toLocaleString('en-US')} of the ` +
            `${(rate * viewers).toLocaleString('en-US')} deliveries/s offered`,
        ]
      : []),
  ];
  return {
    runId: run.id,
    mode,
    rate,
    viewers,
    devices: deviceCount,
    readings: published.sent,
    publishFailures: published.failures,
    achievedRate,
    publishMs: round(published.spanMs, 0),
    frames: run.frames,
    meteredMessages: run.metered,
    maxFrameBytes: run.maxFrameBytes,
    meteredPerReadingPerViewer: round(run.metered / Math.max(1, expected), 4),
    invocations: invocationCount,
    invocationsPerReading: round(
      invocationCount / Math.max(1, published.sent - published.failures),
      4,
    ),
    invocationP50Ms: round(percentile(invocations.durations.slice(durationsBefore), 50), 1),
    expectedDeliveries: expected,
    delivered: run.delivered,
    lost: expected - run.delivered,
    late: 0,
    duplicates: run.duplicates,
    p50Ms: round(percentile(run.latencies, 50), 1),
    p99Ms: round(percentile(run.latencies, 99), 1),
    maxMs: round(percentile(run.latencies, 100), 1),
    deliveriesPerSecond,
    backlogMs,
    driven: reasons.length === 0,
    ...(reasons.length ? { notDriven: reasons.join('; ') } : {}),
  };
}

interface Published {
  /** Readings published (the broker may not have acknowledged every one yet). */
  sent: number;
  /** Publishes the broker refused or the connection lost. */
  failures: number;
  firstAt: number;
  lastAt: number;
  spanMs: number;
}

/**
 * Publishes `count` readings at `rate` (QoS 1), round robin over the devices, with a bounded
 * backlog of unacknowledged publishes (the offline IoT Core holds a PUBACK until the rules engine
 * has queued the message: back-pressure), and gives up the rest after `maxMs`.
 */
async function publish(
  devices: MqttClient[],
  rate: number,
  count: number,
  runId: string,
  maxMs: number,
): Promise<Published> {
  const interval = 1000 / rate;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let failures = 0;
  let lastAt = 0;
  const start = preciseNow();
  for (let seq = 0; seq < count; seq++) {
    const wait = start + seq * interval - preciseNow();
    if (wait > 1) await sleep(wait);
    if (preciseNow() - start > maxMs) break;
    sent++;
    const index = seq % devices.length;
    const sentAt = preciseNow();
    lastAt = sentAt;
    const payload = JSON.stringify({
      bench: `${runId}:${seq}:${sentAt.toFixed(3)}`,
      seq,
      temperature: 21.5,
      humidity: 48.2,
      battery: 0.87,
    });
    const done = devices[index]!.publishAsync(
      `devices/delivery-device-${index}/telemetry`,
      payload,
      { qos: 1 },
    ).then(
      () => undefined,
      () => void failures++,
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
    if (pending.size >= MAX_OUTSTANDING_PUBLISHES) await Promise.race(pending);
  }
  // Unacknowledged is not lost: the reading is counted, and looked for at the viewers.
  await Promise.race([Promise.allSettled(pending), sleep(30_000)]);
  return { sent, failures, firstAt: start, lastAt, spanMs: Math.max(1, lastAt - start) };
}

/** Waits until no frame arrived and no invocation ended for `quietMs`. */
async function quiesce(
  { quietMs, quiesceMaxMs }: DeliveryOptions,
  recorder: FrameRecorder,
  invocations: InvocationLog,
): Promise<void> {
  const start = preciseNow();
  while (preciseNow() - Math.max(recorder.lastFrameAt, invocations.lastAt) < quietMs) {
    if (preciseNow() - start > quiesceMaxMs) return;
    await sleep(20);
  }
}
