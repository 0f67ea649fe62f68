import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { Broadcaster } from '../connections/broadcaster';
import { ApiGatewayConnectionSender } from '../connections/sender';
import { ConnectionSnapshot } from '../connections/snapshot';
import { config } from './config';
import { connectionRepository } from './connections';
import { lazy } from './lazy';

export const broadcaster = lazy(() => {
  const {
    websocketManagementEndpoint,
    broadcastConcurrency,
    connectionSnapshotMaxAgeMs,
    connectGraceMs,
  } = config();
  // The broadcaster retries with its own backoff and deadline; the SDK's retries would stack on it.
  const client = new ApiGatewayManagementApiClient({
    endpoint: websocketManagementEndpoint,
    maxAttempts: 1,
  });
  const repository = connectionRepository();
  return new Broadcaster({
    connections: new ConnectionSnapshot(repository, connectionSnapshotMaxAgeMs),
    repository,
    sender: new ApiGatewayConnectionSender(client),
    concurrency: broadcastConcurrency,
    connectGraceMs,
  });
});
