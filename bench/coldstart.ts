/**
 * Cold start: `sls package` of the dev stage and of another stage (prod), each in its own
 * esbuild work folder as tests/integration/packaging.test.ts does, then per function the
 * minified bundle and the time a fresh `node` takes to import it (median of several processes):
 * as the other stages run it (no source map in the zip, no flag) and as dev runs it (the map in
 * the zip and `--enable-source-maps`, serverless.yml's NODE_OPTIONS on dev). Each bundle's
 * source map says which packages its bytes come from.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { REPO_ROOT } from './support/child';
import { charactersByPackage, type SourceMap } from './support/source-map-shares';
import { median, round } from './support/stats';

const run = promisify(execFile);
const SERVERLESS_BIN = path.join(REPO_ROOT, 'node_modules/serverless/bin/serverless.js');

export interface ColdstartOptions {
  /** Fresh processes per import measurement. */
  imports: number;
  log: (line: string) => void;
}

export const FULL_COLDSTART: Omit<ColdstartOptions, 'log'> = { imports: 5 };
export const QUICK_COLDSTART: Omit<ColdstartOptions, 'log'> = { imports: 1 };

export interface PackageShare {
  /** An npm package name, or `project` for handlers/ and shared/. */
  name: string;
  bytes: number;
}

export interface FunctionColdstart {
  name: string;
  /** The zip that stages other than dev deploy (no source map). */
  zipBytes: number;
  /** The dev zip, with the source map. */
  zipWithSourceMapsBytes: number;
  /** The minified handlers/<name>.js in the zip. */
  bundleBytes: number;
  /** Median time of `await import(bundle)` in a fresh node process, as the other stages run. */
  importMs: number;
  /** The same with the map beside the bundle and `--enable-source-maps`, as dev runs. */
  importWithSourceMapsMs: number;
  /** RSS of that process right after the import (median), with source maps. */
  rssAfterImportMb: number;
  /** Where the bytes come from (by the bundle's source map, in characters), largest first. */
  packages: PackageShare[];
  /** The share of the bundle that is the AWS SDK (@aws-sdk/*, @smithy/*, @aws-crypto/*…). */
  awsSdkBytes: number;
}

export interface ColdstartResult {
  packageMs: number;
  functions: FunctionColdstart[];
}

export async function runColdstart(options: ColdstartOptions): Promise<ColdstartResult> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'telemetry-coldstart-'));
  try {
    const started = performance.now();
    const devDir = await packageStage('dev', scratch);
    const packageMs = round(performance.now() - started, 0);
    options.log(`coldstart: sls package in ${packageMs} ms`);
    const prodDir = await packageStage('prod', scratch);

    const zips = (await readdir(devDir)).filter((file) => file.endsWith('.zip')).sort();
    const functions: FunctionColdstart[] = [];
    for (const zipFile of zips) {
      const name = zipFile.slice(0, -'.zip'.length);
      const dev = await unzipFunction(path.join(devDir, zipFile), path.join(scratch, 'dev', name));
      const prod = await unzipFunction(
        path.join(prodDir, zipFile),
        path.join(scratch, 'prod', name),
      );
      const bundle = prod.zip.file(`handlers/${name}.js`);
      if (!bundle) throw new Error(`${zipFile} holds no handlers/${name}.js`);
      const bundleBytes = (await bundle.async('nodebuffer')).length;
      const entry = (task: string) => path.join(task, 'handlers', `${name}.js`);
      const plain: number[] = [];
      const mapped: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < options.imports; i++) {
        plain.push((await timeImport(entry(prod.task), [])).importMs);
        const withMaps = await timeImport(entry(dev.task), ['--enable-source-maps']);
        mapped.push(withMaps.importMs);
        rss.push(withMaps.rssMb);
      }
      const sourceMap = dev.zip.file(`handlers/${name}.js.map`);
      const packages = sourceMap
        ? [
            ...charactersByPackage(
              await bundle.async('string'),
              JSON.parse(await sourceMap.async('string')) as SourceMap,
            ),
          ]
            .map(([owner, bytes]) => ({ name: owner, bytes }))
            .sort((a, b) => b.bytes - a.bytes)
        : [];
      const row: FunctionColdstart = {
        name,
        zipBytes: prod.zipBytes,
        zipWithSourceMapsBytes: dev.zipBytes,
        bundleBytes,
        importMs: round(median(plain), 1),
        importWithSourceMapsMs: round(median(mapped), 1),
        rssAfterImportMb: round(median(rss), 1),
        packages: packages.slice(0, 8),
        awsSdkBytes: packages
          .filter((share) => isAwsSdk(share.name))
          .reduce((sum, share) => sum + share.bytes, 0),
      };
      functions.push(row);
      options.log(
        `coldstart ${name}: ${(bundleBytes / 1024).toFixed(0)} KB minified, import ${row.importMs} ms, ` +
          `zip ${(row.zipBytes / 1024).toFixed(0)} KB (with source maps: ${row.importWithSourceMapsMs} ms, ` +
          `zip ${(row.zipWithSourceMapsBytes / 1024).toFixed(0)} KB)`,
      );
    }
    return { packageMs, functions };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `sls package --stage <stage>` with no AWS credentials, in a fresh esbuild work folder. */
async function packageStage(stage: string, scratch: string): Promise<string> {
  const packageDir = path.join(scratch, `package-${stage}`);
  // serverless-esbuild leaves earlier builds in its work folder (and zips them): a fresh one.
  const workFolder = `.esbuild-bench-${process.pid}-${stage}`;
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|PROFILE)$/.test(name),
    ),
  );
  env.ESBUILD_WORK_FOLDER = workFolder;
  await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
  try {
    await run(
      process.execPath,
      [SERVERLESS_BIN, 'package', '--stage', stage, '--package', packageDir],
      { cwd: REPO_ROOT, env, timeout: 180_000 },
    );
  } finally {
    await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
  }
  return packageDir;
}

/** The zip's files under `task`, as Lambda lays them out in /var/task. */
async function unzipFunction(
  zipPath: string,
  task: string,
): Promise<{ zip: JSZip; zipBytes: number; task: string }> {
  const zipBuffer = await readFile(zipPath);
  const zip = await JSZip.loadAsync(zipBuffer);
  for (const entry of Object.values(zip.files).filter((file) => !file.dir)) {
    await mkdir(path.dirname(path.join(task, entry.name)), { recursive: true });
    await writeFile(path.join(task, entry.name), await entry.async('nodebuffer'));
  }
  return { zip, zipBytes: zipBuffer.length, task };
}

async function timeImport(
  file: string,
  flags: string[],
): Promise<{ importMs: number; rssMb: number }> {
  const script =
    `const t = performance.now(); const m = await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    `const ms = performance.now() - t; if (typeof m.handler !== 'function') throw new Error('no handler'); ` +
    `console.log(JSON.stringify({ importMs: ms, rssMb: process.memoryUsage().rss / 1048576 }));`;
  const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', script], {
    timeout: 30_000,
    // As on Lambda: no AWS or Powertools settings beyond the function's own.
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    importMs: number;
    rssMb: number;
  };
}

export function isAwsSdk(name: string): boolean {
  return /^@(aws-sdk|smithy|aws-crypto)\//.test(name) || name === 'tslib' || name === 'bowser';
}
