/**
 * The operators and conversions of AWS IoT SQL, one documented row at a time, each found
 * unguarded by the mutation run (docs/mutation.md): a changed comparison, a dropped Undefined or
 * a -0 in the output must fail here. Pages (AWS IoT Core developer guide,
 * https://docs.aws.amazon.com/iot/latest/developerguide/…): iot-sql-operators.html ("Operators"),
 * iot-sql-data-types.html ("Data types", its conversion tables).
 */
import { describe, expect, it } from '@jest/globals';

import { compileRule } from '../../local/iot/rules/sql';
import type { Json } from '../../local/iot/rules/values';

/**
 * The value of one expression for a payload: `SELECT <expr> AS v`. Undefined is left out of the
 * output object ("Data types", Undefined), so a missing `v` is Undefined.
 */
function value(expr: string, payload: Json = {}): Json | undefined {
  const result = compileRule(`SELECT ${expr} AS v FROM 't'`).evaluate({
    topic: 't',
    payload: Buffer.from(JSON.stringify(payload)),
  });
  if (result.kind !== 'output') throw new Error(`no output: ${JSON.stringify(result)}`);
  const output = result.value as { v?: Json };
  return Object.hasOwn(output, 'v') ? output.v : undefined;
}

type Row = [expr: string, expected: Json | undefined, payload?: Json];

// Every row gets its payload: a test function with more parameters than the row would be given
// Jest's done callback instead.
const table = (rows: Row[]) =>
  it.each(rows.map(([expr, expected, payload = {}]) => [expr, expected, payload] as const))(
    '%s is %j',
    (expr, expected, payload) => {
      expect(value(expr, payload)).toEqual(expected);
    },
  );

describe('comparison operators ("Operators": =, <>, <, <=, >, >=)', () => {
  describe('= and <> compare values of one type, arrays element by element, objects key by key', () => {
    table([
      ['[1] = [1, 2]', false],
      ['[1, 2] = [1]', false],
      ['[1, 2] = [1, 3]', false],
      ['[1, 2] = [1, 2]', true],
      ["{'a': 1} = {'a': 1, 'b': 2}", false],
      ["{'a': 1, 'b': 2} = {'a': 1, 'b': 3}", false],
      ["{'a': 1} = {'a': 2}", false],
      ["{'a': 1} = {'b': 1}", false],
      ["{'a': 1, 'b': [true]} = {'b': [true], 'a': 1}", true],
      ["5 = '5'", false],
      ["5 <> '5'", true],
      ['a = b', true, { a: null, b: null }],
      ['a <> b', false, { a: { x: [1] }, b: { x: [1] } }],
    ]);
  });

  describe('a field of null is Undefined, not an error', () => {
    table([['a.b', undefined, { a: null }]]);
  });

  describe('Undefined on either side makes the comparison Undefined', () => {
    table([
      ['1 = missing', undefined],
      ['missing = 1', undefined],
      ['1 <> missing', undefined],
      ['1 < missing', undefined],
    ]);
  });

  describe('<, <=, >, >= need two numbers (numeric strings convert); anything else is Undefined', () => {
    table([
      ['2 < 2', false],
      ['3 < 2', false],
      ['1 < 2', true],
      ['3 <= 2', false],
      ['2 <= 2', true],
      ['2 > 2', false],
      ['3 > 2', true],
      ['1 >= 2', false],
      ['2 >= 2', true],
      ["'1.5' < 2", true],
      ["'a' < 1", undefined],
      ["1 < 'a'", undefined],
      // "Data types", To Decimal: a Boolean is Undefined (only cast() makes it 1 or 0).
      ['true < 2', undefined],
      ['null < 2', undefined],
      // Nor is an array, even of one numeric string: no conversion is tried for arrays.
      ["['5'] < 6", undefined],
      ['[5] >= 5', undefined],
    ]);
  });
});

describe('logical operators ("Operators": AND, OR, NOT)', () => {
  table([
    ['false OR true', true],
    ['false OR false', false],
    ['true AND false', false],
    ["'FALSE' OR false", false],
    ["'false' OR false", false],
    ["'TRUE' AND 'true'", true],
    ["'yes' AND true", undefined],
    ["true OR 'no'", undefined],
    ['1 AND true', undefined],
    ["NOT 'False'", true],
    ['NOT 1', undefined],
  ]);
});

describe('arithmetic operators ("Operators": +, -, *, /, %)', () => {
  describe('+ concatenates as soon as one side is a String', () => {
    table([
      ["1 + 'a'", '1a'],
      ["'a' + 1", 'a1'],
      ["'a' + true", 'atrue'],
      ["'a' + {'k': 1}", 'a{"k":1}'],
      // "Data types", To String: Null has no string form.
      ["'a' + null", undefined],
      ["null + 'a'", undefined],
      ['true + 1', undefined],
    ]);
  });

  describe('numbers as a Decimal gives them: finite, no -0, no binary noise', () => {
    table([
      ['1e308 * 10', undefined],
      ['0.1 + 0.2', 0.3],
      ['9007199254740000 + 1', 9007199254740001],
      ["'7' - 2", 5],
      ['7 / 2', 3],
      ['7.0 / 2', 3],
      ['7.5 / 2.5', 3],
      ['1 / 0', undefined],
      ['5 % 0', undefined],
      ['-7 % 3', -1],
    ]);

    it('unary minus negates a field; a numeric string divides as a Decimal', () => {
      expect(value('-a', { a: 5 })).toBe(-5);
      expect(value('-a', { a: '2.5' })).toBe(-2.5);
      expect(value("'7' / 2")).toBe(3.5);
    });

    it('0 * -1 is 0, not -0 (JSON has no negative zero)', () => {
      expect(Object.is(value('0 * -1'), 0)).toBe(true);
      expect(Object.is(value('-a', { a: 0 }), 0)).toBe(true);
    });
  });
});
