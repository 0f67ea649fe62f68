import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

import {
  evaluate,
  evaluatePolicies,
  loadDevicePolicy,
  PolicyDocumentError,
  resolvePolicyDocument,
  resourceArn,
  type IotAction,
  type PolicyContext,
  type PolicyDocument,
} from '../../local/iot/policy';

const PSEUDO = { partition: 'aws', region: 'us-east-1', accountId: '000000000000' };
const ARN = 'arn:aws:iot:us-east-1:000000000000';

/**
 * The project's device policy, read from resources/device-policy.yml in the form the Framework
 * hands to CloudFormation (`!Sub '…'` becomes {"Fn::Sub": "…"}). No YAML parser with
 * CloudFormation tags is installed, so each statement is taken apart with a regular expression;
 * the counts below make any statement written another way fail here rather than go unchecked.
 */
function projectResources() {
  const yaml = readFileSync(new URL('../../resources/device-policy.yml', import.meta.url), 'utf8');
  const statement = /- Effect: (Allow|Deny)\n\s+Action: (\S+)\n\s+Resource: !Sub '([^']*)'/g;
  const statements = [...yaml.matchAll(statement)].map(([, effect, action, resource]) => ({
    Effect: effect,
    Action: action,
    Resource: { 'Fn::Sub': resource },
  }));
  expect(statements).toHaveLength(5);
  expect(yaml.match(/- Effect:/g)).toHaveLength(statements.length);
  expect(yaml).toMatch(/^ {4}Type: AWS::IoT::Policy$/m);
  const version = /^\s+Version: '([^']+)'$/m.exec(yaml)?.[1];
  expect(version).toBe('2012-10-17');
  return {
    DevicePolicy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyName: 'telemetry-dev-device',
        PolicyDocument: { Version: version, Statement: statements },
      },
    },
    ConnectionsTable: { Type: 'AWS::DynamoDB::Table', Properties: {} },
  };
}

const [projectPolicy] = loadDevicePolicy(projectResources(), PSEUDO);
if (!projectPolicy) throw new Error('resources/device-policy.yml declares no AWS::IoT::Policy');

const sensor1: PolicyContext = {
  region: 'us-east-1',
  accountId: '000000000000',
  thingName: 'sensor-1',
  clientId: 'sensor-1',
  certificateId: 'c0ffee',
};

interface Case {
  name: string;
  document?: PolicyDocument;
  action: IotAction;
  target: string;
  ctx?: PolicyContext;
  allowed: boolean;
  /** A part of the reason, when it matters. */
  reason?: string;
}

const allowAll = (Resource: string | string[], Action: string | string[] = 'iot:*') => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow' as const, Action, Resource }],
});

const denyCommands: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:*', Resource: '*' },
    {
      Sid: 'NoCommands',
      Effect: 'Deny',
      Action: 'iot:Publish',
      Resource: `${ARN}:topic/*/commands`,
    },
  ],
};

const cases: Case[] = [
  // The project's policy, as a device sees it.
  {
    name: 'sensor-1 connects as client sensor-1',
    action: 'iot:Connect',
    target: 'sensor-1',
    allowed: true,
    reason: `allowed: Statement[0] allows iot:Connect on ${ARN}:client/sensor-1`,
  },
  {
    name: 'sensor-1 may not connect as client sensor-2',
    action: 'iot:Connect',
    target: 'sensor-2',
    ctx: { ...sensor1, clientId: 'sensor-2' },
    allowed: false,
    reason: `denied: no statement allows iot:Connect on ${ARN}:client/sensor-2`,
  },
  {
    name: 'sensor-1 publishes its telemetry',
    action: 'iot:Publish',
    target: 'devices/sensor-1/telemetry',
    allowed: true,
  },
  {
    name: "sensor-1 may not publish sensor-2's telemetry",
    action: 'iot:Publish',
    target: 'devices/sensor-2/telemetry',
    allowed: false,
    reason: `denied: no statement allows iot:Publish on ${ARN}:topic/devices/sensor-2/telemetry`,
  },
  {
    name: 'sensor-1 may not publish commands',
    action: 'iot:Publish',
    target: 'devices/sensor-1/commands',
    allowed: false,
  },
  {
    name: 'topics are case-sensitive',
    action: 'iot:Publish',
    target: 'Devices/sensor-1/telemetry',
    allowed: false,
  },
  {
    name: 'no deeper topic under the telemetry topic',
    action: 'iot:Publish',
    target: 'devices/sensor-1/telemetry/more',
    allowed: false,
  },
  {
    name: 'no retained publish: the policy does not grant iot:RetainPublish',
    action: 'iot:RetainPublish',
    target: 'devices/sensor-1/telemetry',
    allowed: false,
  },
  {
    name: 'sensor-1 subscribes to its commands',
    action: 'iot:Subscribe',
    target: 'devices/sensor-1/commands',
    allowed: true,
    reason: `allowed: Statement[3] allows iot:Subscribe on ${ARN}:topicfilter/devices/sensor-1/commands`,
  },
  {
    name: "sensor-1 may not subscribe to every device's commands with +",
    action: 'iot:Subscribe',
    target: 'devices/+/commands',
    allowed: false,
  },
  {
    name: 'sensor-1 may not subscribe to devices/#',
    action: 'iot:Subscribe',
    target: 'devices/#',
    allowed: false,
  },
  {
    name: 'sensor-1 may not subscribe to its telemetry',
    action: 'iot:Subscribe',
    target: 'devices/sensor-1/telemetry',
    allowed: false,
  },
  {
    name: 'sensor-1 receives its commands',
    action: 'iot:Receive',
    target: 'devices/sensor-1/commands',
    allowed: true,
  },
  {
    name: "sensor-1 does not receive sensor-2's commands",
    action: 'iot:Receive',
    target: 'devices/sensor-2/commands',
    allowed: false,
  },
  {
    name: 'sensor-1 does not receive telemetry',
    action: 'iot:Receive',
    target: 'devices/sensor-1/telemetry',
    allowed: false,
  },
  {
    name: 'a certificate with no thing attached may not connect',
    action: 'iot:Connect',
    target: 'sensor-1',
    ctx: { region: 'us-east-1', accountId: '000000000000', clientId: 'sensor-1' },
    allowed: false,
    reason:
      'Statement[0] was skipped: ${iot:Connection.Thing.ThingName} has no value: no thing is attached',
  },
  {
    name: 'a certificate with no thing attached may not publish',
    action: 'iot:Publish',
    target: 'devices/sensor-1/telemetry',
    ctx: { region: 'us-east-1', accountId: '000000000000', clientId: 'sensor-1' },
    allowed: false,
  },
  {
    name: 'the policy names its own region: another region is denied',
    action: 'iot:Connect',
    target: 'sensor-1',
    ctx: { ...sensor1, region: 'eu-west-1' },
    allowed: false,
  },

  // Deny and Allow.
  {
    name: 'an explicit Deny beats an Allow of everything',
    document: denyCommands,
    action: 'iot:Publish',
    target: 'devices/sensor-1/commands',
    allowed: false,
    reason: `denied: statement "NoCommands" explicitly denies iot:Publish on ${ARN}:topic/devices/sensor-1/commands`,
  },
  {
    name: 'a Deny wins even when listed before the Allow',
    document: { Version: '2012-10-17', Statement: [denyCommands.Statement].flat().reverse() },
    action: 'iot:Publish',
    target: 'x/commands',
    allowed: false,
  },
  {
    name: 'what the Deny does not cover stays allowed',
    document: denyCommands,
    action: 'iot:Publish',
    target: 'devices/sensor-1/telemetry',
    allowed: true,
  },
  {
    name: 'the Deny covers only its action',
    document: denyCommands,
    action: 'iot:Receive',
    target: 'devices/sensor-1/commands',
    allowed: true,
  },
  {
    name: 'default deny: an empty policy allows nothing',
    document: { Version: '2012-10-17', Statement: [] },
    action: 'iot:Connect',
    target: 'sensor-1',
    allowed: false,
  },

  // Resource wildcards.
  {
    name: '* matches across topic levels',
    document: allowAll(`${ARN}:topic/devices/*`),
    action: 'iot:Publish',
    target: 'devices/a/b/c',
    allowed: true,
  },
  {
    name: '* does not make the resource type optional',
    document: allowAll(`${ARN}:topic/devices/*`),
    action: 'iot:Subscribe',
    target: 'devices/a',
    allowed: false,
  },
  {
    name: '? matches exactly one character',
    document: allowAll(`${ARN}:topic/room-?`),
    action: 'iot:Publish',
    target: 'room-7',
    allowed: true,
  },
  {
    name: '? does not match two characters',
    document: allowAll(`${ARN}:topic/room-?`),
    action: 'iot:Publish',
    target: 'room-12',
    allowed: false,
  },
  {
    name: '? does not match no character',
    document: allowAll(`${ARN}:topic/room-?`),
    action: 'iot:Publish',
    target: 'room-',
    allowed: false,
  },
  {
    name: 'topicfilter/…/* allows subscribing to the MQTT wildcard filter',
    document: allowAll(`${ARN}:topicfilter/devices/*`),
    action: 'iot:Subscribe',
    target: 'devices/#',
    allowed: true,
  },
  {
    name: '+ in a policy is a literal character: it allows the filter itself',
    document: allowAll(`${ARN}:topicfilter/devices/+/commands`),
    action: 'iot:Subscribe',
    target: 'devices/+/commands',
    allowed: true,
  },
  {
    name: '+ in a policy is a literal character: not a one-level wildcard',
    document: allowAll(`${ARN}:topicfilter/devices/+/commands`),
    action: 'iot:Subscribe',
    target: 'devices/sensor-1/commands',
    allowed: false,
  },
  {
    name: '# in a policy is a literal character: not a multi-level wildcard',
    document: allowAll(`${ARN}:topic/devices/#`),
    action: 'iot:Publish',
    target: 'devices/sensor-1/telemetry',
    allowed: false,
  },
  {
    name: '${*} is a literal asterisk',
    document: allowAll(`${ARN}:topic/a\${*}b`),
    action: 'iot:Publish',
    target: 'a*b',
    allowed: true,
  },
  {
    name: '${*} is not a wildcard',
    document: allowAll(`${ARN}:topic/a\${*}b`),
    action: 'iot:Publish',
    target: 'axyzb',
    allowed: false,
  },
  {
    name: 'another partition shows in the ARN',
    document: allowAll('arn:aws-cn:iot:*:*:client/*'),
    action: 'iot:Connect',
    target: 'sensor-1',
    ctx: { ...sensor1, partition: 'aws-cn' },
    allowed: true,
  },

  // Action wildcards.
  {
    name: 'iot:Pub* allows Publish',
    document: allowAll('*', 'iot:Pub*'),
    action: 'iot:Publish',
    target: 't',
    allowed: true,
  },
  {
    name: 'iot:Pub* does not allow Subscribe',
    document: allowAll('*', 'iot:Pub*'),
    action: 'iot:Subscribe',
    target: 't',
    allowed: false,
  },
  {
    name: 'iot:* allows Receive',
    document: allowAll('*', 'iot:*'),
    action: 'iot:Receive',
    target: 't',
    allowed: true,
  },
  {
    name: 'action names are case-insensitive',
    document: allowAll('*', 'IOT:publish'),
    action: 'iot:Publish',
    target: 't',
    allowed: true,
  },
  {
    name: '? in an action matches one character',
    document: allowAll('*', 'iot:?eceive'),
    action: 'iot:Receive',
    target: 't',
    allowed: true,
  },
  {
    name: 'a list of actions',
    document: allowAll('*', ['iot:Connect', 'iot:Subscribe']),
    action: 'iot:Subscribe',
    target: 'a/#',
    allowed: true,
  },
  {
    name: 'an action of another service does not match',
    document: allowAll('*', 'greengrass:*'),
    action: 'iot:Connect',
    target: 'sensor-1',
    allowed: false,
  },

  // Policy variables.
  {
    name: '${iot:ClientId} is the MQTT client id',
    document: allowAll(`${ARN}:topic/clients/\${iot:ClientId}`),
    action: 'iot:Publish',
    target: 'clients/sensor-1',
    allowed: true,
  },
  {
    name: 'variable names are case-insensitive',
    document: allowAll(`${ARN}:topic/clients/\${IOT:clientid}`),
    action: 'iot:Publish',
    target: 'clients/sensor-1',
    allowed: true,
  },
  {
    name: 'a substituted value is matched literally, never as a wildcard',
    document: allowAll(`${ARN}:topic/clients/\${iot:ClientId}`),
    action: 'iot:Publish',
    target: 'clients/abc',
    ctx: { ...sensor1, clientId: 'a*' },
    allowed: false,
  },
  {
    name: 'no client id (HTTPS): ${iot:ClientId} matches nothing',
    document: allowAll(`${ARN}:topic/clients/\${iot:ClientId}`),
    action: 'iot:Publish',
    target: 'clients/',
    ctx: { ...sensor1, clientId: undefined },
    allowed: false,
    reason: '${iot:ClientId} has no value for this connection',
  },
  {
    name: '${iot:CertificateId} is the certificate id',
    document: allowAll(`${ARN}:topic/certs/\${iot:CertificateId}`),
    action: 'iot:Publish',
    target: 'certs/c0ffee',
    allowed: true,
  },
  {
    name: '${iot:Connection.Thing.IsAttached} is true with a thing attached',
    document: allowAll(`${ARN}:client/\${iot:Connection.Thing.IsAttached}`),
    action: 'iot:Connect',
    target: 'true',
    allowed: true,
  },
  {
    name: '${iot:Connection.Thing.IsAttached} is false without one',
    document: allowAll(`${ARN}:client/\${iot:Connection.Thing.IsAttached}`),
    action: 'iot:Connect',
    target: 'false',
    ctx: { ...sensor1, thingName: undefined },
    allowed: true,
  },
  {
    name: 'an unknown variable makes the statement match nothing (and does not throw)',
    document: allowAll(`${ARN}:topic/types/\${iot:Connection.Thing.ThingTypeName}`),
    action: 'iot:Publish',
    target: 'types/',
    allowed: false,
    reason:
      '${iot:Connection.Thing.ThingTypeName} is not a policy variable the offline IoT Core resolves',
  },
  {
    name: 'an unknown variable does not hide the other resources of the statement',
    document: allowAll([`${ARN}:topic/\${iot:Nope}`, `${ARN}:topic/open`]),
    action: 'iot:Publish',
    target: 'open',
    allowed: true,
  },
  {
    name: 'a Deny with an unresolved variable does not apply',
    document: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
        { Effect: 'Deny', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:CertificateId}` },
      ],
    },
    action: 'iot:Connect',
    target: 'c0ffee',
    ctx: { ...sensor1, certificateId: undefined },
    allowed: true,
  },
  {
    name: 'without Version 2012-10-17, ${…} is literal text',
    document: { Statement: allowAll(`${ARN}:client/\${iot:ClientId}`).Statement },
    action: 'iot:Connect',
    target: 'sensor-1',
    allowed: false,
  },
  {
    name: 'without Version 2012-10-17, ${…} matches itself',
    document: {
      Version: '2008-10-17',
      Statement: allowAll(`${ARN}:client/\${iot:ClientId}`).Statement,
    },
    action: 'iot:Connect',
    target: '${iot:ClientId}',
    allowed: true,
  },
];

describe('evaluate', () => {
  it.each(cases)('$name', ({ document, action, target, ctx, allowed, reason }) => {
    const decision = evaluate(document ?? projectPolicy.document, action, target, ctx ?? sensor1);
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toMatch(allowed ? /^allowed: / : /^denied: /);
    if (reason) expect(decision.reason).toContain(reason);
  });

  it('has enough cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });
});

describe('evaluatePolicies', () => {
  it('a Deny in one attached policy beats an Allow in another, naming the policy', () => {
    const policies = [
      { name: 'open', document: allowAll('*') },
      { name: 'locked', document: denyCommands },
    ];
    expect(evaluatePolicies(policies, 'iot:Publish', 'a/commands', sensor1)).toEqual({
      allowed: false,
      reason: `denied: statement "NoCommands" of policy "locked" explicitly denies iot:Publish on ${ARN}:topic/a/commands`,
    });
    expect(evaluatePolicies(policies, 'iot:Publish', 'a/telemetry', sensor1)).toEqual({
      allowed: true,
      reason: `allowed: Statement[0] of policy "open" allows iot:Publish on ${ARN}:topic/a/telemetry`,
    });
  });

  it('with no policy attached, everything is denied', () => {
    expect(evaluatePolicies([], 'iot:Connect', 'sensor-1', sensor1).allowed).toBe(false);
  });
});

describe('resourceArn', () => {
  it.each([
    ['iot:Connect', 'sensor-1', `${ARN}:client/sensor-1`],
    ['iot:Publish', 'devices/a/telemetry', `${ARN}:topic/devices/a/telemetry`],
    ['iot:RetainPublish', 'devices/a/telemetry', `${ARN}:topic/devices/a/telemetry`],
    ['iot:Receive', 'devices/a/commands', `${ARN}:topic/devices/a/commands`],
    ['iot:Subscribe', 'devices/+/commands', `${ARN}:topicfilter/devices/+/commands`],
  ] as [IotAction, string, string][])('%s %s', (action, target, arn) => {
    expect(resourceArn(action, target, PSEUDO)).toBe(arn);
  });

  it('uses the partition given', () => {
    expect(resourceArn('iot:Connect', 'x', { ...PSEUDO, partition: 'aws-us-gov' })).toBe(
      'arn:aws-us-gov:iot:us-east-1:000000000000:client/x',
    );
  });
});

describe('loadDevicePolicy', () => {
  it("resolves the project's policy as CloudFormation would", () => {
    expect(loadDevicePolicy(projectResources(), PSEUDO)).toEqual([
      {
        logicalId: 'DevicePolicy',
        name: 'telemetry-dev-device',
        document: {
          Version: '2012-10-17',
          Statement: [
            ['iot:Connect', 'client/${iot:Connection.Thing.ThingName}'],
            ['iot:Publish', 'topic/devices/${iot:Connection.Thing.ThingName}/telemetry'],
            ['iot:Publish', 'topic/devices/${iot:Certificate.Subject.CommonName}/telemetry'],
            ['iot:Subscribe', 'topicfilter/devices/${iot:Connection.Thing.ThingName}/commands'],
            ['iot:Receive', 'topic/devices/${iot:Connection.Thing.ThingName}/commands'],
          ].map(([Action, resource]) => ({
            Effect: 'Allow',
            Action,
            Resource: `${ARN}:${resource}`,
          })),
        },
      },
    ]);
  });

  it('names a policy without PolicyName by its logical id and reads a JSON-string document', () => {
    const [policy] = loadDevicePolicy(
      {
        Open: {
          Type: 'AWS::IoT::Policy',
          Properties: {
            PolicyDocument: JSON.stringify({
              Statement: { Effect: 'Allow', Action: '*', Resource: '*' },
            }),
          },
        },
      },
      PSEUDO,
    );
    expect(policy?.name).toBe('Open');
    expect(policy?.document.Statement).toEqual([{ Effect: 'Allow', Action: '*', Resource: '*' }]);
  });

  it('names the resource when a policy cannot be resolved', () => {
    const resources = {
      Broken: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyName: 'broken',
          PolicyDocument: {
            Statement: [
              { Effect: 'Allow', Action: 'iot:*', Resource: { 'Fn::GetAtt': ['Thing', 'Arn'] } },
            ],
          },
        },
      },
    };
    expect(() => loadDevicePolicy(resources, PSEUDO)).toThrow(
      'IoT policy Broken: PolicyDocument.Statement[0].Resource uses Fn::GetAtt',
    );
  });

  it('refuses a policy with no document', () => {
    expect(() =>
      loadDevicePolicy({ Empty: { Type: 'AWS::IoT::Policy', Properties: {} } }, PSEUDO),
    ).toThrow('IoT policy Empty: it has no PolicyDocument');
  });
});

describe('resolvePolicyDocument', () => {
  const statementWith = (Resource: unknown) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource }],
  });
  const resourceOf = (document: PolicyDocument) => [document.Statement].flat()[0]?.Resource;

  it('substitutes pseudo parameters and turns ${!x} into a literal ${x}', () => {
    const document = resolvePolicyDocument(
      statementWith({
        'Fn::Sub':
          'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/${!iot:ClientId}',
      }),
      { partition: 'aws-cn', region: 'cn-north-1', accountId: '123456789012' },
    );
    expect(resourceOf(document)).toBe(
      'arn:aws-cn:iot:cn-north-1:123456789012:client/${iot:ClientId}',
    );
  });

  it('substitutes the variables given to Fn::Sub, themselves intrinsics', () => {
    const document = resolvePolicyDocument(
      statementWith({
        'Fn::Sub': [
          'arn:aws:iot:${Where}:${AWS::AccountId}:topic/${Prefix}/*',
          {
            Where: { Ref: 'AWS::Region' },
            Prefix: 'devices',
          },
        ],
      }),
      PSEUDO,
    );
    expect(resourceOf(document)).toBe(`${ARN}:topic/devices/*`);
  });

  it('joins with Fn::Join and resolves Ref to pseudo parameters, in lists too', () => {
    const document = resolvePolicyDocument(
      statementWith([
        {
          'Fn::Join': [
            ':',
            [
              'arn',
              { Ref: 'AWS::Partition' },
              'iot',
              { Ref: 'AWS::Region' },
              { Ref: 'AWS::AccountId' },
              'client/*',
            ],
          ],
        },
        'arn:aws:iot:*:*:client/plain',
      ]),
      PSEUDO,
    );
    expect(resourceOf(document)).toEqual([`${ARN}:client/*`, 'arn:aws:iot:*:*:client/plain']);
  });

  it.each([
    [{ 'Fn::GetAtt': ['Thing', 'Arn'] }, 'PolicyDocument.Statement[0].Resource uses Fn::GetAtt'],
    [{ 'Fn::ImportValue': 'x' }, 'uses Fn::ImportValue'],
    [{ Ref: 'MyThing' }, 'uses Ref to "MyThing"'],
    [{ 'Fn::Sub': 'arn:${AWS::StackName}' }, 'references ${AWS::StackName}'],
    [{ 'Fn::Sub': 'arn:${MyBucket.Arn}' }, 'references ${MyBucket.Arn}'],
    [{ 'Fn::Join': ['', { 'Fn::Split': [',', 'a,b'] }] }, 'uses Fn::Split'],
  ])('refuses %j, naming it', (resource, message) => {
    expect(() => resolvePolicyDocument(statementWith(resource), PSEUDO)).toThrow(message);
    expect(() => resolvePolicyDocument(statementWith(resource), PSEUDO)).toThrow(
      PolicyDocumentError,
    );
  });

  it.each([
    [
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*', Condition: {} }],
      },
      'Statement[0] uses Condition',
    ],
    [
      { Statement: [{ Effect: 'allow', Action: 'iot:*', Resource: '*' }] },
      'Statement[0].Effect must be "Allow" or "Deny"',
    ],
    [{ Statement: [{ Effect: 'Allow', Resource: '*' }] }, 'Statement[0].Action must be a string'],
    [
      { Statement: [{ Effect: 'Allow', Action: [], Resource: '*' }] },
      'Statement[0].Action must be a string',
    ],
    [
      { Statement: [{ Effect: 'Allow', Action: 'iot:*' }] },
      'Statement[0].Resource must be a string',
    ],
    [{ Version: '2020-01-01', Statement: [] }, 'Version must be'],
    [{ Version: '2012-10-17' }, 'has no Statement'],
    ['{not json', 'not JSON'],
  ])('refuses a malformed document %j', (document, message) => {
    expect(() => resolvePolicyDocument(document, PSEUDO)).toThrow(message);
  });
});

describe('the project policy over HTTPS (no thing, no client id: only certificate variables)', () => {
  const https: PolicyContext = {
    region: 'us-east-1',
    accountId: '000000000000',
    certificateId: 'c0ffee',
    certificateCommonName: 'sensor-1',
  };

  it.each([
    ['devices/sensor-1/telemetry', true],
    ['devices/sensor-2/telemetry', false],
    ['devices/sensor-1/commands', false],
  ])('publish to %s → allowed: %s', (topic, allowed) => {
    expect(evaluate(projectPolicy.document, 'iot:Publish', topic, https).allowed).toBe(allowed);
  });

  it('a certificate without a usable common name may not publish at all', () => {
    const anonymous = { ...https, certificateCommonName: undefined };
    expect(
      evaluate(projectPolicy.document, 'iot:Publish', 'devices/sensor-1/telemetry', anonymous)
        .allowed,
    ).toBe(false);
  });
});
