/**
 * What the offline rules engine accepts as AWS IoT SQL and how it refuses the rest: each refusal
 * names the place (the position in the SQL) and the reason, so a rule that would not deploy on AWS
 * stops at start-up instead of running with another meaning. Cases found unguarded by the mutation
 * run (docs/mutation.md). Pages (AWS IoT Core developer guide,
 * https://docs.aws.amazon.com/iot/latest/developerguide/…): iot-sql-reference.html ("AWS IoT SQL
 * reference": comments are not supported), iot-sql-select.html, iot-sql-from.html,
 * iot-sql-where.html, iot-sql-set.html, iot-sql-literals.html, iot-sql-case.html,
 * iot-sql-json.html, iot-sql-nested-queries.html, iot-sql-functions.html (cast()),
 * iot-rule-sql-version.html ("SQL versions").
 */
import { describe, expect, it } from '@jest/globals';

import { compileRule, SqlSyntaxError, UnsupportedSqlError } from '../../local/iot/rules/sql';
import type { SqlVersion } from '../../local/iot/rules/sql';
import type { Json } from '../../local/iot/rules/values';

const PAYLOAD = { a: { b: [1, 2, { c: 3 }] }, s: 'x', n: 5 };

/** The output of a rule for PAYLOAD on topic t. */
function output(sql: string, sqlVersion: SqlVersion = '2016-03-23'): Json {
  const result = compileRule(sql, { sqlVersion }).evaluate({
    topic: 't',
    payload: Buffer.from(JSON.stringify(PAYLOAD)),
  });
  if (result.kind !== 'output') throw new Error(`no output: ${JSON.stringify(result)}`);
  return result.value;
}

const refusal = (sql: string, sqlVersion: SqlVersion = '2016-03-23') => {
  try {
    compileRule(sql, { sqlVersion });
  } catch (error) {
    return { type: (error as Error).constructor.name, message: (error as Error).message };
  }
  throw new Error(`accepted: ${sql}`);
};

const syntax = (message: string) => ({ type: SqlSyntaxError.name, message });
const unsupported = (message: string) => ({ type: UnsupportedSqlError.name, message });

describe('the lexer', () => {
  it.each([
    ["SELECT n -- c FROM 't'", 'at position 9: comments are not supported in AWS IoT SQL'],
    ["SELECT n /* c */ FROM 't'", 'at position 9: comments are not supported in AWS IoT SQL'],
    ["SELECT n FROM 't' WHERE s = 'x", 'at position 28: unterminated string literal'],
    ["SELECT n FROM 't' WHERE s = \"x", 'at position 28: unterminated string literal'],
    ["SELECT @ FROM 't'", 'at position 7: expected a variable name after @'],
    ["SELECT `x FROM 't'", 'at position 7: unterminated ` quote'],
    ["SELECT n ; FROM 't'", 'at position 9: expected "," or FROM, found ";"'],
    ["SET @a = 1 SELECT n @a FROM 't'", 'at position 20: expected "," or FROM, found "@a"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('a back-quoted token has no documented meaning: refused by name', () => {
    expect(refusal("SELECT `x` FROM 't'")).toEqual(
      unsupported('unsupported quoted token `x` at position 7 (use quotes for strings)'),
    );
  });

  it('reads strings in either quote, a doubled quote standing for one', () => {
    expect(
      output(`SELECT 'it''s' AS v, "a""b" AS w, 'say "hi"' AS x, "it's" AS y FROM 't'`),
    ).toEqual({ v: "it's", w: 'a"b', x: 'say "hi"', y: "it's" });
  });

  it('reads two-character operators whole, with or without spaces', () => {
    expect(
      output(
        "SELECT n<=5 AS le, n>=6 AS ge, n<>5 AS ne, n!=4 AS bang, n<5 AS lt, n>4 AS gt, n=5 AS eq FROM 't'",
      ),
    ).toEqual({ le: true, ge: false, ne: false, bang: true, lt: false, gt: true, eq: true });
  });

  it('reads numbers with fractions and exponents, and any whitespace between tokens', () => {
    expect(output("SELECT\t1.5e2 AS v,\n2E-1 AS w,\r\n 12 AS x, 0.25 AS y FROM 't'")).toEqual({
      v: 150,
      w: 0.2,
      x: 12,
      y: 0.25,
    });
  });

  it('reads names with digits and underscores', () => {
    const sql = "SELECT _x AS v, a_1 AS w FROM 't'";
    const result = compileRule(sql).evaluate({
      topic: 't',
      payload: Buffer.from('{"_x":1,"a_1":2}'),
    });
    expect(result).toEqual({ kind: 'output', value: { v: 1, w: 2 } });
  });
});

describe('SET ("SET clause")', () => {
  it('defines variables, a later one using an earlier one', () => {
    expect(output("SET @a = n, @b = @a + 1 SELECT @a AS a, @b AS b FROM 't'")).toEqual({
      a: 5,
      b: 6,
    });
  });

  it('takes names of up to 64 characters', () => {
    const name = 'x'.repeat(64);
    expect(output(`SET @${name} = 2 SELECT @${name} AS v FROM 't'`)).toEqual({ v: 2 });
    expect(refusal(`SET @${name}y = 1 SELECT 1 AS v FROM 't'`)).toEqual(
      syntax('at position 4: variable names are at most 64 characters'),
    );
  });

  it.each([
    [
      "SET @a = 1, @a = 2 SELECT 1 AS v FROM 't'",
      'at position 12: @a is assigned twice (variables are immutable)',
    ],
    ["SET @a = 1 SET @b = 2 SELECT 1 AS v FROM 't'", 'at position 11: SET may appear only once'],
    [
      "SET a = 1 SELECT 1 AS v FROM 't'",
      'at position 4: expected a variable such as @name after SET, found "a"',
    ],
    ["SELECT @a AS v FROM 't'", 'at position 7: @a is not defined by the SET clause before it'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('SELECT ("SELECT clause", "JSON extensions")', () => {
  it('SELECT VALUE gives the value itself', () => {
    expect(output("SELECT VALUE n FROM 't'")).toBe(5);
    expect(output("SELECT VALUE (1) FROM 't'")).toBe(1);
    expect(output("SELECT VALUE -1 FROM 't'")).toBe(-1);
    expect(output("SELECT VALUE [1] FROM 't'")).toEqual([1]);
    expect(output("SELECT VALUE {'a': 1} FROM 't'")).toEqual({ a: 1 });
  });

  it('a field named value is a field when nothing follows it', () => {
    expect(output("SELECT VALUE FROM 't'")).toEqual({});
    expect(output("SELECT VALUE AS v FROM 't'")).toEqual({});
  });

  it('keys items without AS by their last name, or the function name', () => {
    expect(output("SELECT a.b, lower(s), n FROM 't'")).toEqual({
      b: [1, 2, { c: 3 }],
      lower: 'x',
      n: 5,
    });
  });

  it('AS with dots nests the output; a keyword may follow a dot', () => {
    expect(output("SELECT n AS x.y, s AS x.select FROM 't'")).toEqual({ x: { y: 5, select: 'x' } });
  });

  it.each([
    ["SELECT *, * FROM 't'", 'at position 10: * may appear only once in SELECT'],
    [
      "SELECT n AS select FROM 't'",
      'at position 12: expected an alias name after AS, found "select"',
    ],
    ["SELECT n AS 1 FROM 't'", 'at position 12: expected an alias name after AS, found "1"'],
    ['SELECT', 'at position 6: expected an expression, found end of SQL'],
    ["SELECT ) AS v FROM 't'", 'at position 7: expected an expression, found ")"'],
    ["SELECT WHERE AS v FROM 't'", 'at position 7: expected an expression, found "WHERE"'],
    [
      "SELECT 1 + SELECT AS v FROM 't'",
      'at position 11: expected a nested SELECT in parentheses, found "SELECT"',
    ],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it.each([
    ["SELECT 1 + 2 FROM 't'", 'unsupported unaliased expression "1 + 2" (add AS <name>)'],
    ["SELECT 1 + n FROM 't'", 'unsupported unaliased expression "1 + n" (add AS <name>)'],
    ["SELECT 'a' + s FROM 't'", 'unsupported unaliased expression "\'a\' + s" (add AS <name>)'],
    [
      "SELECT UNDEFINED AS v FROM 't'",
      'unsupported literal "UNDEFINED" (use IS [NOT] UNDEFINED or isUndefined())',
    ],
  ])('%s is refused by name: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(unsupported(message));
  });
});

describe('FROM and WHERE ("FROM clause", "WHERE clause")', () => {
  it('FROM is optional for a rule addressed by Basic Ingest only, and it filters nothing', () => {
    const rule = compileRule('SELECT n AS v WHERE n = 5');
    expect(rule.topicFilter).toBeUndefined();
    expect(rule.evaluate({ topic: 't', payload: Buffer.from('{"n":5}') })).toEqual({
      kind: 'skip',
    });
    expect(
      rule.evaluate({ topic: 't', payload: Buffer.from('{"n":5}'), basicIngest: true }),
    ).toEqual({ kind: 'output', value: { v: 5 } });
  });

  it.each([
    [
      'SELECT n FROM "t"',
      'at position 14: expected a single-quoted topic filter such as \'a/+\', found ""t""',
    ],
    [
      'SELECT n FROM t',
      'at position 14: expected a single-quoted topic filter such as \'a/+\', found "t"',
    ],
    [
      'SELECT n AS v FROM',
      "at position 18: expected a single-quoted topic filter such as 'a/+', found end of SQL",
    ],
    [
      "SELECT n FROM 'a/#/b'",
      'at position 14: invalid topic filter: "#" must be a whole level and the last one',
    ],
    ["SELECT n FROM 't' WHERE n = 5 )", 'at position 30: expected end of SQL, found ")"'],
    ["SELECT n FROM 't' )", 'at position 18: expected WHERE or end of SQL, found ")"'],
    [
      "SELECT n AS v FROM 't' WHERE n IS 5",
      'at position 34: expected NULL or UNDEFINED after IS, found "5"',
    ],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it.each([
    ["SELECT n FROM 't' ORDER BY n", 'unsupported clause "ORDER"'],
    ["SELECT n AS v FROM 't' WHERE n == 5", 'unsupported operator "==" (use =)'],
    ["SELECT n AS v FROM 't' WHERE n like 'x'", 'unsupported operator "LIKE"'],
    ["SELECT n AS v FROM 't' WHERE n NOT between 1 AND 2", 'unsupported operator "NOT BETWEEN"'],
  ])('%s is refused by name: %s', (sql, message) => {
    const { type, message: text } = refusal(sql);
    expect(type).toBe(UnsupportedSqlError.name);
    expect(text.startsWith(message)).toBe(true);
  });

  it('IS [NOT] NULL and IS [NOT] UNDEFINED test a value without converting it', () => {
    expect(
      output(
        "SELECT n IS NULL AS a, n IS NOT NULL AS b, zz IS UNDEFINED AS c, n IS NOT UNDEFINED AS d, zz IS NULL AS e FROM 't'",
      ),
    ).toEqual({ a: false, b: true, c: true, d: true, e: false });
  });
});

describe('expressions ("Operators": precedence)', () => {
  it('* / % bind tighter than + -, and both are left-associative', () => {
    expect(
      output(
        "SELECT 2 * 3 + 4 * 5 AS v, 10 - 4 - 3 AS w, 2 + 3 * 4 AS x, 7 % 4 * 2 AS y, 12 / 2 / 3 AS z FROM 't'",
      ),
    ).toEqual({ v: 26, w: 3, x: 14, y: 6, z: 2 });
  });

  it('AND binds tighter than OR; NOT applies to what follows it', () => {
    expect(
      output(
        "SELECT NOT NOT true AS v, true OR false AND false AS w, (true OR false) AND false AS x, NOT false AND false AS y FROM 't'",
      ),
    ).toEqual({ v: true, w: true, x: false, y: false });
  });

  it('unary minus of a field, of a minus, of parentheses; -0 is 0', () => {
    expect(output("SELECT -n AS v, - -n AS w, -(n) AS x, -(2 + 3) AS y FROM 't'")).toEqual({
      v: -5,
      w: 5,
      x: -5,
      y: -5,
    });
    expect(Object.is((output("SELECT -0 AS v FROM 't'") as { v: number }).v, 0)).toBe(true);
  });

  it('steps into objects and arrays: a.b[2].c, a keyword as a key, a whole index only', () => {
    expect(output("SELECT a.b[1] AS v, a.b[2].c AS w, a.b[0.5] AS x FROM 't'")).toEqual({
      v: 2,
      w: 3,
    });
    const keyword = compileRule("SELECT a.from AS v FROM 't'").evaluate({
      topic: 't',
      payload: Buffer.from('{"a":{"from":1}}'),
    });
    expect(keyword).toEqual({ kind: 'output', value: { v: 1 } });
  });

  it.each([
    ["SELECT a.b[1 FROM 't'", 'at position 13: expected "]", found "FROM"'],
    ["SELECT a.1 AS v FROM 't'", 'at position 9: expected a field name after ".", found "1"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('literals ("Literals", 2016-03-23)', () => {
  it('objects (keys quoted or bare) and arrays; Undefined members are left out', () => {
    expect(
      output(
        "SELECT {'a': 1, b: 2} AS o, {} AS e, [] AS l, [1, missing, 2] AS m, {'k': missing} AS u, TRUE AS t, False AS f, null AS z FROM 't'",
      ),
    ).toEqual({ o: { a: 1, b: 2 }, e: {}, l: [], m: [1, 2], u: {}, t: true, f: false, z: null });
  });

  it.each([
    ["SELECT {1: 2} AS v FROM 't'", 'at position 8: expected a key in quotes, found "1"'],
    ["SELECT {'a' 2} AS v FROM 't'", 'at position 12: expected ":", found "2"'],
    ["SELECT {'a': 1 AS v FROM 't'", 'at position 15: expected "}", found "AS"'],
    ["SELECT [1, 2 AS v FROM 't'", 'at position 13: expected "]", found "AS"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('CASE ("Case statements")', () => {
  it('compares the subject with each WHEN, or tests each WHEN as a condition', () => {
    expect(
      output(
        "SELECT CASE n WHEN 4 THEN 'four' WHEN 5 THEN 'five' ELSE 'other' END AS a, CASE WHEN n > 6 THEN 'big' WHEN n > 4 THEN 'mid' END AS b, CASE WHEN 'true' THEN 1 END AS c, CASE n WHEN 6 THEN 1 END AS d, CASE zz WHEN 6 THEN 1 ELSE 2 END AS e, case n when 5 then 'lower' end AS f FROM 't'",
      ),
    ).toEqual({ a: 'five', b: 'mid', c: 1, f: 'lower' });
  });

  it.each([
    [
      "SELECT CASE n END AS v FROM 't'",
      'at position 14: expected WHEN (CASE needs at least one), found "END"',
    ],
    ["SELECT CASE n WHEN 1 'x' END AS v FROM 't'", 'at position 21: expected THEN, found "\'x\'"'],
    ["SELECT CASE n WHEN 1 THEN 2 AS v FROM 't'", 'at position 28: expected END, found "AS"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('nested object queries ("Nested object queries", 2016-03-23)', () => {
  it('selects from each element of an array, WHERE filtering them', () => {
    const result = compileRule(
      "SELECT (SELECT VALUE v FROM list WHERE v > 1) AS big, (SELECT v AS w FROM list) AS all, (SELECT VALUE x FROM one) AS single FROM 't'",
    ).evaluate({
      topic: 't',
      payload: Buffer.from('{"list":[{"v":1},{"v":2},{"v":3}],"one":{"x":7}}'),
    });
    expect(result).toEqual({
      kind: 'output',
      value: { big: [2, 3], all: [{ w: 1 }, { w: 2 }, { w: 3 }], single: 7 },
    });
  });

  it('needs FROM', () => {
    expect(refusal("SELECT (SELECT VALUE v) AS x FROM 't'")).toEqual(
      syntax('at position 22: expected FROM, found ")"'),
    );
  });
});

describe('cast() ("Functions": cast())', () => {
  it('every type keyword of 2016-03-23, in any case', () => {
    expect(
      output(
        "SELECT cast(s AS varchar) AS v, cast('3.7' AS integer) AS w, cast(true AS double) AS x, cast(0 AS bool) AS y, cast('TRUE' AS boolean) AS z, cast(1.5 AS nvarchar) AS a, cast(2 AS text) AS b, cast(3 AS ntext) AS c, cast(4 AS String) AS d, cast(5 AS INT) AS e, cast('2.5' AS decimal) AS f FROM 't'",
      ),
    ).toEqual({
      v: 'x',
      w: 3,
      x: 1,
      y: false,
      z: true,
      a: '1.5',
      b: '2',
      c: '3',
      d: '4',
      e: 5,
      f: 2.5,
    });
  });

  it.each([
    [
      "SELECT cast(n AS Foo) AS v FROM 't'",
      'unsupported cast() type Foo (String, Nvarchar, Text, Ntext, Varchar, Int, Integer, Double, Decimal, Bool, Boolean)',
    ],
    [
      'SELECT cast(n AS',
      'unsupported cast() type end of SQL (String, Nvarchar, Text, Ntext, Varchar, Int, Integer, Double, Decimal, Bool, Boolean)',
    ],
  ])('%s is refused by name', (sql, message) => {
    expect(refusal(sql)).toEqual(unsupported(message));
  });

  it('needs AS and a closing parenthesis', () => {
    expect(refusal("SELECT cast(n) AS v FROM 't'")).toEqual(
      syntax('at position 13: expected AS, found ")"'),
    );
    expect(refusal("SELECT cast(n AS Int AS v FROM 't'")).toEqual(
      syntax('at position 21: expected ")", found "AS"'),
    );
  });
});

describe('functions by name ("Functions")', () => {
  it.each([
    [
      "SELECT nosuchfn(1) AS v FROM 't'",
      'unsupported function "nosuchfn()" (not an AWS IoT SQL function)',
    ],
    // Names of Object.prototype's members are names like any other (the tables have no prototype).
    [
      "SELECT constructor(1) AS v FROM 't'",
      'unsupported function "constructor()" (not an AWS IoT SQL function)',
    ],
    [
      "SELECT __proto__(1) AS v FROM 't'",
      'unsupported function "__proto__()" (not an AWS IoT SQL function)',
    ],
    [
      "SELECT get_secret('a') AS v FROM 't'",
      'unsupported function "get_secret()": it needs AWS Secrets Manager, which the offline rules engine does not emulate; compute the value in the rule action (e.g. the Lambda function) instead',
    ],
    [
      "SELECT md2('a') AS v FROM 't'",
      'unsupported function "md2()": the MD2 hash is not available in this Node.js build (OpenSSL 3 dropped it)',
    ],
    [
      "SELECT aws_lambda('a', *) AS v FROM 't'",
      'unsupported function "aws_lambda()" here: it calls AWS Lambda; the offline cloud runs it against the offline Lambda API only when the rules engine has that service',
    ],
  ])('%s is refused by name', (sql, message) => {
    expect(refusal(sql)).toEqual(unsupported(message));
  });

  it('names are case-insensitive', () => {
    expect(output("SELECT LOWER('A') AS v, Upper(s) AS w FROM 't'")).toEqual({ v: 'a', w: 'X' });
  });

  it('needs a closing parenthesis after the arguments', () => {
    expect(refusal("SELECT lower(s AS v FROM 't'")).toEqual(
      syntax('at position 15: expected ")", found "AS"'),
    );
  });

  it('* is the whole payload in encode(*, …), an operator elsewhere', () => {
    expect(output("SELECT encode(*, 'base64') AS v, concat(2 * 3) AS w FROM 't'")).toEqual({
      v: Buffer.from(JSON.stringify(PAYLOAD)).toString('base64'),
      w: '6',
    });
  });
});

describe('SQL versions ("SQL versions": what 2015-10-08 lacks)', () => {
  it.each([
    [
      "SELECT (SELECT VALUE c FROM a.b) AS v FROM 't'",
      'nested SELECT needs SQL version 2016-03-23; this rule asks for 2015-10-08',
    ],
    [
      "SELECT {'a': 1} AS v FROM 't'",
      'object literal "{...}" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
    ],
    [
      "SELECT [1] AS v FROM 't'",
      'array literal "[...]" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
    ],
    [
      "SELECT cast(n AS Decimal) AS v FROM 't'",
      'cast() to Decimal needs SQL version 2016-03-23; this rule asks for 2015-10-08',
    ],
    [
      "SELECT isNumber(n) AS v FROM 't'",
      'function "isnumber()" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
    ],
  ])('%s is refused in 2015-10-08', (sql, message) => {
    expect(refusal(sql, '2015-10-08')).toEqual(unsupported(message));
  });

  it('2015-10-08 keeps what it has: cast() to Int, isNull()', () => {
    expect(output("SELECT cast(n AS Int) AS v, isNull(n) AS w FROM 't'", '2015-10-08')).toEqual({
      v: 5,
      w: false,
    });
  });
});
