/**
 * The function builds that offline stacks on free ports share (local/stack/build-cache.ts): a
 * build is found only for the very source, settings and variant it was made from, and only
 * whole. Against a small project of its own in a temporary folder.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BuildCache } from '../../local/stack/build-cache';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'build-cache-'));
  await mkdir(path.join(root, 'handlers'));
  await mkdir(path.join(root, 'shared', 'deep'), { recursive: true });
  await write('handlers/connect.ts', 'export const handler = 1;');
  await write('shared/deep/util.ts', 'export const x = 1;');
  for (const file of [
    'serverless.yml',
    'esbuild-plugins.cjs',
    'package-lock.json',
    'tsconfig.json',
  ]) {
    await write(file, `${file} v1`);
  }
});
afterEach(() => rm(root, { recursive: true, force: true }));

const write = (file: string, text: string) => writeFile(path.join(root, file), text);

/** A finished build as serverless-esbuild leaves it: bundles and the ESM package.json. */
async function builtFolder(name: string): Promise<string> {
  const folder = path.join(root, name, '.build');
  await mkdir(path.join(folder, 'handlers'), { recursive: true });
  await writeFile(path.join(folder, 'handlers', 'connect.js'), `// ${name}`);
  await writeFile(path.join(folder, 'handlers', 'package.json'), '{"type":"module"}\n');
  return folder;
}

describe('the key of a build', () => {
  it('is the same for the same source and variant', async () => {
    const cache = new BuildCache(root);
    expect(await cache.keyOf('offline start --stage dev')).toBe(
      await new BuildCache(root).keyOf('offline start --stage dev'),
    );
  });

  it.each([
    ['a handler', 'handlers/connect.ts'],
    ['a file deep in shared/', 'shared/deep/util.ts'],
    ['serverless.yml', 'serverless.yml'],
    ['the esbuild plugins', 'esbuild-plugins.cjs'],
    ['the lock file', 'package-lock.json'],
    ['tsconfig.json', 'tsconfig.json'],
  ])('changes when %s changes', async (_what, file) => {
    const cache = new BuildCache(root);
    const before = await cache.keyOf('v');
    await write(file, 'changed');
    expect(await cache.keyOf('v')).not.toBe(before);
  });

  it('changes with a new source file, and with the variant (stage, parameters)', async () => {
    const cache = new BuildCache(root);
    const before = await cache.keyOf('offline start --stage dev');
    expect(await cache.keyOf('offline start --stage prod')).not.toBe(before);
    await write('shared/new.ts', '');
    expect(await cache.keyOf('offline start --stage dev')).not.toBe(before);
  });

  it('ignores what is not bundled source (notes beside the code)', async () => {
    const cache = new BuildCache(root);
    const before = await cache.keyOf('v');
    await write('shared/README.md', 'notes');
    expect(await cache.keyOf('v')).toBe(before);
  });
});

describe('kept builds', () => {
  it('are found only after a whole build was kept, with its bundles', async () => {
    const cache = new BuildCache(root);
    const key = await cache.keyOf('v');
    expect(await cache.find(key)).toBeUndefined();
    await cache.keep(key, await builtFolder('first'));
    const found = await cache.find(key);
    expect(found).toBe(path.join(root, '.esbuild-cache', key));
    expect((await readdir(path.join(found as string, 'handlers'))).sort()).toEqual([
      'connect.js',
      'package.json',
    ]);
  });

  it('a folder without the finished build marker is not a build', async () => {
    const cache = new BuildCache(root);
    await mkdir(path.join(root, '.esbuild-cache', 'half', 'handlers'), { recursive: true });
    expect(await cache.find('half')).toBeUndefined();
  });

  it('the first build kept for a key stays; a second is not copied over it', async () => {
    const cache = new BuildCache(root);
    await cache.keep('k', await builtFolder('first'));
    await cache.keep('k', await builtFolder('second'));
    expect(
      await readFile(path.join(root, '.esbuild-cache', 'k', 'handlers', 'connect.js'), 'utf8'),
    ).toBe('// first');
    // No staging folder is left behind.
    expect(await readdir(path.join(root, '.esbuild-cache'))).toEqual(['k']);
  });

  it('only the eight most recently used are kept', async () => {
    const cache = new BuildCache(root);
    const age = (key: string, minutes: number) => {
      const time = new Date(Date.now() - minutes * 60_000);
      return utimes(path.join(root, '.esbuild-cache', key), time, time);
    };
    for (let i = 1; i <= 8; i++) {
      await cache.keep(`k${i}`, await builtFolder(`b${i}`));
      // Distinct ages, oldest first, whatever the file system's time resolution.
      await age(`k${i}`, 20 - i);
    }
    // The oldest build is used again: the next one to go is k2.
    expect(await cache.find('k1')).toBeDefined();
    await cache.keep('k9', await builtFolder('b9'));
    expect((await readdir(path.join(root, '.esbuild-cache'))).sort()).toEqual([
      'k1',
      'k3',
      'k4',
      'k5',
      'k6',
      'k7',
      'k8',
      'k9',
    ]);
  });
});
