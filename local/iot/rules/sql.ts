/**
 * AWS IoT SQL for the offline IoT Core rules engine: compileRule() parses a rule's SQL once;
 * evaluate() answers, for each published message, whether the rule skips it, what its actions
 * receive, or why they cannot take it. compileTemplate() does the same for the `${…}`
 * substitution templates in action parameters.
 *
 * Reference: the "AWS IoT SQL reference" of the AWS IoT developer guide (SELECT, FROM, WHERE,
 * SET, data types, operators, functions, literals, CASE, JSON extensions, nested object queries,
 * "Working with binary payloads", "SQL versions", "Substitution templates").
 */
import type { Expr, Query, SqlVersion, Statement } from './ast';
import type { MessageProperties } from '../broker/mqtt5';
import { SqlSyntaxError, UnsupportedSqlError } from './errors';
import { callFunction, cast, SERVICE_FUNCTIONS, type FunctionContext } from './functions';
import { parseExpression, parseStatement } from './parser';
import { jsonDepth } from '../../../shared/telemetry/payload';
import { topicMatches } from '../../../shared/topics';
import {
  arithmetic,
  compare,
  isObject,
  logical,
  negate,
  not,
  toBoolean,
  toDecimal,
  toSqlString,
  type Json,
  type Value,
} from './values';

export { SqlSyntaxError, UnsupportedSqlError } from './errors';
export { topicMatches } from '../../../shared/topics';
export type { SqlVersion } from './ast';

export const SQL_VERSIONS: readonly SqlVersion[] = ['2015-10-08', '2016-03-23', 'beta'];
/** The version CloudFormation and the framework's iot event use when none is given. */
export const DEFAULT_SQL_VERSION: SqlVersion = '2015-10-08';

export interface RuleMessage {
  /** The topic as the rule sees it: for Basic Ingest, without the `$aws/rules/<rule>/` prefix. */
  topic: string;
  payload: Buffer;
  clientId?: string;
  principal?: string;
  /** When the broker received the message, ms since the epoch; Date.now() if absent. */
  timestamp?: number;
  /** The MQTT message's trace id; absent for messages that did not come over MQTT. */
  traceId?: string;
  sourceIp?: string;
  /** The MQTT 5 properties of an MQTT 5 publish (get_user_properties, get_mqtt_property). */
  properties?: MessageProperties | undefined;
  /**
   * Came in on `$aws/rules/<this rule>/…` (Basic Ingest): the rule was addressed by name, so FROM
   * (optional for such rules) does not filter it.
   */
  basicIngest?: boolean;
}

export type RuleResult =
  /** The topic does not match FROM, or WHERE is not true. */
  | { kind: 'skip' }
  /** The JSON value the rule's actions receive (an object, or anything with SELECT VALUE). */
  | { kind: 'output'; value: Json }
  /**
   * The payload as raw bytes ("Working with binary payloads": SELECT * alone on a payload that is
   * not JSON). Actions that need JSON (Lambda, DynamoDBv2) cannot take it.
   */
  | { kind: 'binary'; payload: Buffer; reason: string }
  /** The rule cannot produce an output for this message: it goes to the rule's error action. */
  | { kind: 'error'; reason: string };

export interface CompileOptions {
  /** awsIotSqlVersion; the framework and CloudFormation default to 2015-10-08. */
  sqlVersion?: SqlVersion;
  /** What accountid() answers. */
  accountId?: string;
  /**
   * The engine has offline services for aws_lambda() and get_dynamodb() (RuleServices); without
   * them those functions are refused by name.
   */
  services?: boolean;
}

/** The offline services that aws_lambda() and get_dynamodb() call. */
export interface RuleServices {
  /** Invokes a function synchronously and answers its JSON result. */
  invokeLambda(functionName: string, input: Value): Promise<Value>;
  /** GetItem: the item, or undefined when there is none. */
  getItem(table: string, key: Record<string, Json>): Promise<Value>;
}

/** "get_dynamodb()": more than 8 KB of data and "the rule's action may not be invoked". */
const MAX_GET_DYNAMODB_BYTES = 8 * 1024;

export interface CompiledRule {
  sql: string;
  sqlVersion: SqlVersion;
  /** Undefined for a rule meant only for Basic Ingest (its FROM is optional). */
  topicFilter: string | undefined;
  evaluate(message: RuleMessage): RuleResult;
  /** Whether the SQL calls aws_lambda() or get_dynamodb(): then use evaluateWith(). */
  usesServices: boolean;
  /** evaluate() for a rule that calls services: they are called first, then the SQL runs. */
  evaluateWith(message: RuleMessage, services: RuleServices): Promise<RuleResult>;
  /** A `${…}` substitution template of one of this rule's actions (it may use SET variables). */
  template(text: string): CompiledTemplate;
}

export interface CompiledTemplate {
  text: string;
  /** Whether the template reads fields of the payload (not allowed with a binary payload). */
  readsPayload: boolean;
  render(message: RuleMessage): string;
}

const NOT_ENCODED =
  "a Lambda action cannot take a binary payload unless the SQL encodes it (encode(*, 'base64'))";
export const BINARY_PAYLOAD_REASON = `payload is not JSON: ${NOT_ENCODED}`;

/**
 * AWS IoT documents no nesting limit for JSON in rule SQL (AWS IoT Core quotas; "JSON
 * extensions"). This engine evaluates recursively, and its actions serialize the output with
 * JSON.stringify, which overflows the stack some thousand levels down; so JSON nested deeper than
 * this is read as a payload that is not JSON (fields are Undefined, * cannot take it) and such a
 * message is dead-lettered with this reason rather than lost. encode(*, 'base64') never parses
 * the payload, so the deployed telemetry rule takes any depth, as on AWS.
 */
export const MAX_RULE_JSON_DEPTH = 1000;
export const DEEP_PAYLOAD_REASON = `payload JSON is nested deeper than ${MAX_RULE_JSON_DEPTH} levels, which the offline rules engine does not parse, so it is treated as binary: ${NOT_ENCODED}`;

const OFFLINE_ACCOUNT_ID = '000000000000';

/** Throws SqlSyntaxError for malformed SQL, UnsupportedSqlError for SQL this engine cannot run. */
export function compileRule(sql: string, options: CompileOptions = {}): CompiledRule {
  const sqlVersion = options.sqlVersion ?? '2016-03-23';
  if (!SQL_VERSIONS.includes(sqlVersion)) {
    throw new SqlSyntaxError(
      `unknown SQL version "${String(sqlVersion)}" (use ${SQL_VERSIONS.join(', ')})`,
    );
  }
  const statement = parseStatement(sql, sqlVersion, options.services);
  const accountId = options.accountId ?? OFFLINE_ACCOUNT_ID;
  const shape = outputShape(statement);
  const serviceCalls = findServiceCalls(statement);
  if (serviceCalls.filter((call) => call.name === 'get_dynamodb').length > 1) {
    throw new UnsupportedSqlError(
      'get_dynamodb() may be called at most once per SQL statement (AWS terminates such a rule ' +
        'without invoking any action)',
    );
  }
  const failed = (error: unknown): RuleResult => ({
    kind: 'error',
    reason: `the rule's SQL failed: ${error instanceof Error ? error.message : String(error)}`,
  });
  return {
    sql,
    sqlVersion,
    topicFilter: statement.topicFilter,
    usesServices: serviceCalls.length > 0,
    evaluate: (message) => {
      // Whatever goes wrong, the message must end in the error action, not vanish.
      try {
        if (serviceCalls.length > 0)
          throw new Error('this rule calls services: use evaluateWith()');
        return evaluate(statement, shape, new Evaluation(message, sqlVersion, accountId));
      } catch (error) {
        return failed(error);
      }
    },
    evaluateWith: async (message, services) => {
      try {
        const run = new Evaluation(message, sqlVersion, accountId);
        if (!addressed(statement, message)) return { kind: 'skip' };
        // The services first (their arguments over the payload and the SET variables so far),
        // then the whole statement with their answers.
        run.setVariables(statement);
        for (const call of serviceCalls) {
          const args = call.args.map((arg) => evaluateExpr(arg, run, run.root));
          run.external.set(call, await callService(call.name, args, services));
        }
        return evaluate(statement, shape, run);
      } catch (error) {
        return failed(error);
      }
    },
    template: (text) => compileTemplate(text, statement, sqlVersion, accountId),
  };
}

/** What SELECT does with the payload, decided once: see "Working with binary payloads". */
interface OutputShape {
  /** SELECT * and nothing else: the payload passes through, binary or not. */
  starOnly: boolean;
  /** SELECT reads JSON names, or * beside other items: a binary payload cannot make an output. */
  needsJson: boolean;
}

function outputShape(statement: Statement): OutputShape {
  const fieldVariables = new Set(
    statement.variables.filter((v) => readsFields(v.expr, new Set())).map((v) => v.name),
  );
  const star = statement.items.some((item) => item.kind === 'star');
  const starOnly = statement.value === undefined && star && statement.items.length === 1;
  const exprs = statement.value
    ? [statement.value]
    : statement.items.flatMap((item) => (item.kind === 'expr' ? [item.expr] : []));
  const needsJson = (star && !starOnly) || exprs.some((e) => readsFields(e, fieldVariables));
  return { starOnly, needsJson };
}

/** Whether an expression reads JSON names of the payload (a field, or a variable that does). */
function readsFields(expr: Expr, fieldVariables: Set<string>): boolean {
  const any = (...exprs: (Expr | undefined)[]) =>
    exprs.some((e) => e !== undefined && readsFields(e, fieldVariables));
  switch (expr.kind) {
    case 'field':
    case 'select':
      return true;
    case 'variable':
      return fieldVariables.has(expr.name);
    case 'literal':
    case 'payload':
      return false;
    case 'member':
      return any(expr.target, expr.step.kind === 'index' ? expr.step.index : undefined);
    case 'call':
      return any(...expr.args);
    case 'cast':
      return any(expr.value);
    case 'negate':
    case 'not':
    case 'is':
      return any(expr.operand);
    case 'logical':
    case 'compare':
    case 'arithmetic':
      return any(expr.left, expr.right);
    case 'case':
      return any(expr.subject, expr.otherwise, ...expr.branches.flatMap((b) => [b.when, b.then]));
    case 'object':
      return any(...expr.entries.map((e) => e.value));
    case 'array':
      return any(...expr.items);
  }
}

type Payload =
  | { kind: 'json'; value: Json }
  /** "If you have an empty or a JSON payload, the resulting payload can have data added" */
  | { kind: 'empty' }
  | { kind: 'binary'; reason: string };

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

/** One message's evaluation: the payload parsed at most once, and only if something reads it. */
class Evaluation {
  private parsed: Payload | undefined;
  readonly functions: FunctionContext;
  readonly variables = new Map<string, Value>();
  /** The answers of aws_lambda() and get_dynamodb() calls, fetched before the evaluation. */
  readonly external = new Map<Expr, Value>();

  constructor(
    readonly message: RuleMessage,
    sqlVersion: SqlVersion,
    accountId: string,
  ) {
    this.functions = {
      topic: message.topic,
      clientId: message.clientId,
      principal: message.principal,
      timestamp: message.timestamp ?? Date.now(),
      traceId: message.traceId,
      sourceIp: message.sourceIp,
      accountId,
      sqlVersion,
      ...mqtt5(message.properties),
    };
  }

  get payload(): Payload {
    this.parsed ??= readPayload(this.message.payload);
    return this.parsed;
  }

  /** The payload's JSON; Undefined when it is empty or not JSON, so that every field is too. */
  get root(): Value {
    const payload = this.payload;
    return payload.kind === 'json' ? payload.value : undefined;
  }

  setVariables(statement: Statement): void {
    for (const { name, expr } of statement.variables) {
      this.variables.set(name, evaluateExpr(expr, this, this.root));
    }
  }
}

/** get_user_properties() and get_mqtt_property() read these (AWS's property names). */
function mqtt5(
  properties: MessageProperties | undefined,
): Pick<FunctionContext, 'userProperties' | 'mqttProperties'> {
  if (!properties) return {};
  const userProperties = Object.entries(properties.userProperties ?? {}).flatMap(
    ([key, value]): [string, string][] =>
      (Array.isArray(value) ? value : [value]).map((v) => [key, v]),
  );
  const mqttProperties: Record<string, Json> = {};
  if (properties.contentType !== undefined) mqttProperties.content_type = properties.contentType;
  if (properties.responseTopic !== undefined) {
    mqttProperties.response_topic = properties.responseTopic;
  }
  if (properties.payloadFormatIndicator !== undefined) {
    mqttProperties.format_indicator = properties.payloadFormatIndicator
      ? 'UTF8_DATA'
      : 'UNSPECIFIED_BYTES';
  }
  if (properties.correlationData !== undefined) {
    mqttProperties.correlation_data = properties.correlationData.toString('base64');
  }
  return { userProperties, mqttProperties };
}

/** FROM matches the topic, or the message was sent to this rule by name (Basic Ingest). */
function addressed(statement: Statement, message: RuleMessage): boolean {
  if (message.basicIngest) return true;
  return statement.topicFilter !== undefined && topicMatches(statement.topicFilter, message.topic);
}

type Call = Extract<Expr, { kind: 'call' }>;

/** The aws_lambda() and get_dynamodb() calls of a statement, outermost first. */
function findServiceCalls(statement: Statement): Call[] {
  const calls: Call[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const node = value as { kind?: string; name?: string };
    if (node.kind === 'call' && node.name && SERVICE_FUNCTIONS[node.name]) calls.push(node as Call);
    Object.values(value).forEach(visit);
  };
  visit(statement);
  return calls;
}

/** aws_lambda(functionArn, inputJson) and get_dynamodb(table, key…, roleArn), offline. */
async function callService(name: string, args: Value[], services: RuleServices): Promise<Value> {
  if (name === 'aws_lambda') {
    const [arn, input] = args;
    if (args.length !== 2 || typeof arn !== 'string') return undefined;
    const functionName = /:function:([^:]+)/.exec(arn)?.[1] ?? arn;
    return services.invokeLambda(functionName, input);
  }
  // (table, partitionKeyName, partitionKeyValue[, sortKeyName, sortKeyValue], roleArn)
  if (args.length !== 4 && args.length !== 6) return undefined;
  const [table, partitionName, partitionValue] = args;
  if (typeof table !== 'string' || typeof partitionName !== 'string') return undefined;
  if (partitionValue === undefined || partitionValue === null) return undefined;
  const key: Record<string, Json> = { [partitionName]: partitionValue };
  if (args.length === 6) {
    const [, , , sortName, sortValue] = args;
    if (typeof sortName !== 'string' || sortValue === undefined || sortValue === null) {
      return undefined;
    }
    key[sortName] = sortValue;
  }
  const item = await services.getItem(table, key);
  if (item !== undefined && Buffer.byteLength(JSON.stringify(item)) > MAX_GET_DYNAMODB_BYTES) {
    throw new Error(`get_dynamodb() returned more than ${MAX_GET_DYNAMODB_BYTES} bytes`);
  }
  return item;
}

function evaluate(statement: Statement, shape: OutputShape, run: Evaluation): RuleResult {
  const { message } = run;
  if (!addressed(statement, message)) return { kind: 'skip' };
  run.setVariables(statement);
  if (statement.where && evaluateExpr(statement.where, run, run.root) !== true) {
    return { kind: 'skip' };
  }
  const payload = shape.starOnly || shape.needsJson ? run.payload : undefined;
  if (payload?.kind === 'binary') {
    if (shape.starOnly) return { kind: 'binary', payload: message.payload, reason: payload.reason };
    return { kind: 'error', reason: payload.reason };
  }
  const star = statement.value === undefined && statement.items.some((i) => i.kind === 'star');
  if (star && payload?.kind === 'json' && !isObject(payload.value)) {
    // SELECT * makes "a new JSON object containing the message data": an object is needed.
    return {
      kind: 'error',
      reason: `payload is JSON but not an object (${jsonType(payload.value)}): SELECT * cannot make it the output object`,
    };
  }
  const value = select(statement, run, run.root);
  if (value === undefined) {
    // "Undefined is converted to an empty string when serialized by itself".
    return {
      kind: 'binary',
      payload: Buffer.alloc(0),
      reason: 'SELECT VALUE is Undefined for this message: the output is an empty payload',
    };
  }
  return { kind: 'output', value };
}

function jsonType(value: Value): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/** SELECT [VALUE] … over one element (the payload, or an element of a nested SELECT's FROM). */
function select(query: Query, run: Evaluation, root: Value): Value {
  if (query.value) return evaluateExpr(query.value, run, root);
  const output: { [key: string]: Json } = {};
  for (const item of query.items) {
    if (item.kind === 'star') {
      if (isObject(root)) Object.assign(output, root);
      continue;
    }
    const value = evaluateExpr(item.expr, run, root);
    // Undefined is not representable in JSON: the key is left out.
    if (value !== undefined) assignPath(output, item.path, value);
  }
  return output;
}

/** `AS a.b` writes output.a.b, making the objects on the way. */
function assignPath(output: { [key: string]: Json }, path: string[], value: Json): void {
  let target = output;
  for (const key of path.slice(0, -1)) {
    const next = target[key];
    if (isObject(next)) {
      // A copy: the object may be the payload's own (SELECT *), which later items still read.
      const copy = { ...next };
      target[key] = copy;
      target = copy;
    } else {
      const created: { [key: string]: Json } = {};
      target[key] = created;
      target = created;
    }
  }
  target[path[path.length - 1]!] = value;
}

/** "Nested object queries": over an array, one result per element that passes WHERE. */
function nestedSelect(query: Query, run: Evaluation, root: Value): Value {
  const from = evaluateExpr(query.from!, run, root);
  const pick = (element: Value): Value => {
    if (query.where && evaluateExpr(query.where, run, element) !== true) return undefined;
    return select(query, run, element);
  };
  if (Array.isArray(from)) {
    return from.map(pick).filter((value): value is Json => value !== undefined);
  }
  if (from === undefined) return undefined;
  return pick(from);
}

function evaluateExpr(expr: Expr, run: Evaluation, root: Value): Value {
  const evaluate = (e: Expr) => evaluateExpr(e, run, root);
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'field':
      return isObject(root) && Object.hasOwn(root, expr.name) ? root[expr.name] : undefined;
    case 'variable':
      return run.variables.get(expr.name);
    case 'payload':
      return run.root;
    case 'member':
      return step(evaluate(expr.target), expr.step, evaluate);
    case 'call': {
      const [first, second] = expr.args;
      // encode(*, 'base64'): the raw payload bytes, so it works for any payload.
      if (expr.name === 'encode' && first?.kind === 'payload' && expr.args.length === 2) {
        return evaluate(second!) === 'base64' ? run.message.payload.toString('base64') : undefined;
      }
      if (SERVICE_FUNCTIONS[expr.name]) return run.external.get(expr);
      return callFunction(expr.name, expr.args.map(evaluate), run.functions);
    }
    case 'cast':
      return cast(evaluate(expr.value), expr.type);
    case 'negate':
      return negate(evaluate(expr.operand));
    case 'not':
      return not(evaluate(expr.operand));
    case 'logical':
      return logical(expr.op, evaluate(expr.left), evaluate(expr.right));
    case 'compare':
      return compare(expr.op, evaluate(expr.left), evaluate(expr.right));
    case 'arithmetic':
      return arithmetic(expr.op, evaluate(expr.left), evaluate(expr.right));
    case 'is': {
      const value = evaluate(expr.operand);
      const holds = expr.test === 'NULL' ? value === null : value === undefined;
      return holds !== expr.negated;
    }
    case 'case':
      return caseExpression(expr, evaluate);
    case 'object': {
      const object: { [key: string]: Json } = {};
      for (const entry of expr.entries) {
        const value = evaluate(entry.value);
        if (value !== undefined) object[entry.key] = value;
      }
      return object;
    }
    case 'array':
      return expr.items.map(evaluate).filter((value): value is Json => value !== undefined);
    case 'select':
      return nestedSelect(expr.query, run, root);
  }
}

function step(
  target: Value,
  s: Extract<Expr, { kind: 'member' }>['step'],
  evaluate: (e: Expr) => Value,
): Value {
  if (s.kind === 'key') {
    return isObject(target) && Object.hasOwn(target, s.name) ? target[s.name] : undefined;
  }
  const index = toDecimal(evaluate(s.index));
  if (!Array.isArray(target) || index === undefined || !Number.isInteger(index)) return undefined;
  return target[index];
}

/** "Case statements": the first WHEN equal to v; ELSE, or Undefined. If v is Undefined, Undefined. */
function caseExpression(
  expr: Extract<Expr, { kind: 'case' }>,
  evaluate: (e: Expr) => Value,
): Value {
  const subject = expr.subject ? evaluate(expr.subject) : undefined;
  if (expr.subject && subject === undefined) return undefined;
  for (const branch of expr.branches) {
    const when = evaluate(branch.when);
    const matches = expr.subject ? compare('=', subject, when) === true : toBoolean(when) === true;
    if (matches) return evaluate(branch.then);
  }
  return expr.otherwise ? evaluate(expr.otherwise) : undefined;
}

/**
 * "Substitution templates": `${expression}` in an action parameter, evaluated separately from
 * SELECT over the original payload (no AS aliases), with functions, operators and SET variables.
 * An Undefined expression gives the empty string.
 */
function compileTemplate(
  text: string,
  statement: Statement,
  sqlVersion: SqlVersion,
  accountId: string,
): CompiledTemplate {
  const parts: (string | Expr)[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('${', at);
    if (open === -1) {
      parts.push(text.slice(at));
      break;
    }
    parts.push(text.slice(at, open));
    const close = closingBrace(text, open + 2);
    if (close === -1) throw new SqlSyntaxError(`unterminated substitution template in "${text}"`);
    parts.push(parseExpression(text.slice(open + 2, close), sqlVersion, statement.variables));
    at = close + 1;
  }
  const fieldVariables = new Set(
    statement.variables.filter((v) => readsFields(v.expr, new Set())).map((v) => v.name),
  );
  return {
    text,
    readsPayload: parts.some(
      (part) => typeof part !== 'string' && readsFields(part, fieldVariables),
    ),
    render: (message) => {
      const run = new Evaluation(message, sqlVersion, accountId);
      run.setVariables(statement);
      return parts
        .map((part) =>
          typeof part === 'string' ? part : (toSqlString(evaluateExpr(part, run, run.root)) ?? ''),
        )
        .join('');
    },
  };
}

/** The `}` that closes a template opened before `from`, skipping braces of object literals and strings. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const char = text.charAt(i);
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '{') {
      depth++;
    } else if (char === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
