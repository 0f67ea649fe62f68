/**
 * The offline cloud's execution environments per function (local/websocket/lambda-environments.ts):
 * at most `limit` of them, one starting at a time, further invocations in order. Instances stand
 * in for serverless-offline's; each run is a deferred that the test settles by hand.
 */
import { describe, expect, it } from '@jest/globals';
import { LambdaEnvironments } from '../../local/websocket/lambda-environments';

interface Instance {
  name: string;
}

/** Runs handed to the environments, in the order they started, each settled by the test. */
function recorder() {
  const started: { instance: string; invocation: number; finish(): void; fail(e: Error): void }[] =
    [];
  const task = (invocation: number) => (instance: Instance) =>
    new Promise<string>((resolve, reject) => {
      started.push({
        instance: instance.name,
        invocation,
        finish: () => resolve(`${invocation} on ${instance.name}`),
        fail: reject,
      });
    });
  return { started, task };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('LambdaEnvironments', () => {
  it('starts one environment at a time: the second waits until the first is warm', async () => {
    const environments = new LambdaEnvironments<Instance>(2);
    const { started, task } = recorder();
    const a = { name: 'a' };
    const b = { name: 'b' };
    const first = environments.run(a, task(1));
    // The pool made b because a was busy; b must not start while a is starting.
    const second = environments.run(b, task(2));
    const third = environments.run(b, task(3));
    await settle();
    expect(started.map((run) => run.invocation)).toEqual([1]);
    expect(environments.size).toBe(1);
    expect(environments.queued).toBe(2);

    started[0]?.finish();
    await expect(first).resolves.toBe('1 on a');
    await settle();
    // a is warm: it takes the next invocation, and b may start beside it for the one after.
    expect(started.map((run) => [run.invocation, run.instance])).toEqual([
      [1, 'a'],
      [2, 'a'],
      [3, 'b'],
    ]);
    expect(environments.size).toBe(2);
    started[1]?.finish();
    started[2]?.finish();
    await expect(second).resolves.toBe('2 on a');
    await expect(third).resolves.toBe('3 on b');
  });

  it('never makes more than `limit` environments; the rest wait in order of arrival', async () => {
    const environments = new LambdaEnvironments<Instance>(2);
    const { started, task } = recorder();
    const instances = Array.from({ length: 6 }, (_, i) => ({ name: `i${i}` }));
    const runs = instances.map((instance, i) => environments.run(instance, task(i)));
    let finished = false;
    const results = Promise.all(runs).finally(() => (finished = true));
    let mostAtOnce = 0;
    while (!finished) {
      await settle();
      const running = started.splice(0);
      mostAtOnce = Math.max(mostAtOnce, running.length);
      for (const run of running) run.finish();
    }
    expect(mostAtOnce).toBe(2);
    expect(environments.size).toBe(2);
    // Only the first two instances the pool offered became environments; the invocations ran
    // in order of arrival.
    expect(await results).toEqual([
      '0 on i0',
      '1 on i0',
      '2 on i1',
      '3 on i0',
      '4 on i1',
      '5 on i0',
    ]);
  });

  it('a failed run still leaves a warm environment and rejects only its own invocation', async () => {
    const environments = new LambdaEnvironments<Instance>(1);
    const { started, task } = recorder();
    const a = { name: 'a' };
    const failing = environments.run(a, task(1));
    const next = environments.run(a, task(2));
    await settle();
    started[0]?.fail(new Error('handler threw'));
    await expect(failing).rejects.toThrow('handler threw');
    await settle();
    expect(started.map((run) => [run.invocation, run.instance])).toEqual([
      [1, 'a'],
      [2, 'a'],
    ]);
    started[1]?.finish();
    await expect(next).resolves.toBe('2 on a');
    expect(environments.size).toBe(1);
  });

  it('after a failure that ends the worker, the waiting invocations start it anew', async () => {
    class LambdaTimeoutError extends Error {}
    const environments = new LambdaEnvironments<Instance>(1, {
      endsWorker: (error) => error instanceof LambdaTimeoutError,
    });
    const { started, task } = recorder();
    const a = { name: 'a' };
    const timedOut = environments.run(a, task(1));
    // Offered a again (idle in the pool's eyes between runs): no other instance exists.
    const waiting = environments.run(a, task(2));
    const alsoWaiting = environments.run(a, task(3));
    await settle();
    started[0]?.fail(new LambdaTimeoutError('[504] - Lambda timeout.'));
    await expect(timedOut).rejects.toThrow('Lambda timeout');
    await settle();
    // a starts again as a new environment, and alone: 3 waits until it is warm.
    expect(started.map((run) => [run.invocation, run.instance])).toEqual([
      [1, 'a'],
      [2, 'a'],
    ]);
    expect(environments.size).toBe(1);
    started[1]?.finish();
    await expect(waiting).resolves.toBe('2 on a');
    await settle();
    started[2]?.finish();
    await expect(alsoWaiting).resolves.toBe('3 on a');
  });

  it('an instance the pool dropped is no environment any more: a new one may take its place', async () => {
    const environments = new LambdaEnvironments<Instance>(1);
    const { started, task } = recorder();
    const a = { name: 'a' };
    const first = environments.run(a, task(1));
    await settle();
    started[0]?.finish();
    await first;
    environments.forget(a);
    expect(environments.size).toBe(0);
    const b = { name: 'b' };
    const next = environments.run(b, task(2));
    await settle();
    started[1]?.finish();
    await expect(next).resolves.toBe('2 on b');
  });

  it('reuse: false (reloadHandler) runs each invocation on the instance offered, `limit` at once', async () => {
    const environments = new LambdaEnvironments<Instance>(2, { reuse: false });
    const { started, task } = recorder();
    const instances = [1, 2, 3].map((i) => ({ name: `fresh-${i}` }));
    const runs = instances.map((instance, i) => environments.run(instance, task(i + 1)));
    await settle();
    // Fresh instances start side by side (each loads the handler anew), at most two at once.
    expect(started.map((run) => [run.invocation, run.instance])).toEqual([
      [1, 'fresh-1'],
      [2, 'fresh-2'],
    ]);
    started[0]?.finish();
    await settle();
    expect(started.map((run) => run.instance)).toEqual(['fresh-1', 'fresh-2', 'fresh-3']);
    started[1]?.finish();
    started[2]?.finish();
    await expect(Promise.all(runs)).resolves.toEqual([
      '1 on fresh-1',
      '2 on fresh-2',
      '3 on fresh-3',
    ]);
    expect(environments.size).toBe(0);
  });
});
