/**
 * Topic rules as the deployed template defines them: the framework's `iot` events (with the
 * `extensions` that restate their payload) and every `AWS::IoT::TopicRule` in serverless.yml's
 * resources, with their actions (AWS::IoT::TopicRule, "Action" property type) and error action.
 * The offline engine runs Lambda, SQS, Republish and DynamoDBv2; any other action stops start-up
 * with its name.
 */
import { createHash } from 'node:crypto';

import {
  compileRule,
  DEFAULT_SQL_VERSION,
  SQL_VERSIONS,
  type CompiledRule,
  type CompiledTemplate,
  type SqlVersion,
} from './sql';

export type RuleAction =
  | { kind: 'lambda'; functionName: string }
  /** `deadLetters`: the queue the offline dead-letter store stands for (redrivable letters). */
  | { kind: 'sqs'; queueName: string; useBase64: boolean; deadLetters: boolean }
  | { kind: 'republish'; topic: CompiledTemplate; qos: 0 | 1 }
  | { kind: 'dynamodbv2'; tableName: CompiledTemplate };

export interface TopicRule {
  /** The rule's name in AWS IoT: what Basic Ingest topics ($aws/rules/<name>/…) address. */
  name: string;
  /** The function of the rule's first Lambda action (the framework's iot event has one). */
  functionName: string;
  compiled: CompiledRule;
  /** Default: one Lambda action invoking `functionName`. */
  actions?: RuleAction[];
  /** Default, and for the dead-letter queue: the offline dead-letter store. */
  errorAction?: RuleAction;
}

export const SUPPORTED_ACTIONS = ['Lambda', 'Sqs', 'Republish', 'DynamoDBv2'];
const MAX_ACTIONS = 10;

export function actionsOf(rule: TopicRule): RuleAction[] {
  return rule.actions ?? [{ kind: 'lambda', functionName: rule.functionName }];
}

/** A short name for logs, dead letters and lanes: `lambda:fn`, `sqs:queue`, … */
export function describeAction(action: RuleAction): string {
  switch (action.kind) {
    case 'lambda':
      return action.functionName;
    case 'sqs':
      return `sqs:${action.queueName}`;
    case 'republish':
      return `republish:${action.topic.text}`;
    case 'dynamodbv2':
      return `dynamodbv2:${action.tableName.text}`;
  }
}

/** AWS's name of the action in an error action's `failures` ("Error action message format"). */
export function failedActionName(action: RuleAction): string {
  return {
    lambda: 'LambdaAction',
    sqs: 'SqsAction',
    republish: 'RepublishAction',
    dynamodbv2: 'DynamoDBv2Action',
  }[action.kind];
}

type Resource = { Type?: string; Properties?: Record<string, unknown> };
export type Resources = Record<string, Resource>;

export interface IotEventDefinition {
  sql: string;
  sqlVersion?: string;
  enabled?: boolean;
  name?: string;
}

interface FunctionDefinitions {
  [functionKey: string]: { name?: string; events?: { iot?: IotEventDefinition }[] };
}

export interface TemplateContext {
  /** The deployed function name of a function key (`service-stage-key`). */
  functionName: (key: string) => string;
  /** The stack's name (`service-stage`): CloudFormation builds generated rule names from it. */
  stackName?: string;
  resources?: Resources;
  /** serverless.yml's `extensions` (resources files may restate a generated resource). */
  extensions?: Record<string, { Properties?: Record<string, unknown> }>;
  accountId?: string;
  /** The engine runs aws_lambda() and get_dynamodb() against the offline Lambda API and dynalite. */
  services?: boolean;
}

/** The framework's logical id part for a function key (naming.getNormalizedFunctionName). */
export function normalizedFunctionName(key: string): string {
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}`
    .replace(/-/g, 'Dash')
    .replace(/_/g, 'Underscore');
}

/**
 * The name CloudFormation gives a rule without RuleName: the stack name and the logical id with
 * what rule names may not hold (anything but [A-Za-z0-9_]) removed, and a unique suffix. The
 * suffix is derived from both, so the offline name is stable from one start to the next; on AWS
 * it is random: set RuleName (or the iot event's `name`) to publish to Basic Ingest topics.
 */
export function generatedRuleName(stackName: string, logicalId: string): string {
  const suffix = createHash('sha256')
    .update(`${stackName}/${logicalId}`)
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 12)
    .toUpperCase();
  return `${stackName}${logicalId}`.replace(/[^A-Za-z0-9_]/g, '').slice(0, 128 - 13) + suffix;
}

/** Compiles every rule up front: an unsupported SQL or action stops start-up with it named. */
export function rulesFromTemplate(
  functions: FunctionDefinitions,
  context: TemplateContext,
): TopicRule[] {
  const rules: TopicRule[] = [];
  const functionsByLogicalId = new Map(
    Object.keys(functions).map((key) => [`${normalizedFunctionName(key)}LambdaFunction`, key]),
  );
  const resolver = new Resolver(context, functionsByLogicalId, functions);
  for (const [key, definition] of Object.entries(functions)) {
    (definition.events ?? []).forEach((event, index) => {
      const iot = event.iot;
      if (!iot || iot.enabled === false) return;
      const logicalId = `${normalizedFunctionName(key)}IotTopicRule${index + 1}`;
      const name =
        iot.name ??
        (context.stackName ? generatedRuleName(context.stackName, logicalId) : logicalId);
      const functionName = definition.name ?? context.functionName(key);
      const restated = context.extensions?.[logicalId]?.Properties?.TopicRulePayload as
        Record<string, unknown> | undefined;
      withRule(`Topic rule ${name} (function ${key})`, iot.sql, () => {
        const compiled = compileRule(iot.sql, {
          sqlVersion: sqlVersion(iot.sqlVersion ?? restated?.AwsIotSqlVersion),
          accountId: context.accountId,
          services: context.services,
        });
        const rule: TopicRule = { name, functionName, compiled };
        if (restated) {
          rule.actions = resolver.actions(restated.Actions, compiled);
          rule.errorAction = resolver.errorAction(restated.ErrorAction, compiled);
        }
        rules.push(rule);
      });
    });
  }
  for (const [logicalId, resource] of Object.entries(context.resources ?? {})) {
    if (resource?.Type !== 'AWS::IoT::TopicRule') continue;
    const properties = resource.Properties ?? {};
    const payload = (properties.TopicRulePayload ?? {}) as Record<string, unknown>;
    if (payload.RuleDisabled === true) continue;
    const name =
      typeof properties.RuleName === 'string'
        ? properties.RuleName
        : context.stackName
          ? generatedRuleName(context.stackName, logicalId)
          : logicalId;
    const sql = String(payload.Sql ?? '');
    withRule(`Topic rule ${name} (resource ${logicalId})`, sql, () => {
      const compiled = compileRule(sql, {
        sqlVersion: sqlVersion(payload.AwsIotSqlVersion),
        accountId: context.accountId,
        services: context.services,
      });
      const actions = resolver.actions(payload.Actions, compiled);
      const lambda = actions.find((action) => action.kind === 'lambda');
      rules.push({
        name,
        functionName:
          lambda?.kind === 'lambda'
            ? lambda.functionName
            : actions[0]
              ? describeAction(actions[0])
              : '',
        compiled,
        actions,
        errorAction: resolver.errorAction(payload.ErrorAction, compiled),
      });
    });
  }
  return rules;
}

function withRule(label: string, sql: string, build: () => void): void {
  try {
    build();
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}\n  SQL: ${sql}`, { cause: error });
  }
}

/** "AwsIotSqlVersion … The default value is 2015-10-08" (CloudFormation, TopicRulePayload). */
function sqlVersion(value: unknown): SqlVersion {
  if (value === undefined) return DEFAULT_SQL_VERSION;
  const version = SQL_VERSIONS.find((candidate) => candidate === value);
  if (!version) {
    throw new Error(`unknown AwsIotSqlVersion "${String(value)}" (${SQL_VERSIONS.join(', ')})`);
  }
  return version;
}

/** Turns the template's action properties (with Ref / Fn::GetAtt) into offline targets. */
class Resolver {
  constructor(
    private readonly context: TemplateContext,
    private readonly functionsByLogicalId: Map<string, string>,
    private readonly functions: FunctionDefinitions,
  ) {}

  actions(value: unknown, compiled: CompiledRule): RuleAction[] {
    // "AWS::IoT::TopicRule TopicRulePayload": Actions, 0 to 10 of them.
    const list = Array.isArray(value) ? value : [];
    if (list.length > MAX_ACTIONS) {
      throw new Error(`${list.length} actions; a topic rule has at most ${MAX_ACTIONS}`);
    }
    const unsupported = list.flatMap((entry) =>
      Object.keys(entry as object).filter((kind) => !SUPPORTED_ACTIONS.includes(kind)),
    );
    if (unsupported.length > 0) {
      throw new Error(
        `unsupported action(s) ${unsupported.join(', ')}: the offline rules engine runs ` +
          `${SUPPORTED_ACTIONS.join(', ')}`,
      );
    }
    return list.map((entry) => this.action(entry as Record<string, unknown>, compiled));
  }

  errorAction(value: unknown, compiled: CompiledRule): RuleAction | undefined {
    if (value === undefined) return undefined;
    const kinds = Object.keys(value as object);
    if (kinds.length !== 1 || !SUPPORTED_ACTIONS.includes(kinds[0]!)) {
      throw new Error(
        `unsupported error action ${kinds.join(', ')}: the offline rules engine runs ` +
          `${SUPPORTED_ACTIONS.join(', ')}`,
      );
    }
    return this.action(value as Record<string, unknown>, compiled);
  }

  private action(entry: Record<string, unknown>, compiled: CompiledRule): RuleAction {
    const [kind, raw] = Object.entries(entry)[0]!;
    const properties = (raw ?? {}) as Record<string, unknown>;
    switch (kind) {
      case 'Lambda':
        return { kind: 'lambda', functionName: this.functionName(properties.FunctionArn) };
      case 'Sqs': {
        const { queueName, logicalId } = this.queue(properties.QueueUrl);
        return {
          kind: 'sqs',
          queueName,
          useBase64: properties.UseBase64 === true || properties.UseBase64 === 'true',
          deadLetters: logicalId !== undefined && /dead.?letter|dlq/i.test(logicalId),
        };
      }
      case 'Republish': {
        if (typeof properties.Topic !== 'string') throw new Error('Republish needs a Topic');
        return {
          kind: 'republish',
          topic: compiled.template(properties.Topic),
          qos: properties.Qos === 1 || properties.Qos === '1' ? 1 : 0,
        };
      }
      default: {
        const put = (properties.PutItem ?? {}) as Record<string, unknown>;
        return { kind: 'dynamodbv2', tableName: compiled.template(this.tableName(put.TableName)) };
      }
    }
  }

  private functionName(arn: unknown): string {
    const getAtt = (arn as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
    if (Array.isArray(getAtt) || typeof getAtt === 'string') {
      const logicalId = Array.isArray(getAtt) ? String(getAtt[0]) : getAtt.split('.')[0]!;
      const key = this.functionsByLogicalId.get(logicalId);
      if (key) return this.functions[key]?.name ?? this.context.functionName(key);
      throw new Error(`Lambda action: ${logicalId} is not a function of this service`);
    }
    if (typeof arn === 'string') {
      const match = /:function:([^:]+)/.exec(arn);
      if (match) return match[1]!;
    }
    throw new Error(`Lambda action: cannot resolve FunctionArn ${JSON.stringify(arn)}`);
  }

  private queue(url: unknown): { queueName: string; logicalId?: string } {
    const ref = (url as { Ref?: unknown } | undefined)?.Ref;
    if (typeof ref === 'string') {
      const queue = this.context.resources?.[ref];
      if (queue?.Type !== 'AWS::SQS::Queue') throw new Error(`Sqs action: ${ref} is not a queue`);
      const name = queue.Properties?.QueueName;
      return { queueName: typeof name === 'string' ? name : ref, logicalId: ref };
    }
    if (typeof url === 'string' && url.length > 0) {
      return { queueName: url.split('/').filter(Boolean).at(-1)! };
    }
    throw new Error(`Sqs action: cannot resolve QueueUrl ${JSON.stringify(url)}`);
  }

  private tableName(name: unknown): string {
    const ref = (name as { Ref?: unknown } | undefined)?.Ref;
    if (typeof ref === 'string') {
      const table = this.context.resources?.[ref];
      const tableName = table?.Properties?.TableName;
      if (table?.Type !== 'AWS::DynamoDB::Table')
        throw new Error(`DynamoDBv2: ${ref} is not a table`);
      return typeof tableName === 'string' ? tableName : ref;
    }
    if (typeof name === 'string' && name.length > 0) return name;
    throw new Error(`DynamoDBv2 action: cannot resolve TableName ${JSON.stringify(name)}`);
  }
}
