/** The delivery benchmark's section of the printed report (bench/report.ts). */
import type { DeliveryResult } from './delivery';
import { formatNumber, table } from './support/markdown';
import { measuredUsd } from './targets';

/** Per-reading counts with two significant digits: 0.013 is not 0.01. */
const perReading = (value: number) =>
  Number.isInteger(value) ? String(value) : value.toPrecision(2);

export function renderDelivery(delivery: DeliveryResult): string[] {
  const parts = [
    '\n### Delivery modes: direct vs batched, per reading\n',
    `Through the offline stack (stack start: ${Object.entries(delivery.stackStartMs)
      .map(([mode, ms]) => `${mode} ${formatNumber(ms)} ms`)
      .join(', ')}); batched with batches of ≤ ${delivery.batchSize} readings or ` +
      `${delivery.batchWindowSeconds} s. Devices publish over MQTT (QoS 1), real WebSocket viewers ` +
      'receive. *msgs* = API Gateway messages metered per reading per viewer (each received frame ' +
      '⌈bytes / 32 KB⌉), *invocations* = forwardTelemetry invocations per reading (its log lines), ' +
      'latency = device publish → viewer receipt, *lost* / *dup* = deliveries (reading × viewer), ' +
      '*USD* = per million readings at list price for what differs between the modes (API Gateway ' +
      'messages, Lambda requests, change-log reads and logs per invocation; SQS requests as ' +
      '`npm run cost` models them). A cell *not driven* could not run at its rate on this machine: ' +
      'what it achieved is said, and its latency is queueing.\n',
    table(
      [
        'mode',
        'readings/s',
        'viewers',
        'readings',
        'msgs',
        'invocations',
        'invocation p50 ms',
        'p50 ms',
        'p99 ms',
        'lost',
        'dup',
        'largest frame B',
        'USD',
        'driven at the rate?',
      ],
      delivery.rows.map((row) => [
        row.mode,
        row.rate,
        row.viewers,
        row.readings,
        perReading(row.meteredPerReadingPerViewer),
        perReading(row.invocationsPerReading),
        row.invocationP50Ms,
        row.p50Ms,
        row.p99Ms,
        row.lost,
        row.duplicates,
        row.maxFrameBytes,
        measuredUsd(row),
        row.driven ? 'yes' : `no: ${row.notDriven}`,
      ]),
    ),
  ];
  if (delivery.errors.length) {
    parts.push(...delivery.errors.map((error) => `- not measured: ${error}`), '');
  }
  return parts;
}
