import { broadcaster } from '../shared/runtime/broadcaster';
import { PartialDeliveryError } from '../shared/errors';
import { logger } from '../shared/logger';
import { recordFanOut, recordReadingForwarded } from '../shared/metrics';
import { eventHandler } from '../shared/middleware/chain';
import { telemetryEventSchema } from '../shared/protocol';
import { fitToMessageLimit, telemetryFrame } from '../shared/telemetry/frame';

/**
 * Triggered by the IoT topic rule on devices/+/telemetry: forwards the device's message, whatever
 * its payload, to every WebSocket client whose subscriptions match the topic.
 */
export const handler = eventHandler(telemetryEventSchema, async (event, context) => {
  const { frame, oversized } = fitToMessageLimit(telemetryFrame(event, context.awsRequestId));
  const { id, topic, deviceId } = frame;
  if (oversized) {
    logger.warn('Telemetry frame over the WebSocket message limit: clients get a tooLarge frame', {
      id,
      deviceId,
      topic,
      size: frame.size,
      ...oversized,
    });
  }
  // Keep a second in hand so a retry-exhausted failure is still reported before the timeout.
  const deadline = Date.now() + context.getRemainingTimeInMillis() - 1_000;
  const started = Date.now();
  const result = await broadcaster().broadcast(frame, { topic, deadline });
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
});
