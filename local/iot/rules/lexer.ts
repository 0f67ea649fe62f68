/** Splits AWS IoT SQL text into tokens; every token keeps its offset for error messages. */
import { SqlSyntaxError } from './errors';

export type Token =
  | { kind: 'word'; text: string; start: number; end: number }
  | { kind: 'number'; text: string; value: number; start: number; end: number }
  | { kind: 'string'; text: string; value: string; start: number; end: number }
  | { kind: 'symbol'; text: string; start: number; end: number }
  /** "..." or `...`: refused by the parser, see Parser.primary. */
  | { kind: 'quoted'; text: string; start: number; end: number }
  | { kind: 'end'; text: ''; start: number; end: number };

// Longest first, so that '<=' is not read as '<' then '='.
const SYMBOLS = [
  '<>',
  '!=',
  '<=',
  '>=',
  '==',
  ',',
  '.',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '*',
  '+',
  '-',
  '/',
  '%',
  '=',
  '<',
  '>',
];

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SPACE = /\s+/y;

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < sql.length) {
    const space = matchAt(SPACE, sql, at);
    if (space) {
      at += space.length;
      continue;
    }
    if (sql.startsWith('--', at) || sql.startsWith('/*', at)) {
      throw new SqlSyntaxError(`at position ${at}: comments are not supported in AWS IoT SQL`);
    }
    const char = sql.charAt(at);
    if (char === "'") {
      const token = readString(sql, at);
      tokens.push(token);
      at = token.end;
      continue;
    }
    if (char === '"' || char === '`') {
      const close = sql.indexOf(char, at + 1);
      if (close === -1) throw new SqlSyntaxError(`at position ${at}: unterminated ${char} quote`);
      tokens.push({ kind: 'quoted', text: sql.slice(at, close + 1), start: at, end: close + 1 });
      at = close + 1;
      continue;
    }
    const number = matchAt(NUMBER, sql, at);
    if (number) {
      tokens.push({
        kind: 'number',
        text: number,
        value: Number(number),
        start: at,
        end: at + number.length,
      });
      at += number.length;
      continue;
    }
    const word = matchAt(WORD, sql, at);
    if (word) {
      tokens.push({ kind: 'word', text: word, start: at, end: at + word.length });
      at += word.length;
      continue;
    }
    const symbol = SYMBOLS.find((candidate) => sql.startsWith(candidate, at));
    if (symbol) {
      tokens.push({ kind: 'symbol', text: symbol, start: at, end: at + symbol.length });
      at += symbol.length;
      continue;
    }
    // Left for the parser, which reports it as unexpected where it stands.
    tokens.push({ kind: 'symbol', text: char, start: at, end: at + 1 });
    at += 1;
  }
  tokens.push({ kind: 'end', text: '', start: sql.length, end: sql.length });
  return tokens;
}

function matchAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

/** A single-quoted string; '' inside it stands for one quote. */
function readString(sql: string, start: number): Token {
  let value = '';
  let at = start + 1;
  while (at < sql.length) {
    const char = sql.charAt(at);
    if (char === "'") {
      if (sql.charAt(at + 1) === "'") {
        value += "'";
        at += 2;
        continue;
      }
      return { kind: 'string', text: sql.slice(start, at + 1), value, start, end: at + 1 };
    }
    value += char;
    at += 1;
  }
  throw new SqlSyntaxError(`at position ${start}: unterminated string literal`);
}
