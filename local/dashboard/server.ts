/**
 * A small static file server for the built dashboard (node:http, no dependencies): GET and HEAD
 * only, a content type per extension, `/` → index.html, and nothing outside `root` — a path that
 * escapes it (`..`, an encoded `..`, a symbolic link) is answered 404 like any missing file.
 *
 * Offline it also answers `GET /config.json` with the local WebSocket API and a short-lived
 * token, so that http://localhost:8080 just works — but only to a loopback client that named a
 * loopback host (a page of another site, even one whose name resolves to 127.0.0.1, gets 403).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface DashboardServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The folder of built files (see build.ts). */
  root: string;
  /** What `/config.json` hands a loopback client; without it the endpoint answers 404. */
  localConnection?: () => Promise<LocalConnectionConfig>;
}

/** The body of `/config.json` (dashboard/src/config.ts reads it). */
export interface LocalConnectionConfig {
  websocketUrl: string;
  token: string;
  /** When the token expires (seconds since the epoch): the page fetches a new one after. */
  expiresAt: number;
}

const CONFIG_PATH = '/config.json';

export interface DashboardServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export async function startDashboardServer(
  options: DashboardServerOptions,
): Promise<DashboardServer> {
  const root = await realpath(path.resolve(options.root));
  const server = http.createServer((request, response) => {
    const handle = isConfigRequest(request)
      ? serveConfig(request, response, options.localConnection)
      : serve(root, request, response);
    handle.catch(() => {
      if (!response.headersSent) send(response, 500, 'Internal server error\n');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host}:${port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function isConfigRequest(request: http.IncomingMessage): boolean {
  try {
    return new URL(request.url ?? '/', 'http://dashboard.invalid').pathname === CONFIG_PATH;
  } catch {
    return false;
  }
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

async function serveConfig(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  localConnection: DashboardServerOptions['localConnection'],
): Promise<void> {
  if (request.method !== 'GET') {
    response.setHeader('Allow', 'GET');
    return send(response, 405, 'Method not allowed\n');
  }
  if (!localConnection) return send(response, 404, 'Not found\n');
  const hostName = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (
    !LOOPBACK_ADDRESSES.has(request.socket.remoteAddress ?? '') ||
    !LOOPBACK_HOSTS.has(hostName)
  ) {
    return send(response, 403, 'The local token is for this machine only: open http://localhost\n');
  }
  const body = JSON.stringify(await localConnection());
  response.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    // A token: never cached, never stored by a proxy.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(body);
}

async function serve(
  root: string,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, 405, 'Method not allowed\n');
  }
  const file = await resolveFile(root, request.url ?? '/');
  if (!file) return send(response, 404, 'Not found\n');
  response.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(file.path)] ?? 'application/octet-stream',
    'Content-Length': file.size,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (request.method === 'HEAD') return void response.end();
  await new Promise<void>((resolve, reject) => {
    createReadStream(file.path).once('error', reject).once('end', resolve).pipe(response);
  });
}

/** The regular file under `root` that `url` names, or undefined (missing, outside, not a file). */
async function resolveFile(
  root: string,
  url: string,
): Promise<{ path: string; size: number } | undefined> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://dashboard.invalid').pathname);
  } catch {
    return undefined;
  }
  if (pathname.includes('\0')) return undefined;
  if (pathname.endsWith('/')) pathname += 'index.html';
  const candidate = path.join(root, path.normalize(pathname));
  if (!isInside(root, candidate)) return undefined;
  try {
    // Symbolic links are followed only to files that are still inside root.
    const real = await realpath(candidate);
    if (!isInside(root, real)) return undefined;
    const info = await stat(real);
    return info.isFile() ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

const isInside = (root: string, candidate: string) =>
  candidate.startsWith(root + path.sep) || candidate === root;

function send(response: http.ServerResponse, status: number, body: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(body);
}
