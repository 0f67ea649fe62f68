/**
 * The built-in functions of AWS IoT SQL, each as the "Functions" page of the AWS IoT developer
 * guide documents it (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html):
 * argument conversions, Undefined for arguments of the wrong type or number, and the SQL version
 * each appeared in. Functions that call other AWS services are refused at start-up by name.
 */
import { createHash, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';

import type { SqlVersion } from './ast';
import { lookupTable } from '../lookup';
import { formatTime, parseTime } from './time';
import {
  double,
  finite,
  isObject,
  toBoolean,
  toDecimal,
  toIntFloor,
  toSqlString,
  type Json,
  type Value,
} from './values';

/** What a function may read besides its arguments. */
export interface FunctionContext {
  topic: string;
  clientId: string | undefined;
  principal: string | undefined;
  /** One timestamp per message, so that every timestamp() in a rule agrees. */
  timestamp: number;
  traceId: string | undefined;
  sourceIp: string | undefined;
  accountId: string;
  sqlVersion: SqlVersion;
  /** MQTT 5 user properties of the message, if any. */
  userProperties?: [string, string][];
  /** Other MQTT 5 properties by their documented names (content_type, format_indicator…). */
  mqttProperties?: Record<string, Json>;
}

type Fn = (args: Value[], context: FunctionContext) => Value;

interface Definition {
  since: SqlVersion;
  fn: Fn;
}

/**
 * Functions that call an offline service (sql.ts calls them before evaluating): aws_lambda() the
 * offline Lambda API, get_dynamodb() dynalite. Allowed only where the engine has those services.
 */
export const SERVICE_FUNCTIONS = lookupTable({
  aws_lambda: 'the offline Lambda API',
  get_dynamodb: 'the offline DynamoDB (dynalite)',
});

/** Functions that need another AWS service, and why the offline engine refuses them. */
const NEEDS_AWS_SERVICE = lookupTable({
  aws_lambda: 'AWS Lambda',
  get_dynamodb: 'Amazon DynamoDB',
  get_secret: 'AWS Secrets Manager',
  machinelearning_predict: 'Amazon Machine Learning',
  get_thing_shadow: 'the AWS IoT Device Shadow service',
  get_registry_data: 'the AWS IoT thing registry',
});

/** Documented functions this engine cannot compute, and why. */
const NOT_COMPUTABLE = lookupTable({
  md2: 'the MD2 hash is not available in this Node.js build (OpenSSL 3 dropped it)',
});

/** Why `name` cannot be used in a rule of `version`, or undefined when it can. */
export function functionProblem(
  name: string,
  version: SqlVersion,
  services = false,
): string | undefined {
  if (services && SERVICE_FUNCTIONS[name]) {
    return version === '2015-10-08' && name === 'get_dynamodb'
      ? `function "${name}()" needs SQL version 2016-03-23; this rule asks for 2015-10-08`
      : undefined;
  }
  const service = NEEDS_AWS_SERVICE[name];
  if (service && SERVICE_FUNCTIONS[name]) {
    return (
      `unsupported function "${name}()" here: it calls ${service}; the offline cloud runs it ` +
      `against ${SERVICE_FUNCTIONS[name]} only when the rules engine has that service`
    );
  }
  if (service) {
    return (
      `unsupported function "${name}()": it needs ${service}, which the offline rules engine ` +
      'does not emulate; compute the value in the rule action (e.g. the Lambda function) instead'
    );
  }
  const reason = NOT_COMPUTABLE[name];
  if (reason) return `unsupported function "${name}()": ${reason}`;
  const definition = byName().get(name);
  if (!definition) return `unsupported function "${name}()" (not an AWS IoT SQL function)`;
  if (definition.since === '2016-03-23' && version === '2015-10-08') {
    return `function "${name}()" needs SQL version 2016-03-23; this rule asks for 2015-10-08`;
  }
  return undefined;
}

export function callFunction(name: string, args: Value[], context: FunctionContext): Value {
  const definition = byName().get(name);
  if (!definition) throw new Error(`no such function ${name}`);
  return definition.fn(args, context);
}

const arity =
  (count: number, fn: Fn): Fn =>
  (args, context) =>
    args.length === count ? fn(args, context) : undefined;

/** One numeric argument, converted to Decimal; `compute` gets the number. */
const numeric = (compute: (n: number) => Value): Fn =>
  arity(1, ([value]) => {
    const n = toDecimal(value!);
    return n === undefined || value === null ? undefined : compute(n);
  });

const twoNumbers = (compute: (a: number, b: number, ints: boolean) => Value): Fn =>
  arity(2, ([a, b]) => {
    const x = toDecimal(a!);
    const y = toDecimal(b!);
    if (x === undefined || y === undefined) return undefined;
    const ints =
      typeof a === 'number' && typeof b === 'number' && Number.isInteger(a) && Number.isInteger(b);
    return compute(x, y, ints);
  });

/** One argument converted to a string by the standard conversion (Null, Undefined: Undefined). */
const stringFn = (compute: (s: string) => Value): Fn =>
  arity(1, ([value]) => {
    const s = toSqlString(value);
    return s === undefined ? undefined : compute(s);
  });

const strings = (count: number, compute: (...s: string[]) => Value): Fn =>
  arity(count, (args) => {
    const converted = args.map(toSqlString);
    return converted.some((s) => s === undefined) ? undefined : compute(...(converted as string[]));
  });

const bitwise = (compute: (a: bigint, b: bigint) => bigint): Fn =>
  arity(2, ([a, b]) => {
    const x = toIntFloor(a);
    const y = toIntFloor(b);
    if (x === undefined || y === undefined) return undefined;
    return Number(BigInt.asIntN(64, compute(BigInt(x), BigInt(y))));
  });

const hash = (algorithm: string): Fn =>
  stringFn((s) => createHash(algorithm).update(s, 'utf8').digest('hex'));

/** lpad/rpad: the count is clamped to 0…1000. */
const pad = (side: 'left' | 'right'): Fn =>
  arity(2, ([value, count]) => {
    const s = toSqlString(value);
    const n = toIntFloor(count);
    if (s === undefined || n === undefined) return undefined;
    const spaces = ' '.repeat(Math.min(Math.max(n, 0), 1000));
    return side === 'left' ? spaces + s : s + spaces;
  });

/** A regular expression from a rule (Java syntax; the common subset is JavaScript's too). */
function regex(pattern: Value, flags = ''): RegExp | undefined {
  const source = toSqlString(pattern);
  if (source === undefined) return undefined;
  try {
    return new RegExp(source, flags);
  } catch {
    return undefined;
  }
}

/** "Type tests" (isNumber, isString…): true or false for any value, Undefined included. */
const typeTest = (test: (value: Value) => boolean): Fn => arity(1, ([value]) => test(value));

/** round(): half away from zero ("Round(1.5) = 2", "Round(-1.5) = -2"). */
function roundHalfUp(n: number): number {
  return Math.sign(n) * Math.floor(Math.abs(n) + 0.5);
}

/** trunc(): cut the decimal digits as written (0.29 stays 0.29), never rounding. */
function truncate(n: number, places: number): number {
  const digits = Math.min(Math.max(places, 0), 34);
  const [whole, fraction = ''] = plainDecimal(n).split('.');
  return finite(Number(`${whole}.${fraction.slice(0, digits) || '0'}`)) ?? 0;
}

/** The shortest decimal that reads back as n, without an exponent (1e-7 is 0.0000001). */
function plainDecimal(n: number): string {
  const [mantissa, exponent] = String(n).split('e');
  if (exponent === undefined) return mantissa!;
  const sign = mantissa!.startsWith('-') ? '-' : '';
  const [whole, fraction = ''] = mantissa!.replace('-', '').split('.');
  const digits = `${whole}${fraction}`;
  const point = whole!.length + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function concat(args: Value[]): Value {
  if (args.length === 0) return undefined;
  // "concat(1) = "1"": one argument comes back as it is, made a string unless it is an array.
  if (args.length === 1) return Array.isArray(args[0]) ? args[0] : toSqlString(args[0]);
  if (args.some(Array.isArray)) {
    const out: Json[] = [];
    for (const arg of args) {
      if (arg === undefined) continue;
      if (Array.isArray(arg)) out.push(...arg);
      else out.push(arg);
    }
    return out;
  }
  const parts = args.map(toSqlString);
  return parts.some((part) => part === undefined) ? undefined : parts.join('');
}

function get(args: Value[]): Value {
  if (args.length !== 2) return undefined;
  const [collection, key] = args;
  if (Array.isArray(collection) || typeof collection === 'string') {
    const index = toIntFloor(key);
    if (index === undefined || index < 0 || index >= collection.length) return undefined;
    return Array.isArray(collection) ? collection[index] : collection.charAt(index);
  }
  if (isObject(collection) && typeof key === 'string') {
    return Object.hasOwn(collection, key) ? collection[key] : undefined;
  }
  return undefined;
}

/** substring(String, Int[, Int]): indices clamped to 0…length; start ≥ end gives "". */
function substring(args: Value[]): Value {
  if (args.length !== 2 && args.length !== 3) return undefined;
  const s = toSqlString(args[0]);
  const from = toIntFloor(args[1]);
  const to = args.length === 3 ? toIntFloor(args[2]) : undefined;
  if (s === undefined || from === undefined || (args.length === 3 && to === undefined)) {
    return undefined;
  }
  const clamp = (i: number) => Math.min(Math.max(i, 0), s.length);
  const start = clamp(from);
  const end = to === undefined ? s.length : clamp(to);
  return start >= end ? '' : s.slice(start, end);
}

/** decode(value, 'base64'): JSON when the decoded text is JSON, else the text; Null if it cannot. */
function decode(args: Value[]): Value {
  if (args.length !== 2 || args[1] !== 'base64') return undefined;
  const s = toSqlString(args[0]);
  if (s === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s.replace(/\s/g, ''))) return null;
  const text = Buffer.from(s, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** transform('enrichArray', object, array of objects) */
function transform(args: Value[]): Value {
  if (args.length !== 3 || args[0] !== 'enrichArray') return undefined;
  const [, attributes, items] = args;
  if (!isObject(attributes) || !Array.isArray(items)) return undefined;
  return items.map((item) => (isObject(item) ? { ...item, ...attributes } : item));
}

export const FUNCTIONS: Record<string, Definition> = {
  abs: { since: '2015-10-08', fn: numeric((n) => Math.abs(n)) },
  accountid: { since: '2015-10-08', fn: arity(0, (_, context) => context.accountId) },
  acos: { since: '2015-10-08', fn: numeric((n) => double(Math.acos(n))) },
  asin: { since: '2015-10-08', fn: numeric((n) => double(Math.asin(n))) },
  atan: { since: '2015-10-08', fn: numeric((n) => double(Math.atan(n))) },
  // "atan2(1, 0) = 1.5707963267948966": the angle of the point (x, y) = (first, second).
  atan2: { since: '2015-10-08', fn: twoNumbers((x, y) => double(Math.atan2(x, y))) },
  bitand: { since: '2015-10-08', fn: bitwise((a, b) => a & b) },
  bitor: { since: '2015-10-08', fn: bitwise((a, b) => a | b) },
  bitxor: { since: '2015-10-08', fn: bitwise((a, b) => a ^ b) },
  bitnot: {
    since: '2015-10-08',
    fn: arity(1, ([value]) => {
      const n = toIntFloor(value);
      return n === undefined ? undefined : Number(BigInt.asIntN(64, ~BigInt(n)));
    }),
  },
  ceil: { since: '2015-10-08', fn: numeric((n) => finite(Math.ceil(n))) },
  chr: {
    since: '2015-10-08',
    fn: arity(1, ([value]) => {
      if (typeof value === 'boolean') return undefined;
      const n = toIntFloor(value);
      return n === undefined || n < 0 || n > 127 ? undefined : String.fromCharCode(n);
    }),
  },
  clientid: {
    since: '2015-10-08',
    // "or n/a if the message wasn't sent over MQTT"
    fn: arity(0, (_, context) => context.clientId ?? 'n/a'),
  },
  concat: { since: '2015-10-08', fn: concat },
  cos: { since: '2015-10-08', fn: numeric((n) => double(Math.cos(n))) },
  cosh: { since: '2015-10-08', fn: numeric((n) => double(Math.cosh(n))) },
  crc32: {
    since: '2015-10-08',
    fn: stringFn((s) => crc32(Buffer.from(s, 'utf8')).toString(16).padStart(8, '0')),
  },
  decode: { since: '2016-03-23', fn: decode },
  encode: {
    since: '2016-03-23',
    // encode(*, …) is evaluated by sql.ts, which has the payload's bytes.
    fn: arity(2, ([value, scheme]) => {
      if (scheme !== 'base64') return undefined;
      const s = toSqlString(value);
      return s === undefined ? undefined : Buffer.from(s, 'utf8').toString('base64');
    }),
  },
  endswith: { since: '2015-10-08', fn: strings(2, (a, b) => a.endsWith(b)) },
  exp: { since: '2015-10-08', fn: numeric((n) => double(Math.exp(n))) },
  floor: { since: '2015-10-08', fn: numeric((n) => finite(Math.floor(n))) },
  get: { since: '2015-10-08', fn: get },
  get_mqtt_property: {
    since: '2016-03-23',
    fn: arity(1, ([name], context) =>
      typeof name === 'string' ? context.mqttProperties?.[name] : undefined,
    ),
  },
  get_or_default: {
    since: '2016-03-23',
    fn: arity(2, ([value, fallback]) => (value === undefined ? fallback : value)),
  },
  get_user_properties: {
    since: '2016-03-23',
    fn: arity(1, ([key], context) => {
      const values = (context.userProperties ?? []).filter(([k]) => k === key).map(([, v]) => v);
      return values.length === 0 ? undefined : values;
    }),
  },
  indexof: { since: '2016-03-23', fn: strings(2, (a, b) => a.indexOf(b)) },
  isArray: { since: '2016-03-23', fn: typeTest(Array.isArray) },
  isBoolean: { since: '2016-03-23', fn: typeTest((v) => typeof v === 'boolean') },
  isEmpty: {
    since: '2016-03-23',
    fn: typeTest(
      (v) =>
        v === '' ||
        (Array.isArray(v) && v.length === 0) ||
        (isObject(v) && Object.keys(v).length === 0),
    ),
  },
  isNull: { since: '2015-10-08', fn: typeTest((v) => v === null) },
  isNumber: { since: '2016-03-23', fn: typeTest((v) => typeof v === 'number') },
  isObject: { since: '2016-03-23', fn: typeTest(isObject) },
  isString: { since: '2016-03-23', fn: typeTest((v) => typeof v === 'string') },
  isUndefined: { since: '2016-03-23', fn: typeTest((v) => v === undefined) },
  length: { since: '2016-03-23', fn: stringFn((s) => [...s].length) },
  ln: { since: '2015-10-08', fn: numeric((n) => double(Math.log(n))) },
  log: { since: '2015-10-08', fn: numeric((n) => double(Math.log10(n))) },
  lower: { since: '2015-10-08', fn: stringFn((s) => s.toLowerCase()) },
  lpad: { since: '2015-10-08', fn: pad('left') },
  ltrim: { since: '2015-10-08', fn: stringFn((s) => s.replace(/^[ \t]+/, '')) },
  md5: { since: '2015-10-08', fn: hash('md5') },
  mod: {
    since: '2015-10-08',
    fn: twoNumbers((a, b) => (b === 0 ? undefined : finite(a % b))),
  },
  nanvl: {
    since: '2015-10-08',
    fn: arity(2, ([value, fallback]) =>
      value === undefined || value === null || (typeof value === 'number' && Number.isNaN(value))
        ? fallback
        : value,
    ),
  },
  newuuid: { since: '2015-10-08', fn: arity(0, () => randomUUID()) },
  numbytes: { since: '2016-03-23', fn: stringFn((s) => Buffer.byteLength(s, 'utf8')) },
  parse_time: {
    since: '2016-03-23',
    fn: (args) => {
      if (args.length !== 2 && args.length !== 3) return undefined;
      const pattern = toSqlString(args[0]);
      const millis = toDecimal(args[1]);
      const zone = args.length === 3 ? toSqlString(args[2]) : 'UTC';
      if (pattern === undefined || millis === undefined || zone === undefined) return undefined;
      return formatTime(pattern, Math.trunc(millis), zone);
    },
  },
  power: { since: '2015-10-08', fn: twoNumbers((a, b) => double(a ** b)) },
  principal: { since: '2015-10-08', fn: arity(0, (_, context) => context.principal) },
  rand: { since: '2015-10-08', fn: arity(0, () => Math.random()) },
  regexp_matches: {
    since: '2015-10-08',
    fn: arity(2, ([value, pattern]) => {
      const s = toSqlString(value);
      const re = regex(pattern);
      return s === undefined || !re ? undefined : re.test(s);
    }),
  },
  regexp_replace: {
    since: '2015-10-08',
    fn: arity(3, ([value, pattern, replacement]) => {
      const s = toSqlString(value);
      const re = regex(pattern, 'g');
      const r = toSqlString(replacement);
      return s === undefined || !re || r === undefined ? undefined : s.replace(re, r);
    }),
  },
  regexp_substr: {
    since: '2015-10-08',
    fn: arity(2, ([value, pattern]) => {
      const s = toSqlString(value);
      const re = regex(pattern);
      if (s === undefined || !re) return undefined;
      return re.exec(s)?.[0] ?? '';
    }),
  },
  remainder: {
    since: '2015-10-08',
    fn: twoNumbers((a, b) => (b === 0 ? undefined : finite(a % b))),
  },
  replace: {
    since: '2015-10-08',
    fn: strings(3, (s, search, replacement) => s.split(search).join(replacement)),
  },
  rpad: { since: '2015-10-08', fn: pad('right') },
  // round(Decimal) takes one argument; round(x, 1) is Undefined as any wrong argument count is.
  round: { since: '2015-10-08', fn: numeric((n) => finite(roundHalfUp(n))) },
  rtrim: { since: '2015-10-08', fn: stringFn((s) => s.replace(/[ \t]+$/, '')) },
  sign: { since: '2015-10-08', fn: numeric((n) => Math.sign(n) || 0) },
  sin: { since: '2015-10-08', fn: numeric((n) => double(Math.sin(n))) },
  sinh: { since: '2015-10-08', fn: numeric((n) => double(Math.sinh(n))) },
  sourceip: { since: '2016-03-23', fn: arity(0, (_, context) => context.sourceIp) },
  sql_version: { since: '2015-10-08', fn: arity(0, (_, context) => context.sqlVersion) },
  sqrt: { since: '2015-10-08', fn: numeric((n) => double(Math.sqrt(n))) },
  startswith: { since: '2015-10-08', fn: strings(2, (a, b) => a.startsWith(b)) },
  substring: { since: '2015-10-08', fn: substring },
  tan: { since: '2015-10-08', fn: numeric((n) => double(Math.tan(n))) },
  tanh: { since: '2015-10-08', fn: numeric((n) => double(Math.tanh(n))) },
  time_to_epoch: {
    since: '2016-03-23',
    fn: strings(2, (text, pattern) => parseTime(text, pattern)),
  },
  timestamp: { since: '2015-10-08', fn: arity(0, (_, context) => context.timestamp) },
  topic: {
    since: '2015-10-08',
    fn: (args, context) => {
      if (args.length === 0) return context.topic;
      if (args.length > 1) return undefined;
      const n = toDecimal(args[0]!);
      if (n === undefined || !Number.isInteger(n) || n < 1) return undefined;
      return context.topic.split('/')[n - 1];
    },
  },
  // "the trace ID (UUID) of the MQTT message, or Undefined if the message wasn't sent over MQTT"
  traceid: { since: '2015-10-08', fn: arity(0, (_, context) => context.traceId) },
  transform: { since: '2016-03-23', fn: transform },
  trim: { since: '2015-10-08', fn: stringFn((s) => s.replace(/^[ \t]+|[ \t]+$/g, '')) },
  trunc: {
    since: '2015-10-08',
    fn: twoNumbers((n, places, ints) => (ints ? n : truncate(n, Math.floor(places)))),
  },
  upper: { since: '2015-10-08', fn: stringFn((s) => s.toUpperCase()) },
};

// The hashing functions ("Hashing functions"), all since 2015-10-08.
for (const algorithm of ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']) {
  FUNCTIONS[algorithm] = { since: '2015-10-08', fn: hash(algorithm) };
}

let lowerCaseNames: Map<string, Definition> | undefined;
/** Function names are case-insensitive (isNull, ISNULL and isnull are one function). */
function byName(): Map<string, Definition> {
  lowerCaseNames ??= new Map(
    Object.entries(FUNCTIONS).map(([name, definition]) => [name.toLowerCase(), definition]),
  );
  return lowerCaseNames;
}

/** cast(value AS type): the conversions of "cast()", which add numbers ⇄ Booleans. */
export function cast(value: Value, type: string): Value {
  if (value === undefined || value === null) return undefined;
  switch (type) {
    case 'String':
      return toSqlString(value);
    case 'Int': {
      if (typeof value === 'boolean') return value ? 1 : 0;
      return toIntFloor(value);
    }
    case 'Decimal':
    case 'Double':
      if (typeof value === 'boolean') return value ? 1 : 0;
      return toDecimal(value);
    case 'Boolean':
      if (typeof value === 'number') return value !== 0;
      return toBoolean(value);
    default:
      return undefined;
  }
}
