/**
 * The device simulator (scripts/simulator) against one offline stack: readings sent over MQTT
 * and HTTPS reach a WebSocket client exactly once each, commands are acknowledged by the device,
 * bad arguments get the usage, and unreachable endpoints or refused certificates are reported.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalDevice } from '../../scripts/devices/local-device';
import { createDeviceStream } from '../../scripts/telemetry/generator';
import { freePorts } from '../support/ports';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

type Frame = Record<string, unknown>;

interface SimulatorRun {
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  interrupt(): void;
}

function runSimulator(args: string[], env: Record<string, string> = {}): SimulatorRun {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/simulator/simulate.ts', ...args],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  running.add(child);
  void exited.then(() => running.delete(child));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    interrupt: () => child.kill('SIGINT'),
  };
}

/** Simulators still running when the file ends (a failed test) are killed then. */
const running = new Set<ChildProcess>();

interface Row {
  devices: number;
  sent: number;
  acked: number;
  failed: number;
}

/** The summary table the simulator prints on stdout. */
function summaryOf(stdout: string): Partial<Record<'mqtt' | 'https' | 'total', Row>> {
  const rows: Partial<Record<'mqtt' | 'https' | 'total', Row>> = {};
  for (const [, name, devices, sent, acked, failed] of stdout.matchAll(
    /^\s+(mqtt|https|total)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/gm,
  )) {
    rows[name as 'mqtt' | 'https' | 'total'] = {
      devices: Number(devices),
      sent: Number(sent),
      acked: Number(acked),
      failed: Number(failed),
    };
  }
  return rows;
}

/** Polls a condition (no fixed sleeps); fails with `describe()` when it does not hold in time. */
async function until(condition: () => boolean, describe: () => string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Readings (not acks) taken at or after `since`, every frame that came, duplicates included. */
function readingsSince(viewer: TestClient, since: number): Frame[] {
  return viewer.frames.filter((frame) => {
    const data = frame.data as Frame | undefined;
    return (
      frame.type === 'telemetry' && typeof data?.seq === 'number' && (data.ts as number) >= since
    );
  });
}

/** Each reading's key (deviceId#seq) with how many times it arrived. */
function countByReading(frames: Frame[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frame of frames) {
    const key = `${String(frame.deviceId)}#${String((frame.data as Frame).seq)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Sends a command and returns its id. On a machine under heavy load the sendCommand Lambda's
 * cold start can outlast its timeout (API Gateway's "Internal server error"): that is tried again.
 */
async function sendCommand(viewer: TestClient, deviceId: string, command: unknown) {
  for (let attempt = 1; ; attempt++) {
    const seen = new Set(viewer.frames);
    viewer.send({ action: 'sendCommand', deviceId, command });
    const answer = await viewer.waitFor(
      (frame) =>
        !seen.has(frame) &&
        (frame.type === 'commandSent' || frame.type === 'error' || frame.type === undefined),
      30_000,
    );
    if (answer.type === 'commandSent') return answer.commandId as string;
    if (answer.message !== 'Internal server error' || attempt === 3) {
      throw new Error(`sendCommand failed: ${JSON.stringify(answer)}`);
    }
  }
}

let stack: OfflineStack;
let stackEnv: Record<string, string>;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'simulator-test-'));

beforeAll(async () => {
  // The 443-style port (ALPN, MQTT over WebSocket) is free-chosen by default: fixed here so the
  // simulator can be told where it is.
  const [alpnPort] = await freePorts(1);
  stack = await startOfflineStack({ env: { ALPN_PORT: String(alpnPort) } });
  stackEnv = {
    LOCAL_CLOUD_DIR: stack.localCloudDir,
    MQTT_PORT: String(stack.ports.mqtt),
    HTTPS_PORT: String(stack.ports.https),
    ALPN_PORT: String(alpnPort),
  };
}, 120_000);

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await stack?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
}, 30_000);

// mqtt5, alpn (ALPN x-amzn-mqtt-ca on the 443-style port) and wss (MQTT 5 over a SigV4-signed
// WebSocket) are MQTT transports: the summary counts them under mqtt (issue 18).
describe.each(['mqtt', 'https', 'mqtt5', 'alpn', 'wss'] as const)(
  'readings over %s',
  (protocol) => {
    it('reach a WebSocket client exactly once each, as the seeded generator made them', async () => {
      const viewer = await connectClient(stack.websocketUrl);
      const since = Date.now();
      const run = runSimulator(
        ['--devices', '2', '--rate', '5', '--duration', '2', '--protocol', protocol, '--seed', '7'],
        stackEnv,
      );
      expect(await run.exited).toBe(0);
      const summary = summaryOf(run.stdout());
      const sent = summary.total?.sent ?? 0;
      expect(summary[protocol === 'https' ? 'https' : 'mqtt']).toEqual({
        devices: 2,
        sent,
        acked: sent,
        failed: 0,
      });
      expect(sent).toBeGreaterThanOrEqual(15); // 2 devices x 5/s x 2 s, less ~2 % dropouts

      await until(
        () => countByReading(readingsSince(viewer, since)).size >= sent,
        () => `${countByReading(readingsSince(viewer, since)).size} of ${sent} readings arrived`,
      );
      const readings = readingsSince(viewer, since);
      // Exactly once each: as many distinct readings as sent, and not one frame more.
      const counts = countByReading(readings);
      expect(counts.size).toBe(sent);
      expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
      expect(readings).toHaveLength(sent);

      // Each device's readings are its seeded stream: 200 ms apart from its first timestamp.
      for (const deviceId of ['sensor-1', 'sensor-2']) {
        const received = readings
          .filter((frame) => frame.deviceId === deviceId)
          .map((frame) => frame.data as Frame)
          .sort((a, b) => (a.seq as number) - (b.seq as number));
        const first = received[0];
        expect(first).toBeDefined();
        const stream = createDeviceStream({
          seed: 7,
          deviceId,
          startTs: (first?.ts as number) - (first?.seq as number) * 200,
          intervalMs: 200,
        });
        // forwardTelemetry sends the device id beside the reading, not in it.
        const expected = received.map(() => stream.next());
        expect(received.map((data) => ({ deviceId, ...data }))).toEqual(expected);
      }
      await viewer.close();
    });
  },
);

it('an MQTT device acknowledges a command from a WebSocket client', async () => {
  const viewer = await connectClient(stack.websocketUrl);
  const run = runSimulator(
    ['--devices', '1', '--protocol', 'mqtt', '--duration', '0', '--rate', '1'],
    stackEnv,
  );
  try {
    await until(
      () => run.stderr().includes('sensor-1 (mqtt): connected to mqtts://'),
      () => `the device did not connect; stderr: ${run.stderr()}`,
    );
    const commandId = await sendCommand(viewer, 'sensor-1', { ping: 1 });
    const ack = await viewer.waitFor(
      (frame) =>
        frame.type === 'telemetry' &&
        (frame.data as Frame).type === 'ack' &&
        (frame.data as Frame).commandId === commandId,
    );
    expect(ack).toMatchObject({
      deviceId: 'sensor-1',
      topic: 'devices/sensor-1/telemetry',
      data: { type: 'ack', commandId, ts: expect.any(Number) },
    });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n--- simulator stderr ---\n${run.stderr()}` +
        `\n--- offline stack (end) ---\n${stack.output().slice(-4000)}`,
    );
  } finally {
    run.interrupt();
    await viewer.close();
  }
  expect(await run.exited).toBe(0);
  expect(run.stdout()).toContain('commands: 1 received, 1 answered, 0 failed');
  expect(summaryOf(run.stdout()).total?.failed).toBe(0);
});

it('answers bad arguments with the usage and exit code 2, and --help with exit code 0', async () => {
  const bad = [
    ['--devices', 'many'],
    ['--devices', '0'],
    ['--protocol', 'pigeon'],
    ['--rate', '0'],
    ['--duration', 'soon'],
    ['--bogus'],
    ['--csv', 'data/readings.csv', '--devices', '2'],
    ['--speed', '10'],
    ['--csv', path.join(scratch, 'missing.csv')],
  ];
  const runs = await Promise.all(
    [...bad, ['--help']].map(async (args) => {
      const run = runSimulator(args);
      return { args, code: await run.exited, stdout: run.stdout(), stderr: run.stderr() };
    }),
  );
  const help = runs.pop();
  for (const run of runs) {
    expect({ args: run.args, code: run.code, stdout: run.stdout }).toEqual({
      args: run.args,
      code: 2,
      stdout: '',
    });
    expect(run.stderr).toMatch(/^error: .+\n\nUsage: npm run simulate -- \[options\]/);
  }
  expect(help?.code).toBe(0);
  expect(help?.stdout).toContain('--protocol mqtt|mqtt5|https|alpn|wss|mixed');
});

it('reports unreachable endpoints per device, retries, and exits 1 with the failures', async () => {
  const [closedMqtt, closedHttps] = (await freePorts(2)) as [number, number];
  const run = runSimulator(['--devices', '2', '--duration', '1', '--protocol', 'mixed'], {
    ...stackEnv,
    MQTT_PORT: String(closedMqtt),
    HTTPS_PORT: String(closedHttps),
  });
  expect(await run.exited).toBe(1);
  expect(run.stderr()).toContain(
    `sensor-1 (mqtt): cannot connect to mqtts://localhost:${closedMqtt}: the endpoint is unreachable (connect ECONNREFUSED`,
  );
  expect(run.stderr()).toMatch(/sensor-1 \(mqtt\): .*; reconnecting in \d+\.\d s \(attempt 2\)/);
  expect(run.stderr()).toContain(
    `sensor-2 (https): POST https://localhost:${closedHttps}/topics/devices/sensor-2/telemetry?qos=1 failed: the endpoint is unreachable (connect ECONNREFUSED`,
  );
  const summary = summaryOf(run.stdout());
  expect(summary.total?.sent).toBeGreaterThan(0);
  expect(summary.total).toMatchObject({ acked: 0, failed: summary.total?.sent });
});

it('reports a device certificate the offline IoT Core refuses', async () => {
  // A device of another CA that trusts this stack's server: the stack refuses its certificate.
  const foreignCloud = path.join(scratch, 'foreign-cloud');
  const stackCa = fs.readFileSync(path.join(stack.localCloudDir, 'ca', 'root-ca.pem'), 'utf8');
  for (const thingName of ['sensor-1', 'sensor-2']) {
    const { folder, config } = createLocalDevice({
      thingName,
      devicesDir: path.join(foreignCloud, 'devices'),
      localCloudDir: foreignCloud,
    });
    fs.writeFileSync(path.join(folder, config.rootCa), stackCa);
  }
  const run = runSimulator(['--devices', '2', '--duration', '1', '--protocol', 'mixed'], {
    ...stackEnv,
    LOCAL_CLOUD_DIR: foreignCloud,
  });
  expect(await run.exited).toBe(1);
  expect(run.stderr()).toContain(
    'sensor-1 (mqtt): cannot connect to mqtts://localhost:' +
      `${stack.ports.mqtt}: it closed the connection before answering CONNECT (did it refuse the device certificate?)`,
  );
  expect(run.stderr()).toContain(
    'sensor-2 (https): POST https://localhost:' +
      `${stack.ports.https}/topics/devices/sensor-2/telemetry?qos=1 failed: the endpoint refused the device certificate (403 Forbidden)`,
  );
  expect(summaryOf(run.stdout()).total).toMatchObject({ acked: 0 });
});

it('with --stage, uses the AWS device folder certs/<stage>/<thing>/ and its endpoint', async () => {
  // An "AWS" device folder whose endpoint is this stack: what device:create --stage writes.
  const stage = `simtest${process.pid}`;
  const stageDir = path.join(REPO_ROOT, 'certs', stage);
  try {
    const { folder } = createLocalDevice({
      thingName: 'sensor-1',
      devicesDir: stageDir,
      localCloudDir: stack.localCloudDir,
    });
    const stackCa = fs.readFileSync(path.join(folder, 'root-ca.pem'), 'utf8');
    fs.renameSync(path.join(folder, 'root-ca.pem'), path.join(folder, 'AmazonRootCA1.pem'));
    const config = JSON.parse(fs.readFileSync(path.join(folder, 'device.json'), 'utf8'));
    fs.writeFileSync(
      path.join(folder, 'device.json'),
      JSON.stringify({
        ...config,
        mode: 'aws',
        stage,
        endpoint: 'localhost',
        mqttPort: stack.ports.mqtt,
        httpsPort: stack.ports.https,
        rootCa: 'AmazonRootCA1.pem',
      }),
    );
    expect(stackCa).toContain('BEGIN CERTIFICATE');

    const viewer = await connectClient(stack.websocketUrl);
    const since = Date.now();
    // The offline variables must not matter: the folder says where the endpoint is.
    const run = runSimulator(
      ['--stage', stage, '--devices', '1', '--protocol', 'mqtt', '--duration', '1', '--rate', '5'],
      { ...stackEnv, MQTT_PORT: '1', HTTPS_PORT: '1' },
    );
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toContain('on AWS IoT Core (stage ' + stage + ')');
    const sent = summaryOf(run.stdout()).total?.sent ?? 0;
    expect(sent).toBeGreaterThan(0);
    await until(
      () => countByReading(readingsSince(viewer, since)).size >= sent,
      () => `${countByReading(readingsSince(viewer, since)).size} of ${sent} readings arrived`,
    );
    expect(readingsSince(viewer, since)).toHaveLength(sent);
    await viewer.close();
  } finally {
    fs.rmSync(stageDir, { recursive: true, force: true });
    if (fs.readdirSync(path.dirname(stageDir)).length === 0) fs.rmdirSync(path.dirname(stageDir));
  }
});
