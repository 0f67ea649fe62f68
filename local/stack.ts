/**
 * The one way to start and stop the whole offline cloud (`sls offline start` with the offline
 * cloud plugin): `npm start`, the tests and the bench all come through here.
 *
 * Readiness is a message over an IPC channel (local/stack/signal.ts), never the human banner.
 * The channel also ties the stack's life to this process: should this process die by any means,
 * the stack stops by itself and frees its ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signAccessToken, type TokenRequest } from '../shared/auth/tokens';
import { ensureLocalTokenSecret } from './auth/token-secret';
import { DEFAULT_PORTS, PORT_VARIABLES } from './settings';
import { BuildCache } from './stack/build-cache';
import { freePorts } from './stack/ports';
import { isStackReadyMessage, type StackEndpoints } from './stack/signal';

export type { StackEndpoints } from './stack/signal';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVERLESS_BIN = path.join(REPO_ROOT, 'node_modules/serverless/bin/serverless.js');
/** Preloaded into the stack's process and its Lambda worker threads (see the file). */
const WORKER_PRIORITY = path.join(REPO_ROOT, 'local/stack/worker-priority.cjs');

/** Every port that has a default gets a free one (the others are off or free already). */
const FREE_PORT_VARIABLES = Object.keys(DEFAULT_PORTS).map((name) => PORT_VARIABLES[name] ?? name);

export interface StartStackOptions {
  /**
   * `free` (the default): every listener on a free port, a fresh state folder and build folder,
   * removed on stop, so stacks run side by side. `configured`: the ports serverless.yml and the
   * environment give, and LOCAL_CLOUD_DIR (or .local-cloud), as `npm start` runs.
   */
  ports?: 'free' | 'configured';
  stage?: string;
  /** More environment for the stack (and its Lambdas). */
  env?: Record<string, string>;
  /** More arguments for `serverless offline start`. */
  serverlessArgs?: string[];
  /**
   * With free ports: `cached` (the default) runs the functions from an earlier stack's build of
   * the same source, stage and arguments when there is one (local/stack/build-cache.ts);
   * `fresh` always builds.
   */
  build?: 'cached' | 'fresh';
  /** Each chunk of the stack's output as it comes; by default it is only kept for output(). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Keep the output for output() (default: true; a long `npm start` does not). */
  keepOutput?: boolean;
  /**
   * Run the stack in a process group of its own, so that a Ctrl-C at the terminal reaches it only
   * through stop() (npm start stops its devices first).
   */
  ownProcessGroup?: boolean;
  readyTimeoutMs?: number;
  /** After SIGINT, how long before SIGKILL. */
  stopTimeoutMs?: number;
}

export interface OfflineStack {
  endpoints: StackEndpoints;
  ports: StackEndpoints['ports'];
  /** The WebSocket URL with a token that allows everything (topics and commands). */
  websocketUrl: string;
  /** The WebSocket URL without a token: the $connect authorizer refuses it. */
  bareWebsocketUrl: string;
  /** Mints a token for this stack (its local secret), with the given limits. */
  token(request?: Partial<TokenRequest>): Promise<string>;
  /** The stack's own LOCAL_CLOUD_DIR (CA, devices, dead letters). */
  localCloudDir: string;
  /** What the stack printed so far (empty with keepOutput: false). */
  output(): string;
  /** Resolves with the exit code when the stack ends, stopped or not. */
  exited: Promise<number | null>;
  process: ChildProcess;
  /** SIGINT, then SIGKILL after stopTimeoutMs; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export class StackStartError extends Error {
  override name = 'StackStartError';
  constructor(
    message: string,
    readonly output: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export async function startOfflineStack(options: StartStackOptions = {}): Promise<OfflineStack> {
  const stage = options.stage ?? 'dev';
  const env: Record<string, string> = {};
  const cleanUp: string[] = [];
  const serverlessArgs = ['offline', 'start', '--stage', stage, ...(options.serverlessArgs ?? [])];
  let keepBuild: (() => Promise<void>) | undefined;
  if ((options.ports ?? 'free') === 'free') {
    const ports = await freePorts(FREE_PORT_VARIABLES.length);
    FREE_PORT_VARIABLES.forEach((name, index) => (env[name] = String(ports[index])));
    const localCloudDir = await mkdtemp(path.join(os.tmpdir(), 'local-cloud-'));
    env.LOCAL_CLOUD_DIR = localCloudDir;
    env.ESBUILD_WORK_FOLDER = `.esbuild-stack-${process.pid}-${ports[0]}`;
    cleanUp.push(localCloudDir, path.join(REPO_ROOT, env.ESBUILD_WORK_FOLDER));
    if ((options.build ?? 'cached') === 'cached') {
      keepBuild = await useBuildCache(serverlessArgs, env);
    }
  }
  Object.assign(env, options.env);

  const child = spawn(
    process.execPath,
    ['--require', WORKER_PRIORITY, SERVERLESS_BIN, ...serverlessArgs],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      // The IPC channel carries the ready message and closes when this process dies.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: options.ownProcessGroup ?? false,
    },
  );
  const keepOutput = options.keepOutput ?? true;
  let output = '';
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8').on('data', (chunk: string) => {
      if (keepOutput) output += chunk;
      options.onOutput?.(chunk, stream);
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

  // SIGINT to serverless alone (it stops its own helpers); SIGKILL to its whole group.
  const signal = (name: NodeJS.Signals) => {
    try {
      if (name === 'SIGKILL' && options.ownProcessGroup && child.pid !== undefined) {
        process.kill(-child.pid, name);
      } else child.kill(name);
    } catch {
      // It is gone already.
    }
  };
  let stopping: Promise<number | null> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) signal('SIGINT');
      const timer = setTimeout(() => signal('SIGKILL'), options.stopTimeoutMs ?? 10_000);
      const code = await exited;
      clearTimeout(timer);
      // Whatever is left of its own group (none expected) goes too.
      if (options.ownProcessGroup) signal('SIGKILL');
      for (const folder of cleanUp) await rm(folder, { recursive: true, force: true });
      return code;
    })());

  let endpoints: StackEndpoints;
  try {
    endpoints = await waitForReady(child, exited, options.readyTimeoutMs ?? 90_000);
  } catch (error) {
    const code = await stop();
    throw new StackStartError((error as Error).message, output, code);
  }
  child.channel?.unref();
  // A build that could not be kept is only built again by the next stack.
  await keepBuild?.().catch(() => undefined);
  const secret = ensureLocalTokenSecret(endpoints.localCloudDir);
  const token = (request: Partial<TokenRequest> = {}) =>
    signAccessToken(secret, { subject: 'developer', ttlSeconds: 3600, stage, ...request });
  return {
    endpoints,
    ports: endpoints.ports,
    websocketUrl: `${endpoints.websocket}?token=${await token({ commands: true })}`,
    bareWebsocketUrl: endpoints.websocket,
    token,
    localCloudDir: endpoints.localCloudDir,
    output: () => output,
    exited,
    process: child,
    stop,
  };
}

/**
 * Points the stack at the kept build of its source when there is one; otherwise returns what
 * keeps the build it is about to make, once it is ready (unless the source changed meanwhile).
 */
async function useBuildCache(
  serverlessArgs: string[],
  env: Record<string, string>,
): Promise<(() => Promise<void>) | undefined> {
  const cache = new BuildCache(REPO_ROOT);
  const variant = serverlessArgs.join(' ');
  const key = await cache.keyOf(variant);
  const kept = await cache.find(key);
  if (kept) {
    env.OFFLINE_PREBUILT_BUILD = kept;
    return undefined;
  }
  const built = path.join(REPO_ROOT, env.ESBUILD_WORK_FOLDER as string, '.build');
  return async () => {
    if ((await cache.keyOf(variant)) === key) await cache.keep(key, built);
  };
}

function waitForReady(
  child: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<StackEndpoints> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`the offline cloud was not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: unknown) => {
      if (isStackReadyMessage(message)) finish(undefined, message.endpoints);
    };
    child.on('message', onMessage);
    void exited.then((code) =>
      finish(new Error(`the offline cloud exited before it was ready (exit code ${code})`)),
    );
    let done = false;
    function finish(error: Error | undefined, endpoints?: StackEndpoints) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (error) reject(error);
      else resolve(endpoints as StackEndpoints);
    }
  });
}
