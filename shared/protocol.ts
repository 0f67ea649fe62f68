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

const topicListSchema = z
  .array(topicFilterSchema)
  .check(z.minLength(1), z.maxLength(MAX_SUBSCRIPTIONS_PER_CONNECTION));

export const sendMessageSchema = z.object({
  action: z.literal('sendMessage'),
  message: z.string().check(z.minLength(1, 'must not be empty')),
});

export const subscribeSchema = z.object({
  action: z.literal('subscribe'),
  topics: topicListSchema,
});

export const unsubscribeSchema = z.object({
  action: z.literal('unsubscribe'),
  topics: topicListSchema,
});

export const sendCommandSchema = z.object({
  action: z.literal('sendCommand'),
  deviceId: deviceIdSchema,
  command: z.union([z.string().check(z.minLength(1)), z.record(z.string(), z.json())]),
});

export const ACTIONS = ['sendMessage', 'subscribe', 'unsubscribe', 'sendCommand'] as const;
export type ActionName = (typeof ACTIONS)[number];

export type SendMessageRequest = z.infer<typeof sendMessageSchema>;
export type SubscribeRequest = z.infer<typeof subscribeSchema>;
export type UnsubscribeRequest = z.infer<typeof unsubscribeSchema>;
export type SendCommandRequest = z.infer<typeof sendCommandSchema>;
export type ClientAction =
  SendMessageRequest | SubscribeRequest | UnsubscribeRequest | SendCommandRequest;

/** What a device publishes to `devices/{id}/telemetry`, enriched by the topic rule's SQL. */
export const telemetryEventSchema = z.catchall(
  z.object({
    deviceId: deviceIdSchema,
    receivedAt: z.number(),
    topic: z.optional(z.string()),
    messageId: z.optional(z.string()),
  }),
  z.unknown(),
);
export type TelemetryEvent = z.infer<typeof telemetryEventSchema>;

/** What the cloud publishes to `devices/{id}/commands`. */
export interface DeviceCommand {
  commandId: string;
  command: SendCommandRequest['command'];
  issuedAt: string;
}

// Frames the server sends to a WebSocket client.
export interface TelemetryFrame {
  type: 'telemetry';
  /** Unique per device message; a client drops a frame whose id it has seen (retries). */
  id: string;
  topic: string;
  deviceId: string;
  receivedAt: number;
  data: Record<string, unknown>;
}
export interface ChatFrame {
  type: 'message';
  id: string;
  from: string;
  message: string;
  sentAt: string;
}
export interface DeliveryReport {
  delivered: number;
  gone: number;
  failed: number;
}
export interface SentFrame extends DeliveryReport {
  type: 'sent';
  id: string;
}
export interface SubscriptionFrame {
  type: 'subscribed' | 'unsubscribed';
  /** The connection's filters after the change; `null` means it receives all telemetry. */
  topics: string[] | null;
}
export interface CommandSentFrame {
  type: 'commandSent';
  commandId: string;
  deviceId: string;
  topic: string;
}
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  details?: unknown;
}
export type ServerFrame =
  TelemetryFrame | ChatFrame | SentFrame | SubscriptionFrame | CommandSentFrame | ErrorFrame;
