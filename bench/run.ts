/**
 * `npm run bench`: the fan-out, end-to-end and cold-start benchmarks on this machine (loopback
 * only). Prints a markdown report to stdout (progress to stderr) and writes every figure to
 * bench/results/<ISO date>.json. Targets are printed as PASS/MISS, never asserted.
 */
import './support/env';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCommand, UsageError, type CommandSpec } from '../scripts/cli/command-line';
import { FULL_COLDSTART, QUICK_COLDSTART, runColdstart } from './coldstart';
import { FULL_DELIVERY, QUICK_DELIVERY, runDelivery } from './delivery';
import { FULL_E2E, QUICK_E2E, runE2e } from './e2e';
import { FULL_FANOUT, QUICK_FANOUT, runFanout } from './fanout';
import { FULL_FLOOD, QUICK_FLOOD, runFlood } from './flood';
import { renderReport } from './report';
import { BENCHMARKS, type BenchmarkName, type BenchResults } from './run-types';
import { BENCH_DIR } from './support/child';
import { round } from './support/stats';
import { evaluateTargets } from './targets';

const options = {
  quick: {
    type: 'boolean',
    description: 'tiny sizes, no 20 ms latency, a ~2 s end-to-end run (what the smoke test runs)',
  },
  only: {
    type: 'string',
    value: 'fanout|e2e|coldstart|flood|delivery',
    description: 'run one benchmark only',
  },
  out: {
    type: 'string',
    value: 'DIR',
    description: 'where the JSON result goes (default: bench/results)',
  },
} as const;

const spec = {
  command: 'npm run bench --',
  summary:
    'Measures fan-out (seed algorithm vs unbounded vs the limit vs the project), end-to-end ' +
    'latency through the offline cloud against a no-Lambda relay, cold start (bundle size, ' +
    'import time), one flooding client against a quiet viewer, and the direct and batched ' +
    'delivery modes side by side. Prints a markdown table and writes bench/results/<ISO date>.json.',
  options,
  notes: [
    'The full run takes about 30 minutes (delivery alone ~7, two offline stacks); --quick a minute or two.',
    'Examples:',
    '  npm run bench',
    '  npm run bench -- --only fanout',
    '  npm run bench -- --only delivery',
    '  npm run bench -- --quick --out /tmp/bench',
  ],
} as const satisfies CommandSpec<typeof options>;

await runCommand(spec, async ({ quick, only, out }) => {
  if (only !== undefined && !(BENCHMARKS as readonly string[]).includes(only)) {
    throw new UsageError(`--only must be one of ${BENCHMARKS.join(', ')}, got "${only}"`);
  }
  const selected: BenchmarkName[] = only ? [only as BenchmarkName] : [...BENCHMARKS];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date();
  const cpus = os.cpus();
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    quick,
    benchmarks: selected,
    machine: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      loadAverage: { start: round(os.loadavg()[0] ?? 0, 2), end: 0 },
    },
    targets: [],
    errors: [],
  };
  for (const bench of selected) {
    log(`--- ${bench}${quick ? ' (quick)' : ''}`);
    try {
      if (bench === 'fanout') {
        results.fanout = await runFanout({ ...(quick ? QUICK_FANOUT : FULL_FANOUT), log });
      } else if (bench === 'e2e') {
        results.e2e = await runE2e({ ...(quick ? QUICK_E2E : FULL_E2E), log });
      } else if (bench === 'flood') {
        results.flood = await runFlood({ ...(quick ? QUICK_FLOOD : FULL_FLOOD), log });
      } else if (bench === 'delivery') {
        results.delivery = await runDelivery({ ...(quick ? QUICK_DELIVERY : FULL_DELIVERY), log });
      } else {
        results.coldstart = await runColdstart({
          ...(quick ? QUICK_COLDSTART : FULL_COLDSTART),
          log,
        });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${bench} failed: ${message}`);
      results.errors.push({ bench, message });
    }
  }
  results.targets = evaluateTargets(results);
  results.finishedAt = new Date().toISOString();
  results.machine.loadAverage.end = round(os.loadavg()[0] ?? 0, 2);

  const directory = path.resolve(out ?? path.join(BENCH_DIR, 'results'));
  await mkdir(directory, { recursive: true });
  // ISO 8601 with the colons made file-name safe: 2026-01-31T12-00-00.000Z.json
  const file = path.join(directory, `${results.startedAt.replaceAll(':', '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(renderReport(results));
  log(`results: ${file}`);
  if (results.errors.length) throw new Error(`${results.errors.length} benchmark(s) failed`);
});
