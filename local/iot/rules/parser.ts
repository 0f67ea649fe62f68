/**
 * Recursive-descent parser for AWS IoT SQL ("AWS IoT SQL reference": SELECT, FROM, WHERE, SET,
 * literals, CASE, JSON extensions, nested object queries). Whatever the offline engine does not
 * evaluate is refused by name (UnsupportedSqlError), so a rule never runs with a meaning that
 * differs from AWS.
 *
 * Precedence, loosest first: OR, AND, NOT, comparison and IS, + -, * / %, unary minus, then the
 * postfix steps `.name` and `[index]`.
 */
import type {
  ArithmeticOperator,
  ComparisonOperator,
  Expr,
  Query,
  SelectItem,
  SqlVersion,
  Statement,
} from './ast';
import { SqlSyntaxError, UnsupportedSqlError } from './errors';
import { functionProblem } from './functions';
import { lookupTable } from '../lookup';
import { tokenize, type Token } from './lexer';
import { topicFilterProblem } from '../../../shared/topics';

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
  'SET',
]);

// Not part of AWS IoT SQL; refused by name rather than reported as a syntax error.
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

/** "cast()": the type keywords of both versions, and those 2016-03-23 adds. */
const CAST_TYPES = lookupTable<{ type: string; since: SqlVersion }>({
  string: { type: 'String', since: '2015-10-08' },
  nvarchar: { type: 'String', since: '2015-10-08' },
  text: { type: 'String', since: '2015-10-08' },
  ntext: { type: 'String', since: '2015-10-08' },
  varchar: { type: 'String', since: '2015-10-08' },
  int: { type: 'Int', since: '2015-10-08' },
  integer: { type: 'Int', since: '2015-10-08' },
  double: { type: 'Double', since: '2015-10-08' },
  decimal: { type: 'Decimal', since: '2016-03-23' },
  bool: { type: 'Boolean', since: '2016-03-23' },
  boolean: { type: 'Boolean', since: '2016-03-23' },
});

/** "SET clause": variable names up to 64 characters. */
const MAX_VARIABLE_NAME = 64;

/** `services`: aws_lambda() and get_dynamodb() may be used (the engine has offline services). */
export function parseStatement(
  sql: string,
  version: SqlVersion = '2016-03-23',
  services = false,
): Statement {
  return new Parser(sql, version, services).statement();
}

/** One expression alone, as in a `${…}` substitution template; `variables` are the rule's SET ones. */
export function parseExpression(
  text: string,
  version: SqlVersion,
  variables: readonly { name: string }[],
): Expr {
  const parser = new Parser(text, version, false);
  for (const { name } of variables) parser.declare(name);
  return parser.standaloneExpression();
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;
  private readonly variables = new Set<string>();

  constructor(
    private readonly sql: string,
    private readonly version: SqlVersion,
    private readonly services = false,
  ) {
    this.tokens = tokenize(sql);
  }

  declare(name: string): void {
    this.variables.add(name);
  }

  standaloneExpression(): Expr {
    const expr = this.expression();
    if (this.peek().kind !== 'end') throw this.expected('end of the expression');
    return expr;
  }

  statement(): Statement {
    const variables = this.isWord('SET') ? this.setClause() : [];
    this.expectWord('SELECT');
    const { value, items } = this.selectList();
    let topicFilter: string | undefined;
    if (this.isWord('FROM')) {
      this.next();
      topicFilter = this.topicFilter();
    } else if (!this.isWord('WHERE') && this.peek().kind !== 'end') {
      throw this.expected('"," or FROM');
    }
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
    return { variables, value, items, from: undefined, where, topicFilter };
  }

  /** SET @a = expr, @b = expr (each once; a later one may use an earlier one). */
  private setClause(): { name: string; expr: Expr }[] {
    this.next();
    const variables: { name: string; expr: Expr }[] = [];
    do {
      const token = this.peek();
      if (token.kind !== 'variable') throw this.expected('a variable such as @name after SET');
      if (token.name.length > MAX_VARIABLE_NAME) {
        throw new SqlSyntaxError(
          `at position ${token.start}: variable names are at most ${MAX_VARIABLE_NAME} characters`,
        );
      }
      if (this.variables.has(token.name)) {
        throw new SqlSyntaxError(
          `at position ${token.start}: @${token.name} is assigned twice (variables are immutable)`,
        );
      }
      this.next();
      this.expectSymbol('=');
      const expr = this.expression();
      this.variables.add(token.name);
      variables.push({ name: token.name, expr });
    } while (this.acceptSymbol(','));
    if (this.isWord('SET')) {
      throw new SqlSyntaxError(`at position ${this.peek().start}: SET may appear only once`);
    }
    return variables;
  }

  private selectList(): Pick<Query, 'value' | 'items'> {
    if (this.isWord('VALUE') && this.startsExpression(this.peek(1))) {
      this.next();
      return { value: this.expression(), items: [] };
    }
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
    return { value: undefined, items };
  }

  private selectItem(): SelectItem {
    const start = this.peek().start;
    const expr = this.expression();
    const text = this.sql.slice(start, this.peek(-1).end);
    if (!this.isWord('AS')) return { kind: 'expr', expr, path: [keyOf(expr, text)] };
    this.next();
    // "JSON extensions": SELECT foo.bar AS bar.baz nests the output.
    const path = [this.aliasName()];
    while (this.acceptSymbol('.')) path.push(this.aliasName());
    return { kind: 'expr', expr, path };
  }

  private aliasName(): string {
    const alias = this.peek();
    if (
      alias.kind !== 'word' ||
      (RESERVED.has(alias.text.toUpperCase()) && this.peek(-1).text !== '.')
    ) {
      throw this.expected('an alias name after AS');
    }
    this.next();
    return alias.text;
  }

  private topicFilter(): string {
    const token = this.peek();
    // "FROM clause": "You must enclose the topic or topic filter in single quotes".
    if (token.kind !== 'string' || token.quote !== "'") {
      throw this.expected("a single-quoted topic filter such as 'a/+'");
    }
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
      throw new UnsupportedSqlError(
        `unsupported operator "${prefix}${token.text.toUpperCase()}" (not part of AWS IoT SQL)`,
      );
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
    if (!this.acceptSymbol('-')) return this.postfix(this.primary());
    const operand = this.unary();
    // Fold -5 into a literal, so that a negative number is a plain value.
    if (operand.kind === 'literal' && typeof operand.value === 'number') {
      return { kind: 'literal', value: operand.value === 0 ? 0 : -operand.value };
    }
    return { kind: 'negate', operand };
  }

  /** `.name` and `[index]` after any value: a.b[0].c, get(…).v, decode(…).temperature. */
  private postfix(target: Expr): Expr {
    for (;;) {
      if (this.acceptSymbol('.')) {
        const name = this.peek();
        // Any word is a key here, keywords included: state.value, a.from.
        if (name.kind !== 'word') throw this.expected('a field name after "."');
        this.next();
        target = { kind: 'member', target, step: { kind: 'key', name: name.text } };
      } else if (this.acceptSymbol('[')) {
        const index = this.expression();
        this.expectSymbol(']');
        target = { kind: 'member', target, step: { kind: 'index', index } };
      } else {
        return target;
      }
    }
  }

  private primary(): Expr {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
      case 'string':
        this.next();
        return { kind: 'literal', value: token.value };
      case 'variable':
        if (!this.variables.has(token.name)) {
          throw new SqlSyntaxError(
            `at position ${token.start}: @${token.name} is not defined by the SET clause before it`,
          );
        }
        this.next();
        return { kind: 'variable', name: token.name };
      case 'word':
        return this.wordExpression(token);
      case 'symbol':
        return this.symbolExpression(token);
      case 'quoted':
        // AWS documents no meaning for a back-quoted token: refused rather than guessed.
        throw new UnsupportedSqlError(
          `unsupported quoted token ${token.text} at position ${token.start} (use quotes for strings)`,
        );
      case 'end':
        throw this.expected('an expression');
    }
  }

  private symbolExpression(token: Token): Expr {
    if (token.text === '(') {
      this.next();
      const inner = this.isWord('SELECT') ? this.nestedSelect() : this.expression();
      this.expectSymbol(')');
      return inner;
    }
    if (token.text === '{') return this.objectLiteral();
    if (token.text === '[') return this.arrayLiteral();
    throw this.expected('an expression');
  }

  /** "Literals" (2016-03-23 and later): {'key': expr, …} */
  private objectLiteral(): Expr {
    this.since('2016-03-23', 'object literal "{...}"');
    this.next();
    const entries: { key: string; value: Expr }[] = [];
    if (!this.isSymbol('}')) {
      do {
        const key = this.peek();
        if (key.kind !== 'string' && key.kind !== 'word') throw this.expected('a key in quotes');
        this.next();
        this.expectSymbol(':');
        entries.push({
          key: key.kind === 'string' ? key.value : key.text,
          value: this.expression(),
        });
      } while (this.acceptSymbol(','));
    }
    this.expectSymbol('}');
    return { kind: 'object', entries };
  }

  /** "Literals" (2016-03-23 and later): [expr, …] */
  private arrayLiteral(): Expr {
    this.since('2016-03-23', 'array literal "[...]"');
    this.next();
    const items: Expr[] = [];
    if (!this.isSymbol(']')) {
      do items.push(this.expression());
      while (this.acceptSymbol(','));
    }
    this.expectSymbol(']');
    return { kind: 'array', items };
  }

  /** "Nested object queries" (2016-03-23 and later): (SELECT [VALUE] … FROM expr [WHERE …]) */
  private nestedSelect(): Expr {
    this.since('2016-03-23', 'nested SELECT');
    this.next();
    const { value, items } = this.selectList();
    this.expectWord('FROM');
    const from = this.expression();
    let where: Expr | undefined;
    if (this.isWord('WHERE')) {
      this.next();
      where = this.expression();
    }
    return { kind: 'select', query: { value, items, from, where } };
  }

  private wordExpression(token: Token): Expr {
    const upper = token.text.toUpperCase();
    if (upper === 'TRUE' || upper === 'FALSE' || upper === 'NULL') {
      this.next();
      return { kind: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE' };
    }
    if (upper === 'CASE') return this.caseExpression();
    if (upper === 'SELECT') throw this.expected('a nested SELECT in parentheses');
    if (upper === 'UNDEFINED') {
      throw new UnsupportedSqlError(
        'unsupported literal "UNDEFINED" (use IS [NOT] UNDEFINED or isUndefined())',
      );
    }
    if (RESERVED.has(upper)) throw this.expected('an expression');
    if (this.peek(1).text === '(') return this.call(token);
    this.next();
    return { kind: 'field', name: token.text };
  }

  /** "Case statements": CASE v WHEN t THEN r … [ELSE e] END; also CASE WHEN condition THEN r …. */
  private caseExpression(): Expr {
    this.next();
    const subject = this.isWord('WHEN') ? undefined : this.expression();
    const branches: { when: Expr; then: Expr }[] = [];
    while (this.isWord('WHEN')) {
      this.next();
      const when = this.expression();
      this.expectWord('THEN');
      branches.push({ when, then: this.expression() });
    }
    if (branches.length === 0) throw this.expected('WHEN (CASE needs at least one)');
    let otherwise: Expr | undefined;
    if (this.isWord('ELSE')) {
      this.next();
      otherwise = this.expression();
    }
    this.expectWord('END');
    return { kind: 'case', subject, branches, otherwise };
  }

  private call(nameToken: Token): Expr {
    const name = nameToken.text.toLowerCase();
    this.next();
    this.expectSymbol('(');
    if (name === 'cast') return this.cast();
    const problem = functionProblem(name, this.version, this.services);
    if (problem) throw new UnsupportedSqlError(problem);
    const args: Expr[] = [];
    if (!this.isSymbol(')')) {
      do {
        // `*` stands for the whole payload in encode(*, …) and aws_lambda(…, *).
        if (this.isSymbol('*') && [',', ')'].includes(this.peek(1).text)) {
          this.next();
          args.push({ kind: 'payload' });
        } else {
          args.push(this.expression());
        }
      } while (this.acceptSymbol(','));
    }
    this.expectSymbol(')');
    return { kind: 'call', name, args };
  }

  /** cast(value AS type) */
  private cast(): Expr {
    const value = this.expression();
    this.expectWord('AS');
    const token = this.peek();
    // A lookup table: `cast(x AS constructor)` finds no type.
    const keyword = token.kind === 'word' ? CAST_TYPES[token.text.toLowerCase()] : undefined;
    if (!keyword) {
      throw new UnsupportedSqlError(
        `unsupported cast() type ${token.text || 'end of SQL'} (String, Nvarchar, Text, Ntext, ` +
          'Varchar, Int, Integer, Double, Decimal, Bool, Boolean)',
      );
    }
    this.since(keyword.since, `cast() to ${token.text}`);
    this.next();
    this.expectSymbol(')');
    return { kind: 'cast', value, type: keyword.type };
  }

  /** Refuses a 2016-03-23 feature in a rule that asked for 2015-10-08 ("SQL versions"). */
  private since(version: SqlVersion, what: string): void {
    if (version === '2016-03-23' && this.version === '2015-10-08') {
      throw new UnsupportedSqlError(
        `${what} needs SQL version 2016-03-23; this rule asks for 2015-10-08`,
      );
    }
  }

  private startsExpression(token: Token): boolean {
    if (token.kind === 'end') return false;
    if (token.kind === 'word') return !['FROM', 'AS'].includes(token.text.toUpperCase());
    if (token.kind === 'symbol') return ['(', '-', '[', '{'].includes(token.text);
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
  if (expr.kind === 'field') return expr.name;
  if (expr.kind === 'member' && expr.step.kind === 'key') return expr.step.name;
  if (expr.kind === 'call') return expr.name;
  throw new UnsupportedSqlError(`unsupported unaliased expression "${text}" (add AS <name>)`);
}
