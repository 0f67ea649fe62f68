/**
 * The built-in functions of AWS IoT SQL, each against the "Functions" page of the AWS IoT Core
 * developer guide (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html):
 * its examples, its argument conversions ("Data types", iot-sql-data-types.html) and Undefined
 * for arguments of the wrong type or number. Cases found unguarded by the mutation run
 * (docs/mutation.md); the digests are the algorithms' own values (RFC 1321, FIPS 180-4, CRC-32).
 */
import { describe, expect, it } from '@jest/globals';

import { compileRule, type RuleMessage } from '../../local/iot/rules/sql';
import type { Json } from '../../local/iot/rules/values';

const PAYLOAD = { s: 'x', n: 5, arr: [1, 2], obj: { k: 'v' }, nul: null, t: true };
const MESSAGE: RuleMessage = {
  topic: 'a/b/c',
  payload: Buffer.from(JSON.stringify(PAYLOAD)),
  clientId: 'cid',
  principal: 'p1',
  timestamp: 1_700_000_000_123,
  traceId: 'tr',
  sourceIp: '1.2.3.4',
};

/** `SELECT <expr> AS v` for MESSAGE; a missing `v` is Undefined ("Data types"). */
function value(expr: string, message: RuleMessage = MESSAGE): Json | undefined {
  const result = compileRule(`SELECT ${expr} AS v FROM 'a/b/c'`).evaluate(message);
  if (result.kind !== 'output') throw new Error(`no output: ${JSON.stringify(result)}`);
  const output = result.value as { v?: Json };
  return Object.hasOwn(output, 'v') ? output.v : undefined;
}

const table = (rows: [expr: string, expected: Json | undefined][]) =>
  it.each(rows)('%s is %j', (expr, expected) => {
    // Strict: [1, 2, undefined] serializes as [1,2,null], not as [1,2].
    expect(value(expr)).toStrictEqual(expected);
  });

describe('numeric functions: a numeric string converts, Null, Boolean and a wrong count are Undefined', () => {
  table([
    ['abs(-5)', 5],
    ["abs('-5.5')", 5.5],
    ['abs(nul)', undefined],
    ['abs(true)', undefined],
    ['abs(1, 2)', undefined],
    ['abs()', undefined],
    ['acos(1)', 0],
    ['acos(2)', undefined],
    ['asin(1)', 1.5707963267948966],
    // "-0.0" converts to -0; a result is never -0 (JSON has no negative zero).
    ["asin('-0.0')", 0],
    ['atan(1)', 0.7853981633974483],
    // "atan2(1, 0) = 1.5707963267948966"
    ['atan2(1, 0)', 1.5707963267948966],
    ['atan2(0, 1)', 0],
    ["atan2('a', 0)", undefined],
    ["atan2(1, 'b')", undefined],
    ['ceil(1.2)', 2],
    ['ceil(-1.2)', -1],
    ['cos(0)', 1],
    ['cosh(0)', 1],
    ['exp(0)', 1],
    ['exp(1000)', undefined],
    ['floor(1.7)', 1],
    ['floor(-1.2)', -2],
    ['ln(1)', 0],
    ['ln(0)', undefined],
    ['log(100)', 2],
    ['power(2, 10)', 1024],
    ['power(2, 0.5)', 1.4142135623730951],
    ["power('a', 2)", undefined],
    // "Round(1.5) = 2", "Round(-1.5) = -2": half away from zero.
    ['round(1.5)', 2],
    ['round(-1.5)', -2],
    ['round(2.4)', 2],
    ['round(1.5, 1)', undefined],
    ['sign(-3)', -1],
    ['sign(0)', 0],
    ['sign(2.5)', 1],
    ['sin(0)', 0],
    ['sinh(0)', 0],
    ['sqrt(16)', 4],
    ['sqrt(-1)', undefined],
    ['tan(0)', 0],
    ['tanh(0)', 0],
    // "mod(8, 3) = 2"; remainder() is the same operation.
    ['mod(8, 3)', 2],
    ['mod(-8, 3)', -2],
    ['mod(8.5, 3)', 2.5],
    ['mod(8, 0)', undefined],
    ['remainder(8, 3)', 2],
    ['remainder(1, 0)', undefined],
    // "trunc(2.3, 0) = 2", digits cut, never rounded.
    ['trunc(2.567, 2)', 2.56],
    ['trunc(2, 5)', 2],
    ['trunc(-2.567, 1)', -2.5],
    ['trunc(2.567, -1)', 2],
    ['trunc(0.0000001234, 9)', 1.23e-7],
    ['trunc(1.5e21, 1)', 1.5e21],
    ['trunc(-0.0000001234, 9)', -1.23e-7],
    ["trunc('a', 1)", undefined],
  ]);
});

describe('bitwise functions: Int arguments (a Decimal rounded down), 64-bit results', () => {
  table([
    // "bitand(13, 5) = 5", "bitor(8, 5) = 13", "bitxor(13, 5) = 8", "bitnot(13) = -14"
    ['bitand(13, 5)', 5],
    ['bitor(8, 5)', 13],
    ['bitxor(13, 5)', 8],
    ['bitnot(13)', -14],
    ["bitnot('x')", undefined],
    ['bitand(13.7, 5)', 5],
    ["bitand('a', 5)", undefined],
    ["bitand(5, 'a')", undefined],
    ['bitor(-1, 9223372036854775807)', -1],
  ]);
});

describe('string functions', () => {
  table([
    // "chr(65) = "A"": ASCII only.
    ['chr(65)', 'A'],
    ["chr('65')", 'A'],
    ['chr(-1)', undefined],
    ['chr(128)', undefined],
    ['chr(0)', '\u0000'],
    ['chr(127)', '\u007f'],
    ['chr(true)', undefined],
    ['concat()', undefined],
    ['concat(1)', '1'],
    ['concat(arr)', [1, 2]],
    ["concat('a', 1, true)", 'a1true'],
    ['concat(arr, 2, [3, 4])', [1, 2, 2, 3, 4]],
    ['concat(arr, missing)', [1, 2]],
    ["concat('a', nul)", undefined],
    ["endswith('abc', 'bc')", true],
    ["endswith('abc', 'b')", false],
    ["endswith('abc', nul)", undefined],
    ["indexof('abcb', 'b')", 1],
    ["indexof('abc', 'z')", -1],
    ["length('héllo')", 5],
    ["length('😀')", 1],
    ['length(5)', 1],
    ["lower('AbC')", 'abc'],
    ["upper('aBc')", 'ABC'],
    ["lpad('a', 3)", '   a'],
    ["rpad('a', 2)", 'a  '],
    ["lpad('a', -1)", 'a'],
    ["lpad('a', 2000)", `${' '.repeat(1000)}a`],
    ['lpad(nul, 2)', undefined],
    ["lpad('a', 'x')", undefined],
    ["ltrim('  a  ')", 'a  '],
    ["rtrim('  a  ')", '  a'],
    ["trim('  a  ')", 'a'],
    ["trim('a  b')", 'a  b'],
    ["ltrim('a  b ')", 'a  b '],
    ["rtrim(' a  b')", ' a  b'],
    ['lower(nul)', undefined],
    ["numbytes('héllo')", 6],
    ['numbytes(5)', 1],
    ["replace('a.b.c', '.', '-')", 'a-b-c'],
    ["replace('abc', nul, 'x')", undefined],
    ["startswith('abc', 'ab')", true],
    ["startswith('abc', 'b')", false],
    ["substring('012345', 2)", '2345'],
    ["substring('012345', 2, 4)", '23'],
    ["substring('012345', -1, 2)", '01'],
    ["substring('012345', 4, 2)", ''],
    ["substring('012345', 2, 99)", '2345'],
    ["substring('012345', 'x')", undefined],
    ["substring('012345', 1, 'x')", undefined],
    ["substring('012345')", undefined],
    ["substring('012345', 1, 2, 3)", undefined],
    ['substring(nul, 1)', undefined],
  ]);
});

describe('regular expressions: an invalid pattern is Undefined', () => {
  table([
    ["regexp_matches('aBc', 'B')", true],
    ["regexp_matches('abc', 'z')", false],
    ["regexp_matches('abc', '(')", undefined],
    ["regexp_matches(nul, 'a')", undefined],
    ["regexp_matches('a', nul)", undefined],
    ["regexp_replace(nul, 'a', 'b')", undefined],
    ["regexp_substr(nul, 'a')", undefined],
    ["regexp_replace('a1b22', '[0-9]+', '#')", 'a#b#'],
    ["regexp_replace('abc', '(', 'x')", undefined],
    ["regexp_replace('abc', 'b', nul)", undefined],
    ["regexp_substr('hello world', 'o w')", 'o w'],
    ["regexp_substr('abc', 'z')", ''],
    ["regexp_substr('abc', '(')", undefined],
  ]);
});

describe('hashing and encoding', () => {
  table([
    ["md5('hello')", '5d41402abc4b2a76b9719d911017c592'],
    ["sha1('a')", '86f7e437faa5a7fce15d1ddcb9eaeaea377667b8'],
    ["sha224('a')", 'abd37534c7d9a2efb9465de931cd7055ffdb8879563ae98078d6d6d5'],
    ["sha256('a')", 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'],
    [
      "sha384('a')",
      '54a59b9f22b0b80880d8427e548b7c23abd873486e1f035dce9cd697e85175033caa88e6d57bc35efae0b5afd3145f31',
    ],
    [
      "sha512('a')",
      '1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f5302860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75',
    ],
    ["crc32('hello')", '3610a686'],
    ["crc32('')", '00000000'],
    ["encode('hi', 'base64')", 'aGk='],
    ["encode('hi', 'hex')", undefined],
    ["encode(nul, 'base64')", undefined],
    ["decode('eyJhIjoxfQ==', 'base64')", { a: 1 }],
    ["decode('aGVsbG8=', 'base64')", 'hello'],
    ["decode('!!', 'base64')", null],
    ["decode('aGVsbG8=', 'hex')", undefined],
    ["decode(nul, 'base64')", undefined],
    ["decode('a')", undefined],
    ["decode('aGk=', 'base64', 1)", undefined],
  ]);
});

describe('collections and type tests', () => {
  table([
    ['get(arr, 1)', 2],
    ['get(arr, 2)', undefined],
    ['get(arr, -1)', undefined],
    ["get(arr, '0')", 1],
    ["get('abc', 1)", 'b'],
    ["get('abc', 3)", undefined],
    ["get('abc', -1)", undefined],
    ["get('abc', 'x')", undefined],
    ['get(arr, 1, 2)', undefined],
    ["get(obj, 'k')", 'v'],
    ["get(obj, 'toString')", undefined],
    ['get(obj, 1)', undefined],
    ['get(5, 0)', undefined],
    ['get(arr)', undefined],
    ['get_or_default(missing, 3)', 3],
    ['get_or_default(nul, 3)', null],
    ['get_or_default(n, 3)', 5],
    ['nanvl(missing, 7)', 7],
    ['nanvl(nul, 7)', 7],
    ['nanvl(n, 7)', 5],
    ["nanvl('x', 7)", 'x'],
    ["transform('enrichArray', {'x': 1}, [{'a': 1}, 2])", [{ a: 1, x: 1 }, 2]],
    ["transform('other', {'x': 1}, [])", undefined],
    ["transform('enrichArray', 1, [])", undefined],
    ["transform('enrichArray', {'x': 1}, 3)", undefined],
    ["transform('enrichArray', {'x': 1}, [], 1)", undefined],
    ['isArray(arr)', true],
    ['isArray(obj)', false],
    ['isBoolean(t)', true],
    ["isBoolean('true')", false],
    ["isEmpty('')", true],
    ['isEmpty([])', true],
    ['isEmpty({})', true],
    ["isEmpty('a')", false],
    ['isEmpty([0])', false],
    ['isEmpty(obj)', false],
    ['isEmpty(nul)', false],
    ['isNull(nul)', true],
    ['isNull(missing)', false],
    ['isNumber(n)', true],
    ["isNumber('5')", false],
    ['isObject(obj)', true],
    ['isObject(arr)', false],
    ['isObject(nul)', false],
    ['isString(s)', true],
    ['isString(n)', false],
    ['isUndefined(missing)', true],
    ['isUndefined(nul)', false],
  ]);
});

describe('cast(): the conversions of "cast()", which add numbers and Booleans to each other', () => {
  table([
    ['cast(nul AS Int)', undefined],
    ['cast(missing AS String)', undefined],
    ['cast(true AS Int)', 1],
    ['cast(false AS Int)', 0],
    ['cast(true AS Decimal)', 1],
    ['cast(false AS Decimal)', 0],
    ['cast(2 AS Boolean)', true],
    ['cast(0 AS Boolean)', false],
    ["cast('x' AS Boolean)", undefined],
    ["cast('false' AS Boolean)", false],
    ['cast(1.9 AS Int)', 1],
    ["cast('-1.9' AS Int)", -2],
    ['cast(arr AS String)', '[1,2]'],
  ]);
});

describe('what a function reads from the message', () => {
  table([
    ['clientid()', 'cid'],
    ['clientid(1)', undefined],
    ['principal()', 'p1'],
    ['sourceip()', '1.2.3.4'],
    ['traceid()', 'tr'],
    ['timestamp()', 1_700_000_000_123],
    ['timestamp(1)', undefined],
    ['accountid()', '000000000000'],
    ['sql_version()', '2016-03-23'],
    ['topic()', 'a/b/c'],
    ['topic(1)', 'a'],
    ['topic(3)', 'c'],
    ['topic(4)', undefined],
    ['topic(0)', undefined],
    ['topic(1.5)', undefined],
    ["topic('x')", undefined],
    ['topic(1, 2)', undefined],
    ['length(newuuid())', 36],
    ['newuuid() = newuuid()', false],
    ['rand() >= 0 AND rand() < 1', true],
    ["parse_time('yyyy-MM-dd HH:mm:ss', 1700000000123)", '2023-11-14 22:13:20'],
    [
      "parse_time('yyyy-MM-dd HH:mm:ss z', 1700000000123, 'America/New_York')",
      '2023-11-14 17:13:20 EST',
    ],
    ["parse_time('yyyy-MM-dd', 1700000000123.9)", '2023-11-14'],
    ["parse_time('yyyy', 'x')", undefined],
    ["parse_time('yyyy')", undefined],
    ["parse_time('yyyy', 1, 'UTC', 4)", undefined],
    ['parse_time(nul, 1)', undefined],
    ["parse_time('yyyy', 1, nul)", undefined],
    ["time_to_epoch('2023-11-14 22:13:20', 'yyyy-MM-dd HH:mm:ss')", 1_700_000_000_000],
    ["time_to_epoch('x', 'yyyy')", undefined],
    ["time_to_epoch(nul, 'yyyy')", undefined],
  ]);

  it('clientid() is n/a and traceid() Undefined for a message that did not come over MQTT', () => {
    const message = { topic: 'a/b/c', payload: Buffer.from('{}') };
    expect(value('clientid()', message)).toBe('n/a');
    expect(value('traceid()', message)).toBeUndefined();
    expect(value('principal()', message)).toBeUndefined();
  });

  it('timestamp() is the time the message was received, when no broker time is given', () => {
    const before = Date.now();
    const at = value('timestamp()', { topic: 'a/b/c', payload: Buffer.from('{}') }) as number;
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it('MQTT 5: get_user_properties() has every value of a name, get_mqtt_property() the named ones', () => {
    const message: RuleMessage = {
      ...MESSAGE,
      properties: {
        userProperties: { k: ['1', '2'], one: 'only' },
        contentType: 'application/json',
        payloadFormatIndicator: true,
        responseTopic: 'reply/here',
        correlationData: Buffer.from('id-1'),
      },
    };
    expect(value("get_user_properties('k')", message)).toEqual(['1', '2']);
    expect(value("get_user_properties('one')", message)).toEqual(['only']);
    expect(value("get_user_properties('none')", message)).toBeUndefined();
    expect(value('get_user_properties()', message)).toBeUndefined();
    expect(value("get_mqtt_property('content_type')", message)).toBe('application/json');
    expect(value("get_mqtt_property('format_indicator')", message)).toBe('UTF8_DATA');
    expect(value("get_mqtt_property('response_topic')", message)).toBe('reply/here');
    expect(value("get_mqtt_property('correlation_data')", message)).toBe(
      Buffer.from('id-1').toString('base64'),
    );
    expect(value('get_mqtt_property(1)', message)).toBeUndefined();
    const unspecified = { ...MESSAGE, properties: { payloadFormatIndicator: false } };
    expect(value("get_mqtt_property('format_indicator')", unspecified)).toBe('UNSPECIFIED_BYTES');
    expect(value("get_mqtt_property('content_type')", unspecified)).toBeUndefined();
    expect(value("get_user_properties('k')")).toBeUndefined();
    expect(value("get_mqtt_property('content_type')")).toBeUndefined();
  });
});
