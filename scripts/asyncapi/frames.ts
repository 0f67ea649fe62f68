/**
 * zod schemas for what the cloud sends (WebSocket frames, device commands) and what devices send
 * besides readings (command acknowledgements). shared/protocol.ts declares these as TypeScript
 * types only (the handlers build them, nothing parses them), so each schema here is checked
 * against its type at compile time: `npm run typecheck` fails the moment the two disagree.
 */
import * as z from 'zod/mini';
import type { ErrorCode } from '../../shared/errors';
import {
  REQUEST_ID_MAX_LENGTH,
  sendCommandSchema,
  THING_NAME_PATTERN,
  type ChatFrame,
  type CommandSentFrame,
  type DeviceCommand,
  type ErrorFrame,
  type SentFrame,
  type SubscriptionFrame,
  type TelemetryBatchFrame,
  type TelemetryFrame,
} from '../../shared/protocol';
import type { CommandAck } from '../simulator/mqtt-device';

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <A, B>(proof: Same<A, B>): Same<A, B> => proof;

const requestId = z.optional(z.string().check(z.minLength(1), z.maxLength(REQUEST_ID_MAX_LENGTH)));
const deviceId = z.string().check(z.regex(THING_NAME_PATTERN));
const count = z.number().check(z.int(), z.nonnegative());
const payloadKind = z.enum(['object', 'json', 'text', 'binary', 'empty']);

const telemetryBase = {
  type: z.literal('telemetry'),
  id: z.string(),
  topic: z.string(),
  deviceId: z.string(),
  receivedAt: z.number(),
  size: count,
  data: z.record(z.string(), z.unknown()),
};
export const telemetryFrameSchema = z.discriminatedUnion('kind', [
  z.object({ ...telemetryBase, kind: z.literal('object') }),
  z.object({ ...telemetryBase, kind: z.literal('json'), value: z.unknown() }),
  z.object({ ...telemetryBase, kind: z.literal('text'), text: z.string() }),
  z.object({ ...telemetryBase, kind: z.literal('binary'), base64: z.string() }),
  z.object({ ...telemetryBase, kind: z.literal('empty') }),
  z.object({
    ...telemetryBase,
    kind: z.literal('tooLarge'),
    payloadKind,
    frameSize: count,
    limit: count,
  }),
]);
same<z.infer<typeof telemetryFrameSchema>, TelemetryFrame>(true);

/**
 * Batched delivery (issue 15): the readings of one SQS batch that match a viewer's filters, in
 * one message of at most 32 KB (one API Gateway metering unit), each item a telemetry frame as
 * the direct mode sends it, with its own id for dropping redeliveries.
 */
export const telemetryBatchFrameSchema = z.object({
  type: z.literal('telemetryBatch'),
  id: z.string(),
  items: z.array(telemetryFrameSchema),
});
same<z.infer<typeof telemetryBatchFrameSchema>, TelemetryBatchFrame>(true);

export const chatFrameSchema = z.object({
  type: z.literal('message'),
  id: z.string(),
  from: z.string(),
  message: z.string(),
  sentAt: z.iso.datetime(),
});
same<z.infer<typeof chatFrameSchema>, ChatFrame>(true);

export const sentFrameSchema = z.object({
  type: z.literal('sent'),
  requestId,
  id: z.string(),
  delivered: count,
  gone: count,
  failed: count,
});
same<z.infer<typeof sentFrameSchema>, SentFrame>(true);

export const subscriptionFrameSchema = z.object({
  type: z.enum(['subscribed', 'unsubscribed']),
  requestId,
  topics: z.nullable(z.array(z.string())),
});
same<z.infer<typeof subscriptionFrameSchema>, SubscriptionFrame>(true);

export const commandSentFrameSchema = z.object({
  type: z.literal('commandSent'),
  requestId,
  commandId: z.string(),
  deviceId,
  topic: z.string(),
});
same<z.infer<typeof commandSentFrameSchema>, CommandSentFrame>(true);

export const errorFrameSchema = z.object({
  type: z.literal('error'),
  requestId,
  code: z.enum([
    'INVALID_JSON',
    'UNKNOWN_ACTION',
    'VALIDATION_FAILED',
    'MESSAGE_TOO_LARGE',
    'FORBIDDEN',
    'RATE_LIMITED',
    'NOT_REGISTERED',
    'COMMAND_FAILED',
    'INTERNAL_ERROR',
  ]),
  message: z.string(),
  details: z.optional(z.unknown()),
});
// `code` is a plain string in the frame's type; the codes are shared/errors.ts's ErrorCode.
same<Omit<z.infer<typeof errorFrameSchema>, 'code'>, Omit<ErrorFrame, 'code'>>(true);
same<z.infer<typeof errorFrameSchema>['code'], ErrorCode>(true);

export const deviceCommandSchema = z.object({
  commandId: z.string(),
  command: sendCommandSchema.shape.command,
  issuedAt: z.iso.datetime(),
});
same<z.infer<typeof deviceCommandSchema>, DeviceCommand>(true);

export const commandAckSchema = z.object({
  type: z.literal('ack'),
  commandId: z.string(),
  deviceId,
  ts: z.number(),
});
same<z.infer<typeof commandAckSchema>, CommandAck>(true);
