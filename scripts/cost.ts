/**
 * `npm run cost -- --devices 1000 --interval 10s --viewers 20`: a monthly estimate of what the
 * telemetry path costs on AWS, per service, in both delivery modes (`direct`: one Lambda
 * invocation and one API Gateway message per viewer per reading; `batched`: the rule queues to
 * SQS and one invocation posts each viewer a batch in ≤ 32 KB frames), what one reading costs in
 * each, and the crossover: the reading rate from which `batched` is the cheaper. Public list
 * prices (us-east-1) kept in a dated data file with the source of each, to check against the AWS
 * pricing pages before any decision: no free tier, no savings plans, no taxes. The model is
 * scripts/cost/model.ts; docs/scaling.md explains it.
 */
import { pathToFileURL } from 'node:url';
import { parseDuration, runCommand, UsageError, type CommandSpec } from './cli/command-line';
import {
  crossoverReadingsPerSecond,
  DELIVERY_MODES,
  estimateMonthlyCost,
  fmt,
  MODEL,
  PRICES,
  type CostEstimate,
  type CostInput,
  type DeliveryMode,
} from './cost/model';

const usd = (value: number) =>
  `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** Viewer counts the crossover table is printed for, besides the scenario's own. */
const CROSSOVER_VIEWERS = [1, 10, 100, 1_000];

export function renderEstimate(estimate: CostEstimate): string {
  const { input } = estimate;
  const rows = estimate.lines.map((line) => [line.service, line.item, line.usage, usd(line.usd)]);
  const header = ['service', 'item', 'usage / month', 'USD / month'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const mode =
    input.mode === 'direct'
      ? 'direct (rule → Lambda per reading)'
      : `batched (rule → SQS → Lambda, batches of ≤ ${input.batchSize} or ${input.batchWindowSeconds} s)`;
  const out = [
    `Monthly estimate, ${mode}: ${input.devices} devices × 1 reading / ${input.intervalMs / 1000} s, ` +
      `${input.viewers} viewers, forwardTelemetry at ${input.memoryMb} MB (us-east-1, ${MODEL.hoursPerMonth} h)`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
    line(['total', '', '', usd(estimate.totalUsd)]),
    '',
    `Per reading: ${usd(estimate.usdPerMillionReadings)} per million readings; ` +
      `${fmt(estimate.invocationsPerReading)} invocations, ` +
      `${fmt(estimate.meteredMessagesPerReadingPerViewer)} metered API Gateway messages per viewer` +
      (input.mode === 'batched' ? `, ${fmt(estimate.sqsRequestsPerReading)} SQS requests` : '') +
      '.',
    `Rate: ${fmt(estimate.readingsPerSecond)} readings/s → ${fmt(estimate.invocationsPerSecond)} ` +
      `invocations/s of ${fmt(estimate.readingsPerInvocation)} reading(s) → ${fmt(estimate.postsPerSecond)} ` +
      `posts/s; one invocation ~${fmt(estimate.invocationMs)} ms → ~${fmt(estimate.lambdaConcurrency)} ` +
      `Lambda instances busy on average.`,
  ];
  if (estimate.invocationMs > 9_000) {
    out.push(
      `Warning: one fan-out to ${input.viewers} viewers takes ~${fmt(estimate.invocationMs / 1000)} s, ` +
        `over forwardTelemetry's 10 s timeout — see docs/scaling.md (sharded fan-out).`,
    );
  }
  if (estimate.lambdaConcurrency > 1000) {
    out.push(
      `Warning: ~${fmt(estimate.lambdaConcurrency)} concurrent instances exceeds the default ` +
        `account limit of 1 000 — see docs/scaling.md for batching and sharded fan-out.`,
    );
  }
  return `${out.join('\n')}\n`;
}

export interface Comparison {
  direct: CostEstimate;
  batched: CostEstimate;
  /** batched / direct, per reading. */
  ratio: number;
  /** Readings/s from which batched costs no more per reading, per viewer count. */
  crossover: { viewers: number; readingsPerSecond: number | null }[];
}

export function compareModes(input: Omit<CostInput, 'mode'>): Comparison {
  const [direct, batched] = DELIVERY_MODES.map((mode) =>
    estimateMonthlyCost({ ...input, mode }),
  ) as [CostEstimate, CostEstimate];
  const viewerCounts = [...new Set([input.viewers, ...CROSSOVER_VIEWERS])].sort((a, b) => a - b);
  return {
    direct,
    batched,
    ratio: batched.totalUsd / direct.totalUsd,
    crossover: viewerCounts.map((viewers) => ({
      viewers,
      readingsPerSecond: crossoverReadingsPerSecond({ ...input, viewers }) ?? null,
    })),
  };
}

export function renderComparison(comparison: Comparison): string {
  const { direct, batched } = comparison;
  const rows: [string, string, string][] = [
    [
      'USD per million readings',
      usd(direct.usdPerMillionReadings),
      usd(batched.usdPerMillionReadings),
    ],
    ['USD per month', usd(direct.totalUsd), usd(batched.totalUsd)],
    [
      'Lambda invocations per reading',
      fmt(direct.invocationsPerReading),
      fmt(batched.invocationsPerReading),
    ],
    [
      'metered API Gateway messages per reading per viewer',
      fmt(direct.meteredMessagesPerReadingPerViewer),
      fmt(batched.meteredMessagesPerReadingPerViewer),
    ],
    ['SQS requests per reading', '0', fmt(batched.sqsRequestsPerReading)],
    ['one invocation', `${fmt(direct.invocationMs)} ms`, `${fmt(batched.invocationMs)} ms`],
  ];
  const out = [
    `Per reading, side by side (${direct.input.viewers} viewers, ${fmt(direct.readingsPerSecond)} readings/s): ` +
      `batched costs ${fmt(comparison.ratio)}× direct.`,
    '',
    '| per reading | direct | batched |',
    '| --- | ---: | ---: |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    'Crossover: batched costs no more per reading than direct from',
    ...comparison.crossover.map(
      ({ viewers, readingsPerSecond }) =>
        `  ${String(viewers).padStart(5)} viewer(s): ` +
        (readingsPerSecond === null
          ? 'never (up to 100 000 readings/s)'
          : `${fmt(readingsPerSecond)} readings/s`),
    ),
    `Prices: ${PRICES.source}. No free tier, savings plans or taxes. Model: docs/scaling.md.`,
  ];
  return `${out.join('\n')}\n`;
}

const options = {
  devices: { type: 'string', value: 'N', required: true, description: 'devices sending telemetry' },
  interval: {
    type: 'string',
    value: 'DURATION',
    required: true,
    description: 'time between two messages of one device: 500ms, 10s, 1m',
  },
  viewers: {
    type: 'string',
    value: 'N',
    required: true,
    description: 'WebSocket clients connected all month, each receiving every reading',
  },
  mode: {
    type: 'string',
    value: 'direct|batched',
    description: 'one delivery mode only (default: both, side by side, with the crossover)',
  },
  'batch-size': {
    type: 'string',
    value: 'N',
    description: `batched: records per batch at most (default ${MODEL.batchSize}, serverless.yml deliveryBatchSize)`,
  },
  window: {
    type: 'string',
    value: 'DURATION',
    description: `batched: the maximum batching window (default ${MODEL.batchWindowSeconds}s, deliveryBatchWindowSeconds)`,
  },
  region: { type: 'string', value: 'REGION', description: 'price region (only us-east-1)' },
  memory: {
    type: 'string',
    value: 'MB',
    description: `forwardTelemetry memory (default ${MODEL.memoryMb}, as serverless.yml)`,
  },
  json: { type: 'boolean', description: 'print the estimate as JSON' },
} as const;

const spec = {
  command: 'npm run cost --',
  summary:
    'Estimates the monthly AWS cost of the telemetry path per service (IoT Core, SQS, Lambda, ' +
    'DynamoDB, API Gateway, logs, data transfer) from us-east-1 list prices, in the direct and ' +
    'the batched delivery mode, per reading, and the crossover between them.',
  options,
  notes: [
    `Prices: ${PRICES.source}.`,
    'Examples:',
    '  npm run cost -- --devices 1000 --interval 10s --viewers 20',
    '  npm run cost -- --devices 1000 --interval 1s --viewers 100 --mode batched --window 2s',
  ],
} as const satisfies CommandSpec<typeof options>;

function count(name: string, text: string, min: number, max = 1e9): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  await runCommand(
    spec,
    (args) => {
      const { devices, interval, viewers, region, memory, mode, window, json } = args;
      if (region !== undefined && region !== 'us-east-1') {
        throw new UsageError(`--region: only us-east-1 list prices are built in, got "${region}"`);
      }
      if (mode !== undefined && !(DELIVERY_MODES as readonly string[]).includes(mode)) {
        throw new UsageError(`--mode must be direct or batched, got "${mode}"`);
      }
      const batchSize = args['batch-size'];
      // AWS: a standard queue's batch is 1 to 10 000 records, the window at most 300 s.
      const windowMs = window === undefined ? undefined : parseDuration('window', window);
      if (windowMs !== undefined && windowMs > 300_000) {
        throw new UsageError(`--window must be at most 300s (AWS's maximum), got "${window}"`);
      }
      const input: Omit<CostInput, 'mode'> = {
        devices: count('devices', devices, 1),
        intervalMs: parseDuration('interval', interval),
        viewers: count('viewers', viewers, 0, 10_000_000),
        memoryMb: memory === undefined ? undefined : count('memory', memory, 128, 10_240),
        batchSize: batchSize === undefined ? undefined : count('batch-size', batchSize, 1, 10_000),
        batchWindowSeconds: windowMs === undefined ? undefined : windowMs / 1000,
      };
      if (mode !== undefined) {
        const estimate = estimateMonthlyCost({ ...input, mode: mode as DeliveryMode });
        process.stdout.write(
          json ? `${JSON.stringify(estimate, null, 2)}\n` : renderEstimate(estimate),
        );
        return;
      }
      const comparison = compareModes(input);
      process.stdout.write(
        json
          ? `${JSON.stringify(comparison, null, 2)}\n`
          : `${renderEstimate(comparison.direct)}\n${renderEstimate(comparison.batched)}\n${renderComparison(comparison)}`,
      );
    },
    argv,
  );
}

// Run as a command (tsx scripts/cost.ts), not when a test imports the module.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
