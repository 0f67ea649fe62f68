/**
 * The offline SQS endpoint driven by the AWS SDK's own SQS client (@aws-sdk/client-sqs, the AWS
 * JSON 1.0 protocol), with the behaviour and errors of the Amazon SQS API Reference pages of each
 * action (GetQueueUrl, ListQueues, GetQueueAttributes, SendMessage, SendMessageBatch,
 * ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility(Batch), PurgeQueue,
 * StartMessageMoveTask, ListMessageMoveTasks) and "Interpreting Amazon SQS JSON API responses"
 * (the error's x-amzn-query-error code is what the SDK's exception carries as Code).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  CreateQueueCommand,
} from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { OfflineSqsQueues } from '../../local/sqs/queue-store';
import { startSqsEndpoint, type SqsEndpoint } from '../../local/sqs/server';
import { queuesFromResources } from '../../local/sqs/template';

const ACCOUNT = '000000000000';
/** As serverless.yml's batched delivery declares them (resources/delivery-batched.yml). */
const RESOURCES = {
  Work: {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: 'svc-test-work',
      VisibilityTimeout: 60,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['WorkDlq', 'Arn'] },
        maxReceiveCount: 2,
      },
    },
  },
  WorkDlq: {
    Type: 'AWS::SQS::Queue',
    Properties: { QueueName: 'svc-test-work-dlq', MessageRetentionPeriod: 1209600 },
  },
  Other: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'svc-test-other' } },
};

let dir: string;
let queues: OfflineSqsQueues;
let endpoint: SqsEndpoint;
let sqs: SQSClient;
let workUrl: string;
let otherUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-endpoint-'));
  const settings = queuesFromResources(RESOURCES, {
    region: OFFLINE_REGION,
    accountId: ACCOUNT,
    stackName: 'svc-test',
  });
  queues = new OfflineSqsQueues(dir, { queues: [...settings.values()] });
  await queues.open();
  endpoint = await startSqsEndpoint({ host: '127.0.0.1', port: 0, queues, accountId: ACCOUNT });
  sqs = new SQSClient({
    endpoint: endpoint.url,
    region: OFFLINE_REGION,
    credentials: OFFLINE_CREDENTIALS,
    maxAttempts: 1,
  });
  workUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: 'svc-test-work' }))).QueueUrl!;
  otherUrl = endpoint.queueUrl('svc-test-other');
});

afterAll(async () => {
  sqs?.destroy();
  await endpoint?.stop();
  await queues?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The SDK's exception: its name and the query-compatible Code. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; Code?: string; status?: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { Code?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, Code: e.Code, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

describe('queues', () => {
  it('GetQueueUrl and ListQueues name the template’s queues on this endpoint', async () => {
    expect(workUrl).toBe(`${endpoint.url}/${ACCOUNT}/svc-test-work`);
    const all = await sqs.send(new ListQueuesCommand({}));
    expect(all.QueueUrls).toEqual([
      `${endpoint.url}/${ACCOUNT}/svc-test-other`,
      `${endpoint.url}/${ACCOUNT}/svc-test-work`,
      `${endpoint.url}/${ACCOUNT}/svc-test-work-dlq`,
    ]);
    const some = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'svc-test-work' }));
    expect(some.QueueUrls).toHaveLength(2);
    const none = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'nothing' }));
    expect(none.QueueUrls ?? []).toEqual([]);
  });

  it('GetQueueAttributes gives the template’s settings and the counts', async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: workUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes).toMatchObject({
      QueueArn: `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:svc-test-work`,
      VisibilityTimeout: '60',
      MessageRetentionPeriod: '345600',
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:svc-test-work-dlq`,
      maxReceiveCount: 2,
    });
    const one = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: workUrl, AttributeNames: ['VisibilityTimeout'] }),
    );
    expect(one.Attributes).toEqual({ VisibilityTimeout: '60' });
  });

  it('a queue that is not in the template is QueueDoesNotExist, and CreateQueue is unsupported', async () => {
    expect(await failure(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })))).toMatchObject({
      name: 'QueueDoesNotExist',
      Code: 'AWS.SimpleQueueService.NonExistentQueue',
      status: 400,
      message: 'The specified queue does not exist.',
    });
    const wrongAccount = workUrl.replace(ACCOUNT, '123456789012');
    expect(
      await failure(sqs.send(new SendMessageCommand({ QueueUrl: wrongAccount, MessageBody: 'x' }))),
    ).toMatchObject({ name: 'QueueDoesNotExist' });
    expect(await failure(sqs.send(new CreateQueueCommand({ QueueName: 'new' })))).toMatchObject({
      name: 'UnsupportedOperation',
      Code: 'AWS.SimpleQueueService.UnsupportedOperation',
    });
  });
});

describe('messages', () => {
  it('sends, receives with the system and message attributes asked for, and deletes', async () => {
    const before = Date.now();
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: workUrl,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: { unit: { DataType: 'String', StringValue: 'C' } },
      }),
    );
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    // The SDK checks MD5OfMessageBody and MD5OfBody itself: a wrong digest would throw.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: workUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    expect(Messages).toHaveLength(1);
    const [message] = Messages;
    expect(message).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"hello":"world"}',
      MessageAttributes: { unit: { DataType: 'String', StringValue: 'C' } },
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      Attributes: { ApproximateReceiveCount: '1', SenderId: expect.any(String) },
    });
    expect(Number(message!.Attributes!.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(message!.Attributes!.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
      Number(message!.Attributes!.SentTimestamp),
    );
    const counts = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: workUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(counts.Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: workUrl, ReceiptHandle: message!.ReceiptHandle }),
    );
    expect((await queues.list('svc-test-work')).length).toBe(0);
  });

  it('only the attributes asked for come back', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'plain' }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: workUrl,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect(Messages[0]!.Attributes).toEqual({ ApproximateReceiveCount: '1' });
    expect(Messages[0]!.MessageAttributes).toBeUndefined();
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: workUrl, ReceiptHandle: Messages[0]!.ReceiptHandle }),
    );
  });

  it('SendMessageBatch reports each entry; a too-large one fails alone', async () => {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: otherUrl,
        Entries: [
          { Id: 'small', MessageBody: 'a' },
          { Id: 'large', MessageBody: 'x'.repeat(256 * 1024 + 1) },
          { Id: 'delayed', MessageBody: 'b', DelaySeconds: 1 },
        ],
      }),
    );
    expect(result.Successful?.map((entry) => entry.Id).sort()).toEqual(['delayed', 'small']);
    expect(result.Failed).toEqual([
      expect.objectContaining({ Id: 'large', SenderFault: true, Code: 'InvalidParameterValue' }),
    ]);
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: otherUrl, AttributeNames: ['All'] }),
    );
    expect(attributes.Attributes?.ApproximateNumberOfMessagesDelayed).toBe('1');
    expect(
      await failure(
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: otherUrl,
            Entries: [...Array(11).keys()].map((i) => ({ Id: `m${i}`, MessageBody: 'x' })),
          }),
        ),
      ),
    ).toMatchObject({
      name: 'TooManyEntriesInBatchRequest',
      Code: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    });
    expect(
      await failure(
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: otherUrl,
            Entries: [
              { Id: 'same', MessageBody: 'x' },
              { Id: 'same', MessageBody: 'y' },
            ],
          }),
        ),
      ),
    ).toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    expect(
      await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: otherUrl, Entries: [] }))),
    ).toMatchObject({ name: 'EmptyBatchRequest' });
    expect(
      await failure(
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: otherUrl,
            Entries: [{ Id: 'not valid!', MessageBody: 'x' }],
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidBatchEntryId' });
  });
});

describe('visibility, long polling and errors', () => {
  it('ChangeMessageVisibility 0 hands the message out again at once; a stale handle is refused', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'again' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl }));
    const handle = first.Messages![0]!.ReceiptHandle!;
    expect(
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl }))).Messages,
    ).toBeUndefined();
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: workUrl,
        ReceiptHandle: handle,
        VisibilityTimeout: 0,
      }),
    );
    const second = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: workUrl, MessageSystemAttributeNames: ['All'] }),
    );
    expect(second.Messages![0]!.Attributes!.ApproximateReceiveCount).toBe('2');
    expect(
      await failure(
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: workUrl,
            ReceiptHandle: handle,
            VisibilityTimeout: 10,
          }),
        ),
      ),
    ).toMatchObject({ Code: 'InvalidParameterValue', status: 400 });
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: workUrl,
        ReceiptHandle: second.Messages![0]!.ReceiptHandle,
      }),
    );
  });

  it('a long poll returns as soon as a message is sent', async () => {
    const started = Date.now();
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl, WaitTimeSeconds: 10 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'wake up' }));
    const { Messages } = await waiting;
    expect(Messages?.[0]?.Body).toBe('wake up');
    expect(Date.now() - started).toBeLessThan(5_000);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: workUrl, ReceiptHandle: Messages![0]!.ReceiptHandle }),
    );
  });

  it('answers out-of-range parameters and bad handles with SQS’s errors', async () => {
    for (const input of [
      { MaxNumberOfMessages: 11 },
      { VisibilityTimeout: 43_201 },
      { WaitTimeSeconds: 21 },
    ]) {
      expect(
        await failure(sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl, ...input }))),
      ).toMatchObject({ Code: 'InvalidParameterValue', status: 400 });
    }
    expect(
      await failure(
        sqs.send(new DeleteMessageCommand({ QueueUrl: workUrl, ReceiptHandle: 'bogus' })),
      ),
    ).toMatchObject({
      name: 'ReceiptHandleIsInvalid',
      Code: 'ReceiptHandleIsInvalid',
      status: 404,
    });
    expect(
      await failure(
        sqs.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'x'.repeat(262_145) })),
      ),
    ).toMatchObject({
      Code: 'InvalidParameterValue',
      message: expect.stringContaining('Message must be shorter than 262144 bytes'),
    });
    expect(
      await failure(
        sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: workUrl,
            MessageSystemAttributeNames: ['Nope' as 'All'],
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidAttributeName' });
  });

  it('PurgeQueue empties the queue, once per 60 s', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: otherUrl, MessageBody: 'gone' }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: otherUrl }));
    expect(await queues.list('svc-test-other')).toEqual([]);
    expect(await failure(sqs.send(new PurgeQueueCommand({ QueueUrl: otherUrl })))).toMatchObject({
      name: 'PurgeQueueInProgress',
      Code: 'AWS.SimpleQueueService.PurgeQueueInProgress',
      status: 403,
    });
  });

  it('refuses requests not signed with the offline credentials (403), changing nothing', async () => {
    const wrong = new SQSClient({
      endpoint: endpoint.url,
      region: OFFLINE_REGION,
      credentials: { accessKeyId: OFFLINE_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' },
      maxAttempts: 1,
    });
    const stranger = new SQSClient({
      endpoint: endpoint.url,
      region: OFFLINE_REGION,
      credentials: { accessKeyId: 'AKIASTRANGER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      expect(
        await failure(wrong.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'x' }))),
      ).toMatchObject({ status: 403, Code: 'SignatureDoesNotMatch' });
      expect(
        await failure(
          stranger.send(new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'x' })),
        ),
      ).toMatchObject({ status: 403, Code: 'InvalidClientTokenId' });
      expect(await queues.list('svc-test-work')).toEqual([]);
    } finally {
      wrong.destroy();
      stranger.destroy();
    }
  });
});

describe('the dead-letter queue', () => {
  it('receives past maxReceiveCount go to the DLQ; StartMessageMoveTask redrives them back', async () => {
    const dlqUrl = endpoint.queueUrl('svc-test-work-dlq');
    const sent = await sqs.send(
      new SendMessageCommand({ QueueUrl: workUrl, MessageBody: 'poison' }),
    );
    for (let i = 0; i < 2; i++) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: workUrl, VisibilityTimeout: 0 }),
      );
      expect(Messages?.[0]?.MessageId).toBe(sent.MessageId);
    }
    expect(
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: workUrl }))).Messages,
    ).toBeUndefined();
    const dead = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(dead.Messages?.[0]).toMatchObject({
      MessageId: sent.MessageId,
      Body: 'poison',
      Attributes: {
        DeadLetterQueueSourceArn: `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:svc-test-work`,
      },
    });

    const dlqArn = `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:svc-test-work-dlq`;
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
    expect(TaskHandle).toBeTruthy();
    const tasks = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
    expect(tasks.Results?.[0]).toMatchObject({
      Status: 'COMPLETED',
      ApproximateNumberOfMessagesMoved: 1,
      TaskHandle,
    });
    const back = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: workUrl, MessageSystemAttributeNames: ['All'] }),
    );
    expect(back.Messages?.[0]).toMatchObject({
      Body: 'poison',
      Attributes: { ApproximateReceiveCount: '1' },
    });
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: workUrl,
        ReceiptHandle: back.Messages![0]!.ReceiptHandle,
      }),
    );
    expect(
      await failure(
        sqs.send(
          new StartMessageMoveTaskCommand({
            SourceArn: `arn:aws:sqs:${OFFLINE_REGION}:${ACCOUNT}:svc-test-other`,
          }),
        ),
      ),
    ).toMatchObject({ Code: 'InvalidParameterValue' });
  });
});
