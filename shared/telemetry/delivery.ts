/**
 * forwardTelemetry's two delivery modes (README "Delivery modes"):
 * - `forwardReading`: direct, one rule event, one `telemetry` frame to every subscribed viewer;
 *   any viewer unreachable after the retries fails the invocation, so Lambda retries it and then
 *   dead-letters it.
 * - `forwardBatch`: batched, the records of the delivery queue, coalesced per viewer
 *   (batch.ts); the invocation answers which records some viewer did not get, and only those
 *   come back from the queue (ReportBatchItemFailures).
 */
import type { Context } from 'aws-lambda';
import type { Broadcaster } from '../connections/broadcaster';
import { PartialDeliveryError } from '../errors';
import { logger } from '../logger';
import { recordBatch, recordFanOut, recordReadingForwarded } from '../metrics';
import {
  telemetryEventSchema,
  type DeliveryReport,
  type SqsBatchResponse,
  type SqsRecord,
  type TelemetryEvent,
  type TelemetryFrame,
} from '../protocol';
import { ViewerFramePlanner, type BatchItem, type PlannedFrame } from './batch';
import { fitToMessageLimit, telemetryFrame } from './frame';

/** Keep a second in hand so a retry-exhausted failure is still reported before the timeout. */
function deadlineOf(context: Context): number {
  return Date.now() + context.getRemainingTimeInMillis() - 1_000;
}

/** The frame for an event, or its tooLarge stand-in (logged: the viewers do not get the payload). */
function frameOf(event: TelemetryEvent, fallbackId: string): TelemetryFrame {
  const { frame, oversized } = fitToMessageLimit(telemetryFrame(event, fallbackId));
  if (oversized) {
    const { id, deviceId, topic, size } = frame;
    logger.warn('Telemetry frame over the WebSocket message limit: clients get a tooLarge frame', {
      id,
      deviceId,
      topic,
      size,
      ...oversized,
    });
  }
  return frame;
}

export async function forwardReading(
  broadcaster: Broadcaster,
  event: TelemetryEvent,
  context: Context,
): Promise<DeliveryReport> {
  const frame = frameOf(event, context.awsRequestId);
  const { topic, deviceId } = frame;
  const started = Date.now();
  const result = await broadcaster.broadcast(frame, { topic, deadline: deadlineOf(context) });
  recordFanOut(result, Date.now() - started);
  const report = { delivered: result.delivered, gone: result.gone, failed: result.failed };
  if (result.failed > 0) {
    const failures = result.failures.map(({ connectionId, error }) => ({
      connectionId,
      error: String(error),
    }));
    logger.warn('Some connections could not be reached; the event will be retried', {
      ...report,
      failures,
    });
    throw new PartialDeliveryError(report, failures);
  }
  recordReadingForwarded();
  logger.info('Telemetry forwarded', { deviceId, topic, kind: frame.kind, ...report });
  return report;
}

/** A record's body as the rule's event, or why it is not one. */
function readRecord(record: SqsRecord): { event: TelemetryEvent } | { problem: string } {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    return { problem: `the body is not JSON (${(error as Error).message})` };
  }
  const parsed = telemetryEventSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) =>
      issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    );
    return { problem: `the body is not a telemetry event (${issues.join('; ')})` };
  }
  return { event: parsed.data };
}

export async function forwardBatch(
  broadcaster: Broadcaster,
  records: readonly SqsRecord[],
  context: Context,
): Promise<SqsBatchResponse> {
  const failed = new Set<string>();
  // By frame id: a reading the queue holds twice (SQS delivers at least once) is sent once.
  const items = new Map<string, BatchItem<string> & { records: string[] }>();
  for (const record of records) {
    const read = readRecord(record);
    if ('problem' in read) {
      // Reported failed rather than dropped: it comes back until the queue's maxReceiveCount,
      // then SQS moves it to the dead-letter queue, where it can be read (`npm run dlq`).
      logger.warn('Unreadable delivery record: reported failed, for the dead-letter queue', {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        reason: read.problem,
      });
      failed.add(record.messageId);
      continue;
    }
    // The record's message id stands in for a missing frame id: it is the same at each receive.
    const frame = frameOf(read.event, record.messageId);
    const item = items.get(frame.id);
    if (item) item.records.push(record.messageId);
    else items.set(frame.id, { frame, records: [record.messageId] });
  }

  let framesAddressed = 0;
  let readingsAddressed = 0;
  let nextFrame = 0;
  const planner = new ViewerFramePlanner<string>(
    [...items.values()],
    () => `${context.awsRequestId}-${nextFrame++}`,
  );
  const started = Date.now();
  const result = await broadcaster.deliverEach(
    (connection) => {
      const frames = planner.framesFor(connection);
      framesAddressed += frames.length;
      for (const frame of frames) readingsAddressed += frame.readings;
      return frames;
    },
    { deadline: deadlineOf(context) },
  );
  const report = { delivered: result.delivered, gone: result.gone, failed: result.failed };
  const viewers = report.delivered + report.gone + report.failed;
  recordFanOut(report, Date.now() - started, viewers > 0 ? framesAddressed / viewers : 0);
  recordBatch(
    records.length,
    result.posts,
    framesAddressed > 0 ? readingsAddressed / framesAddressed : undefined,
  );

  const undelivered = new Set(
    result.failures.flatMap(({ undelivered }) =>
      undelivered.flatMap((frame: PlannedFrame<string>) => frame.records),
    ),
  );
  for (const id of undelivered) failed.add(id);
  const summary = {
    records: records.length,
    readings: items.size,
    ...report,
    framesSent: result.posts,
    failedRecords: failed.size,
  };
  if (result.failed > 0) {
    logger.warn('Some connections could not be reached; their readings will be redelivered', {
      ...summary,
      failures: result.failures.map(({ connectionId, error, undelivered }) => ({
        connectionId,
        error: String(error),
        undeliveredFrames: undelivered.length,
      })),
    });
  } else {
    logger.info('Telemetry batch forwarded', summary);
  }
  recordReadingForwarded(records.length - failed.size);
  // In the order of the batch, as the records came.
  return {
    batchItemFailures: records
      .filter((record) => failed.delete(record.messageId))
      .map((record) => ({ itemIdentifier: record.messageId })),
  };
}
