/**
 * Runs a TypeScript module of bench/ in a fresh Node process (through tsx), hands it one JSON
 * input and takes back one JSON result. A fresh process is what a cold Lambda instance is, and it
 * gives each case its own peak RSS. Every child has a hard time limit.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { OFFLINE_AWS_ENV } from '../../local/offline-credentials';
import type { CpuQuota } from './cpu-quota';

export const BENCH_DIR = path.resolve(import.meta.dirname, '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

const RESULT_MARKER = '@@bench-result ';
/** A long-running child (the relay) says it is ready, and where, on one such JSON line. */
const READY_MARKER = '@@bench-ready ';

/** The environment every child gets: offline AWS credentials and quiet logs. */
export function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...OFFLINE_AWS_ENV,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...extra,
  };
}

export async function runChild<Input, Output>(
  modulePath: string,
  input: Input,
  options: { timeoutMs: number; env?: Record<string, string>; cpuQuota?: CpuQuota },
): Promise<Output> {
  const node: [string, string[]] = [process.execPath, ['--import', 'tsx', modulePath]];
  const [command, args] = options.cpuQuota ? options.cpuQuota.wrap(...node) : node;
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: offlineEnv({ ...options.env, BENCH_INPUT: JSON.stringify(input) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const line = stdout.split('\n').find((text) => text.startsWith(RESULT_MARKER));
  if (timedOut) throw new Error(`${path.basename(modulePath)} took over ${options.timeoutMs} ms`);
  if (code !== 0 || line === undefined) {
    throw new Error(
      `${path.basename(modulePath)} failed (exit ${code}): ${stderr.trim().slice(-2000)}`,
    );
  }
  return JSON.parse(line.slice(RESULT_MARKER.length)) as Output;
}

/** In the child: its input. */
export function childInput<Input>(): Input {
  const raw = process.env.BENCH_INPUT;
  if (!raw) throw new Error('BENCH_INPUT is not set: this module runs as a bench child process');
  return JSON.parse(raw) as Input;
}

/** In a long-running child: tells the parent it is ready, with a JSON value (its ports). */
export function childReady(value: unknown): void {
  process.stdout.write(`${READY_MARKER}${JSON.stringify(value)}\n`);
}

/** In the parent: the value of the child's ready line, once its output holds one. */
export function readyValue<Value>(output: string): Value | undefined {
  const line = output.split('\n').find((text) => text.startsWith(READY_MARKER));
  return line === undefined ? undefined : (JSON.parse(line.slice(READY_MARKER.length)) as Value);
}

/** In the child: hands the result back and ends the process (clients may hold sockets open). */
export function childResult(result: unknown): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`, () => process.exit(0));
}
