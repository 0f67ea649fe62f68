import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReadingsCsv } from '../../scripts/telemetry/csv';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shipped = readFileSync(join(root, 'data/readings.csv'), 'utf8');

function generate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/dataset/generate.ts', ...args],
    { cwd: root, encoding: 'utf8' },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/dataset/generate.ts', () => {
  it('prints the shipped sample with no options', () => {
    const { status, stdout } = generate();
    expect(status).toBe(0);
    expect(stdout).toBe(shipped);
  });

  it('shows help on --help with exit code 0', () => {
    const { status, stdout } = generate('--help');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage:/);
    for (const option of ['--devices', '--ids', '--seed', '--count', '--interval', '--start']) {
      expect(stdout).toContain(option);
    }
  });

  it.each([
    [['--devices', 'abc'], /--devices must be an integer/],
    [['--devices', '0'], /--devices must be an integer >= 1/],
    [['--ids', 'a,a'], /given twice/],
    [['--ids', 'bad id'], /Invalid deviceId/],
    [['--devices', '2', '--ids', 'a,b'], /not both/],
    [['--count', '5', '--duration', '1h'], /not both/],
    [['--seed', 'x'], /--seed/],
    [['--interval', '10x'], /--interval/],
    [['--start', 'yesterday'], /--start/],
    [['--start', '2026-01-01T00:00:00'], /time zone/],
    [['--bogus'], /Unknown option/],
    [['positional'], /Unexpected argument/],
  ])('rejects %j with usage on stderr and exit code 2', (args, message) => {
    const { status, stdout, stderr } = generate(...args);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain('Usage:');
  });

  it('writes --out whole, and nothing on bad arguments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataset-'));
    try {
      const out = join(dir, 'nested', 'readings.csv');
      const ok = generate('--out', out);
      expect(ok.status).toBe(0);
      expect(ok.stderr).toContain('Wrote 250 readings from 5 devices');
      expect(readFileSync(out, 'utf8')).toBe(shipped);
      expect(readdirSync(join(dir, 'nested'))).toEqual(['readings.csv']);

      const other = join(dir, 'other.csv');
      expect(generate('--out', other, '--interval', 'soon').status).toBe(2);
      expect(existsSync(other)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('honours ids, seed, count, interval and start', () => {
    const { status, stdout } = generate(
      '--ids',
      'dev-a,dev-b',
      '--seed',
      '7',
      '--count',
      '30',
      '--interval',
      '1m',
      '--start',
      '2026-03-01T12:00:00+01:00',
    );
    expect(status).toBe(0);
    const readings = parseReadingsCsv(stdout);
    expect(readings).toHaveLength(60);
    expect(new Set(readings.map((r) => r.deviceId))).toEqual(new Set(['dev-a', 'dev-b']));
    const start = Date.parse('2026-03-01T11:00:00Z');
    for (const r of readings) expect(r.ts).toBe(start + r.seq * 60_000);
    expect(generate('--ids', 'dev-a,dev-b', '--seed', '8', '--count', '30').stdout).not.toBe(
      stdout,
    );
  });
});
