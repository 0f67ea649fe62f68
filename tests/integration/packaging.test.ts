/**
 * `sls package` per stage with no AWS credentials: what each zip holds and what Lambda will load
 * from it, and what the CloudFormation template grants. The template also goes through AWS's
 * cfn-lint (the Python one on the PATH). Stage names AWS would refuse fail before any build.
 * Delivery modes (serverless.yml custom.delivery): dev is `direct`, prod `batched` (the default
 * of other stages), and prod is packaged a third time with `--param=deliveryMode=direct`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import JSZip from 'jszip';
import { REPO_ROOT, SERVERLESS_BIN } from '../support/offline-stack';
import { freePorts } from '../support/ports';
import { withSlsPackageLock } from '../support/sls-package-lock';

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
const STAGES = ['dev', 'prod'] as const;
/** prod packaged in the direct delivery mode (its default is batched). */
const PROD_DIRECT = 'prod-direct';
const PACKAGES = [...STAGES, PROD_DIRECT] as const;
type PackageName = (typeof PACKAGES)[number];
/** The delivery mode of each package. */
const MODE: Record<PackageName, 'direct' | 'batched'> = {
  dev: 'direct',
  prod: 'batched',
  [PROD_DIRECT]: 'direct',
};
const ALARM_EMAIL = 'ops@example.com';

type Template = { Conditions: Record<string, unknown>; Resources: Record<string, Resource> };
type Resource = { Type: string; Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

const packages: Record<string, { dir: string; template: Template; output: string; tmp: string }> =
  {};
let scratch: string;

/** The environment with no AWS credentials at all: packaging must not need an account. */
function withoutCredentials(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(name),
      ),
    ),
    ...extra,
  };
}

/**
 * Runs the framework; resolves with its exit code and everything it printed. `sls package` runs
 * alone (tests/support/sls-package-lock.ts): every build of the project goes through its
 * .serverless folder.
 */
function sls(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return args[0] === 'package' ? withSlsPackageLock(() => runSls(args, env)) : runSls(args, env);
}

async function runSls(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SERVERLESS_BIN, ...args], {
      cwd: REPO_ROOT,
      env,
      timeout: 180_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'telemetry-package-'));
  for (const name of PACKAGES) {
    const stage = name === PROD_DIRECT ? 'prod' : name;
    const dir = path.join(scratch, name);
    // A fresh esbuild folder per build: serverless-esbuild zips whatever an earlier build left.
    const workFolder = `.esbuild-package-${process.pid}-${name}`;
    await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
    // prod with the stage parameter that subscribes an address to its alarms, dev without.
    const params = stage === 'prod' ? [`--param=alarmEmail=${ALARM_EMAIL}`] : [];
    if (name === PROD_DIRECT) params.push('--param=deliveryMode=direct');
    // A temp folder of its own, to see what packaging leaves in it.
    const tmp = path.join(scratch, `tmp-${name}`);
    await mkdir(tmp);
    const { code, output } = await sls(
      ['package', '--stage', stage, '--package', dir, ...params],
      withoutCredentials({ ESBUILD_WORK_FOLDER: workFolder, TMPDIR: tmp }),
    );
    await rm(path.join(REPO_ROOT, workFolder), { recursive: true, force: true });
    if (code !== 0) throw new Error(`sls package ${name} failed:\n${output}`);
    const template = JSON.parse(
      await readFile(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
    packages[name] = { dir, template, output, tmp };
  }
}, 360_000);

afterAll(() => rm(scratch, { recursive: true, force: true }));

/**
 * `sls print` of prod with the batch parameters set and IOT_DATA_ENDPOINT in the environment,
 * once for the tests that read it (each start of the framework costs seconds of CPU).
 */
let printedProd: Promise<{ code: number; output: string }> | undefined;
const printProd = () =>
  (printedProd ??= sls(
    [
      'print',
      '--stage',
      'prod',
      '--format',
      'json',
      '--param=deliveryBatchSize=10',
      '--param=deliveryBatchWindowSeconds=0',
    ],
    // Set, so that no notice about looking it up follows the JSON.
    withoutCredentials({ IOT_DATA_ENDPOINT: 'abc123-ats.iot.eu-west-1.amazonaws.com' }),
  ));

const resourcesOfType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

describe('each function zip', () => {
  const filesOf = async (stage: string, name: string) => {
    const zip = await JSZip.loadAsync(
      await readFile(path.join(packages[stage]!.dir, `${name}.zip`)),
    );
    return {
      zip,
      files: Object.values(zip.files)
        .filter((entry) => !entry.dir)
        .map((entry) => entry.name)
        .sort(),
    };
  };

  // Source maps on dev only: `npm run bench -- --only coldstart` measured what they cost (see
  // custom.sourceMaps in serverless.yml).
  it.each(FUNCTIONS)(
    '%s holds its ESM bundle and {"type":"module"}, plus its source map on dev only',
    async (name) => {
      const prod = await filesOf('prod', name);
      expect(prod.files).toEqual([`handlers/${name}.js`, 'handlers/package.json'].sort());
      expect(JSON.parse(await prod.zip.file('handlers/package.json')!.async('string'))).toEqual({
        type: 'module',
      });
      expect(await prod.zip.file(`handlers/${name}.js`)!.async('string')).not.toContain(
        'sourceMappingURL',
      );
      const dev = await filesOf('dev', name);
      expect(dev.files).toEqual(
        [`handlers/${name}.js`, `handlers/${name}.js.map`, 'handlers/package.json'].sort(),
      );
    },
  );

  // serverless-esbuild stages each zip in <tmpdir>/<name>-<pid>-<ms>-<hex> and failed to remove
  // it (its removal is not recursive: floydspace/serverless-esbuild#589); plugins/zip-staging.ts
  // removes them, else each run leaves ~2 MB per function behind.
  it.each(PACKAGES)(
    'packaging %s leaves no zip staging folder in the temp folder',
    async (name) => {
      const left = await readdir(packages[name]!.tmp);
      expect(left.filter((entry) => /-\d+-\d+-[0-9a-f]{8}$/.test(entry))).toEqual([]);
    },
  );

  it('enables source maps in Node on dev only', () => {
    const nodeOptions = (stage: string) =>
      resourcesOfType(packages[stage]!.template, 'AWS::Lambda::Function').map(
        ([, fn]) => fn.Properties.Environment.Variables.NODE_OPTIONS,
      );
    expect(new Set(nodeOptions('dev'))).toEqual(new Set(['--enable-source-maps']));
    expect(new Set(nodeOptions('prod'))).toEqual(new Set(['']));
  });

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

  it.each(PACKAGES)(
    '%s routes devices/+/telemetry to forwardTelemetry (direct) or the delivery queue (batched), with the SQS error action',
    async (name) => {
      const rules = resourcesOfType(packages[name]!.template, 'AWS::IoT::TopicRule');
      expect(rules.map(([id]) => id)).toEqual(['ForwardTelemetryIotTopicRule1']);
      const payload = rules[0]![1].Properties.TopicRulePayload;
      // The rule restates custom.telemetryRuleSql (the SQL itself is tested where it is decoded
      // and run: the offline rules engine's tests).
      const state = JSON.parse(
        await readFile(path.join(packages[name]!.dir, 'serverless-state.json'), 'utf8'),
      ) as { service: { custom: { telemetryRuleSql: string } } };
      expect(payload.Sql).toBe(state.service.custom.telemetryRuleSql);
      expect(payload.Sql).toMatch(/ FROM 'devices\/\+\/telemetry'$/);
      expect(payload.AwsIotSqlVersion).toBe('2016-03-23');
      expect(payload.Actions).toEqual([
        MODE[name] === 'direct'
          ? { Lambda: { FunctionArn: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] } } }
          : {
              // The SQL's output is JSON with the payload already base64 in it.
              Sqs: {
                QueueUrl: { Ref: 'TelemetryDeliveryQueue' },
                RoleArn: { 'Fn::GetAtt': ['TelemetryRuleDeliveryRole', 'Arn'] },
                UseBase64: false,
              },
            },
      ]);
      expect(payload.ErrorAction).toEqual({
        Sqs: {
          QueueUrl: { Ref: 'TelemetryDeadLetterQueue' },
          RoleArn: { 'Fn::GetAtt': ['TelemetryRuleErrorActionRole', 'Arn'] },
          UseBase64: false,
        },
      });
    },
  );

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
      // The connections, or their change log (shared/connections/change-log.ts).
      for (const s of byAction(action))
        expect([
          { 'Fn::GetAtt': ['ConnectionsTable', 'Arn'] },
          { 'Fn::GetAtt': ['ConnectionChangesTable', 'Arn'] },
        ]).toContainEqual(s.Resource);
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
        'dynamodb:BatchGetItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
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
    // The rule's error action to the dead-letter queue, its SQS action to the delivery queue
    // (batched delivery; direct: forwardTelemetry's on-failure destination, below).
    expect(lines(byAction('sqs:SendMessage').map((s) => ['', s.Resource as object]))).toEqual(
      lines([
        ['', { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] }],
        ['', { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'Arn'] }],
      ]),
    );
    const direct = resourcesOfType(packages[PROD_DIRECT]!.template, 'AWS::IAM::Role')
      .flatMap(([, role]) =>
        role.Properties.Policies.flatMap(
          (policy: { PolicyDocument: { Statement: Record<string, unknown>[] } }) =>
            policy.PolicyDocument.Statement,
        ),
      )
      .filter((s) => ([] as unknown[]).concat(s.Action).includes('sqs:SendMessage'));
    expect(direct.map((s) => s.Resource)).toEqual([
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

/**
 * What each function's code calls, from the code itself (the handler and the shared modules it
 * runs), as action → resource. Its role must grant exactly this: nothing missing (the call would
 * fail in AWS) and nothing more (least privilege, per function rather than for the union).
 */
const CONNECTIONS = { 'Fn::GetAtt': ['ConnectionsTable', 'Arn'] };
const CHANGES = { 'Fn::GetAtt': ['ConnectionChangesTable', 'Arn'] };
const LOGS = {
  'Fn::Sub':
    'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/telemetry-prod-*:*',
};
const POST_TO_CONNECTIONS = {
  'Fn::Sub':
    'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/prod/POST/@connections/*',
};
type Grant = [action: string, resource: object];
/** Every function writes its logs (Powertools logger, metrics as EMF log lines). */
const WRITE_LOGS: Grant[] = [
  ['logs:CreateLogStream', LOGS],
  ['logs:PutLogEvents', LOGS],
];
/** shared/connections/change-log.ts append(): a number from a shard's counter, then the entry. */
const LOG_A_CHANGE: Grant[] = [
  ['dynamodb:UpdateItem', CHANGES],
  ['dynamodb:PutItem', CHANGES],
];
/** shared/connections/repository.ts takeToken(): the GCRA update, and GetItem after a refusal. */
const TAKE_A_TOKEN: Grant[] = [
  ['dynamodb:UpdateItem', CONNECTIONS],
  ['dynamodb:GetItem', CONNECTIONS],
];
/**
 * shared/runtime/broadcaster.ts: the snapshot (Scan when cold, BatchGetItem of the connections
 * and the shards' counters, Query of the change log), PostToConnection, and removing a gone
 * connection (DeleteItem and its change-log entry).
 */
const BROADCAST: Grant[] = [
  ['dynamodb:Scan', CONNECTIONS],
  ['dynamodb:BatchGetItem', CONNECTIONS],
  ['dynamodb:DeleteItem', CONNECTIONS],
  ['dynamodb:BatchGetItem', CHANGES],
  ['dynamodb:Query', CHANGES],
  ...LOG_A_CHANGE,
  ['execute-api:ManageConnections', POST_TO_CONNECTIONS],
];
const CALLS: Record<string, Grant[]> = {
  // shared/auth/secret.ts: GetParameter of the token secret.
  authorize: [
    ...WRITE_LOGS,
    [
      'ssm:GetParameter',
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/telemetry/prod/websocket-token-secret',
      },
    ],
  ],
  // repository.save(): PutItem, and the change log.
  connect: [...WRITE_LOGS, ['dynamodb:PutItem', CONNECTIONS], ...LOG_A_CHANGE],
  // repository.remove(): DeleteItem, and the change log.
  disconnect: [...WRITE_LOGS, ['dynamodb:DeleteItem', CONNECTIONS], ...LOG_A_CHANGE],
  default: [...WRITE_LOGS],
  sendMessage: [...WRITE_LOGS, ...TAKE_A_TOKEN, ...BROADCAST],
  // repository.subscribe()/unsubscribe(): UpdateItem of the filters, and the change log.
  subscribe: [...WRITE_LOGS, ...TAKE_A_TOKEN, ...LOG_A_CHANGE],
  unsubscribe: [...WRITE_LOGS, ...TAKE_A_TOKEN, ...LOG_A_CHANGE],
  // shared/commands.ts: iot-data Publish on a device's command topic.
  sendCommand: [
    ...WRITE_LOGS,
    ...TAKE_A_TOKEN,
    [
      'iot:Publish',
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/devices/*/commands',
      },
    ],
  ],
  // Batched delivery (prod's default): the broadcast, and the event source mapping's polling
  // of the delivery queue, which runs with the function's role ("Creating and configuring an
  // Amazon SQS event source mapping": ReceiveMessage, DeleteMessage, GetQueueAttributes).
  forwardTelemetry: [
    ...WRITE_LOGS,
    ...BROADCAST,
    ...['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].map(
      (action): Grant => [action, { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'Arn'] }],
    ),
  ],
};
/**
 * Direct delivery: the broadcast, and the asynchronous invocation's on-failure destination (the
 * function's own role sends it: "Adding a destination", Lambda Developer Guide).
 */
const FORWARD_TELEMETRY_DIRECT: Grant[] = [
  ...WRITE_LOGS,
  ...BROADCAST,
  ['sqs:SendMessage', { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] }],
];

/** The (action, resource) pairs a function's role grants, one line each, sorted, no repeats. */
function grantsOf(template: Template, fn: string): string[] {
  const logicalId = `${fn[0]!.toUpperCase()}${fn.slice(1)}LambdaFunction`;
  const roleRef = template.Resources[logicalId]?.Properties.Role as
    { 'Fn::GetAtt': [string, string] } | undefined;
  const role = roleRef && template.Resources[roleRef['Fn::GetAtt'][0]];
  if (!role) throw new Error(`${logicalId} has no role of this template`);
  const statements = (
    role.Properties.Policies as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  expect(statements.every((statement) => statement.Effect === 'Allow')).toBe(true);
  return lines(
    statements.flatMap((statement) =>
      ([] as string[])
        .concat(statement.Action as string)
        .flatMap((action) =>
          ([] as unknown[])
            .concat(statement.Resource)
            .map((resource): Grant => [action, resource as object]),
        ),
    ),
  );
}
const lines = (grants: Grant[]) =>
  [...new Set(grants.map(([action, resource]) => `${action} ${JSON.stringify(resource)}`))].sort();

describe('each function’s role grants what its code calls, no more', () => {
  it.each(FUNCTIONS)('%s', (fn) => {
    expect(grantsOf(packages.prod!.template, fn)).toEqual(lines(CALLS[fn] ?? []));
  });

  it.each(['dev', PROD_DIRECT] as const)('forwardTelemetry in direct delivery (%s)', (name) => {
    const grants = grantsOf(packages[name]!.template, 'forwardTelemetry');
    const stage = name === 'dev' ? 'dev' : 'prod';
    const expected = lines(FORWARD_TELEMETRY_DIRECT).map((line) =>
      line.replaceAll('/prod', `/${stage}`).replaceAll('telemetry-prod-', `telemetry-${stage}-`),
    );
    expect(grants).toEqual(expected);
  });

  it('a grant more or less than the code calls is caught', () => {
    const template = structuredClone(packages.prod!.template);
    const role = template.Resources.SendCommandRole!;
    role.Properties.Policies[0].PolicyDocument.Statement.push({
      Effect: 'Allow',
      Action: 'dynamodb:Scan',
      Resource: CONNECTIONS,
    });
    expect(grantsOf(template, 'sendCommand')).not.toEqual(lines(CALLS.sendCommand!));
    const connect = template.Resources.ConnectRole!;
    connect.Properties.Policies[0].PolicyDocument.Statement.pop();
    expect(grantsOf(template, 'connect')).not.toEqual(lines(CALLS.connect!));
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

  it('direct: retries forwardTelemetry twice, then sends the event to the dead-letter queue', () => {
    const [[, config]] = resourcesOfType(
      packages[PROD_DIRECT]!.template,
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

/**
 * Permissions a service principal holds on a function without saying which resource of which
 * account may use them: any account could then point its own API or rule at the function
 * (Lambda Developer Guide, "Working with resource-based IAM policies in Lambda": SourceArn and
 * SourceAccount for AWS services).
 */
function unscopedPermissions(template: Template): string[] {
  return resourcesOfType(template, 'AWS::Lambda::Permission')
    .filter(([, p]) => !p.Properties.SourceArn && !p.Properties.SourceAccount)
    .map(([id]) => id);
}

/**
 * Roles that an AWS service (other than Lambda running our functions) may assume with no
 * `aws:SourceAccount`/`aws:SourceArn` condition: the confused deputy (IAM User Guide, "The
 * confused deputy problem"; AWS IoT Core Developer Guide, "Cross-service confused deputy
 * prevention").
 */
interface TrustStatement {
  Principal?: { Service?: string | string[] };
  Condition?: Record<string, Record<string, unknown>>;
}

function unconditionedServiceTrust(template: Template): string[] {
  return resourcesOfType(template, 'AWS::IAM::Role')
    .filter(([, role]) =>
      (role.Properties.AssumeRolePolicyDocument.Statement as TrustStatement[]).some((statement) => {
        const services = ([] as string[]).concat(statement.Principal?.Service ?? []);
        if (!services.some((service) => service !== 'lambda.amazonaws.com')) return false;
        const keys = Object.values(statement.Condition ?? {})
          .flatMap((operator) => Object.keys(operator))
          .map((key) => key.toLowerCase());
        return !keys.includes('aws:sourceaccount') && !keys.includes('aws:sourcearn');
      }),
    )
    .map(([id]) => id);
}

describe('who may invoke the functions and assume the roles', () => {
  const apiArn = (suffix: string) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${suffix}`,
  });

  it.each(PACKAGES)('%s: every Lambda permission names its source', (name) => {
    const { template } = packages[name]!;
    // One per function: API Gateway's, and IoT's for forwardTelemetry in direct delivery (in
    // batched delivery the event source mapping invokes it with its role, no permission).
    expect(resourcesOfType(template, 'AWS::Lambda::Permission').length).toBe(
      MODE[name] === 'direct' ? FUNCTIONS.length : FUNCTIONS.length - 1,
    );
    expect(unscopedPermissions(template)).toEqual([]);
  });

  it.each(STAGES)(
    'stage %s: API Gateway may invoke the routes and the authorizer of this API only',
    (stage) => {
      const permissions = resourcesOfType(packages[stage]!.template, 'AWS::Lambda::Permission')
        .filter(([, p]) => p.Properties.Principal === 'apigateway.amazonaws.com')
        .map(([id, p]) => [id, p.Properties.SourceArn]);
      expect(Object.fromEntries(permissions)).toEqual({
        AuthorizeLambdaPermissionWebsockets: apiArn('authorizers/*'),
        ConnectLambdaPermissionWebsockets: apiArn('*'),
        DisconnectLambdaPermissionWebsockets: apiArn('*'),
        DefaultLambdaPermissionWebsockets: apiArn('*'),
        SendMessageLambdaPermissionWebsockets: apiArn('*'),
        SubscribeLambdaPermissionWebsockets: apiArn('*'),
        UnsubscribeLambdaPermissionWebsockets: apiArn('*'),
        SendCommandLambdaPermissionWebsockets: apiArn('*'),
      });
    },
  );

  it.each(['dev', PROD_DIRECT] as const)(
    '%s (direct): IoT may invoke forwardTelemetry from this rule only',
    (stage) => {
      const [[, permission]] = resourcesOfType(
        packages[stage]!.template,
        'AWS::Lambda::Permission',
      ).filter(([, p]) => p.Properties.Principal === 'iot.amazonaws.com') as [[string, Resource]];
      expect(permission.Properties).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
      expect(JSON.stringify(permission.Properties.SourceArn)).toContain(
        '":rule/",{"Ref":"ForwardTelemetryIotTopicRule1"}',
      );
    },
  );

  it('prod (batched): nothing may invoke forwardTelemetry but the event source mapping', () => {
    const principals = resourcesOfType(packages.prod!.template, 'AWS::Lambda::Permission').map(
      ([, p]) => p.Properties.Principal,
    );
    expect(new Set(principals)).toEqual(new Set(['apigateway.amazonaws.com']));
  });

  it.each(PACKAGES)('%s: a role a service assumes for us trusts only this account', (name) => {
    const { template } = packages[name]!;
    expect(unconditionedServiceTrust(template)).toEqual([]);
    const roles = [
      'TelemetryRuleErrorActionRole',
      ...(MODE[name] === 'batched' ? ['TelemetryRuleDeliveryRole'] : []),
    ];
    expect(
      resourcesOfType(template, 'AWS::IAM::Role')
        .filter(([, role]) =>
          JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('iot.amazonaws.com'),
        )
        .map(([id]) => id)
        .sort(),
    ).toEqual(roles.sort());
    for (const role of roles) {
      const trust = template.Resources[role]!.Properties.AssumeRolePolicyDocument;
      expect(trust.Statement).toEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 'iot.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: {
              'aws:SourceArn': {
                'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:rule/*',
              },
            },
          },
        },
      ]);
    }
  });

  it('the checks above catch a permission or a trust policy left open', () => {
    const open = structuredClone(packages.prod!.template);
    delete open.Resources.SendCommandLambdaPermissionWebsockets!.Properties.SourceArn;
    delete open.Resources.TelemetryRuleErrorActionRole!.Properties.AssumeRolePolicyDocument
      .Statement[0].Condition;
    expect(unscopedPermissions(open)).toEqual(['SendCommandLambdaPermissionWebsockets']);
    expect(unconditionedServiceTrust(open)).toEqual(['TelemetryRuleErrorActionRole']);
  });
});

describe('the IoT data endpoint', () => {
  // Resolved at package/deploy time by plugins/iot-endpoint.ts (its unit test mocks
  // DescribeEndpoint); with no credentials, packaging goes on with the region's endpoint.
  it('is left empty, with a notice, when packaging without credentials', () => {
    for (const stage of STAGES) {
      const { template, output } = packages[stage]!;
      expect(output).toContain(
        "IoT endpoint iot:Data-ATS not looked up (AWS provider credentials not found): functions use the region's endpoint (data-ats.iot.us-east-1.amazonaws.com)",
      );
      const endpoints = resourcesOfType(template, 'AWS::Lambda::Function').map(
        ([, fn]) => fn.Properties.Environment.Variables.IOT_DATA_ENDPOINT,
      );
      expect(new Set(endpoints)).toEqual(new Set(['']));
    }
  });

  it('is IOT_DATA_ENDPOINT when set, without looking anything up', async () => {
    const { code, output } = await printProd();
    expect(code).toBe(0);
    expect(output).not.toContain('not looked up');
    const printed = JSON.parse(output.slice(output.indexOf('{'))) as {
      provider: { environment: Record<string, unknown> };
    };
    expect(printed.provider.environment.IOT_DATA_ENDPOINT).toBe(
      'abc123-ats.iot.eu-west-1.amazonaws.com',
    );
  });
});

describe('stage names AWS would refuse', () => {
  // telemetry-<stage>-forwardTelemetry is the longest name with the stage in it: 37 characters
  // of stage make it 64, Lambda's limit (Lambda API Reference, CreateFunction: FunctionName).
  const TOO_LONG = 's'.repeat(38);

  it('a stage that makes a function name longer than 64 fails sls package, naming the limit', async () => {
    const { code, output } = await sls(
      ['package', '--stage', TOO_LONG, '--package', path.join(scratch, 'too-long')],
      withoutCredentials({ ESBUILD_WORK_FOLDER: `.esbuild-package-${process.pid}-too-long` }),
    );
    expect(code).toBe(1);
    expect(output).toContain(`Stage "${TOO_LONG}" cannot be deployed:`);
    expect(output).toContain(
      `the Lambda function name "telemetry-${TOO_LONG}-forwardTelemetry" has 65 characters; AWS allows at most 64 (Lambda API Reference, CreateFunction: FunctionName)`,
    );
    expect(output).toContain('at most 37 characters long');
    await expect(readdir(path.join(scratch, 'too-long'))).rejects.toThrow();
  });

  it('the same stage fails sls offline start (npm start) before anything listens', async () => {
    const [http, websocket, lambda, dynamodb, mqtt, https, iotData, dashboard] = await freePorts(8);
    const { code, output } = await sls(
      ['offline', 'start', '--stage', TOO_LONG],
      withoutCredentials({
        ESBUILD_WORK_FOLDER: `.esbuild-package-${process.pid}-offline`,
        HTTP_PORT: String(http),
        WEBSOCKET_PORT: String(websocket),
        LAMBDA_PORT: String(lambda),
        DYNAMODB_PORT: String(dynamodb),
        MQTT_PORT: String(mqtt),
        HTTPS_PORT: String(https),
        IOT_DATA_PORT: String(iotData),
        DASHBOARD_PORT: String(dashboard),
      }),
    );
    expect(code).toBe(1);
    expect(output).toContain('has 65 characters; AWS allows at most 64');
    expect(output).not.toContain('Offline cloud ready');
  });

  it('a stage with a character CloudFormation refuses in a stack name fails sls package', async () => {
    const { code, output } = await sls(
      ['package', '--stage', 'qa_1', '--package', path.join(scratch, 'bad-character')],
      withoutCredentials({ ESBUILD_WORK_FOLDER: `.esbuild-package-${process.pid}-bad` }),
    );
    // The framework's own check, which matches CreateStack's StackName pattern.
    expect(code).toBe(1);
    expect(output).toContain(
      'Invalid stage name. Stage names may contain only ASCII letters, numbers, and hyphens.',
    );
    await expect(readdir(path.join(scratch, 'bad-character'))).rejects.toThrow();
  });
});

/**
 * resources/alarms.yml. Metric names and dimensions as AWS documents them: "Available CloudWatch
 * metrics for Amazon SQS", "Types of metrics for Lambda functions", "AWS IoT metrics and
 * dimensions" (rule metrics: RuleMessageThrottled by RuleName; rule action metrics: Failure and
 * ErrorActionFailure by RuleName and ActionType) and "Monitor WebSocket API execution with
 * CloudWatch metrics" (ExecutionError, IntegrationError by ApiId and Stage).
 */
describe('alarms', () => {
  const alarmsOf = (name: PackageName) =>
    Object.fromEntries(
      resourcesOfType(packages[name]!.template, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => [
        id,
        alarm.Properties,
      ]),
    );
  const watching = (namespace: string, metric: string, dimensions: unknown[]) => ({
    Namespace: namespace,
    MetricName: metric,
    Dimensions: dimensions,
    ComparisonOperator: 'GreaterThanThreshold',
    AlarmActions: [{ Ref: 'AlarmTopic' }],
  });
  const rule = { Name: 'RuleName', Value: { Ref: 'ForwardTelemetryIotTopicRule1' } };
  const forwardTelemetry = {
    Name: 'FunctionName',
    Value: { Ref: 'ForwardTelemetryLambdaFunction' },
  };

  it.each(PACKAGES)(
    '%s watches the dead letters, forwardTelemetry, the rule, the delivery queue when batched and the WebSocket API',
    (name) => {
      const stage = name === PROD_DIRECT ? 'prod' : name;
      const batched = MODE[name] === 'batched';
      const alarms = alarmsOf(name);
      const api = [
        { Name: 'ApiId', Value: { Ref: 'WebsocketsApi' } },
        { Name: 'Stage', Value: stage },
      ];
      expect(alarms).toEqual({
        DeadLetterQueueAlarm: expect.objectContaining({
          ...watching('AWS/SQS', 'ApproximateNumberOfMessagesVisible', [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'QueueName'] },
            },
          ]),
          Threshold: 0,
        }),
        ForwardTelemetryErrorsAlarm: expect.objectContaining({
          ...watching('AWS/Lambda', 'Errors', [forwardTelemetry]),
          Threshold: 0,
        }),
        ForwardTelemetryThrottlesAlarm: expect.objectContaining({
          ...watching('AWS/Lambda', 'Throttles', [forwardTelemetry]),
          Threshold: 0,
        }),
        TelemetryRuleThrottledAlarm: expect.objectContaining({
          ...watching('AWS/IoT', 'RuleMessageThrottled', [rule]),
          Threshold: 0,
        }),
        TelemetryRuleActionFailureAlarm: expect.objectContaining({
          ...watching('AWS/IoT', 'Failure', [
            rule,
            { Name: 'ActionType', Value: batched ? 'SQS' : 'Lambda' },
          ]),
          Threshold: 0,
        }),
        TelemetryRuleErrorActionFailureAlarm: expect.objectContaining({
          ...watching('AWS/IoT', 'ErrorActionFailure', [
            rule,
            { Name: 'ActionType', Value: 'SQS' },
          ]),
          Threshold: 0,
        }),
        WebSocketExecutionErrorAlarm: expect.objectContaining({
          ...watching('AWS/ApiGateway', 'ExecutionError', api),
          Threshold: 0,
        }),
        WebSocketIntegrationErrorAlarm: expect.objectContaining(
          watching('AWS/ApiGateway', 'IntegrationError', api),
        ),
        ...(batched
          ? {
              DeliveryDeadLetterQueueAlarm: expect.objectContaining({
                ...watching('AWS/SQS', 'ApproximateNumberOfMessagesVisible', [
                  {
                    Name: 'QueueName',
                    Value: { 'Fn::GetAtt': ['TelemetryDeliveryDeadLetterQueue', 'QueueName'] },
                  },
                ]),
                Threshold: 0,
              }),
              DeliveryQueueAgeAlarm: expect.objectContaining({
                ...watching('AWS/SQS', 'ApproximateAgeOfOldestMessage', [
                  {
                    Name: 'QueueName',
                    Value: { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'QueueName'] },
                  },
                ]),
                Statistic: 'Maximum',
                Threshold: 120,
              }),
            }
          : {}),
      });
      // Each alarm is named for its stage, so two stages in one account never collide.
      for (const alarm of Object.values(alarms)) {
        expect(alarm.AlarmName).toMatch(new RegExp(`^telemetry-${stage}-`));
      }
    },
  );

  it.each(PACKAGES)('%s: the alarms point at resources of this template', (name) => {
    const { template } = packages[name]!;
    const types: Record<string, string> = {
      AlarmTopic: 'AWS::SNS::Topic',
      TelemetryDeadLetterQueue: 'AWS::SQS::Queue',
      TelemetryDeliveryQueue: 'AWS::SQS::Queue',
      TelemetryDeliveryDeadLetterQueue: 'AWS::SQS::Queue',
      ForwardTelemetryLambdaFunction: 'AWS::Lambda::Function',
      ForwardTelemetryIotTopicRule1: 'AWS::IoT::TopicRule',
      WebsocketsApi: 'AWS::ApiGatewayV2::Api',
    };
    const referenced = JSON.stringify(alarmsOf(name)).match(/"(Ref|Fn::GetAtt)":\[?"(\w+)"/g) ?? [];
    expect(referenced.length).toBeGreaterThan(0);
    for (const reference of referenced) {
      const id = /"(\w+)"$/.exec(reference)![1]!;
      expect([id, template.Resources[id]?.Type]).toEqual([id, types[id]]);
    }
    expect(JSON.stringify(alarmsOf(name)).includes('TelemetryDelivery')).toBe(
      MODE[name] === 'batched',
    );
  });

  it('sends them to an SNS topic per stage, with the e-mail subscription only where the stage parameter is set', () => {
    for (const stage of STAGES) {
      const { template } = packages[stage]!;
      expect(template.Resources.AlarmTopic).toMatchObject({
        Type: 'AWS::SNS::Topic',
        Properties: { TopicName: `telemetry-${stage}-alarms` },
      });
      expect(template.Resources.AlarmEmailSubscription).toMatchObject({
        Type: 'AWS::SNS::Subscription',
        Condition: 'HasAlarmEmail',
        Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email' },
      });
    }
    // prod was packaged with --param=alarmEmail=…, dev without: the condition is false there.
    expect(packages.prod!.template.Conditions.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [ALARM_EMAIL, ''] }],
    });
    expect(packages.prod!.template.Resources.AlarmEmailSubscription!.Properties.Endpoint).toBe(
      ALARM_EMAIL,
    );
    expect(packages.dev!.template.Conditions.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': ['', ''] }],
    });
  });

  it.each(PACKAGES)(
    '%s gives the dead-letter operator (npm run dlq -- --stage) only its calls, on this queue and function',
    (name) => {
      const policy = packages[name]!.template.Resources.DeadLetterOperatorPolicy!;
      expect(policy.Type).toBe('AWS::IAM::ManagedPolicy');
      // scripts/dead-letter-queue.ts: GetQueueUrl, ReceiveMessage, ChangeMessageVisibilityBatch
      // (authorized as sqs:ChangeMessageVisibility), DeleteMessage, PurgeQueue; Invoke.
      expect(policy.Properties.PolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'sqs:GetQueueUrl',
            'sqs:ReceiveMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage',
            'sqs:PurgeQueue',
          ],
          Resource: { 'Fn::GetAtt': ['TelemetryDeadLetterQueue', 'Arn'] },
        },
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] },
        },
      ]);
      expect(Boolean(packages[name]!.template.Resources.DeliveryDeadLetterOperatorPolicy)).toBe(
        MODE[name] === 'batched',
      );
    },
  );

  it('batched: gives the delivery dead-letter operator (npm run dlq -- --delivery --stage) only its calls, on the delivery queues', () => {
    const policy = packages.prod!.template.Resources.DeliveryDeadLetterOperatorPolicy!;
    expect(policy.Type).toBe('AWS::IAM::ManagedPolicy');
    expect(policy.Properties.ManagedPolicyName).toBe(
      'telemetry-prod-delivery-dead-letter-operator',
    );
    // scripts/delivery-dead-letter-queue.ts: list (GetQueueUrl, ReceiveMessage,
    // ChangeMessageVisibilityBatch), purge, redrive as SQS's move task (StartMessageMoveTask
    // needs ReceiveMessage, DeleteMessage and GetQueueAttributes on the source and SendMessage on
    // the destination; ListMessageMoveTasks to follow it: "Amazon SQS API permissions: Actions
    // and resource reference"), one message by hand (GetQueueUrl + SendMessage, DeleteMessage).
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:PurgeQueue',
          'sqs:GetQueueAttributes',
          'sqs:StartMessageMoveTask',
          'sqs:ListMessageMoveTasks',
        ],
        Resource: { 'Fn::GetAtt': ['TelemetryDeliveryDeadLetterQueue', 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'Arn'] },
      },
    ]);
  });

  it('needs no new permission: the functions publish their metrics as log lines (EMF)', () => {
    const actions = resourcesOfType(packages.prod!.template, 'AWS::IAM::Role').flatMap(([, role]) =>
      role.Properties.Policies.flatMap(
        (policy: { PolicyDocument: { Statement: { Action: string | string[] }[] } }) =>
          policy.PolicyDocument.Statement.flatMap((statement) => statement.Action),
      ),
    );
    expect(actions.filter((action: string) => /^(cloudwatch|sns):/.test(action))).toEqual([]);
  });
});

/**
 * The batched delivery mode (resources/delivery-batched.yml): a standard queue (AWS IoT's SQS
 * action takes no FIFO queue), its dead-letter queue, and the event source mapping ("Creating
 * and configuring an Amazon SQS event source mapping"; Lambda API Reference,
 * CreateEventSourceMapping). The direct mode has none of it.
 */
describe('batched delivery', () => {
  const resources = () => packages.prod!.template.Resources;

  it('the delivery queue: standard, visibility at least 6 x the function timeout, 5 receives then its dead-letter queue', () => {
    const { TelemetryDeliveryQueue: queue, TelemetryDeliveryDeadLetterQueue: dlq } = resources();
    const timeout = resources().ForwardTelemetryLambdaFunction!.Properties.Timeout as number;
    expect(queue!.Type).toBe('AWS::SQS::Queue');
    expect(queue!.Properties).toEqual({
      QueueName: 'telemetry-prod-telemetry-delivery',
      VisibilityTimeout: expect.any(Number),
      MessageRetentionPeriod: 345_600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['TelemetryDeliveryDeadLetterQueue', 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    expect(queue!.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    expect(queue!.Properties.FifoQueue).toBeUndefined();
    expect(dlq).toEqual({
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: 'telemetry-prod-telemetry-delivery-dlq',
        MessageRetentionPeriod: 1_209_600,
        SqsManagedSseEnabled: true,
      },
    });
    // Longer than the queue's: a message's age counts from its first enqueue.
    expect(dlq!.Properties.MessageRetentionPeriod).toBeGreaterThan(
      queue!.Properties.MessageRetentionPeriod as number,
    );
  });

  it('forwardTelemetry reads it through one event source mapping with partial batch responses, and nothing else triggers it', () => {
    const mappings = resourcesOfType(packages.prod!.template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const [[, mapping]] = mappings as [[string, Resource & { DependsOn: string[] }]];
    expect(mapping.Properties).toEqual({
      EventSourceArn: { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'Arn'] },
      FunctionName: { 'Fn::GetAtt': ['ForwardTelemetryLambdaFunction', 'Arn'] },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      Enabled: true,
    });
    // Created once the role may read the queue: AWS checks it when the mapping is created.
    expect(mapping.DependsOn).toContain('ForwardTelemetryRole');
    // Invoked synchronously by the mapping: no asynchronous retries or destination to configure.
    expect(resourcesOfType(packages.prod!.template, 'AWS::Lambda::EventInvokeConfig')).toEqual([]);
  });

  it('the rule sends with a role allowed sqs:SendMessage on the delivery queue and nothing else', () => {
    const role = resources().TelemetryRuleDeliveryRole!;
    expect(role.Properties.Policies).toEqual([
      {
        PolicyName: 'delivery',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sqs:SendMessage',
              Resource: { 'Fn::GetAtt': ['TelemetryDeliveryQueue', 'Arn'] },
            },
          ],
        },
      },
    ]);
    // The identity policy suffices within the account: no queue policy opens the queue wider.
    expect(resourcesOfType(packages.prod!.template, 'AWS::SQS::QueuePolicy')).toEqual([]);
  });

  it('the direct mode has no delivery queue, mapping or delivery role', () => {
    for (const name of ['dev', PROD_DIRECT] as const) {
      const { Resources } = packages[name]!.template;
      const batchedOnly = Object.keys(Resources).filter((id) =>
        /Delivery|EventSourceMapping/.test(id),
      );
      expect([name, batchedOnly]).toEqual([name, []]);
    }
  });

  it('the batch size and window are stage parameters', async () => {
    const { code, output } = await printProd();
    expect(code).toBe(0);
    const printed = JSON.parse(output.slice(output.indexOf('{'))) as {
      custom: { delivery: unknown };
      functions: { forwardTelemetry: { events: { sqs?: Record<string, unknown> }[] } };
    };
    expect(printed.custom.delivery).toEqual({
      mode: 'batched',
      batchSize: 10,
      maximumBatchingWindow: 0,
    });
    expect(printed.functions.forwardTelemetry.events[0]!.sqs).toMatchObject({
      batchSize: 10,
      maximumBatchingWindow: 0,
    });
  });

  it.each([
    [
      ['--param=deliveryMode=fifo'],
      'Stage parameter deliveryMode is "fifo"; it must be one of direct, batched',
    ],
    [
      ['--param=deliveryBatchSize=20000'],
      'Stage parameter deliveryBatchSize is "20000"; it must be a whole number from 1 to 10000',
    ],
    [
      ['--param=deliveryBatchSize=50', '--param=deliveryBatchWindowSeconds=0'],
      'over 10, AWS needs deliveryBatchWindowSeconds of at least 1',
    ],
  ])('%j fails sls package before any build, saying why', async (params, message) => {
    const dir = path.join(scratch, `bad-delivery-${params.join('')}`);
    const { code, output } = await sls(
      ['package', '--stage', 'prod', '--package', dir, ...params],
      withoutCredentials({ ESBUILD_WORK_FOLDER: `.esbuild-package-${process.pid}-bad-delivery` }),
    );
    expect(code).toBe(1);
    expect(output).toContain(message);
    await expect(readdir(dir)).rejects.toThrow();
  });
});

describe('cfn-lint', () => {
  interface LintMatch {
    Filename: string;
    Rule: { Id: string };
    Level: string;
    Message: string;
    Location: { Path: (string | number)[] };
  }
  // Warnings whose cause is by design, each with the reason; anything else fails.
  const ACCEPTED: Record<string, (match: LintMatch) => boolean> = {
    // The framework adds DependsOn entries that a GetAtt/Ref already implies: redundant, harmless.
    W3005: (match) =>
      match.Location.Path.includes('DependsOn') || /already enforced/.test(match.Message),
    // IsDevStage compares the stage the framework already resolved: constant within a template.
    // So does HasAlarmEmail, on the stage parameter the framework resolved (resources/alarms.yml).
    W8003: (match) =>
      ['Conditions/IsDevStage', 'Conditions/HasAlarmEmail'].some((condition) =>
        match.Location.Path.join('/').startsWith(condition),
      ),
  };

  const templateOf = (name: PackageName) =>
    path.join(packages[name]!.dir, 'cloudformation-template-update-stack.json');
  // One run over the three templates (Python's start is most of a run), its findings by file.
  let findings: Promise<LintMatch[]> | undefined;
  const lint = () =>
    (findings ??= run('cfn-lint', ['--format', 'json', '--', ...PACKAGES.map(templateOf)]).then(
      // AWS's cfn-lint (Python, v1) on the PATH; it exits non-zero when it finds anything.
      (result) => JSON.parse(result.stdout) as LintMatch[],
      (error: { stdout?: string; code?: number | string }) => {
        if (!error.stdout) throw new Error(`cfn-lint did not run (${String(error.code)})`);
        return JSON.parse(error.stdout) as LintMatch[];
      },
    ));

  it.each(PACKAGES)('finds no error and no unexplained warning for %s', async (name) => {
    const matches = (await lint()).filter(
      (match) => path.resolve(match.Filename) === templateOf(name),
    );
    const unexplained = matches.filter((match) => !ACCEPTED[match.Rule.Id]?.(match));
    expect(
      unexplained.map((m) => `${m.Rule.Id} ${m.Message} at ${m.Location.Path.join('/')}`),
    ).toEqual([]);
  });
});
