/**
 * The rules engine (local/iot/rules/engine.ts) with stand-ins for its targets — a Lambda invoker,
 * an SQS queue store, a broker, a DynamoDB document client and a dead-letter store that record
 * what they receive — so that each path of a message is checked exactly and fast: which action
 * gets which body, when a failure is retried, what the error action receives, what a stop writes.
 * tests/integration/rules-engine.test.ts and rules-actions.test.ts run the same engine against
 * real servers. Written for docs/mutation.md (`local/iot/rules/`).
 *
 * Pages of the AWS IoT Core developer guide (https://docs.aws.amazon.com/iot/latest/developerguide/…):
 * iot-rule-actions.html ("AWS IoT rule actions": Lambda, SQS with useBase64, Republish, DynamoDBv2),
 * rule-error-handling.html ("Error handling (error action)", "Error action message format":
 * ruleName, topic, clientId, base64OriginalPayload, failures with failedAction, failedResource,
 * errorMessage), binary-payloads.html ("Working with binary payloads"), iot-basic-ingest.html
 * ("Reducing messaging costs with Basic Ingest": $aws/rules/<ruleName>/<topic>, RuleNotFound),
 * iot-sql-functions.html (aws_lambda(): "should be completed within 2000 milliseconds";
 * get_dynamodb()).
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

import type { DeadLetterInput, DeadLetterStore } from '../../local/iot/dead-letters';
import type { InvokeOutcome, InvokeOptions, LambdaInvoker } from '../../local/iot/lambda-invoker';
import type { RuleAction, TopicRule } from '../../local/iot/rules/actions';
import {
  AWS_LAMBDA_FUNCTION_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_ACTIONS,
  describeRules,
  formatBacklog,
  offlineRuleServices,
  RulesEngine,
  RulesEngineStoppedError,
  rulesFromFunctions,
  STOPPED_REASON,
  type BacklogStatus,
  type RulesEngineOptions,
} from '../../local/iot/rules/engine';
import { BINARY_PAYLOAD_REASON, compileRule, type CompiledRule } from '../../local/iot/rules/sql';
import type { OfflineSqsQueues } from '../../local/sqs/queue-store';

afterEach(() => {
  jest.useRealTimers();
});

/** A Lambda invoker whose answers the test decides; every call is recorded. */
class FakeInvoker implements LambdaInvoker {
  readonly calls: { functionName: string; payload: unknown; signal: AbortSignal | undefined }[] =
    [];
  private readonly held: { resolve: (outcome: InvokeOutcome) => void; signal?: AbortSignal }[] = [];
  /** What the next invocations answer, in order; then `fallback`. */
  answers: (InvokeOutcome | 'hold' | Error)[] = [];
  fallback: InvokeOutcome | 'hold' = { ok: true, result: null };

  invoke(functionName: string, payload: unknown, options?: InvokeOptions): Promise<InvokeOutcome> {
    this.calls.push({ functionName, payload, signal: options?.signal });
    const answer = this.answers.shift() ?? this.fallback;
    if (answer instanceof Error) return Promise.reject(answer);
    if (answer !== 'hold') return Promise.resolve(answer);
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      this.held.push({ resolve, signal });
      // As fetch() does: an aborted invocation rejects.
      signal?.addEventListener('abort', () => reject(new Error('This operation was aborted')));
    });
  }

  get inFlight(): number {
    return this.held.length;
  }

  /** Answers the `count` oldest held invocations. */
  release(count = 1, outcome: InvokeOutcome = { ok: true, result: null }): void {
    for (const { resolve } of this.held.splice(0, count)) resolve(outcome);
  }
}

class FakeDeadLetters {
  readonly letters: DeadLetterInput[] = [];
  failWith: Error | undefined;
  add(input: DeadLetterInput): Promise<unknown> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.letters.push(input);
    return Promise.resolve(input);
  }
}

const rule = (
  name: string,
  sql: string,
  parts: { actions?: RuleAction[]; errorAction?: RuleAction; functionName?: string } = {},
): TopicRule => ({
  name,
  functionName: parts.functionName ?? `fn-${name}`,
  compiled: compileRule(sql, { sqlVersion: '2016-03-23', services: true }),
  ...parts,
});

const message = (topic: string, payload: unknown, clientId?: string) => ({
  topic,
  payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  ...(clientId ? { clientId } : {}),
});

interface Setup {
  engine: RulesEngine;
  invoker: FakeInvoker;
  letters: FakeDeadLetters;
  errors: unknown[];
  lines: [string, BacklogStatus][];
  sent: { queueName: string; body: string }[];
  published: { topic: string; payload: Buffer; qos: 0 | 1 }[];
  puts: { input: unknown; options: unknown }[];
}

function setup(
  rules: TopicRule[],
  options: Partial<RulesEngineOptions> & { noTargets?: boolean } = {},
): Setup {
  const invoker = new FakeInvoker();
  const letters = new FakeDeadLetters();
  const errors: unknown[] = [];
  const lines: [string, BacklogStatus][] = [];
  const sent: Setup['sent'] = [];
  const published: Setup['published'] = [];
  const puts: Setup['puts'] = [];
  const sqs = {
    send: (queueName: string, body: string) => {
      sent.push({ queueName, body });
      return Promise.resolve({});
    },
  } as unknown as OfflineSqsQueues;
  const dynamodb = {
    send: (command: PutCommand | GetCommand, sendOptions: unknown) => {
      puts.push({ input: command.input, options: sendOptions });
      return Promise.resolve({});
    },
  } as unknown as DynamoDBDocumentClient;
  const { noTargets, ...rest } = options;
  const engine = new RulesEngine({
    rules,
    invoker,
    deadLetters: letters as unknown as DeadLetterStore,
    targets: noTargets
      ? undefined
      : {
          sqs,
          dynamodb,
          republish: (published1) => {
            published.push(published1);
            return Promise.resolve();
          },
        },
    onError: (error) => errors.push(error),
    onBacklog: (line, status) => lines.push([line, status]),
    ...rest,
  });
  return { engine, invoker, letters, errors, lines, sent, published, puts };
}

const sqsAction = (queueName: string, useBase64 = false, deadLetters = false): RuleAction => ({
  kind: 'sqs',
  queueName,
  useBase64,
  deadLetters,
});

describe('describeRules and formatBacklog (the start-up banner, the status line)', () => {
  it('names each rule and its actions, or none', () => {
    expect(describeRules([])).toBe('none');
    const compiled = compileRule("SELECT * FROM 'a/+'");
    expect(
      describeRules([
        rule('One', "SELECT * FROM 'a'"),
        rule('Two', "SELECT * FROM 'a'", {
          actions: [
            sqsAction('q'),
            { kind: 'republish', topic: compiled.template('b/${topic(2)}'), qos: 0 },
            { kind: 'dynamodbv2', tableName: compiled.template('t') },
          ],
        }),
      ]),
    ).toBe('One → fn-One, Two → sqs:q + republish:b/${topic(2)} + dynamodbv2:t');
  });

  it('formats every count of the backlog', () => {
    expect(
      formatBacklog({
        depth: 1,
        capacity: 2,
        inFlight: 3,
        waiting: 4,
        peak: 5,
        accepted: 6,
        delivered: 7,
        deadLettered: 8,
      }),
    ).toBe(
      '1 of 2 queued (peak 5), 3 in flight, 4 publisher(s) held back; 7 delivered, 8 dead-lettered',
    );
  });
});

describe('RulesEngine options', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses maxQueuedActions %p', (maxQueuedActions) => {
    expect(() => setup([], { maxQueuedActions })).toThrow(
      new Error(`maxQueuedActions must be a positive integer, got ${maxQueuedActions}`),
    );
  });

  it('takes 1, defaults to 256, and exposes its rules', () => {
    const rules = [rule('R', "SELECT * FROM 'a'")];
    expect(setup(rules, { maxQueuedActions: 1 }).engine.backlog().capacity).toBe(1);
    const { engine } = setup(rules);
    expect(engine.backlog()).toEqual({
      depth: 0,
      capacity: DEFAULT_MAX_QUEUED_ACTIONS,
      inFlight: 0,
      waiting: 0,
      peak: 0,
      accepted: 0,
      delivered: 0,
      deadLettered: 0,
    });
    expect(DEFAULT_MAX_QUEUED_ACTIONS).toBe(256);
    expect(engine.rules).toBe(rules);
  });
});

describe('matching and the Lambda action', () => {
  it('invokes each matching rule’s function with its output; others see nothing', async () => {
    const { engine, invoker } = setup([
      rule('Hot', "SELECT temp, topic(2) AS id FROM 'd/+/t' WHERE temp > 50"),
      rule('All', "SELECT VALUE temp FROM 'd/+/t'"),
      rule('Other', "SELECT * FROM 'x/#'"),
    ]);
    await engine.accept(message('d/s1/t', { temp: 60 }));
    await engine.accept(message('d/s1/t', { temp: 10 }));
    await engine.drain();
    expect(invoker.calls.map(({ functionName, payload }) => [functionName, payload])).toEqual([
      ['fn-Hot', { temp: 60, id: 's1' }],
      ['fn-All', 60],
      ['fn-All', 10],
    ]);
    for (const { signal } of invoker.calls) expect(signal).toBeInstanceOf(AbortSignal);
    expect(engine.backlog()).toMatchObject({ depth: 0, accepted: 3, delivered: 3, peak: 3 });
  });

  it('a message no rule takes resolves at once and counts nothing', async () => {
    const { engine, invoker } = setup([rule('R', "SELECT * FROM 'a'")]);
    await engine.accept(message('b', {}));
    await engine.drain();
    expect(invoker.calls).toEqual([]);
    expect(engine.backlog().accepted).toBe(0);
  });

  it('a raw payload is dead-lettered at once for Lambda, never invoked ("Working with binary payloads")', async () => {
    const { engine, invoker, letters } = setup([rule('Raw', "SELECT * FROM 'raw'")]);
    await engine.accept(message('raw', 'not json', 'dev-1'));
    await engine.drain();
    expect(invoker.calls).toEqual([]);
    expect(letters.letters).toEqual([
      {
        rule: 'Raw',
        functionName: 'fn-Raw',
        topic: 'raw',
        clientId: 'dev-1',
        payloadBase64: Buffer.from('not json').toString('base64'),
        output: undefined,
        reason: BINARY_PAYLOAD_REASON,
        attempts: 0,
      },
    ]);
    expect(engine.backlog()).toMatchObject({ accepted: 1, delivered: 0, deadLettered: 1 });
  });

  it('a rule whose SQL throws dead-letters its actions with the reason', async () => {
    const failing: CompiledRule = {
      ...compileRule("SELECT * FROM 'a'"),
      evaluate: () => {
        throw new Error('broken');
      },
    };
    const { engine, letters } = setup([{ name: 'F', functionName: 'fn', compiled: failing }]);
    await engine.accept(message('a', {}));
    await engine.drain();
    expect(letters.letters.map(({ reason, attempts }) => [reason, attempts])).toEqual([
      ["the rule's SQL failed: Error: broken", 0],
    ]);
  });
});

describe('retries and the dead-letter store', () => {
  it('retries after 200 ms, then 400 ms, then dead-letters after the third attempt', async () => {
    jest.useFakeTimers();
    const { engine, invoker, letters } = setup([rule('R', "SELECT * FROM 'a'")]);
    invoker.fallback = { ok: false, error: 'Unhandled: boom' };
    await engine.accept(message('a', { n: 1 }));
    await jest.advanceTimersByTimeAsync(0);
    expect(invoker.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(199);
    expect(invoker.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(invoker.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(399);
    expect(invoker.calls).toHaveLength(2);
    expect(letters.letters).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(invoker.calls).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(invoker.calls).toHaveLength(3);
    expect(letters.letters).toEqual([
      {
        rule: 'R',
        functionName: 'fn-R',
        topic: 'a',
        clientId: undefined,
        payloadBase64: Buffer.from('{"n":1}').toString('base64'),
        output: { n: 1 },
        reason: 'Unhandled: boom',
        attempts: 3,
      },
    ]);
    expect(engine.backlog()).toMatchObject({ depth: 0, delivered: 0, deadLettered: 1 });
  });

  it('succeeds on a retry without a dead letter; `attempts` bounds the tries', async () => {
    const twice = setup([rule('R', "SELECT * FROM 'a'")], { attempts: 2 });
    twice.invoker.answers = [{ ok: false, error: 'e1' }];
    await twice.engine.accept(message('a', {}));
    await twice.engine.drain();
    expect(twice.invoker.calls).toHaveLength(2);
    expect(twice.letters.letters).toEqual([]);
    expect(twice.engine.backlog()).toMatchObject({ delivered: 1, deadLettered: 0 });

    const once = setup([rule('R', "SELECT * FROM 'a'")], { attempts: 1 });
    once.invoker.answers = [new Error('socket hang up')];
    await once.engine.accept(message('a', {}));
    await once.engine.drain();
    expect(once.invoker.calls).toHaveLength(1);
    expect(once.letters.letters.map(({ reason, attempts }) => [reason, attempts])).toEqual([
      ['Error: socket hang up', 1],
    ]);
  });

  it('a letter that cannot be written is reported as lost, and the backlog still empties', async () => {
    const { engine, letters, errors } = setup([rule('R', "SELECT * FROM 'raw'")]);
    letters.failWith = new Error('disk full');
    await engine.accept(message('raw', 'x'));
    await engine.drain();
    expect(errors).toEqual([
      new Error(
        'message on raw LOST: it could not be written to the dead-letter store (Error: disk full); ' +
          `it was dead-lettered because: ${BINARY_PAYLOAD_REASON}`,
      ),
    ]);
    expect(engine.backlog()).toMatchObject({ depth: 0, deadLettered: 0 });
  });
});

describe('the error action ("Error action message format")', () => {
  const errorTopic = compileRule("SELECT * FROM 'a'").template('errors/${topic()}');
  const republishErrors: RuleAction = { kind: 'republish', topic: errorTopic, qos: 1 };

  it('receives AWS’s message instead of the dead-letter store', async () => {
    const { engine, invoker, letters, published } = setup(
      [rule('R', "SELECT * FROM 'a'", { errorAction: republishErrors })],
      { attempts: 1 },
    );
    invoker.answers = [{ ok: false, error: 'Unhandled: boom' }];
    await engine.accept(message('a', { n: 1 }, 'dev-9'));
    await engine.drain();
    expect(letters.letters).toEqual([]);
    expect(
      published.map(({ topic, qos, payload }) => [topic, qos, JSON.parse(payload.toString())]),
    ).toEqual([
      [
        'errors/a',
        1,
        {
          ruleName: 'R',
          topic: 'a',
          base64OriginalPayload: Buffer.from('{"n":1}').toString('base64'),
          failures: [
            {
              failedAction: 'LambdaAction',
              failedResource: 'fn-R',
              errorMessage: 'Unhandled: boom',
            },
          ],
          clientId: 'dev-9',
        },
      ],
    ]);
    expect(engine.backlog()).toMatchObject({ depth: 0, deadLettered: 1, delivered: 0 });
  });

  it('leaves clientId out when the message has none', async () => {
    const { engine, published } = setup([
      rule('R', "SELECT * FROM 'raw'", { errorAction: republishErrors }),
    ]);
    await engine.accept(message('raw', 'x'));
    await engine.drain();
    expect(JSON.parse(published[0]!.payload.toString())).toEqual({
      ruleName: 'R',
      topic: 'raw',
      base64OriginalPayload: Buffer.from('x').toString('base64'),
      failures: [
        {
          failedAction: 'LambdaAction',
          failedResource: 'fn-R',
          errorMessage: BINARY_PAYLOAD_REASON,
        },
      ],
    });
  });

  it('an error action that fails too, or throws, sends the letter to the store with both reasons', async () => {
    const failing = setup(
      [rule('R', "SELECT * FROM 'raw'", { errorAction: sqsAction('errors') })],
      { noTargets: true },
    );
    await failing.engine.accept(message('raw', 'x'));
    await failing.engine.drain();
    expect(failing.letters.letters.map(({ reason }) => reason)).toEqual([
      `${BINARY_PAYLOAD_REASON}; the error action sqs:errors failed too: no offline SQS queue store is configured`,
    ]);

    const throwing = setup([rule('R', "SELECT * FROM 'raw'", { errorAction: republishErrors })], {
      targets: { republish: () => Promise.reject(new Error('broker down')) },
    });
    await throwing.engine.accept(message('raw', 'x'));
    await throwing.engine.drain();
    expect(throwing.letters.letters.map(({ reason }) => reason)).toEqual([
      `${BINARY_PAYLOAD_REASON}; the error action republish:errors/\${topic()} failed too: Error: broker down`,
    ]);
    expect(throwing.engine.backlog()).toMatchObject({ depth: 0, deadLettered: 1 });
  });

  it('the dead-letter queue as error action is the store itself', async () => {
    const { engine, letters, sent } = setup([
      rule('R', "SELECT * FROM 'raw'", { errorAction: sqsAction('dlq', false, true) }),
    ]);
    await engine.accept(message('raw', 'x'));
    await engine.drain();
    expect(sent).toEqual([]);
    expect(letters.letters.map(({ reason }) => reason)).toEqual([BINARY_PAYLOAD_REASON]);
  });
});

describe('the SQS, Republish and DynamoDBv2 actions ("AWS IoT rule actions")', () => {
  it('SQS: the JSON output, or base64 of it with useBase64', async () => {
    const { engine, sent } = setup([
      rule('R', "SELECT n FROM 'a'", { actions: [sqsAction('plain'), sqsAction('encoded', true)] }),
    ]);
    await engine.accept(message('a', { n: 'é' }));
    await engine.drain();
    expect(sent).toEqual([
      { queueName: 'plain', body: '{"n":"é"}' },
      { queueName: 'encoded', body: Buffer.from('{"n":"é"}', 'utf8').toString('base64') },
    ]);
  });

  it('SQS: a raw payload only with useBase64, base64 of the bytes', async () => {
    const { engine, sent, letters } = setup([
      rule('R', "SELECT * FROM 'raw'", {
        actions: [sqsAction('encoded', true), sqsAction('plain')],
      }),
    ]);
    await engine.accept(message('raw', 'é raw'));
    await engine.drain();
    expect(sent).toEqual([{ queueName: 'encoded', body: Buffer.from('é raw').toString('base64') }]);
    expect(
      letters.letters.map(({ functionName, reason, attempts }) => [functionName, reason, attempts]),
    ).toEqual([['sqs:plain', `SQS needs UseBase64 for this payload: ${BINARY_PAYLOAD_REASON}`, 0]]);
  });

  it('Republish: the rendered topic, the output as JSON, the QoS; raw bytes when the topic does not read the payload', async () => {
    const compiled = compileRule("SELECT * FROM 'raw/+'");
    const { engine, published, letters } = setup([
      rule('J', "SELECT n FROM 'j/+'", {
        actions: [{ kind: 'republish', topic: compiled.template('out/${topic(2)}'), qos: 0 }],
      }),
      rule('R', "SELECT * FROM 'raw/+'", {
        actions: [
          { kind: 'republish', topic: compiled.template('raw-out/${topic(2)}'), qos: 1 },
          { kind: 'republish', topic: compiled.template('by/${n}'), qos: 1 },
        ],
      }),
    ]);
    await engine.accept(message('j/x', { n: 1, m: 2 }));
    await engine.accept(message('raw/y', 'bytes'));
    await engine.drain();
    expect(published.map(({ topic, payload, qos }) => [topic, payload.toString(), qos])).toEqual([
      ['out/x', '{"n":1}', 0],
      ['raw-out/y', 'bytes', 1],
    ]);
    expect(letters.letters.map(({ reason, attempts }) => [reason, attempts])).toEqual([
      [`the Republish topic by/\${n} reads the payload: ${BINARY_PAYLOAD_REASON}`, 0],
    ]);
  });

  it('DynamoDBv2: a PutItem of the output object into the rendered table, abortable', async () => {
    const compiled = compileRule("SELECT * FROM 'a/+'");
    const { engine, puts } = setup([
      rule('R', "SELECT n FROM 'a/+'", {
        actions: [{ kind: 'dynamodbv2', tableName: compiled.template('table-${topic(2)}') }],
      }),
    ]);
    await engine.accept(message('a/b', { n: 1 }));
    await engine.drain();
    expect(puts).toEqual([
      {
        input: { TableName: 'table-b', Item: { n: 1 } },
        options: { abortSignal: expect.any(AbortSignal) },
      },
    ]);
  });

  it.each([
    ["SELECT VALUE n FROM 'a'", { n: 5 }],
    ["SELECT VALUE n FROM 'a'", { n: null }],
    ["SELECT VALUE n FROM 'a'", { n: [1] }],
    ["SELECT VALUE n FROM 'a'", { n: 'text' }],
  ])('DynamoDBv2 needs an object: %s of %j is dead-lettered', async (sql, payload) => {
    const compiled = compileRule(sql);
    const { engine, puts, letters } = setup(
      [rule('R', sql, { actions: [{ kind: 'dynamodbv2', tableName: compiled.template('t') }] })],
      { attempts: 1 },
    );
    await engine.accept(message('a', payload));
    await engine.drain();
    expect(puts).toEqual([]);
    expect(letters.letters.map(({ reason }) => reason)).toEqual([
      'the DynamoDBv2 action needs a JSON object as the rule output',
    ]);
  });

  it('an action whose target is not configured fails with why, a raw payload to DynamoDB too', async () => {
    const compiled = compileRule("SELECT * FROM 'a'");
    const actions: RuleAction[] = [
      sqsAction('q'),
      { kind: 'republish', topic: compiled.template('t'), qos: 0 },
      { kind: 'dynamodbv2', tableName: compiled.template('t') },
    ];
    const { engine, letters } = setup(
      [
        rule('R', "SELECT * FROM 'a'", { actions }),
        rule('Raw', "SELECT * FROM 'raw'", { actions: actions.slice(2) }),
      ],
      { noTargets: true, attempts: 1 },
    );
    await engine.accept(message('a', {}));
    await engine.drain();
    expect(letters.letters.map(({ functionName, reason }) => [functionName, reason])).toEqual([
      ['sqs:q', 'no offline SQS queue store is configured'],
      ['republish:t', 'no offline broker to republish to'],
      ['dynamodbv2:t', 'no offline DynamoDB client for the DynamoDBv2 action'],
    ]);

    const raw = setup([rule('Raw', "SELECT * FROM 'raw'", { actions: actions.slice(2) })]);
    await raw.engine.accept(message('raw', 'x'));
    await raw.engine.drain();
    expect(raw.puts).toEqual([]);
    expect(raw.letters.letters.map(({ reason, attempts }) => [reason, attempts])).toEqual([
      [BINARY_PAYLOAD_REASON, 0],
    ]);
  });
});

describe('Basic Ingest ("Reducing messaging costs with Basic Ingest")', () => {
  it('$aws/rules/<rule>/<topic> reaches that rule alone, which sees <topic>', async () => {
    const { engine, invoker } = setup([
      rule('Ingest', "SELECT topic() AS t, n FROM 'other'"),
      rule('Listener', "SELECT * FROM 'a/b'"),
    ]);
    await engine.accept(message('$aws/rules/Ingest/a/b', { n: 1 }));
    await engine.drain();
    expect(invoker.calls.map(({ functionName, payload }) => [functionName, payload])).toEqual([
      ['fn-Ingest', { t: 'a/b', n: 1 }],
    ]);
  });

  it('a rule name that does not exist is RuleNotFound: reported, nothing runs', async () => {
    const { engine, invoker, errors } = setup([rule('Ingest', "SELECT * FROM 'a/b'")]);
    await engine.accept(message('$aws/rules/Missing/a/b', {}));
    expect(invoker.calls).toEqual([]);
    expect(errors).toEqual([
      new Error(
        'Basic Ingest: no enabled rule named "Missing" (RuleNotFound); the message on $aws/rules/Missing/a/b went to no rule',
      ),
    ]);
    expect(engine.backlog().accepted).toBe(0);
  });
});

describe('aws_lambda() and get_dynamodb() from a rule (offlineRuleServices)', () => {
  it('a rule calling aws_lambda() invokes it first, then queues its actions', async () => {
    const { engine, invoker } = setup([
      rule('S', "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:enrich', *) AS e FROM 'a'"),
    ]);
    invoker.answers = [{ ok: true, result: { extra: 1 } }];
    await engine.accept(message('a', { n: 1 }));
    await engine.drain();
    expect(invoker.calls.map(({ functionName, payload }) => [functionName, payload])).toEqual([
      ['enrich', { n: 1 }],
      ['fn-S', { e: { extra: 1 } }],
    ]);
  });

  it('aws_lambda(): a 2000 ms deadline, a failure named; get_dynamodb(): the item, or why not', async () => {
    const seen: unknown[] = [];
    const services = offlineRuleServices(
      (functionName, payload, options) => {
        seen.push([functionName, payload, options?.signal instanceof AbortSignal]);
        return Promise.resolve(
          functionName === 'bad' ? { ok: false, error: 'boom' } : { ok: true, result: 7 },
        );
      },
      () => undefined,
    );
    expect(AWS_LAMBDA_FUNCTION_TIMEOUT_MS).toBe(2000);
    await expect(services.invokeLambda('good', { a: 1 })).resolves.toBe(7);
    await expect(services.invokeLambda('bad', 1)).rejects.toThrow(
      new Error('aws_lambda(bad) failed: boom'),
    );
    expect(seen).toEqual([
      ['good', { a: 1 }, true],
      ['bad', 1, true],
    ]);
    await expect(services.getItem('t', { id: 1 })).rejects.toThrow(
      new Error('get_dynamodb(): no offline DynamoDB is configured'),
    );

    const commands: unknown[] = [];
    const client = {
      send: (command: GetCommand) => {
        commands.push(command.input);
        return Promise.resolve({ Item: { id: 1, v: 2 } });
      },
    } as unknown as DynamoDBDocumentClient;
    const withTable = offlineRuleServices(
      () => Promise.resolve({ ok: true, result: null }),
      () => client,
    );
    await expect(withTable.getItem('t', { id: 1 })).resolves.toEqual({ id: 1, v: 2 });
    expect(commands).toEqual([{ TableName: 't', Key: { id: 1 } }]);
  });

  it('aws_lambda() gives up after 2000 ms', async () => {
    // AbortSignal.timeout() runs on Node's own timers, which fake timers do not replace.
    const started = Date.now();
    let abortedAfter = -1;
    const services = offlineRuleServices(
      (_name, _payload, options) =>
        new Promise((resolve) =>
          options?.signal?.addEventListener('abort', () => {
            abortedAfter = Date.now() - started;
            resolve({ ok: false, error: 'invocation aborted' });
          }),
        ),
      () => undefined,
    );
    await expect(services.invokeLambda('slow', 1)).rejects.toThrow(
      new Error('aws_lambda(slow) failed: invocation aborted'),
    );
    expect(abortedAfter).toBeGreaterThanOrEqual(1_990);
    expect(abortedAfter).toBeLessThan(4_000);
  });
});

describe('lanes: invocations in flight per target', () => {
  it('two per function by default, each function its own lane', async () => {
    const { engine, invoker } = setup([
      rule('A', "SELECT * FROM 'a'"),
      rule('B', "SELECT * FROM 'a'"),
    ]);
    invoker.fallback = 'hold';
    for (let i = 0; i < 3; i++) await engine.accept(message('a', { i }));
    await Promise.resolve();
    expect(invoker.calls.map(({ functionName }) => functionName)).toEqual([
      'fn-A',
      'fn-B',
      'fn-A',
      'fn-B',
    ]);
    expect(engine.backlog()).toMatchObject({ depth: 6, inFlight: 4 });
    invoker.release(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(invoker.calls.map(({ functionName }) => functionName).at(-1)).toBe('fn-A');
    expect(engine.backlog()).toMatchObject({ depth: 5, inFlight: 4, delivered: 1 });
    invoker.fallback = { ok: true, result: null };
    invoker.release(4);
    await engine.drain();
    expect(engine.backlog()).toMatchObject({ depth: 0, inFlight: 0, delivered: 6 });
  });

  it('maxConcurrentInvocations: 1 runs them one by one, in order', async () => {
    const { engine, invoker } = setup([rule('A', "SELECT * FROM 'a'")], {
      maxConcurrentInvocations: 1,
    });
    invoker.fallback = 'hold';
    for (let i = 0; i < 3; i++) await engine.accept(message('a', { i }));
    expect(invoker.calls.map(({ payload }) => payload)).toEqual([{ i: 0 }]);
    invoker.release(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(invoker.calls.map(({ payload }) => payload)).toEqual([{ i: 0 }, { i: 1 }]);
    invoker.fallback = { ok: true, result: null };
    invoker.release(1);
    await engine.drain();
    expect(invoker.calls.map(({ payload }) => payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });
});

describe('the bounded backlog', () => {
  it('reports a quarter, half and full once each, holds the publisher, then reports it cleared', async () => {
    const { engine, invoker, lines } = setup([rule('A', "SELECT * FROM 'a'")], {
      maxQueuedActions: 8,
    });
    invoker.fallback = 'hold';
    for (let i = 0; i < 8; i++) await engine.accept(message('a', { i }));
    let ninth = false;
    const held = engine.accept(message('a', { i: 8 })).then(() => (ninth = true));
    await Promise.resolve();
    expect(ninth).toBe(false);
    expect(engine.backlog()).toMatchObject({ depth: 8, waiting: 1, peak: 8 });
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine backlog: 2 of 8 rule actions queued (the functions are slower than the devices publish).',
      'IoT rules engine backlog: 4 of 8 rule actions queued (the functions are slower than the devices publish).',
      'IoT rules engine backlog full: 8 of 8 rule actions queued; devices are held back (QoS 1 PUBACK and HTTPS answers wait for room).',
    ]);
    expect(lines[0]![1]).toMatchObject({ depth: 2, capacity: 8 });

    invoker.release(1);
    await held;
    expect(engine.backlog()).toMatchObject({ depth: 8, waiting: 0, accepted: 9 });

    invoker.fallback = { ok: true, result: null };
    lines.length = 0;
    invoker.release(2);
    await engine.drain();
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine backlog cleared: 1 queued (peak 8 of 8).',
    ]);
    expect(lines[0]![1]).toMatchObject({ depth: 1, peak: 8 });
  });

  it('reports nothing below a quarter; dispatch() reports a refused message through onError', async () => {
    const { engine, invoker, lines, errors } = setup([rule('A', "SELECT * FROM 'a'")], {
      maxQueuedActions: 9,
    });
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    await engine.accept(message('a', {}));
    expect(lines).toEqual([]);
    await engine.accept(message('a', {}));
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine backlog: 3 of 9 rule actions queued (the functions are slower than the devices publish).',
    ]);
    invoker.fallback = { ok: true, result: null };
    invoker.release(2);
    await engine.drain();
    expect(lines).toHaveLength(2);
    await engine.stop();
    engine.dispatch(message('a', {}));
    await Promise.resolve();
    expect(errors).toEqual([new RulesEngineStoppedError()]);
    expect((errors[0] as Error).message).toBe(
      'the offline IoT Core is stopping: the message was not accepted',
    );
  });
});

describe('stop()', () => {
  it('with nothing queued: drained at once, no line; a second stop answers the same', async () => {
    const { engine, lines } = setup([rule('A', "SELECT * FROM 'a'")]);
    const first = engine.stop();
    expect(engine.stop({ drainMs: 1 })).toBe(first);
    expect(await first).toEqual({ drained: true, deadLettered: 0 });
    expect(lines).toEqual([]);
    await expect(engine.accept(message('a', {}))).rejects.toThrow(RulesEngineStoppedError);
    // A message no rule takes is not refused.
    await expect(engine.accept(message('b', {}))).resolves.toBeUndefined();
  });

  it('lets the backlog drain in time: two lines, no dead letter', async () => {
    const { engine, invoker, lines, letters } = setup([rule('A', "SELECT * FROM 'a'")]);
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    await engine.accept(message('a', {}));
    const stopped = engine.stop({ drainMs: 60_000 });
    invoker.release(2);
    expect(await stopped).toEqual({ drained: true, deadLettered: 0 });
    expect(letters.letters).toEqual([]);
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine stopping: delivering the 2 queued rule action(s) for up to 60000 ms; what is left then goes to the dead-letter store.',
      'IoT rules engine stopped: all 2 queued rule action(s) finished.',
    ]);
  });

  it('waits 5 s by default before dead-lettering', async () => {
    jest.useFakeTimers();
    const { engine, invoker, lines } = setup([rule('A', "SELECT * FROM 'a'")]);
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    let report: unknown;
    void engine.stop().then((value) => (report = value));
    await jest.advanceTimersByTimeAsync(4_999);
    expect(report).toBeUndefined();
    expect(lines[0]![0]).toContain('for up to 5000 ms');
    await jest.advanceTimersByTimeAsync(1);
    expect(report).toEqual({ drained: false, deadLettered: 1 });
  });

  it('after drainMs: the queued, the retrying and the in-flight actions go to the store, never the error action', async () => {
    const errorTopic = compileRule("SELECT * FROM 'a'").template('errors');
    const { engine, invoker, lines, letters, published } = setup(
      [
        rule('A', "SELECT * FROM 'a'", {
          errorAction: { kind: 'republish', topic: errorTopic, qos: 0 },
        }),
      ],
      { maxConcurrentInvocations: 2 },
    );
    invoker.answers = [{ ok: false, error: 'first failed' }];
    invoker.fallback = 'hold';
    for (let i = 0; i < 4; i++) await engine.accept(message('a', { i }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    // {i:0} failed once and waits to retry; {i:1} and {i:2} are in flight; {i:3} is queued.
    expect(engine.backlog()).toMatchObject({ depth: 4, inFlight: 2 });
    const report = await engine.stop({ drainMs: 20 });
    expect(report).toEqual({ drained: false, deadLettered: 4 });
    expect(published).toEqual([]);
    expect(
      letters.letters
        .map(({ output, reason, attempts }) => [(output as { i: number }).i, reason, attempts])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([
      [0, `${STOPPED_REASON} after 1 failed attempt(s): first failed`, 1],
      [1, `${STOPPED_REASON} during attempt 1: invocation aborted`, 1],
      [2, `${STOPPED_REASON} during attempt 1: invocation aborted`, 1],
      [3, STOPPED_REASON, 0],
    ]);
    expect(STOPPED_REASON).toBe('offline cloud stopped');
    expect(lines.map(([line]) => line).slice(-2)).toEqual([
      'IoT rules engine stopping: delivering the 4 queued rule action(s) for up to 20 ms; what is left then goes to the dead-letter store.',
      'IoT rules engine stopping with 4 rule action(s) unfinished after 20 ms: writing them to the dead-letter store (reason "offline cloud stopped"); npm run dlq -- redrive delivers them once the stack runs again.',
    ]);
    expect(engine.backlog()).toMatchObject({ depth: 0, deadLettered: 4, delivered: 0 });
  });

  it('refuses the publishers still waiting for room', async () => {
    const { engine, invoker } = setup([rule('A', "SELECT * FROM 'a'")], { maxQueuedActions: 1 });
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    const waiting = engine.accept(message('a', {}));
    const stopped = engine.stop({ drainMs: 60_000 });
    await expect(waiting).rejects.toThrow(RulesEngineStoppedError);
    invoker.release(1);
    expect(await stopped).toEqual({ drained: true, deadLettered: 0 });
    expect(invoker.calls).toHaveLength(1);
  });

  it('an invocation that fails while stopping is dead-lettered at once, not retried', async () => {
    const { engine, invoker, letters } = setup([rule('A', "SELECT * FROM 'a'")]);
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    const stopped = engine.stop({ drainMs: 60_000 });
    invoker.release(1, { ok: false, error: 'late failure' });
    expect(await stopped).toEqual({ drained: true, deadLettered: 0 });
    expect(invoker.calls).toHaveLength(1);
    expect(letters.letters.map(({ reason, attempts }) => [reason, attempts])).toEqual([
      [`${STOPPED_REASON} during attempt 1: late failure`, 1],
    ]);
  });
});

describe('drain()', () => {
  it('resolves at once when nothing is queued', async () => {
    const { engine } = setup([]);
    await expect(engine.drain()).resolves.toBeUndefined();
  });
});

describe('what the mutation run of engine.ts left', () => {
  it('rulesFromFunctions names the rules as the framework does', () => {
    const rules = rulesFromFunctions(
      { ingest: { events: [{ iot: { sql: "SELECT * FROM 'a'" } }] } },
      (key) => `svc-dev-${key}`,
    );
    expect(rules.map(({ name, functionName }) => [name, functionName])).toEqual([
      ['IngestIotTopicRule1', 'svc-dev-ingest'],
    ]);
  });

  it('RulesEngineStoppedError is named', () => {
    expect(new RulesEngineStoppedError().name).toBe('RulesEngineStoppedError');
  });

  it('works without onError and onBacklog: nothing throws on any path that would call them', async () => {
    const invoker = new FakeInvoker();
    const letters = new FakeDeadLetters();
    const engine = new RulesEngine({
      rules: [rule('A', "SELECT * FROM 'a'"), rule('Raw', "SELECT * FROM 'raw'")],
      invoker,
      deadLetters: letters as unknown as DeadLetterStore,
      maxQueuedActions: 1,
    });
    invoker.fallback = 'hold';
    await engine.accept(message('$aws/rules/Missing/a', {}));
    await engine.accept(message('a', {}));
    const waiting = engine.accept(message('a', {}));
    letters.failWith = new Error('disk full');
    const stopped = engine.stop({ drainMs: 10 });
    await expect(waiting).rejects.toThrow(RulesEngineStoppedError);
    engine.dispatch(message('a', {}));
    expect(await stopped).toEqual({ drained: false, deadLettered: 0 });
    expect(engine.backlog().depth).toBe(0);

    const quiet = new FakeInvoker();
    quiet.fallback = 'hold';
    const drained = new RulesEngine({
      rules: [rule('A', "SELECT * FROM 'a'")],
      invoker: quiet,
      deadLetters: new FakeDeadLetters() as unknown as DeadLetterStore,
    });
    await drained.accept(message('a', {}));
    const stopping = drained.stop({ drainMs: 60_000 });
    quiet.release(1);
    expect(await stopping).toEqual({ drained: true, deadLettered: 0 });
  });

  it('a rule calling aws_lambda() and one that does not, for the same message', async () => {
    const { engine, invoker } = setup([
      rule('S', "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:enrich', *) AS e FROM 'a'"),
      rule('P', "SELECT n FROM 'a'"),
    ]);
    invoker.answers = [{ ok: true, result: 1 }];
    await engine.accept(message('a', { n: 2 }));
    await engine.drain();
    expect(invoker.calls.map(({ functionName, payload }) => [functionName, payload])).toEqual([
      ['enrich', { n: 2 }],
      ['fn-S', { e: 1 }],
      ['fn-P', { n: 2 }],
    ]);
  });

  it('admits the waiting publishers one at a time as room frees up', async () => {
    const { engine, invoker } = setup([rule('A', "SELECT * FROM 'a'")], { maxQueuedActions: 1 });
    invoker.fallback = 'hold';
    await engine.accept(message('a', { i: 0 }));
    const second = engine.accept(message('a', { i: 1 }));
    void engine.accept(message('a', { i: 2 }));
    expect(engine.backlog()).toMatchObject({ depth: 1, waiting: 2 });
    invoker.release(1);
    await second;
    expect(engine.backlog()).toMatchObject({ depth: 1, waiting: 1, accepted: 2 });
    invoker.fallback = { ok: true, result: null };
    invoker.release(1);
    await engine.drain();
    expect(engine.backlog()).toMatchObject({ depth: 0, waiting: 0, accepted: 3, delivered: 3 });
  });

  it('drain() can be awaited again after the backlog emptied once', async () => {
    const { engine, invoker } = setup([rule('A', "SELECT * FROM 'a'")]);
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    const first = engine.drain();
    invoker.release(1);
    await first;
    await engine.accept(message('a', {}));
    const second = engine.drain();
    invoker.release(1);
    await second;
    expect(engine.backlog()).toMatchObject({ depth: 0, delivered: 2 });
  });

  it('reports the backlog full as soon as it is, before anyone waits', async () => {
    const { engine, invoker, lines } = setup([rule('A', "SELECT * FROM 'a'")], {
      maxQueuedActions: 2,
    });
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    await engine.accept(message('a', {}));
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine backlog: 1 of 2 rule actions queued (the functions are slower than the devices publish).',
      'IoT rules engine backlog full: 2 of 2 rule actions queued; devices are held back (QoS 1 PUBACK and HTTPS answers wait for room).',
    ]);
    invoker.fallback = { ok: true, result: null };
    invoker.release(2);
    await engine.drain();
  });

  it('a stop says itself what becomes of the backlog: no "cleared" line while it drains', async () => {
    const { engine, invoker, lines } = setup([rule('A', "SELECT * FROM 'a'")], {
      maxQueuedActions: 4,
    });
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    await engine.accept(message('a', {}));
    lines.length = 0;
    const stopped = engine.stop({ drainMs: 60_000 });
    invoker.release(2);
    await stopped;
    expect(lines.map(([line]) => line)).toEqual([
      'IoT rules engine stopping: delivering the 2 queued rule action(s) for up to 60000 ms; what is left then goes to the dead-letter store.',
      'IoT rules engine stopped: all 2 queued rule action(s) finished.',
    ]);
  });

  it('the stop report counts only the letters the stop wrote; a drained stop leaves no timer', async () => {
    const { engine, invoker } = setup([
      rule('A', "SELECT * FROM 'a'"),
      rule('Raw', "SELECT * FROM 'raw'"),
    ]);
    await engine.accept(message('raw', 'x'));
    await engine.drain();
    expect(engine.backlog().deadLettered).toBe(1);
    invoker.fallback = 'hold';
    await engine.accept(message('a', {}));
    expect(await engine.stop({ drainMs: 10 })).toEqual({ drained: false, deadLettered: 1 });

    jest.useFakeTimers();
    const quiet = setup([rule('A', "SELECT * FROM 'a'")]);
    quiet.invoker.fallback = 'hold';
    await quiet.engine.accept(message('a', {}));
    const stopped = quiet.engine.stop({ drainMs: 60_000 });
    quiet.invoker.release(1);
    expect(await stopped).toEqual({ drained: true, deadLettered: 0 });
    expect(jest.getTimerCount()).toBe(0);
  });
});
