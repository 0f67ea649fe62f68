/**
 * What the offline WebSocket API needs to know of serverless.yml: the $connect authorizer's
 * identity sources, the stage's route throttling and which function serves which route.
 */
export interface WebSocketEventDefinition {
  route?: string;
  authorizer?: { identitySource?: string | string[] } | string;
}
export type WebSocketEvent = WebSocketEventDefinition | string;
interface FunctionDefinition {
  events?: { websocket?: WebSocketEvent }[];
}
interface ServiceDefinition {
  provider: { websocketsApiRouteSelectionExpression?: string };
  resources?: unknown;
}

export interface WebSocketApiSettings {
  identitySources: string[];
  throttling: { ratePerSecond: number; burst: number } | undefined;
  routeSelectionExpression: string;
  /** Function key per route. */
  routes: Record<string, string>;
}

/** serverless-offline's (and the framework's) default identity source of a REQUEST authorizer. */
const DEFAULT_IDENTITY_SOURCE = 'route.request.header.Auth';

export function webSocketApiSettings(
  functions: Record<string, FunctionDefinition>,
  service: ServiceDefinition,
): WebSocketApiSettings {
  const routes: Record<string, string> = {};
  let identitySources: string[] = [];
  for (const [key, definition] of Object.entries(functions)) {
    for (const event of definition.events ?? []) {
      const websocket =
        typeof event.websocket === 'string' ? { route: event.websocket } : event.websocket;
      if (!websocket?.route) continue;
      routes[websocket.route] = key;
      if (websocket.route === '$connect' && websocket.authorizer) {
        const source =
          typeof websocket.authorizer === 'string'
            ? DEFAULT_IDENTITY_SOURCE
            : (websocket.authorizer.identitySource ?? DEFAULT_IDENTITY_SOURCE);
        identitySources = Array.isArray(source) ? source : [source];
      }
    }
  }
  return {
    identitySources,
    throttling: stageThrottling(service.resources),
    routeSelectionExpression:
      service.provider.websocketsApiRouteSelectionExpression ?? '$request.body.action',
    routes,
  };
}

/** DefaultRouteSettings of the stage, as resources/websocket-stage.yml sets them. */
function stageThrottling(resources: unknown): WebSocketApiSettings['throttling'] {
  const list = Array.isArray(resources) ? resources : [resources];
  for (const entry of list) {
    const stage = (
      entry as { extensions?: Record<string, { Properties?: Record<string, unknown> }> }
    )?.extensions?.WebsocketsDeploymentStage;
    const settings = stage?.Properties?.DefaultRouteSettings as
      { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number } | undefined;
    if (
      settings?.ThrottlingRateLimit !== undefined &&
      settings.ThrottlingBurstLimit !== undefined
    ) {
      return {
        ratePerSecond: Number(settings.ThrottlingRateLimit),
        burst: Number(settings.ThrottlingBurstLimit),
      };
    }
  }
  return undefined;
}
