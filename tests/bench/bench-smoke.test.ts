/**
 * `npm run bench -- --quick`, one benchmark per process (two at a time): each writes its JSON
 * result with the fields the report and docs/scaling.md rely on, and the values make sense —
 * every message delivered, items read counted. No timing thresholds: benchmarks print figures.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchmarkName, BenchResults } from '../../bench/run-types';
import { REPO_ROOT } from '../support/offline-stack';
import { withSlsPackageLock } from '../support/sls-package-lock';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[], timeoutMs = 200_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let scratch: string;
const runs: Partial<Record<BenchmarkName, { outcome: Outcome; results: BenchResults }>> = {};

/** One benchmark's process: its JSON result, read back once it exited 0. */
async function runBench(name: BenchmarkName): Promise<void> {
  const out = path.join(scratch, name);
  const args = ['--quick', '--only', name, '--out', out];
  // The cold-start bench runs `sls package` in the project, as the packaging test does.
  const outcome = await (name === 'coldstart'
    ? withSlsPackageLock(() => bench(args))
    : bench(args));
  if (outcome.code !== 0) {
    throw new Error(`bench --only ${name} exited ${outcome.code}:\n${outcome.stderr}`);
  }
  const [file] = await readdir(out);
  expect(file).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z\.json$/);
  const results = JSON.parse(await readFile(path.join(out, file!), 'utf8')) as BenchResults;
  runs[name] = { outcome, results };
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  // Two at a time, the two that start offline stacks first: all four side by side, beside
  // another test file (npm test runs two), left the stacks short of CPU on 2 cores (ready after
  // 60-70 s, the delivery bench killed at its 200 s).
  const lanes: BenchmarkName[][] = [
    ['delivery', 'coldstart'],
    ['e2e', 'fanout'],
  ];
  await Promise.all(
    lanes.map(async (lane) => {
      for (const name of lane) await runBench(name);
    }),
  );
}, 420_000);

afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('records the run: when, where, which benchmarks, no errors', () => {
    for (const [name, run] of Object.entries(runs)) {
      expect(run.results).toMatchObject({
        quick: true,
        benchmarks: [name],
        errors: [],
        machine: { node: process.version, cpus: expect.any(Number) },
      });
      expect(Date.parse(run.results.finishedAt)).toBeGreaterThanOrEqual(
        Date.parse(run.results.startedAt),
      );
      expect(run.outcome.stdout).toMatch(/^## Benchmark /);
      expect(run.outcome.stdout).toContain('### Targets');
    }
  });

  it('fan-out: every variant delivers to every connection; reads are counted', () => {
    const fanout = runs.fanout!.results.fanout!;
    const variants = fanout.rows.map((row) => row.variant).sort();
    expect(variants).toEqual(
      [
        'churn',
        'lambda',
        'lambda-limit',
        'limit',
        'project',
        'sdk',
        'seed',
        'smithy',
        'unbounded',
      ].sort(),
    );
    // The bench itself fails the run (errors, exit code) when a message misses a post; here the
    // management server's own count of posts in flight must respect each row's bound.
    for (const row of fanout.rows) {
      expect(row.serverMaxInFlight).toBeGreaterThanOrEqual(1);
      if (row.concurrency !== null) {
        expect(row.serverMaxInFlight).toBeLessThanOrEqual(row.concurrency);
      }
      expect(row.wallMs).toBeGreaterThan(0);
      expect(row.cpuMsPerPost).toBeGreaterThan(0);
      expect(row.peakRssMb).toBeGreaterThan(row.baselineRssMb * 0.5);
      expect(row.messages).toBeGreaterThanOrEqual(1);
    }
    const seed = fanout.rows.find((row) => row.variant === 'seed')!;
    const project = fanout.rows.find((row) => row.variant === 'project')!;
    const limit = fanout.rows.find((row) => row.variant === 'limit')!;
    const churn = fanout.rows.find((row) => row.variant === 'churn')!;
    const sdk = fanout.rows.find((row) => row.variant === 'sdk')!;
    // A full scan reads every connection; a cold snapshot too (and the change log's counters,
    // none yet); a warm one reads the counters (none exist while nothing changed) and nothing
    // else. Under churn (a connection added, one removed, per message) it reads the counters
    // of the shards changed so far (1 to S = 4), queries the shards whose counter moved for the
    // two entries, and reads the one connection still there (shared/connections/snapshot.ts).
    expect(seed.itemsRead).toBe(seed.connections);
    expect(project.firstItemsRead).toBe(project.connections);
    expect(project.itemsRead).toBe(0);
    expect(sdk.itemsRead).toBe(0);
    expect(churn.itemsRead).toBeGreaterThanOrEqual(1 + 2 + 1);
    expect(churn.itemsRead).toBeLessThanOrEqual(4 + 2 + 1);
    expect(limit.itemsRead).toBe(0);
    // The reconnect storm spreads its writes over the change log's shards.
    expect(fanout.storm?.hottestPartition.writes).toBeLessThan(fanout.storm!.changes);
    expect(fanout.sweep.length).toBeGreaterThan(0);
    expect(fanout.chosen[0]).toMatchObject({ best: expect.any(Number), gain: expect.any(Number) });
  });

  it('e2e: every message reaches every client, over MQTT and HTTPS, with and without Lambda', () => {
    const e2e = runs.e2e!.results.e2e!;
    expect(e2e.rows.map((row) => `${row.target}/${row.protocol}`).sort()).toEqual([
      'lambda/https',
      'lambda/mqtt',
      'limit/https',
      'limit/mqtt',
    ]);
    for (const row of e2e.rows) {
      expect(row.sent).toBeGreaterThan(0);
      expect(row.publishFailures).toBe(0);
      // Frames counted by the WebSocket clients against what was published to each of them.
      expect(row.delivered).toBe(row.sent * row.clients);
      expect(row.duplicates).toBe(0);
      expect(row.p50Ms).toBeGreaterThan(0);
      expect(row.p50Ms).toBeLessThanOrEqual(row.p95Ms);
      expect(row.p95Ms).toBeLessThanOrEqual(row.p99Ms);
      expect(row.p99Ms).toBeLessThanOrEqual(row.maxMs);
    }
    expect(e2e.errors).toEqual([]);
    expect(e2e.invokeProbes[0]).toMatchObject({ failed: 0, p50Ms: expect.any(Number) });
  });

  it('cold start: every function zip holds a bundle, imported and attributed to packages', () => {
    const coldstart = runs.coldstart!.results.coldstart!;
    expect(coldstart.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['forwardTelemetry', 'connect', 'sendMessage']),
    );
    for (const f of coldstart.functions) {
      expect(f.bundleBytes).toBeGreaterThan(1024);
      expect(f.zipBytes).toBeGreaterThan(0);
      expect(f.importMs).toBeGreaterThan(0);
      expect(f.importWithSourceMapsMs).toBeGreaterThan(0);
      expect(f.packages.length).toBeGreaterThan(0);
      expect(f.awsSdkBytes).toBeLessThan(f.bundleBytes);
    }
  });

  it('delivery: every reading reaches every viewer in both modes; batched in fewer invocations and frames', () => {
    const delivery = runs.delivery!.results.delivery!;
    expect(delivery.errors).toEqual([]);
    expect(delivery.rows.map((row) => row.mode).sort()).toEqual(['batched', 'direct']);
    for (const row of delivery.rows) {
      expect(row.readings).toBeGreaterThan(0);
      expect(row.publishFailures).toBe(0);
      // Counted by the viewers from the frames they received, each reading once.
      expect(row.delivered).toBe(row.readings * row.viewers);
      expect(row.lost).toBe(0);
      expect(row.p50Ms).toBeGreaterThan(0);
      expect(row.p50Ms).toBeLessThanOrEqual(row.p99Ms);
      // Each frame is metered ⌈bytes / 32 KB⌉ and none is over one unit.
      expect(row.maxFrameBytes).toBeLessThanOrEqual(32 * 1024);
      expect(row.meteredMessages).toBe(row.frames);
    }
    const direct = delivery.rows.find((row) => row.mode === 'direct')!;
    const batched = delivery.rows.find((row) => row.mode === 'batched')!;
    // Direct: one invocation (the function's log lines) and one frame per viewer per reading.
    expect(direct.invocations).toBe(direct.readings);
    expect(direct.frames).toBe(direct.readings * direct.viewers);
    // Batched: readings share invocations and frames.
    expect(batched.invocations).toBeGreaterThan(0);
    expect(batched.invocations).toBeLessThan(batched.readings);
    expect(batched.frames).toBeLessThan(batched.readings * batched.viewers);
    expect(batched.meteredPerReadingPerViewer).toBeLessThan(1);
  });

  it('evaluates each target as PASS or MISS with a ratio, and explains a miss', () => {
    const targets = Object.values(runs).flatMap((run) => run.results.targets);
    expect(targets.length).toBeGreaterThanOrEqual(4);
    for (const target of targets) {
      expect(['PASS', 'MISS']).toContain(target.status);
      expect(Number.isFinite(target.ratio)).toBe(true);
      if (target.status === 'MISS') expect(target.reason).toEqual(expect.any(String));
    }
  });
});

describe('bench arguments', () => {
  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await bench(['--help'], 30_000);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: npm run bench --');
    expect(stdout).toContain('--only fanout|e2e|coldstart|flood|delivery');
  });

  it.each([[['--only', 'nope']], [['--bogus']], [['stray']]])(
    '%j prints the usage and exits 2',
    async (args) => {
      const { code, stderr } = await bench(args, 30_000);
      expect(code).toBe(2);
      expect(stderr).toContain('Usage: npm run bench --');
    },
  );
});
