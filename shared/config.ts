/**
 * The one configuration module. Handlers never read process.env themselves: the values come from
 * serverless.yml in AWS and from the offline cloud's plugin locally, under the same names.
 */
import type { TokenLifetimePolicy } from './auth/tokens';
import { ConfigError } from './errors';

export interface Config {
  connectionsTable: string;
  /** The connections' change log (shared/connections/change-log.ts). */
  connectionChanges: { tableName: string; shards: number; retentionSeconds: number };
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage} in AWS, http://localhost:3001/{stage} offline. */
  websocketManagementEndpoint: string;
  /** The longest one PostToConnection may take before it counts as failed (and is retried). */
  postToConnectionTimeoutMs: number;
  /** Where the Lambda runs, for signing (Lambda sets AWS_REGION). */
  region: string;
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

/** What the $connect authorizer reads: no table, no management API (each function its own). */
export type AuthConfig = Pick<
  Config,
  'stage' | 'tokenSecret' | 'tokenSecretParameter' | 'tokenLifetime'
>;

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return {
    stage: env.STAGE || 'dev',
    tokenSecret: env.TOKEN_SECRET || undefined,
    tokenSecretParameter: env.TOKEN_SECRET_PARAMETER || undefined,
    tokenLifetime: tokenLifetimeFromEnv(env),
  };
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
    connectionChanges: {
      tableName: env.CONNECTION_CHANGES_TABLE || `${env.CONNECTIONS_TABLE}-changes`,
      // 4 counters: a 5 000-client reconnect storm (10 000 changes in 10 s) puts 250 writes/s
      // on each, a quarter of a partition's 1 000 (`npm run bench -- --only fanout`).
      shards: positiveInteger(env, 'CONNECTION_CHANGE_SHARDS', 4),
      retentionSeconds: positiveInteger(env, 'CONNECTION_CHANGE_RETENTION_SECONDS', 15 * 60),
    },
    websocketManagementEndpoint: env.WEBSOCKET_MANAGEMENT_ENDPOINT as string,
    // API Gateway answers a post in milliseconds; 3 s leaves room for retries in a 10 s Lambda.
    postToConnectionTimeoutMs: positiveInteger(env, 'POST_TO_CONNECTION_TIMEOUT_MS', 3_000),
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    iotDataEndpoint: env.IOT_DATA_ENDPOINT || undefined,
    // `npm run bench`: at 1 000 connections and 20 ms per post, 50 in flight beat 32 by 1.2-1.4×
    // (measured with the SDK client, whose pool held 50 sockets; see docs/scaling.md).
    broadcastConcurrency: positiveInteger(env, 'BROADCAST_CONCURRENCY', 50),
    // A safety net only: the change log keeps a warm copy current (shared/connections/snapshot.ts).
    connectionSnapshotMaxAgeMs: positiveInteger(env, 'CONNECTION_SNAPSHOT_MAX_AGE_MS', 300_000),
    connectGraceMs: positiveInteger(env, 'CONNECT_GRACE_MS', 10_000),
    connectionTtlSeconds: positiveInteger(env, 'CONNECTION_TTL_SECONDS', 3 * 60 * 60),
    ...loadAuthConfig(env),
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
