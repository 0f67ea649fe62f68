/**
 * Builds the live dashboard (dashboard/) into a folder of static files: main.js (the TypeScript
 * bundled with uPlot), style.css (the page's CSS with uPlot's), their source maps, and index.html.
 *
 *   npx tsx local/dashboard/build.ts [outDir]      (default: dashboard/dist)
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARD_SOURCE = path.join(REPOSITORY_ROOT, 'dashboard');
export const DEFAULT_DASHBOARD_OUT_DIR = path.join(DASHBOARD_SOURCE, 'dist');

export interface DashboardBuild {
  outDir: string;
  /** Every file written, relative to outDir, with its size in bytes. */
  files: { name: string; bytes: number }[];
}

export async function buildDashboard(
  outDir: string = DEFAULT_DASHBOARD_OUT_DIR,
): Promise<DashboardBuild> {
  const target = path.resolve(outDir);
  await mkdir(target, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: REPOSITORY_ROOT,
    entryPoints: {
      main: path.join(DASHBOARD_SOURCE, 'src/main.ts'),
      style: path.join(DASHBOARD_SOURCE, 'style.css'),
    },
    outdir: target,
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    metafile: true,
    logLevel: 'silent',
  });
  const page = path.join(target, 'index.html');
  await copyFile(path.join(DASHBOARD_SOURCE, 'index.html'), page);
  const files = Object.entries(result.metafile.outputs).map(([file, output]) => ({
    name: path.relative(target, path.resolve(REPOSITORY_ROOT, file)),
    bytes: output.bytes,
  }));
  files.push({ name: 'index.html', bytes: (await stat(page)).size });
  return { outDir: target, files };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const build = await buildDashboard(process.argv[2]);
  for (const { name, bytes } of build.files) {
    console.log(`  ${path.join(build.outDir, name)}  ${(bytes / 1024).toFixed(1)} KB`);
  }
}
