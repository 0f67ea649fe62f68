import type { ColdstartResult } from './coldstart';
import type { DeliveryResult } from './delivery';
import type { E2eResult } from './e2e';
import type { FanoutResult } from './fanout';
import type { FloodResult } from './flood';
import type { TargetResult } from './targets';

export const BENCHMARKS = ['fanout', 'e2e', 'coldstart', 'flood', 'delivery'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

/** What bench/results/<ISO date>.json holds. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  benchmarks: BenchmarkName[];
  machine: {
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    /** 1-minute load average when the run started and ended: other work skews the figures. */
    loadAverage: { start: number; end: number };
  };
  fanout?: FanoutResult;
  e2e?: E2eResult;
  coldstart?: ColdstartResult;
  flood?: FloodResult;
  delivery?: DeliveryResult;
  targets: TargetResult[];
  /** A benchmark that failed does not stop the others; its error is kept here. */
  errors: { bench: BenchmarkName; message: string }[];
}
