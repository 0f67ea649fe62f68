/** What the fleet needs of a simulated device, whichever protocol it speaks. */
import type { Reading } from '../telemetry/reading';
import type { Protocol } from './stats';

export interface SimulatedDevice {
  readonly deviceId: string;
  readonly protocol: Protocol;
  /** Hands one reading to the transport; the outcome goes to the fleet's stats. */
  send(reading: Reading): void;
  /** Resolves when nothing more can be confirmed: nothing in flight, or (MQTT) no connection. */
  idle(): Promise<void>;
  /** Stops retrying and closes; what is still unconfirmed counts as failed. */
  close(): Promise<void>;
}

/** Deliveries not yet confirmed; each settles once, as confirmed or failed. */
export class InFlight {
  private readonly pending = new Map<number, (ok: boolean) => void>();
  private nextId = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly onSettle: (ok: boolean) => void) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers a delivery; call the returned function with its outcome (later calls are ignored). */
  track(): (ok: boolean) => void {
    const id = this.nextId++;
    const settle = (ok: boolean) => {
      if (!this.pending.delete(id)) return;
      this.onSettle(ok);
      if (this.pending.size === 0) for (const wake of this.waiters.splice(0)) wake();
    };
    this.pending.set(id, settle);
    return settle;
  }

  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Everything still pending fails. */
  abandon(): void {
    for (const settle of [...this.pending.values()]) settle(false);
  }
}
