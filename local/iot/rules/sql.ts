/**
 * AWS IoT SQL (version 2016-03-23) for the offline IoT Core rules engine: compileRule() parses a
 * rule's SQL once; evaluate() answers, for each published message, whether the rule skips it,
 * what object its action receives, or why the action cannot take it.
 */
import { randomUUID } from 'node:crypto';

import type { Expr, SelectItem, Statement } from './ast';
import { parseStatement } from './parser';
import { jsonDepth } from '../../../shared/telemetry/payload';
import { topicMatches } from '../../../shared/topics';
import {
  arithmetic,
  compare,
  isObject,
  logical,
  negate,
  not,
  toDecimal,
  type Json,
  type Value,
} from './values';

export { SqlSyntaxError, UnsupportedSqlError } from './errors';
export { topicFilterProblem, topicMatches } from '../../../shared/topics';

export interface RuleMessage {
  topic: string;
  payload: Buffer;
  clientId?: string;
  principal?: string;
  /** When the broker received the message, ms since the epoch; Date.now() if absent. */
  timestamp?: number;
}

export type RuleResult =
  /** The topic does not match FROM, or WHERE is not true. */
  | { kind: 'skip' }
  /** The JSON object the rule's action receives. */
  | { kind: 'output'; value: Record<string, unknown> }
  /** The action cannot take this message: it goes to the rule's error action. */
  | { kind: 'error'; reason: string };

export interface CompiledRule {
  sql: string;
  topicFilter: string;
  evaluate(message: RuleMessage): RuleResult;
}

const NOT_ENCODED =
  "a Lambda action cannot take a binary payload unless the SQL encodes it (encode(*, 'base64'))";
export const BINARY_PAYLOAD_REASON = `payload is not JSON: ${NOT_ENCODED}`;

/**
 * AWS IoT documents no nesting limit for JSON in rule SQL (AWS IoT Core quotas; "JSON
 * extensions"). This engine evaluates recursively, and its action serializes the output with
 * JSON.stringify, which overflows the stack some thousand levels down; so JSON nested deeper than
 * this is read as a payload that is not JSON (fields are Undefined, * cannot take it) and such a
 * message is dead-lettered with this reason rather than lost. encode(*, 'base64') never parses
 * the payload, so the deployed telemetry rule takes any depth, as on AWS.
 */
export const MAX_RULE_JSON_DEPTH = 1000;
export const DEEP_PAYLOAD_REASON = `payload JSON is nested deeper than ${MAX_RULE_JSON_DEPTH} levels, which the offline rules engine does not parse, so it is treated as binary: ${NOT_ENCODED}`;

/** Throws SqlSyntaxError for malformed SQL, UnsupportedSqlError for SQL this engine cannot run. */
export function compileRule(sql: string): CompiledRule {
  const statement = parseStatement(sql);
  const needsJson = statement.select.some(readsPayloadAsJson);
  // encode(*) and functions alone never look into the payload: it is then not parsed at all.
  const readsJson = needsJson || (statement.where !== undefined && mentionsField(statement.where));
  return {
    sql,
    topicFilter: statement.topicFilter,
    evaluate: (message) => {
      // Whatever goes wrong, the message must end in the error action, not vanish.
      try {
        return evaluate(statement, needsJson, readsJson, message);
      } catch (error) {
        return { kind: 'error', reason: `the rule's SQL failed: ${String(error)}` };
      }
    },
  };
}

type Payload =
  | { kind: 'json'; value: Json }
  /** "If you have an empty or a JSON payload, the resulting payload can have data added" */
  | { kind: 'empty' }
  | { kind: 'binary'; reason: string }
  | { kind: 'unread' };

interface Context {
  message: RuleMessage;
  /** The parsed payload; undefined when it is not JSON, so that every field is Undefined. */
  root: Value;
  /** One timestamp per message, so that every timestamp() in a rule agrees. */
  timestamp: number;
}

function evaluate(
  statement: Statement,
  needsJson: boolean,
  readsJson: boolean,
  message: RuleMessage,
): RuleResult {
  if (!topicMatches(statement.topicFilter, message.topic)) return { kind: 'skip' };
  const payload: Payload = readsJson ? readPayload(message.payload) : { kind: 'unread' };
  const context: Context = {
    message,
    root: payload.kind === 'json' ? payload.value : undefined,
    timestamp: message.timestamp ?? Date.now(),
  };
  if (statement.where && evaluateExpr(statement.where, context) !== true) return { kind: 'skip' };
  if (payload.kind === 'binary' && needsJson) return { kind: 'error', reason: payload.reason };

  const output: Record<string, unknown> = {};
  if (payload.kind === 'json' && statement.select.some((item) => item.kind === 'star')) {
    if (!isObject(context.root)) {
      return {
        kind: 'error',
        reason: `payload is JSON but not an object (${jsonType(context.root)}): SELECT * cannot make it the output object`,
      };
    }
    Object.assign(output, context.root);
  }
  for (const item of statement.select) {
    if (item.kind !== 'expr') continue;
    const value = evaluateExpr(item.expr, context);
    // Undefined is not representable in JSON: the key is left out.
    if (value !== undefined) output[item.key] = value;
  }
  return { kind: 'output', value: output };
}

function jsonType(value: Value): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readPayload(bytes: Buffer): Payload {
  if (bytes.length === 0) return { kind: 'empty' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { kind: 'binary', reason: BINARY_PAYLOAD_REASON };
  }
  // Counted before parsing: JSON.parse itself copes, the evaluation and the action would not.
  if (jsonDepth(text) > MAX_RULE_JSON_DEPTH) return { kind: 'binary', reason: DEEP_PAYLOAD_REASON };
  try {
    return { kind: 'json', value: JSON.parse(text) as Json };
  } catch {
    return { kind: 'binary', reason: BINARY_PAYLOAD_REASON };
  }
}

function evaluateExpr(expr: Expr, context: Context): Value {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'field':
      return readPath(context.root, expr);
    case 'call':
      return callFunction(expr, context);
    case 'encodePayload':
      return context.message.payload.toString('base64');
    case 'negate':
      return negate(evaluateExpr(expr.operand, context));
    case 'not':
      return not(evaluateExpr(expr.operand, context));
    case 'logical':
      return logical(expr.op, evaluateExpr(expr.left, context), evaluateExpr(expr.right, context));
    case 'compare':
      return compare(expr.op, evaluateExpr(expr.left, context), evaluateExpr(expr.right, context));
    case 'arithmetic':
      return arithmetic(
        expr.op,
        evaluateExpr(expr.left, context),
        evaluateExpr(expr.right, context),
      );
    case 'is': {
      const value = evaluateExpr(expr.operand, context);
      const holds = expr.test === 'NULL' ? value === null : value === undefined;
      return holds !== expr.negated;
    }
  }
}

function readPath(root: Value, field: Extract<Expr, { kind: 'field' }>): Value {
  let value = root;
  for (const segment of field.path) {
    if (segment.kind === 'key') {
      if (!isObject(value) || !Object.hasOwn(value, segment.name)) return undefined;
      value = value[segment.name];
    } else {
      if (!Array.isArray(value)) return undefined;
      value = value[segment.index];
    }
  }
  return value;
}

/** As AWS documents: a function given wrong arguments returns Undefined. */
function callFunction(call: Extract<Expr, { kind: 'call' }>, context: Context): Value {
  const { message } = context;
  const args = call.args.map((arg) => evaluateExpr(arg, context));
  if (call.name === 'topic') {
    if (args.length === 0) return message.topic;
    if (args.length > 1) return undefined;
    const n = toDecimal(args[0]);
    if (n === undefined || !Number.isInteger(n) || n < 1) return undefined;
    return message.topic.split('/')[n - 1];
  }
  if (args.length > 0) return undefined;
  switch (call.name) {
    case 'clientid':
      // AWS answers n/a for messages that did not come over MQTT (HTTPS publish).
      return message.clientId ?? 'n/a';
    case 'principal':
      return message.principal;
    case 'timestamp':
      return context.timestamp;
    case 'newuuid':
      return randomUUID();
  }
}

/** Whether an item reads the payload as JSON: *, or a field anywhere inside it. */
function readsPayloadAsJson(item: SelectItem): boolean {
  return item.kind === 'star' || mentionsField(item.expr);
}

function mentionsField(expr: Expr): boolean {
  switch (expr.kind) {
    case 'field':
      return true;
    case 'literal':
    case 'encodePayload':
      return false;
    case 'call':
      return expr.args.some(mentionsField);
    case 'negate':
    case 'not':
    case 'is':
      return mentionsField(expr.operand);
    case 'logical':
    case 'compare':
    case 'arithmetic':
      return mentionsField(expr.left) || mentionsField(expr.right);
  }
}
