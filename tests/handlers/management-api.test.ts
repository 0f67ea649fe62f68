/**
 * The @connections stand-in the handler tests post to (tests/support/management-api.ts) is held
 * to API Gateway's behaviour ("Use @connections commands in your backend service", API Gateway
 * Developer Guide): if it were kinder than API Gateway, a handler bug would pass here and fail
 * in AWS. Every case goes through the SDK client the handlers use.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiGatewayManagementApiClient,
  ForbiddenException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { isTransient } from '../../shared/connections/retry';
import {
  MANAGEMENT_STAGE,
  MESSAGE_PAYLOAD_MAX_BYTES,
  startManagementApi,
  type ManagementApi,
} from '../support/management-api';

let api: ManagementApi;
const clients: ApiGatewayManagementApiClient[] = [];
beforeAll(async () => {
  api = await startManagementApi();
});
afterAll(async () => {
  clients.forEach((client) => client.destroy());
  await api.close();
});

/** As shared/runtime/broadcaster.ts builds it, with the handlers' env credentials. */
const clientFor = (
  endpoint: string,
  extra: Partial<ConstructorParameters<typeof ApiGatewayManagementApiClient>[0]> = {},
) => {
  const client = new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 1, ...extra });
  clients.push(client);
  return client;
};
const post = (client: ApiGatewayManagementApiClient, connectionId: string, data = '{}') =>
  client
    .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }))
    .then(
      () => 'delivered',
      (error: unknown) => error,
    );

describe('the @connections stand-in, as strict as API Gateway', () => {
  it('lives under the stage: its endpoint ends with /{stage}, as production’s does', async () => {
    expect(api.endpoint).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${MANAGEMENT_STAGE}$`));
    const before = api.posts.length;
    await expect(post(clientFor(api.endpoint), 'c-stage')).resolves.toBe('delivered');
    expect(api.posts.slice(before)).toEqual([{ connectionId: 'c-stage', body: '{}' }]);
  });

  it('refuses /@connections without the stage, and another stage, with 403 ForbiddenException', async () => {
    const base = api.endpoint.slice(0, -`/${MANAGEMENT_STAGE}`.length);
    const before = api.posts.length;
    for (const endpoint of [base, `${base}/prod`]) {
      const refused = await post(clientFor(endpoint), 'c-nostage');
      expect(refused).toBeInstanceOf(ForbiddenException);
      expect(refused).toMatchObject({ $metadata: { httpStatusCode: 403 } });
    }
    expect(api.posts.length).toBe(before);
  });

  it('refuses a request signed with other credentials, or not signed at all (SigV4)', async () => {
    const before = api.posts.length;
    const wrongKey = clientFor(api.endpoint, {
      credentials: { accessKeyId: 'offline', secretAccessKey: 'not-the-secret' },
    });
    const refused = await post(wrongKey, 'c-signed');
    expect(refused).toBeInstanceOf(ForbiddenException);
    expect(api.refused.at(-1)).toMatchObject({ status: 403, message: /SignatureDoesNotMatch/ });

    const unsigned = await fetch(`${api.endpoint}/@connections/c-signed`, {
      method: 'POST',
      body: '{}',
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('ForbiddenException');
    expect(api.refused.at(-1)).toMatchObject({ message: /MissingAuthenticationToken/ });
    expect(api.posts.length).toBe(before);
  });

  it('answers a gone connection 410 with the header from which the SDK raises GoneException', async () => {
    api.gone.add('c-gone');
    try {
      const refused = await post(clientFor(api.endpoint), 'c-gone');
      expect(refused).toBeInstanceOf(GoneException);
      expect(refused).toMatchObject({ $metadata: { httpStatusCode: 410 } });
    } finally {
      api.gone.delete('c-gone');
    }
  });

  it('refuses data over 128 KB with 413 and records none of it', async () => {
    const before = api.posts.length;
    const tooLarge = api.tooLarge;
    const client = clientFor(api.endpoint);
    const refused = await post(client, 'c-big', 'a'.repeat(MESSAGE_PAYLOAD_MAX_BYTES + 1));
    expect(refused).toMatchObject({
      name: 'PayloadTooLargeException',
      $metadata: { httpStatusCode: 413 },
    });
    expect(api.tooLarge).toBe(tooLarge + 1);
    expect(api.posts.length).toBe(before);
  });

  it('a hanging post is never answered: the client only returns through its own timeout', async () => {
    api.faults.set('c-hang', 'hang');
    try {
      const client = clientFor(api.endpoint, {
        requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true },
      });
      const started = Date.now();
      const outcome = await post(client, 'c-hang');
      const elapsed = Date.now() - started;
      expect(outcome).toMatchObject({ name: 'TimeoutError' });
      expect(isTransient(outcome)).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(api.posts.some((p) => p.connectionId === 'c-hang')).toBe(false);
    } finally {
      api.faults.delete('c-hang');
    }
  });

  it('a hung request stays open on the server until the client gives up', async () => {
    api.fault = 'hang';
    try {
      const client = clientFor(api.endpoint, {
        requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
      });
      const pending = post(client, 'c-hang-2');
      await waitFor(() => api.hanging() === 1);
      expect(await pending).toMatchObject({ name: 'TimeoutError' });
      await waitFor(() => api.hanging() === 0);
    } finally {
      api.fault = undefined;
    }
  });

  it('a reset post fails with a network error, not an HTTP answer', async () => {
    api.faults.set('c-reset', 'reset');
    try {
      const outcome = await post(clientFor(api.endpoint), 'c-reset');
      expect(outcome).toBeInstanceOf(Error);
      expect(outcome).not.toHaveProperty('$metadata.httpStatusCode');
      // Outside Jest the SDK raises Node's own error (name TimeoutError, code ECONNRESET), which
      // isTransient retries. Jest's VM realm makes it fail the SDK's `instanceof Error`, so
      // the SDK wraps it and only the message is left to tell what happened.
      expect((outcome as Error).message).toMatch(/socket hang up/);
      expect(api.posts.some((p) => p.connectionId === 'c-reset')).toBe(false);
    } finally {
      api.faults.delete('c-reset');
    }
    await expect(post(clientFor(api.endpoint), 'c-reset')).resolves.toBe('delivered');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
