// Each runtime module builds one dependency, so a handler's bundle holds only the clients it uses.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoConnectionRepository } from '../connections/repository';
import { config } from './config';
import { lazy } from './lazy';

export const connectionRepository = lazy(() => {
  const { connectionsTable, connectionTtlSeconds, connectionChanges } = config();
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return new DynamoConnectionRepository(
    client,
    connectionsTable,
    connectionTtlSeconds,
    connectionChanges,
  );
});
