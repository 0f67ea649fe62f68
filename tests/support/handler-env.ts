/**
 * The environment the handlers run in, with real local twins: dynalite for DynamoDB and an HTTP
 * server for the @connections API. The handlers find them exactly as offline: through env vars.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalDynamoDb } from '../../local/dynamodb/server';
import { VERSION_ITEM_ID } from '../../shared/connections/repository';
import { resetLazyValues } from '../../shared/runtime/lazy';
import { startTestDynamoDb, TEST_TABLE } from './local-dynamodb';
import { startManagementApi, type ManagementApi } from './management-api';

export interface HandlerEnv {
  db: LocalDynamoDb;
  api: ManagementApi;
  /** The connection items (not the repository's change counter). */
  items(): Promise<Record<string, unknown>[]>;
  /** The repository's change counter. */
  version(): Promise<number>;
  /** Moves a connection's $connect time into the past (past the 410 grace period). */
  backdate(connectionId: string, ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHandlerEnv(): Promise<HandlerEnv> {
  const db = await startTestDynamoDb();
  const api = await startManagementApi();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = db.endpoint;
  process.env.CONNECTIONS_TABLE = TEST_TABLE;
  process.env.WEBSOCKET_MANAGEMENT_ENDPOINT = api.endpoint;
  resetLazyValues();
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: db.endpoint }));
  return {
    db,
    api,
    items: async () =>
      (
        (await client.send(new ScanCommand({ TableName: TEST_TABLE, ConsistentRead: true })))
          .Items ?? []
      ).filter((item) => item.connectionId !== VERSION_ITEM_ID),
    version: async () =>
      ((
        (await client.send(new ScanCommand({ TableName: TEST_TABLE, ConsistentRead: true })))
          .Items ?? []
      ).find((item) => item.connectionId === VERSION_ITEM_ID)?.version as number | undefined) ?? 0,
    backdate: async (connectionId, ms) => {
      await client.send(
        new UpdateCommand({
          TableName: TEST_TABLE,
          Key: { connectionId },
          UpdateExpression: 'SET connectedAt = connectedAt - :ms',
          ExpressionAttributeValues: { ':ms': ms },
        }),
      );
      // As any change to the connections does: warm fan-outs reread them.
      await client.send(
        new UpdateCommand({
          TableName: TEST_TABLE,
          Key: { connectionId: VERSION_ITEM_ID },
          UpdateExpression: 'ADD version :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    },
    stop: async () => {
      client.destroy();
      await Promise.all([db.stop(), api.close()]);
      resetLazyValues();
    },
  };
}
