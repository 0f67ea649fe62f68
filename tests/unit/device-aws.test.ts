/**
 * device:create and device:delete on AWS, against a mocked IoT control plane (it has no local
 * twin). The mock signs the CSR it is sent with a throwaway CA, as CreateCertificateFromCsr does
 * ("AWS IoT API Reference: CreateCertificateFromCsr": the certificate takes the CSR's subject and
 * public key), so what lands in the device folder is a real certificate for the real key.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  type CreateCertificateFromCsrCommandInput,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  InvalidRequestException,
  IoTClient,
  ListThingPrincipalsCommand,
  ResourceNotFoundException,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import forge from 'node-forge';
import { AMAZON_ROOT_CA_1_PEM } from '../../scripts/devices/amazon-root-ca';
import { createAwsDevice, deleteAwsDevice } from '../../scripts/devices/aws-device-folder';
import { deleteLocalDevice } from '../../scripts/devices/local-device';
import {
  certificateIdFromArn,
  deprovisionAwsDevice,
  devicePolicyName,
  provisionAwsDevice,
  type AwsDeviceIdentity,
} from '../../scripts/devices/aws-device';

const iotMock = mockClient(IoTClient);
const iot = new IoTClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

const THING = 'sensor-1';
const STAGE = 'dev';
const POLICY = 'telemetry-dev-device';
const CERT_ID = 'a'.repeat(64);
const CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${CERT_ID}`;
const OTHER_CERT_ID = 'b'.repeat(64);
const OTHER_CERT_ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${OTHER_CERT_ID}`;
const ENDPOINT = 'abc123-ats.iot.eu-west-1.amazonaws.com';

/** A stand-in for AWS IoT's CA: signs whatever CSR CreateCertificateFromCsr receives. */
let awsCa: { certificate: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
/** Every CSR the mock was sent, and the certificates it answered with. */
let csrsSent: string[];
let certificatesIssued: string[];

beforeAll(() => {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  certificate.serialNumber = '01';
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: 'Test stand-in for AWS IoT' }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.sign(key, forge.md.sha256.create());
  awsCa = { certificate, key };
});

function signCsr(
  csrPem: string,
  publicKeyOf: (csr: forge.pki.CertificateSigningRequest) => unknown,
) {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = publicKeyOf(csr) as forge.pki.PublicKey;
  certificate.serialNumber = '02';
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
  certificate.setSubject(csr.subject.attributes);
  certificate.setIssuer(awsCa.certificate.subject.attributes);
  certificate.sign(awsCa.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(certificate);
}

/** CreateCertificateFromCsr as AWS answers it; `publicKeyOf` lets a test make it misbehave. */
function answerCsr(
  publicKeyOf = (csr: forge.pki.CertificateSigningRequest): unknown => csr.publicKey,
) {
  return (input: CreateCertificateFromCsrCommandInput) => {
    const csrPem = input.certificateSigningRequest ?? '';
    csrsSent.push(csrPem);
    const certificatePem = signCsr(csrPem, publicKeyOf);
    certificatesIssued.push(certificatePem);
    return { certificateArn: CERT_ARN, certificateId: CERT_ID, certificatePem };
  };
}

const notFound = (message = 'not found') =>
  new ResourceNotFoundException({ message, $metadata: {} });

/** Every call the client made, as [operation, input], in order. */
function calls(): [string, unknown][] {
  return iotMock.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name.replace(/Command$/, ''), command.input];
  });
}

const noWait = async () => {};

function mockSuccessfulProvisioning(): void {
  iotMock.on(DescribeThingCommand).rejects(notFound(`Thing ${THING} cannot be found`));
  iotMock.on(CreateThingCommand).resolves({ thingName: THING });
  iotMock.on(CreateCertificateFromCsrCommand).callsFake(answerCsr());
  iotMock.on(AttachPolicyCommand).resolves({});
  iotMock.on(AttachThingPrincipalCommand).resolves({});
  iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: ENDPOINT });
  iotMock.on(DetachThingPrincipalCommand).resolves({});
  iotMock.on(DetachPolicyCommand).resolves({});
  iotMock.on(UpdateCertificateCommand).resolves({});
  iotMock.on(DeleteCertificateCommand).resolves({});
  iotMock.on(DeleteThingCommand).resolves({});
}

const PROVISIONING_CALLS: [string, unknown][] = [
  ['DescribeThing', { thingName: THING }],
  ['CreateThing', { thingName: THING }],
  [
    'CreateCertificateFromCsr',
    {
      certificateSigningRequest: expect.stringMatching(
        /^-----BEGIN CERTIFICATE REQUEST-----\r?\n[\s\S]+-----END CERTIFICATE REQUEST-----\s*$/,
      ),
      setAsActive: true,
    },
  ],
  ['AttachPolicy', { policyName: POLICY, target: CERT_ARN }],
  ['AttachThingPrincipal', { thingName: THING, principal: CERT_ARN }],
  ['DescribeEndpoint', { endpointType: 'iot:Data-ATS' }],
];

const ROLLBACK = {
  detachPrincipal: ['DetachThingPrincipal', { thingName: THING, principal: CERT_ARN }],
  detachPolicy: ['DetachPolicy', { policyName: POLICY, target: CERT_ARN }],
  deactivate: ['UpdateCertificate', { certificateId: CERT_ID, newStatus: 'INACTIVE' }],
  deleteCertificate: ['DeleteCertificate', { certificateId: CERT_ID, forceDelete: false }],
  deleteThing: ['DeleteThing', { thingName: THING }],
} satisfies Record<string, [string, unknown]>;

beforeEach(() => {
  iotMock.reset();
  csrsSent = [];
  certificatesIssued = [];
});

/** The CSR's public key and the private key's public half, both as SPKI DER. */
function keysOf(csrPem: string, privateKeyPem: string): [Buffer, Buffer] {
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  const inCsr = createPublicKey(forge.pki.publicKeyToPem(csr.publicKey as forge.pki.PublicKey));
  const ofKey = createPublicKey(createPrivateKey(privateKeyPem));
  return [
    inCsr.export({ type: 'spki', format: 'der' }),
    ofKey.export({ type: 'spki', format: 'der' }),
  ];
}

describe('provisionAwsDevice', () => {
  it('creates the thing, an active certificate with the policy, and finds the ATS endpoint', async () => {
    mockSuccessfulProvisioning();
    const saved: AwsDeviceIdentity[] = [];
    const identity = await provisionAwsDevice(iot, {
      thingName: THING,
      stage: STAGE,
      persist: (created) => {
        saved.push(created);
      },
    });

    expect(calls()).toEqual(PROVISIONING_CALLS);
    const expected: AwsDeviceIdentity = {
      thingName: THING,
      certificateArn: CERT_ARN,
      certificateId: CERT_ID,
      certificatePem: certificatesIssued[0] as string,
      privateKeyPem: expect.stringMatching(/^-----BEGIN RSA PRIVATE KEY-----/) as unknown as string,
      endpoint: ENDPOINT,
    };
    expect(identity).toEqual(expected);
    expect(saved).toEqual([expected]);
  });

  it('sends a CSR whose subject CN is the thing name, for the key it keeps', async () => {
    mockSuccessfulProvisioning();
    const identity = await provisionAwsDevice(iot, { thingName: THING, stage: STAGE });

    expect(csrsSent).toHaveLength(1);
    const csr = forge.pki.certificationRequestFromPem(csrsSent[0] as string);
    expect(csr.verify()).toBe(true);
    expect(csr.subject.attributes.map(({ shortName, value }) => [shortName, value])).toEqual([
      ['CN', THING],
    ]);
    // The key in the CSR is the public half of the private key handed back (and saved).
    const [inCsr, ofKey] = keysOf(csrsSent[0] as string, identity.privateKeyPem);
    expect(inCsr.equals(ofKey)).toBe(true);
    // No private key was ever sent: only the CSR crossed to AWS.
    const sent = JSON.stringify(iotMock.calls().map((call) => call.args[0].input));
    expect(sent).not.toMatch(/PRIVATE KEY/);
    const certificate = new X509Certificate(identity.certificatePem);
    expect(certificate.subject).toBe(`CN=${THING}`);
    expect(certificate.checkPrivateKey(createPrivateKey(identity.privateKeyPem))).toBe(true);
  });

  it('makes a new key pair for every device', async () => {
    mockSuccessfulProvisioning();
    const first = await provisionAwsDevice(iot, { thingName: THING, stage: STAGE });
    const second = await provisionAwsDevice(iot, { thingName: THING, stage: STAGE });
    expect(first.privateKeyPem).not.toBe(second.privateKeyPem);
  });

  it('rolls back when AWS signs a certificate for another key', async () => {
    mockSuccessfulProvisioning();
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    iotMock
      .on(CreateCertificateFromCsrCommand)
      .callsFake(
        answerCsr(() =>
          forge.pki.publicKeyFromPem(stranger.export({ type: 'spki', format: 'pem' }) as string),
        ),
      );
    await expect(provisionAwsDevice(iot, { thingName: THING, stage: STAGE })).rejects.toThrow(
      /failed at CreateCertificateFromCsr: CreateCertificateFromCsr returned a certificate for another key\nEverything created in AWS IoT was removed again/,
    );
    expect(calls()).toEqual([
      ...PROVISIONING_CALLS.slice(0, 3),
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
  });

  it('reports each step as progress', async () => {
    mockSuccessfulProvisioning();
    const lines: string[] = [];
    await provisionAwsDevice(iot, { thingName: THING, stage: STAGE, log: (l) => lines.push(l) });
    expect(lines).toEqual([
      `generating an RSA key pair and a CSR with CN=${THING}`,
      `DescribeThing ${THING}`,
      `CreateThing ${THING}`,
      'CreateCertificateFromCsr',
      `AttachPolicy ${POLICY}`,
      'AttachThingPrincipal',
      'DescribeEndpoint iot:Data-ATS',
    ]);
  });

  it('refuses a thing that already exists, creating nothing', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(DescribeThingCommand).resolves({ thingName: THING });
    await expect(provisionAwsDevice(iot, { thingName: THING, stage: STAGE })).rejects.toThrow(
      /already exists; pass --force[\s\S]*Nothing had been created/,
    );
    expect(calls()).toEqual([['DescribeThing', { thingName: THING }]]);
  });

  it('when AttachPolicy fails: deactivates and deletes the certificate, then deletes the thing', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(AttachPolicyCommand).rejects(notFound(`Policy ${POLICY} not found`));
    const error = await provisionAwsDevice(iot, { thingName: THING, stage: STAGE }).catch(
      (caught: Error) => caught,
    );

    expect(calls()).toEqual([
      ...PROVISIONING_CALLS.slice(0, 4),
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      new RegExp(
        `failed at AttachPolicy ${POLICY}: Policy ${POLICY} not found ` +
          `\\(the policy comes with the stage: deploy it first with npx sls deploy --stage dev\\)` +
          `\\nEverything created in AWS IoT was removed again`,
      ),
    );
  });

  it('when DescribeEndpoint fails: undoes every step in reverse order', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(DescribeEndpointCommand).rejects(new Error('Rate exceeded'));
    await expect(provisionAwsDevice(iot, { thingName: THING, stage: STAGE })).rejects.toThrow(
      /failed at DescribeEndpoint iot:Data-ATS: Rate exceeded/,
    );
    expect(calls()).toEqual([
      ...PROVISIONING_CALLS,
      ROLLBACK.detachPrincipal,
      ROLLBACK.detachPolicy,
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
  });

  it('when saving the device folder fails: undoes everything, since the key would be lost', async () => {
    mockSuccessfulProvisioning();
    await expect(
      provisionAwsDevice(iot, {
        thingName: THING,
        stage: STAGE,
        persist: () => {
          throw new Error('EACCES: permission denied');
        },
      }),
    ).rejects.toThrow(/failed at saving the device folder: EACCES/);
    expect(calls()).toEqual([
      ...PROVISIONING_CALLS,
      ROLLBACK.detachPrincipal,
      ROLLBACK.detachPolicy,
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
  });

  it('when CreateThing fails: has nothing to undo', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(CreateThingCommand).rejects(new Error('AccessDenied'));
    await expect(provisionAwsDevice(iot, { thingName: THING, stage: STAGE })).rejects.toThrow(
      /failed at CreateThing sensor-1: AccessDenied\nNothing had been created in AWS IoT/,
    );
    expect(calls()).toEqual(PROVISIONING_CALLS.slice(0, 2));
  });

  it('carries on past a failed rollback step and says what is left over', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(AttachThingPrincipalCommand).rejects(new Error('Throttled'));
    iotMock.on(DeleteCertificateCommand).rejects(new Error('Service unavailable'));
    const error = (await provisionAwsDevice(iot, { thingName: THING, stage: STAGE }).catch(
      (caught: unknown) => caught,
    )) as Error;

    expect(calls()).toEqual([
      ...PROVISIONING_CALLS.slice(0, 5),
      ROLLBACK.detachPolicy,
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
    expect(error.message).toContain('failed at AttachThingPrincipal: Throttled');
    expect(error.message).toContain(
      `The rollback could not: UpdateCertificate INACTIVE and DeleteCertificate ${CERT_ID} (Service unavailable)`,
    );
    expect(error.message).toContain(`npm run device:delete -- --thing ${THING} --stage ${STAGE}`);
  });

  it('retries DeleteThing while the detached certificate is still propagating', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(DescribeEndpointCommand).rejects(new Error('boom'));
    const attached = new InvalidRequestException({
      message: `Cannot delete. Thing ${THING} is still attached to one or more principals`,
      $metadata: {},
    });
    iotMock.on(DeleteThingCommand).rejectsOnce(attached).rejectsOnce(attached).resolves({});
    const waits: number[] = [];
    await expect(
      provisionAwsDevice(iot, {
        thingName: THING,
        stage: STAGE,
        sleep: async (ms) => {
          waits.push(ms);
        },
      }),
    ).rejects.toThrow(/removed again/);
    expect(waits).toEqual([1000, 2000]);
    expect(calls().filter(([name]) => name === 'DeleteThing')).toHaveLength(3);
  });
});

describe('deprovisionAwsDevice', () => {
  it('retires every certificate of the thing, then deletes the thing', async () => {
    mockSuccessfulProvisioning();
    iotMock
      .on(ListThingPrincipalsCommand)
      .resolvesOnce({ principals: [CERT_ARN], nextToken: 'page-2' })
      .resolves({ principals: [OTHER_CERT_ARN] });

    const result = await deprovisionAwsDevice(iot, {
      thingName: THING,
      stage: STAGE,
      sleep: noWait,
    });

    expect(result).toEqual({ thingFound: true, deletedCertificateIds: [CERT_ID, OTHER_CERT_ID] });
    expect(calls()).toEqual([
      ['ListThingPrincipals', { thingName: THING, nextToken: undefined }],
      ['ListThingPrincipals', { thingName: THING, nextToken: 'page-2' }],
      ['DetachThingPrincipal', { thingName: THING, principal: CERT_ARN }],
      ['DetachPolicy', { policyName: POLICY, target: CERT_ARN }],
      ['UpdateCertificate', { certificateId: CERT_ID, newStatus: 'INACTIVE' }],
      ['DeleteCertificate', { certificateId: CERT_ID, forceDelete: false }],
      ['DetachThingPrincipal', { thingName: THING, principal: OTHER_CERT_ARN }],
      ['DetachPolicy', { policyName: POLICY, target: OTHER_CERT_ARN }],
      ['UpdateCertificate', { certificateId: OTHER_CERT_ID, newStatus: 'INACTIVE' }],
      ['DeleteCertificate', { certificateId: OTHER_CERT_ID, forceDelete: false }],
      ['DeleteThing', { thingName: THING }],
    ]);
  });

  it('tolerates a certificate that no longer has the policy', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(ListThingPrincipalsCommand).resolves({ principals: [CERT_ARN] });
    iotMock.on(DetachPolicyCommand).rejects(notFound());
    await deprovisionAwsDevice(iot, { thingName: THING, stage: STAGE, sleep: noWait });
    expect(calls().map(([name]) => name)).toEqual([
      'ListThingPrincipals',
      'DetachThingPrincipal',
      'DetachPolicy',
      'UpdateCertificate',
      'DeleteCertificate',
      'DeleteThing',
    ]);
  });

  it('only detaches principals that are not certificates', async () => {
    mockSuccessfulProvisioning();
    const cognito = 'eu-west-1:11111111-2222-3333-4444-555555555555';
    iotMock.on(ListThingPrincipalsCommand).resolves({ principals: [cognito] });
    const result = await deprovisionAwsDevice(iot, { thingName: THING, stage: STAGE });
    expect(result.deletedCertificateIds).toEqual([]);
    expect(calls().map(([name]) => name)).toEqual([
      'ListThingPrincipals',
      'DetachThingPrincipal',
      'DeleteThing',
    ]);
  });

  it('reports a thing that does not exist, deleting nothing', async () => {
    iotMock.on(ListThingPrincipalsCommand).rejects(notFound());
    const result = await deprovisionAwsDevice(iot, { thingName: THING, stage: STAGE });
    expect(result).toEqual({ thingFound: false, deletedCertificateIds: [] });
    expect(calls().map(([name]) => name)).toEqual(['ListThingPrincipals']);
  });

  it('stops at the first failure and names the step', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(ListThingPrincipalsCommand).resolves({ principals: [CERT_ARN] });
    iotMock.on(DeleteCertificateCommand).rejects(new Error('DeleteConflictException'));
    await expect(deprovisionAwsDevice(iot, { thingName: THING, stage: STAGE })).rejects.toThrow(
      `deleting device "${THING}" failed at UpdateCertificate INACTIVE and DeleteCertificate ${CERT_ID}`,
    );
    expect(calls().map(([name]) => name)).not.toContain('DeleteThing');
  });
});

describe('createAwsDevice and deleteAwsDevice', () => {
  let devicesDir: string;
  beforeEach(() => {
    devicesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'device-aws-'));
  });
  afterEach(() => {
    fs.rmSync(devicesDir, { recursive: true, force: true });
  });
  const folder = () => path.join(devicesDir, THING);
  const read = (file: string) => fs.readFileSync(path.join(folder(), file), 'utf8');

  it('writes the device folder with Amazon Root CA 1 and the ATS endpoint', async () => {
    mockSuccessfulProvisioning();
    const created = await createAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir });

    expect(calls()).toEqual(PROVISIONING_CALLS);
    expect(created.folder).toBe(folder());
    expect(fs.readdirSync(folder()).sort()).toEqual([
      'AmazonRootCA1.pem',
      'certificate.pem.crt',
      'device.json',
      'private.pem.key',
    ]);
    expect(read('certificate.pem.crt')).toBe(certificatesIssued[0]);
    // The key written is the one whose public half went to AWS in the CSR.
    const [inCsr, ofKey] = keysOf(csrsSent[0] as string, read('private.pem.key'));
    expect(inCsr.equals(ofKey)).toBe(true);
    expect(fs.statSync(path.join(folder(), 'private.pem.key')).mode & 0o777).toBe(0o600);
    expect(read('AmazonRootCA1.pem')).toBe(AMAZON_ROOT_CA_1_PEM);
    const config = {
      thingName: THING,
      mode: 'aws',
      stage: STAGE,
      endpoint: ENDPOINT,
      mqttPort: 8883,
      httpsPort: 8443,
      rootCa: 'AmazonRootCA1.pem',
      certificateId: CERT_ID,
      certificateArn: CERT_ARN,
    };
    expect(JSON.parse(read('device.json'))).toEqual(config);
    expect(created.config).toEqual(config);
  });

  it('refuses to overwrite an existing folder without replace, before calling AWS', async () => {
    mockSuccessfulProvisioning();
    fs.mkdirSync(folder());
    fs.writeFileSync(path.join(folder(), 'device.json'), '{}');
    await expect(
      createAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir }),
    ).rejects.toThrow(/already exists; pass --force/);
    expect(calls()).toEqual([]);
  });

  it('with replace: deletes the old thing and certificate, then creates new ones', async () => {
    mockSuccessfulProvisioning();
    iotMock.on(ListThingPrincipalsCommand).resolves({ principals: [OTHER_CERT_ARN] });
    fs.mkdirSync(folder());
    fs.writeFileSync(path.join(folder(), 'stale.txt'), 'old');

    await createAwsDevice(iot, {
      thingName: THING,
      stage: STAGE,
      devicesDir,
      replace: true,
      sleep: noWait,
    });

    expect(calls().map(([name]) => name)).toEqual([
      'ListThingPrincipals',
      'DetachThingPrincipal',
      'DetachPolicy',
      'UpdateCertificate',
      'DeleteCertificate',
      'DeleteThing',
      ...PROVISIONING_CALLS.map(([name]) => name),
    ]);
    expect(fs.existsSync(path.join(folder(), 'stale.txt'))).toBe(false);
    expect(JSON.parse(read('device.json')).certificateId).toBe(CERT_ID);
  });

  it('rolls back in AWS when the folder cannot be written', async () => {
    mockSuccessfulProvisioning();
    const notADirectory = path.join(devicesDir, 'file');
    fs.writeFileSync(notADirectory, '');
    await expect(
      createAwsDevice(iot, {
        thingName: THING,
        stage: STAGE,
        devicesDir: path.join(notADirectory, 'devices'),
      }),
    ).rejects.toThrow(/failed at saving the device folder[\s\S]*removed again/);
    expect(calls().slice(-5)).toEqual([
      ROLLBACK.detachPrincipal,
      ROLLBACK.detachPolicy,
      ROLLBACK.deactivate,
      ROLLBACK.deleteCertificate,
      ROLLBACK.deleteThing,
    ]);
  });

  it('deletes the thing, its certificates and the folder', async () => {
    mockSuccessfulProvisioning();
    await createAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir });
    iotMock.resetHistory();
    iotMock.on(ListThingPrincipalsCommand).resolves({ principals: [CERT_ARN] });

    const deleted = await deleteAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir });

    expect(deleted).toEqual({
      thingFound: true,
      deletedCertificateIds: [CERT_ID],
      folder: folder(),
      folderRemoved: true,
    });
    expect(calls().map(([name]) => name)).toEqual([
      'ListThingPrincipals',
      'DetachThingPrincipal',
      'DetachPolicy',
      'UpdateCertificate',
      'DeleteCertificate',
      'DeleteThing',
    ]);
    expect(fs.existsSync(folder())).toBe(false);
  });

  it('leaves alone a folder of another stage, and the local delete an AWS folder', async () => {
    mockSuccessfulProvisioning();
    await createAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir });
    iotMock.resetHistory();

    await expect(
      deleteAwsDevice(iot, { thingName: THING, stage: 'prod', devicesDir }),
    ).rejects.toThrow(/holds a device of stage dev, not of stage prod/);
    expect(() =>
      deleteLocalDevice({ thingName: THING, devicesDir, localCloudDir: devicesDir }),
    ).toThrow(/holds an AWS IoT device; delete it with --stage dev/);
    expect(calls()).toEqual([]);
    expect(fs.existsSync(folder())).toBe(true);
  });

  it('says so when there is neither a thing nor a folder', async () => {
    iotMock.on(ListThingPrincipalsCommand).rejects(notFound());
    await expect(
      deleteAwsDevice(iot, { thingName: THING, stage: STAGE, devicesDir }),
    ).rejects.toThrow(/there is no thing "sensor-1" in AWS IoT and no folder/);
  });
});

describe('names', () => {
  it('names the policy after the stage, as serverless.yml does', () => {
    expect(devicePolicyName('prod')).toBe('telemetry-prod-device');
  });

  it('reads the certificate id from its ARN', () => {
    expect(certificateIdFromArn(CERT_ARN)).toBe(CERT_ID);
    expect(certificateIdFromArn('eu-west-1:cognito-identity')).toBeUndefined();
  });
});

describe('AMAZON_ROOT_CA_1_PEM', () => {
  it('is Amazon Root CA 1', () => {
    const certificate = new X509Certificate(AMAZON_ROOT_CA_1_PEM);
    expect(certificate.subject).toBe('C=US\nO=Amazon\nCN=Amazon Root CA 1');
    expect(certificate.fingerprint256).toBe(
      '8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E',
    );
    expect(createHash('sha256').update(certificate.raw).digest('hex')).toBe(
      certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
    );
  });
});
