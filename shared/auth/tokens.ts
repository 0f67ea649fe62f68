/**
 * WebSocket access tokens: HS256 JWTs with an expiry, whose optional claims narrow what the
 * holder may do — which topic filters it may subscribe to, and whether it may send commands.
 */
import { jwtVerify, SignJWT } from 'jose';
import { topicFilterProblem } from '../topics';

export const TOKEN_AUDIENCE = 'telemetry-websocket';
export const tokenIssuer = (stage: string) => `telemetry-${stage}`;

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

export async function signAccessToken(secret: string, request: TokenRequest): Promise<string> {
  for (const filter of request.topics ?? []) {
    const problem = topicFilterProblem(filter);
    if (problem) throw new InvalidTokenError(`invalid topic filter "${filter}": ${problem}`);
  }
  return new SignJWT({
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
}

export async function verifyAccessToken(
  secret: string,
  token: string,
  stage: string,
): Promise<Principal> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      issuer: tokenIssuer(stage),
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw new InvalidTokenError((error as Error).message);
  }
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

/**
 * API Gateway passes an authorizer's context to every later route as flat strings; these two
 * functions are the one place that encodes and decodes a Principal there.
 */
export function principalToContext(principal: Principal): Record<string, string> {
  return {
    topics: principal.topics === null ? '*' : JSON.stringify(principal.topics),
    commands: String(principal.commands),
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
