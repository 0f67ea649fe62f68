import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseReadingsCsv, readingsToCsv } from '../../scripts/telemetry/csv';
import { DATASET_DEFAULTS, generateReadings } from '../../scripts/telemetry/generator';

const shipped = readFileSync(new URL('../../data/readings.csv', import.meta.url), 'utf8');

describe('data/readings.csv', () => {
  it('is exactly what the generator gives for seed 42, 5 devices, 10 s, 50 readings each', () => {
    const regenerated = readingsToCsv(
      generateReadings({
        seed: 42,
        devices: ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4', 'sensor-5'],
        intervalMs: 10_000,
        count: 50,
        startTs: Date.parse('2026-01-01T00:00:00Z'),
      }),
    );
    expect(shipped).toBe(regenerated);
  });

  it('uses the generator defaults, so the CLI without options reproduces it', () => {
    expect(DATASET_DEFAULTS).toEqual({
      seed: 42,
      devices: 5,
      intervalMs: 10_000,
      count: 50,
      startTs: Date.parse('2026-01-01T00:00:00Z'),
    });
  });

  it('parses as 250 valid readings from sensor-1..sensor-5', () => {
    const readings = parseReadingsCsv(shipped);
    expect(readings).toHaveLength(250);
    expect([...new Set(readings.map((r) => r.deviceId))].sort()).toEqual([
      'sensor-1',
      'sensor-2',
      'sensor-3',
      'sensor-4',
      'sensor-5',
    ]);
    expect(shipped.split('\n').length - 1).toBeLessThanOrEqual(301);
  });
});
