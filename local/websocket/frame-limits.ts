/**
 * API Gateway's WebSocket size quotas ("Quotas for configuring and running a WebSocket in API
 * Gateway"): a frame is at most 32 KB and a message at most 128 KB, so a larger message must
 * come in several frames; "if a larger message (or larger frame size) is received, the
 * connection is closed with code 1009". serverless-offline's ws server took messages up to ws's
 * default of 100 MiB, in frames of any size, and handed them to the functions.
 *
 * ws has a message limit but no frame limit, and neither can be changed on a live socket through
 * its API; so each client socket's receiver gets its message limit, and a frame check before its
 * own length check. `assertFrameLimitsApply` checks at start-up that ws still has those parts.
 */
import { createRequire } from 'node:module';
import type { WebSocket } from 'ws';
import { WEBSOCKET_FRAME_MAX_BYTES, WEBSOCKET_MESSAGE_MAX_BYTES } from '../../shared/limits';

// The very ws serverless-offline uses; its types do not declare the Receiver it exports.
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => unknown;
};

interface ReceiverInternals {
  _maxPayload: number;
  _payloadLength: number;
  haveLength(callback: (error?: Error) => void): void;
  createError(
    type: ErrorConstructor,
    message: string,
    prefix: boolean,
    statusCode: number,
    errorCode: string,
  ): Error;
}

function isReceiverInternals(value: unknown): value is ReceiverInternals {
  const receiver = value as Partial<ReceiverInternals> | undefined;
  return (
    typeof receiver?._maxPayload === 'number' &&
    typeof receiver.haveLength === 'function' &&
    typeof receiver.createError === 'function'
  );
}

/** Throws, naming the cause, when the installed ws no longer has what limitFrames adjusts. */
export function assertFrameLimitsApply(): void {
  if (!isReceiverInternals(new Receiver({ isServer: true }))) {
    throw new Error(
      "ws's Receiver has no _maxPayload, haveLength or createError: the offline WebSocket API " +
        "cannot apply API Gateway's frame and message limits (local/websocket/frame-limits.ts)",
    );
  }
}

/** A client frame over 32 KB, or a message over 128 KB, closes `socket` with 1009. */
export function limitFrames(socket: WebSocket): void {
  const receiver = (socket as unknown as { _receiver?: unknown })._receiver;
  if (!isReceiverInternals(receiver)) return; // assertFrameLimitsApply failed at start-up already
  receiver._maxPayload = WEBSOCKET_MESSAGE_MAX_BYTES;
  const haveLength = receiver.haveLength;
  receiver.haveLength = function (this: ReceiverInternals, callback) {
    if (this._payloadLength > WEBSOCKET_FRAME_MAX_BYTES) {
      callback(
        this.createError(
          RangeError,
          `frame of ${this._payloadLength} bytes is over API Gateway's ${WEBSOCKET_FRAME_MAX_BYTES}`,
          false,
          1009,
          'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        ),
      );
      return;
    }
    haveLength.call(this, callback);
  };
}
