/**
 * Readings as CSV text (RFC 4180 subset: one record per line, fields may be double-quoted).
 * Strings in, strings out: reading and writing files is the caller's business.
 */
import { ValidationError } from '../../shared/errors';
import { READING_COLUMNS, readingSchema, type Reading, type ReadingColumn } from './reading';

/** Bad CSV input: names the 1-based line and, where it applies, the column. */
export class CsvParseError extends ValidationError {
  constructor(
    readonly line: number,
    readonly column: string | undefined,
    problem: string,
  ) {
    super(`line ${line}${column === undefined ? '' : `, column "${column}"`}: ${problem}`, {
      line,
      column,
    });
  }
}

function quoteField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export const READINGS_CSV_HEADER = READING_COLUMNS.join(',');

/** One reading as a CSV record, without the line ending. */
export function readingToCsvLine(reading: Reading): string {
  return READING_COLUMNS.map((column) => quoteField(String(reading[column]))).join(',');
}

/** The header row and one row per reading, each line ending in "\n". */
export function readingsToCsv(readings: Iterable<Reading>): string {
  let text = `${READINGS_CSV_HEADER}\n`;
  for (const reading of readings) text += `${readingToCsvLine(reading)}\n`;
  return text;
}

/** Splits a record into fields; `columnAt` names a field position for error messages. */
function splitFields(
  text: string,
  line: number,
  columnAt: (index: number) => string | undefined,
): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    const field = fields.length;
    let start = i;
    while (text[start] === ' ' || text[start] === '\t') start += 1;
    if (text[start] === '"') {
      let value = '';
      i = start + 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new CsvParseError(line, columnAt(field), 'unterminated quoted field');
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      fields.push(value);
      while (text[i] === ' ' || text[i] === '\t') i += 1;
      if (i === text.length) return fields;
      if (text[i] !== ',') {
        throw new CsvParseError(line, columnAt(field), 'unexpected text after a quoted field');
      }
      i += 1;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      fields.push(text.slice(i, end).trim());
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

function parseHeader(text: string, line: number): ReadingColumn[] {
  const names = splitFields(text, line, () => undefined);
  const known = new Set<string>(READING_COLUMNS);
  const columns: ReadingColumn[] = [];
  for (const name of names) {
    if (!known.has(name)) {
      throw new CsvParseError(
        line,
        name,
        `unknown column; the columns are ${READING_COLUMNS.join(', ')}`,
      );
    }
    if (columns.includes(name as ReadingColumn)) {
      throw new CsvParseError(line, name, 'column given twice');
    }
    columns.push(name as ReadingColumn);
  }
  const missing = READING_COLUMNS.find((column) => !columns.includes(column));
  if (missing) throw new CsvParseError(line, missing, 'missing column in the header');
  return columns;
}

const DECIMAL_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseRecord(text: string, line: number, header: readonly ReadingColumn[]): Reading {
  const fields = splitFields(text, line, (index) => header[index]);
  if (fields.length > header.length) {
    throw new CsvParseError(
      line,
      undefined,
      `${fields.length} fields, but the header names ${header.length} columns`,
    );
  }
  const record: Record<string, unknown> = {};
  header.forEach((column, index) => {
    const field = fields[index];
    if (field === undefined || field === '') {
      throw new CsvParseError(line, column, 'missing value');
    }
    if (column === 'deviceId') {
      record[column] = field;
      return;
    }
    if (!DECIMAL_NUMBER.test(field)) {
      throw new CsvParseError(line, column, `not a number: ${JSON.stringify(field)}`);
    }
    record[column] = Number(field);
  });
  const result = readingSchema.safeParse(record);
  if (!result.success) {
    const issue = result.error.issues[0];
    const column = issue?.path[0];
    throw new CsvParseError(
      line,
      typeof column === 'string' ? column : undefined,
      `${issue?.message ?? 'invalid value'} (got ${JSON.stringify(
        typeof column === 'string' ? fields[header.indexOf(column as ReadingColumn)] : text,
      )})`,
    );
  }
  return result.data;
}

/**
 * Parses CSV text with a header row naming every reading column (in any order). Blank lines are
 * skipped; "\n" and "\r\n" line endings and a leading byte order mark are accepted. Every record
 * is validated against the reading schema; the first problem throws a CsvParseError.
 */
export function parseReadingsCsv(text: string): Reading[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let header: ReadingColumn[] | undefined;
  const readings: Reading[] = [];
  lines.forEach((content, index) => {
    if (content.trim() === '') return;
    const line = index + 1;
    if (header) readings.push(parseRecord(content, line, header));
    else header = parseHeader(content, line);
  });
  if (!header) {
    throw new CsvParseError(1, undefined, `no header row; expected ${READINGS_CSV_HEADER}`);
  }
  return readings;
}
