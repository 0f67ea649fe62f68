/**
 * The rules engine: rules from serverless.yml's functions, Lambda actions through a real HTTP
 * server speaking the Lambda invoke API, and the dead-letter store when an action keeps failing.
 * Its backlog is bounded: accept() waits while it is full, and a stop dead-letters what it cannot
 * drain (issue 11, "Load without loss").
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import { OfflineLambdaInvoker } from '../../local/iot/lambda-invoker';
import {
  formatBacklog,
  RulesEngine,
  RulesEngineStoppedError,
  rulesFromFunctions,
  STOPPED_REASON,
} from '../../local/iot/rules/engine';
import { startHeldLambda, waitUntil, type HeldLambda } from '../support/held-lambda';

const SQL = "SELECT *, topic(2) AS deviceId FROM 'devices/+/telemetry' WHERE temperature > 0";
const functionName = (key: string) => `telemetry-test-${key}`;

describe('rulesFromFunctions', () => {
  it('makes a rule of every enabled iot event, named as the framework names it', () => {
    const rules = rulesFromFunctions(
      {
        forwardTelemetry: {
          events: [{ iot: { sql: SQL } }, { iot: { sql: SQL, enabled: false } }],
        },
        other: { events: [{}] },
        named: { name: 'custom-name', events: [{ iot: { sql: SQL, name: 'my_rule' } }] },
      },
      functionName,
    );
    expect(rules.map(({ name, functionName: fn }) => [name, fn])).toEqual([
      ['ForwardTelemetryIotTopicRule1', 'telemetry-test-forwardTelemetry'],
      ['my_rule', 'custom-name'],
    ]);
  });

  it('stops with the unsupported part named, the rule and the function', () => {
    expect(() =>
      rulesFromFunctions(
        {
          forwardTelemetry: {
            events: [{ iot: { sql: "SELECT * FROM 'a/b' WHERE name LIKE 'x%'" } }],
          },
        },
        functionName,
      ),
    ).toThrow(/ForwardTelemetryIotTopicRule1 \(function forwardTelemetry\).*LIKE/s);
  });
});

describe('RulesEngine', () => {
  let server: http.Server;
  let endpoint: string;
  let dir: string;
  const invocations: { fn: string; payload: unknown }[] = [];
  let failuresLeft = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      response.on('finish', () => inFlight--);
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const fn = decodeURIComponent(
          /functions\/([^/]+)\/invocations/.exec(request.url ?? '')?.[1] ?? '',
        );
        invocations.push({ fn, payload: JSON.parse(Buffer.concat(chunks).toString()) });
        if (failuresLeft > 0) {
          failuresLeft--;
          response
            .writeHead(200, { 'x-amz-function-error': 'Unhandled' })
            .end('{"errorMessage":"boom"}');
          return;
        }
        // A little work per invocation, so that concurrent ones overlap.
        setTimeout(
          () =>
            response.writeHead(200, { 'content-type': 'application/json' }).end('{"delivered":1}'),
          5,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'rules-'));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const engineFor = (store: DeadLetterStore) =>
    new RulesEngine({
      rules: rulesFromFunctions(
        { forwardTelemetry: { events: [{ iot: { sql: SQL } }] } },
        functionName,
      ),
      invoker: new OfflineLambdaInvoker(endpoint),
      deadLetters: store,
      attempts: 3,
    });
  const message = (topic: string, payload: unknown) => ({
    topic,
    payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    timestamp: 1,
  });

  it('invokes the function with the SQL output for matching messages only', async () => {
    invocations.length = 0;
    const engine = engineFor(new DeadLetterStore(path.join(dir, 'a')));
    engine.dispatch(message('devices/s-1/telemetry', { temperature: 5 }));
    engine.dispatch(message('devices/s-1/telemetry', { temperature: -5 })); // WHERE is false
    engine.dispatch(message('devices/s-1/commands', { temperature: 5 })); // FROM does not match
    await engine.drain();
    expect(invocations).toEqual([
      { fn: 'telemetry-test-forwardTelemetry', payload: { temperature: 5, deviceId: 's-1' } },
    ]);
  });

  it('keeps at most two invocations of a function in flight, and loses none of a burst', async () => {
    invocations.length = 0;
    maxInFlight = 0;
    const engine = engineFor(new DeadLetterStore(path.join(dir, 'burst')));
    for (let i = 0; i < 40; i++)
      engine.dispatch(message('devices/s-9/telemetry', { temperature: i + 1 }));
    await engine.drain();
    expect(invocations).toHaveLength(40);
    expect(maxInFlight).toBe(2);
  });

  it('retries a failing function and succeeds without dead-lettering', async () => {
    invocations.length = 0;
    failuresLeft = 2;
    const store = new DeadLetterStore(path.join(dir, 'b'));
    const engine = engineFor(store);
    engine.dispatch(message('devices/s-2/telemetry', { temperature: 1 }));
    await engine.drain();
    expect(invocations).toHaveLength(3);
    expect(await store.list()).toEqual([]);
  });

  it('dead-letters a message whose function keeps failing, with what is needed to redrive it', async () => {
    invocations.length = 0;
    failuresLeft = 3;
    const store = new DeadLetterStore(path.join(dir, 'c'));
    const engine = engineFor(store);
    engine.dispatch(message('devices/s-3/telemetry', { temperature: 2 }));
    await engine.drain();
    expect(invocations).toHaveLength(3);
    expect(await store.list()).toEqual([
      expect.objectContaining({
        rule: 'ForwardTelemetryIotTopicRule1',
        functionName: 'telemetry-test-forwardTelemetry',
        topic: 'devices/s-3/telemetry',
        output: { temperature: 2, deviceId: 's-3' },
        reason: expect.stringContaining('boom'),
        attempts: 3,
      }),
    ]);
  });

  it('dead-letters a raw payload for a Lambda action at once, without invoking ("Working with binary payloads")', async () => {
    invocations.length = 0;
    const store = new DeadLetterStore(path.join(dir, 'binary'));
    const engine = new RulesEngine({
      rules: rulesFromFunctions(
        { forwardTelemetry: { events: [{ iot: { sql: "SELECT * FROM 'raw/+'" } }] } },
        functionName,
      ),
      invoker: new OfflineLambdaInvoker(endpoint),
      deadLetters: store,
    });
    engine.dispatch({ topic: 'raw/s-5', payload: Buffer.from([0xff, 0x00]) });
    await engine.drain();
    expect(invocations).toEqual([]);
    expect(await store.list()).toEqual([
      expect.objectContaining({
        topic: 'raw/s-5',
        payloadBase64: Buffer.from([0xff, 0x00]).toString('base64'),
        reason: expect.stringContaining("encode(*, 'base64')"),
        attempts: 0,
      }),
    ]);
  });

  it('dead-letters an action that cannot reach the Lambda API at all', async () => {
    const store = new DeadLetterStore(path.join(dir, 'd'));
    const engine = new RulesEngine({
      rules: rulesFromFunctions(
        { forwardTelemetry: { events: [{ iot: { sql: SQL } }] } },
        functionName,
      ),
      invoker: new OfflineLambdaInvoker('http://127.0.0.1:9'),
      deadLetters: store,
      attempts: 1,
    });
    engine.dispatch(message('devices/s-4/telemetry', { temperature: 3 }));
    await engine.drain();
    expect((await store.list()).map((letter) => letter.reason)).toEqual([
      expect.stringContaining('unreachable'),
    ]);
  });
});

describe('RulesEngine backlog', () => {
  let lambda: HeldLambda;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rules-backlog-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    lambda = await startHeldLambda();
  });
  afterEach(async () => {
    await lambda.close();
  });

  const engineWith = (
    store: DeadLetterStore,
    maxQueuedActions: number,
    lines: string[] = [],
  ): RulesEngine =>
    new RulesEngine({
      rules: rulesFromFunctions(
        { forwardTelemetry: { events: [{ iot: { sql: SQL } }] } },
        functionName,
      ),
      invoker: new OfflineLambdaInvoker(lambda.endpoint),
      deadLetters: store,
      maxQueuedActions,
      onBacklog: (line) => lines.push(line),
    });
  const reading = (seq: number) => ({
    topic: 'devices/s-7/telemetry',
    payload: Buffer.from(JSON.stringify({ temperature: 1, seq })),
    timestamp: 1,
  });

  it('holds accept() while the backlog is full, and reports its depth at each threshold', async () => {
    const lines: string[] = [];
    const engine = engineWith(new DeadLetterStore(path.join(dir, 'full')), 4, lines);
    for (let seq = 0; seq < 4; seq++) await engine.accept(reading(seq));

    let fifthAccepted = false;
    const fifth = engine.accept(reading(4)).then(() => (fifthAccepted = true));
    await waitUntil(() => lambda.held() === 2, 'two invocations are in flight');
    expect(engine.backlog()).toMatchObject({ depth: 4, capacity: 4, inFlight: 2, waiting: 1 });
    expect(formatBacklog(engine.backlog())).toBe(
      '4 of 4 queued (peak 4), 2 in flight, 1 publisher(s) held back; 0 delivered, 0 dead-lettered',
    );
    expect(fifthAccepted).toBe(false);
    expect(lines).toEqual([
      expect.stringMatching(/backlog: 1 of 4 rule actions queued/),
      expect.stringMatching(/backlog: 2 of 4 rule actions queued/),
      expect.stringMatching(/backlog full: 4 of 4 .*held back/),
    ]);

    lambda.release(1); // one finishes: the waiting message takes its place
    await fifth;
    expect(engine.backlog()).toMatchObject({ depth: 4, waiting: 0 });

    lambda.open();
    await engine.drain();
    expect(lambda.delivered.map((payload) => payload.seq).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(engine.backlog()).toMatchObject({ depth: 0, peak: 4, accepted: 5, delivered: 5 });
    expect(lines.at(-1)).toMatch(/backlog cleared: 0 queued \(peak 4 of 4\)/);
  });

  it('a message no rule takes is never held back, even when the backlog is full', async () => {
    const engine = engineWith(new DeadLetterStore(path.join(dir, 'skip')), 1);
    await engine.accept(reading(0));
    await engine.accept({ topic: 'devices/s-7/commands', payload: Buffer.from('{}') });
    expect(engine.backlog()).toMatchObject({ depth: 1, waiting: 0 });
    lambda.open();
    await engine.drain();
  });

  it('on stop, dead-letters what did not drain, with the reason: accepted = delivered + dead-lettered', async () => {
    const store = new DeadLetterStore(path.join(dir, 'stop'));
    const lines: string[] = [];
    const engine = engineWith(store, 50, lines);
    const total = 20;
    for (let seq = 0; seq < total; seq++) await engine.accept(reading(seq));
    for (let done = 1; done <= 5; done++) {
      await waitUntil(() => lambda.held() > 0, 'an invocation is in flight');
      lambda.release(1);
      await waitUntil(() => engine.backlog().delivered === done, `${done} delivered`);
    }

    const report = await engine.stop({ drainMs: 50 });

    const letters = await store.list();
    const delivered = lambda.delivered.map((payload) => payload.seq);
    const deadLettered = letters.map((letter) => letter.output?.seq);
    expect(delivered).toHaveLength(5);
    expect(report).toEqual({ drained: false, deadLettered: total - 5 });
    expect([...delivered, ...deadLettered].sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: total }, (_, seq) => seq),
    );
    for (const letter of letters) {
      expect(letter.reason.startsWith(STOPPED_REASON)).toBe(true);
      expect(letter.output).toMatchObject({ deviceId: 's-7' }); // redrivable
    }
    // The two in flight were aborted; the queued ones never ran.
    expect(letters.filter((letter) => letter.attempts === 1)).toEqual([
      expect.objectContaining({ reason: `${STOPPED_REASON} during attempt 1: invocation aborted` }),
      expect.objectContaining({ reason: `${STOPPED_REASON} during attempt 1: invocation aborted` }),
    ]);
    expect(lines).toContainEqual(
      expect.stringMatching(/stopping with 15 rule action\(s\) unfinished .*dead-letter store/),
    );
    await expect(engine.accept(reading(99))).rejects.toBeInstanceOf(RulesEngineStoppedError);
  });

  it('a stop that drains in time writes no dead letter', async () => {
    const store = new DeadLetterStore(path.join(dir, 'drained'));
    const engine = engineWith(store, 50);
    for (let seq = 0; seq < 6; seq++) await engine.accept(reading(seq));
    const stopped = engine.stop({ drainMs: 60_000 });
    lambda.open();
    expect(await stopped).toEqual({ drained: true, deadLettered: 0 });
    expect(lambda.delivered).toHaveLength(6);
    expect(await store.list()).toEqual([]);
  });

  it('a stop refuses the publishers still waiting for room: their message was never accepted', async () => {
    const store = new DeadLetterStore(path.join(dir, 'refused'));
    const engine = engineWith(store, 1);
    await engine.accept(reading(0));
    const waiting = engine.accept(reading(1));
    await waitUntil(() => engine.backlog().waiting === 1, 'the second waits');
    const stopped = engine.stop({ drainMs: 60_000 });
    await expect(waiting).rejects.toBeInstanceOf(RulesEngineStoppedError);
    lambda.open();
    await stopped;
    expect(lambda.delivered.map((payload) => payload.seq)).toEqual([0]);
    expect(await store.list()).toEqual([]);
  });
});
