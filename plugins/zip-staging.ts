/**
 * serverless-esbuild stages each function's zip in `<tmpdir>/<zip name>-<pid>-<ms>-<8 hex>` and
 * means to remove it afterwards, but its removal is not recursive and its error is swallowed
 * (floydspace/serverless-esbuild#589), so every `sls package` and `sls deploy` left a copy of
 * each bundle behind: about 2 MB per function, 18 MB per run of this service. This removes the
 * folders of this process's own packaging once it is done, and nothing else.
 */
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface StagingScope {
  /** The zips' names: the function keys (individual packaging) and the service's name. */
  zipNames: string[];
  /** The process that packaged (default: this one). */
  pid?: number;
  /** Default: os.tmpdir(), where serverless-esbuild stages. */
  directory?: string;
}

/** Removes the staging folders of `zipNames` made by process `pid`; returns their paths. */
export async function removeZipStagingFolders(scope: StagingScope): Promise<string[]> {
  const directory = scope.directory ?? os.tmpdir();
  const pid = scope.pid ?? process.pid;
  const names = new Set(scope.zipNames);
  const staging = new RegExp(`^(.+)-${pid}-\\d+-[0-9a-f]{8}$`);
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  const removed = entries
    .filter((entry) => entry.isDirectory())
    .filter((entry) => names.has(staging.exec(entry.name)?.[1] ?? ''))
    .map((entry) => path.join(directory, entry.name));
  await Promise.all(removed.map((folder) => rm(folder, { recursive: true, force: true })));
  return removed;
}
