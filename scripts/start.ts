/**
 * `npm start`: the whole edge-to-cloud system offline — `sls offline start` with the offline
 * cloud plugin (DynamoDB, and the IoT Core endpoints) — and, once it is ready, a fleet of
 * simulated devices (scripts/simulator) streaming the dummy data set over MQTT and HTTPS.
 * Arguments other than --devices and --no-devices go to serverless.
 *
 * Both children run in process groups of their own, so that this process alone decides how they
 * stop: on Ctrl-C the devices stop first (they print their summary), then the stack; whatever is
 * left of either group afterwards is killed. The exit code is serverless's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { formatUsage, UsageError, type CommandSpec, type OptionSpecs } from './cli/command-line';

const root = path.resolve(import.meta.dirname, '..');
const serverlessBin = path.join(root, 'node_modules/serverless/bin/serverless.js');
const simulatorScript = path.join(root, 'scripts/simulator/simulate.ts');

/** The offline cloud's ready block ends with this line, token included: the cue to start devices. */
const WATCH_LINE = /npx wscat -c "ws:\/\/[^"\s]+"/;
const DEFAULT_FLEET_SIZE = 5;
const MAX_FLEET_SIZE = 1000;
/** How long a child may take to stop after SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

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
    'Ports (environment): WEBSOCKET_PORT (3001), LAMBDA_PORT (3002), DYNAMODB_PORT (8000),',
    'MQTT_PORT (8883), HTTPS_PORT (8443), IOT_DATA_PORT (8444). LOCAL_CLOUD_DIR holds the local',
    'CA and the devices (default: .local-cloud). The devices alone: npm run simulate -- --help',
  ],
} as const satisfies CommandSpec<OptionSpecs>;

interface StartOptions {
  fleetSize: number;
  serverlessArgs: string[];
}

function parseStartArgs(argv: readonly string[]): StartOptions | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  let fleetSize = DEFAULT_FLEET_SIZE;
  const serverlessArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--no-devices') {
      fleetSize = 0;
    } else if (arg === '--devices' || arg.startsWith('--devices=')) {
      const value = arg === '--devices' ? argv[++i] : arg.slice('--devices='.length);
      const count = /^\d+$/.test(value ?? '') ? Number(value) : NaN;
      if (!(count >= 0 && count <= MAX_FLEET_SIZE)) {
        throw new UsageError(
          `--devices must be an integer from 0 to ${MAX_FLEET_SIZE}, got ${value === undefined ? 'nothing' : `"${value}"`}`,
        );
      }
      fleetSize = count;
    } else {
      serverlessArgs.push(arg);
    }
  }
  return { fleetSize, serverlessArgs };
}

let options: StartOptions | undefined;
try {
  options = parseStartArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`error: ${error.message}\n\n${formatUsage(spec)}`);
  process.exit(2);
}
if (!options) {
  process.stdout.write(formatUsage(spec));
  process.exit(0);
}
const { fleetSize, serverlessArgs } = options;

/** Copies a child's output, each line prefixed; calls `onText` with the text (for the ready line). */
function relay(from: Readable, to: Writable, prefix = '', onText?: (text: string) => void): void {
  let partial = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    if (prefix) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) to.write(`${prefix}${line}\n`);
    } else {
      to.write(chunk);
    }
    onText?.(chunk);
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

/** SIGINT to the child, SIGKILL to its group if it takes too long; then its leftovers go too. */
function stopChild(child: ChildProcess | undefined): Promise<number | null> {
  if (!child) return Promise.resolve(null);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
      resolve(child.exitCode);
    };
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
    if (exited(child)) return done();
    child.once('exit', done);
    child.kill('SIGINT');
  });
}

const offline = spawn(process.execPath, [serverlessBin, 'offline', 'start', ...serverlessArgs], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let devices: ChildProcess | undefined;
let stopping = false;

let ready = false;
let recent = '';
const watchForReady = (text: string) => {
  if (ready || stopping) return;
  recent = (recent + text).slice(-4096);
  const watch = WATCH_LINE.exec(recent);
  if (watch) {
    ready = true;
    onReady(watch[0]);
  }
};
relay(offline.stdout, process.stdout, '', watchForReady);
relay(offline.stderr, process.stderr, '', watchForReady);

function onReady(watchCommand: string): void {
  if (fleetSize > 0) {
    devices = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        simulatorScript,
        ...[
          '--devices',
          String(fleetSize),
          '--protocol',
          'mixed',
          '--rate',
          '1',
          '--duration',
          '0',
        ],
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    relay(devices.stdout as Readable, process.stdout, '[devices] ');
    relay(devices.stderr as Readable, process.stderr, '[devices] ');
    devices.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(
        `[devices] the simulated devices stopped (${signal ?? `exit code ${code}`}); the stack keeps running\n`,
      );
    });
  }
  process.stdout.write(`Watch it live: ${watchCommand}\n`);
}

async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // The devices first, so that they do not report the stack going away.
  await stopChild(devices);
  const code = await stopChild(offline);
  process.exit(code ?? 130);
}

offline.once('exit', (code, signal) => {
  if (stopping) return;
  // The stack ended by itself (a taken port, a bad serverless.yml…): the devices go too.
  stopping = true;
  void stopChild(devices).then(() => process.exit(code ?? (signal ? 130 : 1)));
});

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals === 1) return void shutdown();
    // A second Ctrl-C: no more waiting.
    for (const child of [devices, offline]) if (child) killGroup(child, 'SIGKILL');
    process.exit(130);
  });
}
// Should this process end any other way, its children do not outlive it.
process.on('exit', () => {
  for (const child of [devices, offline]) {
    if (child && !exited(child)) killGroup(child, 'SIGKILL');
  }
});
