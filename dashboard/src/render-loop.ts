/**
 * Rendering batched per animation frame: frames only update the model and ask for a render; the
 * views then draw at most once per display frame, however many frames arrived in between.
 */
export interface RenderStats {
  renders: number;
  lastRenderMs: number;
  maxRenderMs: number;
  totalRenderMs: number;
}

export class RenderLoop {
  readonly stats: RenderStats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, totalRenderMs: 0 };
  private scheduled = false;

  constructor(private readonly render: (now: number) => void) {}

  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      const started = performance.now();
      this.render(Date.now());
      const took = performance.now() - started;
      this.stats.renders += 1;
      this.stats.lastRenderMs = took;
      this.stats.maxRenderMs = Math.max(this.stats.maxRenderMs, took);
      this.stats.totalRenderMs += took;
    });
  }
}
