/** The parsed form of the supported AWS IoT SQL subset. */
import type { Json } from './values';

export type PathSegment = { kind: 'key'; name: string } | { kind: 'index'; index: number };

export type FunctionName = 'topic' | 'clientid' | 'timestamp' | 'principal' | 'newuuid';

export type ComparisonOperator = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';

export type Expr =
  | { kind: 'literal'; value: Json }
  | { kind: 'field'; path: PathSegment[] }
  | { kind: 'call'; name: FunctionName; args: Expr[] }
  /** encode(*, 'base64'): the raw payload bytes, so it also works for binary payloads. */
  | { kind: 'encodePayload' }
  | { kind: 'negate'; operand: Expr }
  | { kind: 'not'; operand: Expr }
  | { kind: 'logical'; op: 'AND' | 'OR'; left: Expr; right: Expr }
  | { kind: 'compare'; op: ComparisonOperator; left: Expr; right: Expr }
  | { kind: 'arithmetic'; op: ArithmeticOperator; left: Expr; right: Expr }
  | { kind: 'is'; operand: Expr; test: 'NULL' | 'UNDEFINED'; negated: boolean };

export type SelectItem = { kind: 'star' } | { kind: 'expr'; expr: Expr; key: string };

export interface Statement {
  select: SelectItem[];
  topicFilter: string;
  where: Expr | undefined;
}
