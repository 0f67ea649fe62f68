/**
 * `npm start`: the whole edge-to-cloud system offline — the offline stack (local/stack.ts: `sls
 * offline start` with the offline cloud plugin) and, once it is ready, a fleet of simulated
 * devices (scripts/simulator) streaming the dummy data set over MQTT and HTTPS.
 * Arguments other than these options go to serverless.
 *
 * Both children run in process groups of their own, so that this process alone decides how they
 * stop: on Ctrl-C the devices stop first (they print their summary), then the stack. Each holds an
 * IPC channel to this process and ends by itself when this process dies by any other means.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { DEFAULT_PORTS, PORT_VARIABLES } from '../local/settings';
import { REPO_ROOT, StackStartError, startOfflineStack, type OfflineStack } from '../local/stack';
import { runCommand, UsageError, type CommandSpec, type OptionSpecs } from './cli/command-line';

const simulatorScript = path.join(REPO_ROOT, 'scripts/simulator/simulate.ts');
const exitWithParent = path.join(REPO_ROOT, 'local/stack/exit-with-parent.ts');

const DEFAULT_FLEET_SIZE = 5;
const MAX_FLEET_SIZE = 1000;
/** How long a child may take to stop after SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** The developer's token in the "Watch it live" line: one working day. */
const WATCH_TOKEN_TTL_SECONDS = 12 * 60 * 60;

const spec = {
  command: 'npm start --',
  summary:
    'Runs the whole system offline from serverless.yml, then a fleet of simulated devices\n' +
    '(sensor-1..N, MQTT and HTTPS alternately, one reading per second each) that streams\n' +
    'to every WebSocket client. Ctrl-C stops everything.',
  options: {
    devices: {
      type: 'string',
      value: 'N',
      description: `how many simulated devices (default ${DEFAULT_FLEET_SIZE}; 0 = none)`,
    },
    'no-devices': { type: 'boolean', description: 'start the bare stack, without devices' },
    stage: { type: 'string', value: 'NAME', description: 'stage to run (default: dev)' },
  },
  notes: [
    'Any other option goes to `serverless offline start`.',
    '',
    'Ports (environment, default):',
    ...Object.entries(DEFAULT_PORTS).map(
      ([name, port]) => `  ${(PORT_VARIABLES[name] ?? name).padEnd(16)}${port}`,
    ),
    'LOCAL_CLOUD_DIR holds the local CA and the devices (default: .local-cloud).',
    'The devices alone: npm run simulate -- --help',
  ],
  passThrough: true,
} as const satisfies CommandSpec<OptionSpecs>;

function fleetSizeOf(options: { devices: string | undefined; 'no-devices': boolean }): number {
  if (options['no-devices']) return 0;
  if (options.devices === undefined) return DEFAULT_FLEET_SIZE;
  const count = /^\d+$/.test(options.devices) ? Number(options.devices) : NaN;
  if (!(count >= 0 && count <= MAX_FLEET_SIZE)) {
    throw new UsageError(
      `--devices must be an integer from 0 to ${MAX_FLEET_SIZE}, got "${options.devices}"`,
    );
  }
  return count;
}

/** Copies a child's output, each line prefixed. */
function relay(from: Readable, to: Writable, prefix: string): void {
  let partial = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) to.write(`${prefix}${line}\n`);
  });
  from.on('end', () => partial && to.write(`${prefix}${partial}\n`));
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** SIGINT to the devices, SIGKILL to their group if they take too long. */
function stopDevices(child: ChildProcess | undefined): Promise<void> {
  if (!child) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
      resolve();
    };
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
    if (exited(child)) return done();
    child.once('exit', done);
    child.kill('SIGINT');
  });
}

function startDevices(fleetSize: number, isStopping: () => boolean): ChildProcess {
  const devices = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', '--import', exitWithParent, simulatorScript],
      ...['--devices', String(fleetSize), '--protocol', 'mixed', '--rate', '1', '--duration', '0'],
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true },
  );
  devices.channel?.unref();
  relay(devices.stdout as Readable, process.stdout, '[devices] ');
  relay(devices.stderr as Readable, process.stderr, '[devices] ');
  devices.once('exit', (code, signal) => {
    if (isStopping()) return;
    process.stderr.write(
      `[devices] the simulated devices stopped (${signal ?? `exit code ${code}`}); the stack keeps running\n`,
    );
  });
  return devices;
}

async function main(
  options: { devices: string | undefined; 'no-devices': boolean; stage: string | undefined },
  serverlessArgs: string[],
): Promise<void> {
  const fleetSize = fleetSizeOf(options);
  let stack: OfflineStack | undefined;
  let devices: ChildProcess | undefined;
  let stopping = false;

  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals === 1) return void shutdown();
      // A second Ctrl-C: no more waiting.
      if (devices) killGroup(devices, 'SIGKILL');
      if (stack) killGroup(stack.process, 'SIGKILL');
      process.exit(130);
    });
  }
  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    // The devices first, so that they do not report the stack going away.
    await stopDevices(devices);
    const code = await stack?.stop();
    process.exit(code ?? 130);
  }

  try {
    stack = await startOfflineStack({
      ports: 'configured',
      stage: options.stage,
      serverlessArgs,
      keepOutput: false,
      ownProcessGroup: true,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      onOutput: (chunk, stream) => process[stream].write(chunk),
    });
  } catch (error) {
    if (!(error instanceof StackStartError)) throw error;
    // The stack said why (a taken port, a bad serverless.yml…) in its own output.
    process.exit(error.exitCode || 1);
  }
  if (stopping) return;
  void stack.exited.then((code) => {
    if (stopping) return;
    // The stack ended by itself: the devices go too.
    stopping = true;
    void stopDevices(devices).then(() => process.exit(code ?? 1));
  });
  if (fleetSize > 0) devices = startDevices(fleetSize, () => stopping);
  const token = await stack.token({
    subject: 'developer',
    commands: true,
    ttlSeconds: WATCH_TOKEN_TTL_SECONDS,
  });
  process.stdout.write(`Watch it live: npx wscat -c "${stack.bareWebsocketUrl}?token=${token}"\n`);
}

void runCommand(spec, main);
