/**
 * End to end through the whole local cloud: devices publish over MQTT (mutual TLS) or HTTPS
 * (mutual TLS, keep-alive) → offline IoT Core → topic rule → forwardTelemetry (serverless-offline)
 * → PostToConnection → WebSocket clients. Against the limit: the same device endpoints with an
 * in-process subscriber relaying to a bare `ws` server (bench/e2e-relay.ts), no Lambda in between.
 * Each payload carries `sentAt`; latency is the client's receive time minus it (one clock: the
 * devices and the clients live in this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { connectDevice, deviceCredentials, type DeviceCredentials } from '../local/stack/devices';
import { startOfflineStack, type OfflineStack } from '../local/stack';
import type { RelayInput, RelayPorts } from './e2e-relay';
import { BENCH_DIR, offlineEnv, readyValue, REPO_ROOT } from './support/child';
import { percentile, preciseNow, round, sleep } from './support/stats';

/** mqtt5: the same MQTT publishes from MQTT 5 connections (issue 18). */
export type Protocol = 'mqtt' | 'mqtt5' | 'https';
export type E2eTarget = 'lambda' | 'limit';

export interface E2eOptions {
  rates: number[];
  clients: number[];
  protocols: Protocol[];
  /** How long each measured run publishes. */
  durationMs: number;
  /** A short stretch at the same rate before each run, not measured (warms Lambda instances). */
  warmupMs: number;
  /** Runs whose frames (messages × clients) would exceed this publish for less time. */
  maxFramesPerRun: number;
  /** After a run: wait for its frames until this long without one… */
  drainIdleMs: number;
  /** …or at most this long. */
  drainMaxMs: number;
  /** Before a run: wait until nothing arrived for `quietMs`, at most `quiesceMaxMs`. */
  quietMs: number;
  quiesceMaxMs: number;
  /** Direct invocations of forwardTelemetry per client count, to time the Lambda step alone. */
  invokeProbes: number;
  log: (line: string) => void;
}

export const FULL_E2E: Omit<E2eOptions, 'log'> = {
  rates: [10, 100, 500],
  clients: [1, 10, 100],
  protocols: ['mqtt', 'mqtt5', 'https'],
  durationMs: 3_000,
  warmupMs: 2_000,
  maxFramesPerRun: 30_000,
  drainIdleMs: 3_000,
  drainMaxMs: 20_000,
  quietMs: 1_000,
  quiesceMaxMs: 60_000,
  invokeProbes: 20,
};

export const QUICK_E2E: Omit<E2eOptions, 'log'> = {
  rates: [10],
  clients: [1],
  protocols: ['mqtt', 'https'],
  durationMs: 2_000,
  warmupMs: 500,
  maxFramesPerRun: 1_000,
  drainIdleMs: 3_000,
  drainMaxMs: 10_000,
  quietMs: 300,
  quiesceMaxMs: 5_000,
  invokeProbes: 5,
};

export interface E2eRow {
  target: E2eTarget;
  protocol: Protocol;
  /** Offered rate in messages per second, across `devices` devices. */
  rate: number;
  clients: number;
  devices: number;
  durationMs: number;
  sent: number;
  publishFailures: number;
  /** sent × clients. */
  expectedFrames: number;
  delivered: number;
  duplicates: number;
  /** Expected frames not received by the end of the drain window… */
  lost: number;
  /** …of which this many arrived later, before the benchmark ended. */
  late: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Device → the rule's `receivedAt` (the Lambda target only; the relay stamps its own). */
  ingestP50Ms: number;
  /** Messages published per second, as achieved. */
  achievedRate: number;
  /** Frames received per second, from the first publish to the last frame. */
  framesPerSecond: number;
}

export interface InvokeProbe {
  clients: number;
  probes: number;
  /** Invocations that failed or took over 30 s. */
  failed: number;
  /** Round trip of a direct RequestResponse invoke of forwardTelemetry (fan-out included). */
  p50Ms: number;
  p95Ms: number;
}

export interface E2eResult {
  stackStartMs: number;
  rows: E2eRow[];
  invokeProbes: InvokeProbe[];
  /** Runs that could not be measured (the others are kept). */
  errors: string[];
}

const MAX_DEVICES = 10;
/** AWS IoT Core allows 100 publishes per second per connection; the bench stays at half. */
const RATE_PER_DEVICE = 50;
const MAX_OUTSTANDING_PUBLISHES = 256;

interface Run {
  id: string;
  clients: number;
  delivered: number;
  late: number;
  duplicates: number;
  seen: Set<string>;
  latencies: number[];
  ingest: number[];
  lastFrameAt: number;
}

interface Target {
  name: E2eTarget;
  mqttPort: number;
  httpsPort: number;
  websocketUrl: string;
  viewers: WebSocket[];
  devices: MqttClient[];
  /** MQTT 5 connections of other things (a thing has one connection), for the mqtt5 runs. */
  devices5: MqttClient[];
  agents: https.Agent[];
}

export async function runE2e(options: E2eOptions): Promise<E2eResult> {
  const { log } = options;
  const startedAt = performance.now();
  const stack = await startOfflineStack();
  const stackStartMs = round(performance.now() - startedAt, 0);
  log(`e2e: offline stack ready in ${stackStartMs} ms`);
  let relay: { process: ChildProcess; ports: RelayPorts } | undefined;
  const targets: Target[] = [];
  try {
    relay = await startRelay(stack.localCloudDir);
    const deviceCount = Math.min(
      MAX_DEVICES,
      Math.ceil(Math.max(...options.rates) / RATE_PER_DEVICE),
    );
    const credentials = Array.from({ length: deviceCount }, (_, index) =>
      deviceCredentials(stack.localCloudDir, `bench-device-${index}`),
    );
    const credentials5 = options.protocols.includes('mqtt5')
      ? Array.from({ length: deviceCount }, (_, index) =>
          deviceCredentials(stack.localCloudDir, `${MQTT5_DEVICE}${index}`),
        )
      : [];
    targets.push(
      await target(
        'limit',
        relay.ports,
        `ws://localhost:${relay.ports.websocket}`,
        credentials,
        credentials5,
      ),
      await target('lambda', stack.ports, stack.websocketUrl, credentials, credentials5),
    );
    return { stackStartMs, ...(await measure(options, stack, targets, credentials)) };
  } finally {
    for (const { viewers, devices, devices5, agents } of targets) {
      for (const viewer of viewers) viewer.terminate();
      await Promise.all(
        [...devices, ...devices5].map((device) => device.endAsync(true).catch(() => undefined)),
      );
      for (const agent of agents) agent.destroy();
    }
    relay?.process.kill('SIGTERM');
    await stack.stop();
  }
}

/**
 * Every viewer's frames go here: each telemetry frame (parsed JSON) is counted for the run its
 * `bench` mark names — delivered, duplicated, or late once that run's window closed.
 */
class FrameRecorder {
  current: Run | undefined;
  /** Runs whose window closed: frames that still come are counted as late. */
  readonly closed = new Map<string, Run>();
  lastFrameAt = 0;
  private viewers = 0;

  /** A listener for one more viewer's frames. */
  viewer(): (data: Buffer) => void {
    const index = this.viewers++;
    return (data) => this.record(index, data);
  }

  private record(viewer: number, data: Buffer): void {
    const receivedAt = preciseNow();
    this.lastFrameAt = receivedAt;
    const mark = benchMarkOf(data);
    if (!mark) return;
    const run = this.current;
    if (!run || run.id !== mark.runId) {
      const closed = this.closed.get(mark.runId);
      if (closed) closed.late++;
      return;
    }
    const key = `${viewer}:${mark.seq}`;
    if (run.seen.has(key)) {
      run.duplicates++;
      return;
    }
    run.seen.add(key);
    run.delivered++;
    run.lastFrameAt = receivedAt;
    run.latencies.push(receivedAt - mark.sentAt);
    if (mark.receivedAt !== undefined) run.ingest.push(mark.receivedAt - mark.sentAt);
  }
}

/** The `bench` mark (`runId:seq:sentAt`) of a telemetry frame, from its parsed JSON. */
function benchMarkOf(
  data: Buffer,
): { runId: string; seq: number; sentAt: number; receivedAt: number | undefined } | undefined {
  let frame: { data?: { bench?: unknown }; receivedAt?: unknown };
  try {
    frame = JSON.parse(data.toString()) as typeof frame;
  } catch {
    return undefined;
  }
  const bench = frame?.data?.bench;
  if (typeof bench !== 'string') return undefined;
  const [runId = '', seq, sentAt] = bench.split(':');
  return {
    runId,
    seq: Number(seq),
    sentAt: Number(sentAt),
    receivedAt: typeof frame.receivedAt === 'number' ? frame.receivedAt : undefined,
  };
}

/** One measured stretch: a target, a protocol, a rate, a viewer count, a duration. */
interface RunSpec {
  target: Target;
  protocol: Protocol;
  rate: number;
  clients: number;
  durationMs: number;
}

async function target(
  name: E2eTarget,
  ports: { mqtt: number; https: number },
  websocketUrl: string,
  credentials: DeviceCredentials[],
  credentials5: DeviceCredentials[],
): Promise<Target> {
  const devices = await Promise.all(credentials.map((device) => connectDevice(ports.mqtt, device)));
  const devices5 = await Promise.all(
    credentials5.map((device) => connectDevice(ports.mqtt, device, { protocolVersion: 5 })),
  );
  const agents = credentials.map(
    ({ ca, cert, key }) => new https.Agent({ keepAlive: true, maxSockets: 8, ca, cert, key }),
  );
  return {
    name,
    mqttPort: ports.mqtt,
    httpsPort: ports.https,
    websocketUrl,
    viewers: [],
    devices,
    devices5,
    agents,
  };
}

async function measure(
  options: E2eOptions,
  stack: OfflineStack,
  targets: Target[],
  credentials: DeviceCredentials[],
): Promise<Omit<E2eResult, 'stackStartMs'>> {
  const rows: (E2eRow & { runId: string })[] = [];
  const invokeProbes: InvokeProbe[] = [];
  const errors: string[] = [];
  const recorder = new FrameRecorder();
  const measureRun = (spec: RunSpec) => run(options, recorder, spec, credentials.length);
  for (const clients of [...options.clients].sort((a, b) => a - b)) {
    for (const target of targets) await addViewers(target, clients, recorder);
    for (const rate of options.rates) {
      for (const protocol of options.protocols) {
        for (const target of targets) {
          const durationMs = Math.max(
            500,
            Math.min(options.durationMs, (options.maxFramesPerRun / (rate * clients)) * 1000),
          );
          try {
            await quiesce(options, recorder);
            // Not measured: starts the Lambda instances this rate needs and waits for their frames.
            const warmup = Math.min(options.warmupMs, durationMs);
            await measureRun({ target, protocol, rate, clients, durationMs: warmup });
            await quiesce(options, recorder);
            const row = await measureRun({ target, protocol, rate, clients, durationMs });
            rows.push(row);
            options.log(
              `e2e ${target.name.padEnd(6)} ${protocol.padEnd(5)} ${rate} msg/s × ${clients} clients: ` +
                `p50 ${row.p50Ms} / p95 ${row.p95Ms} / p99 ${row.p99Ms} ms, ` +
                `${row.delivered}/${row.expectedFrames} frames, ${row.framesPerSecond} frames/s`,
            );
          } catch (error) {
            recorder.current = undefined;
            const message = `${target.name} ${protocol} ${rate} msg/s × ${clients}: ${(error as Error).message}`;
            options.log(`e2e run failed: ${message}`);
            errors.push(message);
          }
        }
      }
    }
    await quiesce(options, recorder);
    invokeProbes.push(await probeInvoke(stack, clients, options.invokeProbes));
  }
  await quiesce(options, recorder);
  for (const row of rows) row.late = recorder.closed.get(row.runId)?.late ?? 0;
  return { rows: rows.map(({ runId: _runId, ...row }) => row), invokeProbes, errors };
}

async function addViewers(target: Target, count: number, recorder: FrameRecorder): Promise<void> {
  while (target.viewers.length < count) {
    const batch = Math.min(10, count - target.viewers.length);
    const opened = await Promise.all(
      Array.from({ length: batch }, () => openViewer(target.websocketUrl, recorder.viewer())),
    );
    target.viewers.push(...opened);
  }
}

function openViewer(url: string, onFrame: (data: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: 10_000 });
    socket.on('message', onFrame);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`WebSocket handshake refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
    socket.once('open', () => resolve(socket));
  });
}

async function run(
  options: E2eOptions,
  recorder: FrameRecorder,
  { target, protocol, rate, clients, durationMs }: RunSpec,
  deviceCount: number,
): Promise<E2eRow & { runId: string }> {
  const id = `r${randomUUID().slice(0, 8)}`;
  const state: Run = {
    id,
    clients,
    delivered: 0,
    late: 0,
    duplicates: 0,
    seen: new Set(),
    latencies: [],
    ingest: [],
    lastFrameAt: 0,
  };
  recorder.current = state;
  const published = await publishRun(target, protocol, rate, durationMs, id);
  const expectedFrames = published.sent * clients;
  const drainStart = preciseNow();
  for (;;) {
    const now = preciseNow();
    if (state.delivered >= expectedFrames) break;
    if (now - drainStart > options.drainMaxMs) break;
    if (now - Math.max(recorder.lastFrameAt, drainStart) > options.drainIdleMs) break;
    await sleep(20);
  }
  recorder.current = undefined;
  state.seen.clear();
  recorder.closed.set(id, state);
  const spanS = Math.max(1e-3, (state.lastFrameAt - published.firstSendAt) / 1000);
  const devices = Math.min(deviceCount, Math.ceil(rate / RATE_PER_DEVICE));
  return {
    runId: id,
    target: target.name,
    protocol,
    rate,
    clients,
    devices,
    durationMs: round(durationMs, 0),
    sent: published.sent,
    publishFailures: published.failures,
    expectedFrames,
    delivered: state.delivered,
    duplicates: state.duplicates,
    lost: expectedFrames - state.delivered,
    late: 0,
    p50Ms: round(percentile(state.latencies, 50), 2),
    p95Ms: round(percentile(state.latencies, 95), 2),
    p99Ms: round(percentile(state.latencies, 99), 2),
    maxMs: round(percentile(state.latencies, 100), 2),
    ingestP50Ms: target.name === 'lambda' ? round(percentile(state.ingest, 50), 1) : Number.NaN,
    achievedRate: round(published.sent / (published.spanMs / 1000), 1),
    framesPerSecond: round(state.delivered / spanS, 0),
  };
}

interface Published {
  sent: number;
  failures: number;
  firstSendAt: number;
  spanMs: number;
}

/** Publishes at `rate` for `durationMs`, spread over devices, never more than a bounded backlog. */
async function publishRun(
  target: Target,
  protocol: Protocol,
  rate: number,
  durationMs: number,
  runId: string,
): Promise<Published> {
  const devices = Math.min(target.devices.length, Math.ceil(rate / RATE_PER_DEVICE));
  const count = Math.max(1, Math.round((rate * durationMs) / 1000));
  const interval = 1000 / rate;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let failures = 0;
  const start = preciseNow();
  for (let seq = 0; seq < count; seq++) {
    const wait = start + seq * interval - preciseNow();
    if (wait > 1) await sleep(wait);
    if (preciseNow() - start > durationMs + 5_000) break;
    const device = seq % devices;
    const sentAt = preciseNow();
    const payload = JSON.stringify({
      bench: `${runId}:${seq}:${sentAt.toFixed(3)}`,
      seq,
      temperature: 21.5,
      humidity: 48.2,
      battery: 0.87,
    });
    const publish = (
      protocol === 'mqtt'
        ? mqttPublish(target.devices[device]!, device, payload)
        : protocol === 'mqtt5'
          ? mqtt5Publish(target.devices5[device]!, device, payload)
          : httpsPublish(target, device, payload)
    ).then(
      () => void sent++,
      () => void failures++,
    );
    pending.add(publish);
    void publish.finally(() => pending.delete(publish));
    if (pending.size >= MAX_OUTSTANDING_PUBLISHES) await Promise.race(pending);
  }
  await Promise.race([Promise.allSettled(pending), sleep(10_000)]);
  return { sent, failures, firstSendAt: start, spanMs: Math.max(1, preciseNow() - start) };
}

const topicOf = (device: number) => `devices/bench-device-${device}/telemetry`;

async function mqttPublish(client: MqttClient, device: number, payload: string): Promise<void> {
  await client.publishAsync(topicOf(device), payload, { qos: 1 });
}

const MQTT5_DEVICE = 'bench-mqtt5-device-';

/** An MQTT 5 publish as a current AWS IoT Device SDK sends it: with a content type. */
async function mqtt5Publish(client: MqttClient, device: number, payload: string): Promise<void> {
  await client.publishAsync(`devices/${MQTT5_DEVICE}${device}/telemetry`, payload, {
    qos: 1,
    properties: { contentType: 'application/json' },
  });
}

function httpsPublish(target: Target, device: number, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: 'localhost',
        port: target.httpsPort,
        path: `/topics/${encodeURIComponent(topicOf(device))}?qos=1`,
        method: 'POST',
        agent: target.agents[device],
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (response) => {
        response.resume();
        response.once('end', () =>
          response.statusCode === 200 ? resolve() : reject(new Error(`${response.statusCode}`)),
        );
      },
    );
    request.once('timeout', () => request.destroy(new Error('timeout')));
    request.once('error', reject);
    request.end(payload);
  });
}

/** Waits until no frame arrived for `quietMs` (the backlog of an earlier run is gone). */
async function quiesce(
  { quietMs, quiesceMaxMs }: E2eOptions,
  recorder: FrameRecorder,
): Promise<void> {
  const start = preciseNow();
  while (preciseNow() - recorder.lastFrameAt < quietMs) {
    if (preciseNow() - start > quiesceMaxMs) return;
    await sleep(20);
  }
}

/** Times forwardTelemetry invoked directly (RequestResponse), as the rule's action invokes it. */
async function probeInvoke(
  stack: OfflineStack,
  clients: number,
  probes: number,
): Promise<InvokeProbe> {
  const url = `http://localhost:${stack.ports.lambda}/2015-03-31/functions/telemetry-dev-forwardTelemetry/invocations`;
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < probes; i++) {
    const started = preciseNow();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          deviceId: 'bench-probe',
          topic: 'devices/bench-probe/telemetry',
          receivedAt: Date.now(),
          messageId: randomUUID(),
          probe: i,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      await response.text();
      if (!response.ok || response.headers.get('x-amz-function-error')) failed++;
      else times.push(preciseNow() - started);
    } catch {
      failed++;
    }
  }
  return {
    clients,
    probes,
    failed,
    p50Ms: round(percentile(times, 50), 2),
    p95Ms: round(percentile(times, 95), 2),
  };
}

async function startRelay(stateDir: string): Promise<{ process: ChildProcess; ports: RelayPorts }> {
  const input: RelayInput = { stateDir };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'e2e-relay.ts')], {
    cwd: REPO_ROOT,
    env: offlineEnv({ BENCH_INPUT: JSON.stringify(input) }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const ports = await new Promise<RelayPorts>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the relay did not start within 30 s: ${output}`));
    }, 30_000);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = readyValue<RelayPorts>(output);
      if (!ready) return;
      clearTimeout(timer);
      resolve(ready);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the relay exited with ${code}: ${output}`));
    });
  });
  return { process: child, ports };
}
