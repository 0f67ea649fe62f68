import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import {
  connectionAlias,
  DEFAULT_TOKEN_LIFETIME,
  mayCommand,
  principalFromContext,
  principalToContext,
  signAccessToken,
  TOKEN_MAX_CHARS,
  verifyAccessToken,
  type Principal,
} from '../../shared/auth/tokens';
import { tokenLifetimeFromEnv } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { filterCovers } from '../../shared/topics';

const SECRET = 's'.repeat(32);
const now = () => Math.floor(Date.now() / 1000);

/** A token signed with the right secret whose times we choose (what a leaked secret could mint). */
function handMade(claims: { iat?: number; exp: number }): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuer('telemetry-dev')
    .setAudience('telemetry-websocket')
    .setExpirationTime(claims.exp);
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

describe('access tokens', () => {
  it('round-trip their claims', async () => {
    const token = await signAccessToken(SECRET, {
      subject: 'ops',
      topics: ['devices/+/telemetry'],
      commands: true,
      ttlSeconds: 60,
      stage: 'dev',
    });
    const principal = await verifyAccessToken(SECRET, token, 'dev');
    expect(principal).toEqual({ subject: 'ops', topics: ['devices/+/telemetry'], commands: true });
    expect(principalFromContext({ principalId: 'ops', ...principalToContext(principal) })).toEqual(
      principal,
    );
  });

  it('refuse to mint a token with an invalid topic filter', async () => {
    await expect(
      signAccessToken(SECRET, {
        subject: 'x',
        topics: ['a/#/b'],
        ttlSeconds: 60,
        stage: 'dev',
      }),
    ).rejects.toThrow(/invalid topic filter/);
  });
});

describe('token lifetime (issue 11, item 9)', () => {
  it('accepts a token issued up to the clock skew (60 s) in the future', async () => {
    const token = await handMade({ iat: now() + 30, exp: now() + 3600 });
    await expect(verifyAccessToken(SECRET, token, 'dev')).resolves.toMatchObject({
      subject: 'mallory',
    });
  });

  it.each([
    ['issued an hour in the future', { iat: now() + 3600, exp: now() + 7200 }, /in the future/],
    ['expiring in the year 9999', { iat: now(), exp: 253402300799 }, /maximum is 86400s/],
    ['living 24 h and one second', { iat: now(), exp: now() + 86401 }, /maximum is 86400s/],
    ['without iat', { exp: now() + 60 }, /"iat" claim/],
  ])('refuses a token %s', async (_name, claims, reason) => {
    await expect(verifyAccessToken(SECRET, await handMade(claims), 'dev')).rejects.toThrow(reason);
  });

  it('follows the stage’s maximum when it is shorter', async () => {
    const policy = { ...DEFAULT_TOKEN_LIFETIME, maxLifetimeSeconds: 3600 };
    const token = await handMade({ iat: now(), exp: now() + 7200 });
    await expect(verifyAccessToken(SECRET, token, 'dev', policy)).rejects.toThrow(
      /lives 7200s; the maximum is 3600s/,
    );
  });

  it('refuses to mint a token that lives longer than the maximum', async () => {
    const request = { subject: 'x', ttlSeconds: 86_401, stage: 'dev' };
    await expect(signAccessToken(SECRET, request)).rejects.toThrow(/exceeds the maximum of 86400s/);
    await expect(
      signAccessToken(
        SECRET,
        { ...request, ttlSeconds: 7200 },
        {
          ...DEFAULT_TOKEN_LIFETIME,
          maxLifetimeSeconds: 3600,
        },
      ),
    ).rejects.toThrow(/maximum of 3600s/);
  });

  it('reads the stage maximum from TOKEN_MAX_LIFETIME_SECONDS', () => {
    expect(tokenLifetimeFromEnv({})).toEqual({ maxLifetimeSeconds: 86_400, clockSkewSeconds: 60 });
    expect(tokenLifetimeFromEnv({ TOKEN_MAX_LIFETIME_SECONDS: '900' }).maxLifetimeSeconds).toBe(
      900,
    );
    expect(() => tokenLifetimeFromEnv({ TOKEN_MAX_LIFETIME_SECONDS: '1d' })).toThrow(ConfigError);
  });
});

describe('token size (API Gateway: a WebSocket URL is at most 4096 characters)', () => {
  it('refuses a 100 KB token before parsing it', async () => {
    const huge = `${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`;
    await expect(verifyAccessToken(SECRET, huge, 'dev')).rejects.toThrow(
      `longer than ${TOKEN_MAX_CHARS} characters`,
    );
  });

  it('refuses to mint a token that would not fit in the handshake URL', async () => {
    const topics = Array.from({ length: 50 }, (_, i) => `devices/sensor-${i}-${'x'.repeat(60)}/#`);
    await expect(
      signAccessToken(SECRET, { subject: 'x', topics, ttlSeconds: 60, stage: 'dev' }),
    ).rejects.toThrow(/the limit is 3584/);
  });
});

describe('mayCommand (a token commands the devices whose topics it may watch)', () => {
  const scoped = (topics: string[] | null, commands = true): Principal => ({
    subject: 't',
    topics,
    commands,
  });
  it.each<[string[] | null, boolean, string, boolean]>([
    [null, true, 'sensor-2', true],
    [null, false, 'sensor-1', false],
    [['devices/sensor-1/#'], true, 'sensor-1', true],
    [['devices/sensor-1/#'], true, 'sensor-2', false],
    [['devices/sensor-1/telemetry'], true, 'sensor-1', true],
    [['devices/sensor-1/commands'], true, 'sensor-1', true],
    [['devices/+/telemetry'], true, 'sensor-9', true],
    [['#'], true, 'sensor-9', true],
    [['devices/sensor-1'], true, 'sensor-1', false],
    [['other/sensor-1/#'], true, 'sensor-1', false],
    [['devices/sensor-1/#'], false, 'sensor-1', false],
  ])('topics %j, commands %s → may command %s: %s', (topics, commands, device, expected) => {
    expect(mayCommand(scoped(topics, commands), device)).toBe(expected);
  });
  it('no principal may command nothing', () => {
    expect(mayCommand(undefined, 'sensor-1')).toBe(false);
  });
});

describe('connection aliases (chat frames never show a connection id)', () => {
  it('come from the authorizer context, one per connection', () => {
    const principal: Principal = { subject: 'a', topics: null, commands: false };
    const first = principalToContext(principal).alias;
    const second = principalToContext(principal).alias;
    expect(first).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(first).not.toBe(second);
    expect(connectionAlias({ alias: first }, 'Abc123=')).toBe(first);
  });

  it('without one, are an opaque HMAC: stable per connection, unlike the id', () => {
    const alias = connectionAlias(undefined, 'Abc123=');
    expect(alias).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(alias).not.toContain('Abc123');
    expect(connectionAlias(null, 'Abc123=')).toBe(alias);
    expect(connectionAlias({}, 'Xyz789=')).not.toBe(alias);
  });
});

describe('filterCovers', () => {
  it.each([
    ['devices/#', 'devices/+/telemetry', true],
    ['devices/#', 'devices', true],
    ['devices/+/telemetry', 'devices/sensor-1/telemetry', true],
    ['devices/+/telemetry', 'devices/+/telemetry', true],
    ['devices/sensor-1/#', 'devices/+/telemetry', false],
    ['devices/+/telemetry', 'devices/#', false],
    ['devices/+/telemetry', 'devices/sensor-1/commands', false],
    ['devices/sensor-1/telemetry', 'devices/sensor-1/telemetry/x', false],
    ['#', 'anything/at/all', true],
  ])('%s covers %s → %s', (outer, inner, expected) => {
    expect(filterCovers(outer, inner)).toBe(expected);
  });
});
