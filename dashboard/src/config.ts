/**
 * Where the dashboard connects, in this order:
 * 1. `?ws=<url>&token=<token>` in the address: kept in the session, then taken out of the address;
 * 2. what the connect form (or step 1) kept in this tab's session;
 * 3. the offline stack's `/config.json` (served to this machine only): its WebSocket API and a
 *    token of a few minutes, fetched afresh for each (re)connect;
 * 4. nothing: the page shows the connect form.
 */
export interface SocketTarget {
  /** A ws:// or wss:// URL, without the token. */
  url: string;
  token: string | undefined;
  source: 'session' | 'local';
}

/** The body of the offline stack's `/config.json` (local/dashboard/server.ts). */
interface LocalConnectionConfig {
  websocketUrl: string;
  token: string;
}

const SESSION_KEY = 'dashboard.connection';

/** A ws:// or wss:// URL, or the problem with it in words. */
export function checkSocketUrl(text: string): { url: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `"${text}" is not a URL; give ws://host:port or wss://…` };
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return { problem: `"${text}" is not a ws:// or wss:// URL` };
  }
  url.searchParams.delete('token');
  return { url: url.toString() };
}

/**
 * `?ws=` and `&token=` of the address, moved into the session: a token does not stay in the
 * address bar, the history or a bookmark. Returns a problem when `?ws=` is unusable.
 */
export function takeAddressTarget(
  location: Pick<Location, 'search' | 'pathname' | 'hash'>,
  history: Pick<History, 'replaceState'>,
  storage: Storage,
): string | undefined {
  const params = new URLSearchParams(location.search);
  const ws = params.get('ws');
  if (ws === null) return undefined;
  const checked = checkSocketUrl(ws);
  if ('problem' in checked) return checked.problem;
  saveSession(storage, { url: checked.url, token: params.get('token') || undefined });
  params.delete('ws');
  params.delete('token');
  const query = params.toString();
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
  return undefined;
}

export function saveSession(storage: Storage, target: { url: string; token?: string }): void {
  storage.setItem(SESSION_KEY, JSON.stringify({ url: target.url, token: target.token }));
}

export function loadSession(storage: Storage): SocketTarget | undefined {
  try {
    const saved = JSON.parse(storage.getItem(SESSION_KEY) ?? 'null') as {
      url?: unknown;
      token?: unknown;
    } | null;
    if (typeof saved?.url !== 'string') return undefined;
    const token = typeof saved.token === 'string' && saved.token ? saved.token : undefined;
    return { url: saved.url, token, source: 'session' };
  } catch {
    return undefined;
  }
}

/** The offline stack's connection for this machine, or undefined (not offline, or refused). */
export async function fetchLocalTarget(): Promise<SocketTarget | undefined> {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) return undefined;
    const body = (await response.json()) as Partial<LocalConnectionConfig>;
    if (typeof body.websocketUrl !== 'string' || typeof body.token !== 'string') return undefined;
    return { url: body.websocketUrl, token: body.token, source: 'local' };
  } catch {
    return undefined;
  }
}

/** The URL to open: the target's, with its token as the `token` query parameter. */
export function socketUrl(target: SocketTarget): string {
  const url = new URL(target.url);
  if (target.token) url.searchParams.set('token', target.token);
  return url.toString();
}

/** The URL for display: a token is never shown. */
export function displayUrl(socketUrl: string): string {
  const url = new URL(socketUrl);
  if (!url.searchParams.has('token')) return url.toString();
  url.searchParams.delete('token');
  return `${url.toString()} (with a token)`;
}

/** What a token says about itself (unverified: for explaining a refusal only). */
function tokenClaims(token: string): { exp?: number; iss?: string } | undefined {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { exp?: unknown; iss?: unknown };
    return {
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
      iss: typeof claims.iss === 'string' ? claims.iss : undefined,
    };
  } catch {
    return undefined;
  }
}

const MINT_HINT =
  'Mint a token with `npm run token -- --stage <stage>` (offline: `npm run token`) and connect again.';

/**
 * Why the API refused the handshake, as far as the page can tell: a browser does not show a
 * refused handshake's status, so this names the likely causes from the URL and the token.
 * API Gateway answers 401 when the token is missing (the authorizer's identity source) and 403
 * when the authorizer denies it (invalid, expired, or minted for another stage).
 */
export function explainRefusal(target: SocketTarget, nowSeconds: number): string {
  if (target.source === 'local') {
    return 'The offline stack did not accept the connection. Is `npm start` still running? The page retries by itself.';
  }
  if (!target.token) {
    return `The connection was refused: no token (API Gateway answers 401 without one). ${MINT_HINT}`;
  }
  const claims = tokenClaims(target.token);
  if (!claims) {
    return `The connection was refused: the token is not a token this API issues (403). ${MINT_HINT}`;
  }
  if (claims.exp !== undefined && claims.exp <= nowSeconds) {
    const when = new Date(claims.exp * 1000).toLocaleString();
    return `The connection was refused: the token expired at ${when} (403). ${MINT_HINT}`;
  }
  const tokenStage = claims.iss?.replace(/^telemetry-/, '');
  const urlStage = new URL(target.url).pathname.split('/').filter(Boolean)[0];
  if (tokenStage && urlStage && tokenStage !== urlStage) {
    return `The connection was refused: the token is for stage "${tokenStage}", the URL is stage "${urlStage}" (403). ${MINT_HINT}`;
  }
  return (
    'The connection was refused or the API could not be reached. Likely: the token is not valid ' +
    `for this stage (403: another stage's secret, or a changed secret), or the URL is wrong. ${MINT_HINT}`
  );
}
