/**
 * `npm run cost -- --devices 1000 --interval 10s --viewers 20`: a monthly estimate of what the
 * telemetry path costs on AWS, per service, from public list prices (us-east-1) kept in a dated
 * data file with the source of each. They are list prices to check against the AWS pricing pages
 * before any decision: no free tier, no savings plans, no taxes.
 *
 * Per device message: IoT Core message + rule + Lambda action → one forwardTelemetry invocation
 * → one GetItem of the change counter (the warm snapshot) → one PostToConnection per viewer,
 * each an API Gateway message and outbound data. See docs/scaling.md for the model.
 */
import { pathToFileURL } from 'node:url';
import { parseDuration, runCommand, UsageError, type CommandSpec } from './cli/command-line';
import priceFile from './cost/prices-us-east-1.json' with { type: 'json' };

/**
 * us-east-1 public list prices in USD, from scripts/cost/prices-us-east-1.json: each price with
 * the date it was read and its source page (JSON has no Infinity: a last tier has `upTo: null`).
 */
const tiers = (list: readonly { upTo: number | null; perMillion: number }[]) =>
  list.map(({ upTo, perMillion }) => ({ upTo: upTo ?? Infinity, perMillion }));
export const PRICES_AS_OF = priceFile.asOf;
export const PRICES = {
  source: `AWS public list prices for ${priceFile.region} as of ${priceFile.asOf} (list prices to check: sources and dates in scripts/cost/prices-us-east-1.json)`,
  iot: { ...priceFile.iot, messagingTiers: tiers(priceFile.iot.messagingTiers) },
  lambda: priceFile.lambda,
  dynamodb: priceFile.dynamodb,
  apiGatewayWebSocket: {
    ...priceFile.apiGatewayWebSocket,
    messageTiers: tiers(priceFile.apiGatewayWebSocket.messageTiers),
  },
  cloudWatchLogs: priceFile.cloudWatchLogs,
  dataTransferOutPerGb: priceFile.dataTransferOutPerGb,
};

/**
 * How the path behaves, from the project's configuration and `npm run bench` (see
 * docs/scaling.md): what one invocation does and how long it takes.
 */
export const MODEL = {
  hoursPerMonth: 730,
  /** serverless.yml provider.memorySize. */
  memoryMb: 256,
  /** shared/config.ts BROADCAST_CONCURRENCY. */
  broadcastConcurrency: 32,
  /**
   * PostToConnection CPU per post on one full vCPU: the project's signed keep-alive sender
   * (shared/connections/sender.ts; `npm run bench -- --only fanout`, row project at 1 000
   * connections, steady state). It was 0.5 ms with the AWS SDK client.
   */
  cpuMsPerPostAtOneVcpu: 0.15,
  /** Lambda gives one full vCPU at 1 769 MB, and a proportional share below. */
  mbPerVcpu: 1769,
  /** PostToConnection round trip inside the region: an assumption (not measurable offline). */
  postLatencyMs: 15,
  /** Handler, validation, the change counter's GetItem, logging. */
  invocationOverheadMs: 10,
  /** A telemetry frame as clients receive it, and a device payload. */
  frameBytes: 300,
  payloadBytes: 200,
  /** One connection item as the snapshot scans it. */
  connectionItemBytes: 100,
  /** API Gateway closes a WebSocket after 2 hours: a viewer reconnects 12 times a day. */
  reconnectsPerViewerPerDay: 12,
  /** CloudWatch Logs per invocation: START/END/REPORT lines and one structured line. */
  logBytesPerInvocation: 600,
  /** ConnectionSnapshot's max age (CONNECTION_SNAPSHOT_MAX_AGE_MS): a rescan per instance. */
  snapshotMaxAgeSeconds: 60,
} as const;

export interface CostInput {
  devices: number;
  /** Milliseconds between two messages of one device. */
  intervalMs: number;
  viewers: number;
  /** Lambda memory of forwardTelemetry. */
  memoryMb?: number;
}

export interface CostLine {
  service: string;
  item: string;
  usage: string;
  usd: number;
}

export interface CostEstimate {
  input: Required<CostInput>;
  messagesPerMonth: number;
  messagesPerSecond: number;
  /** Estimated duration of one forwardTelemetry invocation. */
  invocationMs: number;
  /** Lambda instances busy at once on average (rate × duration). */
  lambdaConcurrency: number;
  /** Share of messages that find the snapshot stale and rescan the table. */
  rescanShare: number;
  /** PostToConnection calls per second across all instances. */
  postsPerSecond: number;
  lines: CostLine[];
  totalUsd: number;
  /** For comparison, not in the total: DynamoDB reads if every message scanned the table. */
  seedScanReadsUsd: number;
}

const million = 1e6;

/** Cost of `units` under tiered per-million prices. */
export function tiered(units: number, tiers: readonly { upTo: number; perMillion: number }[]) {
  let cost = 0;
  let floor = 0;
  for (const tier of tiers) {
    const inTier = Math.max(0, Math.min(units, tier.upTo) - floor);
    cost += (inTier / million) * tier.perMillion;
    floor = tier.upTo;
    if (units <= tier.upTo) break;
  }
  return cost;
}

/** Estimated duration of one fan-out to `viewers`: bound by latency or by CPU, whichever is larger. */
export function invocationMs(viewers: number, memoryMb: number): number {
  const vcpu = Math.min(1, memoryMb / MODEL.mbPerVcpu);
  const cpuBound = (viewers * MODEL.cpuMsPerPostAtOneVcpu) / vcpu;
  const latencyBound = Math.ceil(viewers / MODEL.broadcastConcurrency) * MODEL.postLatencyMs;
  return MODEL.invocationOverheadMs + Math.max(cpuBound, latencyBound);
}

export function estimateMonthlyCost(input: CostInput): CostEstimate {
  const memoryMb = input.memoryMb ?? MODEL.memoryMb;
  const { devices, intervalMs, viewers } = input;
  const secondsPerMonth = MODEL.hoursPerMonth * 3600;
  const minutesPerMonth = MODEL.hoursPerMonth * 60;
  const messagesPerSecond = devices / (intervalMs / 1000);
  const messages = messagesPerSecond * secondsPerMonth;
  const frames = messages * viewers;
  const durationMs = invocationMs(viewers, memoryMb);
  const lambdaConcurrency = messagesPerSecond * (durationMs / 1000);
  const reconnects = viewers * MODEL.reconnectsPerViewerPerDay * (MODEL.hoursPerMonth / 24);

  // DynamoDB: an eventually consistent read is 0.5 RRU per 4 KB; a write 1 WRU per 1 KB.
  const scanRru = Math.max(0.5, Math.ceil((viewers * MODEL.connectionItemBytes) / 4096) * 0.5);
  // A warm instance rescans on its next message when the counter moved (a connect or a
  // disconnect since its last message) or its copy is a minute old. Changes arrive at random:
  // the chance that one fell in the gap between two messages of one instance.
  const instances = Math.max(1, lambdaConcurrency);
  const gapSeconds = messagesPerSecond > 0 ? instances / messagesPerSecond : Infinity;
  const invalidationsPerSecond =
    (reconnects * 2) / secondsPerMonth + 1 / MODEL.snapshotMaxAgeSeconds;
  const rescanShare = 1 - Math.exp(-invalidationsPerSecond * gapSeconds);
  const rescans = messages * rescanShare;
  const counterReadRru = messages * 0.5;
  const rescanRru = rescans * scanRru;
  // connect: Put + counter; disconnect: Delete + counter.
  const writeWru = reconnects * 4;
  const gbSeconds = messages * (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
  // Connection routes: authorize + connect on each reconnect, disconnect at its end.
  const routeInvocations = reconnects * 3;

  const perMillion = (count: number, price: number) => (count / million) * price;
  const lines: CostLine[] = [
    {
      service: 'IoT Core',
      item: 'connectivity',
      usage: `${fmt(devices * minutesPerMonth)} connection-minutes`,
      usd: perMillion(devices * minutesPerMonth, PRICES.iot.connectivityPerMillionMinutes),
    },
    {
      service: 'IoT Core',
      item: 'messages',
      usage: `${fmt(messages)} messages`,
      usd: tiered(
        messages * Math.ceil(MODEL.payloadBytes / PRICES.iot.messageMeterBytes),
        PRICES.iot.messagingTiers,
      ),
    },
    {
      service: 'IoT Core',
      item: 'rules triggered + Lambda actions',
      usage: `${fmt(messages)} + ${fmt(messages)}`,
      usd:
        perMillion(messages, PRICES.iot.rulesTriggeredPerMillion) +
        perMillion(messages, PRICES.iot.actionsExecutedPerMillion),
    },
    {
      service: 'Lambda',
      item: 'requests',
      usage: `${fmt(messages + routeInvocations)} invocations`,
      usd: perMillion(messages + routeInvocations, PRICES.lambda.requestsPerMillion),
    },
    {
      service: 'Lambda',
      item: `forwardTelemetry duration (${memoryMb} MB, ~${fmt(durationMs)} ms)`,
      usage: `${fmt(gbSeconds)} GB-s`,
      usd: gbSeconds * PRICES.lambda.arm64PerGbSecond,
    },
    {
      service: 'DynamoDB',
      item: 'reads: change counter + snapshot rescans',
      usage: `${fmt(counterReadRru)} + ${fmt(rescanRru)} RRU`,
      usd: perMillion(counterReadRru + rescanRru, PRICES.dynamodb.readRequestUnitsPerMillion),
    },
    {
      service: 'DynamoDB',
      item: 'writes: connections + change counter',
      usage: `${fmt(writeWru)} WRU`,
      usd: perMillion(writeWru, PRICES.dynamodb.writeRequestUnitsPerMillion),
    },
    {
      service: 'API Gateway',
      item: 'WebSocket messages (PostToConnection)',
      usage: `${fmt(frames)} messages`,
      usd: tiered(
        frames * Math.ceil(MODEL.frameBytes / PRICES.apiGatewayWebSocket.messageMeterBytes),
        PRICES.apiGatewayWebSocket.messageTiers,
      ),
    },
    {
      service: 'API Gateway',
      item: 'connection minutes',
      usage: `${fmt(viewers * minutesPerMonth)} minutes`,
      usd: perMillion(
        viewers * minutesPerMonth,
        PRICES.apiGatewayWebSocket.connectionMinutesPerMillion,
      ),
    },
    {
      service: 'CloudWatch Logs',
      item: 'ingestion',
      usage: `${fmt((messages * MODEL.logBytesPerInvocation) / 1e9)} GB`,
      usd: ((messages * MODEL.logBytesPerInvocation) / 1e9) * PRICES.cloudWatchLogs.ingestionPerGb,
    },
    {
      service: 'Data transfer',
      item: 'out to viewers',
      usage: `${fmt((frames * MODEL.frameBytes) / 1e9)} GB`,
      usd: ((frames * MODEL.frameBytes) / 1e9) * PRICES.dataTransferOutPerGb,
    },
  ];
  return {
    input: { devices, intervalMs, viewers, memoryMb },
    messagesPerMonth: messages,
    messagesPerSecond,
    invocationMs: durationMs,
    lambdaConcurrency,
    rescanShare,
    postsPerSecond: messagesPerSecond * viewers,
    lines,
    totalUsd: lines.reduce((sum, line) => sum + line.usd, 0),
    seedScanReadsUsd: perMillion(messages * scanRru, PRICES.dynamodb.readRequestUnitsPerMillion),
  };
}

function fmt(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}

const usd = (value: number) =>
  `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function renderEstimate(estimate: CostEstimate): string {
  const { input } = estimate;
  const rows = estimate.lines.map((line) => [line.service, line.item, line.usage, usd(line.usd)]);
  const header = ['service', 'item', 'usage / month', 'USD / month'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const out = [
    `Monthly estimate: ${input.devices} devices × 1 message / ${input.intervalMs / 1000} s, ` +
      `${input.viewers} viewers, forwardTelemetry at ${input.memoryMb} MB (us-east-1, ${MODEL.hoursPerMonth} h)`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
    line(['total', '', '', usd(estimate.totalUsd)]),
    '',
    `Rate: ${fmt(estimate.messagesPerSecond)} messages/s → ${fmt(estimate.postsPerSecond)} posts/s; ` +
      `one invocation ~${fmt(estimate.invocationMs)} ms → ~${fmt(estimate.lambdaConcurrency)} ` +
      `Lambda instances busy on average.`,
    `${fmt(estimate.rescanShare * 100)} % of messages find the connection snapshot stale ` +
      `(a connect or disconnect since the instance's last message) and rescan the table; had ` +
      `every message scanned it (the seed), DynamoDB reads would cost ` +
      `${usd(estimate.seedScanReadsUsd)}/month.`,
    `Prices: ${PRICES.source}. No free tier, savings plans or taxes. Model: docs/scaling.md.`,
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
    description: 'WebSocket clients connected all month, each receiving every message',
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
    'Estimates the monthly AWS cost of the telemetry path per service (IoT Core, Lambda, ' +
    'DynamoDB, API Gateway, logs, data transfer) from us-east-1 list prices.',
  options,
  notes: [
    `Prices: ${PRICES.source}.`,
    'Example: npm run cost -- --devices 1000 --interval 10s --viewers 20',
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
    ({ devices, interval, viewers, region, memory, json }) => {
      if (region !== undefined && region !== 'us-east-1') {
        throw new UsageError(`--region: only us-east-1 list prices are built in, got "${region}"`);
      }
      const estimate = estimateMonthlyCost({
        devices: count('devices', devices, 1),
        intervalMs: parseDuration('interval', interval),
        viewers: count('viewers', viewers, 0, 10_000_000),
        memoryMb: memory === undefined ? undefined : count('memory', memory, 128, 10_240),
      });
      process.stdout.write(
        json ? `${JSON.stringify(estimate, null, 2)}\n` : renderEstimate(estimate),
      );
    },
    argv,
  );
}

// Run as a command (tsx scripts/cost.ts), not when a test imports the module.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
