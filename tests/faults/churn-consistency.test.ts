/**
 * The fan-out under churn, on a DynamoDB twin that is as loose as DynamoDB: reads without
 * ConsistentRead answer with the table of 300 ms ago ("Read consistency", DynamoDB Developer
 * Guide). Clients connect and leave while messages are broadcast; every client registered before
 * a message's fan-out started receives it, and none that had left does.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { handler as connect } from '../../handlers/connect';
import { handler as disconnect } from '../../handlers/disconnect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';
import { TEST_TABLE } from '../support/local-dynamodb';

const LAG_MS = 300;

let env: HandlerEnv;
beforeAll(async () => {
  process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS = String(LAG_MS);
  env = await startHandlerEnv();
});
afterAll(async () => {
  await env.stop();
  delete process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS;
});

describe('the offline DynamoDB in eventual-consistency mode', () => {
  it('serves an eventually consistent read from before a recent write, a consistent one after it', async () => {
    const client = new DynamoDBClient({ endpoint: env.db.endpoint });
    const key = { connectionId: { S: 'probe' } };
    await client.send(new PutItemCommand({ TableName: TEST_TABLE, Item: key }));
    const eventual = await client.send(new GetItemCommand({ TableName: TEST_TABLE, Key: key }));
    const consistent = await client.send(
      new GetItemCommand({ TableName: TEST_TABLE, Key: key, ConsistentRead: true }),
    );
    const scan = await client.send(new ScanCommand({ TableName: TEST_TABLE }));
    expect(eventual.Item).toBeUndefined();
    expect(consistent.Item).toEqual(key);
    expect(scan.Items?.some((item) => item.connectionId?.S === 'probe')).toBe(false);
    // Later, the eventually consistent reads catch up.
    const started = Date.now();
    while (!(await client.send(new GetItemCommand({ TableName: TEST_TABLE, Key: key }))).Item) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Date.now() - started).toBeLessThan(LAG_MS + 500);
    await env.items().then(async (items) => {
      for (const item of items) {
        await disconnect(
          webSocketEvent(item.connectionId as string, '$disconnect'),
          lambdaContext(),
        );
      }
    });
    client.destroy();
  });
});

describe('fan-out while clients connect and leave', () => {
  it('every registered client gets every later message; none that left gets one', async () => {
    interface Client {
      id: string;
      /** When its $connect had completed. */
      joinedAt: number;
      /** When its $disconnect started, and when it had completed. */
      leavingAt?: number;
      leftAt?: number;
    }
    const clients = new Map<string, Client>();
    const join = async (id: string) => {
      await connect(webSocketEvent(id, '$connect'), lambdaContext());
      clients.set(id, { id, joinedAt: Date.now() });
    };
    const leave = async (id: string) => {
      const client = clients.get(id) as Client;
      client.leavingAt = Date.now();
      await disconnect(webSocketEvent(id, '$disconnect'), lambdaContext());
      client.leftAt = Date.now();
    };
    for (let i = 0; i < 10; i++) await join(`first-${i}`);
    // A warm instance: its copy of the connections is cached before the churn starts.
    await forwardTelemetry(reading(-1), lambdaContext());

    const messages: { id: string; startedAt: number; endedAt: number }[] = [];
    let churning = true;
    const churn = (async () => {
      let joined = 0;
      while (churning) {
        await join(`new-${joined++}`);
        const present = [...clients.values()].filter((c) => c.leavingAt === undefined);
        if (joined % 2 === 0 && present.length > 5)
          await leave(present[joined % present.length]!.id);
      }
    })();
    for (let m = 0; m < 25; m++) {
      const startedAt = Date.now();
      await forwardTelemetry(reading(m), lambdaContext());
      messages.push({ id: `message-${m}`, startedAt, endedAt: Date.now() });
    }
    churning = false;
    await churn;

    const received = (id: string) =>
      new Set(env.api.framesFor(id).map((frame) => (frame as { id: string }).id));
    let checked = 0;
    const missed: string[] = [];
    const leaked: string[] = [];
    for (const client of clients.values()) {
      const got = received(client.id);
      for (const message of messages) {
        const registered =
          client.joinedAt < message.startedAt &&
          (client.leavingAt === undefined || client.leavingAt > message.endedAt);
        const gone = client.leftAt !== undefined && client.leftAt < message.startedAt;
        if (registered) {
          checked++;
          if (!got.has(message.id)) missed.push(`${client.id} ${message.id}`);
        }
        if (gone && got.has(message.id)) leaked.push(`${client.id} ${message.id}`);
      }
    }
    const left = [...clients.values()].filter((c) => c.leftAt !== undefined).length;
    console.log(
      `churn: ${clients.size} clients (${left} left), ${messages.length} messages, ` +
        `${checked} (client, message) pairs that had to arrive`,
    );
    expect(left).toBeGreaterThan(3);
    expect(clients.size).toBeGreaterThan(15);
    expect(missed).toEqual([]);
    expect(leaked).toEqual([]);
  });
});

function reading(i: number) {
  return {
    deviceId: 'sensor-1',
    receivedAt: 1_767_225_600_000 + i,
    topic: 'devices/sensor-1/telemetry',
    messageId: `message-${i}`,
    payload: Buffer.from(JSON.stringify({ seq: i })).toString('base64'),
  };
}
