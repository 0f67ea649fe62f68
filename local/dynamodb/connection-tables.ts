import type { CloudFormationResource } from './server';

/**
 * The connections table and its change log with the keys resources/connections-table.yml gives
 * them, under other names: for the tests' and benches' own DynamoDB twins, which run without the
 * framework's compiled template.
 */
export function connectionTables(
  tableName: string,
  logicalIdSuffix = '',
): Record<string, CloudFormationResource> {
  return {
    [`ConnectionsTable${logicalIdSuffix}`]: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      },
    },
    [`ConnectionChangesTable${logicalIdSuffix}`]: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: `${tableName}-changes`,
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
  };
}
