/**
 * Starts the whole offline cloud (`sls offline start`, as `npm start` does) on free ports and
 * waits until it says it is ready. Each stack builds into its own esbuild folder so stacks and
 * packaging tests can run side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalTokenSecret } from '../../local/auth/token-secret';
import { signAccessToken, type TokenRequest } from '../../shared/auth/tokens';
import { freePorts } from './ports';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVERLESS_BIN = path.join(REPO_ROOT, 'node_modules/serverless/bin/serverless.js');

export interface OfflineStack {
  ports: {
    websocket: number;
    lambda: number;
    dynamodb: number;
    mqtt: number;
    https: number;
    iotData: number;
    dashboard: number;
  };
  /** The WebSocket URL with a token that allows everything (topics and commands). */
  websocketUrl: string;
  /** The WebSocket URL without a token: the $connect authorizer refuses it. */
  bareWebsocketUrl: string;
  /** Mints a token for this stack (its local secret), with the given limits. */
  token(request?: Partial<TokenRequest>): Promise<string>;
  /** The stack's own LOCAL_CLOUD_DIR (CA, devices, dead letters), removed on stop. */
  localCloudDir: string;
  output(): string;
  stop(): Promise<number | null>;
}

const READY_LINE = 'Offline cloud ready';

export async function startOfflineStack(
  extraEnv: Record<string, string> = {},
): Promise<OfflineStack> {
  const [websocket, lambda, dynamodb, mqtt, https, iotData, dashboard] = (await freePorts(7)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const workFolder = `.esbuild-test-${process.pid}-${websocket}`;
  const localCloudDir = await mkdtemp(path.join(os.tmpdir(), 'local-cloud-'));
  const child = spawn(process.execPath, [SERVERLESS_BIN, 'offline', 'start', '--stage', 'dev'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      WEBSOCKET_PORT: String(websocket),
      LAMBDA_PORT: String(lambda),
      DYNAMODB_PORT: String(dynamodb),
      MQTT_PORT: String(mqtt),
      HTTPS_PORT: String(https),
      IOT_DATA_PORT: String(iotData),
      DASHBOARD_PORT: String(dashboard),
      LOCAL_CLOUD_DIR: localCloudDir,
      ESBUILD_WORK_FOLDER: workFolder,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const stop = async (): Promise<number | null> => {
    const exited = waitForExit(child);
    if (child.exitCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
    await rm(localCloudDir, { recursive: true, force: true });
    return code;
  };

  try {
    await waitFor(() => output.includes(READY_LINE), child, 90_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- offline output ---\n${output}`);
  }
  const secret = ensureLocalTokenSecret(localCloudDir);
  const token = (request: Partial<TokenRequest> = {}) =>
    signAccessToken(secret, { subject: 'test', ttlSeconds: 3600, stage: 'dev', ...request });
  const bareWebsocketUrl = `ws://localhost:${websocket}`;
  return {
    ports: { websocket, lambda, dynamodb, mqtt, https, iotData, dashboard },
    websocketUrl: `${bareWebsocketUrl}?token=${await token({ commands: true })}`,
    bareWebsocketUrl,
    token,
    localCloudDir,
    output: () => output,
    stop,
  };
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function waitFor(condition: () => boolean, child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(
      () => finish(new Error(`not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const poll = setInterval(() => condition() && finish(), 50);
    const onExit = (code: number | null) => finish(new Error(`exited early with code ${code}`));
    child.once('exit', onExit);
    function finish(error?: Error) {
      clearTimeout(deadline);
      clearInterval(poll);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
  });
}
