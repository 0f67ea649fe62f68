import { describe, expect, it } from '@jest/globals';
import { readingsToCsv } from '../../scripts/telemetry/csv';
import {
  BATTERY_RECHARGE_BELOW,
  createDeviceStream,
  defaultDeviceIds,
  generateReadings,
  type GenerateOptions,
} from '../../scripts/telemetry/generator';
import { READING_COLUMNS, readingSchema, type Reading } from '../../scripts/telemetry/reading';

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

function byDevice(readings: readonly Reading[]): Map<string, Reading[]> {
  const groups = new Map<string, Reading[]>();
  for (const reading of readings) {
    const group = groups.get(reading.deviceId) ?? [];
    group.push(reading);
    groups.set(reading.deviceId, group);
  }
  return groups;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function correlation(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const y = ys[i] ?? NaN;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

describe('reading schema', () => {
  it('lists the columns in the order of the schema', () => {
    expect([...READING_COLUMNS]).toEqual(Object.keys(readingSchema.shape));
    expect(READING_COLUMNS).toEqual([
      'deviceId',
      'seq',
      'ts',
      'temperature',
      'humidity',
      'pressure',
      'battery',
      'rssi',
    ]);
  });

  it('rejects readings outside the physical ranges', () => {
    const good: Reading = {
      deviceId: 'sensor-1',
      seq: 0,
      ts: START,
      temperature: 21.5,
      humidity: 50,
      pressure: 1013.2,
      battery: 80,
      rssi: -60,
    };
    expect(readingSchema.safeParse(good).success).toBe(true);
    for (const bad of [
      { deviceId: 'sensor 1' },
      { seq: -1 },
      { seq: 1.5 },
      { ts: 1.5 },
      { humidity: 100.1 },
      { battery: -0.1 },
      { rssi: 1 },
      { rssi: -60.5 },
      { temperature: Number.NaN },
    ]) {
      expect(readingSchema.safeParse({ ...good, ...bad }).success).toBe(false);
    }
  });
});

describe('generateReadings: determinism', () => {
  const options: GenerateOptions = { seed: 7, devices: 3, count: 200, intervalMs: 10_000 };

  it('gives byte-identical JSON and CSV for the same seed and options', () => {
    const first = generateReadings(options);
    const second = generateReadings({ ...options });
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(readingsToCsv(second)).toBe(readingsToCsv(first));
  });

  it('gives different data for a different seed', () => {
    const a = readingsToCsv(generateReadings(options));
    const b = readingsToCsv(generateReadings({ ...options, seed: 8 }));
    expect(b).not.toBe(a);
  });

  it('gives each device its own series', () => {
    const groups = byDevice(generateReadings({ ...options, dropoutRate: 0 }));
    const temperatures = [...groups.values()].map((group) => group.map((r) => r.temperature));
    expect(temperatures[1]).not.toEqual(temperatures[0]);
    expect(temperatures[2]).not.toEqual(temperatures[1]);
  });

  it('names devices sensor-1..N by default and accepts explicit ids', () => {
    expect(defaultDeviceIds(3)).toEqual(['sensor-1', 'sensor-2', 'sensor-3']);
    const ids = new Set(generateReadings({ seed: 1, devices: 4, count: 5 }).map((r) => r.deviceId));
    expect([...ids]).toEqual(['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4']);
    const named = generateReadings({ seed: 1, devices: ['dev:a', 'dev_b'], count: 5 });
    expect(new Set(named.map((r) => r.deviceId))).toEqual(new Set(['dev:a', 'dev_b']));
  });

  it('does not depend on which other devices are simulated', () => {
    const alone = generateReadings({ seed: 3, devices: ['sensor-2'], count: 50 });
    const together = generateReadings({ seed: 3, devices: 3, count: 50 });
    expect(together.filter((r) => r.deviceId === 'sensor-2')).toEqual(alone);
  });
});

describe('generateReadings: shape', () => {
  it('emits count readings per device, interleaved by ts with ties in device order', () => {
    const readings = generateReadings({ seed: 5, devices: 4, count: 300, startTs: START });
    expect(readings).toHaveLength(1200);
    for (const group of byDevice(readings).values()) expect(group).toHaveLength(300);
    const order = ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4'];
    for (let i = 1; i < readings.length; i++) {
      const previous = readings[i - 1] as Reading;
      const current = readings[i] as Reading;
      expect(current.ts).toBeGreaterThanOrEqual(previous.ts);
      if (current.ts === previous.ts) {
        expect(order.indexOf(current.deviceId)).toBeGreaterThan(order.indexOf(previous.deviceId));
      }
    }
  });

  it('interleaves exactly like a stable sort of the per-device streams', () => {
    const ids = ['a', 'b', 'c'];
    const perDevice = ids.flatMap((deviceId) => {
      const stream = createDeviceStream({ seed: 9, deviceId, startTs: START, intervalMs: 1000 });
      return Array.from({ length: 100 }, () => stream.next());
    });
    const sorted = [...perDevice].sort((x, y) => x.ts - y.ts);
    expect(
      generateReadings({ seed: 9, devices: ids, count: 100, startTs: START, intervalMs: 1000 }),
    ).toEqual(sorted);
  });

  it('schedules seq n at startTs + n * intervalMs', () => {
    const readings = generateReadings({ seed: 2, devices: 2, count: 100, startTs: START });
    for (const reading of readings) expect(reading.ts).toBe(START + reading.seq * 10_000);
  });

  it('covers a time span with durationMs', () => {
    const readings = generateReadings({
      seed: 2,
      devices: 2,
      durationMs: HOUR,
      intervalMs: 60_000,
      startTs: START,
    });
    for (const reading of readings) {
      expect(reading.ts).toBeGreaterThanOrEqual(START);
      expect(reading.ts).toBeLessThan(START + HOUR);
    }
    expect(readings.length).toBeGreaterThan(100);
    expect(readings.length).toBeLessThanOrEqual(120);
  });

  it('streams one device endlessly, through next() or iteration', () => {
    const stream = createDeviceStream({
      seed: 1,
      deviceId: 'sensor-9',
      startTs: START,
      intervalMs: 500,
    });
    const first = stream.next();
    expect(first.deviceId).toBe('sensor-9');
    const more: Reading[] = [];
    for (const reading of stream) {
      more.push(reading);
      if (more.length === 10) break;
    }
    expect(more[0]?.seq).toBeGreaterThan(first.seq);
    expect(more.map((r) => r.seq)).toEqual([...more.map((r) => r.seq)].sort((a, b) => a - b));
  });

  it('rejects bad options', () => {
    expect(() => generateReadings({ seed: 1, devices: ['bad id'], count: 1 })).toThrow(
      /Invalid deviceId/,
    );
    expect(() => generateReadings({ seed: 1, devices: ['a', 'a'], count: 1 })).toThrow(/twice/);
    expect(() => generateReadings({ seed: 1, devices: 0, count: 1 })).toThrow(RangeError);
    expect(() => generateReadings({ seed: 1, count: 1, intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => generateReadings({ seed: 1, count: -1 })).toThrow(/count/);
    expect(() => generateReadings({ seed: 1, count: 1, dropoutRate: 1 })).toThrow(/dropoutRate/);
  });
});

describe('generateReadings: plausibility', () => {
  // Four simulated days, every 5 minutes, five devices.
  const days = generateReadings({
    seed: 11,
    devices: 5,
    durationMs: 4 * 24 * HOUR,
    intervalMs: 5 * 60_000,
    startTs: START,
  });

  // One assertion over every reading (the offenders, expected none): a dozen expect() calls for
  // each of the 5 760 readings took seconds.
  it('produces only valid readings with sensible values', () => {
    const sensible = (reading: Reading) =>
      readingSchema.safeParse(reading).success &&
      Number.isInteger(reading.rssi) &&
      reading.rssi <= 0 &&
      reading.rssi >= -120 &&
      reading.humidity >= 0 &&
      reading.humidity <= 100 &&
      reading.battery >= 0 &&
      reading.battery <= 100 &&
      reading.pressure > 980 &&
      reading.pressure < 1045 &&
      reading.temperature > -10 &&
      reading.temperature < 50;
    // 5 760 slots, less the dropouts.
    expect(days.length).toBeGreaterThan(5_000);
    expect(days.filter((reading) => !sensible(reading))).toEqual([]);
  });

  it('rounds values (temperature 2 decimals, humidity, pressure and battery 1)', () => {
    const decimals = (value: number): number => (String(value).split('.')[1] ?? '').length;
    for (const reading of days) {
      expect(decimals(reading.temperature)).toBeLessThanOrEqual(2);
      expect(decimals(reading.humidity)).toBeLessThanOrEqual(1);
      expect(decimals(reading.pressure)).toBeLessThanOrEqual(1);
      expect(decimals(reading.battery)).toBeLessThanOrEqual(1);
    }
  });

  it('is warmer mid-afternoon than in the small hours, for every device', () => {
    for (const group of byDevice(days).values()) {
      const around = (hour: number): number =>
        mean(
          group
            .filter((r) => Math.abs(new Date(r.ts).getUTCHours() + 0.5 - hour) <= 1.5)
            .map((r) => r.temperature),
        );
      expect(around(15) - around(3)).toBeGreaterThan(3);
    }
  });

  it('moves humidity against temperature', () => {
    for (const group of byDevice(days).values()) {
      const r = correlation(
        group.map((reading) => reading.temperature),
        group.map((reading) => reading.humidity),
      );
      expect(r).toBeLessThan(-0.5);
    }
  });

  it('keeps pressure near 1013 hPa, changing slowly', () => {
    for (const group of byDevice(days).values()) {
      expect(Math.abs(mean(group.map((r) => r.pressure)) - 1013.25)).toBeLessThan(15);
      const steps = group
        .slice(1)
        .map((r, i) => Math.abs(r.pressure - (group[i] as Reading).pressure));
      expect(steps.filter((step) => step >= 2)).toEqual([]);
    }
  });

  it('drains the battery and recharges it once it runs low', () => {
    const long = generateReadings({ seed: 11, devices: 3, count: 3000, dropoutRate: 0 });
    for (const group of byDevice(long).values()) {
      const levels = group.map((r) => r.battery);
      const rises = levels.filter((level, i) => i > 0 && level > (levels[i - 1] ?? 0)).length;
      expect(rises / levels.length).toBeLessThan(0.1); // mostly draining
      const low = levels.findIndex((level) => level < BATTERY_RECHARGE_BELOW);
      expect(low).toBeGreaterThanOrEqual(0);
      expect(Math.min(...levels)).toBeGreaterThan(10);
      const recharged = levels.slice(low).findIndex((level) => level >= 99);
      expect(recharged).toBeGreaterThan(0);
      expect(recharged).toBeLessThan(100); // charges back within some readings
    }
  });

  it('keeps rssi around a per-device mean', () => {
    const means = [...byDevice(days).values()].map((group) => mean(group.map((r) => r.rssi)));
    for (const value of means) {
      expect(value).toBeGreaterThan(-95);
      expect(value).toBeLessThan(-45);
    }
    expect(new Set(means.map(Math.round)).size).toBeGreaterThan(1);
  });
});

describe('generateReadings: dropouts and anomalies', () => {
  const options: GenerateOptions = { seed: 21, devices: 5, count: 4000, startTs: START };

  it('skips about 2 % of sequence numbers, leaving gaps in seq', () => {
    let missing = 0;
    let slots = 0;
    for (const group of byDevice(generateReadings(options)).values()) {
      const last = group.at(-1)?.seq ?? 0;
      slots += last + 1;
      missing += last + 1 - group.length;
      const notIncreasing = group.slice(1).filter((r, i) => r.seq <= (group[i] as Reading).seq);
      expect(notIncreasing).toEqual([]);
    }
    expect(missing / slots).toBeGreaterThan(0.012);
    expect(missing / slots).toBeLessThan(0.03);
  });

  it('has contiguous seq with dropoutRate 0, and dropouts only remove readings', () => {
    const all = generateReadings({ ...options, dropoutRate: 0 });
    for (const group of byDevice(all).values()) {
      expect(group.map((r) => r.seq)).toEqual(group.map((_, i) => i));
    }
    const key = (r: Reading): string => `${r.deviceId}/${r.seq}`;
    const bySeq = new Map(all.map((r) => [key(r), JSON.stringify(r)]));
    const withDropouts = generateReadings({ ...options, count: 3000 });
    expect(withDropouts.length).toBeGreaterThan(0);
    expect(withDropouts.filter((r) => bySeq.get(key(r)) !== JSON.stringify(r))).toEqual([]);
  });

  it('puts a temperature spike in about 1 % of readings and leaves the rest alone', () => {
    const clean = generateReadings({ ...options, anomalyRate: 0, dropoutRate: 0 });
    const noisy = generateReadings({ ...options, dropoutRate: 0 });
    let spikes = 0;
    expect(noisy.length).toBe(clean.length);
    const changedBesideTemperature: number[] = [];
    const outOfRangeJumps: number[] = [];
    noisy.forEach((reading, i) => {
      const base = clean[i] as Reading;
      const same =
        JSON.stringify({ ...reading, temperature: 0 }) ===
        JSON.stringify({ ...base, temperature: 0 });
      if (!same) changedBesideTemperature.push(i);
      const jump = Math.abs(reading.temperature - base.temperature);
      if (jump === 0) return;
      spikes += 1;
      if (jump < 7.99 || jump > 20.01) outOfRangeJumps.push(jump);
    });
    expect(changedBesideTemperature).toEqual([]);
    expect(outOfRangeJumps).toEqual([]);
    expect(spikes / noisy.length).toBeGreaterThan(0.005);
    expect(spikes / noisy.length).toBeLessThan(0.02);
  });

  it('makes spikes visible against the neighbouring readings', () => {
    const group = byDevice(generateReadings(options)).get('sensor-1') ?? [];
    const isolated = group.filter((reading, i) => {
      const before = group[i - 1]?.temperature;
      const after = group[i + 1]?.temperature;
      return (
        before !== undefined &&
        after !== undefined &&
        Math.abs(reading.temperature - before) > 5 &&
        Math.abs(reading.temperature - after) > 5
      );
    });
    expect(isolated.length).toBeGreaterThan(5);
  });
});
