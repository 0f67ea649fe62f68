/**
 * What the offline SQS reads from serverless.yml: AWS::SQS::Queue resources with their
 * CloudFormation defaults ("AWS::SQS::Queue", CloudFormation User Guide: VisibilityTimeout 30,
 * MessageRetentionPeriod 345 600, MaximumMessageSize 262 144 …) and redrive policies, and the
 * functions' `sqs` events as event source mappings with the limits Lambda enforces ("Lambda
 * parameters for Amazon SQS event source mappings"; "Creating and configuring an Amazon SQS event
 * source mapping": the function timeout must not exceed the queue's visibility timeout).
 */
import { describe, expect, it } from '@jest/globals';
import {
  eventSourceMappings,
  queuesFromResources,
  type FunctionsWithSqsEvents,
} from '../../local/sqs/template';

const CONTEXT = { region: 'eu-west-1', accountId: '000000000000', stackName: 'svc-dev' };
const arn = (name: string) => `arn:aws:sqs:eu-west-1:000000000000:${name}`;
const RESOURCES = {
  Work: {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: 'svc-dev-work',
      VisibilityTimeout: '60',
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['WorkDlq', 'Arn'] },
        maxReceiveCount: 5,
      },
    },
  },
  WorkDlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
  Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
};

describe('queuesFromResources', () => {
  it('takes each queue’s settings, CloudFormation’s defaults and its redrive policy', () => {
    const queues = queuesFromResources(RESOURCES, CONTEXT);
    expect([...queues.keys()]).toEqual(['Work', 'WorkDlq']);
    expect(queues.get('Work')).toEqual({
      name: 'svc-dev-work',
      arn: arn('svc-dev-work'),
      visibilityTimeout: 60,
      messageRetentionPeriod: 345_600,
      delaySeconds: 0,
      maximumMessageSize: 262_144,
      receiveMessageWaitTimeSeconds: 0,
      redrivePolicy: { deadLetterTargetArn: arn('svc-dev-WorkDlq'), maxReceiveCount: 5 },
    });
    // No QueueName: named after the stack and the logical id.
    expect(queues.get('WorkDlq')).toMatchObject({
      name: 'svc-dev-WorkDlq',
      messageRetentionPeriod: 1_209_600,
      visibilityTimeout: 30,
    });
  });

  it('takes a redrive policy as a JSON string with an ARN, and `X.Arn` GetAtt', () => {
    const queues = queuesFromResources(
      {
        A: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn('b'), maxReceiveCount: '3' }),
          },
        },
        B: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'b' } },
        C: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': 'B.Arn' }, maxReceiveCount: 10 },
          },
        },
      },
      CONTEXT,
    );
    expect(queues.get('A')!.redrivePolicy).toEqual({
      deadLetterTargetArn: arn('b'),
      maxReceiveCount: 3,
    });
    expect(queues.get('C')!.redrivePolicy).toEqual({
      deadLetterTargetArn: arn('b'),
      maxReceiveCount: 10,
    });
  });

  it.each([
    [{ VisibilityTimeout: 43_201 }, /VisibilityTimeout must be an integer from 0 to 43200/],
    [{ MessageRetentionPeriod: 59 }, /MessageRetentionPeriod must be an integer from 60/],
    [{ DelaySeconds: 'soon' }, /DelaySeconds must be an integer/],
    [{ FifoQueue: true, QueueName: 'q.fifo' }, /FIFO queues are not emulated offline/],
    [{ QueueName: 'has space' }, /not a valid SQS queue name/],
    [
      { RedrivePolicy: { deadLetterTargetArn: arn('elsewhere'), maxReceiveCount: 1 } },
      /is not a queue of this template/,
    ],
    [
      { RedrivePolicy: { deadLetterTargetArn: { Ref: 'Q' }, maxReceiveCount: 1 } },
      /cannot resolve .* to a queue's ARN/,
    ],
    [{ RedrivePolicy: { deadLetterTargetArn: arn('svc-dev-Q') } }, /needs maxReceiveCount/],
  ])('refuses %j as CloudFormation would', (properties, error) => {
    expect(() =>
      queuesFromResources({ Q: { Type: 'AWS::SQS::Queue', Properties: properties } }, CONTEXT),
    ).toThrow(error);
  });
});

describe('eventSourceMappings', () => {
  const queues = queuesFromResources(RESOURCES, CONTEXT);
  const name = (key: string) => `svc-dev-${key}`;
  const mappings = (functions: FunctionsWithSqsEvents, providerTimeout?: unknown) =>
    eventSourceMappings(functions, queues, name, providerTimeout);

  it('reads an sqs event with a GetAtt ARN and its settings', () => {
    expect(
      mappings({
        consume: {
          events: [
            {
              sqs: {
                arn: { 'Fn::GetAtt': ['Work', 'Arn'] },
                batchSize: '100',
                maximumBatchingWindow: 1,
                functionResponseType: 'ReportBatchItemFailures',
              },
            },
          ],
        },
      }),
    ).toEqual([
      {
        functionKey: 'consume',
        functionName: 'svc-dev-consume',
        queueName: 'svc-dev-work',
        queueArn: arn('svc-dev-work'),
        batchSize: 100,
        maximumBatchingWindow: 1,
        reportBatchItemFailures: true,
        maximumConcurrency: undefined,
      },
    ]);
  });

  it('reads the short form (an ARN string), Lambda’s defaults, and skips a disabled event', () => {
    const [mapping, ...rest] = mappings({
      a: { name: 'custom-name', events: [{ sqs: arn('svc-dev-work') }] },
      b: { events: [{ sqs: { arn: arn('svc-dev-work'), enabled: false } }] },
    });
    expect(rest).toEqual([]);
    expect(mapping).toMatchObject({
      functionName: 'custom-name',
      batchSize: 10,
      maximumBatchingWindow: 0,
      reportBatchItemFailures: false,
    });
  });

  it.each([
    [{ batchSize: 11 }, /a batchSize over 10 needs maximumBatchingWindow of at least 1 second/],
    [
      { batchSize: 10_001, maximumBatchingWindow: 1 },
      /batchSize must be an integer from 1 to 10000/,
    ],
    [{ maximumBatchingWindow: 301 }, /maximumBatchingWindow must be an integer from 0 to 300/],
    [
      { functionResponseType: 'Everything' },
      /functionResponseType must be ReportBatchItemFailures/,
    ],
    [{ filterPatterns: [{ body: {} }] }, /filterPatterns are not emulated offline/],
    [{ arn: arn('nowhere') }, /is not a queue of this template/],
  ])('refuses %j as CreateEventSourceMapping would', (overrides, error) => {
    expect(() =>
      mappings({ f: { events: [{ sqs: { arn: arn('svc-dev-work'), ...overrides } }] } }),
    ).toThrow(error);
  });

  it('refuses a function timeout longer than the queue’s visibility timeout', () => {
    const event = { sqs: { arn: arn('svc-dev-work') } };
    expect(() => mappings({ f: { timeout: 61, events: [event] } })).toThrow(
      'Queue visibility timeout: 60 seconds is less than Function timeout: 61 seconds',
    );
    expect(() => mappings({ f: { events: [event] } }, 90)).toThrow(
      /less than Function timeout: 90/,
    );
    expect(mappings({ f: { timeout: 60, events: [event] } }, 90)).toHaveLength(1);
  });
});
