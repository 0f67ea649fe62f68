/**
 * Deeply nested JSON from a WebSocket client is refused as invalid input, not answered with a
 * stack overflow (issue 11, item 4): the depth is bounded before zod walks the command.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { handler as connect } from '../../handlers/connect';
import { handler as sendCommand } from '../../handlers/sendCommand';
import { MAX_COMMAND_DEPTH, sendCommandSchema } from '../../shared/protocol';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';

let env: HandlerEnv;
beforeAll(async () => {
  env = await startHandlerEnv();
  await connect(webSocketEvent('deep', '$connect'), lambdaContext());
});
afterAll(() => env.stop());

/** A command object nested `levels` deep: {"a":{"a":…{"a":1}…}}. */
const nestedCommand = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

describe('sendCommand with a deeply nested command', () => {
  it.each([5_000, 10_000])('%i levels: VALIDATION_FAILED, nothing published', async (levels) => {
    const body = `{"action":"sendCommand","deviceId":"sensor-1","command":${nestedCommand(levels)}}`;
    const response = await sendCommand(
      webSocketEvent('deep', 'sendCommand', body),
      lambdaContext('sendCommand'),
    );
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body ?? 'null')).toMatchObject({
      type: 'error',
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining(`nested more than ${MAX_COMMAND_DEPTH} levels`),
    });
    expect(env.api.posts).toEqual([]);
  });

  it(`${MAX_COMMAND_DEPTH} levels are a valid command; one more is not`, () => {
    const parse = (levels: number) =>
      sendCommandSchema.safeParse({
        action: 'sendCommand',
        deviceId: 'sensor-1',
        command: JSON.parse(nestedCommand(levels)),
      }).success;
    expect(parse(MAX_COMMAND_DEPTH)).toBe(true);
    expect(parse(MAX_COMMAND_DEPTH + 1)).toBe(false);
  });

  it('a deep array counts too, and strings stay valid commands', () => {
    const command = JSON.parse('{"a":' + '['.repeat(40) + ']'.repeat(40) + '}');
    const valid = (value: unknown) =>
      sendCommandSchema.safeParse({ action: 'sendCommand', deviceId: 'sensor-1', command: value })
        .success;
    expect(valid(command)).toBe(false);
    expect(valid('reboot')).toBe(true);
  });
});
