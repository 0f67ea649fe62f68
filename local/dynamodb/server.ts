/**
 * The offline DynamoDB: dynalite (the DynamoDB wire API in Node, in memory) with the tables that
 * serverless.yml declares in its resources.
 *
 * dynalite is always strongly consistent; DynamoDB is not. With `eventualConsistencyMs` (or
 * DYNAMODB_EVENTUAL_CONSISTENCY_MS in the environment) a read without `ConsistentRead` may
 * answer with the state of that long ago, as DynamoDB's do ("Read consistency", DynamoDB
 * Developer Guide: an eventually consistent read "might not reflect the results of a recently
 * completed write"). See eventual-consistency.ts.
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
import { startLaggingReplica } from './eventual-consistency';

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
  /** Eventually consistent reads may answer with the state of up to this long ago; 0: never. */
  eventualConsistencyMs?: number;
}): Promise<LocalDynamoDb> {
  const lagMs = options.eventualConsistencyMs ?? eventualConsistencyFromEnv();
  const listen = async (server: Server, port: number) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => resolve());
    });
    return `http://${options.host}:${(server.address() as AddressInfo).port}`;
  };
  const newDynalite = (): Server =>
    dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let server: Server;
  let endpoint: string;
  let stopExtra = async () => {};
  if (lagMs > 0) {
    // The requested port answers through the replica front; both dynalites are internal.
    const primary = newDynalite();
    const replica = newDynalite();
    const [primaryEndpoint, replicaEndpoint] = await Promise.all([
      listen(primary, 0),
      listen(replica, 0),
    ]);
    const front = await startLaggingReplica({ primaryEndpoint, replicaEndpoint, lagMs });
    server = front.server;
    endpoint = await listen(server, options.port);
    stopExtra = async () => {
      await front.drain();
      await Promise.all([primary, replica].map(close));
    };
  } else {
    server = newDynalite();
    endpoint = await listen(server, options.port);
  }
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
    await stopExtra();
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    tables,
    stop: async () => {
      await close(server);
      await stopExtra();
    },
  };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });

function eventualConsistencyFromEnv(): number {
  const raw = process.env.DYNAMODB_EVENTUAL_CONSISTENCY_MS;
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`DYNAMODB_EVENTUAL_CONSISTENCY_MS must be a whole number of ms, got "${raw}"`);
  }
  return value;
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
