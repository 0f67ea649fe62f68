/**
 * The one error family of the backend. Every error a client can cause is an AppError with a
 * stable `code`; the middleware chain turns it into a JSON error frame (WebSocket) and keeps the
 * connection open. Anything else is an internal error: logged in full, answered generically.
 */
export type ErrorCode =
  | 'INVALID_JSON'
  | 'UNKNOWN_ACTION'
  | 'VALIDATION_FAILED'
  | 'MESSAGE_TOO_LARGE'
  | 'COMMAND_FAILED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'NOT_REGISTERED'
  | 'INTERNAL_ERROR';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly statusCode = 400,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidJsonError extends AppError {
  constructor(cause: unknown) {
    super('INVALID_JSON', 'The frame is not valid JSON', 400, undefined, { cause });
  }
}

export class UnknownActionError extends AppError {
  constructor(action: unknown, validActions: readonly string[]) {
    const named = typeof action === 'string' ? `Unknown action "${action}"` : 'No "action" given';
    super('UNKNOWN_ACTION', `${named}; valid actions: ${validActions.join(', ')}`, 400, {
      validActions,
    });
  }
}

/** A lifecycle function ($connect, $disconnect) invoked with another kind of event. */
export class UnexpectedEventError extends AppError {
  constructor(expected: string, received: string | undefined) {
    super(
      'UNKNOWN_ACTION',
      `This function handles ${expected} events only, not ${received ?? 'an event without a type'}`,
      400,
      { expected, received: received ?? null },
    );
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super('VALIDATION_FAILED', message, 400, details);
  }
}

export class MessageTooLargeError extends AppError {
  /** `what`: the thing that is too large, e.g. the message a command becomes for its device. */
  constructor(size: number, limit: number, what = 'The message') {
    super('MESSAGE_TOO_LARGE', `${what} is ${size} bytes; the limit is ${limit} bytes`, 413, {
      size,
      limit,
    });
  }
}

export class CommandFailedError extends AppError {
  constructor(deviceId: string, cause: unknown) {
    super(
      'COMMAND_FAILED',
      `The command could not be published to device "${deviceId}"`,
      502,
      {
        deviceId,
      },
      { cause },
    );
  }
}

/** The connection's token does not allow this (topics outside its scope, commands). */
export class ForbiddenError extends AppError {
  constructor(message: string, details?: unknown) {
    super('FORBIDDEN', message, 403, details);
  }
}

export class RateLimitedError extends AppError {
  constructor(action: string, retryAfterMs: number) {
    super(
      'RATE_LIMITED',
      `Too many ${action} requests; retry in ${Math.ceil(retryAfterMs)} ms`,
      429,
      {
        retryAfterMs: Math.ceil(retryAfterMs),
      },
    );
  }
}

/**
 * The frame came on a connection the backend does not know (its $connect never completed, or it
 * was removed): nothing is done for it. Reconnecting registers it again.
 */
export class ConnectionNotRegisteredError extends AppError {
  constructor() {
    super(
      'NOT_REGISTERED',
      'This connection is not registered (its $connect did not complete or it expired); reconnect',
      410,
    );
  }
}

/** A subscribe would take the connection past its limit of topic filters. */
export class TooManyFiltersError extends AppError {
  constructor(limit: number) {
    super('VALIDATION_FAILED', `A connection may hold at most ${limit} topic filters`, 400, {
      limit,
    });
  }
}

/**
 * Some connections could not be reached even after retries. forwardTelemetry throws it so the
 * event is retried (clients drop duplicates by frame id) and, in the end, dead-lettered.
 */
export class PartialDeliveryError extends Error {
  override name = 'PartialDeliveryError';
  constructor(
    readonly report: { delivered: number; gone: number; failed: number },
    readonly failures: { connectionId: string; error: string }[],
  ) {
    super(
      `${report.failed} of ${report.delivered + report.failed} connections could not be reached`,
    );
  }
}

/** Configuration is the deployer's mistake, not the client's: it surfaces as an internal error. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
