/** Messages per second over a sliding window of whole seconds, in constant memory. */
export class RateMeter {
  private readonly seconds: Float64Array;
  private readonly counts: Uint32Array;
  private firstAt: number | undefined;

  constructor(private readonly windowSeconds = 10) {
    this.seconds = new Float64Array(windowSeconds).fill(-1);
    this.counts = new Uint32Array(windowSeconds);
  }

  record(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.windowSeconds;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += 1;
    this.firstAt ??= nowMs;
  }

  /** The average rate over the window, or over the time since the first message if shorter. */
  perSecond(nowMs: number): number {
    if (this.firstAt === undefined) return 0;
    const second = Math.floor(nowMs / 1000);
    let total = 0;
    for (let slot = 0; slot < this.windowSeconds; slot += 1) {
      const age = second - this.seconds[slot]!;
      if (age >= 0 && age < this.windowSeconds) total += this.counts[slot]!;
    }
    const span = Math.min(this.windowSeconds, Math.max(1, (nowMs - this.firstAt) / 1000));
    return total / span;
  }
}
