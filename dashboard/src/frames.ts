/**
 * Reading server frames. The server is trusted to follow the protocol, but a frame is checked for
 * the fields the dashboard relies on before it is used, so a malformed one is logged, not fatal.
 */
import type { ServerFrame, TelemetryFrame } from '../../shared/protocol';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The frames of one WebSocket message: one, or for a `telemetryBatch` (the batched delivery
 * mode: up to 32 KB of readings in one message, README "Protocol") its telemetry items in the
 * order sent, each with its own id so that a redelivered reading is still dropped by id. A batch
 * with an item that is not a telemetry frame is malformed as a whole: the server builds every
 * item as it builds a single telemetry frame.
 */
export function parseFrames(text: string): ServerFrame[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (isRecord(value) && value.type === 'telemetryBatch') {
    if (typeof value.id !== 'string' || !Array.isArray(value.items)) return undefined;
    const items = value.items.map(telemetryFrame);
    return items.every((item) => item !== undefined) ? (items as TelemetryFrame[]) : undefined;
  }
  const frame = serverFrame(value);
  return frame ? [frame] : undefined;
}

const telemetryFrame = (value: unknown): TelemetryFrame | undefined =>
  isRecord(value) &&
  value.type === 'telemetry' &&
  typeof value.id === 'string' &&
  typeof value.deviceId === 'string' &&
  isRecord(value.data)
    ? (value as unknown as TelemetryFrame)
    : undefined;

function serverFrame(value: unknown): ServerFrame | undefined {
  if (!isRecord(value) || typeof value.type !== 'string') return undefined;
  switch (value.type) {
    case 'telemetry':
      return telemetryFrame(value);
    case 'subscribed':
    case 'unsubscribed':
      return value.topics === null || Array.isArray(value.topics)
        ? (value as unknown as ServerFrame)
        : undefined;
    case 'commandSent':
      return typeof value.commandId === 'string' && typeof value.deviceId === 'string'
        ? (value as unknown as ServerFrame)
        : undefined;
    default:
      return value as unknown as ServerFrame;
  }
}

/**
 * What the message log shows for a telemetry frame: the reading itself for a JSON object (and
 * for frames of a backend that predates `kind`), the text or value for other payloads, and a
 * description where there is nothing readable to show.
 */
export function logPayload(frame: TelemetryFrame): unknown {
  switch (frame.kind) {
    case 'json':
      return frame.value;
    case 'text':
      return frame.text;
    case 'binary':
      return `binary, ${bytes(frame.size)}: ${frame.base64}`;
    case 'empty':
      return 'empty payload';
    case 'tooLarge':
      return `${frame.payloadKind} payload of ${bytes(frame.size)}, too large to forward (${bytes(frame.frameSize)} frame, limit ${bytes(frame.limit)})`;
    default:
      return frame.data;
  }
}

const bytes = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;

/** A device's acknowledgement of a command: telemetry whose data is `{type:'ack', commandId}`. */
export function ackOf(frame: TelemetryFrame): { commandId: string } | undefined {
  const { data } = frame;
  return data.type === 'ack' && typeof data.commandId === 'string'
    ? { commandId: data.commandId }
    : undefined;
}
