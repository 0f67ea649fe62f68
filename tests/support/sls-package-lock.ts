/**
 * One `sls package` of this project at a time, across jest workers and their children.
 * The framework builds every package in <project>/.serverless (it empties that folder first and
 * moves the result to --package at the end), whatever --package says, so two builds of the same
 * project side by side take each other's files. The packaging test and the cold-start bench (run
 * by the bench smoke test) both package the project; with two jest workers they would overlap.
 *
 * The lock is a folder made with mkdir (atomic) in the temporary directory, named after the
 * project's path, with the owner's pid in it: a lock whose owner died is taken over.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT } from './offline-stack';

const LOCK = path.join(
  os.tmpdir(),
  `sls-package-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 16)}.lock`,
);
const OWNER = path.join(LOCK, 'owner');
/** How often a waiting worker looks again: the lock has no event to wait on. */
const POLL_MS = 200;
/** A lock folder with no owner file yet is a holder between its two writes, unless this old. */
const OWNERLESS_STALE_MS = 30_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock's holder is gone (then the lock is removed and may be taken). */
async function stale(): Promise<boolean> {
  const owner = await readFile(OWNER, 'utf8').catch(() => undefined);
  if (owner !== undefined) return !alive(Number(owner));
  const made = await stat(LOCK).then(
    (info) => info.mtimeMs,
    () => undefined,
  );
  return made !== undefined && Date.now() - made > OWNERLESS_STALE_MS;
}

async function acquire(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(OWNER, String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await stale()) {
      await rm(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      const owner = await readFile(OWNER, 'utf8').catch(() => '?');
      throw new Error(`sls package lock ${LOCK} still held by pid ${owner} after ${timeoutMs} ms`);
    }
    await delay(POLL_MS);
  }
}

/** Runs `work` (which packages the project) while no other test packages it. */
export async function withSlsPackageLock<T>(
  work: () => Promise<T>,
  timeoutMs = 300_000,
): Promise<T> {
  await acquire(timeoutMs);
  try {
    return await work();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}
