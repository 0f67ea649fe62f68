/**
 * sendCommand against a real offline IoT data plane (which verifies the Lambda's SigV4
 * signature) and dynalite: a token's commands stay within its topics, and a command whose
 * message would exceed IoT Core's 128 KB payload ("AWS IoT Core message broker limits and
 * quotas") is refused before anything is published (issue 11, items 8 and 11).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect';
import { handler as sendCommand } from '../../handlers/sendCommand';
import type { Principal } from '../../shared/auth/tokens';
import { IOT_PAYLOAD_MAX_BYTES } from '../../shared/commands';
import { resetLazyValues } from '../../shared/runtime/lazy';
import {
  startDataPlaneEndpoint,
  type DataPlaneEndpoint,
} from '../../local/iot/endpoints/data-plane';
import type { PublishRequest } from '../../local/iot/endpoints/publish-request';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { FULL_ACCESS, lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
let dataPlane: DataPlaneEndpoint;
const published: PublishRequest[] = [];

beforeAll(async () => {
  env = await startHandlerEnv();
  dataPlane = await startDataPlaneEndpoint({
    host: '127.0.0.1',
    port: 0,
    publish: async (request) => {
      published.push(request);
    },
  });
  process.env.IOT_DATA_ENDPOINT = `http://127.0.0.1:${dataPlane.port}`;
  resetLazyValues();
});
afterAll(async () => {
  delete process.env.IOT_DATA_ENDPOINT;
  await dataPlane.stop();
  await env.stop();
});
beforeEach(() => {
  published.length = 0;
});

const SENSOR_1_ONLY: Principal = { subject: 'ops', topics: ['devices/sensor-1/#'], commands: true };

async function send(command: unknown, deviceId: string, principal: Principal = FULL_ACCESS) {
  const connectionId = `c-${Math.random().toString(36).slice(2)}`;
  await connect(webSocketEvent(connectionId, '$connect', undefined, principal), lambdaContext());
  const body = JSON.stringify({ action: 'sendCommand', deviceId, command });
  const response = await sendCommand(
    webSocketEvent(connectionId, 'sendCommand', body, principal),
    lambdaContext('sendCommand'),
  );
  return { status: response.statusCode, frame: JSON.parse(response.body ?? 'null') };
}

describe('a token limited to devices/sensor-1/# with the commands claim', () => {
  it('commands sensor-1 through the signed data plane', async () => {
    const { status, frame } = await send({ reboot: true }, 'sensor-1', SENSOR_1_ONLY);
    expect(status).toBe(200);
    expect(frame).toMatchObject({ type: 'commandSent', topic: 'devices/sensor-1/commands' });
    expect(published.map((request) => request.topic)).toEqual(['devices/sensor-1/commands']);
  });

  it('may not command sensor-2: FORBIDDEN, nothing published', async () => {
    const { status, frame } = await send({ reboot: true }, 'sensor-2', SENSOR_1_ONLY);
    expect(status).toBe(403);
    expect(frame).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
      details: { deviceId: 'sensor-2', topics: ['devices/sensor-1/#'] },
    });
    expect(published).toEqual([]);
  });
});

describe('the size of a command', () => {
  /** A command string whose sendCommand frame is exactly `frameBytes` long. */
  const commandForFrame = (frameBytes: number, deviceId = 'sensor-1') => {
    const overhead = JSON.stringify({ action: 'sendCommand', deviceId, command: '' }).length;
    return 'x'.repeat(frameBytes - overhead);
  };

  it('a 131 030-byte frame: MESSAGE_TOO_LARGE with the limit, nothing published', async () => {
    const { status, frame } = await send(commandForFrame(131_030), 'sensor-1');
    expect(status).toBe(413);
    expect(frame).toMatchObject({
      type: 'error',
      code: 'MESSAGE_TOO_LARGE',
      details: { limit: IOT_PAYLOAD_MAX_BYTES, size: expect.any(Number) },
    });
    expect(frame.details.size).toBeGreaterThan(IOT_PAYLOAD_MAX_BYTES);
    expect(frame.message).toContain(`the limit is ${IOT_PAYLOAD_MAX_BYTES} bytes`);
    expect(published).toEqual([]);
  });

  it('the envelope is measured exactly: the largest command that fits is published', async () => {
    // {"commandId":"<36>","command":"…","issuedAt":"<24>"}: 84 bytes around the command string.
    const envelope = JSON.stringify({
      commandId: '00000000-0000-0000-0000-000000000000',
      command: '',
      issuedAt: new Date().toISOString(),
    }).length;
    const fits = 'y'.repeat(IOT_PAYLOAD_MAX_BYTES - envelope);
    const ok = await send(fits, 'sensor-1');
    expect(ok.status).toBe(200);
    expect(published).toHaveLength(1);
    expect(published[0]?.payload.length).toBe(IOT_PAYLOAD_MAX_BYTES);

    const tooLarge = await send(`${fits}y`, 'sensor-1');
    expect(tooLarge.frame).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      details: { size: IOT_PAYLOAD_MAX_BYTES + 1 },
    });
    expect(published).toHaveLength(1);
  });
});
