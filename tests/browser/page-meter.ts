/**
 * Measurements taken inside the page: animation frames rendered and dropped while something runs
 * (counted with requestAnimationFrame), and the JavaScript heap (Chromium's performance.memory,
 * precise with --enable-precise-memory-info, after a full GC when --expose-gc is on).
 */
import type { Page } from 'playwright-core';

export interface FrameReport {
  /** Animation frames the page rendered. */
  rendered: number;
  /** Display frames that passed without one (a gap of n intervals drops n - 1). */
  dropped: number;
  /** The display's frame interval, ms (the median gap). */
  intervalMs: number;
  longestGapMs: number;
  seconds: number;
}

declare global {
  interface Window {
    __frameMeter?: { times: number[]; running: boolean };
    gc?: () => void;
  }
}

export async function startFrameMeter(page: Page): Promise<() => Promise<FrameReport>> {
  await page.evaluate(() => {
    const meter = { times: [] as number[], running: true };
    window.__frameMeter = meter;
    const step = (time: number) => {
      meter.times.push(time);
      if (meter.running) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  return async () => {
    const times = await page.evaluate(() => {
      const meter = window.__frameMeter!;
      meter.running = false;
      return meter.times;
    });
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    const sorted = [...gaps].sort((a, b) => a - b);
    const intervalMs = sorted[Math.floor(sorted.length / 2)] ?? 1000 / 60;
    const dropped = gaps.reduce(
      (sum, gap) => sum + Math.max(0, Math.round(gap / intervalMs) - 1),
      0,
    );
    return {
      rendered: times.length,
      dropped,
      intervalMs,
      longestGapMs: sorted.at(-1) ?? 0,
      seconds: ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000,
    };
  };
}

/** Used JS heap in bytes after a full garbage collection (when the page can ask for one). */
export async function usedHeap(page: Page): Promise<number> {
  return page.evaluate(() => {
    window.gc?.();
    return (
      (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory
        ?.usedJSHeapSize ?? NaN
    );
  });
}

export const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
