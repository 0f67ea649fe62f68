/**
 * `sls package` per stage with no AWS credentials: what each zip holds and what Lambda will load
 * from it, and what the CloudFormation template grants. The template also goes through cfn-lint.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import cfnLint from 'cfn-lint';
import { REPO_ROOT, SERVERLESS_BIN } from '../support/offline-stack';

const run = promisify(execFile);
const FUNCTIONS = [
  'authorize',
  'connect',
  'disconnect',
  'default',
  'sendMessage',
  'subscribe',
  'unsubscribe',
  'sendCommand',
  'forwardTelemetry',
];

type Template = { Conditions: Record<string, unknown>; Resources: Record<string, Resource> };
type Resource = { Type: string; Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

const packages: Record<string, { dir: string; template: Template }> = {};
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'telemetry-package-'));
  for (const stage of ['dev', 'prod']) {
    const dir = path.join(scratch, stage);
    const workFolder = `.esbuild-package-${process.pid}-${stage}`;
    // No AWS credentials at all: packaging must not need an account.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|PROFILE)$/.test(name),
      ),
    );
    env.ESBUILD_WORK_FOLDER = workFolder;
    await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
    await run(process.execPath, [SERVERLESS_BIN, 'package', '--stage', stage, '--package', dir], {
      cwd: REPO_ROOT,
      env,
    });
    const template = JSON.parse(
      await readFile(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
    packages[stage] = { dir, template };
  }
}, 240_000);

afterAll(() => rm(scratch, { recursive: true, force: true }));

const resourcesOfType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

describe('each function zip', () => {
  it.each(FUNCTIONS)(
    '%s holds its ESM bundle, its source map and {"type":"module"} only',
    async (name) => {
      const zip = await JSZip.loadAsync(
        await readFile(path.join(packages.prod!.dir, `${name}.zip`)),
      );
      const files = Object.values(zip.files)
        .filter((entry) => !entry.dir)
        .map((entry) => entry.name)
        .sort();
      expect(files).toEqual(
        [`handlers/${name}.js`, `handlers/${name}.js.map`, 'handlers/package.json'].sort(),
      );
      expect(JSON.parse(await zip.file('handlers/package.json')!.async('string'))).toEqual({
        type: 'module',
      });
    },
  );

  it.each(FUNCTIONS)('%s loads as Lambda loads it and exports a handler function', async (name) => {
    const zip = await JSZip.loadAsync(await readFile(path.join(packages.prod!.dir, `${name}.zip`)));
    const task = path.join(scratch, 'task', name);
    for (const entry of Object.values(zip.files).filter((file) => !file.dir)) {
      await mkdir(path.dirname(path.join(task, entry.name)), { recursive: true });
      await writeFile(path.join(task, entry.name), await entry.async('nodebuffer'));
    }
    // Lambda's Node runtime imports /var/task/handlers/<name>.js; node does the same here.
    const { stdout } = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(pathToFileURL(path.join(task, 'handlers', `${name}.js`)).href)}); console.log(typeof m.handler);`,
    ]);
    expect(stdout.trim()).toBe('function');
  });

  it('stays within the bundle budget (minified, AWS SDK v3 tree-shaken)', async () => {
    const sizes = await Promise.all(
      FUNCTIONS.map(async (name) => {
        const zip = await JSZip.loadAsync(
          await readFile(path.join(packages.prod!.dir, `${name}.zip`)),
        );
        return (await zip.file(`handlers/${name}.js`)!.async('nodebuffer')).length;
      }),
    );
    for (const size of sizes) expect(size).toBeLessThan(350 * 1024);
    expect(await readdir(packages.prod!.dir)).toEqual(
      expect.arrayContaining(FUNCTIONS.map((f) => `${f}.zip`)),
    );
  });
});

describe('the template', () => {
  it('declares every WebSocket route, with route responses for the two-way ones', () => {
    const { template } = packages.prod!;
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(
      ([, r]) => r.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(
      [
        '$connect',
        '$default',
        '$disconnect',
        'sendCommand',
        'sendMessage',
        'subscribe',
        'unsubscribe',
      ].sort(),
    );
    const responses = resourcesOfType(template, 'AWS::ApiGatewayV2::RouteResponse');
    expect(responses).toHaveLength(5);
    const api = template.Resources.WebsocketsApi!;
    expect(api.Properties).toMatchObject({
      Name: 'telemetry-prod-websockets',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('gives the connections table on-demand billing, a TTL and per-stage protection', () => {
    for (const stage of ['dev', 'prod']) {
      const { template } = packages[stage]!;
      const table = template.Resources.ConnectionsTable!.Properties;
      expect(table).toMatchObject({
        TableName: `telemetry-${stage}-connections`,
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: { 'Fn::If': ['IsDevStage', false, true] },
        PointInTimeRecoverySpecification: {
          PointInTimeRecoveryEnabled: { 'Fn::If': ['IsDevStage', false, true] },
        },
      });
      expect(template.Conditions.IsDevStage).toEqual({ 'Fn::Equals': [stage, 'dev'] });
    }
  });

  it('routes devices/+/telemetry to forwardTelemetry with the SQS error action', () => {
    const rules = resourcesOfType(packages.prod!.template, 'AWS::IoT::TopicRule');
    expect(rules).toHaveLength(1);
    const payload = rules[0]![1].Properties.TopicRulePayload;
    expect(payload.Sql).toBe(
      "SELECT *, topic() AS topic, topic(2) AS deviceId, timestamp() AS receivedAt, newuuid() AS messageId FROM 'devices/+/telemetry'",
    );
    expect(payload.AwsIotSqlVersion).toBe('2016-03-23');
    expect(payload.Actions).toEqual([
      { Lambda: { FunctionArn: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] } } },
    ]);
    expect(payload.ErrorAction.Sqs).toMatchObject({
      QueueUrl: { Ref: 'TelemetryDeadLetterQueue' },
      RoleArn: { 'Fn::GetAtt': ['TelemetryRuleErrorActionRole', 'Arn'] },
    });
  });

  it('grants least privilege: a role per function, scoped resources, no shared role', () => {
    const { template } = packages.prod!;
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    const statements = resourcesOfType(template, 'AWS::IAM::Role').flatMap(([, role]) =>
      role.Properties.Policies.flatMap(
        (policy: { PolicyDocument: { Statement: Record<string, unknown>[] } }) =>
          policy.PolicyDocument.Statement,
      ),
    );
    const byAction = (action: string) =>
      statements.filter((s) => ([] as unknown[]).concat(s.Action).includes(action));

    // No "*" resource anywhere.
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('"*"'))).toEqual([]);
    for (const s of byAction('execute-api:ManageConnections')) {
      expect(s.Resource).toEqual({
        'Fn::Sub':
          'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/prod/POST/@connections/*',
      });
    }
    for (const action of [
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:UpdateItem',
      'dynamodb:Scan',
    ]) {
      expect(byAction(action).length).toBeGreaterThan(0);
      for (const s of byAction(action))
        expect(s.Resource).toEqual({ 'Fn::GetAtt': ['ConnectionsTable', 'Arn'] });
    }
    expect(byAction('iot:Publish').map((s) => s.Resource)).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/devices/*/commands',
      },
    ]);
    const used = new Set(statements.flatMap((s) => ([] as string[]).concat(s.Action as string)));
    expect([...used].filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Scan',
        'dynamodb:UpdateItem',
      ].sort(),
    );
    expect(byAction('ssm:GetParameter').map((s) => s.Resource)).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/telemetry/prod/websocket-token-secret',
      },
    ]);
    expect(byAction('sqs:SendMessage').map((s) => s.Resource)).toEqual([
      { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] },
      { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] },
    ]);
    // Every function runs under a role of its own kind, never a shared catch-all.
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Role$/), 'Arn'] });
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
    }
  });
});

describe('security and delivery settings', () => {
  it('authorizes $connect with the token query parameter', () => {
    const { template } = packages.prod!;
    const [[, authorizer]] = resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer') as [
      [string, Resource],
    ];
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    const connect = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').find(
      ([, route]) => route.Properties.RouteKey === '$connect',
    )!;
    expect(connect[1].Properties).toMatchObject({
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: 'AuthorizeWebsocketsAuthorizer' },
    });
  });

  it('retries forwardTelemetry twice, then sends the event to the dead-letter queue', () => {
    const [[, config]] = resourcesOfType(
      packages.prod!.template,
      'AWS::Lambda::EventInvokeConfig',
    ) as [[string, Resource]];
    expect(config.Properties).toMatchObject({
      FunctionName: { Ref: 'ForwardTelemetryLambdaFunction' },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] } },
      },
    });
  });

  it('throttles the WebSocket stage', () => {
    expect(
      packages.prod!.template.Resources.WebsocketsDeploymentStage!.Properties.DefaultRouteSettings,
    ).toEqual({
      ThrottlingBurstLimit: 200,
      ThrottlingRateLimit: 100,
    });
  });

  it('declares the least-privilege device policy', () => {
    const policy = packages.prod!.template.Resources.DevicePolicy!;
    expect(policy.Properties.PolicyName).toBe('telemetry-prod-device');
    const actions = policy.Properties.PolicyDocument.Statement.map(
      (s: { Action: string }) => s.Action,
    );
    expect(actions).toEqual([
      'iot:Connect',
      'iot:Publish',
      'iot:Publish',
      'iot:Subscribe',
      'iot:Receive',
    ]);
  });
});

describe('cfn-lint', () => {
  // The npm cfn-lint's resource specification predates these (valid) properties; anything else fails.
  const OUTDATED_SPEC = [
    'Architectures is not a valid property of AWS::Lambda::Function',
    'DeletionProtectionEnabled is not a valid property of AWS::DynamoDB::Table',
    'SqsManagedSseEnabled is not a valid property of AWS::SQS::Queue',
  ];
  const OUTDATED_TYPE = /^Resource \w+ has an invalid Type of AWS::Lambda::EventInvokeConfig\.$/;

  it.each(['dev', 'prod'])('passes for stage %s', (stage) => {
    const result = cfnLint.validateFile(
      path.join(packages[stage]!.dir, 'cloudformation-template-update-stack.json'),
    );
    const critical = result.errors.crit.filter(
      (error) => !OUTDATED_SPEC.includes(error.message) && !OUTDATED_TYPE.test(error.message),
    );
    expect(critical).toEqual([]);
  });
});
