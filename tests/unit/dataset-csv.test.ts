import { describe, expect, it } from '@jest/globals';
import { ValidationError } from '../../shared/errors';
import {
  CsvParseError,
  parseReadingsCsv,
  READINGS_CSV_HEADER,
  readingToCsvLine,
  readingsToCsv,
} from '../../scripts/telemetry/csv';
import { generateReadings } from '../../scripts/telemetry/generator';
import { READING_COLUMNS, type Reading } from '../../scripts/telemetry/reading';

const HEADER = 'deviceId,seq,ts,temperature,humidity,pressure,battery,rssi';
const ROW = 'sensor-1,3,1767225600000,21.37,48.2,1012.9,77.5,-67';
const PARSED: Reading = {
  deviceId: 'sensor-1',
  seq: 3,
  ts: 1767225600000,
  temperature: 21.37,
  humidity: 48.2,
  pressure: 1012.9,
  battery: 77.5,
  rssi: -67,
};

function parseError(text: string): CsvParseError {
  try {
    parseReadingsCsv(text);
  } catch (error) {
    if (error instanceof CsvParseError) return error;
    throw error;
  }
  throw new Error('expected a CsvParseError');
}

describe('readingsToCsv', () => {
  it('writes the header in READING_COLUMNS order and one line per reading', () => {
    expect(READINGS_CSV_HEADER).toBe(HEADER);
    expect(READINGS_CSV_HEADER.split(',')).toEqual([...READING_COLUMNS]);
    expect(readingsToCsv([PARSED])).toBe(`${HEADER}\n${ROW}\n`);
    expect(readingsToCsv([])).toBe(`${HEADER}\n`);
    expect(readingToCsvLine(PARSED)).toBe(ROW);
  });

  it('round-trips generated readings exactly', () => {
    const readings = generateReadings({ seed: 3, devices: 4, count: 500 });
    const csv = readingsToCsv(readings);
    const parsed = parseReadingsCsv(csv);
    expect(parsed).toEqual(readings);
    expect(readingsToCsv(parsed)).toBe(csv);
  });
});

describe('parseReadingsCsv', () => {
  it('accepts the columns in any order', () => {
    const readings = generateReadings({ seed: 4, devices: 2, count: 20 });
    const order = ['rssi', 'ts', 'deviceId', 'battery', 'humidity', 'seq', 'pressure'];
    order.splice(3, 0, 'temperature');
    const csv = [
      order.join(','),
      ...readings.map((r) => order.map((c) => String(r[c as keyof Reading])).join(',')),
    ].join('\n');
    expect(parseReadingsCsv(csv)).toEqual(readings);
  });

  it('ignores blank lines, handles \\r\\n, a byte order mark and a missing final newline', () => {
    const text = `\uFEFF${HEADER}\r\n\r\n${ROW}\r\n   \r\n${ROW.replace(',3,', ',4,')}`;
    expect(parseReadingsCsv(text)).toEqual([PARSED, { ...PARSED, seq: 4 }]);
    expect(parseReadingsCsv(`\n\n${HEADER}\n`)).toEqual([]);
  });

  it('accepts quoted fields and spaces around values', () => {
    const text = `${HEADER}\n"sensor-1", 3 ,1767225600000,"21.37",48.2,1012.9,77.5,-67\n`;
    expect(parseReadingsCsv(text)).toEqual([PARSED]);
  });

  it.each([
    ['an empty text', '', 1, undefined, /no header row/],
    [
      'a header without a column',
      'deviceId,seq,ts,temperature,humidity,pressure,battery',
      1,
      'rssi',
      /missing column/,
    ],
    ['an unknown column', `${HEADER},note`, 1, 'note', /unknown column/],
    ['a column given twice', `${HEADER},seq`, 1, 'seq', /twice/],
    [
      'a row without its last field',
      `${HEADER}\n${ROW}\nsensor-1,4,1767225610000,21.4,48,1013,77.4`,
      3,
      'rssi',
      /missing value/,
    ],
    [
      'an empty field',
      `${HEADER}\nsensor-1,3,1767225600000,,48.2,1012.9,77.5,-67`,
      2,
      'temperature',
      /missing value/,
    ],
    [
      'a non-number',
      `${HEADER}\n\n${ROW}\nsensor-1,4,1767225610000,warm,48,1013,77.4,-60`,
      4,
      'temperature',
      /not a number: "warm"/,
    ],
    [
      'a hexadecimal number',
      `${HEADER}\nsensor-1,0x10,1767225600000,21.37,48.2,1012.9,77.5,-67`,
      2,
      'seq',
      /not a number/,
    ],
    [
      'a fractional seq',
      `${HEADER}\nsensor-1,3.5,1767225600000,21.37,48.2,1012.9,77.5,-67`,
      2,
      'seq',
      /int/,
    ],
    [
      'humidity above 100',
      `${HEADER}\nsensor-1,3,1767225600000,21.37,100.5,1012.9,77.5,-67`,
      2,
      'humidity',
      /100/,
    ],
    [
      'a positive rssi',
      `${HEADER}\nsensor-1,3,1767225600000,21.37,48.2,1012.9,77.5,4`,
      2,
      'rssi',
      /0/,
    ],
    [
      'a bad device id',
      `${HEADER}\nsensor/1,3,1767225600000,21.37,48.2,1012.9,77.5,-67`,
      2,
      'deviceId',
      /thing name/,
    ],
    [
      'an unterminated quote',
      `${HEADER}\r\n"sensor-1,3,1767225600000,21.37,48.2,1012.9,77.5,-67`,
      2,
      'deviceId',
      /unterminated/,
    ],
    ['too many fields', `${HEADER}\n${ROW},9`, 2, undefined, /9 fields/],
  ])('names the line and column for %s', (_, text, line, column, problem) => {
    const error = parseError(text);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.line).toBe(line);
    expect(error.column).toBe(column);
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(new RegExp(`^line ${line}\\b`));
    if (column !== undefined) expect(error.message).toContain(`column "${column}"`);
  });
});
