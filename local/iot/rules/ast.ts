/** The parsed form of AWS IoT SQL (versions 2015-10-08 and 2016-03-23). */
import type { Json } from './values';

export type SqlVersion = '2015-10-08' | '2016-03-23' | 'beta';

export type ComparisonOperator = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

/** A step into a value: `.name` or `[index]`. */
export type Step = { kind: 'key'; name: string } | { kind: 'index'; index: Expr };

export type Expr =
  | { kind: 'literal'; value: Json }
  /** A name at the top of the payload (or of the nested SELECT's element). */
  | { kind: 'field'; name: string }
  /** A SET variable, @name. */
  | { kind: 'variable'; name: string }
  /** `*` where a function takes the whole payload: encode(*, 'base64'), aws_lambda(…, *). */
  | { kind: 'payload' }
  | { kind: 'member'; target: Expr; step: Step }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'cast'; value: Expr; type: string }
  | { kind: 'negate'; operand: Expr }
  | { kind: 'not'; operand: Expr }
  | { kind: 'logical'; op: 'AND' | 'OR'; left: Expr; right: Expr }
  | { kind: 'compare'; op: ComparisonOperator; left: Expr; right: Expr }
  | { kind: 'arithmetic'; op: ArithmeticOperator; left: Expr; right: Expr }
  | { kind: 'is'; operand: Expr; test: 'NULL' | 'UNDEFINED'; negated: boolean }
  | {
      kind: 'case';
      /** CASE v WHEN t THEN r …; absent for CASE WHEN condition THEN r … */
      subject: Expr | undefined;
      branches: { when: Expr; then: Expr }[];
      otherwise: Expr | undefined;
    }
  | { kind: 'object'; entries: { key: string; value: Expr }[] }
  | { kind: 'array'; items: Expr[] }
  | { kind: 'select'; query: Query };

/** An output item; `path` is the (possibly dotted) output key, as in `AS a.b`. */
export type SelectItem = { kind: 'star' } | { kind: 'expr'; expr: Expr; path: string[] };

export interface Query {
  /** SELECT VALUE expr: the output is that value itself, not an object. */
  value: Expr | undefined;
  items: SelectItem[];
  /** The nested SELECT's FROM: an expression over the enclosing element. */
  from: Expr | undefined;
  where: Expr | undefined;
}

export interface Statement extends Query {
  /** SET @name = expr, … in order. */
  variables: { name: string; expr: Expr }[];
  /** Undefined only for a rule meant for Basic Ingest alone (FROM is optional then). */
  topicFilter: string | undefined;
}
