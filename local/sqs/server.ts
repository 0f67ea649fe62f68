/**
 * The offline SQS endpoint: the AWS JSON 1.0 protocol the current AWS SDKs speak to SQS
 * (`POST /`, `X-Amz-Target: AmazonSQS.<Action>`, `Content-Type: application/x-amz-json-1.0`;
 * "Amazon SQS AWS JSON protocol FAQs" and "Interpreting Amazon SQS JSON API responses", Amazon
 * SQS Developer Guide), on loopback. As in AWS, every request must carry a SigV4 signature
 * (signing name `sqs`), here one made with the offline cloud's credentials
 * (local/offline-credentials.ts): anything else gets 403 and changes nothing.
 *
 * Why not a maintained emulator: sqslite speaks the query/XML protocol only (on fastify 3), which
 * @aws-sdk/client-sqs 3.x no longer sends; serverless-offline-sqs is a poller built on the AWS SDK
 * v2 (end of support) that needs an SQS endpoint besides (ElasticMQ: Java); ElasticMQ and
 * LocalStack need Java or Docker, which this project does without.
 *
 * The actions, their parameters, limits and errors are those of the Amazon SQS API Reference
 * (GetQueueUrl, ListQueues, GetQueueAttributes, SendMessage, SendMessageBatch, ReceiveMessage,
 * DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch,
 * PurgeQueue, StartMessageMoveTask, ListMessageMoveTasks). Queues come from serverless.yml, so
 * CreateQueue, DeleteQueue and SetQueueAttributes answer UnsupportedOperation.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { sigV4RequestOf, verifySigV4, type SigV4Credentials } from '../aws/sigv4';
import { close, listen } from '../iot/broker/mqtt-endpoint';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../offline-credentials';
import { SqsError, invalidValue, queueDoesNotExist } from './errors';
import { messageSize, type MessageAttributeValue, type ReceivedMessage } from './queue';
import type { OfflineSqsQueues } from './queue-store';

/** The signing name in SQS's credential scope. */
export const SQS_SIGNING_SERVICE = 'sqs';
/** SendMessageBatch: the messages together at most 1 MiB ("Amazon SQS message quotas"). */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Past this a request cannot be a valid SQS request: refused before it is read further. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const MAX_BATCH_ENTRIES = 10;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
/** The message system attributes a standard queue has (MessageSystemAttributeName). */
const SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'DeadLetterQueueSourceArn',
];
const FIFO_ONLY_ATTRIBUTES = [
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
];
const QUEUE_ATTRIBUTES = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'MaximumMessageSize',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'Policy',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'RedriveAllowPolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
];

export interface SqsEndpointOptions {
  host: string;
  port: number;
  queues: OfflineSqsQueues;
  accountId: string;
  /** Whose signatures are accepted; the offline credentials unless given. */
  credentials?: SigV4Credentials;
  region?: string;
}

export interface SqsEndpoint {
  port: number;
  /** `http://host:port`, what an SQS client's `endpoint` is set to. */
  url: string;
  queueUrl(name: string): string;
  stop(): Promise<void>;
}

type Params = Record<string, unknown>;

interface MoveTask {
  TaskHandle: string;
  Status: 'COMPLETED';
  SourceArn: string;
  DestinationArn?: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
}

export async function startSqsEndpoint(options: SqsEndpointOptions): Promise<SqsEndpoint> {
  const credentials = options.credentials ?? OFFLINE_CREDENTIALS;
  const region = options.region ?? OFFLINE_REGION;
  let base = '';
  const api = new SqsApi(options.queues, options.accountId, (name) => queueUrl(name));
  const queueUrl = (name: string) => `${base}/${options.accountId}/${name}`;

  const server = http.createServer((request, response) => {
    void handle(request, response);
  });
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const body = await readBody(request);
      const verdict = await verifySigV4(sigV4RequestOf(request, body, 'POST'), credentials, {
        service: SQS_SIGNING_SERVICE,
        region,
      });
      if (!verdict.ok) {
        answer(
          response,
          requestId,
          403,
          { __type: verdict.code, message: verdict.reason },
          {
            'x-amzn-query-error': `${verdict.code};Sender`,
          },
        );
        return;
      }
      const target = String(request.headers['x-amz-target'] ?? '');
      const action = /^AmazonSQS\.([A-Za-z]+)$/.exec(target)?.[1];
      if (request.method !== 'POST' || !action || !api.has(action)) {
        throw new SqsError(
          'UnknownOperationException',
          `The action or operation requested is invalid: ${target.slice(0, 100) || 'no X-Amz-Target'}.`,
        );
      }
      const params = parseParams(body);
      // A long poll ends when the client goes away.
      const gone = new AbortController();
      response.once('close', () => gone.abort());
      const result = await api.call(action, params, gone.signal);
      answer(response, requestId, 200, result);
    } catch (error) {
      const sqsError =
        error instanceof SqsError
          ? error
          : new SqsError('InternalFailure', `The request processing has failed: ${String(error)}`);
      answer(
        response,
        requestId,
        sqsError.status,
        { __type: `com.amazonaws.sqs#${sqsError.code}`, message: sqsError.message },
        {
          'x-amzn-query-error': `${sqsError.queryCode};${sqsError.senderFault ? 'Sender' : 'Receiver'}`,
          // A body not read to its end cannot leave the connection reusable.
          ...(sqsError.status === 413 ? { connection: 'close' } : {}),
        },
      );
    }
  }

  const port = await listen(server, options.host, options.port);
  base = `http://${options.host}:${port}`;
  return {
    port,
    url: base,
    queueUrl,
    stop: async () => {
      server.closeAllConnections();
      await close(server);
    },
  };
}

function answer(
  response: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    ...headers,
  });
  response.end(text);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  const tooLarge = () =>
    new SqsError(
      'RequestEntityTooLarge',
      `The request body exceeds ${MAX_REQUEST_BYTES} bytes, more than any SQS request can hold.`,
    );
  if (Number(request.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) {
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        request.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

function parseParams(body: Buffer): Params {
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new SqsError('SerializationException', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SqsError('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed as Params;
}

function requiredString(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value === null || value === '') {
    throw new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  }
  if (typeof value !== 'string') throw invalidValue(name, value, 'must be a string');
  return value;
}

function optionalInteger(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalidValue(name, value, 'must be an integer');
  }
  return value;
}

function stringList(params: Params, name: string): string[] {
  const value = params[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw invalidValue(name, value, 'must be a list of strings');
  }
  return value as string[];
}

function entriesOf(params: Params): Params[] {
  const entries = params.Entries;
  if (entries === undefined || (Array.isArray(entries) && entries.length === 0)) {
    throw new SqsError(
      'EmptyBatchRequest',
      'There should be at least one SendMessageBatchRequestEntry in the request.',
    );
  }
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'object' || e === null)) {
    throw invalidValue('Entries', entries, 'must be a list of entries');
  }
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`,
    );
  }
  const ids = new Set<string>();
  for (const entry of entries as Params[]) {
    const id = entry.Id;
    if (typeof id !== 'string' || !BATCH_ENTRY_ID.test(id)) {
      throw new SqsError(
        'InvalidBatchEntryId',
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      );
    }
    if (ids.has(id)) {
      throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    }
    ids.add(id);
  }
  return entries as Params[];
}

/** SendMessage's MessageAttributes: at most 10, each with a String, Number or Binary type. */
function messageAttributes(value: unknown): Record<string, MessageAttributeValue> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidValue('MessageAttributes', value, 'must be a map');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 10) {
    throw invalidValue(
      'MessageAttributes',
      `${entries.length} attributes`,
      'a message can have at most 10 attributes',
    );
  }
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, raw] of entries) {
    const attribute = (raw ?? {}) as Record<string, unknown>;
    const type = attribute.DataType;
    if (typeof type !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(type)) {
      throw invalidValue(
        `MessageAttributes.${name}.DataType`,
        type,
        'must be String, Number or Binary, with an optional custom suffix',
      );
    }
    const binary = type.startsWith('Binary');
    const content = binary ? attribute.BinaryValue : attribute.StringValue;
    if (typeof content !== 'string' || content.length === 0) {
      throw invalidValue(
        `MessageAttributes.${name}`,
        name,
        `a ${binary ? 'BinaryValue' : 'StringValue'} is required`,
      );
    }
    out[name] = binary
      ? { DataType: type, BinaryValue: content }
      : { DataType: type, StringValue: content };
  }
  return out;
}

class SqsApi {
  private readonly moveTasks: MoveTask[] = [];
  private readonly actions: Record<string, (params: Params, signal: AbortSignal) => unknown> = {
    GetQueueUrl: (p) => this.getQueueUrl(p),
    ListQueues: (p) => this.listQueues(p),
    GetQueueAttributes: (p) => this.getQueueAttributes(p),
    SendMessage: (p) => this.sendMessage(p),
    SendMessageBatch: (p) => this.sendMessageBatch(p),
    ReceiveMessage: (p, signal) => this.receiveMessage(p, signal),
    DeleteMessage: (p) => this.deleteMessage(p),
    DeleteMessageBatch: (p) => this.deleteMessageBatch(p),
    ChangeMessageVisibility: (p) => this.changeMessageVisibility(p),
    ChangeMessageVisibilityBatch: (p) => this.changeMessageVisibilityBatch(p),
    PurgeQueue: (p) => this.purgeQueue(p),
    StartMessageMoveTask: (p) => this.startMessageMoveTask(p),
    ListMessageMoveTasks: (p) => this.listMessageMoveTasks(p),
  };
  /** SQS actions the offline twin leaves to serverless.yml. */
  private readonly unsupported = new Set([
    'CreateQueue',
    'DeleteQueue',
    'SetQueueAttributes',
    'TagQueue',
    'UntagQueue',
    'ListQueueTags',
    'AddPermission',
    'RemovePermission',
    'ListDeadLetterSourceQueues',
    'CancelMessageMoveTask',
  ]);

  constructor(
    private readonly queues: OfflineSqsQueues,
    private readonly accountId: string,
    private readonly urlOf: (name: string) => string,
  ) {}

  has(action: string): boolean {
    return action in this.actions || this.unsupported.has(action);
  }

  async call(action: string, params: Params, signal: AbortSignal): Promise<unknown> {
    const run = this.actions[action];
    if (!run) {
      throw new SqsError(
        'UnsupportedOperation',
        `${action} is not available offline: the queues come from serverless.yml.`,
      );
    }
    return (await run(params, signal)) ?? {};
  }

  /** The queue a QueueUrl names: `<anything>/<account>/<name>`, of this account. */
  private queueName(params: Params): string {
    const url = requiredString(params, 'QueueUrl');
    let segments: string[];
    try {
      segments = new URL(url).pathname.split('/').filter(Boolean);
    } catch {
      segments = url.split('/').filter(Boolean);
    }
    const [account, name] = segments.slice(-2);
    if (segments.length < 2 || account !== this.accountId || !name) throw queueDoesNotExist();
    this.queues.queue(name);
    return name;
  }

  private getQueueUrl(params: Params) {
    const name = requiredString(params, 'QueueName');
    const owner = params.QueueOwnerAWSAccountId;
    if (owner !== undefined && owner !== this.accountId) throw queueDoesNotExist();
    this.queues.queue(name);
    return { QueueUrl: this.urlOf(name) };
  }

  private listQueues(params: Params) {
    const prefix = typeof params.QueueNamePrefix === 'string' ? params.QueueNamePrefix : '';
    const max = optionalInteger(params, 'MaxResults');
    if (max !== undefined && (max < 1 || max > 1000)) {
      throw invalidValue('MaxResults', max, 'must be between 1 and 1000');
    }
    const names = this.queues
      .names()
      .filter((name) => name.startsWith(prefix))
      .sort();
    const start = typeof params.NextToken === 'string' ? Number(params.NextToken) || 0 : 0;
    const end = max === undefined ? names.length : start + max;
    const page = names.slice(start, end);
    return {
      ...(page.length > 0 ? { QueueUrls: page.map((name) => this.urlOf(name)) } : {}),
      ...(max !== undefined && end < names.length ? { NextToken: String(end) } : {}),
    };
  }

  private getQueueAttributes(params: Params) {
    const name = this.queueName(params);
    const wanted = stringList(params, 'AttributeNames');
    for (const attribute of wanted) {
      if (attribute !== 'All' && !QUEUE_ATTRIBUTES.includes(attribute)) {
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${attribute}.`);
      }
    }
    const all = this.queues.attributes(name);
    const picked = Object.fromEntries(
      Object.entries(all).filter(([key]) => wanted.includes('All') || wanted.includes(key)),
    );
    return Object.keys(picked).length > 0 ? { Attributes: picked } : {};
  }

  private async sendMessage(params: Params) {
    const name = this.queueName(params);
    const message = await this.queues.send(name, requiredString(params, 'MessageBody'), {
      delaySeconds: optionalInteger(params, 'DelaySeconds'),
      messageAttributes: messageAttributes(params.MessageAttributes),
      senderId: OFFLINE_SENDER_ID,
    });
    return {
      MessageId: message.id,
      MD5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes
        ? { MD5OfMessageAttributes: message.md5OfMessageAttributes }
        : {}),
    };
  }

  private async sendMessageBatch(params: Params) {
    const name = this.queueName(params);
    const entries = entriesOf(params);
    let total = 0;
    for (const entry of entries) {
      const body = typeof entry.MessageBody === 'string' ? entry.MessageBody : '';
      try {
        total += messageSize(body, messageAttributes(entry.MessageAttributes));
      } catch {
        // The entry fails on its own below.
      }
    }
    if (total > MAX_BATCH_BYTES) {
      throw new SqsError(
        'BatchRequestTooLong',
        `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes. You have sent ${total} bytes.`,
      );
    }
    const outcomes = await Promise.all(
      entries.map(async (entry) => {
        try {
          const message = await this.queues.send(name, requiredString(entry, 'MessageBody'), {
            delaySeconds: optionalInteger(entry, 'DelaySeconds'),
            messageAttributes: messageAttributes(entry.MessageAttributes),
            senderId: OFFLINE_SENDER_ID,
          });
          return {
            ok: true as const,
            result: {
              Id: entry.Id as string,
              MessageId: message.id,
              MD5OfMessageBody: message.md5OfBody,
              ...(message.md5OfMessageAttributes
                ? { MD5OfMessageAttributes: message.md5OfMessageAttributes }
                : {}),
            },
          };
        } catch (error) {
          return { ok: false as const, result: batchFailure(entry, error) };
        }
      }),
    );
    return batchResult(outcomes);
  }

  private async receiveMessage(params: Params, signal: AbortSignal) {
    const name = this.queueName(params);
    const systemNames = [
      ...stringList(params, 'AttributeNames'),
      ...stringList(params, 'MessageSystemAttributeNames'),
    ];
    for (const attribute of systemNames) {
      if (
        attribute !== 'All' &&
        !SYSTEM_ATTRIBUTES.includes(attribute) &&
        !FIFO_ONLY_ATTRIBUTES.includes(attribute)
      ) {
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${attribute}.`);
      }
    }
    const attributeNames = stringList(params, 'MessageAttributeNames');
    const received = await this.queues.receive(name, {
      maxNumberOfMessages: optionalInteger(params, 'MaxNumberOfMessages'),
      visibilityTimeout: optionalInteger(params, 'VisibilityTimeout'),
      waitTimeSeconds: optionalInteger(params, 'WaitTimeSeconds'),
      signal,
    });
    if (received.length === 0) return {};
    return {
      Messages: received.map((item) => wireMessage(item, systemNames, attributeNames)),
    };
  }

  private deleteMessage(params: Params) {
    this.queues.delete(this.queueName(params), requiredString(params, 'ReceiptHandle'));
    return {};
  }

  private deleteMessageBatch(params: Params) {
    const name = this.queueName(params);
    return batchResult(
      entriesOf(params).map((entry) => {
        try {
          this.queues.delete(name, requiredString(entry, 'ReceiptHandle'));
          return { ok: true as const, result: { Id: entry.Id as string } };
        } catch (error) {
          return { ok: false as const, result: batchFailure(entry, error) };
        }
      }),
    );
  }

  private changeMessageVisibility(params: Params) {
    const timeout = optionalInteger(params, 'VisibilityTimeout');
    if (timeout === undefined) {
      throw new SqsError(
        'MissingParameter',
        'The request must contain the parameter VisibilityTimeout.',
      );
    }
    this.queues.changeVisibility(
      this.queueName(params),
      requiredString(params, 'ReceiptHandle'),
      timeout,
    );
    return {};
  }

  private changeMessageVisibilityBatch(params: Params) {
    const name = this.queueName(params);
    return batchResult(
      entriesOf(params).map((entry) => {
        try {
          const timeout = optionalInteger(entry, 'VisibilityTimeout') ?? 0;
          this.queues.changeVisibility(name, requiredString(entry, 'ReceiptHandle'), timeout);
          return { ok: true as const, result: { Id: entry.Id as string } };
        } catch (error) {
          return { ok: false as const, result: batchFailure(entry, error) };
        }
      }),
    );
  }

  private purgeQueue(params: Params) {
    this.queues.purge(this.queueName(params));
    return {};
  }

  /** The dead-letter queue redrive: synchronous offline, so the task is COMPLETED at once. */
  private async startMessageMoveTask(params: Params) {
    const sourceArn = requiredString(params, 'SourceArn');
    const source = this.queues.byArn(sourceArn);
    if (!source) throw new SqsError('ResourceNotFoundException', 'The resource does not exist.');
    if (this.queues.deadLetterSources(source.name).length === 0) {
      throw invalidValue(
        'SourceArn',
        sourceArn,
        'Source queue must be configured as a Dead Letter Queue',
      );
    }
    const destinationArn =
      typeof params.DestinationArn === 'string' ? params.DestinationArn : undefined;
    const destination = destinationArn ? this.queues.byArn(destinationArn) : undefined;
    if (destinationArn && !destination) {
      throw new SqsError('ResourceNotFoundException', 'The resource does not exist.');
    }
    const toMove = source.size;
    const outcome = await this.queues.moveMessages(source.name, destination?.name);
    const task: MoveTask = {
      TaskHandle: Buffer.from(JSON.stringify({ id: randomUUID(), sourceArn })).toString('base64'),
      Status: 'COMPLETED',
      SourceArn: sourceArn,
      ...(destinationArn ? { DestinationArn: destinationArn } : {}),
      ApproximateNumberOfMessagesMoved: outcome.moved,
      ApproximateNumberOfMessagesToMove: toMove,
      StartedTimestamp: Date.now(),
    };
    this.moveTasks.unshift(task);
    return { TaskHandle: task.TaskHandle };
  }

  private listMessageMoveTasks(params: Params) {
    const sourceArn = requiredString(params, 'SourceArn');
    if (!this.queues.byArn(sourceArn)) {
      throw new SqsError('ResourceNotFoundException', 'The resource does not exist.');
    }
    const max = optionalInteger(params, 'MaxResults') ?? 1;
    if (max < 1 || max > 10) throw invalidValue('MaxResults', max, 'must be between 1 and 10');
    // Only the most recent task carries its handle, as in SQS.
    const results = this.moveTasks
      .filter((task) => task.SourceArn === sourceArn)
      .slice(0, max)
      .map((task, index) => (index === 0 ? task : { ...task, TaskHandle: undefined }));
    return { Results: results };
  }
}

/** The SenderId of messages sent through the API: the offline credentials' (an IAM user's id). */
const OFFLINE_SENDER_ID = 'AIDAOFFLINECREDENTIALS';

function wireMessage(
  { message, receiptHandle, receiveCount, firstReceivedAt }: ReceivedMessage,
  systemNames: string[],
  attributeNames: string[],
) {
  const all = systemNames.includes('All');
  const system: Record<string, string> = {
    SenderId: message.senderId,
    SentTimestamp: String(message.sentAt),
    ApproximateReceiveCount: String(receiveCount),
    ApproximateFirstReceiveTimestamp: String(firstReceivedAt),
    ...(message.deadLetterSourceArn
      ? { DeadLetterQueueSourceArn: message.deadLetterSourceArn }
      : {}),
  };
  const attributes = Object.fromEntries(
    Object.entries(system).filter(([name]) => all || systemNames.includes(name)),
  );
  const wanted = (name: string) =>
    attributeNames.some(
      (pattern) =>
        pattern === 'All' ||
        pattern === '.*' ||
        pattern === name ||
        (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
    );
  const userAttributes = Object.fromEntries(
    Object.entries(message.messageAttributes ?? {}).filter(([name]) => wanted(name)),
  );
  const hasUserAttributes = Object.keys(userAttributes).length > 0;
  return {
    MessageId: message.id,
    ReceiptHandle: receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
    ...(hasUserAttributes
      ? {
          MessageAttributes: userAttributes,
          MD5OfMessageAttributes: message.md5OfMessageAttributes,
        }
      : {}),
  };
}

function batchFailure(entry: Params, error: unknown) {
  const sqsError =
    error instanceof SqsError ? error : new SqsError('InternalFailure', String(error));
  return {
    Id: String(entry.Id),
    SenderFault: sqsError.senderFault,
    Code: sqsError.queryCode,
    Message: sqsError.message,
  };
}

function batchResult(outcomes: { ok: boolean; result: object }[]) {
  return {
    Successful: outcomes.filter((o) => o.ok).map((o) => o.result),
    Failed: outcomes.filter((o) => !o.ok).map((o) => o.result),
  };
}
