/**
 * Topic rules read from the deployed template without starting anything: AWS::IoT::TopicRule
 * resources and the framework's iot events, their actions and error action as CloudFormation
 * defines them, and the names start-up stops with. Pages: AWS CloudFormation
 * "AWS::IoT::TopicRule" (RuleName: without it CloudFormation generates one; TopicRulePayload:
 * Actions, at most 10; ErrorAction; AwsIotSqlVersion, default 2015-10-08; RuleDisabled), the
 * "Action" property type (Lambda FunctionArn, Sqs QueueUrl and UseBase64, Republish Topic and
 * Qos, DynamoDBv2 PutItem TableName), and the AWS IoT developer guide's "Error action message
 * format" (the failed action's name). Cases found unguarded by the mutation run (docs/mutation.md).
 */
import { describe, expect, it } from '@jest/globals';

import {
  actionsOf,
  describeAction,
  failedActionName,
  generatedRuleName,
  normalizedFunctionName,
  rulesFromTemplate,
  type RuleAction,
  type Resources,
} from '../../local/iot/rules/actions';

const functionName = (key: string) => `svc-dev-${key}`;
const SQL = "SELECT * FROM 'a'";

const resources: Resources = {
  Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q-name' } },
  Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
  T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'tbl' } },
  T2: { Type: 'AWS::DynamoDB::Table' },
  NoProps: { Type: 'AWS::SQS::Queue' },
  DeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'dlq' } },
  Bucket: { Type: 'AWS::S3::Bucket' },
};

/** The rules of a template with one AWS::IoT::TopicRule `X` of this payload. */
const rulesOf = (payload: Record<string, unknown>, properties: Record<string, unknown> = {}) =>
  rulesFromTemplate(
    { foo: {}, bar: { name: 'custom-bar' } },
    {
      functionName,
      resources: {
        ...resources,
        X: {
          Type: 'AWS::IoT::TopicRule',
          Properties: { TopicRulePayload: { Sql: SQL, ...payload }, ...properties },
        },
      },
    },
  );

/** The message of what `run` throws (toThrow would compare the cause too). */
function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

/** An action as plain data: templates by their text. */
const plain = (action: RuleAction | undefined) => {
  if (action?.kind === 'republish') return { ...action, topic: action.topic.text };
  if (action?.kind === 'dynamodbv2') return { ...action, tableName: action.tableName.text };
  return action;
};

describe('AWS::IoT::TopicRule resources', () => {
  it('resolves every supported action and the error action', () => {
    const [rule, ...others] = rulesFromTemplate(
      { foo: {} },
      {
        functionName,
        stackName: 'svc-dev',
        resources: {
          ...resources,
          R: {
            Type: 'AWS::IoT::TopicRule',
            Properties: {
              RuleName: 'r1',
              TopicRulePayload: {
                Sql: SQL,
                Actions: [
                  { Lambda: { FunctionArn: { 'Fn::GetAtt': ['FooLambdaFunction', 'Arn'] } } },
                  { Sqs: { QueueUrl: { Ref: 'Q' }, UseBase64: 'true' } },
                  { Sqs: { QueueUrl: { Ref: 'Dlq' }, UseBase64: true } },
                  { Sqs: { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/000/q2/' } },
                  { Republish: { Topic: 'out/${topic(2)}', Qos: '1' } },
                  { Republish: { Topic: 'plain', Qos: 1 } },
                  { Republish: { Topic: 'qos0' } },
                  { DynamoDBv2: { PutItem: { TableName: { Ref: 'T' } } } },
                  { DynamoDBv2: { PutItem: { TableName: { Ref: 'T2' } } } },
                  { DynamoDBv2: { PutItem: { TableName: 'plain' } } },
                ],
                ErrorAction: { Sqs: { QueueUrl: { Ref: 'Dlq' } } },
              },
            },
          },
          Disabled: {
            Type: 'AWS::IoT::TopicRule',
            Properties: { TopicRulePayload: { Sql: SQL, RuleDisabled: true } },
          },
        },
      },
    );
    expect(others).toEqual([]);
    expect(rule!.name).toBe('r1');
    expect(rule!.functionName).toBe('svc-dev-foo');
    expect(rule!.compiled.sqlVersion).toBe('2015-10-08');
    expect(rule!.actions!.map(plain)).toEqual([
      { kind: 'lambda', functionName: 'svc-dev-foo' },
      { kind: 'sqs', queueName: 'q-name', useBase64: true, deadLetters: false },
      { kind: 'sqs', queueName: 'Dlq', useBase64: true, deadLetters: true },
      { kind: 'sqs', queueName: 'q2', useBase64: false, deadLetters: false },
      { kind: 'republish', topic: 'out/${topic(2)}', qos: 1 },
      { kind: 'republish', topic: 'plain', qos: 1 },
      { kind: 'republish', topic: 'qos0', qos: 0 },
      { kind: 'dynamodbv2', tableName: 'tbl' },
      { kind: 'dynamodbv2', tableName: 'T2' },
      { kind: 'dynamodbv2', tableName: 'plain' },
    ]);
    expect(plain(rule!.errorAction)).toEqual({
      kind: 'sqs',
      queueName: 'Dlq',
      useBase64: false,
      deadLetters: true,
    });
    expect(rule!.actions!.map(describeAction)).toEqual([
      'svc-dev-foo',
      'sqs:q-name',
      'sqs:Dlq',
      'sqs:q2',
      'republish:out/${topic(2)}',
      'republish:plain',
      'republish:qos0',
      'dynamodbv2:tbl',
      'dynamodbv2:T2',
      'dynamodbv2:plain',
    ]);
  });

  it('a rule without a Lambda action is named after its first action; one without any, by nothing', () => {
    expect(rulesOf({ Actions: [{ Sqs: { QueueUrl: { Ref: 'Q' } } }] })[0]!.functionName).toBe(
      'sqs:q-name',
    );
    const [empty] = rulesOf({});
    expect([empty!.name, empty!.functionName, empty!.actions, empty!.errorAction]).toEqual([
      'X',
      '',
      [],
      undefined,
    ]);
  });

  it('a rule’s function is its Lambda action’s, wherever that action stands', () => {
    const [rule] = rulesOf({
      Actions: [
        { Sqs: { QueueUrl: { Ref: 'Q' } } },
        { Lambda: { FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:second' } },
      ],
    });
    expect(rule!.functionName).toBe('second');
  });

  it('a queue without properties is named by its logical id; a dead-letter queue is known by it', () => {
    const [rule] = rulesOf({
      Actions: [
        { Sqs: { QueueUrl: { Ref: 'NoProps' } } },
        { Sqs: { QueueUrl: { Ref: 'DeadLetterQueue' } } },
      ],
    });
    expect(rule!.actions!.map(plain)).toEqual([
      { kind: 'sqs', queueName: 'NoProps', useBase64: false, deadLetters: false },
      { kind: 'sqs', queueName: 'dlq', useBase64: false, deadLetters: true },
    ]);
  });

  it('an error keeps what caused it', () => {
    let caught: unknown;
    try {
      rulesOf({ Sql: 'SELECT' });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).cause).toBeInstanceOf(Error);
    expect(((caught as Error).cause as Error).message).toBe(
      'at position 6: expected an expression, found end of SQL',
    );
  });

  it('finds the function of a Lambda action by ARN or by Fn::GetAtt, in either form', () => {
    const functionOf = (arn: unknown) =>
      rulesOf({ Actions: [{ Lambda: { FunctionArn: arn } }] })[0]!.functionName;
    expect(functionOf('arn:aws:lambda:us-east-1:123456789012:function:fx:alias')).toBe('fx');
    expect(functionOf({ 'Fn::GetAtt': 'BarLambdaFunction.Arn' })).toBe('custom-bar');
    expect(functionOf({ 'Fn::GetAtt': ['FooLambdaFunction', 'Arn'] })).toBe('svc-dev-foo');
  });

  it('AwsIotSqlVersion chooses the SQL version', () => {
    expect(rulesOf({ AwsIotSqlVersion: '2016-03-23' })[0]!.compiled.sqlVersion).toBe('2016-03-23');
    expect(rulesOf({ AwsIotSqlVersion: 'beta' })[0]!.compiled.sqlVersion).toBe('beta');
  });

  it('a rule without RuleName gets CloudFormation’s kind of name: stack, logical id, suffix', () => {
    const [rule] = rulesFromTemplate(
      {},
      {
        functionName,
        stackName: 'svc-dev',
        resources: {
          MyRule: { Type: 'AWS::IoT::TopicRule', Properties: { TopicRulePayload: { Sql: SQL } } },
        },
      },
    );
    expect(rule!.name).toBe(generatedRuleName('svc-dev', 'MyRule'));
  });

  it.each([
    [
      { Actions: Array(11).fill({ Lambda: { FunctionArn: 'arn:aws:lambda:r:1:function:f' } }) },
      '11 actions; a topic rule has at most 10',
    ],
    [
      { Actions: [{ S3: {} }, { Kinesis: {} }] },
      'unsupported action(s) S3, Kinesis: the offline rules engine runs Lambda, Sqs, Republish, DynamoDBv2',
    ],
    [
      { ErrorAction: { S3: {} } },
      'unsupported error action S3: the offline rules engine runs Lambda, Sqs, Republish, DynamoDBv2',
    ],
    [
      { ErrorAction: { Sqs: { QueueUrl: 'u' }, Lambda: {} } },
      'unsupported error action Sqs, Lambda: the offline rules engine runs Lambda, Sqs, Republish, DynamoDBv2',
    ],
    [
      { Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': ['NopeLambdaFunction', 'Arn'] } } }] },
      'Lambda action: NopeLambdaFunction is not a function of this service',
    ],
    [
      { Actions: [{ Lambda: { FunctionArn: 'nope' } }] },
      'Lambda action: cannot resolve FunctionArn "nope"',
    ],
    [{ Actions: [{ Lambda: {} }] }, 'Lambda action: cannot resolve FunctionArn undefined'],
    [{ Actions: [{ Lambda: null }] }, 'Lambda action: cannot resolve FunctionArn undefined'],
    [{ Actions: [{ Sqs: { QueueUrl: { Ref: 'T' } } }] }, 'Sqs action: T is not a queue'],
    [
      { Actions: [{ Sqs: { QueueUrl: { Ref: 'Missing' } } }] },
      'Sqs action: Missing is not a queue',
    ],
    [{ Actions: [{ Sqs: { QueueUrl: '' } }] }, 'Sqs action: cannot resolve QueueUrl ""'],
    [{ Actions: [{ Sqs: {} }] }, 'Sqs action: cannot resolve QueueUrl undefined'],
    [
      { Actions: [{ DynamoDBv2: { PutItem: { TableName: { Ref: 'Missing' } } } }] },
      'DynamoDBv2: Missing is not a table',
    ],
    [{ Actions: [{ Republish: {} }] }, 'Republish needs a Topic'],
    [
      { Actions: [{ DynamoDBv2: { PutItem: { TableName: { Ref: 'Q' } } } }] },
      'DynamoDBv2: Q is not a table',
    ],
    [{ Actions: [{ DynamoDBv2: {} }] }, 'DynamoDBv2 action: cannot resolve TableName undefined'],
    [
      { Actions: [{ DynamoDBv2: { PutItem: { TableName: '' } } }] },
      'DynamoDBv2 action: cannot resolve TableName ""',
    ],
    [
      { AwsIotSqlVersion: '2020-01-01' },
      'unknown AwsIotSqlVersion "2020-01-01" (2015-10-08, 2016-03-23, beta)',
    ],
    [{ Sql: undefined }, 'at position 0: expected SELECT, found end of SQL'],
  ])('stops start-up, naming the rule, the reason and the SQL (%#)', (payload, reason) => {
    const sql = 'Sql' in payload ? '' : SQL;
    expect(messageOf(() => rulesOf(payload))).toBe(
      `Topic rule X (resource X): ${reason}\n  SQL: ${sql}`,
    );
  });
});

describe('the framework’s iot events', () => {
  it('one rule per enabled event, named by the framework’s logical id, the event’s name, or CloudFormation', () => {
    const rules = rulesFromTemplate(
      {
        fooBar: {
          events: [
            { iot: { sql: "SELECT * FROM 'a'" } },
            { iot: { sql: "SELECT * FROM 'b'", enabled: false } },
            { iot: { sql: "SELECT * FROM 'c'", sqlVersion: 'beta' } },
            {},
          ],
        },
        named: { name: 'n1', events: [{ iot: { sql: "SELECT * FROM 'd'", name: 'rn' } }] },
      },
      { functionName, stackName: 'st' },
    );
    expect(rules.map((r) => [r.name, r.functionName, r.compiled.sqlVersion, r.actions])).toEqual([
      [generatedRuleName('st', 'FooBarIotTopicRule1'), 'svc-dev-fooBar', '2015-10-08', undefined],
      [generatedRuleName('st', 'FooBarIotTopicRule3'), 'svc-dev-fooBar', 'beta', undefined],
      ['rn', 'n1', '2015-10-08', undefined],
    ]);
    expect(rules.map((r) => actionsOf(r))).toEqual([
      [{ kind: 'lambda', functionName: 'svc-dev-fooBar' }],
      [{ kind: 'lambda', functionName: 'svc-dev-fooBar' }],
      [{ kind: 'lambda', functionName: 'n1' }],
    ]);
  });

  it('without a stack name, a rule is named by its logical id', () => {
    const [rule] = rulesFromTemplate(
      { 'my-fn_x': { events: [{ iot: { sql: SQL } }] } },
      { functionName },
    );
    expect(rule!.name).toBe('MyDashfnUnderscorexIotTopicRule1');
  });

  it('`extensions` restate the generated rule: its version, actions and error action', () => {
    const [rule] = rulesFromTemplate(
      { foo: { events: [{ iot: { sql: "SELECT * FROM 'a'" } }] } },
      {
        functionName,
        resources,
        extensions: {
          FooIotTopicRule1: {
            Properties: {
              TopicRulePayload: {
                AwsIotSqlVersion: '2016-03-23',
                Actions: [{ Sqs: { QueueUrl: { Ref: 'Q' } } }],
                ErrorAction: { Republish: { Topic: 'err' } },
              },
            },
          },
        },
      },
    );
    expect(rule!.compiled.sqlVersion).toBe('2016-03-23');
    expect(rule!.actions!.map(describeAction)).toEqual(['sqs:q-name']);
    expect(describeAction(rule!.errorAction!)).toBe('republish:err');
  });

  it('stops start-up with the rule, the function and the SQL', () => {
    expect(
      messageOf(() =>
        rulesFromTemplate(
          { foo: { events: [{ iot: { sql: 'SELECT nope(' } }] } },
          { functionName },
        ),
      ),
    ).toBe(
      'Topic rule FooIotTopicRule1 (function foo): unsupported function "nope()" (not an AWS IoT SQL function)\n  SQL: SELECT nope(',
    );
  });
});

describe('names', () => {
  it('normalizes a function key as the framework does', () => {
    expect(normalizedFunctionName('my-fn_x')).toBe('MyDashfnUnderscorex');
  });

  it('a generated rule name keeps [A-Za-z0-9_], is stable, and at most 128 characters', () => {
    const name = generatedRuleName('svc-dev', 'MyRule');
    expect(name).toMatch(/^svcdevMyRule[A-Z0-9]{12}$/);
    expect(generatedRuleName('svc-dev', 'MyRule')).toBe(name);
    expect(generatedRuleName('svc-dev', 'Other')).not.toBe(name.replace('MyRule', 'Other'));
    const long = generatedRuleName('s'.repeat(200), 'X');
    expect(long).toHaveLength(127);
    expect(long.startsWith('s'.repeat(115))).toBe(true);
  });

  it('names each failed action as AWS’s error action message does', () => {
    const actions: RuleAction['kind'][] = ['lambda', 'sqs', 'republish', 'dynamodbv2'];
    expect(actions.map((kind) => failedActionName({ kind } as RuleAction))).toEqual([
      'LambdaAction',
      'SqsAction',
      'RepublishAction',
      'DynamoDBv2Action',
    ]);
  });
});

describe('a template without resources', () => {
  it('a queue or table reference to nothing is refused by name', () => {
    const withExtension = (actions: unknown[]) => () =>
      rulesFromTemplate(
        { foo: { events: [{ iot: { sql: SQL } }] } },
        {
          functionName,
          extensions: {
            FooIotTopicRule1: { Properties: { TopicRulePayload: { Actions: actions } } },
          },
        },
      );
    expect(messageOf(withExtension([{ Sqs: { QueueUrl: { Ref: 'Q' } } }]))).toBe(
      `Topic rule FooIotTopicRule1 (function foo): Sqs action: Q is not a queue\n  SQL: ${SQL}`,
    );
    expect(
      messageOf(withExtension([{ DynamoDBv2: { PutItem: { TableName: { Ref: 'T' } } } }])),
    ).toBe(
      `Topic rule FooIotTopicRule1 (function foo): DynamoDBv2: T is not a table\n  SQL: ${SQL}`,
    );
  });
});
