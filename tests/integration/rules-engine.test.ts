/**
 * The rules engine: rules from serverless.yml's functions, Lambda actions through a real HTTP
 * server speaking the Lambda invoke API, and the dead-letter store when an action keeps failing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeadLetterStore } from '../../local/iot/dead-letters';
import { OfflineLambdaInvoker } from '../../local/iot/lambda-invoker';
import { RulesEngine, rulesFromFunctions } from '../../local/iot/rules/engine';

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
        { forwardTelemetry: { events: [{ iot: { sql: "SELECT upper(name) AS n FROM 'a/b'" } }] } },
        functionName,
      ),
    ).toThrow(/ForwardTelemetryIotTopicRule1 \(function forwardTelemetry\).*upper/s);
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
