import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';

import {
  BINARY_PAYLOAD_REASON,
  compileRule,
  DEEP_PAYLOAD_REASON,
  MAX_RULE_JSON_DEPTH,
  SqlSyntaxError,
  topicMatches,
  UnsupportedSqlError,
  type RuleResult,
} from '../../local/iot/rules/sql';
import type { Json } from '../../local/iot/rules/values';

// The rule this project deploys (serverless.yml custom.telemetryRuleSql), and its predecessor.
const TELEMETRY_RULE =
  "SELECT encode(*, 'base64') AS payload, topic() AS topic, topic(2) AS deviceId, timestamp() AS receivedAt, newuuid() AS messageId FROM 'devices/+/telemetry'";
const SELECT_STAR_RULE =
  "SELECT *, topic() AS topic, topic(2) AS deviceId, timestamp() AS receivedAt, newuuid() AS messageId FROM 'devices/+/telemetry'";
const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const AT = 1_700_000_000_000;

interface Case {
  name: string;
  sql: string;
  topic: string;
  /** A Buffer or a string is sent as raw bytes; anything else is sent as its JSON. */
  payload: unknown;
  clientId?: string;
  principal?: string;
  timestamp?: number;
  expected: RuleResult;
}

const output = (value: Record<string, unknown>): RuleResult => ({
  kind: 'output',
  value: value as Json,
});
const skip: RuleResult = { kind: 'skip' };
const binaryError: RuleResult = { kind: 'error', reason: BINARY_PAYLOAD_REASON };
/** "Working with binary payloads": SELECT * alone passes the bytes as they are. */
const raw = (bytes: Buffer): RuleResult => ({
  kind: 'binary',
  payload: bytes,
  reason: BINARY_PAYLOAD_REASON,
});

function toBytes(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/** The telemetry rule's output for a payload: its bytes base64-encoded, and the metadata. */
const telemetryOutput = (bytes: Buffer, deviceId = 'sensor-1') =>
  output({
    payload: bytes.toString('base64'),
    topic: `devices/${deviceId}/telemetry`,
    deviceId,
    receivedAt: AT,
    messageId: expect.stringMatching(UUID),
  });

const cases: Case[] = [
  // The rule this project deploys: every payload reaches the Lambda action ("Working with binary
  // payloads", AWS IoT developer guide: a Lambda action takes binary data base64-encoded).
  ...(
    [
      ['a JSON object', Buffer.from('{"temperature":21.5}')],
      ["the seed's plain text", Buffer.from('Hello, IoT, This is Mayuri')],
      ['bytes that are not UTF-8', Buffer.from([0x00, 0xff, 0x10])],
      ['an empty payload', Buffer.alloc(0)],
      ['a JSON array', Buffer.from('[1,2,3]')],
      ['JSON nested 10 000 levels (never parsed)', Buffer.from(nested(10_000))],
    ] as const
  ).map(([what, bytes]): Case => ({
    name: `telemetry rule: ${what} reaches the action base64-encoded, with the metadata`,
    sql: TELEMETRY_RULE,
    topic: 'devices/sensor-1/telemetry',
    payload: bytes,
    timestamp: AT,
    expected: telemetryOutput(bytes),
  })),
  {
    name: 'telemetry rule: another topic is skipped',
    sql: TELEMETRY_RULE,
    topic: 'devices/sensor-1/commands',
    payload: 'x',
    expected: skip,
  },

  // The earlier telemetry rule: SELECT * merges a JSON object, and nothing else.
  {
    name: 'SELECT * rule: payload merged with topic, device id, time and message id',
    sql: SELECT_STAR_RULE,
    topic: 'devices/sensor-1/telemetry',
    payload: { temperature: 21.5, humidity: 40 },
    timestamp: AT,
    expected: output({
      temperature: 21.5,
      humidity: 40,
      topic: 'devices/sensor-1/telemetry',
      deviceId: 'sensor-1',
      receivedAt: AT,
      messageId: expect.stringMatching(UUID),
    }),
  },
  {
    name: 'SELECT * rule: the added keys win over payload keys of the same name',
    sql: SELECT_STAR_RULE,
    topic: 'devices/sensor-2/telemetry',
    payload: { deviceId: 'spoofed', topic: 'x', value: 1 },
    timestamp: AT,
    expected: output({
      value: 1,
      topic: 'devices/sensor-2/telemetry',
      deviceId: 'sensor-2',
      receivedAt: AT,
      messageId: expect.stringMatching(UUID),
    }),
  },
  {
    name: 'SELECT * rule: + matches exactly one level',
    sql: SELECT_STAR_RULE,
    topic: 'devices/a/b/telemetry',
    payload: { temperature: 1 },
    expected: skip,
  },
  {
    name: 'SELECT * rule: a binary payload cannot reach the Lambda action',
    sql: SELECT_STAR_RULE,
    topic: 'devices/sensor-1/telemetry',
    payload: Buffer.from([0x00, 0xff, 0x10]),
    expected: binaryError,
  },
  {
    name: 'SELECT * rule: a JSON array payload cannot be merged by *',
    sql: SELECT_STAR_RULE,
    topic: 'devices/sensor-1/telemetry',
    payload: [1, 2, 3],
    expected: {
      kind: 'error',
      reason:
        'payload is JSON but not an object (array): SELECT * cannot make it the output object',
    },
  },

  // SELECT
  {
    name: 'SELECT * passes the payload through',
    sql: "SELECT * FROM 'a/b'",
    topic: 'a/b',
    payload: { color: 'red', temperature: 50 },
    expected: output({ color: 'red', temperature: 50 }),
  },
  {
    name: 'a field keeps its name',
    sql: "SELECT color FROM 'a/b'",
    topic: 'a/b',
    payload: { color: 'red', temperature: 50 },
    expected: output({ color: 'red' }),
  },
  {
    name: 'AS renames, several items',
    sql: "SELECT color AS my_color, temperature as fahrenheit FROM 'a/b'",
    topic: 'a/b',
    payload: { color: 'red', temperature: 50 },
    expected: output({ my_color: 'red', fahrenheit: 50 }),
  },
  {
    name: '*, literal AS name adds a key',
    sql: "SELECT *, 15 AS speed FROM 'a/b'",
    topic: 'a/b',
    payload: { color: 'red' },
    expected: output({ color: 'red', speed: 15 }),
  },
  {
    name: '*, missing AS key keeps the payload value (Undefined is not written)',
    sql: "SELECT *, missing AS temperature FROM 'a/b'",
    topic: 'a/b',
    payload: { temperature: 50 },
    expected: output({ temperature: 50 }),
  },
  {
    name: 'nested field with alias',
    sql: "SELECT color.red AS red_value FROM 'a/b'",
    topic: 'a/b',
    payload: { color: { red: 255, green: 0 } },
    expected: output({ red_value: 255 }),
  },
  {
    name: 'unaliased a.b.c is keyed by its last name',
    sql: "SELECT a.b.c FROM 'a/b'",
    topic: 'a/b',
    payload: { a: { b: { c: [1, 2] } } },
    expected: output({ c: [1, 2] }),
  },
  {
    name: 'array index and a field after it',
    sql: "SELECT readings[1] AS second, readings[0].unit FROM 'a/b'",
    topic: 'a/b',
    payload: { readings: [{ unit: 'C' }, 7] },
    expected: output({ second: 7, unit: 'C' }),
  },
  {
    name: 'out-of-range index, index on a non-array and key on a non-object are Undefined',
    sql: "SELECT list[5] AS a, name[0] AS b, name.first AS c, list AS d FROM 'a/b'",
    topic: 'a/b',
    payload: { list: [1], name: 'x' },
    expected: output({ d: [1] }),
  },
  {
    name: 'a missing field is left out; a null field is kept',
    sql: "SELECT foo, bar FROM 'a/b'",
    topic: 'a/b',
    payload: { foo: null },
    expected: output({ foo: null }),
  },
  {
    name: 'field names are case-sensitive; keywords and function names are not',
    sql: "select Temp as t, TOPIC(2) As d, NewUuid() aS id from 'a/+'",
    topic: 'a/room1',
    payload: { Temp: 1, temp: 2 },
    expected: output({ t: 1, d: 'room1', id: expect.stringMatching(UUID) }),
  },
  {
    name: 'a field named value, and keywords as nested keys',
    sql: "SELECT value, state.from AS f FROM 'a/b'",
    topic: 'a/b',
    payload: { value: 3, state: { from: 'x' } },
    expected: output({ value: 3, f: 'x' }),
  },
  {
    name: 'literals: strings with quotes, decimals, negatives, booleans, null',
    sql: "SELECT 'it''s' AS s, 1.5 AS d, -3 AS n, -0.25 AS m, true AS t, FALSE AS f, NULL AS z FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ s: "it's", d: 1.5, n: -3, m: -0.25, t: true, f: false, z: null }),
  },

  // Arithmetic
  {
    name: 'precedence, parentheses and left associativity',
    sql: "SELECT 2 + 3 * 4 AS a, (2 + 3) * 4 AS b, 10 - 4 - 3 AS c, 2 * -3 AS d FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ a: 14, b: 20, c: 3, d: -6 }),
  },
  {
    name: 'the AWS celsius example',
    sql: "SELECT (temperature - 32) * 5 / 9 AS celsius FROM 'a/b'",
    topic: 'a/b',
    payload: { temperature: 50 },
    expected: output({ celsius: 10 }),
  },
  {
    name: 'Int op Int stays an Int (7 / 2 is 3); % is the remainder',
    sql: "SELECT 7 / 2 AS q, -7 / 2 AS nq, 7 % 3 AS r, -7 % 3 AS nr FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ q: 3, nq: -3, r: 1, nr: -1 }),
  },
  {
    name: 'decimal operands divide as decimals, numeric strings convert',
    sql: "SELECT 7.5 / 2 AS a, v / 2 AS b, v * 2 AS c, v - 1 AS d, -v AS e FROM 'a/b'",
    topic: 'a/b',
    payload: { v: '7' },
    expected: output({ a: 3.75, b: 3.5, c: 14, d: 6, e: -7 }),
  },
  {
    name: '+ concatenates when a side is a string',
    sql: "SELECT 'id-' + n AS label, s + 1 AS joined, n + n AS sum FROM 'a/b'",
    topic: 'a/b',
    payload: { n: 7, s: '1' },
    expected: output({ label: 'id-7', joined: '11', sum: 14 }),
  },
  {
    name: 'division and modulo by zero are Undefined',
    sql: "SELECT x / 0 AS a, x % 0 AS b, x / 0.0 AS c, x + 1 AS d FROM 'a/b'",
    topic: 'a/b',
    payload: { x: 4 },
    expected: output({ d: 5 }),
  },
  {
    name: 'arithmetic on non-numbers or Undefined is Undefined',
    sql: "SELECT name * 2 AS a, flag + 1 AS b, missing - 1 AS c, -name AS d, nothing + 'x' AS e FROM 'a/b'",
    topic: 'a/b',
    payload: { name: 'abc', flag: true, nothing: null },
    expected: output({}),
  },
  {
    name: 'decimal results are not binary-float noise',
    sql: "SELECT 0.1 + 0.2 AS s, 1.1 * 3 AS p FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ s: 0.3, p: 3.3 }),
  },

  // Functions
  {
    name: 'topic() and topic(n); out-of-range segments are Undefined; unaliased key is the name',
    sql: "SELECT topic(), topic(1) AS first, topic(3) AS third, topic(4) AS fourth, topic(0) AS zero FROM 'x/#'",
    topic: 'x/y/z',
    payload: {},
    expected: output({ topic: 'x/y/z', first: 'x', third: 'z' }),
  },
  {
    name: 'clientid() and principal() come from the message',
    sql: "SELECT clientid() AS c, principal() AS p, clientid() FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    clientId: 'sensor-1',
    principal: 'ba67293af50bf2506f5f9346',
    expected: output({ c: 'sensor-1', p: 'ba67293af50bf2506f5f9346', clientid: 'sensor-1' }),
  },
  {
    name: 'clientid() is n/a without MQTT client; principal() is then Undefined',
    sql: "SELECT clientid() AS c, principal() AS p FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ c: 'n/a' }),
  },
  {
    name: 'timestamp() is the message time, the same for every call',
    sql: "SELECT timestamp() AS a, timestamp() + 1 AS b, timestamp() FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    timestamp: AT,
    expected: output({ a: AT, b: AT + 1, timestamp: AT }),
  },
  {
    name: 'a function given arguments it does not take is Undefined',
    sql: "SELECT timestamp(1) AS a, topic(1, 2) AS b, topic('x') AS c, topic('2') AS d FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    timestamp: AT,
    expected: output({ d: 'b' }),
  },
  {
    name: "encode(*, 'base64') of a binary payload",
    sql: "SELECT encode(*, 'base64') AS data FROM 'a/b'",
    topic: 'a/b',
    payload: Buffer.from([0xff, 0x00, 0x10]),
    expected: output({ data: '/wAQ' }),
  },
  {
    name: "encode(*, 'base64') with functions on a binary payload",
    sql: "SELECT encode(*, 'base64') AS data, timestamp() AS ts, topic(2) AS id FROM 'a/+'",
    topic: 'a/dev',
    payload: Buffer.from('hello', 'latin1'),
    timestamp: AT,
    expected: output({ data: 'aGVsbG8=', ts: AT, id: 'dev' }),
  },
  {
    name: "encode(*, 'base64') of a JSON payload encodes its bytes",
    sql: "SELECT encode(*, 'base64'), n FROM 'a/b'",
    topic: 'a/b',
    payload: '{"n":1}',
    expected: output({ encode: Buffer.from('{"n":1}').toString('base64'), n: 1 }),
  },

  // Binary and non-object payloads
  {
    name: 'binary payload with SELECT * alone passes its bytes ("Working with binary payloads")',
    sql: "SELECT * FROM 'a/b'",
    topic: 'a/b',
    payload: Buffer.from([0xc3, 0x28]),
    expected: raw(Buffer.from([0xc3, 0x28])),
  },
  {
    name: 'text that is not JSON is binary',
    sql: "SELECT * FROM 'a/b'",
    topic: 'a/b',
    payload: 'temperature=21',
    expected: raw(Buffer.from('temperature=21')),
  },
  {
    name: 'binary payload with a field in SELECT',
    sql: "SELECT encode(*, 'base64') AS data, kind FROM 'a/b'",
    topic: 'a/b',
    payload: Buffer.from([0x01, 0x02]),
    expected: binaryError,
  },
  {
    name: 'binary payload: a WHERE field is Undefined, so the message is skipped',
    sql: "SELECT encode(*, 'base64') AS data FROM 'a/b' WHERE kind = 'raw'",
    topic: 'a/b',
    payload: Buffer.from([0x01, 0x02]),
    expected: skip,
  },
  {
    name: 'binary payload: WHERE field IS UNDEFINED holds',
    sql: "SELECT encode(*, 'base64') AS data FROM 'a/b' WHERE kind IS UNDEFINED",
    topic: 'a/b',
    payload: Buffer.from([0x01, 0x02]),
    expected: output({ data: 'AQI=' }),
  },
  {
    name: 'binary payload skipped by WHERE is a skip, not an error',
    sql: "SELECT * FROM 'a/b' WHERE kind = 'raw'",
    topic: 'a/b',
    payload: Buffer.from([0xff]),
    expected: skip,
  },
  {
    name: 'a JSON string payload: fields are Undefined, functions work',
    sql: "SELECT topic() AS t, x FROM 'a/b'",
    topic: 'a/b',
    payload: '"hello"',
    expected: output({ t: 'a/b' }),
  },
  {
    name: 'a JSON number payload cannot be merged by *',
    sql: "SELECT * FROM 'a/b'",
    topic: 'a/b',
    payload: '42',
    expected: {
      kind: 'error',
      reason:
        'payload is JSON but not an object (number): SELECT * cannot make it the output object',
    },
  },

  // An empty payload: "If you have an empty or a JSON payload, the resulting payload can have
  // data added using the rule" ("Working with binary payloads").
  {
    name: 'an empty payload with SELECT * and functions gives the functions',
    sql: "SELECT *, topic() AS t FROM 'a/b'",
    topic: 'a/b',
    payload: Buffer.alloc(0),
    expected: output({ t: 'a/b' }),
  },
  {
    name: 'an empty payload: fields are Undefined',
    sql: "SELECT x, topic() AS t FROM 'a/b' WHERE x IS UNDEFINED",
    topic: 'a/b',
    payload: Buffer.alloc(0),
    expected: output({ t: 'a/b' }),
  },

  // Nesting: AWS documents no limit; this engine parses MAX_RULE_JSON_DEPTH levels.
  {
    name: `JSON nested ${MAX_RULE_JSON_DEPTH} levels is parsed`,
    sql: "SELECT a.a.a AS x FROM 'a/b'",
    topic: 'a/b',
    payload: nested(MAX_RULE_JSON_DEPTH),
    expected: output({ x: JSON.parse(nested(MAX_RULE_JSON_DEPTH - 3)) }),
  },
  {
    name: 'JSON nested 10 000 levels with SELECT * is an error that says why, not a crash',
    sql: SELECT_STAR_RULE,
    topic: 'devices/sensor-1/telemetry',
    payload: nested(10_000),
    expected: { kind: 'error', reason: DEEP_PAYLOAD_REASON },
  },
  {
    name: 'JSON nested 5 000 levels: a WHERE field is Undefined, so the message is skipped',
    sql: "SELECT * FROM 'a/b' WHERE a IS NOT UNDEFINED",
    topic: 'a/b',
    payload: nested(5_000),
    expected: skip,
  },

  // WHERE
  {
    name: 'WHERE true',
    sql: "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
    topic: 'topic/subtopic',
    payload: { color: 'red', temperature: 100 },
    expected: output({ rgb: 'red' }),
  },
  {
    name: 'WHERE false',
    sql: "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
    topic: 'topic/subtopic',
    payload: { color: 'red', temperature: 50 },
    expected: skip,
  },
  {
    name: 'WHERE on a missing field is Undefined: skipped',
    sql: "SELECT * FROM 'a/b' WHERE missing > 50",
    topic: 'a/b',
    payload: { temperature: 100 },
    expected: skip,
  },
  {
    name: 'ordering comparisons convert numeric strings',
    sql: "SELECT * FROM 'a/b' WHERE t >= 60 AND '5' < 10 AND t <= '60.0'",
    topic: 'a/b',
    payload: { t: '60' },
    expected: output({ t: '60' }),
  },
  {
    name: 'ordering comparisons on non-numeric strings are Undefined',
    sql: "SELECT * FROM 'a/b' WHERE name < 'b' OR name > 'b'",
    topic: 'a/b',
    payload: { name: 'a' },
    expected: skip,
  },
  {
    name: '= on mismatched types is false, so NOT (5 = "5") holds',
    sql: "SELECT * FROM 'a/b' WHERE NOT (count = '5') AND count = 5",
    topic: 'a/b',
    payload: { count: 5 },
    expected: output({ count: 5 }),
  },
  {
    name: '<> and != are the same operator',
    sql: "SELECT * FROM 'a/b' WHERE color <> 'blue' AND color != 'green' AND 5 <> '5'",
    topic: 'a/b',
    payload: { color: 'red' },
    expected: output({ color: 'red' }),
  },
  {
    name: '!= on equal values is false',
    sql: "SELECT * FROM 'a/b' WHERE color != 'red'",
    topic: 'a/b',
    payload: { color: 'red' },
    expected: skip,
  },
  {
    name: 'AND binds tighter than OR; parentheses change it',
    sql: "SELECT 1 = 1 OR 1 = 2 AND 1 = 2 AS a, (1 = 1 OR 1 = 2) AND 1 = 2 AS b FROM 'a/b'",
    topic: 'a/b',
    payload: {},
    expected: output({ a: true, b: false }),
  },
  {
    name: 'OR with an Undefined side is Undefined (AWS operator table)',
    sql: "SELECT * FROM 'a/b' WHERE temperature > 30 OR humidity > 80",
    topic: 'a/b',
    payload: { temperature: 40 },
    expected: skip,
  },
  {
    name: 'NOT of Undefined is Undefined; NOT of false is true',
    sql: "SELECT NOT missing AS a, NOT flag AS b, NOT 'TRUE' AS c FROM 'a/b'",
    topic: 'a/b',
    payload: { flag: false },
    expected: output({ b: true, c: false }),
  },
  {
    name: 'a WHERE of the string "true" passes (strings convert to booleans)',
    sql: "SELECT * FROM 'a/b' WHERE enabled AND 'false' OR enabled",
    topic: 'a/b',
    payload: { enabled: 'TRUE' },
    expected: output({ enabled: 'TRUE' }),
  },
  {
    name: 'a WHERE that is not a boolean skips',
    sql: "SELECT * FROM 'a/b' WHERE level",
    topic: 'a/b',
    payload: { level: 1 },
    expected: skip,
  },
  {
    name: 'IS NULL, IS NOT NULL, IS UNDEFINED, IS NOT UNDEFINED',
    sql: "SELECT foo IS NULL AS a, bar IS NULL AS b, foo IS NOT NULL AS c, bar IS UNDEFINED AS d, foo IS NOT UNDEFINED AS e, foo IS UNDEFINED AS f FROM 'a/b'",
    topic: 'a/b',
    payload: { foo: null },
    expected: output({ a: true, b: false, c: false, d: true, e: true, f: false }),
  },
  {
    name: 'WHERE IS NOT NULL skips a missing field',
    sql: "SELECT * FROM 'a/b' WHERE foo IS NOT NULL",
    topic: 'a/b',
    payload: { bar: 1 },
    expected: output({ bar: 1 }),
  },
  {
    name: 'comparisons in SELECT; against Undefined they are left out',
    sql: "SELECT t > 10 AS hot, t = 20 AS exact, missing = 1 AS m FROM 'a/b'",
    topic: 'a/b',
    payload: { t: 20 },
    expected: output({ hot: true, exact: true }),
  },
  {
    name: '= compares arrays in order and objects by content',
    sql: "SELECT a = b AS sameObject, c = d AS sameArray, c = e AS reordered FROM 'a/b'",
    topic: 'a/b',
    payload: {
      a: { x: 1, y: [true] },
      b: { y: [true], x: 1 },
      c: [1, 'x'],
      d: [1, 'x'],
      e: ['x', 1],
    },
    expected: output({ sameObject: true, sameArray: true, reordered: false }),
  },
  {
    name: 'WHERE with functions',
    sql: "SELECT * FROM 'devices/+/telemetry' WHERE topic(2) = 'sensor-9' AND timestamp() % 2 = 0",
    topic: 'devices/sensor-9/telemetry',
    payload: { v: 1 },
    timestamp: 1000,
    expected: output({ v: 1 }),
  },

  // FROM
  {
    name: "'a/#' matches its parent level 'a'",
    sql: "SELECT topic() AS t FROM 'a/#'",
    topic: 'a',
    payload: {},
    expected: output({ t: 'a' }),
  },
  {
    name: "'a/#' matches deeper levels",
    sql: "SELECT topic() AS t FROM 'a/#'",
    topic: 'a/e/f',
    payload: {},
    expected: output({ t: 'a/e/f' }),
  },
  {
    name: "'a/#' does not match 'b/x'",
    sql: "SELECT topic() AS t FROM 'a/#'",
    topic: 'b/x',
    payload: {},
    expected: skip,
  },
  {
    name: "'#' does not match reserved $ topics",
    sql: "SELECT * FROM '#'",
    topic: '$aws/things/t1/shadow/update',
    payload: {},
    expected: skip,
  },
  {
    name: 'a filter without wildcards matches only itself',
    sql: "SELECT * FROM 'a/b'",
    topic: 'a/b/c',
    payload: {},
    expected: skip,
  },
];

describe('compileRule(...).evaluate', () => {
  it.each(cases)('$name', ({ sql, topic, payload, clientId, principal, timestamp, expected }) => {
    const rule = compileRule(sql);
    const result = rule.evaluate({
      topic,
      payload: toBytes(payload),
      clientId,
      principal,
      timestamp,
    });
    expect(result).toEqual(expected);
  });

  it('tests the SQL serverless.yml deploys', () => {
    const yml = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
    // custom.telemetryRuleSql is a folded block (>-): its lines joined by single spaces.
    const block = /^ {2}telemetryRuleSql: >-\n((?: {4}.*\n)+)/m.exec(yml)?.[1] ?? '';
    expect(block.trim().split(/\n\s*/).join(' ')).toBe(TELEMETRY_RULE);
  });

  it('exposes the SQL and its topic filter', () => {
    const rule = compileRule(TELEMETRY_RULE);
    expect(rule.sql).toBe(TELEMETRY_RULE);
    expect(rule.topicFilter).toBe('devices/+/telemetry');
  });

  it('gives every message its own newuuid()', () => {
    const rule = compileRule("SELECT newuuid() AS id FROM 'a'");
    const ids = [1, 2, 3].map(() => {
      const result = rule.evaluate({ topic: 'a', payload: Buffer.from('{}') });
      if (result.kind !== 'output') throw new Error(`expected output, got ${result.kind}`);
      return (result.value as { id?: Json }).id;
    });
    expect(new Set(ids).size).toBe(3);
  });

  it('uses the current time when the message has none', () => {
    const rule = compileRule("SELECT timestamp() AS ts FROM 'a'");
    const before = Date.now();
    const result = rule.evaluate({ topic: 'a', payload: Buffer.from('{}') });
    const after = Date.now();
    expect(result.kind).toBe('output');
    const ts = result.kind === 'output' ? (result.value as { ts?: Json }).ts : undefined;
    expect(typeof ts).toBe('number');
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
  });
});

describe('compileRule refuses what it does not support, naming it', () => {
  it.each([
    [
      `SELECT * FROM 'a' WHERE get_thing_shadow("MyThing", "arn:aws:iam::1:role/r").state.x = 'ON'`,
      'unsupported function "get_thing_shadow()": it needs the AWS IoT Device Shadow service',
    ],
    [`SELECT get_secret('k', 'SecretString') AS s FROM 'a'`, 'get_secret()'],
    [`SELECT machinelearning_predict('m', 'r', *) AS p FROM 'a'`, 'machinelearning_predict()'],
    [`SELECT get_registry_data('describeThing', 't', 'r') AS p FROM 'a'`, 'get_registry_data()'],
    // Without the offline cloud's services (npm start provides them).
    [`SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS o FROM 'a'`, 'aws_lambda()'],
    [`SELECT get_dynamodb('t', 'k', id, 'r') AS o FROM 'a'`, 'get_dynamodb()'],
    [`SELECT md2('hello') AS h FROM 'a'`, 'unsupported function "md2()"'],
    ["SELECT nosuchfunction(a) AS c FROM 'a'", 'unsupported function "nosuchfunction()"'],
    ["SELECT cast(a AS Float) AS b FROM 'a'", 'unsupported cast() type Float'],
    ["SELECT * FROM 'a' WHERE name LIKE 'x%'", 'unsupported operator "LIKE"'],
    ["SELECT * FROM 'a' WHERE n IN (1, 2)", 'unsupported operator "IN"'],
    ["SELECT * FROM 'a' WHERE n NOT IN (1, 2)", 'unsupported operator "NOT IN"'],
    ["SELECT * FROM 'a' WHERE n BETWEEN 1 AND 2", 'unsupported operator "BETWEEN"'],
    ["SELECT * FROM 'a' WHERE n == 1", 'unsupported operator "=="'],
    ["SELECT * FROM 'a' GROUP BY x", 'unsupported clause "GROUP"'],
    ["SELECT * FROM 'a' WHERE x = 1 ORDER BY x", 'unsupported clause "ORDER"'],
    ["SELECT a + 1 FROM 'a'", 'unsupported unaliased expression "a + 1"'],
    ["SELECT list[0] FROM 'a'", 'unsupported unaliased expression "list[0]"'],
    ["SELECT `color` AS c FROM 'a'", 'unsupported quoted token `color`'],
    ["SELECT * FROM 'a' WHERE x = UNDEFINED", 'unsupported literal "UNDEFINED"'],
    [
      "SELECT get_dynamodb('t', 'k', a, 'r').x AS x, get_dynamodb('t', 'k', b, 'r').y AS y FROM 'a'",
      'get_dynamodb() may be called at most once',
    ],
  ])('%s', (sql, part) => {
    const services = part.includes('at most once');
    expect(() => compileRule(sql, { services })).toThrow(UnsupportedSqlError);
    expect(() => compileRule(sql, { services })).toThrow(part);
  });

  // "SQL versions", "Literals", "Nested object queries", "cast()": what 2016-03-23 added.
  it.each([
    [
      "SELECT {'latitude': lat} AS pos FROM 'a'",
      'object literal "{...}" needs SQL version 2016-03-23',
    ],
    ["SELECT [lat, long] AS pos FROM 'a'", 'array literal "[...]" needs SQL version 2016-03-23'],
    ["SELECT (SELECT VALUE n FROM e) AS s FROM 'a'", 'nested SELECT needs SQL version 2016-03-23'],
    ["SELECT cast(a AS Boolean) AS b FROM 'a'", 'cast() to Boolean needs SQL version 2016-03-23'],
    ["SELECT cast(a AS Decimal) AS b FROM 'a'", 'cast() to Decimal needs SQL version 2016-03-23'],
    [
      "SELECT encode(*, 'base64') AS d FROM 'a'",
      'function "encode()" needs SQL version 2016-03-23',
    ],
    ["SELECT indexof(a, 'b') AS i FROM 'a'", 'function "indexof()" needs SQL version 2016-03-23'],
    [
      "SELECT isUndefined(a) AS u FROM 'a'",
      'function "isundefined()" needs SQL version 2016-03-23',
    ],
    ["SELECT parse_time('yyyy', 0) AS y FROM 'a'", 'function "parse_time()" needs SQL version'],
  ])('2015-10-08: %s', (sql, part) => {
    expect(() => compileRule(sql, { sqlVersion: '2015-10-08' })).toThrow(UnsupportedSqlError);
    expect(() => compileRule(sql, { sqlVersion: '2015-10-08' })).toThrow(part);
  });

  it('2015-10-08 keeps what it documents: cast to Int, functions, SELECT VALUE', () => {
    const rule = compileRule("SELECT VALUE cast(upper(concat(a, 'x')) AS String) FROM 'a'", {
      sqlVersion: '2015-10-08',
    });
    expect(rule.evaluate({ topic: 'a', payload: Buffer.from('{"a":"b"}') })).toEqual({
      kind: 'output',
      value: 'BX',
    });
    expect(
      compileRule("SELECT sql_version() AS v FROM 'a'", { sqlVersion: '2015-10-08' }).evaluate({
        topic: 'a',
        payload: Buffer.alloc(0),
      }),
    ).toEqual({ kind: 'output', value: { v: '2015-10-08' } });
  });
});

describe('compileRule rejects malformed SQL, saying where and what was expected', () => {
  it.each([
    ["SELECT * FORM 'a/b'", 'at position 9: expected "," or FROM, found "FORM"'],
    ["SELECT FROM 'a'", 'at position 7: expected an expression, found "FROM"'],
    ['UPDATE x SET a = 1', 'at position 0: expected SELECT, found "UPDATE"'],
    ['SELECT a FROM a/b', "at position 14: expected a single-quoted topic filter such as 'a/+'"],
    ["SELECT a FROM 'a/b", 'at position 14: unterminated string literal'],
    [
      "SELECT a FROM 'a/#/b'",
      'at position 14: invalid topic filter: "#" must be a whole level and the last one',
    ],
    ["SELECT a FROM 'a/b+'", 'invalid topic filter: "+" must be a whole level'],
    ["SELECT a FROM ''", 'invalid topic filter: it is empty'],
    ["SELECT a FROM 'a/b/c/d/e/f/g/h/i'", 'it has 8 slashes; the limit is 7'],
    ["SELECT (a + 1 AS x FROM 'a'", 'at position 14: expected ")", found "AS"'],
    ["SELECT a FROM 'a' WHERE", 'at position 23: expected an expression, found end of SQL'],
    ["SELECT a FROM 'a' WHERE x IS 5", 'expected NULL or UNDEFINED after IS, found "5"'],
    ["SELECT *, * FROM 'a'", 'at position 10: * may appear only once in SELECT'],
    ["SELECT a AS FROM 'a'", 'at position 12: expected an alias name after AS, found "FROM"'],
    ["SELECT a FROM 'a' -- why", 'at position 18: comments are not supported'],
    ["SELECT a ! b FROM 'a'", 'at position 9: expected "," or FROM, found "!"'],
    ["SELECT a FROM 'a' WHERE b = 1;", 'at position 29: expected end of SQL, found ";"'],
  ])('%s', (sql, message) => {
    expect(() => compileRule(sql)).toThrow(SqlSyntaxError);
    expect(() => compileRule(sql)).toThrow(message);
  });
});

describe('topicMatches', () => {
  it.each([
    ['devices/+/telemetry', 'devices/x/telemetry', true],
    ['devices/+/telemetry', 'devices//telemetry', true],
    ['devices/+/telemetry', 'devices/telemetry', false],
    ['a/#', 'a', true],
    ['a/#', 'ab', false],
    ['#', 'anything/at/all', true],
    ['+/x', '$SYS/x', false],
    ['$aws/things/+/shadow/#', '$aws/things/t1/shadow/update', true],
    ['a/b', 'a/B', false],
  ])('%s against %s is %s', (filter, topic, matches) => {
    expect(topicMatches(filter, topic)).toBe(matches);
  });
});

/**
 * The reference's tables and rules beyond its worked examples (those are in
 * iot-sql-reference.test.ts), one row each: [page, SQL, payload, expected output or result].
 */
describe('documented semantics beyond the worked examples', () => {
  const rows: [string, string, unknown, unknown][] = [
    [
      'Case statements: v Undefined gives Undefined',
      "SELECT CASE x WHEN 1 THEN 'a' ELSE 'b' END AS c FROM 'a/b'",
      {},
      {},
    ],
    [
      'Case statements: no match and no ELSE gives Undefined',
      "SELECT CASE 2 WHEN 1 THEN 'a' END AS c FROM 'a/b'",
      {},
      {},
    ],
    [
      'Case statements: the first matching WHEN wins',
      "SELECT CASE n WHEN 1 THEN 'a' WHEN 1 THEN 'b' END AS c FROM 'a/b'",
      { n: 1 },
      { c: 'a' },
    ],
    [
      'Case statements: WHEN compares with = (no conversion)',
      "SELECT CASE n WHEN '1' THEN 'a' ELSE 'b' END AS c FROM 'a/b'",
      { n: 1 },
      { c: 'b' },
    ],
    [
      'cast(): Decimal to Int rounds down',
      "SELECT cast(1.9 AS Int) AS a, cast(-1.1 AS Integer) AS b FROM 'a/b'",
      {},
      { a: 1, b: -2 },
    ],
    [
      'cast(): string to Decimal by the documented regex',
      "SELECT cast('5E-12' AS Decimal) AS a, cast('1.' AS Decimal) AS b FROM 'a/b'",
      {},
      { a: 5e-12 },
    ],
    [
      'cast(): numbers to and from Boolean',
      "SELECT cast(0 AS Boolean) AS a, cast(2.5 AS Bool) AS b, cast(false AS Int) AS c, cast('TRUE' AS Boolean) AS d FROM 'a/b'",
      {},
      { a: false, b: true, c: 0, d: true },
    ],
    [
      'cast(): arrays and objects to String as JSON; Null is Undefined',
      "SELECT cast(l AS String) AS a, cast(o AS varchar) AS b, cast(n AS String) AS c FROM 'a/b'",
      { l: [1, 'a'], o: { k: true }, n: null },
      { a: '[1,"a"]', b: '{"k":true}' },
    ],
    [
      'JSON extensions: AS a.b builds nested objects, shared by items',
      "SELECT x AS out.a, y AS out.b FROM 'a/b'",
      { x: 1, y: 2 },
      { out: { a: 1, b: 2 } },
    ],
    [
      'JSON extensions: AS a.b beside * adds to the payload’s object without changing what later items read',
      "SELECT *, 1 AS color.x, color AS before FROM 'a/b'",
      { color: { red: 255 } },
      { color: { red: 255, x: 1 }, before: { red: 255 } },
    ],
    [
      'Nested object queries: over an object, one result',
      "SELECT (SELECT VALUE b FROM a) AS v FROM 'a/b'",
      { a: { b: 7 } },
      { v: 7 },
    ],
    [
      'Nested object queries: WHERE filters the array; * keeps each element',
      "SELECT (SELECT * FROM e WHERE v > 10) AS big FROM 'a/b'",
      { e: [{ v: 5 }, { v: 50 }] },
      { big: [{ v: 50 }] },
    ],
    [
      'SET clause: variables in WHERE and in later variables',
      "SET @t = temp * 2, @u = @t + 1 SELECT @u AS u FROM 'a/b' WHERE @t > 10",
      { temp: 6 },
      { u: 13 },
    ],
    [
      'Functions: a wrong argument count is Undefined (round takes one)',
      "SELECT round(1.5, 1) AS a, upper() AS b, topic(1, 2) AS c FROM 'a/b'",
      {},
      {},
    ],
    [
      'Functions: lpad clamps the count to 1000',
      "SELECT length(lpad('x', 5000)) AS n FROM 'a/b'",
      {},
      { n: 1001 },
    ],
    [
      'Functions: startswith with Null is Undefined',
      "SELECT startswith(n, 'a') AS s FROM 'a/b'",
      { n: null },
      {},
    ],
    [
      'Functions: decode of what is not base64 is Null',
      "SELECT decode('!!', 'base64') AS d FROM 'a/b'",
      {},
      { d: null },
    ],
    [
      'Functions: decode of text that is not JSON is the text',
      "SELECT decode('aGk=', 'base64') AS d FROM 'a/b'",
      {},
      { d: 'hi' },
    ],
    [
      'Functions: encode of an expression encodes its string form',
      "SELECT encode(n, 'base64') AS e FROM 'a/b'",
      { n: 12 },
      { e: 'MTI=' },
    ],
    [
      'Functions: the type tests',
      "SELECT isNumber(n) AS a, isString(s) AS b, isBoolean(t) AS c, isArray(l) AS d, isObject(o) AS e, isEmpty(l) AS f, isEmpty(s) AS g FROM 'a/b'",
      { n: 1, s: '', t: false, l: [], o: {} },
      { a: true, b: true, c: true, d: true, e: true, f: true, g: true },
    ],
    [
      'Functions: get_or_default replaces Undefined only',
      "SELECT get_or_default(x, 1) AS a, get_or_default(n, 1) AS b FROM 'a/b'",
      { n: null },
      { a: 1, b: null },
    ],
    [
      'Functions: hashes',
      "SELECT sha1('hello') AS a, sha256('hello') AS b, crc32('hello') AS c FROM 'a/b'",
      {},
      {
        a: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
        b: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
        c: '3610a686',
      },
    ],
    [
      'Functions: parse_time in a zone with daylight saving time',
      "SELECT parse_time('yyyy-MM-dd HH:mm z', 1719835200000, 'Europe/Paris') AS t FROM 'a/b'",
      {},
      { t: '2024-07-01 14:00 CEST' },
    ],
    [
      'Functions: parse_time with an unknown zone is Undefined',
      "SELECT parse_time('yyyy', 0, 'Mars/Olympus') AS t FROM 'a/b'",
      {},
      {},
    ],
    [
      'Functions: time_to_epoch of text that does not match is Undefined',
      "SELECT time_to_epoch('yesterday', 'yyyy-MM-dd') AS t FROM 'a/b'",
      {},
      {},
    ],
    [
      'Functions: time_to_epoch with an offset',
      "SELECT time_to_epoch('2020-01-01T00:00:00+0200', 'yyyy-MM-dd''T''HH:mm:ssZ') AS t FROM 'a/b'",
      {},
      { t: Date.UTC(2019, 11, 31, 22) },
    ],
    [
      'Functions: bit operations round decimals down',
      "SELECT bitand(13.9, '5') AS a, bitor(x, 1) AS b FROM 'a/b'",
      {},
      { a: 5 },
    ],
    [
      'Functions: a number past what a double holds is Undefined, not an error',
      "SELECT bitand('1e999', 1) AS a, abs('-1e999') AS b, 1 AS c FROM 'a/b'",
      {},
      { c: 1 },
    ],
    [
      'Functions: trunc cuts digits as written, never rounds',
      "SELECT trunc(0.29, 2) AS a, trunc(-2.999, 1) AS b, trunc(1e-7, 8) AS c, trunc(5, 2) AS d FROM 'a/b'",
      {},
      { a: 0.29, b: -2.9, c: 1e-7, d: 5 },
    ],
    [
      'Functions: substring of Undefined is Undefined',
      "SELECT substring(x, 1) AS s FROM 'a/b'",
      {},
      {},
    ],
  ];

  it.each(rows)('%s: %s', (_page, sql, payload, expected) => {
    const result = compileRule(sql).evaluate({ topic: 'a/b', payload: toBytes(payload) });
    expect(result).toEqual(output(expected as Record<string, unknown>));
  });

  it('SELECT VALUE of Undefined is an empty payload ("Data types": Undefined serializes as "")', () => {
    expect(
      compileRule("SELECT VALUE x FROM 'a'").evaluate({ topic: 'a', payload: toBytes({}) }),
    ).toEqual({
      kind: 'binary',
      payload: Buffer.alloc(0),
      reason: expect.stringContaining('Undefined'),
    });
  });

  it('get_user_properties() and get_mqtt_property() read the MQTT 5 properties', () => {
    const rule = compileRule(
      "SELECT get_user_properties('k') AS u, get_mqtt_property('content_type') AS c, get_mqtt_property('format_indicator') AS f FROM 'a'",
    );
    const properties = {
      userProperties: { k: ['1', '2'] },
      contentType: 'json',
      payloadFormatIndicator: true,
    };
    expect(rule.evaluate({ topic: 'a', payload: toBytes({}), properties })).toEqual(
      output({ u: ['1', '2'], c: 'json', f: 'UTF8_DATA' }),
    );
    expect(rule.evaluate({ topic: 'a', payload: toBytes({}) })).toEqual(output({}));
  });

  it('a rule without FROM takes Basic Ingest messages only ("Basic Ingest": FROM is optional then)', () => {
    const rule = compileRule('SELECT topic() AS t');
    expect(rule.topicFilter).toBeUndefined();
    expect(rule.evaluate({ topic: 'x/y', payload: toBytes({}) })).toEqual({ kind: 'skip' });
    expect(rule.evaluate({ topic: 'x/y', payload: toBytes({}), basicIngest: true })).toEqual(
      output({ t: 'x/y' }),
    );
  });

  it('substitution templates: functions, SET variables, object literals; Undefined is ""', () => {
    const rule = compileRule("SET @d = topic(2) SELECT * FROM 'a/+'");
    const message = { topic: 'a/dev-1', payload: toBytes({ n: 5 }) };
    expect(rule.template('out/${@d}/${n * 2}').render(message)).toBe('out/dev-1/10');
    expect(rule.template('${get({"k": "v"}, "k")}-${missing}.').render(message)).toBe('v-.');
    expect(rule.template('${topic()}').readsPayload).toBe(false);
    expect(rule.template('${n}').readsPayload).toBe(true);
    expect(() => rule.template('${topic(}')).toThrow(SqlSyntaxError);
  });

  it('SET: an undefined or twice-assigned variable is an error at start-up', () => {
    expect(() => compileRule("SELECT @x AS x FROM 'a'")).toThrow('@x is not defined');
    expect(() => compileRule("SET @x = 1, @x = 2 SELECT @x AS x FROM 'a'")).toThrow(
      'assigned twice',
    );
  });
});
