/**
 * The WebSocket message protocol: every action a client may send and every frame it may receive.
 * One source of truth for validation (zod) and for the TypeScript types the handlers, the
 * simulator and the dashboard share.
 */
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from './limits';
import { topicFilterProblem } from './topics';

// zod/mini keeps bundles small; the English locale gives readable validation messages.
z.config(en());

/** IoT Core's rule for thing names; the thing name is the device id and its MQTT client id. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export const deviceIdSchema = z
  .string()
  .check(z.regex(THING_NAME_PATTERN, 'must be a thing name: 1-128 of a-z A-Z 0-9 : _ -'));

const topicFilterSchema = z.string().check(
  z.superRefine((filter, ctx) => {
    const problem = topicFilterProblem(filter);
    if (problem) ctx.addIssue({ code: 'custom', message: `invalid topic filter: ${problem}` });
  }),
);

/** Longest `requestId` a client may send; every answer to that request echoes it. */
export const REQUEST_ID_MAX_LENGTH = 64;
export const requestIdSchema = z.string().check(z.minLength(1), z.maxLength(REQUEST_ID_MAX_LENGTH));
const requestId = z.optional(requestIdSchema);

const topicListSchema = z
  .array(topicFilterSchema)
  .check(z.minLength(1), z.maxLength(MAX_SUBSCRIPTIONS_PER_CONNECTION));

export const sendMessageSchema = z.object({
  action: z.literal('sendMessage'),
  requestId,
  message: z.string().check(z.minLength(1, 'must not be empty')),
});

export const subscribeSchema = z.object({
  action: z.literal('subscribe'),
  requestId,
  topics: topicListSchema,
});

export const unsubscribeSchema = z.object({
  action: z.literal('unsubscribe'),
  requestId,
  topics: topicListSchema,
});

/** Deeper commands are refused before validation: z.json() walks them recursively. */
export const MAX_COMMAND_DEPTH = 32;

const commandSchema = z.pipe(
  z.unknown().check(
    z.refine((value) => jsonValueDepth(value) <= MAX_COMMAND_DEPTH, {
      message: `must not be nested more than ${MAX_COMMAND_DEPTH} levels`,
      abort: true,
    }),
  ),
  z.union([z.string().check(z.minLength(1)), z.record(z.string(), z.json())]),
);

export const sendCommandSchema = z.object({
  action: z.literal('sendCommand'),
  requestId,
  deviceId: deviceIdSchema,
  command: commandSchema,
});

export const ACTIONS = ['sendMessage', 'subscribe', 'unsubscribe', 'sendCommand'] as const;

/**
 * How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), counted without
 * recursion and stopping past MAX_COMMAND_DEPTH, so any depth is measured safely and quickly.
 */
function jsonValueDepth(value: unknown): number {
  let deepest = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > MAX_COMMAND_DEPTH) return deepest;
    for (const child of Object.values(current)) stack.push({ value: child, depth: depth + 1 });
  }
  return deepest;
}

export type SendMessageRequest = z.infer<typeof sendMessageSchema>;
export type SubscribeRequest = z.infer<typeof subscribeSchema>;
export type UnsubscribeRequest = z.infer<typeof unsubscribeSchema>;
export type SendCommandRequest = z.infer<typeof sendCommandSchema>;
export type ClientAction =
  SendMessageRequest | SubscribeRequest | UnsubscribeRequest | SendCommandRequest;

/**
 * What the topic rule's SQL (serverless.yml custom.telemetryRuleSql) makes of a message on
 * `devices/{id}/telemetry`: the payload's bytes base64-encoded (`payload`, any payload at all)
 * and the metadata. Events of the earlier SQL (`SELECT *, …`: the JSON object's own fields merged
 * with the metadata) are still accepted, so that queued or dead-lettered events can be redriven.
 */
export const telemetryEventSchema = z.catchall(
  z.object({
    deviceId: deviceIdSchema,
    receivedAt: z.number(),
    topic: z.optional(z.string()),
    messageId: z.optional(z.string()),
    payload: z.optional(z.unknown()),
  }),
  z.unknown(),
);
export type TelemetryEvent = z.infer<typeof telemetryEventSchema>;

/**
 * What the delivery queue's event source mapping invokes forwardTelemetry with in the batched
 * delivery mode (resources/delivery-batched.yml): an SQS event as Lambda builds it ("Using Lambda
 * with Amazon SQS", example event), of which only these fields are read. Each `body` is the
 * rule's SQL output as JSON, the same object the direct mode's event is.
 */
export const sqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string().check(z.minLength(1)),
      body: z.string(),
      eventSource: z.literal('aws:sqs'),
      attributes: z.optional(z.object({ ApproximateReceiveCount: z.optional(z.string()) })),
    }),
  ),
});
export type SqsEvent = z.infer<typeof sqsEventSchema>;
export type SqsRecord = SqsEvent['Records'][number];

/** An event with `Records` came from an event source mapping, not from the rule itself. */
export function isSqsEvent(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    Array.isArray((event as { Records?: unknown }).Records)
  );
}

/**
 * Lambda's partial batch response (ReportBatchItemFailures): the records named come back to the
 * queue, every other one is deleted ("Handling errors for an SQS event source in Lambda").
 */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** What the cloud publishes to `devices/{id}/commands`. */
export interface DeviceCommand {
  commandId: string;
  command: SendCommandRequest['command'];
  issuedAt: string;
}

// Frames the server sends to a WebSocket client.
interface TelemetryFrameBase {
  type: 'telemetry';
  /** Unique per device message; a client drops a frame whose id it has seen (retries). */
  id: string;
  topic: string;
  deviceId: string;
  receivedAt: number;
  /** The payload's size in bytes, as the device published it. */
  size: number;
  /** The payload when it is a JSON object (kind `object`); `{}` for every other kind. */
  data: Record<string, unknown>;
}
/** What the device published; each kind carries the payload in its own field (README). */
export type TelemetryFrame = TelemetryFrameBase &
  (
    | { kind: 'object' }
    /** Any other JSON value: array, number, string, boolean, null. */
    | { kind: 'json'; value: unknown }
    /** UTF-8 text that is not JSON (or JSON nested too deep to unpack). */
    | { kind: 'text'; text: string }
    /** Bytes that are not text, base64-encoded. */
    | { kind: 'binary'; base64: string }
    | { kind: 'empty' }
    /** The frame would exceed API Gateway's 128 KB message limit: it says so, without the payload. */
    | { kind: 'tooLarge'; payloadKind: TelemetryPayloadKind; frameSize: number; limit: number }
  );
export type TelemetryPayloadKind = 'object' | 'json' | 'text' | 'binary' | 'empty';
/**
 * Batched delivery (README "Delivery modes"): the readings of one batch that a viewer subscribed
 * to, in one message of at most 32 KB (one API Gateway metering unit). Each item is the
 * `telemetry` frame the direct mode would have sent, with its own id: a client drops an item
 * whose id it has seen (a redelivered reading), not the whole frame. A device's readings are in
 * the order they were received within a frame and across the frames of one batch; batches run
 * side by side (as Lambda runs them for a standard queue) may interleave: `receivedAt` orders.
 */
export interface TelemetryBatchFrame {
  type: 'telemetryBatch';
  /** Unique per frame (the same frame sent to several viewers has one id). */
  id: string;
  items: TelemetryFrame[];
}
export interface ChatFrame {
  type: 'message';
  id: string;
  /**
   * The sender's alias: opaque, the same for every message of one connection, never its
   * connection id (which would let other clients reach that connection).
   */
  from: string;
  message: string;
  sentAt: string;
}
export interface DeliveryReport {
  delivered: number;
  gone: number;
  failed: number;
}
/** An answer to one client action: it carries the action's `requestId` when it had one. */
interface Reply {
  requestId?: string;
}
export interface SentFrame extends DeliveryReport, Reply {
  type: 'sent';
  id: string;
}
export interface SubscriptionFrame extends Reply {
  type: 'subscribed' | 'unsubscribed';
  /** The connection's filters after the change; `null` means it receives all telemetry. */
  topics: string[] | null;
}
export interface CommandSentFrame extends Reply {
  type: 'commandSent';
  commandId: string;
  deviceId: string;
  topic: string;
}
export interface ErrorFrame extends Reply {
  type: 'error';
  code: string;
  message: string;
  details?: unknown;
}
/** What a route answers to the action it handled. */
export type ReplyFrame = SentFrame | SubscriptionFrame | CommandSentFrame | ErrorFrame;
export type ServerFrame =
  | TelemetryFrame
  | TelemetryBatchFrame
  | ChatFrame
  | SentFrame
  | SubscriptionFrame
  | CommandSentFrame
  | ErrorFrame;
