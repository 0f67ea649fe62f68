/**
 * The removal of serverless-esbuild's zip staging folders (plugins/zip-staging.ts): only the
 * folders this process staged for this service's zips go, whatever they hold.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { removeZipStagingFolders } from '../../plugins/zip-staging';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'zip-staging-'));
});
afterEach(() => rm(directory, { recursive: true, force: true }));

/** A folder as serverless-esbuild stages one, with a bundle inside. */
async function staged(name: string): Promise<void> {
  await mkdir(path.join(directory, name, 'handlers'), { recursive: true });
  await writeFile(path.join(directory, name, 'handlers', 'x.js'), 'export {};');
}

describe('removeZipStagingFolders', () => {
  it("removes this process's folders of the named zips, with their contents", async () => {
    await staged('authorize-4242-1796244345350-adcf1d20');
    await staged('forwardTelemetry-4242-1796244345355-228a8d9c');
    await staged('telemetry-4242-1796244345360-0123abcd');
    const removed = await removeZipStagingFolders({
      zipNames: ['authorize', 'forwardTelemetry', 'telemetry'],
      pid: 4242,
      directory,
    });
    expect(removed.map((folder) => path.basename(folder)).sort()).toEqual([
      'authorize-4242-1796244345350-adcf1d20',
      'forwardTelemetry-4242-1796244345355-228a8d9c',
      'telemetry-4242-1796244345360-0123abcd',
    ]);
    expect(await readdir(directory)).toEqual([]);
  });

  it("leaves other processes' folders, other names, files and look-alikes", async () => {
    const kept = [
      'authorize-4243-1796244345350-adcf1d20', // another process, maybe packaging right now
      'billing-4242-1796244345350-adcf1d20', // not one of this service's zips
      'authorize-4242-1796244345350-adcf1d2', // 7 hex digits
      'authorize-4242-now-adcf1d20', // no time
      'tsx-0', // tsx's cache
    ];
    for (const name of kept) await staged(name);
    await writeFile(path.join(directory, 'connect-4242-1796244345350-adcf1d20'), 'a file');
    const removed = await removeZipStagingFolders({
      zipNames: ['authorize', 'connect'],
      pid: 4242,
      directory,
    });
    expect(removed).toEqual([]);
    expect((await readdir(directory)).sort()).toEqual(
      [...kept, 'connect-4242-1796244345350-adcf1d20'].sort(),
    );
  });

  it('a zip name with dashes is matched whole', async () => {
    await staged('my-service-4242-1796244345350-adcf1d20');
    await staged('service-4242-1796244345350-adcf1d20');
    const removed = await removeZipStagingFolders({
      zipNames: ['my-service'],
      pid: 4242,
      directory,
    });
    expect(removed.map((folder) => path.basename(folder))).toEqual([
      'my-service-4242-1796244345350-adcf1d20',
    ]);
    expect(await readdir(directory)).toEqual(['service-4242-1796244345350-adcf1d20']);
  });

  it('a temp folder that does not exist removes nothing', async () => {
    await expect(
      removeZipStagingFolders({
        zipNames: ['authorize'],
        pid: 4242,
        directory: path.join(directory, 'missing'),
      }),
    ).resolves.toEqual([]);
  });
});
