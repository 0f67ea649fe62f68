/**
 * The offline delivery dead-letter queue across a stack restart, then redriven (issue 15): a
 * reading in `telemetry-dev-telemetry-delivery-dlq` is still there after the stack stops and
 * starts again on the same state folder (the queues' journals in `.local-cloud/sqs/`, as an SQS
 * queue keeps its messages), `npm run dlq -- list --delivery` shows it, and `redrive --delivery`
 * (SQS's StartMessageMoveTask) puts it back in the delivery queue, whose event source mapping
 * hands it to forwardTelemetry: the viewer gets it.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

const run = promisify(execFile);
const DLQ = 'telemetry-dev-telemetry-delivery-dlq';
const BATCHED = ['--param=deliveryMode=batched'];

let dir: string;
let stack: OfflineStack | undefined;
let viewer: TestClient | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sqs-restart-'));
});

afterAll(async () => {
  await viewer?.close();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

const client = (endpoint: string) =>
  new SQSClient({ endpoint, region: OFFLINE_REGION, credentials: OFFLINE_CREDENTIALS });

it('a dead-lettered reading survives a restart and is delivered once redriven', async () => {
  // The telemetry rule's output for one reading, as it lands in the delivery queue.
  const reading = {
    payload: Buffer.from(JSON.stringify({ temperature: 19.5, marker: 'restart' })).toString(
      'base64',
    ),
    topic: 'devices/sensor-9/telemetry',
    deviceId: 'sensor-9',
    receivedAt: Date.now(),
    messageId: 'f0f0f0f0-0000-4000-8000-000000000009',
  };
  stack = await startOfflineStack({ serverlessArgs: BATCHED, env: { LOCAL_CLOUD_DIR: dir } });
  const first = client(stack.endpoints.sqs);
  try {
    await first.send(
      new SendMessageCommand({
        QueueUrl: `${stack.endpoints.sqs}/000000000000/${DLQ}`,
        MessageBody: JSON.stringify(reading),
      }),
    );
  } finally {
    first.destroy();
  }
  expect(await stack.stop()).toBe(0);

  stack = await startOfflineStack({ serverlessArgs: BATCHED, env: { LOCAL_CLOUD_DIR: dir } });
  viewer = await connectClient(stack.websocketUrl);
  const dlq = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/dlq.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, SQS_PORT: String(stack!.ports.sqs) },
    });

  const listed = await dlq('list', '--delivery');
  expect(listed.stdout).toContain('device sensor-9, topic devices/sensor-9/telemetry');
  expect(listed.stdout).toContain(`1 message(s) in ${DLQ}.`);

  const redriven = await dlq('redrive', '--delivery');
  expect(redriven.stdout).toContain('COMPLETED, 1 of 1 message(s) moved.');

  const frame = await viewer.waitFor(
    (f) =>
      f.type === 'telemetryBatch' &&
      (f.items as { deviceId: string }[]).some((item) => item.deviceId === 'sensor-9'),
    15_000,
  );
  expect(frame.items).toEqual([
    expect.objectContaining({
      type: 'telemetry',
      deviceId: 'sensor-9',
      data: { temperature: 19.5, marker: 'restart' },
    }),
  ]);
}, 240_000);
