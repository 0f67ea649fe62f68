/**
 * The cost model behind `npm run cost` (docs/scaling.md): what the telemetry path costs on AWS
 * per month and per device reading, per service, in each delivery mode (serverless.yml
 * `deliveryMode`), from the list prices in prices-us-east-1.json.
 *
 * - `direct`: the topic rule's Lambda action invokes forwardTelemetry once per reading
 *   (asynchronously), which posts one `telemetry` frame to each viewer.
 * - `batched`: the rule's SQS action queues each reading; Lambda's event source mapping reads the
 *   queue and invokes forwardTelemetry with a batch, which posts each viewer the batch's readings
 *   in `telemetryBatch` frames of at most 32 KB (one API Gateway metering unit each).
 *
 * Shared by both: IoT Core (connectivity, messages, the rule and its one action), the change log's
 * reads per invocation, the connections' writes, connection minutes, logs, data transfer.
 */
import priceFile from './prices-us-east-1.json' with { type: 'json' };

/** JSON has no Infinity: a last tier has `upTo: null`. */
const tiers = (list: readonly { upTo: number | null; perMillion: number }[]) =>
  list.map(({ upTo, perMillion }) => ({ upTo: upTo ?? Infinity, perMillion }));

export const PRICES = {
  source: `AWS public list prices for ${priceFile.region} as of ${priceFile.asOf} (list prices to check: sources and dates in scripts/cost/prices-us-east-1.json)`,
  iot: { ...priceFile.iot, messagingTiers: tiers(priceFile.iot.messagingTiers) },
  lambda: priceFile.lambda,
  sqs: { ...priceFile.sqs, requestTiers: tiers(priceFile.sqs.standardRequestTiers) },
  dynamodb: priceFile.dynamodb,
  apiGatewayWebSocket: {
    ...priceFile.apiGatewayWebSocket,
    messageTiers: tiers(priceFile.apiGatewayWebSocket.messageTiers),
  },
  cloudWatchLogs: priceFile.cloudWatchLogs,
  dataTransferOutPerGb: priceFile.dataTransferOutPerGb,
};

/**
 * How the path behaves, from the project's configuration, `npm run bench` and AWS's documented
 * behaviour (see docs/scaling.md); the ones marked "assumption" cannot be measured offline.
 */
export const MODEL = {
  hoursPerMonth: 730,
  /** serverless.yml provider.memorySize. */
  memoryMb: 256,
  /** shared/config.ts BROADCAST_CONCURRENCY. */
  broadcastConcurrency: 50,
  /**
   * PostToConnection CPU per post on one full vCPU: the project's signed keep-alive sender
   * (shared/connections/sender.ts; `npm run bench -- --only fanout`, row project at 1 000
   * connections, steady state).
   */
  cpuMsPerPostAtOneVcpu: 0.15,
  /** Assumption: signing (SHA-256) and TLS of a larger body, per KB on one vCPU. */
  cpuMsPerPostKbAtOneVcpu: 0.004,
  /** Assumption: decoding one record of a batch and building its telemetry item, one vCPU. */
  cpuMsPerRecordAtOneVcpu: 0.05,
  /** Assumption: matching one record against one viewer's filters and adding it to its frame. */
  cpuMsPerRecordPerViewerAtOneVcpu: 0.0005,
  /** Lambda gives one full vCPU at 1 769 MB, and a proportional share below. */
  mbPerVcpu: 1769,
  /** Assumption: PostToConnection round trip inside the region. */
  postLatencyMs: 15,
  /** Handler, validation, the change log's Queries, logging. */
  invocationOverheadMs: 10,
  /** A telemetry frame as clients receive it, and a device payload. */
  frameBytes: 300,
  payloadBytes: 200,
  /** A `telemetryBatch` frame's own bytes besides its items: type, id, brackets. */
  batchEnvelopeBytes: 64,
  /** The rule's SQL output as the SQS message body (payload base64 + metadata). */
  sqsBodyBytes: 450,
  /** One connection item as a rescan reads it. */
  connectionItemBytes: 100,
  /** API Gateway closes a WebSocket after 2 hours: a viewer reconnects 12 times a day. */
  reconnectsPerViewerPerDay: 12,
  /** CloudWatch Logs per invocation: START/END/REPORT lines and one structured line. */
  logBytesPerInvocation: 600,
  /** shared/connections: S change-log shards, whose counters every invocation reads consistently. */
  changeLogShards: 4,
  /** A warm instance per change: its shard's Query (the entry) and the connection's item, consistent. */
  rruPerChangePerInstance: 2,
  /** CONNECTION_SNAPSHOT_MAX_AGE_MS: the safety-net rescan per warm instance. */
  snapshotMaxAgeSeconds: 300,
  /**
   * Lambda's SQS pollers: "Lambda starts processing five batches at a time with five concurrent
   * invocations" and scales back to as few as 2 when traffic is low ("Configuring scaling
   * behavior for SQS event source mappings"). Five is the costlier end.
   */
  sqsPollers: 5,
  /** Assumption: one ReceiveMessage round trip inside the region. */
  sqsReceiveRoundTripMs: 20,
  /** serverless.yml params deliveryBatchSize / deliveryBatchWindowSeconds (defaults). */
  batchSize: 100,
  batchWindowSeconds: 1,
} as const;

export type DeliveryMode = 'direct' | 'batched';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['direct', 'batched'];

export interface CostInput {
  devices: number;
  /** Milliseconds between two readings of one device. */
  intervalMs: number;
  viewers: number;
  mode?: DeliveryMode;
  /** Lambda memory of forwardTelemetry. */
  memoryMb?: number;
  /** Batched: the event source mapping's batch size and maximum batching window. */
  batchSize?: number;
  batchWindowSeconds?: number;
}

export interface CostLine {
  service: string;
  item: string;
  usage: string;
  usd: number;
}

export interface CostEstimate {
  input: Required<CostInput>;
  readingsPerMonth: number;
  readingsPerSecond: number;
  /** forwardTelemetry invocations per second (batches in `batched`). */
  invocationsPerSecond: number;
  invocationsPerReading: number;
  /** Readings one invocation carries (1 in `direct`). */
  readingsPerInvocation: number;
  /** Frames each viewer receives per invocation. */
  framesPerViewerPerInvocation: number;
  /** Bytes of one frame (the largest of an invocation). */
  frameBytes: number;
  /** API Gateway metering units per reading per viewer: frames × ⌈bytes / 32 KB⌉ / readings. */
  meteredMessagesPerReadingPerViewer: number;
  /** SQS requests per reading (send, receives, deletes; 0 in `direct`). */
  sqsRequestsPerReading: number;
  /** Estimated duration of one forwardTelemetry invocation. */
  invocationMs: number;
  /** Lambda instances busy at once on average (rate × duration). */
  lambdaConcurrency: number;
  /** PostToConnection calls per second across all instances. */
  postsPerSecond: number;
  lines: CostLine[];
  totalUsd: number;
  /** totalUsd / readings: what one reading costs, everything included. */
  usdPerMillionReadings: number;
}

const million = 1e6;

/** Cost of `units` under tiered per-million prices. */
export function tiered(units: number, tierList: readonly { upTo: number; perMillion: number }[]) {
  let cost = 0;
  let floor = 0;
  for (const tier of tierList) {
    const inTier = Math.max(0, Math.min(units, tier.upTo) - floor);
    cost += (inTier / million) * tier.perMillion;
    floor = tier.upTo;
    if (units <= tier.upTo) break;
  }
  return cost;
}

/** ⌈x⌉ that ignores the dust of the model's averages: 20.00000004 records are 20. */
const ceil = (x: number) => Math.ceil(x - 1e-6);

const vcpuShare = (memoryMb: number) => Math.min(1, memoryMb / MODEL.mbPerVcpu);

/**
 * Estimated duration of one invocation: overhead, the records' own CPU, and the fan-out of
 * `posts` posts of `bytes` each, bound by latency or by CPU, whichever is larger.
 */
export function invocationMs(
  viewers: number,
  memoryMb: number,
  batch: { records: number; framesPerViewer: number; frameBytes: number } = {
    records: 1,
    framesPerViewer: 1,
    frameBytes: MODEL.frameBytes,
  },
): number {
  const vcpu = vcpuShare(memoryMb);
  const posts = viewers * batch.framesPerViewer;
  const cpuPerPost =
    MODEL.cpuMsPerPostAtOneVcpu + (batch.frameBytes / 1024) * MODEL.cpuMsPerPostKbAtOneVcpu;
  // A single reading is the direct mode's frame: no per-record work beyond the post.
  const recordCpu =
    batch.records > 1
      ? batch.records *
        (MODEL.cpuMsPerRecordAtOneVcpu + viewers * MODEL.cpuMsPerRecordPerViewerAtOneVcpu)
      : 0;
  const cpuBound = (posts * cpuPerPost + recordCpu) / vcpu;
  const latencyBound =
    Math.ceil(posts / MODEL.broadcastConcurrency) * MODEL.postLatencyMs + recordCpu / vcpu;
  return MODEL.invocationOverheadMs + Math.max(cpuBound, latencyBound);
}

/**
 * Batches per second out of Lambda's SQS pollers: each of P pollers invokes when its batch is
 * full or its window ends with at least one record ("Lambda parameters for Amazon SQS event
 * source mappings": BatchSize, MaximumBatchingWindowInSeconds). At R readings/s a poller gets
 * R/P; in a window of W seconds it holds at least one with probability 1 − e^(−RW/P).
 */
export function batchesPerSecond(
  readingsPerSecond: number,
  batchSize: number,
  windowSeconds: number,
  pollers: number = MODEL.sqsPollers,
): number {
  if (readingsPerSecond <= 0) return 0;
  const full = readingsPerSecond / batchSize;
  const byWindow =
    windowSeconds > 0
      ? (pollers / windowSeconds) * (1 - Math.exp(-(readingsPerSecond * windowSeconds) / pollers))
      : readingsPerSecond;
  return Math.min(readingsPerSecond, Math.max(full, byWindow));
}

/**
 * ReceiveMessage calls per second of P pollers: a poller asks again as soon as an answer comes;
 * an answer carries at most 10 messages, and long polling answers as soon as one is there. So a
 * poller makes one call per message while messages are rarer than its round trip, one per 10
 * when they queue up faster than 10 per round trip, one per round trip in between.
 */
export function receivesPerSecond(
  readingsPerSecond: number,
  pollers: number = MODEL.sqsPollers,
): number {
  const perPoller = readingsPerSecond / pollers;
  const roundTripsPerSecond = 1000 / MODEL.sqsReceiveRoundTripMs;
  return (
    pollers *
    Math.min(perPoller, Math.max(perPoller / PRICES.sqs.maxMessagesPerReceive, roundTripsPerSecond))
  );
}

/** Items of `itemBytes` (+ a comma) that one ≤ 32 KB `telemetryBatch` frame holds. */
export function itemsPerFrame(itemBytes: number = MODEL.frameBytes): number {
  const room = PRICES.apiGatewayWebSocket.messageMeterBytes - MODEL.batchEnvelopeBytes;
  return Math.max(1, Math.floor(room / (itemBytes + 1)));
}

export function estimateMonthlyCost(input: CostInput): CostEstimate {
  const mode = input.mode ?? 'direct';
  const memoryMb = input.memoryMb ?? MODEL.memoryMb;
  const batchSize = input.batchSize ?? MODEL.batchSize;
  const batchWindowSeconds = input.batchWindowSeconds ?? MODEL.batchWindowSeconds;
  const { devices, intervalMs, viewers } = input;
  const secondsPerMonth = MODEL.hoursPerMonth * 3600;
  const minutesPerMonth = MODEL.hoursPerMonth * 60;
  const readingsPerSecond = devices / (intervalMs / 1000);
  const readings = readingsPerSecond * secondsPerMonth;
  const meter = PRICES.apiGatewayWebSocket.messageMeterBytes;

  // What one invocation carries and posts.
  const invocationsPerSecond =
    mode === 'direct'
      ? readingsPerSecond
      : batchesPerSecond(readingsPerSecond, batchSize, batchWindowSeconds);
  const records = invocationsPerSecond > 0 ? readingsPerSecond / invocationsPerSecond : 1;
  const perFrame = mode === 'direct' ? 1 : itemsPerFrame();
  const framesPerViewer = ceil(records / perFrame);
  // The fullest frame of an average batch (a comma between items).
  const frameBytes =
    mode === 'direct'
      ? MODEL.frameBytes
      : MODEL.batchEnvelopeBytes + Math.min(ceil(records), perFrame) * (MODEL.frameBytes + 1);
  const unitsPerFrame = Math.ceil(frameBytes / meter);
  const invocations = invocationsPerSecond * secondsPerMonth;
  const frames = invocations * framesPerViewer * viewers;
  const meteredMessages = frames * unitsPerFrame;
  const durationMs = invocationMs(viewers, memoryMb, {
    records,
    framesPerViewer,
    frameBytes,
  });
  const lambdaConcurrency = invocationsPerSecond * (durationMs / 1000);
  const reconnects = viewers * MODEL.reconnectsPerViewerPerDay * (MODEL.hoursPerMonth / 24);

  // SQS (batched): one SendMessage per reading from the rule's action (its body in 64 KB
  // chunks), the pollers' receives (a receive of ≤ 10 small messages is one chunk), one
  // DeleteMessageBatch per 10 records of each batch.
  const sqsSends = readings * Math.ceil(MODEL.sqsBodyBytes / PRICES.sqs.requestMeterBytes);
  const sqsReceives = receivesPerSecond(readingsPerSecond) * secondsPerMonth;
  const sqsDeletes = invocations * ceil(records / PRICES.sqs.maxEntriesPerDeleteBatch);
  const sqsRequests = mode === 'batched' ? sqsSends + sqsReceives + sqsDeletes : 0;

  // DynamoDB, the change log (shared/connections/change-log.ts, snapshot.ts): every invocation
  // reads the shards' counters in one consistent BatchGetItem (1 RRU each); every warm instance
  // queries a shard whose counter moved and reads the connections its entries name; and rescans (the shard counters and
  // every connection item, consistent: 1 RRU per 4 KB) when its copy is 5 minutes old.
  const instances = Math.max(1, lambdaConcurrency);
  const changesPerMonth = reconnects * 2;
  const logQueryRru = invocations * MODEL.changeLogShards;
  const catchUpRru = changesPerMonth * instances * MODEL.rruPerChangePerInstance;
  const rescanRru =
    ((instances * secondsPerMonth) / MODEL.snapshotMaxAgeSeconds) *
    (MODEL.changeLogShards + Math.ceil((viewers * MODEL.connectionItemBytes) / 4096));
  // connect: item + shard counter + log entry; disconnect: the same.
  const writeWru = reconnects * 3 * 2;
  const gbSeconds = invocations * (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
  // Connection routes: authorize + connect on each reconnect, disconnect at its end.
  const routeInvocations = reconnects * 3;
  // Every reading to every viewer, plus each batch frame's envelope.
  const bytesOut =
    mode === 'direct'
      ? frames * MODEL.frameBytes
      : readings * viewers * (MODEL.frameBytes + 1) + frames * MODEL.batchEnvelopeBytes;

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
      usage: `${fmt(readings)} messages`,
      usd: tiered(
        readings * Math.ceil(MODEL.payloadBytes / PRICES.iot.messageMeterBytes),
        PRICES.iot.messagingTiers,
      ),
    },
    {
      service: 'IoT Core',
      item: `rules triggered + ${mode === 'direct' ? 'Lambda' : 'SQS'} actions`,
      usage: `${fmt(readings)} + ${fmt(readings)}`,
      usd:
        perMillion(readings, PRICES.iot.rulesTriggeredPerMillion) +
        perMillion(readings, PRICES.iot.actionsExecutedPerMillion),
    },
    ...(mode === 'batched'
      ? [
          {
            service: 'SQS',
            item: 'requests: sends + receives + deletes',
            usage: `${fmt(sqsSends)} + ${fmt(sqsReceives)} + ${fmt(sqsDeletes)}`,
            usd: tiered(sqsRequests, PRICES.sqs.requestTiers),
          },
        ]
      : []),
    {
      service: 'Lambda',
      item: 'requests',
      usage: `${fmt(invocations + routeInvocations)} invocations`,
      usd: perMillion(invocations + routeInvocations, PRICES.lambda.requestsPerMillion),
    },
    {
      service: 'Lambda',
      item: `forwardTelemetry duration (${memoryMb} MB, ~${fmt(durationMs)} ms)`,
      usage: `${fmt(gbSeconds)} GB-s`,
      usd: gbSeconds * PRICES.lambda.arm64PerGbSecond,
    },
    {
      service: 'DynamoDB',
      item: 'reads: change log + catch-up + rescans',
      usage: `${fmt(logQueryRru)} + ${fmt(catchUpRru)} + ${fmt(rescanRru)} RRU`,
      usd: perMillion(
        logQueryRru + catchUpRru + rescanRru,
        PRICES.dynamodb.readRequestUnitsPerMillion,
      ),
    },
    {
      service: 'DynamoDB',
      item: 'writes: connections + change log',
      usage: `${fmt(writeWru)} WRU`,
      usd: perMillion(writeWru, PRICES.dynamodb.writeRequestUnitsPerMillion),
    },
    {
      service: 'API Gateway',
      item: `WebSocket messages (${mode === 'direct' ? 'telemetry' : 'telemetryBatch'} frames)`,
      usage: `${fmt(meteredMessages)} messages`,
      usd: tiered(meteredMessages, PRICES.apiGatewayWebSocket.messageTiers),
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
      usage: `${fmt((invocations * MODEL.logBytesPerInvocation) / 1e9)} GB`,
      usd:
        ((invocations * MODEL.logBytesPerInvocation) / 1e9) * PRICES.cloudWatchLogs.ingestionPerGb,
    },
    {
      service: 'Data transfer',
      item: 'out to viewers',
      usage: `${fmt(bytesOut / 1e9)} GB`,
      usd: (bytesOut / 1e9) * PRICES.dataTransferOutPerGb,
    },
  ];
  const totalUsd = lines.reduce((sum, line) => sum + line.usd, 0);
  return {
    input: { devices, intervalMs, viewers, mode, memoryMb, batchSize, batchWindowSeconds },
    readingsPerMonth: readings,
    readingsPerSecond,
    invocationsPerSecond,
    invocationsPerReading: readingsPerSecond > 0 ? invocationsPerSecond / readingsPerSecond : 0,
    readingsPerInvocation: records,
    framesPerViewerPerInvocation: framesPerViewer,
    frameBytes,
    meteredMessagesPerReadingPerViewer: (framesPerViewer * unitsPerFrame) / records,
    sqsRequestsPerReading: readings > 0 ? sqsRequests / readings : 0,
    invocationMs: durationMs,
    lambdaConcurrency,
    postsPerSecond: invocationsPerSecond * framesPerViewer * viewers,
    lines,
    totalUsd,
    usdPerMillionReadings: readings > 0 ? (totalUsd / readings) * million : 0,
  };
}

/**
 * The crossover: the lowest reading rate (readings/s, the devices of `input` sending faster or
 * slower) from which the batched mode costs no more per reading than the direct one, searched on
 * a log scale from 0.01 to 100 000 readings/s; undefined when it never does.
 */
export function crossoverReadingsPerSecond(
  input: Omit<CostInput, 'intervalMs' | 'mode'>,
): number | undefined {
  const perReading = (rate: number, mode: DeliveryMode) =>
    estimateMonthlyCost({ ...input, intervalMs: (input.devices / rate) * 1000, mode })
      .usdPerMillionReadings;
  const cheaper = (rate: number) => perReading(rate, 'batched') <= perReading(rate, 'direct');
  const grid = Array.from({ length: 71 }, (_, i) => 10 ** (-2 + i / 10));
  const first = grid.findIndex(cheaper);
  if (first < 0) return undefined;
  if (first === 0) return grid[0];
  // Bisect between the last dearer and the first cheaper grid point.
  let [low, high] = [grid[first - 1]!, grid[first]!];
  for (let i = 0; i < 30; i++) {
    const middle = Math.sqrt(low * high);
    if (cheaper(middle)) high = middle;
    else low = middle;
  }
  return high;
}

export function fmt(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}
