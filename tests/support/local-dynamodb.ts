/** A real DynamoDB twin (dynalite) with the connections table, on a free port. */
import { startLocalDynamoDb, type LocalDynamoDb } from '../../local/dynamodb/server';

export const TEST_TABLE = 'telemetry-test-connections';

export function startTestDynamoDb(): Promise<LocalDynamoDb> {
  return startLocalDynamoDb({
    host: '127.0.0.1',
    port: 0,
    resources: {
      ConnectionsTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: TEST_TABLE,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
        },
      },
      // The connections' change log, as resources/connections-table.yml declares it.
      ConnectionChangesTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: `${TEST_TABLE}-changes`,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'shard', AttributeType: 'S' },
            { AttributeName: 'seq', AttributeType: 'N' },
          ],
          KeySchema: [
            { AttributeName: 'shard', KeyType: 'HASH' },
            { AttributeName: 'seq', KeyType: 'RANGE' },
          ],
        },
      },
    },
  });
}
