/**
 * IAM-style string patterns: `*` matches any run of characters (`/` included), `?` exactly one,
 * and, where variables are on, `${name}` is replaced by a value that is matched literally (a
 * client id of `a*` does not become a wildcard). `${*}`, `${?}` and `${$}` are the literal
 * characters.
 */
import { lookupTable } from '../lookup';

const ANY = Symbol('*');
const ONE = Symbol('?');

/** One code point to match literally, or a wildcard. */
type PatternChar = string | typeof ANY | typeof ONE;
export type Pattern = readonly PatternChar[];

const LITERAL_ESCAPES = lookupTable({ '*': '*', '?': '?', $: '$' });

/** A pattern with wildcards only: `${…}` is plain text. */
export function wildcardPattern(text: string): Pattern {
  return Array.from(text, wildcardChar);
}

/**
 * A pattern whose `${name}` variables are replaced through `resolve`; the first variable without
 * a value is returned instead, as the statement cannot match.
 */
export function resourcePattern(
  text: string,
  resolve: (name: string) => string | undefined,
): { pattern: Pattern } | { unresolved: string } {
  const pattern: PatternChar[] = [];
  let rest = text;
  while (rest.length > 0) {
    const start = rest.indexOf('${');
    const end = start < 0 ? -1 : rest.indexOf('}', start + 2);
    if (end < 0) {
      pattern.push(...wildcardPattern(rest));
      break;
    }
    pattern.push(...wildcardPattern(rest.slice(0, start)));
    const name = rest.slice(start + 2, end);
    const value = LITERAL_ESCAPES[name] ?? resolve(name);
    if (value === undefined) return { unresolved: name };
    pattern.push(...Array.from(value));
    rest = rest.slice(end + 1);
  }
  return { pattern };
}

/** Whether the whole of `text` matches; linear in practice, O(pattern × text) at worst. */
export function wildcardMatch(pattern: Pattern, text: string): boolean {
  const chars = Array.from(text);
  let p = 0;
  let t = 0;
  // Where the last `*` was, and how much of the text it has taken so far.
  let star = -1;
  let starText = 0;
  while (t < chars.length) {
    const expected = pattern[p];
    if (expected === ONE || (expected !== undefined && expected === chars[t])) {
      p += 1;
      t += 1;
    } else if (expected === ANY) {
      star = p;
      starText = t;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      starText += 1;
      t = starText;
    } else {
      return false;
    }
  }
  while (pattern[p] === ANY) p += 1;
  return p === pattern.length;
}

function wildcardChar(char: string): PatternChar {
  return char === '*' ? ANY : char === '?' ? ONE : char;
}
