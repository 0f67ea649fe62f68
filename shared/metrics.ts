/**
 * The functions' own metrics, as CloudWatch embedded metric format (EMF) lines on stdout: in
 * Lambda, CloudWatch Logs turns each line into metrics with no API call and no extra permission
 * ("Specification: Embedded metric format", Amazon CloudWatch User Guide); offline, the same
 * lines appear in the stack's output. Namespace and service come from POWERTOOLS_METRICS_NAMESPACE
 * and POWERTOOLS_SERVICE_NAME; every metric also carries the stage.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import { RateLimitedError } from './errors';
import type { DeliveryReport } from './protocol';

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'telemetry',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'telemetry',
  ...(process.env.STAGE ? { defaultDimensions: { stage: process.env.STAGE } } : {}),
});

/** Every metric name the functions emit (README "Operating it" explains each). */
export const MetricName = {
  /** Device readings that reached every subscribed viewer (the invocation succeeded). */
  readingsForwarded: 'ReadingsForwarded',
  deliveriesDelivered: 'DeliveriesDelivered',
  /** PostToConnection answered 410: the viewer had left. */
  deliveriesGone: 'DeliveriesGone',
  /** Still failing after the retries: the event is retried, then dead-lettered. */
  deliveriesFailed: 'DeliveriesFailed',
  /** One fan-out, from the first PostToConnection to the last answer. */
  fanOutDuration: 'FanOutDuration',
  /** Viewers one fan-out addressed. */
  viewers: 'Viewers',
  /** Frames each addressed viewer was sent by one fan-out (1 per reading in direct delivery). */
  framesPerViewer: 'FramesPerViewer',
  /** Batched delivery: frames one invocation posted (each one metered API Gateway message). */
  framesSent: 'FramesSent',
  /** Batched delivery: readings per frame, over the frames one invocation addressed. */
  readingsPerFrame: 'ReadingsPerFrame',
  /** Batched delivery: the records one invocation took from the delivery queue. */
  batchRecords: 'BatchRecords',
  /** $connect handshakes the authorizer denied (no token, or an invalid one). */
  authorizerRefusals: 'AuthorizerRefusals',
  /** Client frames answered RATE_LIMITED. */
  rateLimitedFrames: 'RateLimitedFrames',
} as const;

/** Counts one fan-out's outcome and how long it took. */
export function recordFanOut(report: DeliveryReport, durationMs: number, frames = 1): void {
  const viewers = report.delivered + report.gone + report.failed;
  metrics.addMetric(MetricName.deliveriesDelivered, MetricUnit.Count, report.delivered);
  metrics.addMetric(MetricName.deliveriesGone, MetricUnit.Count, report.gone);
  metrics.addMetric(MetricName.deliveriesFailed, MetricUnit.Count, report.failed);
  metrics.addMetric(MetricName.fanOutDuration, MetricUnit.Milliseconds, durationMs);
  metrics.addMetric(MetricName.viewers, MetricUnit.Count, viewers);
  // Only a fan-out that addressed someone says anything about frames per viewer.
  if (viewers > 0) metrics.addMetric(MetricName.framesPerViewer, MetricUnit.Count, frames);
}

export function recordReadingForwarded(readings = 1): void {
  metrics.addMetric(MetricName.readingsForwarded, MetricUnit.Count, readings);
}

/**
 * One batched invocation: its records, the frames it posted, and how full its frames were
 * (readings per frame over every frame it addressed to a viewer; none when it addressed none).
 */
export function recordBatch(
  records: number,
  framesSent: number,
  readingsPerFrame: number | undefined,
): void {
  metrics.addMetric(MetricName.batchRecords, MetricUnit.Count, records);
  metrics.addMetric(MetricName.framesSent, MetricUnit.Count, framesSent);
  if (readingsPerFrame !== undefined) {
    metrics.addMetric(MetricName.readingsPerFrame, MetricUnit.Count, readingsPerFrame);
  }
}

export function recordAuthorizerRefusal(): void {
  metrics.addMetric(MetricName.authorizerRefusals, MetricUnit.Count, 1);
}

/**
 * Writes the invocation's metrics once it is answered, an error answer too. It runs after every
 * other middleware's `after`/`onError`, so a RATE_LIMITED error already turned into an error
 * frame is still seen (and counted) here.
 */
export function emitMetrics<TEvent, TResult>(): MiddlewareObj<TEvent, TResult> {
  const flush = () => {
    // An invocation that recorded nothing writes nothing (Powertools would warn instead).
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return {
    name: 'emitMetrics',
    after: flush,
    onError: ({ error }) => {
      if (error instanceof RateLimitedError) {
        metrics.addMetric(MetricName.rateLimitedFrames, MetricUnit.Count, 1);
      }
      flush();
    },
  };
}
