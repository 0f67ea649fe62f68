/**
 * Writes the dummy data set as CSV: `npm run dataset -- [options]` (`--help` for the options).
 * With no options it prints the shipped sample data/readings.csv byte for byte.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import {
  parseDuration,
  runCommand,
  UsageError,
  type CommandSpec,
  type OptionSpecs,
  type OptionValues,
} from '../cli/command-line';
import { READINGS_CSV_HEADER, readingToCsvLine } from '../telemetry/csv';
import {
  DATASET_DEFAULTS,
  iterateReadings,
  resolveDeviceIds,
  type GenerateOptions,
} from '../telemetry/generator';

const spec = {
  command: 'npm run dataset --',
  summary:
    'Writes simulated sensor readings as CSV (deviceId,seq,ts,temperature,humidity,pressure,\n' +
    'battery,rssi), interleaved by timestamp. Same options, same bytes. With no options: the\n' +
    'shipped sample data/readings.csv, byte for byte.',
  options: {
    devices: {
      type: 'string',
      value: 'N',
      description: `simulate sensor-1..sensor-N (default ${DATASET_DEFAULTS.devices})`,
    },
    ids: { type: 'string', value: 'a,b,...', description: 'simulate these device ids instead' },
    seed: {
      type: 'string',
      value: 'N',
      description: `integer seed (default ${DATASET_DEFAULTS.seed})`,
    },
    count: {
      type: 'string',
      value: 'N',
      description: `readings per device (default ${DATASET_DEFAULTS.count})`,
    },
    duration: {
      type: 'string',
      value: 'D',
      description: 'instead of --count: every reading in this span, e.g. 1h, 2d',
    },
    interval: {
      type: 'string',
      value: 'D',
      description: 'time between readings: 500ms, 10s, 1m, 1h (default 10s)',
    },
    start: {
      type: 'string',
      value: 'ISO',
      description: `first reading's timestamp, with a time zone (default ${new Date(DATASET_DEFAULTS.startTs).toISOString()})`,
    },
    out: {
      type: 'string',
      value: 'FILE',
      description: 'write to FILE (replaced whole, never half-written) instead of stdout',
    },
  },
  notes: [
    'Durations are a number with ms, s, m, h or d (a bare number is ms).',
    'About 2 % of sequence numbers are dropped (gaps in seq) and 1 % of readings carry a',
    'temperature spike.',
  ],
} as const satisfies CommandSpec<OptionSpecs>;

type Values = OptionValues<typeof spec.options>;

/** Above this many rows the CSV would not fit comfortably in a file for a demo. */
const MAX_ROWS = 10_000_000;

function parseInteger(name: string, text: string, min?: number): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || (min !== undefined && value < min)) {
    const range = min === undefined ? '' : ` >= ${min}`;
    throw new UsageError(`--${name} must be an integer${range}, got "${text}"`);
  }
  return value;
}

function parseStart(text: string): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const withZone = /^\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const ts = dateOnly || withZone ? Date.parse(text) : NaN;
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new UsageError(
      `--start must be an ISO date or date-time with a time zone (e.g. 2026-01-01T00:00:00Z), got "${text}"`,
    );
  }
  return ts;
}

interface Plan {
  options: GenerateOptions;
  deviceCount: number;
  /** Expected rows (before dropouts). */
  rows: number;
  out: string | undefined;
}

function plan(values: Values): Plan {
  if (values.devices !== undefined && values.ids !== undefined) {
    throw new UsageError('Give --devices or --ids, not both');
  }
  if (values.count !== undefined && values.duration !== undefined) {
    throw new UsageError('Give --count or --duration, not both');
  }
  if (values.out !== undefined && values.out.trim() === '') {
    throw new UsageError('--out needs a file name');
  }

  let devices: string[];
  try {
    devices = resolveDeviceIds(
      values.ids !== undefined
        ? values.ids.split(',').map((id) => id.trim())
        : parseInteger('devices', values.devices ?? String(DATASET_DEFAULTS.devices), 1),
    );
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--ids: ${(error as Error).message}`);
  }
  const base = {
    seed: parseInteger('seed', values.seed ?? String(DATASET_DEFAULTS.seed)),
    devices,
    intervalMs:
      values.interval === undefined
        ? DATASET_DEFAULTS.intervalMs
        : parseDuration('interval', values.interval),
    startTs: values.start === undefined ? DATASET_DEFAULTS.startTs : parseStart(values.start),
  };

  let options: GenerateOptions;
  let rows: number;
  if (values.duration !== undefined) {
    const durationMs = parseDuration('duration', values.duration);
    options = { ...base, durationMs };
    rows = Math.ceil(durationMs / base.intervalMs) * devices.length;
  } else {
    const count = parseInteger('count', values.count ?? String(DATASET_DEFAULTS.count), 1);
    options = { ...base, count };
    rows = count * devices.length;
  }
  if (rows > MAX_ROWS) {
    throw new UsageError(`That is about ${rows} rows; the limit is ${MAX_ROWS}`);
  }
  return { options, deviceCount: devices.length, rows, out: values.out };
}

async function write(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** Streams the CSV in chunks; shows progress on a terminal for big data sets. */
async function writeCsv(stream: Writable, { options, rows }: Plan): Promise<number> {
  const showProgress = Boolean(process.stderr.isTTY) && rows >= 200_000;
  let chunk = `${READINGS_CSV_HEADER}\n`;
  let written = 0;
  let reported = 0;
  for (const reading of iterateReadings(options)) {
    chunk += `${readingToCsvLine(reading)}\n`;
    written += 1;
    if (chunk.length >= 1 << 16) {
      await write(stream, chunk);
      chunk = '';
      if (showProgress && written - reported >= 100_000) {
        process.stderr.write(`\r${written} / ~${rows} readings`);
        reported = written;
      }
    }
  }
  await write(stream, chunk);
  if (showProgress) process.stderr.write('\n');
  return written;
}

async function writeFileWhole(path: string, job: Plan): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const stream = createWriteStream(temporary);
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => undefined); // observed through the races below
  try {
    const written = await Promise.race([writeCsv(stream, job), failed]);
    stream.end();
    await Promise.race([once(stream, 'close'), failed]);
    renameSync(temporary, path);
    return written;
  } catch (error) {
    stream.destroy();
    rmSync(temporary, { force: true });
    throw error;
  }
}

async function main(values: Values): Promise<void> {
  const job = plan(values);
  if (job.out === undefined) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      // The reader went away (e.g. `| head`): stop quietly.
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
    await writeCsv(process.stdout, job);
    return;
  }
  const written = await writeFileWhole(job.out, job);
  process.stderr.write(`Wrote ${written} readings from ${job.deviceCount} devices to ${job.out}\n`);
}

void runCommand(spec, main);
