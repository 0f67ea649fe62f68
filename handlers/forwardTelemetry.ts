import { broadcaster } from '../shared/runtime/broadcaster';
import { PartialDeliveryError } from '../shared/errors';
import { logger } from '../shared/logger';
import { eventHandler } from '../shared/middleware/chain';
import { telemetryEventSchema, type TelemetryFrame } from '../shared/protocol';
import { telemetryTopic } from '../shared/topics';

/**
 * Triggered by the IoT topic rule on devices/+/telemetry: forwards the reading to every
 * WebSocket client whose subscriptions match the topic.
 */
export const handler = eventHandler(telemetryEventSchema, async (event, context) => {
  const { deviceId, receivedAt, topic = telemetryTopic(deviceId), messageId, ...data } = event;
  const frame: TelemetryFrame = {
    type: 'telemetry',
    id: messageId ?? context.awsRequestId,
    topic,
    deviceId,
    receivedAt,
    data,
  };
  // Keep a second in hand so a retry-exhausted failure is still reported before the timeout.
  const deadline = Date.now() + context.getRemainingTimeInMillis() - 1_000;
  const result = await broadcaster().broadcast(frame, { topic, deadline });
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
  logger.info('Telemetry forwarded', { deviceId, topic, ...report });
  return report;
});
