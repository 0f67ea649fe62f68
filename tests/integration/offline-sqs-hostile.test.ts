/**
 * Hostile requests to the offline SQS endpoint: each gets the answer SQS gives ("Common Errors"
 * of the Amazon SQS API Reference: MissingAuthenticationToken and SignatureDoesNotMatch 403,
 * InvalidAction and InvalidParameterValue 400; "Interpreting Amazon SQS JSON API responses" for
 * the shape), nothing is queued, and the endpoint keeps serving. Signed hostile bodies are made
 * by the SDK's own client with its body or target replaced before it signs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { OfflineSqsQueues, defaultQueueSettings } from '../../local/sqs/queue-store';
import { startSqsEndpoint, type SqsEndpoint } from '../../local/sqs/server';

const ACCOUNT = '000000000000';
const QUEUE = 'hostile-target';

let dir: string;
let queues: OfflineSqsQueues;
let endpoint: SqsEndpoint;
let queueUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-hostile-'));
  queues = new OfflineSqsQueues(dir, {
    queues: [defaultQueueSettings(QUEUE, `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:${QUEUE}`)],
  });
  await queues.open();
  endpoint = await startSqsEndpoint({ host: '127.0.0.1', port: 0, queues, accountId: ACCOUNT });
  queueUrl = endpoint.queueUrl(QUEUE);
});

afterAll(async () => {
  await endpoint?.stop();
  await queues?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Tampering {
  /** Replaces the serialized body before the request is signed. */
  body?: string;
  /** Replaces X-Amz-Target before the request is signed. */
  target?: string;
  /** Replaces the body after the request is signed. */
  bodyAfterSigning?: string;
}

/** An SQS client whose requests are tampered with as given. */
function client(tampering: Tampering = {}): SQSClient {
  const sqs = new SQSClient({
    endpoint: endpoint.url,
    region: OFFLINE_REGION,
    credentials: OFFLINE_CREDENTIALS,
    maxAttempts: 1,
  });
  type Request = { body?: unknown; headers: Record<string, string> };
  const replace = (request: Request, body: string | undefined, target?: string) => {
    if (body !== undefined) {
      request.body = body;
      request.headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (target !== undefined) request.headers['x-amz-target'] = target;
  };
  // The SDK's middleware shape (@smithy/types is not a dependency of this project).
  type Handler = (args: { request: unknown }) => Promise<unknown>;
  const tamper = (body: string | undefined, target?: string) =>
    ((next: Handler) => async (args: { request: unknown }) => {
      replace(args.request as Request, body, target);
      return next(args);
    }) as never;
  sqs.middlewareStack.add(tamper(tampering.body, tampering.target), {
    step: 'build',
    priority: 'low',
  });
  sqs.middlewareStack.addRelativeTo(tamper(tampering.bodyAfterSigning), {
    relation: 'after',
    toMiddleware: 'httpSigningMiddleware',
  });
  return sqs;
}

async function failure(
  sqs: SQSClient,
  command: SendMessageCommand | ReceiveMessageCommand | SendMessageBatchCommand,
) {
  try {
    await sqs.send(command as SendMessageCommand);
  } catch (error) {
    const e = error as Error & { Code?: string; $metadata?: { httpStatusCode?: number } };
    return { Code: e.Code, status: e.$metadata?.httpStatusCode };
  } finally {
    sqs.destroy();
  }
  throw new Error('expected the request to be refused');
}

const send = () => new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' });

/** Still serving: a normal send and receive go through, and nothing else was queued. */
async function stillServing(): Promise<void> {
  const sqs = client();
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'alive' }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    expect(Messages.map((m) => m.Body)).toEqual(['alive']);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: Messages[0]!.ReceiptHandle }),
    );
  } finally {
    sqs.destroy();
  }
}

describe('signed requests with hostile bodies', () => {
  it.each([
    ['malformed JSON', '{"QueueUrl": "', 'MalformedQueryString'],
    ['a JSON array', '[1,2,3]', 'MalformedQueryString'],
    ['a JSON string', '"SendMessage"', 'MalformedQueryString'],
    [
      'a QueueUrl that is not a string',
      '{"QueueUrl": 42, "MessageBody": "x"}',
      'InvalidParameterValue',
    ],
    [
      'a QueueUrl 100 000 lists deep',
      `{"QueueUrl": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "MessageBody": "x"}`,
      'InvalidParameterValue',
    ],
    ['no MessageBody', `{"QueueUrl": "QUEUE_URL"}`, 'MissingParameter'],
    [
      'a message of 1.5 MiB',
      `{"QueueUrl": "QUEUE_URL", "MessageBody": "${'y'.repeat(1_572_864)}"}`,
      'InvalidParameterValue',
    ],
    [
      'attributes of the wrong type',
      `{"QueueUrl": "QUEUE_URL", "MessageBody": "x", "MessageAttributes": {"a": {"DataType": "Date", "StringValue": "1"}}}`,
      'InvalidParameterValue',
    ],
    [
      'DelaySeconds as a string',
      `{"QueueUrl": "QUEUE_URL", "MessageBody": "x", "DelaySeconds": "5"}`,
      'InvalidParameterValue',
    ],
  ])('%s: 400', async (_name, body, code) => {
    const refused = await failure(client({ body: body.replace('QUEUE_URL', queueUrl) }), send());
    expect(refused).toEqual({ Code: code, status: 400 });
    await stillServing();
  });

  it('batch entries that are not a list, or not objects: 400', async () => {
    for (const entries of ['"x"', '[1, 2]', '{"Id": "a"}']) {
      const body = `{"QueueUrl": "${queueUrl}", "Entries": ${entries}}`;
      const refused = await failure(
        client({ body }),
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] }),
      );
      expect(refused).toEqual({ Code: 'InvalidParameterValue', status: 400 });
    }
    await stillServing();
  });

  it('an action that is not SQS’s: 400 InvalidAction', async () => {
    for (const target of ['AmazonSQS.Explode', 'DynamoDB_20120810.GetItem', 'AmazonSQS.', '']) {
      expect(await failure(client({ target }), send())).toEqual({
        Code: 'InvalidAction',
        status: 400,
      });
    }
    await stillServing();
  });
});

describe('requests that are not signed with the offline credentials', () => {
  it('a body changed after signing: 403 SignatureDoesNotMatch', async () => {
    const body = `{"QueueUrl": "${queueUrl}", "MessageBody": "forged"}`;
    expect(await failure(client({ bodyAfterSigning: body }), send())).toEqual({
      Code: 'SignatureDoesNotMatch',
      status: 403,
    });
    await stillServing();
  });

  it('no signature at all: 403 MissingAuthenticationToken, as JSON with the query error', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
      },
      body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'unsigned' }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender');
    expect(await response.json()).toMatchObject({ __type: 'MissingAuthenticationToken' });
    await stillServing();
  });

  it('a body of 3 MiB is refused unread (413), declared or streamed', async () => {
    const declared = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: 'z'.repeat(3 * 1024 * 1024),
    });
    expect(declared.status).toBe(413);
    expect(declared.headers.get('x-amzn-query-error')).toBe('RequestEntityTooLarge;Sender');
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 48; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(122));
        controller.close();
      },
    });
    const streamed = await fetch(endpoint.url, {
      method: 'POST',
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    await stillServing();
  });
});
