/**
 * How a compiled rule treats a message as a whole: which payloads it can read ("Working with
 * binary payloads", binary-payloads.html), what SELECT * needs ("SELECT clause"), SELECT VALUE of
 * Undefined ("Data types"), AS paths ("JSON extensions"), nested queries, substitution templates
 * (iot-substitution-templates.html), and the arguments aws_lambda() and get_dynamodb() pass to
 * their services ("Functions": aws_lambda(functionArn, inputJson), get_dynamodb(tableName,
 * partitionKeyName, partitionKeyValue, sortKeyName, sortKeyValue, roleArn), at most 8 KB, at most
 * once per statement). Pages under https://docs.aws.amazon.com/iot/latest/developerguide/. Cases
 * found unguarded by the mutation run (docs/mutation.md). The services here are an in-memory
 * RuleServices that records its calls: what is tested is the engine's side of the call; the
 * offline Lambda API and dynalite behind the real ones are tested in iot-sql-reference.test.ts.
 */
import { describe, expect, it } from '@jest/globals';

import {
  BINARY_PAYLOAD_REASON,
  compileRule,
  DEEP_PAYLOAD_REASON,
  SqlSyntaxError,
  UnsupportedSqlError,
  type RuleMessage,
  type RuleServices,
} from '../../local/iot/rules/sql';
import type { Json, Value } from '../../local/iot/rules/values';

const message = (payload: Buffer | string, topic = 'a/b'): RuleMessage => ({
  topic,
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
});
const BINARY = Buffer.from([0xff, 0x00]);
const binaryError = { kind: 'error', reason: BINARY_PAYLOAD_REASON };
const run = (sql: string, payload: Buffer | string, topic?: string) =>
  compileRule(sql).evaluate(message(payload, topic));

describe('payloads that are not JSON ("Working with binary payloads")', () => {
  it.each([
    'n',
    'n.x',
    'x[0]',
    'lower(s)',
    'cast(n AS Int)',
    '-n',
    'NOT n',
    'n IS NULL',
    'n AND true',
    'n = 1',
    'n + 1',
    'CASE n WHEN 1 THEN 2 END',
    'CASE 1 WHEN n THEN 2 END',
    'CASE 1 WHEN 1 THEN n END',
    'CASE 1 WHEN 2 THEN 1 ELSE n END',
    "{'k': n}",
    '[n]',
    '(SELECT VALUE x FROM n)',
    '[1, 2][n]',
  ])('SELECT %s reads a JSON name: the message goes to the error action', (expr) => {
    expect(run(`SELECT ${expr} AS v FROM 'a/b'`, BINARY)).toEqual(binaryError);
  });

  it.each([
    ['1', 1],
    ['topic()', 'a/b'],
    ['[1, 2][0]', 1],
    ["{'a': 1}.a", 1],
    ["lower('A')", 'a'],
    ['cast(1 AS String)', '1'],
    ['-(1)', -1],
    ['NOT true', false],
    ['1 IS NULL', false],
    ['true AND true', true],
    ['1 = 1', true],
    ['1 + 1', 2],
    ['CASE 1 WHEN 1 THEN 2 ELSE 3 END', 2],
    ['[1]', [1]],
    ["{'k': 1}", { k: 1 }],
    ["encode(*, 'base64')", '/wA='],
  ])('SELECT %s reads no JSON name: it works on any payload', (expr, expected) => {
    expect(run(`SELECT ${expr} AS v FROM 'a/b'`, BINARY)).toEqual({
      kind: 'output',
      value: { v: expected },
    });
  });

  it('a SET variable that reads a field counts as reading it', () => {
    expect(run("SET @x = n SELECT @x AS v FROM 'a/b'", BINARY)).toEqual(binaryError);
    expect(run("SET @x = 1 SELECT @x AS v FROM 'a/b'", BINARY)).toEqual({
      kind: 'output',
      value: { v: 1 },
    });
  });

  it('SELECT * alone passes the bytes; * with anything else, or VALUE of a field, cannot', () => {
    expect(run("SELECT * FROM 'a/b'", BINARY)).toEqual({
      kind: 'binary',
      payload: BINARY,
      reason: BINARY_PAYLOAD_REASON,
    });
    expect(run("SELECT *, 1 AS x FROM 'a/b'", BINARY)).toEqual(binaryError);
    expect(run("SELECT VALUE n FROM 'a/b'", BINARY)).toEqual(binaryError);
    expect(run("SELECT VALUE 1 FROM 'a/b'", BINARY)).toEqual({ kind: 'output', value: 1 });
  });

  it('text that is not JSON is read as binary; JSON nested past the limit too', () => {
    expect(run("SELECT n AS v FROM 'a/b'", '{nope')).toEqual(binaryError);
    const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    expect(run("SELECT n AS v FROM 'a/b'", deep(1001))).toEqual({
      kind: 'error',
      reason: DEEP_PAYLOAD_REASON,
    });
    expect(run("SELECT 1 AS v FROM 'a/b'", deep(1000))).toEqual({
      kind: 'output',
      value: { v: 1 },
    });
  });

  it('an empty payload has no fields, and data can be added to it', () => {
    expect(run("SELECT * FROM 'a/b'", '')).toEqual({ kind: 'output', value: {} });
    expect(run("SELECT n AS v, 1 AS w FROM 'a/b'", '')).toEqual({
      kind: 'output',
      value: { w: 1 },
    });
  });
});

describe('SELECT over a JSON payload', () => {
  it.each([
    ['null', 'null'],
    ['5', 'number'],
    ['"s"', 'string'],
    ['true', 'boolean'],
    ['[1]', 'array'],
  ])('SELECT * needs an object: %s is refused as %s', (payload, type) => {
    expect(run("SELECT * FROM 'a/b'", payload)).toEqual({
      kind: 'error',
      reason: `payload is JSON but not an object (${type}): SELECT * cannot make it the output object`,
    });
  });

  it('SELECT VALUE of Undefined is an empty payload ("Undefined … serialized by itself")', () => {
    expect(run("SELECT VALUE zz FROM 'a/b'", '{}')).toEqual({
      kind: 'binary',
      payload: Buffer.alloc(0),
      reason: 'SELECT VALUE is Undefined for this message: the output is an empty payload',
    });
  });

  it('AS a.x adds to the payload’s object without changing what later items read', () => {
    expect(run("SELECT *, 1 AS a.x, a AS w FROM 'a/b'", '{"a":{"y":2}}')).toEqual({
      kind: 'output',
      value: { a: { y: 2, x: 1 }, w: { y: 2 } },
    });
    expect(run("SELECT *, 1 AS a.x.z FROM 'a/b'", '{"a":3}')).toEqual({
      kind: 'output',
      value: { a: { x: { z: 1 } } },
    });
  });

  it('nested queries: over an array, an object, or nothing', () => {
    expect(
      run(
        "SELECT (SELECT x FROM l WHERE x > 1) AS v, (SELECT VALUE x FROM o WHERE x > 1) AS w, (SELECT VALUE x FROM o WHERE x > 9) AS u, (SELECT VALUE x FROM zz) AS z FROM 'a/b'",
        '{"l":[{"x":1},{"x":2}],"o":{"x":5}}',
      ),
    ).toEqual({ kind: 'output', value: { v: [{ x: 2 }], w: 5 } });
  });

  it('an index steps into arrays only, by a whole number; a key into objects only', () => {
    expect(
      run(
        "SELECT l[1] AS a, l['1'] AS b, o[0] AS c, l.x AS d, s.x AS e, l[-1] AS f, l[0.5] AS g FROM 'a/b'",
        '{"l":[1,2],"o":{"0":1},"s":"str"}',
      ),
    ).toEqual({ kind: 'output', value: { a: 2, b: 2 } });
  });

  it('WHERE must be true: Undefined, a string or another topic skip the message', () => {
    expect(run("SELECT 1 AS v FROM 'a/b' WHERE zz", '{}')).toEqual({ kind: 'skip' });
    expect(run("SELECT 1 AS v FROM 'a/b' WHERE 'true'", '{}')).toEqual({ kind: 'skip' });
    expect(run("SELECT 1 AS v FROM 'a/+' WHERE true", '{}', 'x/b')).toEqual({ kind: 'skip' });
    expect(run("SELECT 1 AS v FROM 'a/+' WHERE true", '{}', 'a/c')).toEqual({
      kind: 'output',
      value: { v: 1 },
    });
  });
});

describe('compileRule', () => {
  it('refuses an unknown SQL version', () => {
    expect(() => compileRule("SELECT * FROM 'a'", { sqlVersion: 'x' as never })).toThrow(
      new SqlSyntaxError('unknown SQL version "x" (use 2015-10-08, 2016-03-23, beta)'),
    );
  });

  it('defaults to 2016-03-23 and the offline account id, or takes them', () => {
    const rule = compileRule("SELECT sql_version() AS v, accountid() AS a FROM 'a/b'");
    expect(rule.sqlVersion).toBe('2016-03-23');
    expect(rule.evaluate(message('{}'))).toEqual({
      kind: 'output',
      value: { v: '2016-03-23', a: '000000000000' },
    });
    const other = compileRule("SELECT accountid() AS a FROM 'a/b'", {
      sqlVersion: 'beta',
      accountId: '123456789012',
    });
    expect(other.evaluate(message('{}'))).toEqual({ kind: 'output', value: { a: '123456789012' } });
  });
});

/** An in-memory RuleServices that records the calls it gets. */
function services(answers: { lambda?: Value; item?: Value; fail?: string } = {}) {
  const calls: [string, ...unknown[]][] = [];
  const impl: RuleServices = {
    invokeLambda: (name, input) => {
      calls.push(['lambda', name, input]);
      return answers.fail
        ? Promise.reject(new Error(answers.fail))
        : Promise.resolve(answers.lambda);
    },
    getItem: (table, key) => {
      calls.push(['getItem', table, key]);
      return Promise.resolve(answers.item);
    },
  };
  return { impl, calls };
}

const withServices = (sql: string) => compileRule(sql, { services: true });

describe('aws_lambda() and get_dynamodb() ("Functions")', () => {
  it('a rule that calls them is evaluated with evaluateWith()', async () => {
    const rule = withServices("SELECT aws_lambda('f', *) AS a FROM 'a/b'");
    expect(rule.usesServices).toBe(true);
    expect(compileRule("SELECT 1 AS a FROM 'a/b'").usesServices).toBe(false);
    expect(rule.evaluate(message('{}'))).toEqual({
      kind: 'error',
      reason: "the rule's SQL failed: this rule calls services: use evaluateWith()",
    });
    const { impl, calls } = services({ lambda: { ok: 1 } });
    await expect(rule.evaluateWith(message('{"n":1}'), impl)).resolves.toEqual({
      kind: 'output',
      value: { a: { ok: 1 } },
    });
    expect(calls).toEqual([['lambda', 'f', { n: 1 }]]);
  });

  it('aws_lambda() takes the function’s name out of its ARN; SET variables are ready before', async () => {
    const { impl, calls } = services({ lambda: 'r' });
    const rule = withServices(
      "SET @in = {'t': topic()} SELECT aws_lambda('arn:aws:lambda:us-east-1:123456789012:function:fn-1', @in) AS a, aws_lambda(1, 2) AS b, aws_lambda('x') AS c FROM 'a/b'",
    );
    await expect(rule.evaluateWith(message('{}'), impl)).resolves.toEqual({
      kind: 'output',
      value: { a: 'r' },
    });
    expect(calls).toEqual([['lambda', 'fn-1', { t: 'a/b' }]]);
  });

  it('a message the rule does not take calls nothing', async () => {
    const { impl, calls } = services();
    const rule = withServices("SELECT aws_lambda('f', *) AS a FROM 'a/b'");
    await expect(rule.evaluateWith(message('{}', 'x/y'), impl)).resolves.toEqual({ kind: 'skip' });
    expect(calls).toEqual([]);
  });

  it('a failing service sends the message to the error action', async () => {
    const { impl } = services({ fail: 'boom' });
    await expect(
      withServices("SELECT aws_lambda('f', *) AS a FROM 'a/b'").evaluateWith(message('{}'), impl),
    ).resolves.toEqual({ kind: 'error', reason: "the rule's SQL failed: boom" });
  });

  it('get_dynamodb() with a partition key, or with a sort key too', async () => {
    const { impl, calls } = services({ item: { x: 1 } });
    const rule = withServices(
      "SELECT get_dynamodb('T', 'pk', topic(2), 'arn:role') AS a FROM 'a/+'",
    );
    await expect(rule.evaluateWith(message('{}', 'a/dev'), impl)).resolves.toEqual({
      kind: 'output',
      value: { a: { x: 1 } },
    });
    const sorted = withServices(
      "SELECT get_dynamodb('T', 'pk', 'p', 'sk', 3, 'arn:role') AS a FROM 'a/+'",
    );
    await sorted.evaluateWith(message('{}', 'a/dev'), impl);
    expect(calls).toEqual([
      ['getItem', 'T', { pk: 'dev' }],
      ['getItem', 'T', { pk: 'p', sk: 3 }],
    ]);
  });

  it.each([
    "get_dynamodb('T', 'pk', 'p')",
    "get_dynamodb('T', 'pk', 'p', 'sk', 'r')",
    "get_dynamodb(1, 'pk', 'p', 'r')",
    "get_dynamodb('T', 2, 'p', 'r')",
    "get_dynamodb('T', 'pk', zz, 'r')",
    "get_dynamodb('T', 'pk', null, 'r')",
    "get_dynamodb('T', 'pk', 'p', 4, 1, 'r')",
    "get_dynamodb('T', 'pk', 'p', 'sk', zz, 'r')",
    "get_dynamodb('T', 'pk', 'p', 'sk', null, 'r')",
  ])('%s is Undefined without a call', async (call) => {
    const { impl, calls } = services({ item: { x: 1 } });
    await expect(
      withServices(`SELECT ${call} AS a, 1 AS b FROM 'a/b'`).evaluateWith(message('{}'), impl),
    ).resolves.toEqual({ kind: 'output', value: { b: 1 } });
    expect(calls).toEqual([]);
  });

  it('get_dynamodb() answering more than 8 KB fails the rule', async () => {
    const rule = withServices("SELECT get_dynamodb('T', 'pk', 'p', 'r') AS a FROM 'a/b'");
    const big = services({ item: { v: 'x'.repeat(8 * 1024) } });
    await expect(rule.evaluateWith(message('{}'), big.impl)).resolves.toEqual({
      kind: 'error',
      reason: "the rule's SQL failed: get_dynamodb() returned more than 8192 bytes",
    });
    const fits = services({ item: { v: 'x'.repeat(8 * 1024 - 8) } });
    expect((await rule.evaluateWith(message('{}'), fits.impl)).kind).toBe('output');
    const none = services({ item: undefined });
    await expect(rule.evaluateWith(message('{}'), none.impl)).resolves.toEqual({
      kind: 'output',
      value: {},
    });
  });

  it('get_dynamodb() at most once per statement; not in 2015-10-08', () => {
    expect(() =>
      withServices(
        "SELECT get_dynamodb('t','k','v','r') AS a, get_dynamodb('t','k','v','r') AS b FROM 'a/b'",
      ),
    ).toThrow(
      new UnsupportedSqlError(
        'get_dynamodb() may be called at most once per SQL statement (AWS terminates such a rule without invoking any action)',
      ),
    );
    expect(() =>
      compileRule("SELECT get_dynamodb('t','k','v','r') AS a FROM 'a/b'", {
        services: true,
        sqlVersion: '2015-10-08',
      }),
    ).toThrow(
      new UnsupportedSqlError(
        'function "get_dynamodb()" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
      ),
    );
    expect(() =>
      compileRule("SELECT aws_lambda('f', *) AS a FROM 'a/b'", {
        services: true,
        sqlVersion: '2015-10-08',
      }),
    ).not.toThrow();
  });
});

describe('substitution templates ("Substitution templates")', () => {
  const rule = compileRule("SET @d = topic(2), @f = n SELECT * FROM 'a/+'");
  const render = (text: string) => {
    const template = rule.template(text);
    return [template.readsPayload, template.render(message('{"n":7}', 'a/dev'))] as [
      boolean,
      string,
    ];
  };

  it.each([
    ['out/${topic(2)}/${@d}', false, 'out/dev/dev'],
    ['x/${n}', true, 'x/7'],
    ['x/${zz}', true, 'x/'],
    ['${@f}', true, '7'],
    ["x/${ {'a': '}'}.a }", false, 'x/}'],
    ['x/${concat("{", n)}', true, 'x/{7'],
    ['x/${ {"k": {"m": 1}}.k.m }', false, 'x/1'],
    ['plain', false, 'plain'],
    ['${1}${2}', false, '12'],
    ['', false, ''],
  ])('%s reads the payload: %s, renders %s', (text, readsPayload, rendered) => {
    expect(render(text)).toEqual([readsPayload, rendered] as [boolean, string]);
    expect(rule.template(text).text).toBe(text);
  });

  it('an unterminated template is refused', () => {
    expect(() => rule.template('x/${topic()')).toThrow(
      new SqlSyntaxError('unterminated substitution template in "x/${topic()"'),
    );
  });
});

describe('outputs are JSON values', () => {
  it('keeps the value kinds', () => {
    const value: Json = { s: 'a', n: 1.5, b: false, z: null, l: [1], o: {} };
    expect(run("SELECT * FROM 'a/b'", JSON.stringify(value))).toEqual({ kind: 'output', value });
  });
});
