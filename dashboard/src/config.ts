/**
 * Where the dashboard connects: `?ws=<url>` (default: port 3001 of the host that served the page,
 * the offline WebSocket API), with `&token=<token>` passed on as the socket URL's `token` query
 * parameter for an authorizer.
 */
export interface DashboardConfig {
  /** The URL to open, or undefined when `?ws=` is not a ws:// or wss:// URL. */
  socketUrl: string | undefined;
  /** Why there is no socket URL, in words for the connection panel. */
  problem: string | undefined;
}

export const DEFAULT_WEBSOCKET_PORT = 3001;

export function readConfig(
  location: Pick<Location, 'search' | 'hostname' | 'protocol'>,
): DashboardConfig {
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const host = location.hostname || 'localhost';
  const requested = params.get('ws') ?? `${scheme}://${host}:${DEFAULT_WEBSOCKET_PORT}`;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return invalid(`"${requested}" is not a URL; pass ?ws=ws://host:port`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return invalid(`"${requested}" is not a ws:// or wss:// URL`);
  }
  const token = params.get('token');
  if (token) url.searchParams.set('token', token);
  return { socketUrl: url.toString(), problem: undefined };
}

const invalid = (problem: string): DashboardConfig => ({ socketUrl: undefined, problem });

/** The URL for display: a token is never shown. */
export function displayUrl(socketUrl: string): string {
  const url = new URL(socketUrl);
  if (!url.searchParams.has('token')) return url.toString();
  url.searchParams.delete('token');
  return `${url.toString()} (with a token)`;
}
