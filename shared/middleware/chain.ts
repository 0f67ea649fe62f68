/**
 * The one middy chain factory. Every handler is a small function wrapped here, so logging,
 * parsing, validation and error handling are written once:
 *
 * - `webSocketRoute`: a WebSocket route with a JSON body. Bad input of any kind becomes an error
 *   frame returned as the route response (the client stays connected, nothing is written).
 * - `connectionRoute`: `$connect` / `$disconnect`, which carry no body.
 * - `eventHandler`: a non-HTTP trigger (the IoT rule). Errors propagate so Lambda retries and
 *   then dead-letters the event: it is never dropped.
 */
import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyWebsocketEventV2,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { principalFromContext, principalToContext, type Principal } from '../auth/tokens';
import type * as z from 'zod/mini';
import {
  AppError,
  InvalidJsonError,
  MessageTooLargeError,
  UnexpectedEventError,
  ValidationError,
} from '../errors';
import { logger } from '../logger';
import { emitMetrics } from '../metrics';
import { WEBSOCKET_MESSAGE_MAX_BYTES } from '../limits';
import { requestIdSchema, type ErrorFrame, type ReplyFrame, type ServerFrame } from '../protocol';

type WebSocketEvent = APIGatewayProxyWebsocketEventV2;
/** A WebSocket event once `jsonBody` has replaced its body with the parsed JSON (as middy's parsers do). */
type JsonBodyEvent = Omit<WebSocketEvent, 'body'> & { body?: unknown };

export interface RouteResponse {
  statusCode: number;
  body?: string;
}

export interface RouteRequest<TInput> {
  input: TInput;
  connectionId: string;
  /** Who holds the connection, from the $connect authorizer; undefined when none ran. */
  principal: Principal | undefined;
  event: JsonBodyEvent;
  context: Context;
}

const principalOf = (event: JsonBodyEvent) =>
  principalFromContext(
    (event.requestContext as { authorizer?: Record<string, unknown> | null }).authorizer,
  );

/**
 * The limit counts the frames a client sends by when they arrived, not by when a Lambda got to
 * them: 40 frames sent at once are 40 at once even if their invocations queue (never later than
 * now, whatever the event says).
 */
const arrivalTimeOf = (event: JsonBodyEvent): number => {
  const now = Date.now();
  const arrived = event.requestContext.requestTimeEpoch;
  return Number.isFinite(arrived) && arrived > 0 ? Math.min(arrived, now) : now;
};

export interface RouteOptions {
  /**
   * Takes a token from the connection's rate limit (shared/runtime/rate-limit.ts) once the frame
   * is valid and before the route does anything; throws to refuse the frame. `arrivedAt` is when
   * API Gateway received the frame.
   */
  meter?: (connectionId: string, action: string, arrivedAt: number) => Promise<void>;
}

/**
 * A route with a JSON body: `jsonBody` parses it, the route validates it against its schema
 * (`z.unknown()` takes anything), a metered route takes its token, and every answer, an error
 * frame too, echoes the request's `requestId`.
 */
export function webSocketRoute<TSchema extends z.ZodMiniType>(
  schema: TSchema,
  handle: (request: RouteRequest<z.infer<TSchema>>) => Promise<ReplyFrame>,
  { meter }: RouteOptions = {},
) {
  return baseChain<JsonBodyEvent, RouteResponse>()
    .use(errorFrames())
    .use(jsonBody())
    .handler(async (event, context) => {
      const parsed = schema.safeParse(event.body);
      if (!parsed.success) throw validationError(parsed.error);
      const { connectionId, routeKey } = event.requestContext;
      await meter?.(connectionId, routeKey, arrivalTimeOf(event));
      const frame = await handle({
        input: parsed.data,
        connectionId,
        principal: principalOf(event),
        event,
        context,
      });
      return frameResponse({ ...frame, ...requestIdOf(event.body) });
    });
}

/**
 * `$connect` / `$disconnect`. API Gateway never routes a client's frame to them, but whatever
 * invokes the function, it acts only on the lifecycle event it is for.
 */
export function connectionRoute(
  eventType: 'CONNECT' | 'DISCONNECT',
  handle: (request: RouteRequest<undefined>) => Promise<void>,
) {
  return baseChain<JsonBodyEvent, RouteResponse>()
    .use(errorFrames())
    .handler(async (event, context) => {
      const received = (event.requestContext as { eventType?: string }).eventType;
      if (received !== eventType) throw new UnexpectedEventError(eventType, received);
      await handle({
        input: undefined,
        connectionId: event.requestContext.connectionId,
        principal: principalOf(event),
        event,
        context,
      });
      return { statusCode: 200 };
    });
}

export function eventHandler<TSchema extends z.ZodMiniType, TResult>(
  schema: TSchema,
  handle: (input: z.infer<TSchema>, context: Context) => Promise<TResult>,
) {
  return baseChain<unknown, TResult>().handler(async (event, context) => {
    const parsed = schema.safeParse(event);
    if (!parsed.success) throw validationError(parsed.error);
    return handle(parsed.data, context);
  });
}

/**
 * The `$connect` REQUEST authorizer: `authorize` returns the principal, or undefined to refuse
 * (a Deny policy: the handshake fails with 403). The principal travels to every later route.
 */
export function connectAuthorizer(
  authorize: (event: APIGatewayRequestAuthorizerEvent) => Promise<Principal | undefined>,
) {
  return baseChain<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>().handler(
    async (event) => {
      const principal = await authorize(event);
      return {
        principalId: principal?.subject ?? 'anonymous',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Action: 'execute-api:Invoke',
              Effect: principal ? 'Allow' : 'Deny',
              Resource: event.methodArn,
            },
          ],
        },
        ...(principal ? { context: principalToContext(principal) } : {}),
      };
    },
  );
}

const frameResponse = (frame: ServerFrame, statusCode = 200): RouteResponse => ({
  statusCode,
  body: JSON.stringify(frame),
});

function errorFrame(error: AppError, body: unknown): ErrorFrame {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
    ...requestIdOf(body),
  };
}

/** The client's `requestId`, when the parsed body carries a valid one, to echo in the answer. */
function requestIdOf(body: unknown): { requestId?: string } {
  if (typeof body !== 'object' || body === null || !('requestId' in body)) return {};
  const parsed = requestIdSchema.safeParse(body.requestId);
  return parsed.success ? { requestId: parsed.data } : {};
}

function baseChain<TEvent, TResult>() {
  return middy<TEvent, TResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(emitMetrics<TEvent, TResult>());
}

/**
 * Enforces API Gateway's message size, then replaces `event.body` with the parsed JSON, as middy's
 * own body parsers do.
 */
function jsonBody(): MiddlewareObj<JsonBodyEvent, RouteResponse> {
  return {
    name: 'jsonBody',
    before: ({ event }) => {
      const body = typeof event.body === 'string' ? event.body : '';
      const raw = event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
      const size = Buffer.byteLength(raw, 'utf8');
      if (size > WEBSOCKET_MESSAGE_MAX_BYTES) {
        throw new MessageTooLargeError(size, WEBSOCKET_MESSAGE_MAX_BYTES);
      }
      try {
        event.body = JSON.parse(raw);
      } catch (error) {
        throw new InvalidJsonError(error);
      }
      event.isBase64Encoded = false;
    },
  };
}

function validationError(error: z.core.$ZodError): ValidationError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
  const summary = issues.map((issue) =>
    issue.path ? `${issue.path}: ${issue.message}` : issue.message,
  );
  return new ValidationError(`Invalid input: ${summary.join('; ')}`, { issues });
}

/** Turns any error into an error frame; unexpected ones are logged and answered generically. */
function errorFrames(): MiddlewareObj<JsonBodyEvent, RouteResponse> {
  return {
    name: 'errorFrames',
    onError: (request) => {
      const { error } = request;
      if (error instanceof AppError) {
        logger.warn('Rejected input', { code: error.code, reason: error.message });
        request.response = frameResponse(errorFrame(error, request.event.body), error.statusCode);
        return;
      }
      logger.error('Unhandled error', error as Error);
      const internal = new AppError(
        'INTERNAL_ERROR',
        'Internal error; the request was not completed',
        500,
        {
          requestId: request.context.awsRequestId,
        },
      );
      request.response = frameResponse(errorFrame(internal, request.event.body), 500);
    },
  };
}
