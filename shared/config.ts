/**
 * The one configuration module. Handlers never read process.env themselves: the values come from
 * serverless.yml in AWS and from the offline cloud's plugin locally, under the same names.
 */
import type { TokenLifetimePolicy } from './auth/tokens';
import { ConfigError } from './errors';

export interface Config {
  connectionsTable: string;
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage} in AWS, http://localhost:3001 offline. */
  websocketManagementEndpoint: string;
  /** The IoT data-plane endpoint; when empty, the region's ATS data endpoint. */
  iotDataEndpoint: string | undefined;
  /** Concurrent PostToConnection calls per broadcast. */
  broadcastConcurrency: number;
  /** The longest a warm instance trusts its copy of the connections without rescanning. */
  connectionSnapshotMaxAgeMs: number;
  /** A 410 this soon after a connection's $connect does not remove it (the handshake race). */
  connectGraceMs: number;
  /** Seconds a connection record lives without a reconnect (API Gateway closes at 2 h). */
  connectionTtlSeconds: number;
  stage: string;
  /** The token signing secret itself (offline), or… */
  tokenSecret: string | undefined;
  /** …the SSM SecureString parameter that holds it (AWS). */
  tokenSecretParameter: string | undefined;
  /** The stage's limits on a token's lifetime (the $connect authorizer refuses longer ones). */
  tokenLifetime: TokenLifetimePolicy;
  /** Per-connection token bucket for sendMessage and sendCommand. */
  rateLimit: { perSecond: number; burst: number };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const missing = ['CONNECTIONS_TABLE', 'WEBSOCKET_MANAGEMENT_ENDPOINT'].filter(
    (name) => !env[name],
  );
  if (missing.length > 0) {
    throw new ConfigError(`Missing environment variables: ${missing.join(', ')}`);
  }
  return {
    connectionsTable: env.CONNECTIONS_TABLE as string,
    websocketManagementEndpoint: env.WEBSOCKET_MANAGEMENT_ENDPOINT as string,
    iotDataEndpoint: env.IOT_DATA_ENDPOINT || undefined,
    // `npm run bench`: at 1 000 connections and 20 ms per post, 50 in flight beat 32 by 1.2-1.4×;
    // more gains nothing, as the SDK's connection pool holds 50 sockets.
    broadcastConcurrency: positiveInteger(env, 'BROADCAST_CONCURRENCY', 50),
    connectionSnapshotMaxAgeMs: positiveInteger(env, 'CONNECTION_SNAPSHOT_MAX_AGE_MS', 60_000),
    connectGraceMs: positiveInteger(env, 'CONNECT_GRACE_MS', 10_000),
    connectionTtlSeconds: positiveInteger(env, 'CONNECTION_TTL_SECONDS', 3 * 60 * 60),
    stage: env.STAGE || 'dev',
    tokenSecret: env.TOKEN_SECRET || undefined,
    tokenSecretParameter: env.TOKEN_SECRET_PARAMETER || undefined,
    tokenLifetime: tokenLifetimeFromEnv(env),
    rateLimit: {
      perSecond: positiveInteger(env, 'RATE_LIMIT_PER_SECOND', 5),
      burst: positiveInteger(env, 'RATE_LIMIT_BURST', 20),
    },
  };
}

/**
 * TOKEN_MAX_LIFETIME_SECONDS (default 24 h), set per stage in the functions' environment; `npm run
 * token` reads the same variable so that it never mints a token the stage would refuse.
 */
export function tokenLifetimeFromEnv(env: NodeJS.ProcessEnv = process.env): TokenLifetimePolicy {
  return {
    maxLifetimeSeconds: positiveInteger(env, 'TOKEN_MAX_LIFETIME_SECONDS', 24 * 60 * 60),
    clockSkewSeconds: 60,
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}
