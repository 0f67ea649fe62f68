/**
 * The offline cloud's side of local/stack.ts: the machine-readable readiness message (over the
 * IPC channel the parent opened) and the rule that the stack never outlives the process that
 * started it. Never the human banner: rewording it must not break anyone.
 */

/** Where each service of a ready stack listens. */
export interface StackEndpoints {
  stage: string;
  /** The folder of the local CA, the devices, the token secret and the dead letters. */
  localCloudDir: string;
  /** The WebSocket API without a token (the $connect authorizer wants `?token=`). */
  websocket: string;
  /** The @connections management API, under the stage as in AWS. */
  management: string;
  lambda: string;
  dynamodb: string;
  mqtt: string;
  plainMqtt: string | undefined;
  https: string;
  iotData: string;
  dashboard: string;
  /** The offline SQS endpoint (an SQS client's `endpoint`). */
  sqs: string;
  ports: {
    websocket: number;
    lambda: number;
    dynamodb: number;
    mqtt: number;
    https: number;
    iotData: number;
    dashboard: number;
    sqs: number;
  };
}

export interface StackReadyMessage {
  type: 'offline-cloud-ready';
  endpoints: StackEndpoints;
}

export function isStackReadyMessage(message: unknown): message is StackReadyMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'offline-cloud-ready'
  );
}

/** Tells the parent (when it opened an IPC channel) that the stack is ready, and where. */
export function signalReady(endpoints: StackEndpoints): void {
  process.send?.({ type: 'offline-cloud-ready', endpoints } satisfies StackReadyMessage);
}

/** How long a graceful stop may take once the parent is gone before the process just exits. */
const ORPHAN_EXIT_MS = 5_000;

/**
 * When the parent that opened the IPC channel dies by any means (SIGKILL included: the channel
 * closes with it), this process stops as on Ctrl-C, and exits outright if that takes too long.
 * Without a channel (run by hand) nothing changes. The channel does not keep the process alive.
 */
export function exitWithParent(): void {
  if (!process.connected) return;
  process.channel?.unref();
  process.once('disconnect', () => {
    setTimeout(() => process.exit(130), ORPHAN_EXIT_MS).unref();
    process.kill(process.pid, 'SIGINT');
  });
}
