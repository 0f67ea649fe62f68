/**
 * Function bundles shared between offline stacks that start on free ports (tests and benchmarks).
 *
 * Each such stack builds into a folder of its own so that two can run side by side; building the
 * nine functions costs a stack start about 4 s of its 11 s of CPU, and the test suite starts about
 * twenty. The first stack of a given source builds as usual and its bundles are kept here under a
 * hash of everything that goes into them; a later stack of the same source and stage runs them
 * (local/serverless-plugin.cjs tells serverless-esbuild to build nothing). `npm start` always
 * builds, and watches the source.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';

/** Everything the bundles are made of: the code they bundle and the build's settings. */
const SOURCE_FOLDERS = ['handlers', 'shared'];
const SOURCE_FILES = [
  'serverless.yml',
  'esbuild-plugins.cjs',
  'package-lock.json',
  'tsconfig.json',
];
/** Folder names start with `.esbuild`, which git, the linters and the watcher ignore. */
const CACHE_FOLDER = '.esbuild-cache';
/**
 * Builds kept: the most recently used (a build is about 15 MB). A test run uses a few variants
 * (stages, parameters), each marked used whenever a stack starts from it.
 */
const KEEP = 8;

export class BuildCache {
  private readonly folder: string;

  constructor(private readonly root: string) {
    this.folder = path.join(root, CACHE_FOLDER);
  }

  /**
   * A hash of the bundled source and the build settings, for one variant: the stage (source maps
   * differ) and whatever else the command line sets (parameters).
   */
  async keyOf(variant: string): Promise<string> {
    const hash = createHash('sha256').update(`${variant}\n`);
    const files = [...SOURCE_FILES];
    for (const folder of SOURCE_FOLDERS) {
      const entries = await readdir(path.join(this.root, folder), { recursive: true });
      files.push(
        ...entries.filter((name) => name.endsWith('.ts')).map((name) => path.join(folder, name)),
      );
    }
    for (const file of files.sort()) {
      hash
        .update(`${file}\n`)
        .update(await readFile(path.join(this.root, file)))
        .update('\n');
    }
    return hash.digest('hex').slice(0, 24);
  }

  /** The kept build for this key (a folder with handlers/*.js), if there is one; marks it used. */
  async find(key: string): Promise<string | undefined> {
    const build = path.join(this.folder, key);
    try {
      await stat(path.join(build, 'handlers', 'package.json'));
      const now = new Date();
      await utimes(build, now, now);
      return build;
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps a stack's finished build (its `.build` folder). It is copied aside and then renamed into
   * place, so a stack never sees half a build; when two stacks keep the same key, one wins.
   */
  async keep(key: string, builtFolder: string): Promise<void> {
    if (await this.find(key)) return;
    await mkdir(this.folder, { recursive: true });
    const staging = path.join(this.folder, `.staging-${process.pid}-${key}`);
    await cp(builtFolder, staging, { recursive: true });
    try {
      await rename(staging, path.join(this.folder, key));
    } catch {
      await rm(staging, { recursive: true, force: true });
    }
    await this.prune();
  }

  /** Removes all but the KEEP most recently used builds. */
  private async prune(): Promise<void> {
    const entries = await readdir(this.folder, { withFileTypes: true });
    const builds = await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
        .map(async (entry) => {
          const folder = path.join(this.folder, entry.name);
          return { folder, modified: (await stat(folder)).mtimeMs };
        }),
    );
    builds.sort((a, b) => b.modified - a.modified);
    for (const { folder } of builds.slice(KEEP)) await rm(folder, { recursive: true, force: true });
  }
}
