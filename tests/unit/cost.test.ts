import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { estimateMonthlyCost, invocationMs, MODEL, PRICES, tiered } from '../../scripts/cost';
import { REPO_ROOT } from '../support/offline-stack';

const line = (estimate: ReturnType<typeof estimateMonthlyCost>, service: string, item: RegExp) =>
  estimate.lines.find((l) => l.service === service && item.test(l.item))!;

describe('estimateMonthlyCost (scripts/cost.ts)', () => {
  const estimate = estimateMonthlyCost({ devices: 1000, intervalMs: 10_000, viewers: 20 });
  const messages = 1000 * 0.1 * MODEL.hoursPerMonth * 3600;

  it('counts one IoT message, rule and action, Lambda invocation and counter read per message', () => {
    expect(estimate.messagesPerMonth).toBeCloseTo(messages);
    expect(estimate.messagesPerSecond).toBeCloseTo(100);
    expect(line(estimate, 'IoT Core', /^messages/).usd).toBeCloseTo(messages / 1e6);
    expect(line(estimate, 'IoT Core', /rules/).usd).toBeCloseTo((messages / 1e6) * 0.3);
    expect(line(estimate, 'DynamoDB', /reads/).usage).toMatch(/^131\.40 M \+/);
  });

  it('charges API Gateway one message per viewer per device message, tiered', () => {
    const frames = messages * 20;
    expect(line(estimate, 'API Gateway', /messages/).usd).toBeCloseTo(
      1000 + ((frames - 1e9) / 1e6) * 0.8,
    );
    expect(line(estimate, 'API Gateway', /connection minutes/).usd).toBeCloseTo(
      (20 * MODEL.hoursPerMonth * 60 * 0.25) / 1e6,
    );
  });

  it('adds up its lines', () => {
    const sum = estimate.lines.reduce((total, l) => total + l.usd, 0);
    expect(estimate.totalUsd).toBeCloseTo(sum);
    expect(estimate.totalUsd).toBeGreaterThan(0);
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

  it('reads the change counter per message and rescans only after connection changes', () => {
    // 100 viewers (10 KB of items: 1.5 RRU a scan), 1 000 messages a second.
    const busy = estimateMonthlyCost({ devices: 1000, intervalMs: 1000, viewers: 100 });
    const counterOnly =
      (busy.messagesPerMonth * 0.5 * PRICES.dynamodb.readRequestUnitsPerMillion) / 1e6;
    expect(busy.seedScanReadsUsd).toBeCloseTo(counterOnly * 3);
    expect(busy.rescanShare).toBeGreaterThan(0);
    expect(busy.rescanShare).toBeLessThan(0.05);
    expect(line(busy, 'DynamoDB', /reads/).usd).toBeLessThan(busy.seedScanReadsUsd / 2);
    // Few messages, many viewers reconnecting: nearly every message finds a change — at worst
    // the seed's scan per message plus the counter read.
    const churn = estimateMonthlyCost({ devices: 1, intervalMs: 60_000, viewers: 10_000 });
    expect(churn.rescanShare).toBeGreaterThan(0.99);
    expect(line(churn, 'DynamoDB', /reads/).usd).toBeLessThanOrEqual(
      churn.seedScanReadsUsd +
        (churn.messagesPerMonth * 0.5 * PRICES.dynamodb.readRequestUnitsPerMillion) / 1e6 +
        1e-9,
    );
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
  });

  it('times a fan-out by latency or CPU, whichever is larger', () => {
    // One viewer at 1 769 MB: latency-bound.
    expect(invocationMs(1, 1769)).toBeCloseTo(MODEL.invocationOverheadMs + MODEL.postLatencyMs);
    // Many viewers on a small instance: CPU-bound, scaled by the vCPU share.
    expect(invocationMs(1000, 256)).toBeCloseTo(
      MODEL.invocationOverheadMs + (1000 * MODEL.cpuMsPerPostAtOneVcpu * 1769) / 256,
    );
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
      input: { devices: 10, intervalMs: 60_000, viewers: 2, memoryMb: 256 },
    });
  });

  it.each([
    [['--interval', '10s', '--viewers', '1']],
    [['--devices', 'many', '--interval', '10s', '--viewers', '1']],
    [['--devices', '10', '--interval', 'soon', '--viewers', '1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '-1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--region', 'eu-west-1']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--memory', '64']],
    [['--devices', '10', '--interval', '10s', '--viewers', '1', '--bogus']],
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
