/**
 * Values, conversions and operators of AWS IoT SQL, after the AWS IoT developer guide's "Data
 * types" (conversions) and "Operators" pages. Undefined is JavaScript `undefined`: it is not a
 * JSON value and is left out of the output object.
 *
 * Numbers are JavaScript doubles: an Int is a whole number, a Decimal any other. AWS keeps
 * 34-digit decimals; and SQL 2016-03-23 itself treats whole numbers such as 10.0 as Int ("cast()",
 * Cast to decimal), which is also what a double cannot tell apart.
 */
import type { ArithmeticOperator, ComparisonOperator } from './ast';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Value = Json | undefined;

export function isObject(value: Value): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "Data types", To Decimal: the only strings that AWS IoT converts to numbers. */
const DECIMAL_STRING = /^-?\d+(\.\d+)?(e-?\d+)?$/i;

/** The standard conversion to Decimal (Null and everything else that is not a number: Undefined). */
export function toDecimal(value: Value): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && DECIMAL_STRING.test(value)) {
    // A double cannot hold AWS's largest decimals (9.999…E999): beyond it, no number.
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** To Int as the functions' tables use it: a Decimal (or numeric string) rounded down. */
export function toIntFloor(value: Value): number | undefined {
  const n = toDecimal(value);
  return n === undefined ? undefined : Math.floor(n);
}

export function toBoolean(value: Value): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return undefined;
}

/** "Data types", To String: Null and Undefined have no string form. */
export function toSqlString(value: Value): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function typeName(value: Value): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function sameJson(left: Json, right: Json): boolean {
  if (typeName(left) !== typeName(right)) return false;
  if (Array.isArray(left) && Array.isArray(right)) {
    return left.length === right.length && left.every((item, i) => sameJson(item, right[i]!));
  }
  if (isObject(left) && isObject(right)) {
    const keys = Object.keys(left);
    return (
      keys.length === Object.keys(right).length &&
      keys.every((key) => key in right && sameJson(left[key]!, right[key]!))
    );
  }
  return left === right;
}

/**
 * '=' and '<>' compare values of one type (arrays in order, objects by keys and values); values of
 * different types are not equal (no conversion, so 5 <> '5'). Anything against Undefined is
 * Undefined. '<', '<=', '>', '>=' convert both sides to numbers and are Undefined if one cannot be.
 */
export function compare(op: ComparisonOperator, left: Value, right: Value): boolean | undefined {
  if (left === undefined || right === undefined) return undefined;
  if (op === '=') return sameJson(left, right);
  if (op === '<>') return !sameJson(left, right);
  const l = toDecimal(left);
  const r = toDecimal(right);
  if (l === undefined || r === undefined) return undefined;
  switch (op) {
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    case '>=':
      return l >= r;
  }
}

/** AND / OR take booleans or the strings "true"/"false"; any other operand makes them Undefined. */
export function logical(op: 'AND' | 'OR', left: Value, right: Value): boolean | undefined {
  const l = toBoolean(left);
  const r = toBoolean(right);
  if (l === undefined || r === undefined) return undefined;
  return op === 'AND' ? l && r : l || r;
}

export function not(value: Value): boolean | undefined {
  const b = toBoolean(value);
  return b === undefined ? undefined : !b;
}

export function negate(value: Value): number | undefined {
  const n = toDecimal(value);
  return n === undefined ? undefined : finite(-n);
}

/**
 * '+' concatenates as soon as one side is a string (the other converted to a string); otherwise
 * it adds numbers. '-', '*', '/', '%' convert numeric strings to numbers. Int op Int stays an Int
 * (so 7 / 2 is 3), and division or modulo by zero is Undefined.
 */
export function arithmetic(op: ArithmeticOperator, left: Value, right: Value): Value {
  if (left === undefined || right === undefined) return undefined;
  if (op === '+' && (typeof left === 'string' || typeof right === 'string')) {
    const l = toSqlString(left);
    const r = toSqlString(right);
    return l === undefined || r === undefined ? undefined : l + r;
  }
  if (op === '+' && (typeof left !== 'number' || typeof right !== 'number')) return undefined;
  const l = toDecimal(left);
  const r = toDecimal(right);
  if (l === undefined || r === undefined) return undefined;
  const ints =
    typeof left === 'number' &&
    typeof right === 'number' &&
    Number.isInteger(left) &&
    Number.isInteger(right);
  switch (op) {
    case '+':
      return finite(l + r);
    case '-':
      return finite(l - r);
    case '*':
      return finite(l * r);
    case '/':
      if (r === 0) return undefined;
      return finite(ints ? Math.trunc(l / r) : l / r);
    case '%':
      if (r === 0) return undefined;
      return finite(l % r);
  }
}

/** A computed number as AWS would give it: no infinities, no -0, no binary-float noise. */
export function finite(n: number): number | undefined {
  if (!Number.isFinite(n)) return undefined;
  if (n === 0) return 0; // no -0 in JSON
  if (Number.isInteger(n)) return n;
  // AWS computes in decimal: 0.1 + 0.2 is 0.3 there, not 0.30000000000000004.
  return Number(n.toPrecision(15));
}

/** A result of a "Decimal (with double precision)" function: the double as it is, finite. */
export function double(n: number): number | undefined {
  if (!Number.isFinite(n)) return undefined;
  return n === 0 ? 0 : n;
}
