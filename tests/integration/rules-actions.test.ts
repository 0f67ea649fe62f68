/**
 * Topic rules beyond the framework's iot event, and Basic Ingest, against the offline IoT Core:
 * an AWS::IoT::TopicRule from the template with the actions of "AWS IoT rule actions" — Lambda
 * (a real HTTP server speaking the Lambda invoke API), SQS (the offline queue store), Republish
 * (to the offline broker, a `${topic(2)}` substitution template) and DynamoDBv2 (dynalite) — and
 * its error action ("Error handling (error action)", "Error action message format").
 *
 * "Reducing messaging costs with Basic Ingest" (iot-basic-ingest.html): a message on
 * `$aws/rules/<rule>/<topic>` reaches that rule only, with `<topic>` as topic(); no subscriber
 * receives it, none may subscribe to it; the device's policy must allow iot:Publish on it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import mqtt, { type MqttClient } from 'mqtt';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { startOfflineIotCore, type OfflineIotCore } from '../../local/iot/core';
import {
  generatedRuleName,
  rulesFromTemplate,
  type Resources,
} from '../../local/iot/rules/actions';
import { describeRules } from '../../local/iot/rules/engine';
import { OfflineSqsQueues, sqsDirectory } from '../../local/sqs/queue-store';
import {
  connectDevice,
  deviceCredentials,
  httpsPublish,
  publishExpectingDisconnect,
  type DeviceCredentials,
} from '../support/devices';
import { waitUntil } from '../support/held-lambda';
import { freePorts } from '../support/ports';

const REGION = 'us-east-1';
const TOPIC_ARN = `arn:aws:iot:${REGION}:000000000000:topic`;

/** As serverless.yml's resources would declare them. */
const RESOURCES: Resources = {
  ReadingsQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'readings-queue' } },
  ReadingsTable: {
    Type: 'AWS::DynamoDB::Table',
    Properties: { TableName: 'readings' },
  },
  ReadingsRule: {
    Type: 'AWS::IoT::TopicRule',
    Properties: {
      RuleName: 'ReadingsRule',
      TopicRulePayload: {
        AwsIotSqlVersion: '2016-03-23',
        Sql: "SELECT *, topic(2) AS deviceId, upper(unit) AS unit FROM 'sensors/+/reading' WHERE temp > 0",
        Actions: [
          { Lambda: { FunctionArn: { 'Fn::GetAtt': ['ProcessLambdaFunction', 'Arn'] } } },
          { Sqs: { QueueUrl: { Ref: 'ReadingsQueue' }, RoleArn: 'arn:aws:iam::1:role/r' } },
          { Republish: { Topic: 'alerts/${topic(2)}', Qos: 1, RoleArn: 'arn:aws:iam::1:role/r' } },
          {
            DynamoDBv2: {
              PutItem: { TableName: { Ref: 'ReadingsTable' } },
              RoleArn: 'arn:aws:iam::1:role/r',
            },
          },
        ],
        ErrorAction: {
          Republish: { Topic: 'errors/${topic(2)}', Qos: 1, RoleArn: 'arn:aws:iam::1:role/r' },
        },
      },
    },
  },
};
const FUNCTIONS = { process: {} };
const functionName = (key: string) => `rules-test-${key}`;

/** The device policy: telemetry, and Basic Ingest to ReadingsRule only ("Using Basic Ingest"). */
const POLICY = [
  {
    name: 'readings-policy',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow' as const,
          Action: 'iot:Connect',
          Resource: `arn:aws:iot:${REGION}:000000000000:client/*`,
        },
        {
          Effect: 'Allow' as const,
          Action: 'iot:Publish',
          Resource: [`${TOPIC_ARN}/sensors/*`, `${TOPIC_ARN}/$aws/rules/ReadingsRule/*`],
        },
      ],
    },
  },
];

let dir: string;
let core: OfflineIotCore;
let lambda: http.Server;
let database: http.Server;
let documents: DynamoDBDocumentClient;
let watcher: MqttClient;
let device: MqttClient;
let sensor: DeviceCredentials;
const invocations: Record<string, unknown>[] = [];
const received: { topic: string; payload: string }[] = [];

const listen = (server: http.Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rules-actions-'));
  // The function fails for readings that ask it to: their error action runs.
  lambda = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      invocations.push(event);
      if (event.fail === true) {
        response
          .writeHead(200, { 'x-amz-function-error': 'Unhandled' })
          .end('{"errorMessage":"boom"}');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('null');
    });
  });
  database = dynalite({ createTableMs: 0 });
  const [lambdaEndpoint, dynamodbEndpoint] = await Promise.all([listen(lambda), listen(database)]);
  const client = new DynamoDBClient({
    endpoint: dynamodbEndpoint,
    region: REGION,
    credentials: { accessKeyId: 'offline', secretAccessKey: 'offline' },
  });
  await client.send(
    new CreateTableCommand({
      TableName: 'readings',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'deviceId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'deviceId', KeyType: 'HASH' }],
    }),
  );
  documents = DynamoDBDocumentClient.from(client);

  const [mqttPort, httpsPort, dataPlanePort, plainMqttPort] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  core = await startOfflineIotCore({
    host: 'localhost',
    mqttPort,
    httpsPort,
    dataPlanePort,
    plainMqttPort,
    stateDir: dir,
    rules: rulesFromTemplate(FUNCTIONS, { functionName, resources: RESOURCES }),
    policies: POLICY,
    region: REGION,
    lambdaEndpoint,
    dynamodbEndpoint,
    onWarning: () => undefined,
  });
  watcher = await mqtt.connectAsync(`mqtt://localhost:${plainMqttPort}`, {
    clientId: 'rules-actions-watcher',
    reconnectPeriod: 0,
  });
  watcher.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  await watcher.subscribeAsync(['alerts/#', 'errors/#', 'sensors/#'], { qos: 1 });
  sensor = deviceCredentials(dir, 'sensor-1');
  device = await connectDevice(core.mqtt.port, sensor);
}, 60_000);

afterAll(async () => {
  device?.end(true);
  watcher?.end(true);
  await core?.stop();
  await Promise.all(
    [lambda, database].map((server) => new Promise((resolve) => server?.close(resolve))),
  );
  await rm(dir, { recursive: true, force: true });
});

/** waitUntil for a condition that needs a read (the queue folder, a table). */
async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const queue = () => new OfflineSqsQueues(sqsDirectory(dir)).list('readings-queue');
const itemOf = async (deviceId: string) =>
  (await documents.send(new GetCommand({ TableName: 'readings', Key: { deviceId } }))).Item;

describe('AWS::IoT::TopicRule from the template (AWS IoT rule actions)', () => {
  it('runs Lambda, SQS, Republish (with its substitution template) and DynamoDBv2 for one message', async () => {
    await device.publishAsync('sensors/s-1/reading', JSON.stringify({ temp: 21, unit: 'c' }), {
      qos: 1,
    });
    const output = { temp: 21, unit: 'C', deviceId: 's-1' };
    await waitUntil(
      () => received.some((message) => message.topic === 'alerts/s-1'),
      'the republished message',
    );
    expect(JSON.parse(received.find((m) => m.topic === 'alerts/s-1')!.payload)).toEqual(output);
    await waitUntil(
      () => invocations.some((event) => event.deviceId === 's-1'),
      'the Lambda action',
    );
    expect(invocations.find((event) => event.deviceId === 's-1')).toEqual(output);
    await eventually(async () => (await queue()).length > 0, 'the SQS message');
    expect((await queue()).map((message) => JSON.parse(message.body) as unknown)).toEqual([output]);
    await eventually(async () => (await itemOf('s-1')) !== undefined, 'the DynamoDBv2 item');
    expect(await itemOf('s-1')).toEqual(output);
  });

  it('a message WHERE skips runs no action', async () => {
    await device.publishAsync('sensors/s-9/reading', JSON.stringify({ temp: -1 }), { qos: 1 });
    await device.publishAsync('sensors/s-10/reading', JSON.stringify({ temp: 5 }), { qos: 1 });
    await waitUntil(() => received.some((m) => m.topic === 'alerts/s-10'), 'the later message');
    expect(received.some((m) => m.topic === 'alerts/s-9')).toBe(false);
    expect(invocations.some((event) => event.deviceId === 's-9')).toBe(false);
  });

  it('a failing action runs the error action with AWS’s error message', async () => {
    const payload = JSON.stringify({ temp: 3, fail: true });
    await device.publishAsync('sensors/s-3/reading', payload, { qos: 1 });
    await waitUntil(
      () => received.some((m) => m.topic === 'errors/s-3'),
      'the error action',
      10_000,
    );
    expect(JSON.parse(received.find((m) => m.topic === 'errors/s-3')!.payload)).toEqual({
      ruleName: 'ReadingsRule',
      topic: 'sensors/s-3/reading',
      clientId: 'sensor-1',
      base64OriginalPayload: Buffer.from(payload).toString('base64'),
      failures: [
        {
          failedAction: 'LambdaAction',
          failedResource: 'rules-test-process',
          errorMessage: expect.stringContaining('boom'),
        },
      ],
    });
    // The other actions of the rule did run.
    expect(received.some((m) => m.topic === 'alerts/s-3')).toBe(true);
    // The error action took it: nothing in the dead-letter store.
    expect(await core.deadLetters.list()).toEqual([]);
  });
});

describe('Basic Ingest ($aws/rules/<rule>/<topic>)', () => {
  it('goes to the named rule only, topic() without the prefix, and to no subscriber', async () => {
    await device.publishAsync(
      '$aws/rules/ReadingsRule/sensors/s-2/reading',
      JSON.stringify({ temp: 7, unit: 'k' }),
      { qos: 1 },
    );
    await waitUntil(() => received.some((m) => m.topic === 'alerts/s-2'), 'the rule ran');
    expect(invocations.find((event) => event.deviceId === 's-2')).toEqual({
      temp: 7,
      unit: 'K',
      deviceId: 's-2',
    });
    // A broker delivery would have reached the sensors/# subscriber before the rule finished.
    expect(received.filter((m) => m.topic.includes('s-2')).map((m) => m.topic)).toEqual([
      'alerts/s-2',
    ]);
  });

  it('works over HTTPS too: 200, the rule runs, the policy decides', async () => {
    const answer = await httpsPublish(
      core.https.port,
      '/topics/$aws/rules/ReadingsRule/sensors/s-5/reading?qos=1',
      JSON.stringify({ temp: 9 }),
      sensor,
    );
    expect(answer.status).toBe(200);
    await waitUntil(() => received.some((m) => m.topic === 'alerts/s-5'), 'the rule ran');
    expect(received.filter((m) => m.topic.includes('s-5')).map((m) => m.topic)).toEqual([
      'alerts/s-5',
    ]);
    const denied = await httpsPublish(
      core.https.port,
      '/topics/$aws/rules/OtherRule/sensors/s-6/reading?qos=1',
      JSON.stringify({ temp: 9 }),
      sensor,
    );
    expect(denied.status).toBe(403);
  });

  it('refuses a subscription to Basic Ingest topics (SUBACK failure 0x80)', async () => {
    const refusal = await watcher.subscribeAsync('$aws/rules/ReadingsRule/#', { qos: 1 }).then(
      () => undefined,
      (error: { packet?: { granted?: number[] } }) => error,
    );
    expect(refusal?.packet?.granted).toEqual([128]);
  });

  it('needs iot:Publish on the rule’s topic: another rule’s topic disconnects the device', async () => {
    const before = invocations.length;
    await publishExpectingDisconnect(
      core.mqtt.port,
      sensor,
      '$aws/rules/OtherRule/sensors/s-4/reading',
      JSON.stringify({ temp: 1 }),
    );
    expect(invocations.length).toBe(before);
  });

  it('a malformed Basic Ingest topic is refused (no rule name or no topic after it)', async () => {
    await publishExpectingDisconnect(
      core.mqtt.port,
      sensor,
      '$aws/rules/ReadingsRule',
      JSON.stringify({ temp: 1 }),
    );
  });
});

describe('loading the template', () => {
  it('the start-up banner names each rule (what Basic Ingest addresses) and its actions', () => {
    expect(describeRules(core.rules.rules)).toBe(
      'ReadingsRule → rules-test-process + sqs:readings-queue + republish:alerts/${topic(2)} + dynamodbv2:readings',
    );
  });

  it('names an action the offline engine does not run, at start-up', () => {
    const resources: Resources = {
      StreamRule: {
        Type: 'AWS::IoT::TopicRule',
        Properties: {
          TopicRulePayload: {
            Sql: "SELECT * FROM 'a/b'",
            Actions: [{ Kinesis: { StreamName: 's', RoleArn: 'r' } }, { S3: { BucketName: 'b' } }],
          },
        },
      },
    };
    expect(() => rulesFromTemplate({}, { functionName, resources })).toThrow(
      /StreamRule.*unsupported action\(s\) Kinesis, S3/s,
    );
  });

  it('names a rule without RuleName as CloudFormation does: stack name, logical id, suffix', () => {
    const rules = rulesFromTemplate(
      { forwardTelemetry: { events: [{ iot: { sql: "SELECT * FROM 'a/b'" } }] } },
      { functionName, stackName: 'telemetry-dev' },
    );
    expect(rules[0]!.name).toBe(
      generatedRuleName('telemetry-dev', 'ForwardTelemetryIotTopicRule1'),
    );
    expect(rules[0]!.name).toMatch(/^telemetrydevForwardTelemetryIotTopicRule1[A-Z0-9]{12}$/);
  });

  it('restates the framework’s rule from `extensions`: its actions and error action', () => {
    const [rule] = rulesFromTemplate(
      {
        forwardTelemetry: { events: [{ iot: { sql: "SELECT * FROM 'a/b'", name: 'telemetry' } }] },
      },
      {
        functionName,
        resources: {
          TelemetryDeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'dlq' } },
        },
        extensions: {
          ForwardTelemetryIotTopicRule1: {
            Properties: {
              TopicRulePayload: {
                AwsIotSqlVersion: '2016-03-23',
                Actions: [
                  {
                    Lambda: {
                      FunctionArn: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] },
                    },
                  },
                ],
                ErrorAction: { Sqs: { QueueUrl: { Ref: 'TelemetryDeadLetterQueue' } } },
              },
            },
          },
        },
      },
    );
    expect(rule!.compiled.sqlVersion).toBe('2016-03-23');
    expect(rule!.actions).toEqual([
      { kind: 'lambda', functionName: 'rules-test-forwardTelemetry' },
    ]);
    expect(rule!.errorAction).toEqual({
      kind: 'sqs',
      queueName: 'dlq',
      useBase64: false,
      deadLetters: true,
    });
  });
});
