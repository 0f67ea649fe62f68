import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { handler as authorize } from '../../handlers/authorize';
import { signAccessToken } from '../../shared/auth/tokens';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { lambdaContext } from '../support/lambda';

const SECRET = 'test-secret-of-enough-length-0123456789';
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:api/dev/$connect';

beforeAll(() => {
  process.env.TOKEN_SECRET = SECRET;
  process.env.STAGE = 'dev';
  // The authorizer needs neither the table nor the management API (its own configuration).
  delete process.env.CONNECTIONS_TABLE;
  delete process.env.WEBSOCKET_MANAGEMENT_ENDPOINT;
  resetLazyValues();
});
afterAll(() => {
  delete process.env.TOKEN_SECRET;
  resetLazyValues();
});

const event = (token?: string) =>
  ({
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    queryStringParameters: token === undefined ? {} : { token },
  }) as unknown as APIGatewayRequestAuthorizerEvent;

const token = (overrides: Partial<Parameters<typeof signAccessToken>[1]> = {}, secret = SECRET) =>
  signAccessToken(secret, { subject: 'ana', ttlSeconds: 60, stage: 'dev', ...overrides });

describe('the $connect authorizer', () => {
  it('allows a valid token and passes its scope on to the routes', async () => {
    const result = await authorize(
      event(await token({ topics: ['devices/sensor-7/#'], commands: true })),
      lambdaContext(),
    );
    expect(result).toEqual({
      principalId: 'ana',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      // alias: the connection's opaque name in chat frames, made once per connection.
      context: { topics: '["devices/sensor-7/#"]', commands: 'true', alias: expect.any(String) },
    });
  });

  it.each([
    ['no token', async () => undefined],
    ['an expired token', () => token({ ttlSeconds: -1 })],
    ['a forged token', () => token({}, 'another-secret-of-enough-length-000000')],
    ['a token of another stage', () => token({ stage: 'prod' })],
    ['garbage', async () => 'a.b.c'],
  ])('denies %s', async (_name, make) => {
    const result = await authorize(event(await make()), lambdaContext());
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: METHOD_ARN },
    ]);
    expect(result).not.toHaveProperty('context');
  });
});
