/**
 * The offline SQS queue's semantics, on a clock the test moves (no sleeps), against what the
 * Amazon SQS Developer Guide and API Reference say:
 * - "Amazon SQS visibility timeout": a received message is hidden for the timeout, then received
 *   again with ApproximateReceiveCount one higher; ChangeMessageVisibility restarts the timeout.
 * - DeleteMessage: only the latest receipt handle deletes; an older one "succeeds, but the message
 *   will not be deleted"; a handle that is not one is ReceiptHandleIsInvalid.
 * - "Using dead-letter queues in Amazon SQS": past maxReceiveCount the message is moved to the
 *   dead-letter queue, its enqueue timestamp unchanged ("Setting-up dead-letter queue retention").
 * - MessageRetentionPeriod, DelaySeconds, PurgeQueue (once every 60 s), the 256 KiB default
 *   MaximumMessageSize and the allowed characters ("Amazon SQS message quotas").
 * - The journal: messages, receive counts and deletions survive a restart of the store.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SqsError } from '../../local/sqs/errors';
import { journalFile } from '../../local/sqs/journal';
import { md5, type QueueSettings } from '../../local/sqs/queue';
import { OfflineSqsQueues, defaultQueueSettings } from '../../local/sqs/queue-store';

const ARN = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;
const T0 = Date.UTC(2026, 0, 1);

let dir: string;
let now: number;
let store: OfflineSqsQueues;

function settings(overrides: Partial<QueueSettings> = {}): QueueSettings[] {
  return [
    {
      ...defaultQueueSettings('work', ARN('work')),
      visibilityTimeout: 30,
      redrivePolicy: { deadLetterTargetArn: ARN('work-dlq'), maxReceiveCount: 2 },
      ...overrides,
    },
    { ...defaultQueueSettings('work-dlq', ARN('work-dlq')), messageRetentionPeriod: 1_209_600 },
  ];
}

async function openStore(overrides: Partial<QueueSettings> = {}): Promise<OfflineSqsQueues> {
  const opened = new OfflineSqsQueues(dir, {
    queues: settings(overrides),
    clock: () => now,
    expiryIntervalMs: 0,
  });
  await opened.open();
  return opened;
}

const advance = (seconds: number) => (now += seconds * 1000);
const receive = (max = 10, visibilityTimeout?: number) =>
  store.receive('work', { maxNumberOfMessages: max, visibilityTimeout, waitTimeSeconds: 0 });
const codeOf = (action: () => unknown) => {
  try {
    action();
  } catch (error) {
    return (error as SqsError).code;
  }
  return 'no error';
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-queue-'));
  now = T0;
  store = await openStore();
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('visibility timeout and receive counts', () => {
  it('hides a received message for the timeout, then gives it again with the count raised', async () => {
    const sent = await store.send('work', '{"n":1}');
    expect(sent.md5OfBody).toBe(md5('{"n":1}'));
    const [first] = await receive();
    expect(first!.message.receiveCount).toBe(1);
    expect(first!.message.firstReceivedAt).toBe(T0);
    expect(store.attributes('work')).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    advance(29);
    expect(await receive()).toEqual([]);
    advance(1);
    const [second] = await receive();
    expect(second!.message.id).toBe(sent.id);
    expect(second!.message.receiveCount).toBe(2);
    expect(second!.message.firstReceivedAt).toBe(T0);
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
  });

  it('takes the receive’s VisibilityTimeout over the queue’s, and ChangeMessageVisibility restarts it', async () => {
    await store.send('work', 'a');
    const [received] = await receive(1, 5);
    advance(4);
    store.changeVisibility('work', received!.receiptHandle, 10);
    advance(9);
    expect(await receive()).toEqual([]);
    advance(1);
    expect(await receive()).toHaveLength(1);
  });

  it('ChangeMessageVisibility 0 makes it visible at once; on a visible message it is MessageNotInflight', async () => {
    await store.send('work', 'a');
    const [received] = await receive();
    store.changeVisibility('work', received!.receiptHandle, 0);
    const [again] = await receive(1, 1);
    advance(1);
    expect(codeOf(() => store.changeVisibility('work', again!.receiptHandle, 5))).toBe(
      'MessageNotInflight',
    );
    expect(codeOf(() => store.changeVisibility('work', again!.receiptHandle, 43_201))).toBe(
      'InvalidParameterValue',
    );
  });

  it('returns at most MaxNumberOfMessages (1-10) in the order sent', async () => {
    for (let i = 0; i < 12; i++) await store.send('work', `m${i}`);
    const batch = await receive(10);
    expect(batch.map((r) => r.message.body)).toEqual([...Array(10).keys()].map((i) => `m${i}`));
    expect((await receive(10)).map((r) => r.message.body)).toEqual(['m10', 'm11']);
    await expect(receive(11)).rejects.toMatchObject({ code: 'InvalidParameterValue' });
    await expect(receive(0)).rejects.toMatchObject({ code: 'InvalidParameterValue' });
  });
});

describe('DeleteMessage', () => {
  it('deletes with the latest handle only; an older handle succeeds and deletes nothing', async () => {
    await store.send('work', 'a');
    const [first] = await receive();
    advance(30);
    const [second] = await receive();
    store.delete('work', first!.receiptHandle);
    expect(store.attributes('work').ApproximateNumberOfMessagesNotVisible).toBe('1');
    store.delete('work', second!.receiptHandle);
    expect(store.attributes('work').ApproximateNumberOfMessagesNotVisible).toBe('0');
    advance(60);
    expect(await receive()).toEqual([]);
    // Deleting again is not an error.
    store.delete('work', second!.receiptHandle);
  });

  it('refuses a handle that is not one of this queue (ReceiptHandleIsInvalid)', async () => {
    await store.send('work', 'a');
    const [received] = await receive();
    expect(codeOf(() => store.delete('work', 'garbage'))).toBe('ReceiptHandleIsInvalid');
    expect(codeOf(() => store.delete('work-dlq', received!.receiptHandle))).toBe(
      'ReceiptHandleIsInvalid',
    );
    expect(codeOf(() => store.delete('nope', received!.receiptHandle))).toBe('QueueDoesNotExist');
  });
});

describe('redrive policy', () => {
  it('moves a message to the dead-letter queue when a receive would exceed maxReceiveCount', async () => {
    const sent = await store.send('work', 'poison');
    expect(await receive()).toHaveLength(1);
    advance(30);
    expect(await receive()).toHaveLength(1);
    advance(30);
    expect(await receive()).toEqual([]);
    expect(store.attributes('work')).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    const [dead] = await store.receive('work-dlq', { maxNumberOfMessages: 10 });
    expect(dead!.message).toMatchObject({
      id: sent.id,
      body: 'poison',
      sentAt: T0,
      deadLetterSourceArn: ARN('work'),
    });
  });

  it('keeps the enqueue time: the message expires in the dead-letter queue by its first send', async () => {
    await store.close();
    store = await openStore({ messageRetentionPeriod: 1_209_600 });
    await store.send('work', 'old');
    for (let i = 0; i < 3; i++) {
      await receive();
      advance(30);
    }
    expect(await store.list('work-dlq')).toHaveLength(1);
    advance(1_209_600 - 90);
    store.expireAll();
    expect(await store.list('work-dlq')).toEqual([]);
  });

  it('redrives the dead-letter queue back to its source as messages not received yet', async () => {
    await store.send('work', 'again');
    for (let i = 0; i < 3; i++) {
      await receive();
      advance(30);
    }
    expect(await store.moveMessages('work-dlq')).toEqual({ moved: 1, failed: 0 });
    expect(await store.list('work-dlq')).toEqual([]);
    const [back] = await receive();
    expect(back!.message).toMatchObject({ body: 'again', receiveCount: 1 });
  });
});

describe('retention, delay, purge and limits', () => {
  it('deletes messages past MessageRetentionPeriod, received or not', async () => {
    await store.close();
    store = await openStore({ messageRetentionPeriod: 60 });
    await store.send('work', 'a');
    await store.send('work', 'b');
    await receive(1);
    advance(59);
    expect(await store.list('work')).toHaveLength(2);
    advance(1);
    expect(await receive()).toEqual([]);
    store.expireAll();
    expect(await store.list('work')).toEqual([]);
  });

  it('holds a message for DelaySeconds (ApproximateNumberOfMessagesDelayed)', async () => {
    await store.send('work', 'later', { delaySeconds: 10 });
    expect(store.attributes('work').ApproximateNumberOfMessagesDelayed).toBe('1');
    expect(await receive()).toEqual([]);
    advance(10);
    expect(await receive()).toHaveLength(1);
    await expect(store.send('work', 'x', { delaySeconds: 901 })).rejects.toMatchObject({
      code: 'InvalidParameterValue',
    });
  });

  it('purges everything, once per 60 s (PurgeQueueInProgress)', async () => {
    await store.send('work', 'a');
    await receive();
    await store.send('work', 'b');
    store.purge('work');
    expect(await store.list('work')).toEqual([]);
    advance(59);
    expect(codeOf(() => store.purge('work'))).toBe('PurgeQueueInProgress');
    advance(1);
    store.purge('work');
  });

  it('refuses a message over 256 KiB, an empty one, and characters SQS does not allow', async () => {
    await store.send('work', 'x'.repeat(256 * 1024));
    await expect(store.send('work', 'x'.repeat(256 * 1024 + 1))).rejects.toMatchObject({
      code: 'InvalidParameterValue',
      message: expect.stringContaining('Message must be shorter than 262144 bytes'),
    });
    await expect(store.send('work', '')).rejects.toMatchObject({ code: 'MissingParameter' });
    await expect(store.send('work', 'a\u0000b')).rejects.toMatchObject({
      code: 'InvalidMessageContents',
    });
    await expect(store.send('work', 'lone \ud800')).rejects.toMatchObject({
      code: 'InvalidMessageContents',
    });
    await expect(store.send('missing', 'a')).rejects.toMatchObject({ code: 'QueueDoesNotExist' });
  });
});

describe('long polling', () => {
  it('answers a waiting receive as soon as a message is sent', async () => {
    const waiting = store.receive('work', { waitTimeSeconds: 20 });
    await store.send('work', 'wake');
    const [received] = await waiting;
    expect(received!.message.body).toBe('wake');
  });

  it('ends the wait when the store closes', async () => {
    const waiting = store.receive('work', { waitTimeSeconds: 20 });
    await store.close();
    expect(await waiting).toEqual([]);
  });
});

describe('the journal', () => {
  it('keeps messages, receive counts and deletions across a restart', async () => {
    await store.send('work', 'kept');
    await store.send('work', 'deleted');
    const received = await receive(10);
    store.delete('work', received.find((r) => r.message.body === 'deleted')!.receiptHandle);
    await store.close();

    store = await openStore();
    const listed = await store.list('work');
    expect(listed.map((m) => [m.body, m.receiveCount])).toEqual([['kept', 1]]);
    // In flight before the restart: receivable again at once.
    const [again] = await receive();
    expect(again!.message.receiveCount).toBe(2);
  });

  it('is readable by another store while the owner runs, and survives a torn last line', async () => {
    await store.send('work', 'one');
    await appendFile(journalFile(dir, 'work'), '{"s":{"id":"torn","bo');
    const reader = new OfflineSqsQueues(dir);
    expect((await reader.list('work')).map((m) => m.body)).toEqual(['one']);
    await store.close();
    store = await openStore();
    expect((await store.list('work')).map((m) => m.body)).toEqual(['one']);
    // Opening rewrote the journal as a snapshot: one line per live message.
    expect((await readFile(journalFile(dir, 'work'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});

describe('queue definitions', () => {
  it('refuses a redrive policy whose dead-letter queue is not defined', () => {
    expect(
      () =>
        new OfflineSqsQueues(dir, {
          queues: [
            {
              ...defaultQueueSettings('a', ARN('a')),
              redrivePolicy: { deadLetterTargetArn: ARN('nowhere'), maxReceiveCount: 1 },
            },
          ],
        }),
    ).toThrow(/not a queue of this template/);
  });
});
