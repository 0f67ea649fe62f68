/** The simulator's command line: options, usage text, and the run they describe. */
import fs from 'node:fs';
import path from 'node:path';
import {
  UsageError,
  type CommandSpec,
  type OptionSpecs,
  type OptionValues,
} from '../cli/command-line';
import { parseReadingsCsv } from '../telemetry/csv';
import { DATASET_DEFAULTS } from '../telemetry/generator';
import type { Reading } from '../telemetry/reading';

export const PROTOCOL_CHOICES = ['mqtt', 'mqtt5', 'https', 'alpn', 'wss', 'mixed'] as const;
export type ProtocolChoice = (typeof PROTOCOL_CHOICES)[number];

export const DEFAULTS = { devices: 5, rate: 1, durationSeconds: 60, protocol: 'mixed' } as const;
const MAX_DEVICES = 1000;
const MAX_RATE = 1000;
const STAGE_PATTERN = /^[a-zA-Z0-9-]+$/;

export const simulatorSpec = {
  command: 'npm run simulate --',
  summary:
    'Simulates a fleet of devices sensor-1..N sending readings of the dummy data set to IoT Core:\n' +
    'MQTT devices keep one mutual-TLS connection, subscribe to devices/{id}/commands and answer\n' +
    'each command with an ack on their telemetry topic; HTTPS devices POST each reading to\n' +
    '/topics/devices/{id}/telemetry?qos=1 with their certificate. Offline (default) a device\n' +
    'without a folder is provisioned by the local CA; with --stage the AWS device folders are used.',
  options: {
    devices: {
      type: 'string',
      value: 'N',
      description: `simulate sensor-1..sensor-N (default ${DEFAULTS.devices})`,
    },
    rate: {
      type: 'string',
      value: 'N',
      description: `readings per second per device, e.g. 0.5 (default ${DEFAULTS.rate})`,
    },
    duration: {
      type: 'string',
      value: 'SECONDS',
      description: `run this long; 0 = until Ctrl-C (default ${DEFAULTS.durationSeconds}; --csv: the whole file)`,
    },
    protocol: {
      type: 'string',
      value: 'mqtt|mqtt5|https|alpn|wss|mixed',
      description:
        'mqtt (3.1.1, 8883), mqtt5 (MQTT 5, 8883), https (8443), alpn (MQTT on the 443 port, ALPN\n' +
        'x-amzn-mqtt-ca), wss (MQTT 5 over WebSocket, SigV4-signed URL), or mixed: mqtt and https\n' +
        `alternating per device (default ${DEFAULTS.protocol})`,
    },
    seed: {
      type: 'string',
      value: 'N',
      description: `seed of the data set generator (default ${DATASET_DEFAULTS.seed})`,
    },
    csv: {
      type: 'string',
      value: 'FILE',
      description: 'replay the readings of a CSV file: its devices, at its recorded pace',
    },
    speed: {
      type: 'string',
      value: 'N',
      description: 'with --csv: replay N times faster than recorded (default 1)',
    },
    stage: {
      type: 'string',
      value: 'STAGE',
      description: 'use AWS IoT Core and the device folders certs/<STAGE>/<thing>/',
    },
  },
  notes: [
    'Readings are {deviceId, seq, ts, temperature, humidity, pressure, battery, rssi}. Progress goes',
    'to stderr (live on a terminal, a line every 10 s otherwise), the summary to stdout. Unreachable',
    'endpoints and refused certificates are reported per device and retried with exponential',
    'backoff; an HTTPS reading counts as failed once its retries are exhausted. Ctrl-C stops',
    "cleanly. Commands reach MQTT devices only (IoT Core's HTTPS is publish-only).",
    'Exit code: 0 when nothing failed, 1 otherwise, 2 for bad arguments.',
    '',
    'Environment (offline):',
    "  LOCAL_CLOUD_DIR        the offline cloud's CA and devices/ (default: .local-cloud)",
    '  MQTT_PORT, HTTPS_PORT  ports of the offline IoT Core (default: from device.json)',
    '  ALPN_PORT              its 443-style port, for alpn and wss (the npm start banner names it)',
    '  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION',
    '                         with --stage and wss: the IAM credentials the URL is signed with',
    '',
    'Examples:',
    '  npm run simulate -- --devices 5 --rate 1 --duration 60 --protocol mixed',
    '  npm run simulate -- --csv data/readings.csv --speed 10 --protocol mqtt',
    '  npm run simulate -- --devices 2 --stage dev --duration 0',
  ],
} as const satisfies CommandSpec<OptionSpecs>;

export type SimulatorArgs = OptionValues<(typeof simulatorSpec)['options']>;

export type ReadingSource =
  | { kind: 'generated'; devices: number; rate: number; seed: number }
  | { kind: 'csv'; file: string; speed: number; readings: Reading[] };

export interface SimulatorConfig {
  protocol: ProtocolChoice;
  /** 0: until Ctrl-C (or, with a CSV, until the file is replayed). */
  durationMs: number;
  source: ReadingSource;
  stage: string | undefined;
}

function number(
  name: string,
  text: string,
  check: { integer?: boolean; min: number; max?: number; minExclusive?: boolean },
): number {
  const value = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text.trim()) ? Number(text) : NaN;
  const ok =
    Number.isFinite(value) &&
    (!check.integer || Number.isSafeInteger(value)) &&
    (check.minExclusive ? value > check.min : value >= check.min) &&
    (check.max === undefined || value <= check.max);
  if (!ok) {
    const kind = check.integer ? 'an integer' : 'a number';
    const range = `${check.minExclusive ? '>' : '>='} ${check.min}${check.max === undefined ? '' : ` and <= ${check.max}`}`;
    throw new UsageError(`--${name} must be ${kind} ${range}, got "${text}"`);
  }
  return value;
}

/** Checks the arguments and reads the CSV; every problem is a UsageError (exit code 2). */
export function resolveConfig(args: SimulatorArgs, cwd = process.cwd()): SimulatorConfig {
  const protocol = args.protocol ?? DEFAULTS.protocol;
  if (!(PROTOCOL_CHOICES as readonly string[]).includes(protocol)) {
    throw new UsageError(
      `--protocol must be one of ${PROTOCOL_CHOICES.join(', ')}, got "${protocol}"`,
    );
  }
  if (args.stage !== undefined && !STAGE_PATTERN.test(args.stage)) {
    throw new UsageError(`--stage "${args.stage}" may hold only letters, digits and hyphens`);
  }
  const durationSeconds =
    args.duration === undefined ? undefined : number('duration', args.duration, { min: 0 });

  let source: ReadingSource;
  if (args.csv !== undefined) {
    for (const name of ['devices', 'rate', 'seed'] as const) {
      if (args[name] !== undefined) {
        throw new UsageError(`--${name} does not apply to --csv: the file names the devices`);
      }
    }
    const speed =
      args.speed === undefined ? 1 : number('speed', args.speed, { min: 0, minExclusive: true });
    source = { kind: 'csv', file: args.csv, speed, readings: readCsv(path.resolve(cwd, args.csv)) };
  } else {
    if (args.speed !== undefined) throw new UsageError('--speed applies only to --csv');
    source = {
      kind: 'generated',
      devices:
        args.devices === undefined
          ? DEFAULTS.devices
          : number('devices', args.devices, { integer: true, min: 1, max: MAX_DEVICES }),
      rate:
        args.rate === undefined
          ? DEFAULTS.rate
          : number('rate', args.rate, { min: 0, minExclusive: true, max: MAX_RATE }),
      seed:
        args.seed === undefined
          ? DATASET_DEFAULTS.seed
          : number('seed', args.seed, { integer: true, min: 0 }),
    };
  }
  const seconds = durationSeconds ?? (source.kind === 'csv' ? 0 : DEFAULTS.durationSeconds);
  return {
    protocol: protocol as ProtocolChoice,
    durationMs: Math.round(seconds * 1000),
    source,
    stage: args.stage,
  };
}

function readCsv(file: string): Reading[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--csv ${file}: ${(error as Error).message}`);
  }
  let readings: Reading[];
  try {
    readings = parseReadingsCsv(text);
  } catch (error) {
    throw new UsageError(`--csv ${file}: ${(error as Error).message}`);
  }
  if (readings.length === 0) throw new UsageError(`--csv ${file}: the file holds no readings`);
  return readings;
}
