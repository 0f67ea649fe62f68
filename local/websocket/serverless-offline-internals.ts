/**
 * The parts of serverless-offline 14 the offline cloud adjusts to API Gateway's documented
 * behaviour. They are not exported by the package, so they are loaded by file from the installed
 * copy — the very module instances serverless-offline itself uses — and checked for the methods
 * we wrap, so an upgrade that moves them fails at start-up with a clear message, not silently.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JavaScript internals */
export type AnyFunction = (this: any, ...args: any[]) => any;
export interface PatchableClass {
  prototype: Record<string, AnyFunction>;
}
export interface EventClass {
  new (...args: any[]): { create(): Record<string, any> };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface ServerlessOfflineInternals {
  /** WebSocketClients: verifyClient, addClient (one per WebSocket API). */
  webSocketClients: PatchableClass;
  /** LambdaFunction: setEvent, runHandler, cleanup (one per warm instance). */
  lambdaFunction: PatchableClass;
  /** hapi's Server, whose route() registers the @connections routes. */
  hapiServer: PatchableClass;
  webSocketEvent: EventClass;
  webSocketDisconnectEvent: EventClass;
}

const require = createRequire(import.meta.url);

export async function loadServerlessOfflineInternals(): Promise<ServerlessOfflineInternals> {
  // The package exports only its entry (src/index.js); its root is two folders up.
  const root = path.dirname(path.dirname(require.resolve('serverless-offline')));
  const packageJson = path.join(root, 'package.json');
  const { version } = require(packageJson) as { version: string };
  const load = async (relative: string) =>
    ((await import(pathToFileURL(path.join(root, 'src', relative)).href)) as { default: unknown })
      .default;
  const hapiPath = createRequire(packageJson).resolve('@hapi/hapi');
  const hapi = require(hapiPath) as { server(options: object): object };
  // hapi's Server is a factory; route() lives on the prototype of the servers it makes.
  const hapiServer = { prototype: Object.getPrototypeOf(hapi.server({ autoListen: false })) };
  const internals = {
    webSocketClients: (await load('events/websocket/WebSocketClients.js')) as PatchableClass,
    lambdaFunction: (await load('lambda/LambdaFunction.js')) as PatchableClass,
    hapiServer: hapiServer as PatchableClass,
    webSocketEvent: (await load('events/websocket/lambda-events/WebSocketEvent.js')) as EventClass,
    webSocketDisconnectEvent: (await load(
      'events/websocket/lambda-events/WebSocketDisconnectEvent.js',
    )) as EventClass,
  };
  const expected: [keyof ServerlessOfflineInternals, string][] = [
    ['webSocketClients', 'verifyClient'],
    ['webSocketClients', 'addClient'],
    ['lambdaFunction', 'setEvent'],
    ['lambdaFunction', 'runHandler'],
    ['lambdaFunction', 'cleanup'],
    ['hapiServer', 'route'],
  ];
  for (const [name, method] of expected) {
    const target = internals[name] as PatchableClass | undefined;
    if (typeof target?.prototype?.[method] !== 'function') {
      throw new Error(
        `serverless-offline ${version} has no ${name}.${method}: the offline cloud's API Gateway ` +
          'behaviour (local/websocket/) was written for serverless-offline 14; update it',
      );
    }
  }
  return internals;
}
