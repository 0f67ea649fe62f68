/**
 * The token's scopes, enforced by the handlers themselves (README, "WebSocket protocol"): a
 * token limited to some topics may subscribe only within them, and sendCommand needs the
 * commands claim and a device within those topics. Each refusal leaves the connection as it was.
 * (The offline stack's websocket-auth test covers the same end to end; this one is fast enough
 * for the mutation run, which found these checks unguarded there.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Principal } from '../../shared/auth/tokens';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as sendCommand } from '../../handlers/sendCommand';
import { handler as subscribe } from '../../handlers/subscribe';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  env = await startHandlerEnv();
});
afterAll(() => env.stop());
beforeEach(async () => {
  for (const item of await env.items()) {
    await disconnect(webSocketEvent(item.connectionId as string, '$disconnect'), lambdaContext());
  }
});

const SENSOR_1_ONLY: Principal = { subject: 's', topics: ['devices/sensor-1/#'], commands: true };
const answer = async (
  route: typeof subscribe,
  routeKey: string,
  body: object,
  principal: Principal,
) =>
  JSON.parse(
    (await route(webSocketEvent('c', routeKey, JSON.stringify(body), principal), lambdaContext()))
      .body ?? 'null',
  );

describe('a token limited to some topics', () => {
  it('subscribes within them, and is refused beyond them with the filters named', async () => {
    await connect(webSocketEvent('c', '$connect', undefined, SENSOR_1_ONLY), lambdaContext());
    const [before] = await env.items();
    const refused = await answer(
      subscribe,
      'subscribe',
      { action: 'subscribe', topics: ['devices/sensor-1/telemetry', 'devices/+/telemetry'] },
      SENSOR_1_ONLY,
    );
    expect(refused).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
      message: 'The token does not allow these topic filters: devices/+/telemetry',
      details: { outside: ['devices/+/telemetry'], allowed: ['devices/sensor-1/#'] },
    });
    const [after] = await env.items();
    expect(after?.topics).toEqual(before?.topics);

    await expect(
      answer(
        subscribe,
        'subscribe',
        { action: 'subscribe', topics: ['devices/sensor-1/telemetry'] },
        SENSOR_1_ONLY,
      ),
    ).resolves.toMatchObject({
      type: 'subscribed',
      // A scoped token's connection starts with its scope as filters; the new one is added.
      topics: ['devices/sensor-1/#', 'devices/sensor-1/telemetry'],
    });
  });

  it('with two scopes, a filter either one covers is allowed; the refusal lists each outside filter', async () => {
    const twoScopes: Principal = {
      subject: 's',
      topics: ['devices/sensor-1/#', 'devices/sensor-2/#'],
      commands: false,
    };
    await connect(webSocketEvent('c', '$connect', undefined, twoScopes), lambdaContext());
    const [before] = await env.items();
    await expect(
      answer(
        subscribe,
        'subscribe',
        {
          action: 'subscribe',
          topics: ['devices/sensor-3/telemetry', 'devices/sensor-2/telemetry', 'devices/+/status'],
        },
        twoScopes,
      ),
    ).resolves.toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
      message:
        'The token does not allow these topic filters: devices/sensor-3/telemetry, devices/+/status',
      details: {
        outside: ['devices/sensor-3/telemetry', 'devices/+/status'],
        allowed: ['devices/sensor-1/#', 'devices/sensor-2/#'],
      },
    });
    const [refused] = await env.items();
    expect(refused?.topics).toEqual(before?.topics);

    // Only the second scope covers it: allowed.
    await expect(
      answer(
        subscribe,
        'subscribe',
        { action: 'subscribe', topics: ['devices/sensor-2/telemetry'] },
        twoScopes,
      ),
    ).resolves.toMatchObject({
      type: 'subscribed',
      topics: ['devices/sensor-1/#', 'devices/sensor-2/#', 'devices/sensor-2/telemetry'],
    });
  });

  it('a token for every topic subscribes to anything', async () => {
    const everything: Principal = { subject: 's', topics: null, commands: false };
    await connect(webSocketEvent('c', '$connect', undefined, everything), lambdaContext());
    await expect(
      answer(subscribe, 'subscribe', { action: 'subscribe', topics: ['#'] }, everything),
    ).resolves.toMatchObject({ type: 'subscribed', topics: ['#'] });
  });
});

describe('sendCommand', () => {
  it('needs the commands claim', async () => {
    const noCommands: Principal = { subject: 's', topics: null, commands: false };
    await connect(webSocketEvent('c', '$connect', undefined, noCommands), lambdaContext());
    await expect(
      answer(
        sendCommand,
        'sendCommand',
        { action: 'sendCommand', deviceId: 'sensor-1', command: 'reboot' },
        noCommands,
      ),
    ).resolves.toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
      message: 'The token does not allow sending commands',
    });
  });

  it('and a device within the token’s topics', async () => {
    await connect(webSocketEvent('c', '$connect', undefined, SENSOR_1_ONLY), lambdaContext());
    await expect(
      answer(
        sendCommand,
        'sendCommand',
        { action: 'sendCommand', deviceId: 'sensor-2', command: 'reboot' },
        SENSOR_1_ONLY,
      ),
    ).resolves.toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
      message: 'The token\'s topics do not include device "sensor-2": it may not command it',
      details: { deviceId: 'sensor-2', topics: ['devices/sensor-1/#'] },
    });
  });
});
