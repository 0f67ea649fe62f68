/**
 * The cost model (scripts/cost/model.ts) and `npm run cost`, with figures worked out by hand from
 * the list prices (scripts/cost/prices-us-east-1.json) in the comments beside each.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import {
  batchesPerSecond,
  crossoverReadingsPerSecond,
  estimateMonthlyCost,
  invocationMs,
  itemsPerFrame,
  MODEL,
  PRICES,
  receivesPerSecond,
  tiered,
  type CostEstimate,
} from '../../scripts/cost/model';
import { REPO_ROOT } from '../support/offline-stack';

const line = (estimate: CostEstimate, service: string, item: RegExp) =>
  estimate.lines.find((l) => l.service === service && item.test(l.item))!;

/** 730 h of seconds. */
const MONTH_S = 730 * 3600;

describe('the direct mode: one invocation and one message per viewer per reading', () => {
  const estimate = estimateMonthlyCost({ devices: 1000, intervalMs: 10_000, viewers: 20 });
  // 1 000 devices / 10 s = 100 readings/s × 2 628 000 s = 262.8 M readings a month.
  const readings = 262.8e6;

  it('counts one IoT message, rule and action and one invocation per reading', () => {
    expect(estimate.input.mode).toBe('direct');
    expect(estimate.readingsPerMonth).toBeCloseTo(readings);
    expect(estimate.readingsPerSecond).toBeCloseTo(100);
    expect(estimate.invocationsPerReading).toBe(1);
    expect(line(estimate, 'IoT Core', /^messages/).usd).toBeCloseTo(262.8);
    // $0.15 + $0.15 per million.
    expect(line(estimate, 'IoT Core', /rules.*Lambda actions/).usd).toBeCloseTo(78.84);
    expect(estimate.lines.some((l) => l.service === 'SQS')).toBe(false);
  });

  it('charges API Gateway one message per viewer per reading, tiered', () => {
    // 5.256 G messages: the first billion at $1.00, the other 4.256 G at $0.80 per million.
    expect(estimate.meteredMessagesPerReadingPerViewer).toBe(1);
    expect(line(estimate, 'API Gateway', /messages/).usd).toBeCloseTo(1000 + 4256 * 0.8);
    // 20 viewers × 43 800 minutes at $0.25 per million.
    expect(line(estimate, 'API Gateway', /connection minutes/).usd).toBeCloseTo(0.219);
  });

  it('reads the change log: S = 4 consistent Queries per invocation, each change per instance', () => {
    // 262.8 M × 4 RRU = 1.0512 G RRU at $0.125 per million = $131.40, plus the catch-ups
    // (20 viewers × 12 reconnects × 30.4 days × 2 changes × ~3 instances × 2 RRU) and the
    // 5-minute rescans (8 760 per instance-month × 5 RRU): cents.
    const reads = line(estimate, 'DynamoDB', /reads/);
    expect(reads.usage).toMatch(/^1\.05 G \+/);
    expect(reads.usd).toBeGreaterThan(131.4);
    expect(reads.usd).toBeLessThan(131.5);
    // connect and disconnect: 3 WRU each, 7 300 reconnects: 43 800 WRU.
    expect(line(estimate, 'DynamoDB', /writes/).usage).toBe('43.8 k WRU');
  });

  it('adds up its lines, and a reading costs the total over the readings', () => {
    const sum = estimate.lines.reduce((total, l) => total + l.usd, 0);
    expect(estimate.totalUsd).toBeCloseTo(sum);
    expect(estimate.usdPerMillionReadings).toBeCloseTo((sum / readings) * 1e6);
  });

  it('grows API Gateway and Lambda with viewers, not IoT Core', () => {
    const more = estimateMonthlyCost({ devices: 1000, intervalMs: 10_000, viewers: 200 });
    expect(line(more, 'IoT Core', /^messages/).usd).toBeCloseTo(
      line(estimate, 'IoT Core', /^messages/).usd,
    );
    expect(line(more, 'API Gateway', /messages/).usd).toBeGreaterThan(
      line(estimate, 'API Gateway', /messages/).usd * 8,
    );
    expect(more.invocationMs).toBeGreaterThan(estimate.invocationMs);
  });
});

describe('the batched mode: SQS, one invocation per batch, ≤ 32 KB frames', () => {
  const estimate = estimateMonthlyCost({
    devices: 1000,
    intervalMs: 10_000,
    viewers: 20,
    mode: 'batched',
  });

  it('batches 100 readings/s into 5 batches/s of 20 (5 pollers, 1 s window)', () => {
    // max(100 / 100, 5 / 1 s × (1 − e^−20)) = 5 batches/s.
    expect(estimate.invocationsPerSecond).toBeCloseTo(5);
    expect(estimate.readingsPerInvocation).toBeCloseTo(20);
    expect(estimate.invocationsPerReading).toBeCloseTo(0.05);
    // 64 bytes of envelope + 20 × (300 + a comma) = 6 084 bytes: one frame, one unit.
    expect(estimate.framesPerViewerPerInvocation).toBe(1);
    expect(estimate.frameBytes).toBe(6084);
    expect(estimate.meteredMessagesPerReadingPerViewer).toBeCloseTo(0.05);
    // 5 × 2 628 000 s × 20 viewers = 262.8 M messages: $262.80.
    expect(line(estimate, 'API Gateway', /telemetryBatch/).usd).toBeCloseTo(262.8);
  });

  it("pays SQS a send per reading, the pollers' receives and a delete per 10 records", () => {
    // sends 262.8 M; receives: 20 readings/s per poller, fewer than its 50 round trips/s, one
    // call each: 262.8 M; deletes: 13.14 M batches × ⌈20 / 10⌉ = 26.28 M. 551.88 M × $0.40.
    expect(line(estimate, 'SQS', /requests/).usd).toBeCloseTo(551.88 * 0.4);
    expect(estimate.sqsRequestsPerReading).toBeCloseTo(2.1);
    expect(line(estimate, 'IoT Core', /SQS actions/).usd).toBeCloseTo(78.84);
    // 13.14 M invocations + 21 900 connection-route invocations at $0.20 per million.
    expect(line(estimate, 'Lambda', /requests/).usd).toBeCloseTo((13.14e6 + 21_900) * 0.2e-6, 3);
    // The change log's Queries follow the invocations: 13.14 M × 4 RRU.
    expect(line(estimate, 'DynamoDB', /reads/).usage).toMatch(/^52\.56 M \+/);
  });

  it("meets the issue's target at 1 000 readings/s and 100 viewers: ≤ 0.05 of each", () => {
    const busy = estimateMonthlyCost({
      devices: 1000,
      intervalMs: 1000,
      viewers: 100,
      mode: 'batched',
    });
    // max(1 000 / 100, 5) = 10 batches/s of 100 readings: 64 + 100 × 301 = 30 164 bytes.
    expect(busy.invocationsPerReading).toBeCloseTo(0.01);
    expect(busy.frameBytes).toBe(30_164);
    expect(busy.meteredMessagesPerReadingPerViewer).toBeCloseTo(0.01);
  });

  it('splits a batch over 32 KB into several frames, each one unit', () => {
    expect(itemsPerFrame()).toBe(108); // ⌊(32 768 − 64) / 301⌋
    const big = estimateMonthlyCost({
      devices: 1000,
      intervalMs: 1000,
      viewers: 10,
      mode: 'batched',
      batchSize: 1000,
    });
    // max(1 000 / 1 000, 5) = 5 batches/s of 200: ⌈200 / 108⌉ = 2 frames per viewer.
    expect(big.framesPerViewerPerInvocation).toBe(2);
    expect(big.frameBytes).toBeLessThanOrEqual(PRICES.apiGatewayWebSocket.messageMeterBytes);
    expect(big.meteredMessagesPerReadingPerViewer).toBeCloseTo(0.01);
  });

  it('costs at 10 readings/s no more than 1.2× direct per reading', () => {
    for (const viewers of [1, 10, 100, 1000]) {
      const at10 = (mode: 'direct' | 'batched') =>
        estimateMonthlyCost({ devices: 10, intervalMs: 1000, viewers, mode }).usdPerMillionReadings;
      expect(at10('batched')).toBeLessThanOrEqual(1.2 * at10('direct'));
    }
  });
});

describe('the crossover', () => {
  it('is where a reading costs the same in both modes, lower with more viewers', () => {
    const one = crossoverReadingsPerSecond({ devices: 100, viewers: 1 })!;
    const hundred = crossoverReadingsPerSecond({ devices: 100, viewers: 100 })!;
    expect(one).toBeGreaterThan(1);
    expect(one).toBeLessThan(20);
    expect(hundred).toBeLessThan(one);
    const at = (rate: number, mode: 'direct' | 'batched') =>
      estimateMonthlyCost({ devices: 100, intervalMs: (100 / rate) * 1000, viewers: 1, mode })
        .usdPerMillionReadings;
    expect(at(one, 'batched')).toBeLessThanOrEqual(at(one, 'direct'));
    expect(at(one * 0.99, 'batched')).toBeGreaterThan(at(one * 0.99, 'direct'));
    expect(at(one, 'batched') / at(one, 'direct')).toBeCloseTo(1, 3);
  });

  it('comes even with no viewers (fewer invocations and change-log reads), but later', () => {
    const none = crossoverReadingsPerSecond({ devices: 100, viewers: 0 })!;
    expect(none).toBeGreaterThan(crossoverReadingsPerSecond({ devices: 100, viewers: 1 })!);
  });

  it('never comes with batches of one: SQS on top of the same invocations and frames', () => {
    expect(crossoverReadingsPerSecond({ devices: 100, viewers: 10, batchSize: 1 })).toBeUndefined();
  });
});

describe('helpers', () => {
  it('prices tiers cumulatively', () => {
    const tiers = [
      { upTo: 1e9, perMillion: 1 },
      { upTo: Infinity, perMillion: 0.8 },
    ];
    expect(tiered(5e8, tiers)).toBeCloseTo(500);
    expect(tiered(2e9, tiers)).toBeCloseTo(1000 + 800);
    // SQS: 100 G at $0.40, 100 G at $0.30, the rest at $0.24.
    expect(tiered(250e9, PRICES.sqs.requestTiers)).toBeCloseTo(40_000 + 30_000 + 12_000);
  });

  it('times a fan-out by latency or CPU, whichever is larger', () => {
    // One viewer at 1 769 MB: latency-bound.
    expect(invocationMs(1, 1769)).toBeCloseTo(MODEL.invocationOverheadMs + MODEL.postLatencyMs);
    // Many viewers on a small instance: CPU-bound, scaled by the vCPU share; a 300-byte post
    // adds 300 / 1 024 × 0.004 ms of signing and TLS.
    const perPost = MODEL.cpuMsPerPostAtOneVcpu + (300 / 1024) * MODEL.cpuMsPerPostKbAtOneVcpu;
    expect(invocationMs(1000, 256)).toBeCloseTo(
      MODEL.invocationOverheadMs + (1000 * perPost * 1769) / 256,
    );
  });

  it('batches by window at low rates and by size at high ones', () => {
    expect(batchesPerSecond(10, 100, 1)).toBeCloseTo(5 * (1 - Math.exp(-2)));
    // A reading every 10 s: nearly always a batch of one.
    expect(batchesPerSecond(0.1, 100, 1)).toBeCloseTo(5 * (1 - Math.exp(-0.02)));
    expect(batchesPerSecond(0.1, 100, 1)).toBeGreaterThan(0.099);
    expect(batchesPerSecond(10_000, 100, 1)).toBe(100);
    expect(batchesPerSecond(0, 100, 1)).toBe(0);
  });

  it('receives one message per call when they are rare, 10 when they queue up', () => {
    expect(receivesPerSecond(10)).toBeCloseTo(10); // 2 per poller, 50 round trips/s each
    expect(receivesPerSecond(1000)).toBeCloseTo(250); // 200 per poller: a call per round trip
    expect(receivesPerSecond(10_000)).toBeCloseTo(1000); // 2 000 per poller: 10 per call
    expect(MONTH_S).toBe(2_628_000);
  });
});

function cost(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cost.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run cost', () => {
  it('prints a table per service with the total and the price source', async () => {
    const { code, stdout } = await cost([
      '--devices',
      '1000',
      '--interval',
      '10s',
      '--viewers',
      '20',
    ]);
    expect(code).toBe(0);
    for (const service of ['IoT Core', 'Lambda', 'DynamoDB', 'API Gateway']) {
      expect(stdout).toContain(`| ${service}`);
    }
    expect(stdout).toMatch(/\| total .*\$[\d,]+\.\d\d \|/);
    expect(stdout).toContain('list prices to check');
    expect(stdout).toContain('| SQS');
    expect(stdout).toMatch(/batched costs 0\.\d\d× direct/);
    expect(stdout).toMatch(/Crossover: .*\n +1 viewer\(s\): \d/);
  });

  it('prints JSON with --json', async () => {
    const { code, stdout } = await cost([
      '--devices=10',
      '--interval=1m',
      '--viewers=2',
      '--region=us-east-1',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      direct: { input: { devices: 10, intervalMs: 60_000, viewers: 2, memoryMb: 256 } },
      batched: { input: { mode: 'batched', batchSize: 100, batchWindowSeconds: 1 } },
      crossover: expect.arrayContaining([{ viewers: 2, readingsPerSecond: expect.any(Number) }]),
    });
  });

  it('prints one mode with --mode, with the batch settings given', async () => {
    const { code, stdout } = await cost([
      '--devices=1000',
      '--interval=1s',
      '--viewers=100',
      '--mode=batched',
      '--batch-size=500',
      '--window=2s',
      '--json',
    ]);
    expect(code).toBe(0);
    const estimate = JSON.parse(stdout) as CostEstimate;
    expect(estimate.input).toMatchObject({
      mode: 'batched',
      batchSize: 500,
      batchWindowSeconds: 2,
    });
    // max(1 000 / 500, 5 / 2 s) = 2.5 batches/s of 400 readings: ⌈400 / 108⌉ = 4 frames.
    expect(estimate.invocationsPerSecond).toBeCloseTo(2.5);
    expect(estimate.framesPerViewerPerInvocation).toBe(4);
  });

  it.each([
    [['--interval', '10s', '--viewers', '1']],
    [['--devices', 'many', '--interval', '10s', '--viewers', '1']],
    [['--devices', '10', '--interval', 'soon', '--viewers', '1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '-1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--region', 'eu-west-1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--memory', '64']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--bogus']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--mode', 'kinesis']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--batch-size', '10001']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--window', '301s']],
  ])('%j prints the usage and exits 2', async (args) => {
    const { code, stderr } = await cost(args);
    expect(code).toBe(2);
    expect(stderr).toContain('Usage: npm run cost --');
  });

  it('--help exits 0', async () => {
    const { code, stdout } = await cost(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--devices N');
  });
});
