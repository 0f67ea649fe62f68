/**
 * The names a stage puts into AWS, checked against what AWS accepts before anything is built:
 * a stage that makes a name too long or uses a refused character fails `sls package`, `deploy`
 * and `offline start` at once, with the limit named, instead of half-way through a deployment.
 * Limits are those of each API reference (the `doc` of each rule). Roles and the topic rule have
 * no name of ours (CloudFormation generates and shortens them), so they are not checked.
 */

export interface NameRule {
  /** What the name is, as a user would say it. */
  what: string;
  maxLength: number;
  minLength?: number;
  pattern: RegExp;
  /** The pattern in words. */
  allowed: string;
  /** Where AWS documents the limit. */
  doc: string;
}

export const NAME_RULES = {
  stack: {
    what: 'CloudFormation stack name',
    maxLength: 128,
    pattern: /^[a-zA-Z][-a-zA-Z0-9]*$/,
    allowed: 'letters, digits and hyphens, starting with a letter',
    doc: 'CloudFormation API Reference, CreateStack: StackName',
  },
  function: {
    what: 'Lambda function name',
    maxLength: 64,
    pattern: /^[a-zA-Z0-9_-]+$/,
    allowed: 'letters, digits, hyphens and underscores',
    doc: 'Lambda API Reference, CreateFunction: FunctionName',
  },
  table: {
    what: 'DynamoDB table name',
    minLength: 3,
    maxLength: 255,
    pattern: /^[a-zA-Z0-9_.-]+$/,
    allowed: 'letters, digits, underscores, hyphens and dots',
    doc: 'DynamoDB Developer Guide, "Naming rules and data types"',
  },
  queue: {
    what: 'SQS queue name',
    maxLength: 80,
    pattern: /^[a-zA-Z0-9_-]+(\.fifo)?$/,
    allowed: 'letters, digits, hyphens and underscores',
    doc: 'SQS API Reference, CreateQueue: QueueName',
  },
  role: {
    what: 'IAM role name',
    maxLength: 64,
    pattern: /^[\w+=,.@-]+$/,
    allowed: 'letters, digits and +=,.@_-',
    doc: 'IAM API Reference, CreateRole: RoleName',
  },
  iotPolicy: {
    what: 'IoT policy name',
    maxLength: 128,
    pattern: /^[\w+=,.@-]+$/,
    allowed: 'letters, digits and +=,.@_-',
    doc: 'IoT API Reference, CreatePolicy: policyName',
  },
} as const satisfies Record<string, NameRule>;

/** The name-bearing property of each CloudFormation resource type that has one here. */
export const NAMED_RESOURCE_TYPES: Record<string, { property: string; rule: NameRule }> = {
  'AWS::DynamoDB::Table': { property: 'TableName', rule: NAME_RULES.table },
  'AWS::SQS::Queue': { property: 'QueueName', rule: NAME_RULES.queue },
  'AWS::IAM::Role': { property: 'RoleName', rule: NAME_RULES.role },
  'AWS::IoT::Policy': { property: 'PolicyName', rule: NAME_RULES.iotPolicy },
  'AWS::Lambda::Function': { property: 'FunctionName', rule: NAME_RULES.function },
};

export interface AwsName {
  name: string;
  rule: NameRule;
}

export class ResourceNameError extends Error {
  override readonly name = 'ResourceNameError';
}

/** Every literal name of the given resources (names built with intrinsic functions are skipped). */
export function namesOfResources(
  resources: Record<string, { Type?: unknown; Properties?: Record<string, unknown> }>,
): AwsName[] {
  return Object.values(resources).flatMap((resource) => {
    const named = NAMED_RESOURCE_TYPES[String(resource.Type)];
    const name = named && resource.Properties?.[named.property];
    return named && typeof name === 'string' ? [{ name, rule: named.rule }] : [];
  });
}

/** Throws one error that lists every name AWS would refuse, and the longest stage that fits. */
export function assertNamesAccepted(stage: string, names: AwsName[]): void {
  const problems = names.flatMap(({ name, rule }) => {
    const found: string[] = [];
    if (name.length > rule.maxLength) {
      found.push(
        `the ${rule.what} "${name}" has ${name.length} characters; AWS allows at most ` +
          `${rule.maxLength} (${rule.doc})`,
      );
    } else if (name.length < (rule.minLength ?? 1)) {
      found.push(
        `the ${rule.what} "${name}" has ${name.length} characters; AWS needs at least ` +
          `${rule.minLength} (${rule.doc})`,
      );
    }
    if (!rule.pattern.test(name)) {
      found.push(
        `the ${rule.what} "${name}" has characters AWS refuses: ${rule.allowed} only (${rule.doc})`,
      );
    }
    return found;
  });
  if (problems.length === 0) return;
  const longest = longestStage(stage, names);
  throw new ResourceNameError(
    [
      `Stage "${stage}" cannot be deployed:`,
      ...problems.map((problem) => `  - ${problem}`),
      `Use a stage of letters, digits and hyphens` +
        (longest === undefined ? '.' : `, at most ${longest} characters long with this service.`),
    ].join('\n'),
  );
}

/** The longest stage every name would still fit with (names that contain the stage once). */
export function longestStage(stage: string, names: AwsName[]): number | undefined {
  const room = names
    .filter(({ name }) => name.split(stage).length === 2)
    .map(({ name, rule }) => rule.maxLength - (name.length - stage.length));
  return room.length ? Math.min(...room) : undefined;
}
