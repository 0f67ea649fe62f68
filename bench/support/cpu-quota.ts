/**
 * A 256 MB Lambda's share of a CPU, for a bench child. Lambda gives a function CPU in proportion
 * to its memory, one vCPU at 1 769 MB ("Configure Lambda function memory", Lambda Developer
 * Guide), so 256 MB gets 256 / 1 769 = 14.5 % of one. Here a Linux CFS quota enforces it, as
 * Lambda's own microVMs are throttled: the child runs 14.5 ms in every 100 ms period, then waits.
 * Where no cgroup can be made (not root, no cpu controller), the caller falls back to a model:
 * wall time = max(measured wall time, CPU time / share).
 */
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const LAMBDA_MEMORY_MB = 256;
export const FULL_VCPU_MEMORY_MB = 1_769;
export const LAMBDA_CPU_SHARE = LAMBDA_MEMORY_MB / FULL_VCPU_MEMORY_MB;
const PERIOD_US = 100_000;

export interface CpuQuota {
  /** The cgroup the child joins. */
  directory: string;
  /** The command that runs `command args…` inside the cgroup. */
  wrap(command: string, args: string[]): [string, string[]];
  remove(): Promise<void>;
}

/** A cgroup (v1 cpu controller, or v2) limited to `share` of one CPU; undefined when none can be made. */
export async function createCpuQuota(share: number): Promise<CpuQuota | undefined> {
  const quotaUs = Math.round(share * PERIOD_US);
  const name = `bench-lambda-${process.pid}-${Date.now()}`;
  const layouts = [
    {
      directory: path.join('/sys/fs/cgroup/cpu', name),
      files: { 'cpu.cfs_period_us': String(PERIOD_US), 'cpu.cfs_quota_us': String(quotaUs) },
    },
    {
      directory: path.join('/sys/fs/cgroup', name),
      files: { 'cpu.max': `${quotaUs} ${PERIOD_US}` },
    },
  ];
  for (const { directory, files } of layouts) {
    try {
      await mkdir(directory);
    } catch {
      continue;
    }
    try {
      for (const [file, value] of Object.entries(files)) {
        await writeFile(path.join(directory, file), value);
      }
    } catch {
      await rmdir(directory).catch(() => undefined);
      continue;
    }
    return {
      directory,
      // The shell moves itself into the cgroup, then becomes the child: nothing runs outside.
      wrap: (command, args) => [
        '/bin/sh',
        ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', directory, command, ...args],
      ],
      // A child that just exited may still be listed for a moment: try a few times.
      remove: async () => {
        for (let attempt = 0; attempt < 20; attempt++) {
          try {
            await rmdir(directory);
            return;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      },
    };
  }
  return undefined;
}
