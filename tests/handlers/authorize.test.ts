import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  it('denies a $connect without any query string (API Gateway passes null)', async () => {
    const result = await authorize(
      { ...event(), queryStringParameters: null } as unknown as APIGatewayRequestAuthorizerEvent,
      lambdaContext(),
    );
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: METHOD_ARN },
    ]);
  });
});

/**
 * On AWS the secret is an SSM SecureString read with GetParameter (JSON 1.1 protocol:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html). A
 * local SSM endpoint that answers as the service does, found by the SDK through
 * AWS_ENDPOINT_URL_SSM as the handlers find every local twin.
 */
describe('the $connect authorizer with its secret in SSM', () => {
  const PARAMETER = '/edge/dev/token-secret';
  let ssm: Server;
  let answer: (name: string) => { status: number; body: object };
  const requests: {
    target: string | undefined;
    body: { Name?: string; WithDecryption?: boolean };
  }[] = [];

  beforeAll(async () => {
    ssm = createServer((request, response) => {
      let raw = '';
      request.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      request.on('end', () => {
        const body = JSON.parse(raw) as { Name?: string; WithDecryption?: boolean };
        requests.push({ target: request.headers['x-amz-target'] as string | undefined, body });
        const { status, body: reply } = answer(body.Name ?? '');
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => ssm.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_SSM = `http://127.0.0.1:${(ssm.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    process.env.TOKEN_SECRET = SECRET;
    delete process.env.TOKEN_SECRET_PARAMETER;
    requests.length = 0;
    resetLazyValues();
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_SSM;
    await new Promise((resolve) => ssm.close(resolve));
  });

  const fromParameter = () => {
    delete process.env.TOKEN_SECRET;
    process.env.TOKEN_SECRET_PARAMETER = PARAMETER;
    resetLazyValues();
  };

  it('reads it decrypted once and allows a token signed with it', async () => {
    answer = (name) => ({
      status: 200,
      body: { Parameter: { Name: name, Type: 'SecureString', Value: SECRET, Version: 1 } },
    });
    fromParameter();
    const result = await authorize(event(await token()), lambdaContext());
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    await authorize(event(await token()), lambdaContext());
    expect(requests).toEqual([
      { target: 'AmazonSSM.GetParameter', body: { Name: PARAMETER, WithDecryption: true } },
    ]);
  });

  // A secret that cannot be read is the stage's fault, not the client's: the authorizer fails
  // (API Gateway answers the handshake 500) instead of denying the token as invalid (403), and
  // the next connection tries SSM again.
  it.each([
    [
      'the parameter does not exist',
      () => ({
        status: 400,
        body: { __type: 'ParameterNotFound', message: 'Parameter not found' },
      }),
      /Parameter not found/,
    ],
    [
      'the parameter is empty',
      (name: string) => ({
        status: 200,
        body: { Parameter: { Name: name, Type: 'SecureString', Value: '', Version: 1 } },
      }),
      new RegExp(`SSM parameter ${PARAMETER} is empty`),
    ],
  ])('fails, not denies, when %s', async (_name, reply, message) => {
    answer = reply;
    fromParameter();
    await expect(authorize(event(await token()), lambdaContext())).rejects.toThrow(message);
    await expect(authorize(event(await token()), lambdaContext())).rejects.toThrow(message);
    expect(requests).toHaveLength(2);
  });

  it('fails when neither a secret nor its parameter is configured', async () => {
    delete process.env.TOKEN_SECRET;
    resetLazyValues();
    await expect(authorize(event(await token()), lambdaContext())).rejects.toThrow(
      'Set TOKEN_SECRET or TOKEN_SECRET_PARAMETER for the WebSocket authorizer',
    );
    expect(requests).toEqual([]);
  });
});
