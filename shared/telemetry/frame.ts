/**
 * The telemetry frame WebSocket clients receive for one rule event, and its replacement when it
 * would not fit in an API Gateway message.
 */
import { WEBSOCKET_MESSAGE_MAX_BYTES } from '../limits';
import type { TelemetryEvent, TelemetryFrame } from '../protocol';
import { telemetryTopic } from '../topics';
import { classifyPayload } from './payload';

export function telemetryFrame(event: TelemetryEvent, fallbackId: string): TelemetryFrame {
  const {
    deviceId,
    receivedAt,
    topic = telemetryTopic(deviceId),
    messageId,
    payload,
    ...fields
  } = event;
  const head = {
    type: 'telemetry',
    id: messageId ?? fallbackId,
    topic,
    deviceId,
    receivedAt,
  } as const;
  const legacy =
    Object.keys(fields).length > 0 || (payload !== undefined && typeof payload !== 'string');
  if (!legacy) {
    // The rule's encode(*, 'base64'); an absent `payload` is an empty one.
    const bytes = Buffer.from(typeof payload === 'string' ? payload : '', 'base64');
    return { ...head, size: bytes.length, data: {}, ...classifyPayload(bytes) };
  }
  // An event of the earlier SQL: the JSON object's fields, merged with the metadata.
  const data = payload === undefined ? fields : { ...fields, payload };
  return { ...head, size: Buffer.byteLength(JSON.stringify(data)), data, kind: 'object' };
}

export interface FittedFrame {
  frame: TelemetryFrame;
  /** Set when the original frame was too large and `frame` says so in its place. */
  oversized?: { frameSize: number; limit: number };
}

/**
 * API Gateway refuses a PostToConnection whose data exceeds 128 KB (413, "Quotas for configuring
 * and running a WebSocket API in API Gateway": message payload size), and does so for every
 * client alike. Such a frame is replaced by a `tooLarge` frame with the same id, topic and size
 * but without the payload, so the clients learn that a message came and why it is not shown.
 */
export function fitToMessageLimit(
  frame: TelemetryFrame,
  limit = WEBSOCKET_MESSAGE_MAX_BYTES,
): FittedFrame {
  const frameSize = Buffer.byteLength(JSON.stringify(frame));
  if (frameSize <= limit) return { frame };
  const { type, id, topic, deviceId, receivedAt, size } = frame;
  return {
    frame: {
      type,
      id,
      topic,
      deviceId,
      receivedAt,
      size,
      data: {},
      kind: 'tooLarge',
      payloadKind: frame.kind === 'tooLarge' ? frame.payloadKind : frame.kind,
      frameSize,
      limit,
    },
    oversized: { frameSize, limit },
  };
}
