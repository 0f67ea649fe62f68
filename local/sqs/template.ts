/**
 * What the offline SQS takes from serverless.yml: the queues (`AWS::SQS::Queue` resources, as
 * "AWS::SQS::Queue" in the CloudFormation User Guide describes their properties and defaults) and
 * the Lambda event source mappings (each function's `sqs` events, as the framework compiles them
 * to `AWS::Lambda::EventSourceMapping`, and as serverless-offline-sqs reads them), with the limits
 * CreateEventSourceMapping enforces ("Lambda parameters for Amazon SQS event source mappings").
 * A definition AWS would refuse stops the offline cloud at start, as the deploy would fail.
 */
import { SQS_DEFAULTS, type QueueSettings, type RedrivePolicy } from './queue';
import { isQueueName } from './queue-store';

export interface TemplateResource {
  Type?: string;
  Properties?: Record<string, unknown>;
}

export interface TemplateContext {
  region: string;
  accountId: string;
  /** CloudFormation names a queue without QueueName after the stack and its logical id. */
  stackName: string;
}

export const queueArn = (context: Pick<TemplateContext, 'region' | 'accountId'>, name: string) =>
  `arn:aws:sqs:${context.region}:${context.accountId}:${name}`;

/** Each AWS::SQS::Queue with its settings, keyed by logical id. */
export function queuesFromResources(
  resources: Record<string, TemplateResource | undefined>,
  context: TemplateContext,
): Map<string, QueueSettings> {
  const queues = new Map<string, QueueSettings>();
  const names = new Map<string, string>();
  const entries = Object.entries(resources).filter(([, r]) => r?.Type === 'AWS::SQS::Queue');
  for (const [logicalId, resource] of entries) {
    const properties = resource?.Properties ?? {};
    const name =
      typeof properties.QueueName === 'string'
        ? properties.QueueName
        : `${context.stackName}-${logicalId}`.slice(0, 80);
    if (!isQueueName(name))
      throw new Error(`${logicalId}: "${name}" is not a valid SQS queue name`);
    if (properties.FifoQueue === true || properties.FifoQueue === 'true') {
      throw new Error(
        `${logicalId}: FIFO queues are not emulated offline (the IoT rules' SQS action and this twin are standard-queue only)`,
      );
    }
    names.set(logicalId, name);
    const number = (property: string, fallback: number, min: number, max: number) =>
      integer(logicalId, property, properties[property], fallback, min, max);
    queues.set(logicalId, {
      name,
      arn: queueArn(context, name),
      visibilityTimeout: number('VisibilityTimeout', SQS_DEFAULTS.visibilityTimeout, 0, 43_200),
      messageRetentionPeriod: number(
        'MessageRetentionPeriod',
        SQS_DEFAULTS.messageRetentionPeriod,
        60,
        1_209_600,
      ),
      delaySeconds: number('DelaySeconds', SQS_DEFAULTS.delaySeconds, 0, 900),
      maximumMessageSize: number(
        'MaximumMessageSize',
        SQS_DEFAULTS.maximumMessageSize,
        1024,
        1_048_576,
      ),
      receiveMessageWaitTimeSeconds: number(
        'ReceiveMessageWaitTimeSeconds',
        SQS_DEFAULTS.receiveMessageWaitTimeSeconds,
        0,
        20,
      ),
    });
  }
  // The redrive policies once every queue has its ARN.
  for (const [logicalId, resource] of entries) {
    const raw = resource?.Properties?.RedrivePolicy;
    if (raw === undefined) continue;
    const settings = queues.get(logicalId)!;
    settings.redrivePolicy = redrivePolicy(logicalId, raw, (ref) => {
      const target = queues.get(ref);
      return target?.arn;
    });
    if (!settings.redrivePolicy) continue;
    const target = [...queues.values()].find(
      (queue) => queue.arn === settings.redrivePolicy!.deadLetterTargetArn,
    );
    if (!target) {
      throw new Error(
        `${logicalId}: the RedrivePolicy's deadLetterTargetArn ${settings.redrivePolicy.deadLetterTargetArn} is not a queue of this template`,
      );
    }
  }
  return queues;
}

function redrivePolicy(
  logicalId: string,
  raw: unknown,
  arnOf: (logicalId: string) => string | undefined,
): RedrivePolicy | undefined {
  const policy = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
  const target = policy.deadLetterTargetArn;
  const arn =
    typeof target === 'string' ? target : getAttArn(target, arnOf, `${logicalId} RedrivePolicy`);
  if (policy.maxReceiveCount === undefined) {
    throw new Error(`${logicalId}: the RedrivePolicy needs maxReceiveCount (1 to 1000)`);
  }
  return {
    deadLetterTargetArn: arn,
    maxReceiveCount: integer(logicalId, 'maxReceiveCount', policy.maxReceiveCount, 0, 1, 1000),
  };
}

function getAttArn(
  value: unknown,
  arnOf: (logicalId: string) => string | undefined,
  where: string,
): string {
  const getAtt = (value as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  const [ref, attribute] = Array.isArray(getAtt)
    ? getAtt.map(String)
    : typeof getAtt === 'string'
      ? getAtt.split('.')
      : [];
  const arn = ref !== undefined && attribute === 'Arn' ? arnOf(ref) : undefined;
  if (!arn) throw new Error(`${where}: cannot resolve ${JSON.stringify(value)} to a queue's ARN`);
  return arn;
}

function integer(
  logicalId: string,
  property: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new Error(
      `${logicalId}: ${property} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

export interface EventSourceMapping {
  /** The function's key in serverless.yml. */
  functionKey: string;
  /** The deployed function name the offline Lambda API knows. */
  functionName: string;
  queueName: string;
  queueArn: string;
  /** 1 to 10 000 (standard queue); above 10 needs a batching window. */
  batchSize: number;
  /** Seconds, 0 to 300. */
  maximumBatchingWindow: number;
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency (2 to 1 000) when set. */
  maximumConcurrency: number | undefined;
}

export interface SqsEventDefinition {
  arn?: unknown;
  batchSize?: unknown;
  maximumBatchingWindow?: unknown;
  functionResponseType?: unknown;
  enabled?: unknown;
  maximumConcurrency?: unknown;
  filterPatterns?: unknown;
}

export type FunctionsWithSqsEvents = Record<
  string,
  {
    name?: string;
    /** Seconds; provider.timeout, else the framework's 6, when not set. */
    timeout?: unknown;
    events?: { sqs?: SqsEventDefinition | string | Record<string, unknown> }[];
  }
>;

/** The framework's function timeout when neither the function nor the provider sets one. */
const FRAMEWORK_DEFAULT_TIMEOUT = 6;

/**
 * The functions' `sqs` events as mappings; disabled ones (`enabled: false`) are left out. As
 * CreateEventSourceMapping does, a queue whose visibility timeout is shorter than the function's
 * timeout is refused ("Creating and configuring an Amazon SQS event source mapping": "Lambda
 * validates this requirement when you create or update an event source mapping").
 */
export function eventSourceMappings(
  functions: FunctionsWithSqsEvents,
  queues: Map<string, QueueSettings>,
  functionName: (key: string) => string,
  providerTimeout?: unknown,
): EventSourceMapping[] {
  const mappings: EventSourceMapping[] = [];
  for (const [key, definition] of Object.entries(functions)) {
    for (const [index, event] of (definition.events ?? []).entries()) {
      if (event.sqs === undefined) continue;
      const where = `function ${key}, sqs event ${index + 1}`;
      const sqs = (
        typeof event.sqs === 'string' || 'Fn::GetAtt' in event.sqs ? { arn: event.sqs } : event.sqs
      ) as SqsEventDefinition;
      if (sqs.enabled === false || sqs.enabled === 'false') continue;
      if (sqs.filterPatterns !== undefined) {
        throw new Error(`${where}: filterPatterns are not emulated offline`);
      }
      const arn =
        typeof sqs.arn === 'string'
          ? sqs.arn
          : getAttArn(sqs.arn, (ref) => queues.get(ref)?.arn, where);
      const queue = [...queues.values()].find((settings) => settings.arn === arn);
      const byName = queue ?? [...queues.values()].find((s) => s.name === arn.split(':').at(-1));
      if (!byName) throw new Error(`${where}: ${arn} is not a queue of this template`);
      const timeout = integer(
        `function ${key}`,
        'timeout',
        definition.timeout ?? providerTimeout,
        FRAMEWORK_DEFAULT_TIMEOUT,
        1,
        900,
      );
      if (byName.visibilityTimeout < timeout) {
        throw new Error(
          `${where}: Invalid request provided: Queue visibility timeout: ${byName.visibilityTimeout} seconds is less than Function timeout: ${timeout} seconds`,
        );
      }
      const batchSize = integer(where, 'batchSize', sqs.batchSize, 10, 1, 10_000);
      const window = integer(where, 'maximumBatchingWindow', sqs.maximumBatchingWindow, 0, 0, 300);
      if (batchSize > 10 && window < 1) {
        throw new Error(
          `${where}: a batchSize over 10 needs maximumBatchingWindow of at least 1 second, as Lambda requires for standard queues`,
        );
      }
      const responseType = sqs.functionResponseType;
      if (responseType !== undefined && responseType !== 'ReportBatchItemFailures') {
        throw new Error(`${where}: functionResponseType must be ReportBatchItemFailures`);
      }
      mappings.push({
        functionKey: key,
        functionName: definition.name ?? functionName(key),
        queueName: byName.name,
        queueArn: byName.arn,
        batchSize,
        maximumBatchingWindow: window,
        reportBatchItemFailures: responseType === 'ReportBatchItemFailures',
        maximumConcurrency:
          sqs.maximumConcurrency === undefined
            ? undefined
            : integer(where, 'maximumConcurrency', sqs.maximumConcurrency, 2, 2, 1000),
      });
    }
  }
  return mappings;
}
