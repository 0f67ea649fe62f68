/**
 * forwardTelemetry keeps crashing (its table is gone): the rule's action is retried, then the
 * message lands in the dead-letter store; once the fault is repaired, `npm run dlq -- redrive`
 * delivers it. Runs against the whole offline stack.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deadLetterDirectory } from '../../local/iot/core';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import { connectDevice, deviceCredentials } from '../support/devices';
import { printReport, tally } from '../support/fault-report';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';

const run = promisify(execFile);
const TABLE = 'telemetry-dev-connections';

let stack: OfflineStack;
let dynamodb: DynamoDBClient;
beforeAll(async () => {
  stack = await startOfflineStack();
  dynamodb = new DynamoDBClient({ endpoint: `http://localhost:${stack.ports.dynamodb}` });
}, 120_000);
afterAll(async () => {
  dynamodb?.destroy();
  await stack?.stop();
}, 30_000);

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('a crashing forwardTelemetry dead-letters the message, and redrive delivers it', async () => {
  const store = new DeadLetterStore(deadLetterDirectory(stack.localCloudDir));
  await dynamodb.send(new DeleteTableCommand({ TableName: TABLE }));

  const device = await connectDevice(
    stack.ports.mqtt,
    deviceCredentials(stack.localCloudDir, 'sensor-1'),
  );
  await device.publishAsync(
    'devices/sensor-1/telemetry',
    JSON.stringify({ marker: 'lost-then-found' }),
    { qos: 1 },
  );
  await device.endAsync();

  const [letter] = await waitFor(async () => {
    const letters = await store.list();
    return letters.length > 0 ? letters : undefined;
  });
  expect(letter).toMatchObject({
    attempts: 3,
    topic: 'devices/sensor-1/telemetry',
    reason: expect.any(String),
  });

  // Repair the fault, then a client connects and the dead letter is redriven to it.
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
    }),
  );
  const viewer = await connectClient(stack.websocketUrl);
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/dlq.ts'), 'redrive'],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        LOCAL_CLOUD_DIR: stack.localCloudDir,
        LAMBDA_PORT: String(stack.ports.lambda),
      },
    },
  );
  expect(stdout).toContain('Redrive: 1 delivered, 0 failed, 0 skipped.');

  const frame = await viewer.waitFor(
    (f) => f.type === 'telemetry' && (f.data as { marker?: string }).marker === 'lost-then-found',
  );
  const report = tally([letter!.output!.messageId as string], [frame.id as string]);
  printReport('forwardTelemetry crashing, then redrive', report);
  expect(report.lost).toBe(0);
  expect(await store.list()).toEqual([]);
  await viewer.close();
}, 90_000);
