/** Splits AWS IoT SQL text into tokens; every token keeps its offset for error messages. */
import { SqlSyntaxError } from './errors';

export type Token =
  | { kind: 'word'; text: string; start: number; end: number }
  | { kind: 'number'; text: string; value: number; start: number; end: number }
  | { kind: 'string'; text: string; value: string; start: number; end: number; quote: string }
  | { kind: 'symbol'; text: string; start: number; end: number }
  /** `...`: refused by the parser, see Parser.primary. */
  | { kind: 'quoted'; text: string; start: number; end: number }
  /** @name: a SET variable. */
  | { kind: 'variable'; text: string; name: string; start: number; end: number }
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
  ':',
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
    if (char === "'" || char === '"') {
      // AWS's own examples write strings in double quotes too: concat("con", "cat").
      const token = readString(sql, at, char);
      tokens.push(token);
      at = token.end;
      continue;
    }
    if (char === '@') {
      const name = matchAt(WORD, sql, at + 1);
      if (!name) throw new SqlSyntaxError(`at position ${at}: expected a variable name after @`);
      const end = at + 1 + name.length;
      tokens.push({ kind: 'variable', text: sql.slice(at, end), name, start: at, end });
      at = end;
      continue;
    }
    if (char === '`') {
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

/** A quoted string; the quote doubled inside it stands for one quote. */
function readString(sql: string, start: number, quote: string): Token {
  let value = '';
  let at = start + 1;
  while (at < sql.length) {
    const char = sql.charAt(at);
    if (char === quote) {
      if (sql.charAt(at + 1) === quote) {
        value += quote;
        at += 2;
        continue;
      }
      return { kind: 'string', text: sql.slice(start, at + 1), value, start, end: at + 1, quote };
    }
    value += char;
    at += 1;
  }
  throw new SqlSyntaxError(`at position ${start}: unterminated string literal`);
}
