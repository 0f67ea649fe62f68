/**
 * WebSocket access tokens: HS256 JWTs with an expiry, whose optional claims narrow what the
 * holder may do — which topic filters it may subscribe to, and whether it may send commands.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { commandTopic, telemetryTopic, topicFilterProblem, topicMatches } from '../topics';

export const TOKEN_AUDIENCE = 'telemetry-websocket';
export const tokenIssuer = (stage: string) => `telemetry-${stage}`;

/**
 * The token travels in the handshake URL, which API Gateway limits to 4096 characters ("Quotas
 * for configuring and running a WebSocket API in API Gateway"); 512 are left for the address.
 */
export const TOKEN_MAX_CHARS = 4096 - 512;

/** How long a token may live; the stage's maximum comes from the configuration. */
export interface TokenLifetimePolicy {
  /** The longest `exp - iat` a token may have, in seconds. */
  maxLifetimeSeconds: number;
  /** How far in the future `iat` may lie, for clocks that differ a little. */
  clockSkewSeconds: number;
}
export const DEFAULT_TOKEN_LIFETIME: TokenLifetimePolicy = {
  maxLifetimeSeconds: 24 * 60 * 60,
  clockSkewSeconds: 60,
};

/** Who holds a connection and what it may do. */
export interface Principal {
  subject: string;
  /** Topic filters the holder may receive; `null`: any topic. */
  topics: string[] | null;
  /** Whether the holder may send commands to devices. */
  commands: boolean;
}

export interface TokenRequest {
  subject: string;
  topics?: string[];
  commands?: boolean;
  ttlSeconds: number;
  stage: string;
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signAccessToken(
  secret: string,
  request: TokenRequest,
  policy: TokenLifetimePolicy = DEFAULT_TOKEN_LIFETIME,
): Promise<string> {
  for (const filter of request.topics ?? []) {
    const problem = topicFilterProblem(filter);
    if (problem) throw new InvalidTokenError(`invalid topic filter "${filter}": ${problem}`);
  }
  if (request.ttlSeconds > policy.maxLifetimeSeconds) {
    throw new InvalidTokenError(
      `a lifetime of ${request.ttlSeconds}s exceeds the maximum of ${policy.maxLifetimeSeconds}s`,
    );
  }
  const token = await new SignJWT({
    ...(request.topics ? { topics: request.topics } : {}),
    ...(request.commands ? { commands: true } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.subject)
    .setIssuer(tokenIssuer(request.stage))
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + request.ttlSeconds)
    .sign(key(secret));
  if (token.length > TOKEN_MAX_CHARS) {
    throw new InvalidTokenError(
      `the token would be ${token.length} characters; the limit is ${TOKEN_MAX_CHARS} (fewer topics)`,
    );
  }
  return token;
}

export async function verifyAccessToken(
  secret: string,
  token: string,
  stage: string,
  policy: TokenLifetimePolicy = DEFAULT_TOKEN_LIFETIME,
): Promise<Principal> {
  // Checked before any parsing: no work is spent on what could never be a token of ours.
  if (token.length > TOKEN_MAX_CHARS) {
    throw new InvalidTokenError(`the token is longer than ${TOKEN_MAX_CHARS} characters`);
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      issuer: tokenIssuer(stage),
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat', 'sub'],
    }));
  } catch (error) {
    throw new InvalidTokenError((error as Error).message);
  }
  assertLifetime(payload.iat as number, payload.exp as number, policy);
  const { sub, topics, commands } = payload;
  const validTopics =
    topics === undefined ||
    (Array.isArray(topics) &&
      topics.every((filter) => typeof filter === 'string' && !topicFilterProblem(filter)));
  if (
    typeof sub !== 'string' ||
    !validTopics ||
    (commands !== undefined && typeof commands !== 'boolean')
  ) {
    throw new InvalidTokenError('malformed claims');
  }
  return {
    subject: sub,
    topics: (topics as string[] | undefined) ?? null,
    commands: commands === true,
  };
}

/** A signed token can still be one we would never mint: issued later than now, or for too long. */
function assertLifetime(iat: number, exp: number, policy: TokenLifetimePolicy): void {
  const now = Math.floor(Date.now() / 1000);
  if (iat > now + policy.clockSkewSeconds) {
    throw new InvalidTokenError(
      `the token is issued in the future (iat ${iat}, now ${now}, skew ${policy.clockSkewSeconds}s)`,
    );
  }
  if (exp - iat > policy.maxLifetimeSeconds) {
    throw new InvalidTokenError(
      `the token lives ${exp - iat}s; the maximum is ${policy.maxLifetimeSeconds}s`,
    );
  }
}

/**
 * Whether the holder may send commands to `deviceId`: it needs the `commands` claim and, when its
 * token lists topics, one of them must match one of the device's own topics
 * (`devices/{id}/telemetry` or `devices/{id}/commands`) — it commands the devices it may watch.
 */
export function mayCommand(principal: Principal | undefined, deviceId: string): boolean {
  if (!principal?.commands) return false;
  if (principal.topics === null) return true;
  const deviceTopics = [telemetryTopic(deviceId), commandTopic(deviceId)];
  return principal.topics.some((filter) =>
    deviceTopics.some((topic) => topicMatches(filter, topic)),
  );
}

/**
 * API Gateway passes an authorizer's context to every later route as flat strings; these two
 * functions are the one place that encodes and decodes a Principal there.
 *
 * The context also carries the connection's alias: the authorizer runs once per connection, so a
 * random value made here names that connection, and only it, for its whole life.
 */
export function principalToContext(principal: Principal): Record<string, string> {
  return {
    topics: principal.topics === null ? '*' : JSON.stringify(principal.topics),
    commands: String(principal.commands),
    alias: randomBytes(9).toString('base64url'),
  };
}

export function principalFromContext(
  context: Record<string, unknown> | null | undefined,
): Principal | undefined {
  if (!context || typeof context.principalId !== 'string') return undefined;
  const topics =
    context.topics === '*' || context.topics === undefined
      ? null
      : JSON.parse(String(context.topics));
  return {
    subject: context.principalId,
    topics,
    commands: context.commands === 'true' || context.commands === true,
  };
}

// Connections authorized before aliases existed (or with no authorizer) get an alias from a key
// that lives as long as this Lambda instance: opaque all the same, stable within the instance.
const fallbackAliasKey = randomBytes(32);

/**
 * What other clients see of a connection (`from` in chat frames): an opaque alias, never its
 * connection id, which would let them post to it or close it through the management API.
 */
export function connectionAlias(
  context: Record<string, unknown> | null | undefined,
  connectionId: string,
): string {
  if (typeof context?.alias === 'string' && context.alias) return context.alias;
  return createHmac('sha256', fallbackAliasKey)
    .update(connectionId)
    .digest('base64url')
    .slice(0, 12);
}
