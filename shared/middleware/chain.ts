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
import { WEBSOCKET_MESSAGE_MAX_BYTES } from '../limits';
import type { ErrorFrame, ServerFrame } from '../protocol';

export type WebSocketEvent = APIGatewayProxyWebsocketEventV2;
export interface RouteResponse {
  statusCode: number;
  body?: string;
}

export interface RouteRequest<TInput> {
  input: TInput;
  connectionId: string;
  /** Who holds the connection, from the $connect authorizer; undefined when none ran. */
  principal: Principal | undefined;
  event: WebSocketEvent;
  context: Context;
}

const principalOf = (event: WebSocketEvent) =>
  principalFromContext(
    (event.requestContext as { authorizer?: Record<string, unknown> | null }).authorizer,
  );

interface ParsedInternal extends Record<string, unknown> {
  body?: unknown;
}

type Chain<TEvent> = ReturnType<typeof baseChain<TEvent, RouteResponse>>;

export function webSocketRoute<TSchema extends z.ZodMiniType>(
  schema: TSchema | null,
  handle: (request: RouteRequest<z.infer<TSchema>>) => Promise<ServerFrame>,
) {
  const chain: Chain<WebSocketEvent> = baseChain<WebSocketEvent, RouteResponse>()
    .use(errorFrames())
    .use(jsonBody())
    .use(validation(schema));
  return chain.handler(async (event, context) => {
    const input = (context as ContextWithBody).parsedBody as z.infer<TSchema>;
    const frame = await handle({
      input,
      connectionId: event.requestContext.connectionId,
      principal: principalOf(event),
      event,
      context,
    });
    return frameResponse(frame);
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
  return baseChain<WebSocketEvent, RouteResponse>()
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

export const frameResponse = (frame: ServerFrame, statusCode = 200): RouteResponse => ({
  statusCode,
  body: JSON.stringify(frame),
});

export function errorFrame(error: AppError): ErrorFrame {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}

function baseChain<TEvent, TResult>() {
  return middy<TEvent, TResult>().use(injectLambdaContext(logger, { resetKeys: true }));
}

interface ContextWithBody extends Context {
  parsedBody?: unknown;
}

/** Enforces API Gateway's message size, then parses the JSON body onto the context. */
function jsonBody(): MiddlewareObj<WebSocketEvent, RouteResponse, Error, Context, ParsedInternal> {
  return {
    name: 'jsonBody',
    before: ({ event, context }) => {
      const raw = event.isBase64Encoded
        ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
        : (event.body ?? '');
      const size = Buffer.byteLength(raw, 'utf8');
      if (size > WEBSOCKET_MESSAGE_MAX_BYTES) {
        throw new MessageTooLargeError(size, WEBSOCKET_MESSAGE_MAX_BYTES);
      }
      try {
        (context as ContextWithBody).parsedBody = JSON.parse(raw);
      } catch (error) {
        throw new InvalidJsonError(error);
      }
    },
  };
}

function validation(
  schema: z.ZodMiniType | null,
): MiddlewareObj<WebSocketEvent, RouteResponse, Error, Context> {
  return {
    name: 'validation',
    before: ({ context }) => {
      if (!schema) return;
      const parsed = schema.safeParse((context as ContextWithBody).parsedBody);
      if (!parsed.success) throw validationError(parsed.error);
      (context as ContextWithBody).parsedBody = parsed.data;
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
function errorFrames(): MiddlewareObj<WebSocketEvent, RouteResponse> {
  return {
    name: 'errorFrames',
    onError: (request) => {
      const { error } = request;
      if (error instanceof AppError) {
        logger.warn('Rejected input', { code: error.code, reason: error.message });
        request.response = frameResponse(errorFrame(error), error.statusCode);
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
      request.response = frameResponse(errorFrame(internal), 500);
    },
  };
}
