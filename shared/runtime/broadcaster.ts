import { Broadcaster } from '../connections/broadcaster';
import { DEFAULT_RETRY_POLICY } from '../connections/retry';
import { SignedConnectionSender } from '../connections/sender';
import { ConnectionSnapshot } from '../connections/snapshot';
import { config } from './config';
import { connectionRepository } from './connections';
import { lazy } from './lazy';

export const broadcaster = lazy(() => {
  const {
    websocketManagementEndpoint,
    region,
    postToConnectionTimeoutMs,
    broadcastConcurrency,
    connectionSnapshotMaxAgeMs,
    connectGraceMs,
  } = config();
  const repository = connectionRepository();
  return new Broadcaster({
    connections: new ConnectionSnapshot(repository, { maxAgeMs: connectionSnapshotMaxAgeMs }),
    repository,
    sender: new SignedConnectionSender({
      endpoint: websocketManagementEndpoint,
      region,
      // The function's role: Lambda puts its temporary credentials in the environment.
      credentials: {
        accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
        ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
      },
      timeoutMs: postToConnectionTimeoutMs,
    }),
    concurrency: broadcastConcurrency,
    retryPolicy: { ...DEFAULT_RETRY_POLICY, requestTimeoutMs: postToConnectionTimeoutMs },
    connectGraceMs,
  });
});
