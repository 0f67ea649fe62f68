/**
 * The offline DynamoDB: dynalite (the DynamoDB wire API in Node, in memory) with the tables that
 * serverless.yml declares in its resources.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  CreateTableCommand,
  DynamoDBClient,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../offline-credentials';

export interface CloudFormationResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface LocalDynamoDb {
  endpoint: string;
  tables: string[];
  stop(): Promise<void>;
}

export async function startLocalDynamoDb(options: {
  host: string;
  port: number;
  resources: Record<string, CloudFormationResource>;
}): Promise<LocalDynamoDb> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${options.host}:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: OFFLINE_REGION,
    credentials: OFFLINE_CREDENTIALS,
  });
  const tables: string[] = [];
  try {
    for (const [logicalId, resource] of Object.entries(options.resources)) {
      if (resource.Type !== 'AWS::DynamoDB::Table') continue;
      const input = createTableInput(logicalId, resource.Properties ?? {});
      await client.send(new CreateTableCommand(input));
      tables.push(input.TableName as string);
    }
  } catch (error) {
    server.close();
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    tables,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** CloudFormation table properties → CreateTable input, keeping what the data API needs. */
export function createTableInput(
  logicalId: string,
  properties: Record<string, unknown>,
): CreateTableCommandInput {
  const { TableName, KeySchema, AttributeDefinitions, BillingMode, ProvisionedThroughput } =
    properties as Partial<CreateTableCommandInput>;
  if (typeof TableName !== 'string') {
    throw new Error(
      `Table ${logicalId}: TableName must be a plain string for the offline cloud (got ${JSON.stringify(TableName)})`,
    );
  }
  const indexes = (list: unknown) =>
    Array.isArray(list)
      ? list.map(
          ({ IndexName, KeySchema: keys, Projection, ProvisionedThroughput: throughput }) => ({
            IndexName,
            KeySchema: keys,
            Projection,
            ...(BillingMode === 'PAY_PER_REQUEST' ? {} : { ProvisionedThroughput: throughput }),
          }),
        )
      : undefined;
  return {
    TableName,
    KeySchema,
    AttributeDefinitions,
    BillingMode: BillingMode ?? 'PROVISIONED',
    ...(BillingMode === 'PAY_PER_REQUEST' ? {} : { ProvisionedThroughput }),
    GlobalSecondaryIndexes: indexes(properties.GlobalSecondaryIndexes),
    LocalSecondaryIndexes: indexes(properties.LocalSecondaryIndexes),
  };
}
