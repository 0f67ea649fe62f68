/**
 * `npm start` (scripts/start.ts, run by tsx as npm does): the offline stack and, once it is
 * ready, a fleet of simulated devices whose telemetry a WebSocket client watches; one SIGINT
 * stops everything, leaving no process behind and every port free.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../support/ports';
import { REPO_ROOT } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';

const TSX_CLI = path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs');

interface StartRun {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'start-test-'));
const workFolders: string[] = [];
const running = new Set<ChildProcess>();

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  for (const folder of workFolders) {
    fs.rmSync(path.join(REPO_ROOT, folder), { recursive: true, force: true });
  }
  fs.rmSync(scratch, { recursive: true, force: true });
});

function npmStart(
  args: string[],
  env: Record<string, string> = {},
  { detached = false } = {},
): StartRun {
  const child = spawn(process.execPath, [TSX_CLI, 'scripts/start.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a terminal gives `npm start`, so that it can be killed whole.
    detached,
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  running.add(child);
  void exited.then(() => running.delete(child));
  return { child, output: () => output, exited };
}

/** Polls a condition (no fixed sleeps); fails with `describe()` when it does not hold in time. */
async function until(condition: () => boolean, describe: () => string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // it ended meanwhile
    }
  }
  const found: number[] = [];
  const visit = (id: number) => {
    for (const child of children.get(id) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * Every process of the tree ends. Helpers such as tsx's esbuild service quit on their own once
 * their parent's pipe closes, a moment after it exits: a bounded wait, not a fixed sleep.
 */
async function expectAllEnded(tree: number[], timeoutMs = 5_000): Promise<void> {
  const left = () => tree.filter(isRunning);
  await until(
    () => left().length === 0,
    () =>
      `still running: ${left()
        .map((pid) => `${pid} ${commandLine(pid)}`)
        .join('; ')}`,
    timeoutMs,
  );
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(port, 'localhost', () => probe.close(() => resolve()));
  });
}

/** Free ports for every listener of the stack, its own state folder and build folder. */
async function stackEnvironment(name: string) {
  const names = [
    'WEBSOCKET',
    'LAMBDA',
    'DYNAMODB',
    'MQTT',
    'HTTPS',
    'IOT_DATA',
    'HTTP',
    'DASHBOARD',
  ];
  const ports = await freePorts(names.length);
  const workFolder = `.esbuild-test-start-${process.pid}-${ports[0]}`;
  workFolders.push(workFolder);
  const env: Record<string, string> = {
    LOCAL_CLOUD_DIR: path.join(scratch, name),
    ESBUILD_WORK_FOLDER: workFolder,
  };
  names.forEach((variable, index) => (env[`${variable}_PORT`] = String(ports[index])));
  return { ports, websocket: ports[0] ?? 0, env };
}

describe('npm start', () => {
  it('streams a fleet of devices to a WebSocket client; one SIGINT stops everything', async () => {
    const { ports, websocket, env } = await stackEnvironment('fleet');
    const run = npmStart(['--devices', '2'], env);

    const watch = /Watch it live: npx wscat -c "(ws:\/\/localhost:(\d+)\?token=[\w.-]+)"/;
    await until(
      () => watch.test(run.output()),
      () => `no "Watch it live" line; output:\n${run.output()}`,
    );
    const [, url, port] = watch.exec(run.output()) ?? [];
    expect(port).toBe(String(websocket));

    // The command it prints works: both devices (MQTT and HTTPS) stream to the client.
    const viewer = await connectClient(url ?? '');
    const fromDevice = (deviceId: string) => (frame: Record<string, unknown>) =>
      frame.type === 'telemetry' &&
      frame.deviceId === deviceId &&
      typeof (frame.data as Record<string, unknown>).temperature === 'number';
    await viewer.waitFor(fromDevice('sensor-1'));
    await viewer.waitFor(fromDevice('sensor-2'));
    await viewer.close();
    expect(run.output()).toContain('[devices] sensor-1 (mqtt): connected to mqtts://localhost:');

    const tree = descendants(run.child.pid ?? -1);
    expect(tree.length).toBeGreaterThanOrEqual(3); // start.ts, serverless, the simulator
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);

    // The devices stopped first, cleanly, and said what they did.
    expect(run.output()).toMatch(/\[devices\] {3}total\s+2\s+\d+\s+\d+\s+0\n/);
    await expectAllEnded(tree);
    for (const free of ports) await assertPortFree(free);
  }, 120_000);

  it('--no-devices starts the bare stack', async () => {
    const { ports, env } = await stackEnvironment('bare');
    const run = npmStart(['--no-devices'], env);
    await until(
      () => run.output().includes('Watch it live: npx wscat -c'),
      () => `no "Watch it live" line; output:\n${run.output()}`,
    );
    expect(run.output()).toContain('Offline cloud ready');
    const tree = descendants(run.child.pid ?? -1);
    expect(tree.map(commandLine).filter((command) => command.includes('simulate'))).toEqual([]);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toContain('[devices]');
    await expectAllEnded(tree);
    for (const free of ports) await assertPortFree(free);
  }, 120_000);

  it('SIGKILL of its process group leaves no stack or device behind holding ports', async () => {
    const { ports, env } = await stackEnvironment('killed');
    const run = npmStart(['--devices', '1'], env, { detached: true });
    await until(
      () => run.output().includes('[devices] sensor-1 (mqtt): connected'),
      () => `no device connected; output:\n${run.output()}`,
    );
    const tree = descendants(run.child.pid ?? -1);
    expect(
      tree.map(commandLine).filter((command) => command.includes('offline start')),
    ).toHaveLength(1);
    expect(tree.map(commandLine).filter((command) => command.includes('simulate'))).not.toEqual([]);
    // Nothing of start.ts runs after this: the stack and the devices (their own groups) see the
    // IPC channel close and stop by themselves.
    process.kill(-(run.child.pid ?? 0), 'SIGKILL');
    await run.exited;
    await expectAllEnded(tree, 15_000);
    for (const free of ports) await assertPortFree(free);
  }, 120_000);

  it('ends with the stack when it cannot start, without starting devices', async () => {
    const { env, websocket } = await stackEnvironment('busy');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(websocket, 'localhost', resolve));
    try {
      const run = npmStart(['--devices', '2'], env);
      expect(await run.exited).not.toBe(0);
      expect(run.output()).toContain(`port ${websocket} (websocketPort) is in use`);
      expect(run.output()).not.toContain('[devices]');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 120_000);

  it('answers bad arguments with the usage and exit code 2', async () => {
    const run = npmStart(['--devices', 'lots']);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/^error: --devices must be an integer from 0 to \d+, got "lots"/);
    expect(run.output()).toContain('Usage: npm start -- [options]');
    expect(run.output()).toContain('--no-devices');
  });
});
