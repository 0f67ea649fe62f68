/**
 * `npm run dlq -- --delivery`: the batched delivery queue's dead-letter queue on the offline SQS
 * twin. A reading the consumer did not take in maxReceiveCount receives is moved there by SQS
 * ("Using dead-letter queues in Amazon SQS"); list shows it, redrive is SQS's dead-letter queue
 * redrive (StartMessageMoveTask: back to the source queue, "Configure a dead-letter queue
 * redrive"), and --id moves one message by hand. The CLI runs as a separate process, as a user
 * runs it, against the endpoint on SQS_PORT.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { OfflineSqsQueues } from '../../local/sqs/queue-store';
import { startSqsEndpoint, type SqsEndpoint } from '../../local/sqs/server';
import { queuesFromResources } from '../../local/sqs/template';
import {
  DeliveryDeadLetterQueue,
  runDeliveryCommand,
} from '../../scripts/delivery-dead-letter-queue';
import { REPO_ROOT } from '../support/offline-stack';
import { freePorts } from '../support/ports';

const run = promisify(execFile);
const DELIVERY = 'telemetry-dev-telemetry-delivery';
const DLQ = `${DELIVERY}-dlq`;
/** As resources/delivery-batched.yml declares them, with one receive before the move. */
const RESOURCES = {
  TelemetryDeliveryQueue: {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: DELIVERY,
      VisibilityTimeout: 60,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['TelemetryDeliveryDeadLetterQueue', 'Arn'] },
        maxReceiveCount: 1,
      },
    },
  },
  TelemetryDeliveryDeadLetterQueue: {
    Type: 'AWS::SQS::Queue',
    Properties: { QueueName: DLQ, MessageRetentionPeriod: 1209600 },
  },
};
const reading = (deviceId: string) =>
  JSON.stringify({
    payload: Buffer.from('{"temperature":21.5}').toString('base64'),
    topic: `devices/${deviceId}/telemetry`,
    deviceId,
    receivedAt: Date.UTC(2026, 11, 2, 10, 0, 0),
    messageId: `m-${deviceId}`,
  });

let dir: string;
let queues: OfflineSqsQueues;
let endpoint: SqsEndpoint;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-dlq-'));
  const settings = queuesFromResources(RESOURCES, {
    region: OFFLINE_REGION,
    accountId: '000000000000',
    stackName: 'telemetry-dev',
  });
  queues = new OfflineSqsQueues(dir, { queues: [...settings.values()] });
  await queues.open();
  // The CLI addresses the stack as localhost:SQS_PORT.
  endpoint = await startSqsEndpoint({
    host: 'localhost',
    port: 0,
    queues,
    accountId: '000000000000',
  });
});

afterAll(async () => {
  await endpoint?.stop();
  await queues?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A reading received once and not deleted: the next receive moves it to the DLQ. */
async function deadLetter(deviceId: string): Promise<string> {
  const sent = await queues.send(DELIVERY, reading(deviceId));
  expect(await queues.receive(DELIVERY, { visibilityTimeout: 0 })).toHaveLength(1);
  expect(await queues.receive(DELIVERY)).toEqual([]);
  return sent.id;
}

async function dlq(...args: string[]) {
  return run(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/dlq.ts'), ...args],
    { cwd: REPO_ROOT, env: { ...process.env, SQS_PORT: String(endpoint.port) } },
  );
}

describe('npm run dlq -- --delivery', () => {
  it('lists the dead readings, and redrive moves them back to the delivery queue', async () => {
    const first = await deadLetter('sensor-1');
    const second = await deadLetter('sensor-2');

    const listed = await dlq('list', '--delivery');
    expect(listed.stdout).toContain(`${first}  queued `);
    // One receive in the delivery queue, one by the listing itself.
    expect(listed.stdout).toContain('receive count 2');
    expect(listed.stdout).toContain(
      'device sensor-2, topic devices/sensor-2/telemetry, read at 2026-12-02T10:00:00.000Z',
    );
    expect(listed.stdout).toContain(`2 message(s) in ${DLQ}.`);
    const json = JSON.parse((await dlq('list', '--delivery', '--json')).stdout) as {
      messageId: string;
      sourceArn: string;
    }[];
    expect(json.map((letter) => letter.messageId).sort()).toEqual([first, second].sort());
    expect(json[0]!.sourceArn).toBe(`arn:aws:sqs:${OFFLINE_REGION}:000000000000:${DELIVERY}`);
    // Listing leaves them where they were, visible.
    expect(queues.attributes(DLQ).ApproximateNumberOfMessages).toBe('2');

    const redriven = await dlq('redrive', '--delivery');
    expect(redriven.stdout).toContain(
      `Redrive of ${DLQ} to its source queue: COMPLETED, 2 of 2 message(s) moved.`,
    );
    expect(await queues.list(DLQ)).toEqual([]);
    const back = await queues.list(DELIVERY);
    expect(back.map((m) => [m.messageId, m.receiveCount]).sort()).toEqual(
      [
        [first, 0],
        [second, 0],
      ].sort(),
    );
    for (const received of await queues.receive(DELIVERY, { maxNumberOfMessages: 10 })) {
      queues.delete(DELIVERY, received.receiptHandle);
    }
  });

  it('--id redrives that one message and leaves the others', async () => {
    await deadLetter('sensor-3');
    const chosen = await deadLetter('sensor-4');
    const sqs = new SQSClient({
      endpoint: endpoint.url,
      region: OFFLINE_REGION,
      credentials: OFFLINE_CREDENTIALS,
    });
    const output: string[] = [];
    try {
      const code = await runDeliveryCommand(
        await DeliveryDeadLetterQueue.find(sqs),
        'redrive',
        { id: chosen, json: false, yes: false },
        { write: (text) => output.push(text), ask: async () => undefined },
      );
      expect(code).toBe(0);
    } finally {
      sqs.destroy();
    }
    expect(output.join('')).toContain(`redriven ${chosen} → arn:aws:sqs:`);
    expect((await queues.list(DLQ)).map((m) => JSON.parse(m.body).deviceId)).toEqual(['sensor-3']);
    expect((await queues.list(DELIVERY)).map((m) => JSON.parse(m.body).deviceId)).toEqual([
      'sensor-4',
    ]);
  });

  it('says so when no offline stack answers', async () => {
    const [closed] = await freePorts(1);
    const failed = await run(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/dlq.ts'), 'list', '--delivery'],
      { cwd: REPO_ROOT, env: { ...process.env, SQS_PORT: String(closed) } },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain(
      'the offline SQS endpoint does not answer: is the stack running (npm start)?',
    );
  });
});
