/**
 * Recursive-descent parser for the supported subset of AWS IoT SQL 2016-03-23. Whatever it does
 * not evaluate is refused by name (UnsupportedSqlError), so a rule never runs with a meaning that
 * differs from AWS.
 *
 * Precedence, loosest first: OR, AND, NOT, comparison and IS, + -, * / %, unary minus.
 */
import type {
  ArithmeticOperator,
  ComparisonOperator,
  Expr,
  FunctionName,
  PathSegment,
  SelectItem,
  Statement,
} from './ast';
import { SqlSyntaxError, UnsupportedSqlError } from './errors';
import { tokenize, type Token } from './lexer';
import { topicFilterProblem } from '../../../shared/topics';

const FUNCTIONS: readonly FunctionName[] = [
  'topic',
  'clientid',
  'timestamp',
  'principal',
  'newuuid',
];

// Words that never start a field reference.
const RESERVED = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AS',
  'AND',
  'OR',
  'NOT',
  'IS',
  'NULL',
  'UNDEFINED',
  'TRUE',
  'FALSE',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'LIKE',
  'IN',
  'BETWEEN',
]);

const UNSUPPORTED_OPERATORS = new Set(['LIKE', 'IN', 'BETWEEN']);

const COMPARISONS: Record<string, ComparisonOperator> = {
  '=': '=',
  '<>': '<>',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

export function parseStatement(sql: string): Statement {
  return new Parser(sql).statement();
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;

  constructor(private readonly sql: string) {
    this.tokens = tokenize(sql);
  }

  statement(): Statement {
    if (this.isWord('SET')) throw new UnsupportedSqlError('unsupported clause "SET"');
    this.expectWord('SELECT');
    if (this.isWord('VALUE') && this.startsExpression(this.peek(1))) {
      throw new UnsupportedSqlError('unsupported clause "SELECT VALUE"');
    }
    const select = this.selectList();
    if (!this.isWord('FROM')) throw this.expected('"," or FROM');
    this.next();
    const topicFilter = this.topicFilter();
    let where: Expr | undefined;
    if (this.isWord('WHERE')) {
      this.next();
      where = this.expression();
    }
    const rest = this.peek();
    if (rest.kind === 'word') {
      throw new UnsupportedSqlError(`unsupported clause "${rest.text.toUpperCase()}"`);
    }
    if (rest.kind !== 'end') {
      throw this.expected(where ? 'end of SQL' : 'WHERE or end of SQL');
    }
    return { select, topicFilter, where };
  }

  private selectList(): SelectItem[] {
    const items: SelectItem[] = [];
    let star = false;
    do {
      if (this.isSymbol('*')) {
        const token = this.next();
        if (star) {
          throw new SqlSyntaxError(`at position ${token.start}: * may appear only once in SELECT`);
        }
        star = true;
        items.push({ kind: 'star' });
      } else {
        items.push(this.selectItem());
      }
    } while (this.acceptSymbol(','));
    return items;
  }

  private selectItem(): SelectItem {
    const start = this.peek().start;
    const expr = this.expression();
    const text = this.sql.slice(start, this.peek(-1).end);
    if (!this.isWord('AS')) return { kind: 'expr', expr, key: keyOf(expr, text) };
    this.next();
    const alias = this.peek();
    if (alias.kind !== 'word' || RESERVED.has(alias.text.toUpperCase())) {
      throw this.expected('an alias name after AS');
    }
    this.next();
    if (this.isSymbol('.')) {
      const path = this.sql.slice(alias.start, this.peek(1).end);
      throw new UnsupportedSqlError(`unsupported dotted alias "${path}"`);
    }
    return { kind: 'expr', expr, key: alias.text };
  }

  private topicFilter(): string {
    const token = this.peek();
    if (token.kind !== 'string') throw this.expected("a single-quoted topic filter such as 'a/+'");
    const problem = topicFilterProblem(token.value);
    if (problem) {
      throw new SqlSyntaxError(`at position ${token.start}: invalid topic filter: ${problem}`);
    }
    this.next();
    return token.value;
  }

  private expression(): Expr {
    let left = this.and();
    while (this.isWord('OR')) {
      this.next();
      left = { kind: 'logical', op: 'OR', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isWord('AND')) {
      this.next();
      left = { kind: 'logical', op: 'AND', left, right: this.not() };
    }
    return left;
  }

  private not(): Expr {
    if (this.isWord('NOT')) {
      this.next();
      return { kind: 'not', operand: this.not() };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.additive();
    const token = this.peek();
    if (token.kind === 'symbol' && token.text === '==') {
      throw new UnsupportedSqlError('unsupported operator "==" (use =)');
    }
    const op = token.kind === 'symbol' ? COMPARISONS[token.text] : undefined;
    if (op) {
      this.next();
      return { kind: 'compare', op, left, right: this.additive() };
    }
    if (this.isWord('IS')) return this.isTest(left);
    this.refuseOperator(token, '');
    if (this.isWord('NOT')) this.refuseOperator(this.peek(1), 'NOT ');
    return left;
  }

  private refuseOperator(token: Token, prefix: string): void {
    if (token.kind === 'word' && UNSUPPORTED_OPERATORS.has(token.text.toUpperCase())) {
      throw new UnsupportedSqlError(`unsupported operator "${prefix}${token.text.toUpperCase()}"`);
    }
  }

  private isTest(operand: Expr): Expr {
    this.next();
    const negated = this.isWord('NOT');
    if (negated) this.next();
    const token = this.peek();
    const test = token.kind === 'word' ? token.text.toUpperCase() : '';
    if (test !== 'NULL' && test !== 'UNDEFINED') throw this.expected('NULL or UNDEFINED after IS');
    this.next();
    return { kind: 'is', operand, test, negated };
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      const op = this.arithmeticSymbol('+', '-');
      if (!op) return left;
      left = { kind: 'arithmetic', op, left, right: this.multiplicative() };
    }
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      const op = this.arithmeticSymbol('*', '/', '%');
      if (!op) return left;
      left = { kind: 'arithmetic', op, left, right: this.unary() };
    }
  }

  private arithmeticSymbol(...ops: ArithmeticOperator[]): ArithmeticOperator | undefined {
    const token = this.peek();
    const op = ops.find((candidate) => token.kind === 'symbol' && token.text === candidate);
    if (op) this.next();
    return op;
  }

  private unary(): Expr {
    if (!this.acceptSymbol('-')) return this.primary();
    const operand = this.unary();
    // Fold -5 into a literal, so that a negative number is a plain value.
    if (operand.kind === 'literal' && typeof operand.value === 'number') {
      return { kind: 'literal', value: operand.value === 0 ? 0 : -operand.value };
    }
    return { kind: 'negate', operand };
  }

  private primary(): Expr {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
        this.next();
        return { kind: 'literal', value: token.value };
      case 'string':
        this.next();
        return { kind: 'literal', value: token.value };
      case 'word':
        return this.wordExpression(token);
      case 'symbol':
        return this.symbolExpression(token);
      case 'quoted':
        // AWS documents single quotes for strings; whether a double-quoted or back-quoted token
        // is a string or a field name is not documented, so it is refused rather than guessed.
        throw new UnsupportedSqlError(
          `unsupported quoted token ${token.text} at position ${token.start} (use single quotes for strings)`,
        );
      case 'end':
        throw this.expected('an expression');
    }
  }

  private symbolExpression(token: Token): Expr {
    if (token.text === '(') {
      this.next();
      if (this.isWord('SELECT')) throw new UnsupportedSqlError('unsupported nested SELECT');
      const inner = this.expression();
      this.expectSymbol(')');
      return inner;
    }
    if (token.text === '{') throw new UnsupportedSqlError('unsupported object literal "{...}"');
    if (token.text === '[') throw new UnsupportedSqlError('unsupported array literal "[...]"');
    throw this.expected('an expression');
  }

  private wordExpression(token: Token): Expr {
    const upper = token.text.toUpperCase();
    if (upper === 'TRUE' || upper === 'FALSE' || upper === 'NULL') {
      this.next();
      return { kind: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE' };
    }
    if (upper === 'CASE') throw new UnsupportedSqlError('unsupported clause "CASE"');
    if (upper === 'SELECT') throw new UnsupportedSqlError('unsupported nested SELECT');
    if (upper === 'UNDEFINED') {
      throw new UnsupportedSqlError(
        'unsupported literal "UNDEFINED" (only IS [NOT] UNDEFINED is supported)',
      );
    }
    if (RESERVED.has(upper)) throw this.expected('an expression');
    if (this.peek(1).text === '(') return this.call(token);
    return this.field();
  }

  private call(nameToken: Token): Expr {
    const name = nameToken.text.toLowerCase();
    if (name === 'encode') return this.encode();
    const known = FUNCTIONS.find((candidate) => candidate === name);
    if (!known) throw new UnsupportedSqlError(`unsupported function "${name}()"`);
    this.next();
    this.expectSymbol('(');
    const args: Expr[] = [];
    if (!this.isSymbol(')')) {
      do args.push(this.expression());
      while (this.acceptSymbol(','));
    }
    this.expectSymbol(')');
    this.refuseMemberAccess(name);
    return { kind: 'call', name: known, args };
  }

  /** Only encode(*, 'base64'): the form that lets a Lambda action take a binary payload. */
  private encode(): Expr {
    this.next();
    this.expectSymbol('(');
    if (!this.acceptSymbol('*')) {
      throw new UnsupportedSqlError(
        "unsupported encode() argument: only encode(*, 'base64') is supported",
      );
    }
    this.expectSymbol(',');
    const scheme = this.peek();
    if (scheme.kind !== 'string' || scheme.value !== 'base64') {
      throw new UnsupportedSqlError(
        `unsupported encode() encoding ${scheme.text}: only 'base64' is supported`,
      );
    }
    this.next();
    this.expectSymbol(')');
    this.refuseMemberAccess('encode');
    return { kind: 'encodePayload' };
  }

  private refuseMemberAccess(name: string): void {
    if (this.isSymbol('.') || this.isSymbol('[')) {
      throw new UnsupportedSqlError(`unsupported member access on the result of ${name}()`);
    }
  }

  /** a, a.b.c, a[0], a[0].b */
  private field(): Expr {
    const path: PathSegment[] = [{ kind: 'key', name: this.next().text }];
    for (;;) {
      if (this.acceptSymbol('.')) {
        const name = this.peek();
        // Any word is a key here, keywords included: state.value, a.from.
        if (name.kind !== 'word') throw this.expected('a field name after "."');
        this.next();
        path.push({ kind: 'key', name: name.text });
      } else if (this.isSymbol('[')) {
        const open = this.next();
        const index = this.peek();
        if (index.kind !== 'number' || !/^\d+$/.test(index.text) || this.peek(1).text !== ']') {
          const close = this.sql.indexOf(']', open.start);
          const text = this.sql.slice(open.start, close === -1 ? undefined : close + 1);
          throw new UnsupportedSqlError(
            `unsupported array index "${text}" (only a non-negative integer literal)`,
          );
        }
        this.next();
        this.next();
        path.push({ kind: 'index', index: index.value });
      } else {
        return { kind: 'field', path };
      }
    }
  }

  private startsExpression(token: Token): boolean {
    if (token.kind === 'end') return false;
    if (token.kind === 'word') return !['FROM', 'AS'].includes(token.text.toUpperCase());
    if (token.kind === 'symbol') return ['(', '-', '*', '[', '{'].includes(token.text);
    return true;
  }

  private peek(offset = 0): Token {
    const index = Math.min(Math.max(this.at + offset, 0), this.tokens.length - 1);
    return this.tokens[index]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.at += 1;
    return token;
  }

  private isWord(word: string): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.text.toUpperCase() === word;
  }

  private isSymbol(symbol: string): boolean {
    const token = this.peek();
    return token.kind === 'symbol' && token.text === symbol;
  }

  private acceptSymbol(symbol: string): boolean {
    if (!this.isSymbol(symbol)) return false;
    this.next();
    return true;
  }

  private expectWord(word: string): void {
    if (!this.isWord(word)) throw this.expected(word);
    this.next();
  }

  private expectSymbol(symbol: string): void {
    if (!this.isSymbol(symbol)) throw this.expected(`"${symbol}"`);
    this.next();
  }

  private expected(what: string): SqlSyntaxError {
    const token = this.peek();
    const found = token.kind === 'end' ? 'end of SQL' : `"${token.text}"`;
    return new SqlSyntaxError(`at position ${token.start}: expected ${what}, found ${found}`);
  }
}

/**
 * The output key of an item without AS: the last name of a field path (a.b.c gives c), or the
 * function's name. AWS does not document the key of other expressions, so they need an alias.
 */
function keyOf(expr: Expr, text: string): string {
  if (expr.kind === 'field') {
    const last = expr.path[expr.path.length - 1];
    if (last?.kind === 'key') return last.name;
  }
  if (expr.kind === 'call') return expr.name;
  if (expr.kind === 'encodePayload') return 'encode';
  throw new UnsupportedSqlError(`unsupported unaliased expression "${text}" (add AS <name>)`);
}
