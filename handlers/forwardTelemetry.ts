import type { Context } from 'aws-lambda';
import { eventHandler } from '../shared/middleware/chain';
import { isSqsEvent, sqsEventSchema, telemetryEventSchema } from '../shared/protocol';
import { broadcaster } from '../shared/runtime/broadcaster';
import { forwardBatch, forwardReading } from '../shared/telemetry/delivery';

/** `direct` delivery: the IoT topic rule on devices/+/telemetry invokes with one message. */
const forwardOne = eventHandler(telemetryEventSchema, (event, context) =>
  forwardReading(broadcaster(), event, context),
);

/** `batched` delivery: the delivery queue's event source mapping invokes with its records. */
const forwardQueued = eventHandler(sqsEventSchema, (event, context) =>
  forwardBatch(broadcaster(), event.Records, context),
);

/**
 * Forwards device messages, whatever their payload, to every WebSocket client whose
 * subscriptions match their topic: one rule event, or a batch from the delivery queue
 * (serverless.yml custom.delivery picks which triggers the function on a stage).
 */
export const handler = (event: unknown, context: Context) =>
  isSqsEvent(event) ? forwardQueued(event, context) : forwardOne(event, context);
