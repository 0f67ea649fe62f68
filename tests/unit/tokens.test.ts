import { describe, expect, it } from '@jest/globals';
import {
  principalFromContext,
  principalToContext,
  signAccessToken,
  verifyAccessToken,
} from '../../shared/auth/tokens';
import { filterCovers } from '../../shared/topics';

describe('access tokens', () => {
  it('round-trip their claims', async () => {
    const token = await signAccessToken('s'.repeat(32), {
      subject: 'ops',
      topics: ['devices/+/telemetry'],
      commands: true,
      ttlSeconds: 60,
      stage: 'dev',
    });
    const principal = await verifyAccessToken('s'.repeat(32), token, 'dev');
    expect(principal).toEqual({ subject: 'ops', topics: ['devices/+/telemetry'], commands: true });
    expect(principalFromContext({ principalId: 'ops', ...principalToContext(principal) })).toEqual(
      principal,
    );
  });

  it('refuse to mint a token with an invalid topic filter', async () => {
    await expect(
      signAccessToken('s'.repeat(32), {
        subject: 'x',
        topics: ['a/#/b'],
        ttlSeconds: 60,
        stage: 'dev',
      }),
    ).rejects.toThrow(/invalid topic filter/);
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
