/**
 * The stage check (plugins/resource-names.ts) against the limits of the AWS API references it
 * names. The end-to-end check (`sls package --stage <too long>`) is in
 * tests/integration/packaging.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import {
  NAME_RULES,
  ResourceNameError,
  assertNamesAccepted,
  longestStage,
  namesOfResources,
  type AwsName,
} from '../../plugins/resource-names';

/** The names this service makes from a stage (serverless.yml and resources/). */
function namesFor(stage: string): AwsName[] {
  return [
    { name: `telemetry-${stage}`, rule: NAME_RULES.stack },
    { name: `telemetry-${stage}-forwardTelemetry`, rule: NAME_RULES.function },
    { name: `telemetry-${stage}-connect`, rule: NAME_RULES.function },
    { name: `telemetry-${stage}-connections`, rule: NAME_RULES.table },
    { name: `telemetry-${stage}-telemetry-dlq`, rule: NAME_RULES.queue },
    { name: `telemetry-${stage}-device`, rule: NAME_RULES.iotPolicy },
  ];
}

describe('assertNamesAccepted', () => {
  it('accepts a stage up to the longest that fits a Lambda function name (64)', () => {
    const stage = 'a'.repeat(37);
    expect(`telemetry-${stage}-forwardTelemetry`).toHaveLength(64);
    expect(() => assertNamesAccepted(stage, namesFor(stage))).not.toThrow();
    expect(longestStage(stage, namesFor(stage))).toBe(37);
  });

  it('refuses one character more, naming the name, its length, the limit and the doc', () => {
    const stage = 'a'.repeat(38);
    expect(() => assertNamesAccepted(stage, namesFor(stage))).toThrow(
      new ResourceNameError(
        [
          `Stage "${stage}" cannot be deployed:`,
          `  - the Lambda function name "telemetry-${stage}-forwardTelemetry" has 65 characters; AWS allows at most 64 (Lambda API Reference, CreateFunction: FunctionName)`,
          'Use a stage of letters, digits and hyphens, at most 37 characters long with this service.',
        ].join('\n'),
      ),
    );
  });

  it('lists every limit a very long stage breaks (SQS queue names: 80)', () => {
    const stage = 'b'.repeat(60);
    let message = '';
    try {
      assertNamesAccepted(stage, namesFor(stage));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('the SQS queue name');
    expect(message).toContain('has 84 characters; AWS allows at most 80');
    expect(message.match(/Lambda function name/g)).toHaveLength(2);
    expect(message).not.toContain('DynamoDB table name');
  });

  it('refuses characters AWS refuses, per name', () => {
    expect(() =>
      assertNamesAccepted('x', [{ name: 'telemetry-a.b', rule: NAME_RULES.stack }]),
    ).toThrow(
      'the CloudFormation stack name "telemetry-a.b" has characters AWS refuses: letters, digits and hyphens, starting with a letter only',
    );
    expect(() => assertNamesAccepted('x', [{ name: 'a.b', rule: NAME_RULES.function }])).toThrow(
      'the Lambda function name "a.b" has characters AWS refuses: letters, digits, hyphens and underscores only',
    );
    expect(() => assertNamesAccepted('x', [{ name: 'ab', rule: NAME_RULES.table }])).toThrow(
      'has 2 characters; AWS needs at least 3',
    );
  });
});

describe('namesOfResources', () => {
  it('takes the literal names of the resource types that have one, and skips intrinsics', () => {
    expect(
      namesOfResources({
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 't-dev-connections' } },
        Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 't-dev-dlq' } },
        Role: { Type: 'AWS::IAM::Role', Properties: {} },
        Policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: { 'Fn::Sub': 'x' } } },
        Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'ignored' } },
      }),
    ).toEqual([
      { name: 't-dev-connections', rule: NAME_RULES.table },
      { name: 't-dev-dlq', rule: NAME_RULES.queue },
    ]);
  });
});
