/**
 * The AWS IoT SQL parser on its own (local/iot/rules/parser.ts): the exact syntax tree of each
 * form the rules engine evaluates, and the exact refusal of SQL that AWS would not deploy or that
 * the engine does not evaluate. Written for the survivors of the parser's first mutation run
 * (docs/mutation.md, `local/iot/rules/`); iot-rules-syntax.test.ts checks the same forms through
 * their evaluated output.
 *
 * Pages of the AWS IoT Core developer guide (https://docs.aws.amazon.com/iot/latest/developerguide/…):
 * iot-sql-select.html ("SELECT clause": AS, `*`, SELECT VALUE), iot-sql-from.html ("FROM
 * clause": a single-quoted topic filter), iot-sql-where.html ("WHERE clause"), iot-sql-set.html
 * ("SET clause": variables, at most 64 characters, immutable, SET once), iot-sql-operators.html
 * ("Operators": AND, OR, NOT, =, <>, !=, <, <=, >, >=, +, -, *, /, %, and their precedence),
 * iot-sql-literals.html ("Literals": objects and arrays, 2016-03-23), iot-sql-case.html ("Case
 * statements"), iot-sql-json.html ("JSON extensions": `.` and `[]`, AS with dots),
 * iot-sql-nested-queries.html ("Nested object queries"), iot-sql-functions.html ("Functions":
 * cast() and its type keywords), iot-rule-sql-version.html ("SQL versions": what 2015-10-08
 * lacks).
 */
import { describe, expect, it } from '@jest/globals';

import type { Expr, SelectItem, SqlVersion, Statement } from '../../local/iot/rules/ast';
import { SqlSyntaxError, UnsupportedSqlError } from '../../local/iot/rules/errors';
import { parseExpression, parseStatement } from '../../local/iot/rules/parser';

// Syntax tree builders.
const lit = (value: string | number | boolean | null): Expr => ({ kind: 'literal', value });
const field = (name: string): Expr => ({ kind: 'field', name });
const variable = (name: string): Expr => ({ kind: 'variable', name });
const key = (target: Expr, name: string): Expr => ({
  kind: 'member',
  target,
  step: { kind: 'key', name },
});
const index = (target: Expr, at: Expr): Expr => ({
  kind: 'member',
  target,
  step: { kind: 'index', index: at },
});
const call = (name: string, ...args: Expr[]): Expr => ({ kind: 'call', name, args });
const item = (expr: Expr, ...path: string[]): SelectItem => ({ kind: 'expr', expr, path });
const star: SelectItem = { kind: 'star' };

/** The statement's whole tree, every key present (undefined ones too). */
function statement(
  parts: Partial<Statement> & Pick<Statement, 'items'>,
): Record<keyof Statement, unknown> {
  return {
    variables: [],
    value: undefined,
    from: undefined,
    where: undefined,
    topicFilter: 't',
    ...parts,
  };
}

/** The expression of `SELECT <text> AS v FROM 't'`. */
function expr(text: string, version: SqlVersion = '2016-03-23'): Expr {
  const parsed = parseStatement(`SELECT ${text} AS v FROM 't'`, version);
  const [first] = parsed.items;
  if (parsed.items.length !== 1 || first?.kind !== 'expr') throw new Error('not one item');
  expect(first.path).toEqual(['v']);
  return first.expr;
}

/** The error that parsing throws, by class and message. */
function refusal(
  sql: string,
  version: SqlVersion = '2016-03-23',
  services = false,
): { type: string; message: string } {
  try {
    parseStatement(sql, version, services);
  } catch (error) {
    if (!(error instanceof SqlSyntaxError) && !(error instanceof UnsupportedSqlError)) throw error;
    return { type: error.name, message: error.message };
  }
  throw new Error(`accepted: ${sql}`);
}

const syntax = (message: string) => ({ type: 'SqlSyntaxError', message });
const unsupported = (message: string) => ({ type: 'UnsupportedSqlError', message });

describe('the statement ("SELECT clause", "FROM clause", "WHERE clause")', () => {
  it('SELECT * FROM a topic filter: every part of the tree, nothing else', () => {
    expect(parseStatement("SELECT * FROM 'a/+/#'")).toStrictEqual({
      variables: [],
      value: undefined,
      items: [star],
      from: undefined,
      where: undefined,
      topicFilter: 'a/+/#',
    });
  });

  it('WHERE is kept as parsed; FROM may be left out (a rule for Basic Ingest only)', () => {
    expect(parseStatement("SELECT a FROM 't' WHERE a > 1")).toStrictEqual(
      statement({
        items: [item(field('a'), 'a')],
        where: { kind: 'compare', op: '>', left: field('a'), right: lit(1) },
      }),
    );
    expect(parseStatement('SELECT a WHERE true')).toStrictEqual(
      statement({ items: [item(field('a'), 'a')], where: lit(true), topicFilter: undefined }),
    );
    expect(parseStatement('SELECT a')).toStrictEqual(
      statement({ items: [item(field('a'), 'a')], topicFilter: undefined }),
    );
    expect(parseStatement("select a from 't' where a")).toStrictEqual(
      statement({ items: [item(field('a'), 'a')], where: field('a') }),
    );
  });

  it('a clause AWS IoT SQL does not have is refused by name, in capitals', () => {
    expect(refusal("SELECT a FROM 't' WHERE a > 1 group by a")).toEqual(
      unsupported('unsupported clause "GROUP"'),
    );
    expect(refusal("SELECT a FROM 't' limit 1")).toEqual(unsupported('unsupported clause "LIMIT"'));
  });

  it.each([
    ["SELECT a 'x'", 'at position 9: expected "," or FROM, found "\'x\'"'],
    ["SELECT a FROM 't' WHERE a 1", 'at position 26: expected end of SQL, found "1"'],
    ["SELECT a FROM 't' 1", 'at position 18: expected WHERE or end of SQL, found "1"'],
    ["SELECT a FROM 't' WHERE", 'at position 23: expected an expression, found end of SQL'],
    ["a FROM 't'", 'at position 0: expected SELECT, found "a"'],
    ['', 'at position 0: expected SELECT, found end of SQL'],
    ["SELECT a FROM ''", 'at position 14: invalid topic filter: it is empty'],
    ["SELECT a FROM 'a/b+'", 'at position 14: invalid topic filter: "+" must be a whole level'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('SET ("SET clause")', () => {
  it('keeps the variables in order, each with its expression', () => {
    expect(parseStatement("SET @a = 1, @b = @a + 1 SELECT @b AS v FROM 't'")).toStrictEqual(
      statement({
        variables: [
          { name: 'a', expr: lit(1) },
          { name: 'b', expr: { kind: 'arithmetic', op: '+', left: variable('a'), right: lit(1) } },
        ],
        items: [item(variable('b'), 'v')],
      }),
    );
  });

  it('a variable is defined after its own expression, not in it', () => {
    expect(refusal("SET @a = @a SELECT 1 AS v FROM 't'")).toEqual(
      syntax('at position 9: @a is not defined by the SET clause before it'),
    );
  });

  it('a name of 65 characters is refused where it stands, in any place of the list', () => {
    const long = 'y'.repeat(65);
    expect(refusal(`SET @a = 1, @${long} = 2 SELECT 1 AS v FROM 't'`)).toEqual(
      syntax('at position 12: variable names are at most 64 characters'),
    );
  });

  it.each([
    ['SET', 'at position 3: expected a variable such as @name after SET, found end of SQL'],
    [
      "SET @a = 1, SELECT 1 AS v FROM 't'",
      'at position 12: expected a variable such as @name after SET, found "SELECT"',
    ],
    ["SET @a 1 SELECT 1 AS v FROM 't'", 'at position 7: expected "=", found "1"'],
    ["SET @a = 1 @b = 2 SELECT 1 AS v FROM 't'", 'at position 11: expected SELECT, found "@b"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('SET only opens the statement', () => {
    expect(refusal("SET @a = 1 SELECT 1 AS v FROM 't' SET @b = 2")).toEqual(
      unsupported('unsupported clause "SET"'),
    );
  });
});

describe('SELECT VALUE and the field named value ("SELECT clause")', () => {
  it.each<[string, Expr]>([
    ["SELECT VALUE 'x' FROM 't'", lit('x')],
    ["SELECT VALUE 2 FROM 't'", lit(2)],
    ["SELECT value n FROM 't'", field('n')],
    ["SELECT VALUE -1 FROM 't'", lit(-1)],
    ["SELECT VALUE (n) FROM 't'", field('n')],
    ["SELECT VALUE [n] FROM 't'", { kind: 'array', items: [field('n')] }],
    [
      "SELECT VALUE {'k': n} FROM 't'",
      { kind: 'object', entries: [{ key: 'k', value: field('n') }] },
    ],
  ])('%s: the output is the value itself', (sql, value) => {
    expect(parseStatement(sql)).toStrictEqual(statement({ value, items: [] }));
  });

  it('SELECT VALUE of a SET variable', () => {
    expect(parseStatement("SET @a = 1 SELECT VALUE @a FROM 't'")).toStrictEqual(
      statement({ variables: [{ name: 'a', expr: lit(1) }], value: variable('a'), items: [] }),
    );
  });

  it.each([
    ["SELECT VALUE FROM 't'", [item(field('VALUE'), 'VALUE')], 't'],
    ['SELECT value', [item(field('value'), 'value')], undefined],
    ["SELECT VALUE AS v FROM 't'", [item(field('VALUE'), 'v')], 't'],
    ["SELECT VALUE, n FROM 't'", [item(field('VALUE'), 'VALUE'), item(field('n'), 'n')], 't'],
    [
      "SELECT VALUE * 2 AS v FROM 't'",
      [item({ kind: 'arithmetic', op: '*', left: field('VALUE'), right: lit(2) }, 'v')],
      't',
    ],
    [
      "SELECT VALUE = 2 AS v FROM 't'",
      [item({ kind: 'compare', op: '=', left: field('VALUE'), right: lit(2) }, 'v')],
      't',
    ],
    ["SELECT VALUE.x FROM 't'", [item(key(field('VALUE'), 'x'), 'x')], 't'],
  ])('%s: VALUE is a field when no expression follows it', (sql, items, topicFilter) => {
    expect(parseStatement(sql)).toStrictEqual(statement({ items, topicFilter }));
  });

  it('a back-quoted token after VALUE is read as its value, and refused by name', () => {
    expect(refusal("SELECT VALUE `x` FROM 't'")).toEqual(
      unsupported('unsupported quoted token `x` at position 13 (use quotes for strings)'),
    );
  });
});

describe('SELECT items and their keys ("SELECT clause", "JSON extensions")', () => {
  it('keys an item by its field, its last key, or its function; AS names it', () => {
    expect(
      parseStatement("SELECT *, a, a.b.c, Lower(s), get(a, 0).d, n AS m FROM 't'").items,
    ).toStrictEqual([
      star,
      item(field('a'), 'a'),
      item(key(key(field('a'), 'b'), 'c'), 'c'),
      item(call('lower', field('s')), 'lower'),
      item(key(call('get', field('a'), lit(0)), 'd'), 'd'),
      item(field('n'), 'm'),
    ]);
  });

  it('AS with dots nests the output; any word after a dot, keywords too', () => {
    expect(parseStatement("SELECT n AS a.b.c, s AS x.from.value FROM 't'").items).toStrictEqual([
      item(field('n'), 'a', 'b', 'c'),
      item(field('s'), 'x', 'from', 'value'),
    ]);
  });

  it.each([
    ["SELECT a[0] FROM 't'", 'a[0]'],
    ["SELECT (1 + 2) FROM 't'", '(1 + 2)'],
    ["SELECT  1  +  n   FROM 't'", '1  +  n'],
    ["SELECT -n FROM 't'", '-n'],
    ["SELECT 'x' FROM 't'", "'x'"],
    ["SELECT cast(n AS Int) FROM 't'", 'cast(n AS Int)'],
    ["SELECT a = 1 FROM 't'", 'a = 1'],
    ["SELECT n, [1, 2] FROM 't'", '[1, 2]'],
  ])('%s needs AS: the refusal quotes the expression', (sql, text) => {
    expect(refusal(sql)).toEqual(
      unsupported(`unsupported unaliased expression "${text}" (add AS <name>)`),
    );
  });

  it.each([
    ["SELECT n AS 'v' FROM 't'", 'at position 12: expected an alias name after AS, found "\'v\'"'],
    ["SELECT n AS FROM 't'", 'at position 12: expected an alias name after AS, found "FROM"'],
    [
      "SELECT n AS v.'w' FROM 't'",
      'at position 14: expected an alias name after AS, found "\'w\'"',
    ],
    ["SELECT n AS a.1 FROM 't'", 'at position 14: expected an alias name after AS, found "1"'],
    ['SELECT n AS', 'at position 11: expected an alias name after AS, found end of SQL'],
    ["SELECT n, FROM 't'", 'at position 10: expected an expression, found "FROM"'],
    // LIKE after a comma is no "NOT LIKE": only NOT before it makes one.
    ["SELECT n, like FROM 't'", 'at position 10: expected an expression, found "like"'],
    ["SELECT *, n, * FROM 't'", 'at position 13: * may appear only once in SELECT'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('* may come after other items', () => {
    expect(parseStatement("SELECT n, * FROM 't'").items).toStrictEqual([
      item(field('n'), 'n'),
      star,
    ]);
  });
});

describe('operators ("Operators": precedence and associativity)', () => {
  it('OR and AND are left-associative, AND binding tighter', () => {
    expect(expr('a OR b OR c')).toStrictEqual({
      kind: 'logical',
      op: 'OR',
      left: { kind: 'logical', op: 'OR', left: field('a'), right: field('b') },
      right: field('c'),
    });
    expect(expr('a AND b AND c')).toStrictEqual({
      kind: 'logical',
      op: 'AND',
      left: { kind: 'logical', op: 'AND', left: field('a'), right: field('b') },
      right: field('c'),
    });
    expect(expr('a or b and c')).toStrictEqual({
      kind: 'logical',
      op: 'OR',
      left: field('a'),
      right: { kind: 'logical', op: 'AND', left: field('b'), right: field('c') },
    });
    expect(expr('a AND b OR c')).toStrictEqual({
      kind: 'logical',
      op: 'OR',
      left: { kind: 'logical', op: 'AND', left: field('a'), right: field('b') },
      right: field('c'),
    });
  });

  it('NOT applies to a whole comparison, and may repeat', () => {
    expect(expr('NOT a = 1 AND NOT NOT b')).toStrictEqual({
      kind: 'logical',
      op: 'AND',
      left: {
        kind: 'not',
        operand: { kind: 'compare', op: '=', left: field('a'), right: lit(1) },
      },
      right: { kind: 'not', operand: { kind: 'not', operand: field('b') } },
    });
  });

  it.each([
    ['=', '='],
    ['<>', '<>'],
    ['!=', '<>'],
    ['<', '<'],
    ['<=', '<='],
    ['>', '>'],
    ['>=', '>='],
  ])('a %s b compares with %s, the sums on either side evaluated first', (symbol, op) => {
    expect(expr(`a + 1 ${symbol} b * 2`)).toStrictEqual({
      kind: 'compare',
      op,
      left: { kind: 'arithmetic', op: '+', left: field('a'), right: lit(1) },
      right: { kind: 'arithmetic', op: '*', left: field('b'), right: lit(2) },
    });
  });

  it('a comparison does not chain', () => {
    expect(refusal("SELECT a FROM 't' WHERE a = b = c")).toEqual(
      syntax('at position 30: expected end of SQL, found "="'),
    );
  });

  it('+ - and * / % are left-associative, * / % binding tighter', () => {
    const arith = (op: string, left: Expr, right: Expr): Expr =>
      ({ kind: 'arithmetic', op, left, right }) as Expr;
    expect(expr('a - b + c - d')).toStrictEqual(
      arith('-', arith('+', arith('-', field('a'), field('b')), field('c')), field('d')),
    );
    expect(expr('a * b / c % d')).toStrictEqual(
      arith('%', arith('/', arith('*', field('a'), field('b')), field('c')), field('d')),
    );
    expect(expr('a + b * c - d / e')).toStrictEqual(
      arith(
        '-',
        arith('+', field('a'), arith('*', field('b'), field('c'))),
        arith('/', field('d'), field('e')),
      ),
    );
  });

  it('IS [NOT] NULL and IS [NOT] UNDEFINED, in any case', () => {
    expect(expr('a IS NULL')).toStrictEqual({
      kind: 'is',
      operand: field('a'),
      test: 'NULL',
      negated: false,
    });
    expect(expr('a.b is not undefined')).toStrictEqual({
      kind: 'is',
      operand: key(field('a'), 'b'),
      test: 'UNDEFINED',
      negated: true,
    });
    expect(expr('a + 1 IS Not Null')).toStrictEqual({
      kind: 'is',
      operand: { kind: 'arithmetic', op: '+', left: field('a'), right: lit(1) },
      test: 'NULL',
      negated: true,
    });
  });

  it.each([
    [
      "SELECT a FROM 't' WHERE a IS",
      'at position 28: expected NULL or UNDEFINED after IS, found end of SQL',
    ],
    [
      "SELECT a FROM 't' WHERE a IS NOT 'NULL'",
      'at position 33: expected NULL or UNDEFINED after IS, found "\'NULL\'"',
    ],
    [
      "SELECT a FROM 't' WHERE a IS TRUE",
      'at position 29: expected NULL or UNDEFINED after IS, found "TRUE"',
    ],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it.each([
    ["SELECT a FROM 't' WHERE a in (1, 2)", 'unsupported operator "IN" (not part of AWS IoT SQL)'],
    [
      "SELECT a FROM 't' WHERE a LIKE 'x%'",
      'unsupported operator "LIKE" (not part of AWS IoT SQL)',
    ],
    [
      "SELECT a FROM 't' WHERE a BETWEEN 1 AND 2",
      'unsupported operator "BETWEEN" (not part of AWS IoT SQL)',
    ],
    [
      "SELECT a FROM 't' WHERE a not like 'x%'",
      'unsupported operator "NOT LIKE" (not part of AWS IoT SQL)',
    ],
    [
      "SELECT a FROM 't' WHERE a NOT IN (1)",
      'unsupported operator "NOT IN" (not part of AWS IoT SQL)',
    ],
    ["SELECT a FROM 't' WHERE a == 1", 'unsupported operator "==" (use =)'],
    ["SELECT a FROM 't' WHERE a NOT 1", 'unsupported clause "NOT"'],
    // A word is no operator, even one that names a member of every JavaScript object.
    ["SELECT a FROM 't' WHERE a constructor", 'unsupported clause "CONSTRUCTOR"'],
  ])('%s is refused by name: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(unsupported(message));
  });
});

describe('unary minus', () => {
  it('folds a number into a negative literal, 0 staying 0', () => {
    expect(expr('-5')).toStrictEqual(lit(-5));
    expect(expr('- -5')).toStrictEqual(lit(5));
    expect(expr('-(2.5)')).toStrictEqual(lit(-2.5));
    const zero = expr('-0');
    expect(zero).toStrictEqual(lit(0));
    expect(Object.is((zero as { value: number }).value, 0)).toBe(true);
    expect(Object.is((expr('- -0') as { value: number }).value, 0)).toBe(true);
  });

  it('negates anything else, binding tighter than * and the steps tighter still', () => {
    expect(expr("-'5'")).toStrictEqual({ kind: 'negate', operand: lit('5') });
    expect(expr('-true')).toStrictEqual({ kind: 'negate', operand: lit(true) });
    expect(expr('-a.b * 2')).toStrictEqual({
      kind: 'arithmetic',
      op: '*',
      left: { kind: 'negate', operand: key(field('a'), 'b') },
      right: lit(2),
    });
    expect(expr('- -a')).toStrictEqual({
      kind: 'negate',
      operand: { kind: 'negate', operand: field('a') },
    });
    expect(expr('1 - -a')).toStrictEqual({
      kind: 'arithmetic',
      op: '-',
      left: lit(1),
      right: { kind: 'negate', operand: field('a') },
    });
  });
});

describe('steps into values ("JSON extensions")', () => {
  it('.name and [index] after a field, a parenthesis, a call or a literal', () => {
    expect(expr('a.b[0].c')).toStrictEqual(key(index(key(field('a'), 'b'), lit(0)), 'c'));
    expect(expr('(a).b')).toStrictEqual(key(field('a'), 'b'));
    expect(expr('get(a, 1)[2]')).toStrictEqual(index(call('get', field('a'), lit(1)), lit(2)));
    expect(expr('[1, 2][n + 1]')).toStrictEqual(
      index(
        { kind: 'array', items: [lit(1), lit(2)] },
        { kind: 'arithmetic', op: '+', left: field('n'), right: lit(1) },
      ),
    );
    expect(expr('a.select.VALUE')).toStrictEqual(key(key(field('a'), 'select'), 'VALUE'));
  });

  it.each([
    ["SELECT a.* AS v FROM 't'", 'at position 9: expected a field name after ".", found "*"'],
    ["SELECT a.'b' AS v FROM 't'", 'at position 9: expected a field name after ".", found "\'b\'"'],
    ['SELECT a.', 'at position 9: expected a field name after ".", found end of SQL'],
    ['SELECT a[0', 'at position 10: expected "]", found end of SQL'],
    ["SELECT a[] AS v FROM 't'", 'at position 9: expected an expression, found "]"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('primaries', () => {
  it('numbers, strings in either quote, TRUE, FALSE and NULL in any case', () => {
    expect(expr('[1.5, "d", \'s\', TRUE, false, Null, true]')).toStrictEqual({
      kind: 'array',
      items: [lit(1.5), lit('d'), lit('s'), lit(true), lit(false), lit(null), lit(true)],
    });
  });

  it('a word before "(" is a call, even with space between; otherwise a field', () => {
    expect(expr('lower (s)')).toStrictEqual(call('lower', field('s')));
    expect(expr('lower')).toStrictEqual(field('lower'));
    expect(expr('Timestamp()')).toStrictEqual(call('timestamp'));
  });

  it.each([
    ["SELECT ( AS v FROM 't'", 'at position 9: expected an expression, found "AS"'],
    ["SELECT (1 AS v FROM 't'", 'at position 10: expected ")", found "AS"'],
    ['SELECT (1', 'at position 9: expected ")", found end of SQL'],
    ["SELECT } AS v FROM 't'", 'at position 7: expected an expression, found "}"'],
    ["SELECT ; AS v FROM 't'", 'at position 7: expected an expression, found ";"'],
    ["SELECT * * 2 AS v FROM 't'", 'at position 9: expected "," or FROM, found "*"'],
    ["SELECT a FROM 't' WHERE THEN", 'at position 24: expected an expression, found "THEN"'],
    ["SELECT a FROM 't' WHERE a AND OR", 'at position 30: expected an expression, found "OR"'],
    ["SELECT IS AS v FROM 't'", 'at position 7: expected an expression, found "IS"'],
    ["SELECT in AS v FROM 't'", 'at position 7: expected an expression, found "in"'],
    [
      "SELECT a FROM 't' WHERE select",
      'at position 24: expected a nested SELECT in parentheses, found "select"',
    ],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('UNDEFINED is no literal in AWS IoT SQL, in any case', () => {
    expect(refusal("SELECT a FROM 't' WHERE a = undefined")).toEqual(
      unsupported('unsupported literal "UNDEFINED" (use IS [NOT] UNDEFINED or isUndefined())'),
    );
  });
});

describe('object and array literals ("Literals", 2016-03-23)', () => {
  it('keys in either quote or bare, values any expression; empty ones', () => {
    expect(expr('{\'a\': 1, "b": n + 1, c: {}, d: []}')).toStrictEqual({
      kind: 'object',
      entries: [
        { key: 'a', value: lit(1) },
        { key: 'b', value: { kind: 'arithmetic', op: '+', left: field('n'), right: lit(1) } },
        { key: 'c', value: { kind: 'object', entries: [] } },
        { key: 'd', value: { kind: 'array', items: [] } },
      ],
    });
    expect(expr('[[1], a OR b]')).toStrictEqual({
      kind: 'array',
      items: [
        { kind: 'array', items: [lit(1)] },
        { kind: 'logical', op: 'OR', left: field('a'), right: field('b') },
      ],
    });
  });

  it.each([
    ["SELECT {'a': 1,} AS v FROM 't'", 'at position 15: expected a key in quotes, found "}"'],
    ['SELECT {', 'at position 8: expected a key in quotes, found end of SQL'],
    ["SELECT {'a': 1", 'at position 14: expected "}", found end of SQL'],
    ["SELECT {'a' 1} AS v FROM 't'", 'at position 12: expected ":", found "1"'],
    ["SELECT [1,] AS v FROM 't'", 'at position 10: expected an expression, found "]"'],
    ['SELECT [', 'at position 8: expected an expression, found end of SQL'],
    ['SELECT [1', 'at position 9: expected "]", found end of SQL'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('2015-10-08 refuses them before reading them, empty ones too', () => {
    expect(refusal("SELECT {} AS v FROM 't'", '2015-10-08')).toEqual(
      unsupported(
        'object literal "{...}" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
      ),
    );
    expect(refusal("SELECT [ AS v FROM 't'", '2015-10-08')).toEqual(
      unsupported(
        'array literal "[...]" needs SQL version 2016-03-23; this rule asks for 2015-10-08',
      ),
    );
  });

  it('the beta version has everything 2016-03-23 has', () => {
    expect(expr("{'a': [(SELECT VALUE x FROM l)]}", 'beta')).toStrictEqual({
      kind: 'object',
      entries: [
        {
          key: 'a',
          value: {
            kind: 'array',
            items: [
              {
                kind: 'select',
                query: { value: field('x'), items: [], from: field('l'), where: undefined },
              },
            ],
          },
        },
      ],
    });
    expect(expr('cast(n AS Bool)', 'beta')).toStrictEqual({
      kind: 'cast',
      value: field('n'),
      type: 'Boolean',
    });
  });
});

describe('CASE ("Case statements")', () => {
  it('with a subject, several WHEN and an ELSE', () => {
    expect(expr("CASE a + 1 WHEN 1 THEN 'one' WHEN b THEN 'b' ELSE 'other' END")).toStrictEqual({
      kind: 'case',
      subject: { kind: 'arithmetic', op: '+', left: field('a'), right: lit(1) },
      branches: [
        { when: lit(1), then: lit('one') },
        { when: field('b'), then: lit('b') },
      ],
      otherwise: lit('other'),
    });
  });

  it('without a subject (each WHEN a condition) and without ELSE, in any case', () => {
    expect(expr('case when a > 1 then a end')).toStrictEqual({
      kind: 'case',
      subject: undefined,
      branches: [
        { when: { kind: 'compare', op: '>', left: field('a'), right: lit(1) }, then: field('a') },
      ],
      otherwise: undefined,
    });
  });

  it.each([
    ["SELECT CASE WHEN a THEN 1 ELSE 2 AS v FROM 't'", 'at position 33: expected END, found "AS"'],
    [
      "SELECT CASE a ELSE 1 END AS v FROM 't'",
      'at position 14: expected WHEN (CASE needs at least one), found "ELSE"',
    ],
    ['SELECT CASE WHEN a THEN', 'at position 23: expected an expression, found end of SQL'],
    ['SELECT CASE', 'at position 11: expected an expression, found end of SQL'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('nested object queries ("Nested object queries", 2016-03-23)', () => {
  it('SELECT items FROM an expression, WHERE optional', () => {
    expect(expr('(SELECT x, y AS z FROM a.list WHERE x > 1)')).toStrictEqual({
      kind: 'select',
      query: {
        value: undefined,
        items: [item(field('x'), 'x'), item(field('y'), 'z')],
        from: key(field('a'), 'list'),
        where: { kind: 'compare', op: '>', left: field('x'), right: lit(1) },
      },
    });
    expect(expr('(select * from list)')).toStrictEqual({
      kind: 'select',
      query: { value: undefined, items: [star], from: field('list'), where: undefined },
    });
  });

  it.each([
    ["SELECT (SELECT x) AS v FROM 't'", 'at position 16: expected FROM, found ")"'],
    ["SELECT (SELECT x FROM l WHERE x AS v FROM 't'", 'at position 32: expected ")", found "AS"'],
    ["SELECT (SELECT x FROM) AS v FROM 't'", 'at position 21: expected an expression, found ")"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });

  it('2015-10-08 refuses it', () => {
    expect(refusal("SELECT (SELECT x FROM l) AS v FROM 't'", '2015-10-08')).toEqual(
      unsupported('nested SELECT needs SQL version 2016-03-23; this rule asks for 2015-10-08'),
    );
  });
});

describe('function calls ("Functions")', () => {
  it('arguments are expressions; * alone is the whole payload', () => {
    expect(expr("concat(a, 'b' + c, d.e)")).toStrictEqual(
      call(
        'concat',
        field('a'),
        { kind: 'arithmetic', op: '+', left: lit('b'), right: field('c') },
        key(field('d'), 'e'),
      ),
    );
    expect(expr("encode(*, 'base64')")).toStrictEqual(
      call('encode', { kind: 'payload' }, lit('base64')),
    );
    expect(expr('concat(*)')).toStrictEqual(call('concat', { kind: 'payload' }));
    expect(expr('concat(a, *)')).toStrictEqual(call('concat', field('a'), { kind: 'payload' }));
    expect(expr('newuuid()')).toStrictEqual(call('newuuid'));
  });

  it('aws_lambda() only when the engine has the service', () => {
    const sql = "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS v FROM 't'";
    expect(parseStatement(sql, '2016-03-23', true).items).toStrictEqual([
      item(
        call('aws_lambda', lit('arn:aws:lambda:us-east-1:1:function:f'), { kind: 'payload' }),
        'v',
      ),
    ]);
    expect(refusal(sql).type).toBe('UnsupportedSqlError');
    expect(() => parseStatement(sql)).toThrow(UnsupportedSqlError);
  });

  it.each([
    ["SELECT concat(* 2) AS v FROM 't'", 'at position 14: expected an expression, found "*"'],
    ["SELECT concat(1,) AS v FROM 't'", 'at position 16: expected an expression, found ")"'],
    ['SELECT lower(s', 'at position 14: expected ")", found end of SQL'],
    ["SELECT lower(s t) AS v FROM 't'", 'at position 15: expected ")", found "t"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('cast() ("Functions": cast())', () => {
  const TYPES: [string, string][] = [
    ['String', 'String'],
    ['nvarchar', 'String'],
    ['TEXT', 'String'],
    ['Ntext', 'String'],
    ['varchar', 'String'],
    ['Int', 'Int'],
    ['integer', 'Int'],
    ['Double', 'Double'],
    ['Decimal', 'Decimal'],
    ['bool', 'Boolean'],
    ['BOOLEAN', 'Boolean'],
  ];

  it.each(TYPES)('cast(a AS %s) casts to %s', (keyword, type) => {
    expect(expr(`cast(a + 1 AS ${keyword})`)).toStrictEqual({
      kind: 'cast',
      value: { kind: 'arithmetic', op: '+', left: field('a'), right: lit(1) },
      type,
    });
  });

  it.each(TYPES.filter(([, type]) => type === 'String' || type === 'Int' || type === 'Double'))(
    '2015-10-08 has cast(a AS %s) too',
    (keyword, type) => {
      expect(expr(`CAST(a as ${keyword})`, '2015-10-08')).toStrictEqual({
        kind: 'cast',
        value: field('a'),
        type,
      });
    },
  );

  it.each(['Decimal', 'bool', 'Boolean'])('2015-10-08 refuses cast(a AS %s)', (keyword) => {
    expect(refusal(`SELECT cast(a AS ${keyword}) AS v FROM 't'`, '2015-10-08')).toEqual(
      unsupported(
        `cast() to ${keyword} needs SQL version 2016-03-23; this rule asks for 2015-10-08`,
      ),
    );
  });

  it.each(["'Int'", 'constructor', '__proto__', 'toString', 'Float'])(
    'cast(a AS %s) is refused: only the documented keywords are types',
    (keyword) => {
      expect(refusal(`SELECT cast(a AS ${keyword}) AS v FROM 't'`)).toEqual(
        unsupported(
          `unsupported cast() type ${keyword} (String, Nvarchar, Text, Ntext, Varchar, Int, ` +
            'Integer, Double, Decimal, Bool, Boolean)',
        ),
      );
    },
  );

  it.each([
    ["SELECT cast(a Int) AS v FROM 't'", 'at position 14: expected AS, found "Int"'],
    ['SELECT cast(a AS Int', 'at position 20: expected ")", found end of SQL'],
    ["SELECT cast(AS Int) AS v FROM 't'", 'at position 12: expected an expression, found "AS"'],
  ])('%s is refused: %s', (sql, message) => {
    expect(refusal(sql)).toEqual(syntax(message));
  });
});

describe('parseExpression (a substitution template, "Substitution templates")', () => {
  it('one expression, with the rule’s SET variables', () => {
    expect(parseExpression('@a + topic(2)', '2016-03-23', [{ name: 'a' }])).toStrictEqual({
      kind: 'arithmetic',
      op: '+',
      left: variable('a'),
      right: call('topic', lit(2)),
    });
  });

  it('refuses what follows the expression, and variables the rule does not set', () => {
    expect(() => parseExpression('a b', '2016-03-23', [])).toThrow(
      new SqlSyntaxError('at position 2: expected end of the expression, found "b"'),
    );
    expect(() => parseExpression('@b', '2016-03-23', [{ name: 'a' }])).toThrow(
      new SqlSyntaxError('at position 0: @b is not defined by the SET clause before it'),
    );
    expect(() => parseExpression("{'a': 1}", '2015-10-08', [])).toThrow(UnsupportedSqlError);
  });

  it('a template is rendered at once: aws_lambda() there is refused, even for a rule that may call it', () => {
    expect(() => parseExpression("aws_lambda('f', *)", '2016-03-23', [])).toThrow(
      new UnsupportedSqlError(
        'unsupported function "aws_lambda()" here: it calls AWS Lambda; the offline cloud runs it ' +
          'against the offline Lambda API only when the rules engine has that service',
      ),
    );
  });
});
