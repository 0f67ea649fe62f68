/**
 * The dummy data set: a seeded, deterministic generator of plausible readings from simulated
 * environment sensors. Same seed and options give the same readings on every machine (pure
 * 32-bit integer arithmetic and IEEE doubles, no Math.random, no clock).
 *
 * What a device's series looks like:
 * - temperature: a per-device base, a daily cosine cycle peaking mid-afternoon (UTC hour of `ts`),
 *   a slow weather drift and sensor noise;
 * - humidity: moves against the (true) temperature, clamped to 0..100 %RH;
 * - pressure: a slow mean-reverting random walk around a per-device mean near 1013 hPa;
 * - battery: drains a little with every reading (a transmission costs energy), and once it is
 *   below 15 % the device charges back to 100 % over some readings (a sawtooth);
 * - rssi: integer dBm around a per-device mean;
 * - anomalies: about 1 % of readings carry a temperature spike of 8-20 °C (a glitching sensor; the
 *   schema has no flag, only the value is off);
 * - dropouts: about 2 % of sequence numbers are never emitted, so `seq` has gaps like a device that
 *   lost readings.
 * Every step draws the same random numbers whatever the rates, so changing `anomalyRate` or
 * `dropoutRate` changes only the spikes and the gaps, not the rest of the series.
 */
import { deviceIdSchema } from '../../shared/protocol';
import type { Reading } from './reading';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const DEFAULT_ANOMALY_RATE = 0.01;
export const DEFAULT_DROPOUT_RATE = 0.02;
/** Below this charge a device goes to charge. */
export const BATTERY_RECHARGE_BELOW = 15;

/** The settings of the shipped sample `data/readings.csv`, also the CLI's defaults. */
export const DATASET_DEFAULTS = {
  seed: 42,
  devices: 5,
  intervalMs: 10_000,
  count: 50,
  startTs: Date.UTC(2026, 0, 1),
} as const;

export type Seed = number | string;

/** A uniform random source in [0, 1) with a few helpers. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  between(min: number, max: number): number;
  /** Normally distributed (Box-Muller). */
  normal(mean: number, sd: number): number;
}

/** cyrb128: a fast 128-bit string hash, used to turn (seed, deviceId) into PRNG state. */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** A random source seeded from any string: sfc32 over a cyrb128 hash of the key. */
export function createRandom(key: string): Random {
  let [a, b, c, d] = cyrb128(key);
  const next = (): number => {
    // sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), 32-bit state words.
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Mix the hashed state before the first output is used.
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    between: (min, max) => min + (max - min) * next(),
    normal: (mean, sd) => {
      const u1 = 1 - next(); // (0, 1], so the log is finite
      const u2 = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
  };
}

/** Rounds to `decimals` places; never returns -0 (so JSON, CSV and equality agree). */
function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor + 0;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

export interface DeviceStreamOptions {
  seed: Seed;
  deviceId: string;
  /** Timestamp of seq 0, ms since the epoch; seq n is taken at startTs + n * intervalMs. */
  startTs: number;
  intervalMs: number;
  /** Share of readings with a temperature spike, 0..1. Default 0.01. */
  anomalyRate?: number;
  /** Share of sequence numbers never emitted, 0..<1. Default 0.02. */
  dropoutRate?: number;
}

/** One simulated device: an endless series of readings. */
export interface DeviceStream extends Iterable<Reading> {
  readonly deviceId: string;
  /** The next emitted reading (dropped sequence numbers are skipped). */
  next(): Reading;
}

function assertDeviceId(deviceId: string): void {
  const result = deviceIdSchema.safeParse(deviceId);
  if (!result.success) {
    const problem = result.error.issues[0]?.message ?? 'not a thing name';
    throw new RangeError(`Invalid deviceId ${JSON.stringify(deviceId)}: ${problem}`);
  }
}

function assertInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}

function assertRate(name: string, value: number, maxExclusive: boolean): void {
  const ok = value >= 0 && (maxExclusive ? value < 1 : value <= 1);
  if (!ok) throw new RangeError(`${name} must be in 0..${maxExclusive ? '<1' : '1'}, got ${value}`);
}

export function createDeviceStream(options: DeviceStreamOptions): DeviceStream {
  const { seed, deviceId, startTs, intervalMs } = options;
  const anomalyRate = options.anomalyRate ?? DEFAULT_ANOMALY_RATE;
  const dropoutRate = options.dropoutRate ?? DEFAULT_DROPOUT_RATE;
  assertDeviceId(deviceId);
  assertInteger('startTs', startTs, 0);
  assertInteger('intervalMs', intervalMs, 1);
  assertRate('anomalyRate', anomalyRate, false);
  assertRate('dropoutRate', dropoutRate, true);

  const random = createRandom(`${seed}\u0000${deviceId}`);

  // Per-device character, drawn once.
  const baseTemperature = 21 + random.between(-3, 3);
  const dailyAmplitude = random.between(3, 6);
  const peakHour = 15 + random.between(-1, 1);
  const baseHumidity = random.between(45, 60);
  const humidityPerDegree = random.between(2, 3.5);
  const meanPressure = 1013.25 + random.normal(0, 3);
  const meanRssi = random.between(-88, -52);
  const drainPerReading = random.between(0.08, 0.2);
  const chargePerReading = random.between(1.5, 3);

  // State that evolves with every sequence number, emitted or not.
  let seq = 0;
  let weather = 0;
  let pressure = meanPressure + random.normal(0, 1.5);
  let battery = random.between(40, 100);
  let charging = false;

  const step = (): { reading: Reading; dropped: boolean } => {
    const ts = startTs + seq * intervalMs;
    const hourOfDay = (ts % DAY_MS) / HOUR_MS;
    const daily = dailyAmplitude * Math.cos((2 * Math.PI * (hourOfDay - peakHour)) / 24);
    weather = 0.998 * weather + random.normal(0, 0.04);
    const trueTemperature = baseTemperature + daily + weather;
    let temperature = trueTemperature + random.normal(0, 0.15);

    const humidity = clamp(
      baseHumidity - humidityPerDegree * (trueTemperature - baseTemperature) + random.normal(0, 1),
      0,
      100,
    );

    pressure += random.normal(0, 0.06) + 0.01 * (meanPressure - pressure);
    pressure = clamp(pressure, 950, 1060);

    const batteryJitter = random.between(0.7, 1.3);
    if (charging) {
      battery += chargePerReading * batteryJitter;
      if (battery >= 100) {
        battery = 100;
        charging = false;
      }
    } else {
      battery = Math.max(0, battery - drainPerReading * batteryJitter);
      if (battery < BATTERY_RECHARGE_BELOW) charging = true;
    }

    const rssi = clamp(Math.round(meanRssi + random.normal(0, 2.5)), -120, -20);

    const anomalyDraw = random.next();
    const spike = random.between(8, 20) * (random.next() < 0.5 ? -1 : 1);
    if (anomalyDraw < anomalyRate) temperature += spike;
    const dropped = random.next() < dropoutRate;

    const reading: Reading = {
      deviceId,
      seq,
      ts,
      temperature: round(temperature, 2),
      humidity: round(humidity, 1),
      pressure: round(pressure, 1),
      battery: round(battery, 1),
      rssi: rssi + 0,
    };
    seq += 1;
    return { reading, dropped };
  };

  const next = (): Reading => {
    for (;;) {
      const { reading, dropped } = step();
      if (!dropped) return reading;
    }
  };

  return {
    deviceId,
    next,
    *[Symbol.iterator]() {
      for (;;) yield next();
    },
  };
}

/** `sensor-1` … `sensor-N`. */
export function defaultDeviceIds(count: number): string[] {
  assertInteger('devices', count, 1);
  return Array.from({ length: count }, (_, i) => `sensor-${i + 1}`);
}

interface GenerateBaseOptions {
  seed: Seed;
  /** Device ids, or how many devices `sensor-1..N`. Default 5. */
  devices?: readonly string[] | number;
  /** Default 10 s. */
  intervalMs?: number;
  /** Timestamp of seq 0, ms since the epoch. Default 2026-01-01T00:00:00Z (not the clock). */
  startTs?: number;
  anomalyRate?: number;
  dropoutRate?: number;
}

/** How much to generate: a number of emitted readings per device, or a time span. */
export type GenerateOptions = GenerateBaseOptions &
  (
    | { count: number; durationMs?: undefined }
    | {
        /** Every reading with startTs <= ts < startTs + durationMs (less dropouts). */
        durationMs: number;
        count?: undefined;
      }
  );

/** The device ids the options name, validated. */
export function resolveDeviceIds(devices: GenerateOptions['devices']): string[] {
  const ids =
    typeof devices === 'number' || devices === undefined
      ? defaultDeviceIds(devices ?? DATASET_DEFAULTS.devices)
      : [...devices];
  if (ids.length === 0) throw new RangeError('At least one device is needed');
  const seen = new Set<string>();
  for (const id of ids) {
    assertDeviceId(id);
    if (seen.has(id)) throw new RangeError(`Device id ${JSON.stringify(id)} is given twice`);
    seen.add(id);
  }
  return ids;
}

/**
 * Readings of every device, lazily, interleaved by ts (ties in device order). Use this for large
 * data sets; `generateReadings` collects it into an array.
 */
export function* iterateReadings(options: GenerateOptions): Generator<Reading, void, undefined> {
  const deviceIds = resolveDeviceIds(options.devices);
  const intervalMs = options.intervalMs ?? DATASET_DEFAULTS.intervalMs;
  const startTs = options.startTs ?? DATASET_DEFAULTS.startTs;
  let remaining: (deviceIndex: number, reading: Reading) => boolean;
  if (options.count !== undefined) {
    const count = options.count;
    assertInteger('count', count, 0);
    const left = deviceIds.map(() => count);
    remaining = (index) => (left[index] = (left[index] ?? 0) - 1) >= 0;
  } else {
    assertInteger('durationMs', options.durationMs, 0);
    const endTs = startTs + options.durationMs;
    remaining = (_, reading) => reading.ts < endTs;
  }

  const streams = deviceIds.map((deviceId) =>
    createDeviceStream({
      seed: options.seed,
      deviceId,
      startTs,
      intervalMs,
      anomalyRate: options.anomalyRate,
      dropoutRate: options.dropoutRate,
    }),
  );
  // A binary min-heap of the streams' next readings, ordered by (ts, device index).
  const heap: { reading: Reading; index: number }[] = [];
  const before = (a: number, b: number): boolean => {
    const x = heap[a];
    const y = heap[b];
    if (!x || !y) return false;
    return x.reading.ts < y.reading.ts || (x.reading.ts === y.reading.ts && x.index < y.index);
  };
  const swap = (a: number, b: number): void => {
    const x = heap[a];
    const y = heap[b];
    if (x && y) [heap[a], heap[b]] = [y, x];
  };
  const siftUp = (at: number): void => {
    for (let i = at; i > 0 && before(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
  };
  const siftDown = (at: number): void => {
    for (let i = at; ;) {
      let smallest = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && before(child, smallest)) smallest = child;
      }
      if (smallest === i) return;
      swap(i, smallest);
      i = smallest;
    }
  };
  const pull = (index: number): void => {
    const stream = streams[index];
    if (!stream) return;
    const reading = stream.next();
    if (!remaining(index, reading)) return;
    heap.push({ reading, index });
    siftUp(heap.length - 1);
  };

  streams.forEach((_, index) => pull(index));
  for (;;) {
    const top = heap[0];
    if (!top) return;
    yield top.reading;
    const last = heap.pop();
    if (last && heap.length > 0) {
      heap[0] = last;
      siftDown(0);
    }
    pull(top.index);
  }
}

/** Readings of every device, interleaved by ts (ties in device order). */
export function generateReadings(options: GenerateOptions): Reading[] {
  return [...iterateReadings(options)];
}
