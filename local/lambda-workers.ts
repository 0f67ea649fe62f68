/**
 * The offline Lambda runtime's workers. serverless-offline runs each function instance in a
 * worker thread of the one offline process, and makes a new instance (a new worker, whose bundle
 * is loaded and compiled: a few hundred ms of CPU) whenever every instance it has is busy. On AWS
 * each execution environment has CPU of its own; offline, every worker shares the machine's
 * cores, so a flood of one function's invocations spawned workers without limit and starved
 * everyone else (200 frames/s once made 200 threads and 3 GB; later, with the runs bounded but not
 * the instances, each burst of a flood still started workers that were never needed).
 *
 * So each function gets a dispatcher of its own:
 * - invocations wait in one queue, in order, and each instance runs one at a time;
 * - at most `limit` instances (workers) ever exist;
 * - another instance is started only when an invocation has waited `scaleOutAfterMs` (500 ms, about what a cold start costs in CPU)
 *   and no instance is still starting; the wait counts from when the newest instance became warm,
 *   as the backlog its own cold start let pile up is no sign that it cannot keep up. A queue the
 *   running workers drain in a moment does not cost a cold start, and a slow or hanging
 *   invocation does not hold up the next for long;
 * - serverless-offline keeps an invocation's event on the instance between setEvent() and
 *   runHandler(); the dispatcher applies it when the run starts, on the instance that runs it.
 */
import type {
  AnyFunction,
  ServerlessOfflineInternals,
} from './websocket/serverless-offline-internals';

type Instance = object;

interface Invocation {
  event: unknown;
  clientContext: unknown;
  queuedAt: number;
  settle: (run: Promise<unknown>) => void;
}

export interface LambdaWorkerBound {
  /** Instances (workers) per function. */
  limit: number;
  /** How long an invocation waits before another worker is started for it. */
  scaleOutAfterMs?: number;
  log: { notice(message: string): void };
}

interface Originals {
  get: AnyFunction;
  setEvent: AnyFunction;
  setClientContext: AnyFunction;
  runHandler: AnyFunction;
  cleanup: AnyFunction;
}

class FunctionWorkers {
  readonly instances: Instance[] = [];
  private readonly running = new Set<Instance>();
  private readonly queue: Invocation[] = [];
  private starting = false;
  /** When the newest instance finished its first run: it is judged from then, not from its start. */
  private warmAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly create: () => Instance,
    private readonly originals: Originals,
    private readonly options: Required<Omit<LambdaWorkerBound, 'log'>> & LambdaWorkerBound,
  ) {}

  /** The instance callers hold (any will do: the run goes to whichever is free). */
  handle(): Instance {
    return this.instances[0] ?? this.start();
  }

  run(event: unknown, clientContext: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        event,
        clientContext,
        queuedAt: performance.now(),
        settle: (run) => run.then(resolve, reject),
      });
      this.pump();
    });
  }

  forget(instance: Instance): void {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
  }

  private start(): Instance {
    const instance = this.create();
    if (!this.instances.includes(instance)) {
      this.instances.push(instance);
      this.starting = true;
      this.options.log.notice(
        `offline Lambda: ${this.name} worker ${this.instances.length} of at most ${this.options.limit}`,
      );
    }
    return instance;
  }

  private pump(): void {
    for (const instance of this.instances) {
      const next = !this.running.has(instance) && this.queue.shift();
      if (next) this.execute(instance, next);
    }
    const oldest = this.queue[0];
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!oldest || this.starting || this.instances.length >= this.options.limit) return;
    const waited = performance.now() - Math.max(oldest.queuedAt, this.warmAt);
    if (waited >= this.options.scaleOutAfterMs) {
      this.start();
      this.pump();
    } else {
      this.timer = setTimeout(() => this.pump(), this.options.scaleOutAfterMs - waited);
    }
  }

  private execute(instance: Instance, invocation: Invocation): void {
    this.running.add(instance);
    this.originals.setClientContext.call(instance, invocation.clientContext);
    this.originals.setEvent.call(instance, invocation.event);
    const run = Promise.resolve(this.originals.runHandler.call(instance) as Promise<unknown>);
    invocation.settle(run);
    const done = () => {
      this.running.delete(instance);
      // Its first run is over, started or failed: the instance is warm.
      if (this.starting && instance === this.instances.at(-1)) {
        this.starting = false;
        this.warmAt = performance.now();
      }
      this.pump();
    };
    run.then(done, done);
  }
}

/** Installs the dispatchers on serverless-offline's pool and instances; once per process. */
export function boundLambdaWorkers(
  internals: ServerlessOfflineInternals,
  { limit, scaleOutAfterMs = 500, log }: LambdaWorkerBound,
): void {
  const pool = internals.lambdaFunctionPool.prototype;
  const lambda = internals.lambdaFunction.prototype;
  if ((pool.get as { bounded?: true }).bounded) return;
  const originals: Originals = {
    get: pool.get as AnyFunction,
    setEvent: lambda.setEvent as AnyFunction,
    setClientContext: lambda.setClientContext as AnyFunction,
    runHandler: lambda.runHandler as AnyFunction,
    cleanup: lambda.cleanup as AnyFunction,
  };
  const byName = new Map<string, FunctionWorkers>();
  const byInstance = new WeakMap<Instance, FunctionWorkers>();
  // What a caller set on its handle, until it calls runHandler() (always right after).
  const pending = new WeakMap<Instance, { event?: unknown; clientContext?: unknown }>();

  const get: AnyFunction & { bounded?: true } = function (
    this: unknown,
    functionKey: string,
    definition: unknown,
  ) {
    let workers = byName.get(functionKey);
    if (!workers) {
      const created = new FunctionWorkers(
        functionKey,
        () => {
          const instance = originals.get.call(this, functionKey, definition) as Instance;
          byInstance.set(instance, created);
          return instance;
        },
        originals,
        { limit, scaleOutAfterMs, log },
      );
      byName.set(functionKey, (workers = created));
    }
    return workers.handle();
  };
  get.bounded = true;
  pool.get = get;

  const pendingOf = (instance: Instance) => {
    let state = pending.get(instance);
    if (!state) pending.set(instance, (state = {}));
    return state;
  };
  lambda.setEvent = function (this: Instance, event: unknown) {
    pendingOf(this).event = event;
  };
  lambda.setClientContext = function (this: Instance, clientContext: unknown) {
    pendingOf(this).clientContext = clientContext;
  };
  lambda.runHandler = function (this: Instance) {
    const { event, clientContext } = pendingOf(this);
    const workers = byInstance.get(this);
    if (workers) return workers.run(event, clientContext);
    // Not made through the pool (nothing does that today): run it as serverless-offline would.
    originals.setClientContext.call(this, clientContext);
    originals.setEvent.call(this, event);
    return originals.runHandler.call(this) as unknown;
  };
  lambda.cleanup = async function (this: Instance) {
    byInstance.get(this)?.forget(this);
    return (await originals.cleanup.call(this)) as unknown;
  };
}
