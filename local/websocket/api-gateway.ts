/**
 * serverless-offline's WebSocket API, made to answer as API Gateway's does where a deployment
 * would otherwise behave differently from the offline twin. Each rule names its AWS page:
 *
 * - A client socket that sends a malformed frame (bad UTF-8, reserved bits or opcodes, an
 *   unmasked frame, a bad close code, an oversized header…) is closed on its own; the stack
 *   serves on. serverless-offline registers no `error` listener on client sockets, so `ws` would
 *   throw the error out of the process. A frame over 32 KB or a message over 128 KB closes its
 *   socket with 1009 ("Quotas for configuring and running a WebSocket in API Gateway";
 *   frame-limits.ts).
 * - "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers": with an identity
 *   source missing or empty, API Gateway answers 401 and never invokes the authorizer.
 * - "Protect your WebSocket APIs in API Gateway": the stage's route throttling (a token bucket
 *   per route; serverless.yml's DefaultRouteSettings) answers excess requests with 429 before
 *   any function runs.
 * - "WebSocket API route selection": a client's frame never reaches $connect or $disconnect; one
 *   that names them as its action goes to $default.
 * - A handshake whose $connect succeeded but whose socket never opened (the client went away)
 *   gets its $disconnect, so the row $connect wrote does not outlive it.
 * - "Use @connections commands in your backend service": the management API lives under the
 *   stage (`/{stage}/@connections/{id}`), refuses data over 128 KB with 413, says `GoneException`
 *   with its 410, and (with `verifyRequest`) refuses requests without a valid SigV4 signature.
 * - Lambda runs each invocation in its own execution environment; offline, each function gets at
 *   most `lambdaConcurrency` workers, started one at a time, and further invocations queue (a
 *   flood used to spawn a worker thread per frame, 200 threads and 3 GB, and time out everyone;
 *   see lambda-environments.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { WEBSOCKET_MESSAGE_MAX_BYTES } from '../../shared/limits';
import { assertFrameLimitsApply, limitFrames } from './frame-limits';
import { LambdaEnvironments } from './lambda-environments';
import { RateBucket } from './rate-bucket';
import type {
  AnyFunction,
  EventClass,
  ServerlessOfflineInternals,
} from './serverless-offline-internals';

export interface ApiGatewayRules {
  stage: string;
  /** The $connect authorizer's identity sources, e.g. `route.request.querystring.token`. */
  identitySources: string[];
  /** The stage's default route throttling; undefined: none. */
  throttling: { ratePerSecond: number; burst: number } | undefined;
  /** `$request.body.action` */
  routeSelectionExpression: string;
  /** The routes the API has; a frame selecting another goes to $default. */
  routeKeys: string[];
  /** Invokes a function by route ($default, $disconnect) through the offline Lambda API. */
  invokeRoute(route: '$default' | '$disconnect', event: object): Promise<unknown>;
  /** Most workers per function at once. */
  lambdaConcurrency: number;
  /** serverless-offline's `reloadHandler`: a fresh worker for every invocation. */
  reloadHandler?: boolean;
  /** SigV4 check of a management API request; a reason when refused. */
  verifyRequest?: (request: ManagementRequest) => Promise<string | undefined>;
  log: { notice(message: string): void; error(message: string): void };
}

export interface ManagementRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const MANAGEMENT_PATH = '/@connections/{connectionId}';

/** Installs the rules on serverless-offline's classes; call once, before it starts. */
export function installApiGatewayRules(
  internals: ServerlessOfflineInternals,
  rules: ApiGatewayRules,
): void {
  assertFrameLimitsApply();
  const handshakes = new PendingHandshakes(rules, internals.webSocketDisconnectEvent);
  const buckets = new Map<string, RateBucket>();
  const withinThrottle = (route: string): boolean => {
    if (!rules.throttling) return true;
    let bucket = buckets.get(route);
    if (!bucket) {
      bucket = new RateBucket(rules.throttling.ratePerSecond, rules.throttling.burst);
      buckets.set(route, bucket);
    }
    return bucket.take();
  };

  wrap(
    internals.webSocketClients,
    'verifyClient',
    (original) =>
      async function (this: unknown, connectionId: string, request: IncomingMessage) {
        const missing = rules.identitySources.find((source) => !identityValue(source, request));
        if (missing) {
          rules.log.notice(`WebSocket handshake refused with 401: ${missing} is missing`);
          return { statusCode: 401, message: 'Unauthorized', verified: false };
        }
        if (!withinThrottle('$connect')) {
          return { statusCode: 429, message: 'Too Many Requests', verified: false };
        }
        const result = (await original.call(this, connectionId, request)) as { verified: boolean };
        if (result.verified) handshakes.track(connectionId, request);
        return result;
      },
  );

  wrap(
    internals.webSocketClients,
    'addClient',
    (original) =>
      function (this: unknown, socket: WebSocket, connectionId: string) {
        socket.on('error', (error) =>
          rules.log.notice(`WebSocket ${connectionId} closed: ${error.message}`),
        );
        limitFrames(socket);
        original.call(this, socket, connectionId);
        handshakes.opened(connectionId);
        // serverless-offline's own listener stays the one that routes; ours decides first.
        const routeMessage = socket.listeners('message') as AnyFunction[];
        socket.removeAllListeners('message');
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          const selected = selectRoute(rules.routeSelectionExpression, data, isBinary);
          const lifecycle = selected === '$connect' || selected === '$disconnect';
          const route = !lifecycle && rules.routeKeys.includes(selected) ? selected : '$default';
          if (!withinThrottle(route)) {
            socket.send(apiGatewayError('Too Many Requests', connectionId));
            return;
          }
          if (lifecycle) {
            const event = new internals.webSocketEvent(connectionId, '$default', String(data));
            void answerFromDefault(rules, socket, connectionId, event.create());
            return;
          }
          for (const listener of routeMessage) listener.call(socket, data, isBinary);
        });
      },
  );

  limitLambdaConcurrency(internals, rules.lambdaConcurrency, rules.reloadHandler ?? false);
  guardManagementApi(internals, rules);
}

type Wrapper = (original: AnyFunction) => AnyFunction;

function wrap(target: { prototype: Record<string, AnyFunction> }, method: string, by: Wrapper) {
  const original = target.prototype[method] as AnyFunction & { apiGatewayRules?: true };
  if (original.apiGatewayRules) return; // already installed in this process
  const wrapped = by(original) as AnyFunction & { apiGatewayRules?: true };
  wrapped.apiGatewayRules = true;
  target.prototype[method] = wrapped;
}

/** `route.request.querystring.token` or `route.request.header.Auth` of a handshake request. */
function identityValue(source: string, request: IncomingMessage): string | undefined {
  const query = /^route\.request\.querystring\.(.+)$/.exec(source);
  if (query) {
    const url = new URL(request.url ?? '/', 'http://localhost');
    return url.searchParams.get(query[1] as string) || undefined;
  }
  const header = /^route\.request\.header\.(.+)$/.exec(source);
  if (header) {
    const value = request.headers[(header[1] as string).toLowerCase()];
    return (Array.isArray(value) ? value.join(',') : value) || undefined;
  }
  return 'other'; // stage variables and context: not from the client, nothing to check
}

/** The route a frame selects, as API Gateway evaluates `$request.body.<path>`. */
export function selectRoute(expression: string, data: Buffer, isBinary: boolean): string {
  const path = /^\$request\.body\.(.+)$/.exec(expression)?.[1];
  if (isBinary || !path) return '$default';
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return '$default';
  }
  for (const key of path.split('.')) {
    value =
      value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : null;
  }
  return typeof value === 'string' && value !== '' ? value : '$default';
}

/** The JSON error frame API Gateway sends on a WebSocket for errors of its own. */
function apiGatewayError(message: string, connectionId: string): string {
  return JSON.stringify({ message, connectionId, requestId: randomUUID() });
}

async function answerFromDefault(
  rules: ApiGatewayRules,
  socket: WebSocket,
  connectionId: string,
  event: object,
): Promise<void> {
  try {
    const result = (await rules.invokeRoute('$default', event)) as { body?: unknown } | null;
    if (typeof result?.body === 'string' && socket.readyState === socket.OPEN) {
      socket.send(result.body);
    }
  } catch (error) {
    rules.log.error(`$default failed for a frame naming a lifecycle route: ${String(error)}`);
    if (socket.readyState === socket.OPEN) {
      socket.send(apiGatewayError('Internal server error', connectionId));
    }
  }
}

/**
 * $connect ran and succeeded, but the socket may never open (the client aborted meanwhile): then
 * no $disconnect would ever come for the item $connect wrote.
 */
class PendingHandshakes {
  private readonly pending = new Map<string, () => void>();

  constructor(
    private readonly rules: ApiGatewayRules,
    private readonly disconnectEvent: EventClass,
  ) {}

  track(connectionId: string, request: IncomingMessage): void {
    const socket = request.socket;
    const abandoned = () => {
      this.pending.delete(connectionId);
      void this.disconnect(connectionId);
    };
    if (socket.destroyed) {
      abandoned();
      return;
    }
    socket.once('close', abandoned);
    this.pending.set(connectionId, () => socket.off('close', abandoned));
  }

  opened(connectionId: string): void {
    this.pending.get(connectionId)?.();
    this.pending.delete(connectionId);
  }

  private async disconnect(connectionId: string): Promise<void> {
    this.rules.log.notice(`WebSocket ${connectionId} never opened after $connect: $disconnect`);
    try {
      await this.rules.invokeRoute('$disconnect', new this.disconnectEvent(connectionId).create());
    } catch (error) {
      this.rules.log.error(`$disconnect of abandoned ${connectionId} failed: ${String(error)}`);
    }
  }
}

/**
 * serverless-offline takes an idle instance from its pool (or makes a new one), sets the event,
 * then runs it. Each run goes through its function's LambdaEnvironments instead, which picks the
 * instance it runs on (at most `limit` of them, one starting at a time) and sets the event there
 * just before the run; meanwhile the offered instance stays idle, so the pool hands it out again
 * rather than making yet another.
 */
function limitLambdaConcurrency(
  internals: ServerlessOfflineInternals,
  limit: number,
  reloadHandler: boolean,
): void {
  const perFunction = new Map<string, LambdaEnvironments<object>>();
  const pendingEvent = new WeakMap<object, unknown>();
  const environmentsOf = (instance: { functionName?: string }) => {
    const name = instance.functionName ?? 'unknown';
    let environments = perFunction.get(name);
    if (!environments) {
      environments = new LambdaEnvironments<object>(limit, {
        endsWorker: isLambdaTimeout,
        reuse: !reloadHandler,
      });
      perFunction.set(name, environments);
    }
    return environments;
  };
  wrap(
    internals.lambdaFunction,
    'setEvent',
    (original) =>
      function (this: object, event: unknown) {
        pendingEvent.set(this, event);
        return original.call(this, event);
      },
  );
  wrap(
    internals.lambdaFunction,
    'runHandler',
    (original) =>
      function (this: object & { functionName?: string }) {
        const event = pendingEvent.get(this);
        return environmentsOf(this).run(this, (instance) => {
          setEventOf(internals, instance, event);
          return original.call(instance) as Promise<unknown>;
        });
      },
  );
  wrap(
    internals.lambdaFunction,
    'cleanup',
    (original) =>
      function (this: object & { functionName?: string }) {
        environmentsOf(this).forget(this);
        return original.call(this) as Promise<unknown>;
      },
  );
}

/** serverless-offline's LambdaTimeoutError ("[504] - Lambda timeout."): it ended the worker. */
function isLambdaTimeout(error: unknown): boolean {
  return error instanceof Error && error.constructor.name === 'LambdaTimeoutError';
}

function setEventOf(internals: ServerlessOfflineInternals, instance: object, event: unknown) {
  const setEvent = internals.lambdaFunction.prototype.setEvent as AnyFunction;
  setEvent.call(instance, event);
}

/** The @connections routes: under the stage, 413 over 128 KB, typed 410, SigV4. */
function guardManagementApi(internals: ServerlessOfflineInternals, rules: ApiGatewayRules) {
  wrap(
    internals.hapiServer,
    'route',
    (original) =>
      function (this: unknown, options: unknown) {
        const routes = (Array.isArray(options) ? options : [options]) as HapiRoute[];
        const adjusted = routes.flatMap((route) =>
          route.path === MANAGEMENT_PATH
            ? [
                guarded(route, rules),
                { ...guarded(route, rules), path: `/{stage}${MANAGEMENT_PATH}` },
              ]
            : [route],
        );
        return original.call(this, adjusted);
      },
  );
}

interface HapiRoute {
  method: string;
  path: string;
  handler: (request: HapiRequest, h: HapiToolkit) => unknown;
  options?: { payload?: Record<string, unknown> };
}
interface HapiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  payload: Buffer | null;
  raw: { req: IncomingMessage };
}
interface HapiResponse {
  statusCode: number;
  code(status: number): HapiResponse;
  header(name: string, value: string): HapiResponse;
}
interface HapiToolkit {
  response(value: unknown): HapiResponse;
}

function guarded(route: HapiRoute, rules: ApiGatewayRules): HapiRoute {
  const error = (h: HapiToolkit, status: number, type: string, message: string) =>
    h.response({ message }).code(status).header('x-amzn-ErrorType', type);
  return {
    ...route,
    // Large enough that the 128 KB rule below answers, not hapi's own 1 MB limit.
    options: {
      ...route.options,
      payload: { ...route.options?.payload, maxBytes: 4 * 1024 * 1024 },
    },
    handler: async (request, h) => {
      const stage = request.params.stage;
      if (stage !== undefined && stage !== rules.stage) {
        return error(h, 403, 'ForbiddenException', 'Forbidden');
      }
      const body = request.payload ?? Buffer.alloc(0);
      const refusal = await rules.verifyRequest?.({
        method: request.method.toUpperCase(),
        // As it came on the wire, percent-encoding intact: that is what was signed.
        path: (request.raw.req.url ?? request.path).split('?')[0] as string,
        query: request.query,
        headers: request.headers,
        body,
      });
      if (refusal) return error(h, 403, 'ForbiddenException', refusal);
      if (request.method.toUpperCase() === 'POST' && body.length > WEBSOCKET_MESSAGE_MAX_BYTES) {
        return error(h, 413, 'PayloadTooLargeException', 'Message too long');
      }
      const response = (await route.handler(request, h)) as HapiResponse | null;
      if (response && typeof response === 'object' && response.statusCode === 410) {
        return error(h, 410, 'GoneException', 'Gone');
      }
      return response;
    },
  };
}
