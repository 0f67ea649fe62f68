/** A real DynamoDB twin (dynalite) with the connections table, on a free port. */
import { connectionTables } from '../../local/dynamodb/connection-tables';
import { startLocalDynamoDb, type LocalDynamoDb } from '../../local/dynamodb/server';

export const TEST_TABLE = 'telemetry-test-connections';

export function startTestDynamoDb(): Promise<LocalDynamoDb> {
  return startLocalDynamoDb({
    host: '127.0.0.1',
    port: 0,
    resources: connectionTables(TEST_TABLE),
  });
}
