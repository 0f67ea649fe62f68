/**
 * A handshake whose URL is too long to parse (a 100 KB `?token=…`) is refused as a handshake with
 * an invalid token is: 403 Forbidden. Node's HTTP parser stops at 16 KB of request line and
 * headers, and hapi (under serverless-offline) then answers a bare 400 with no body. API Gateway
 * takes no such URL either — a WebSocket API's URL is at most 4096 characters ("Quotas for
 * configuring and running a WebSocket API in API Gateway") — and its authorizer never accepts a
 * token that long; the client learns only that it may not connect.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyFunction, PatchableClass } from './serverless-offline-internals';

/** What `ws` writes when the $connect authorizer refuses a handshake. */
const FORBIDDEN =
  'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/html\r\n' +
  'Content-Length: 9\r\n\r\nForbidden';

interface HapiServerLike {
  listener: Server;
  info: { port: number | string | null };
}

/** Installs the rule on the hapi server that listens on `websocketPort` (once per process). */
export function refuseOversizedHandshakes(hapiServer: PatchableClass, websocketPort: number): void {
  const original = hapiServer.prototype.start as AnyFunction & { oversizedHandshakes?: true };
  if (original.oversizedHandshakes) return;
  const start = function (this: HapiServerLike, ...args: unknown[]) {
    if (Number(this.info.port) === websocketPort) answerHeaderOverflowWith403(this.listener);
    return original.apply(this, args);
  } as AnyFunction & { oversizedHandshakes?: true };
  start.oversizedHandshakes = true;
  hapiServer.prototype.start = start;
}

function answerHeaderOverflowWith403(listener: Server): void {
  // hapi's own handler answers every parse error with a bare 400; it stays in charge of the rest.
  const others = listener.listeners('clientError') as AnyFunction[];
  listener.removeAllListeners('clientError');
  listener.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'HPE_HEADER_OVERFLOW') {
      if (socket.writable) socket.end(FORBIDDEN);
      else socket.destroy();
      return;
    }
    for (const handler of others) handler.call(listener, error, socket);
  });
}
