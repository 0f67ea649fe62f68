/**
 * The execution environments of one function on the offline cloud. serverless-offline runs each
 * instance of a function in a worker thread of its own, made on the instance's first run; its
 * pool makes a new instance whenever every other one is busy, so a flood of frames used to start
 * a worker per frame.
 *
 * Here a function has at most `limit` environments, further invocations wait in order, and only
 * one environment starts at a time: on AWS each cold start has CPU of its own, but offline they
 * share the machine's cores, so starting two at once only delays both (and everyone else's
 * functions). A second environment starts once the first is warm and still cannot keep up.
 *
 * With serverless-offline's `reloadHandler` the pool makes a fresh instance for every
 * invocation, so that each run loads the handler anew; then (`reuse: false`) each invocation
 * runs on the instance it was offered, at most `limit` at once.
 */
export class LambdaEnvironments<Instance extends object> {
  private readonly environments = new Map<Instance, { busy: boolean; warm: boolean }>();
  /** Instances the pool made that run nothing yet: the next environment is one of these. */
  private readonly spares: Instance[] = [];
  private readonly waiting: {
    offered: Instance;
    task: (instance: Instance) => Promise<unknown>;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }[] = [];

  private readonly endsWorker: (error: unknown) => boolean;
  private readonly reuse: boolean;

  constructor(
    private readonly limit: number,
    options: {
      /** A failure after which the instance's worker is gone (serverless-offline ends it on a timeout). */
      endsWorker?: (error: unknown) => boolean;
      /** false: run each invocation on the instance offered for it (`reloadHandler`). */
      reuse?: boolean;
    } = {},
  ) {
    this.endsWorker = options.endsWorker ?? (() => false);
    this.reuse = options.reuse ?? true;
  }

  /** Invocations waiting for an environment. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Environments made so far (each has, or is starting, its worker thread). */
  get size(): number {
    return this.environments.size;
  }

  /**
   * Runs `task` on an environment of this function. `offered` is the instance the pool handed
   * out for this invocation; it becomes an environment only when a new one may start.
   */
  run<T>(offered: Instance, task: (instance: Instance) => Promise<T>): Promise<T> {
    if (this.reuse && !this.environments.has(offered) && !this.spares.includes(offered)) {
      this.spares.push(offered);
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        offered,
        task,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.dispatch();
    });
  }

  /** The pool dropped an idle instance (and ended its worker): it is no environment any more. */
  forget(instance: Instance): void {
    this.environments.delete(instance);
    const spare = this.spares.indexOf(instance);
    if (spare >= 0) this.spares.splice(spare, 1);
    this.dispatch();
  }

  private dispatch(): void {
    for (;;) {
      const job = this.waiting[0];
      const instance =
        job && (this.reuse ? (this.idleWarm() ?? this.startNew()) : this.own(job.offered));
      if (!job || !instance) return;
      this.waiting.shift();
      const state = this.environments.get(instance) as { busy: boolean; warm: boolean };
      state.busy = true;
      const settled = () => {
        state.busy = false;
        state.warm = true;
        // Not reused: the instance served its one invocation (the pool drops it when idle).
        if (!this.reuse) this.environments.delete(instance);
        this.dispatch();
      };
      job.task(instance).then(
        (value) => {
          job.resolve(value);
          settled();
        },
        (error: unknown) => {
          job.reject(error);
          // Its next run starts a new worker: it is a spare again, not a warm environment (and
          // invocations waiting for it need no new instance from the pool to go on).
          if (this.endsWorker(error)) {
            this.environments.delete(instance);
            if (this.reuse) this.spares.unshift(instance);
          }
          settled();
        },
      );
    }
  }

  private idleWarm(): Instance | undefined {
    for (const [instance, state] of this.environments) {
      if (state.warm && !state.busy) return instance;
    }
    return undefined;
  }

  /** `reuse: false`: the offered instance itself, once fewer than `limit` run. */
  private own(offered: Instance): Instance | undefined {
    if (this.environments.size >= this.limit) return undefined;
    this.environments.set(offered, { busy: false, warm: false });
    return offered;
  }

  private startNew(): Instance | undefined {
    if (this.environments.size >= this.limit) return undefined;
    for (const state of this.environments.values()) {
      if (!state.warm) return undefined; // one starts already
    }
    const instance = this.spares.shift();
    if (instance) this.environments.set(instance, { busy: false, warm: false });
    return instance;
  }
}
