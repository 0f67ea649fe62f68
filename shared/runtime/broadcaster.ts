import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { Broadcaster } from '../connections/broadcaster';
import { ApiGatewayConnectionSender } from '../connections/sender';
import { config } from './config';
import { connectionRepository } from './connections';
import { lazy } from './lazy';

export const broadcaster = lazy(() => {
  const { websocketManagementEndpoint, broadcastConcurrency } = config();
  const client = new ApiGatewayManagementApiClient({ endpoint: websocketManagementEndpoint });
  return new Broadcaster(
    connectionRepository(),
    new ApiGatewayConnectionSender(client),
    broadcastConcurrency,
  );
});
