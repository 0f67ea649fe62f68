/**
 * Device identities in AWS IoT Core: a thing, an active certificate with the stage's device policy,
 * and the ATS data endpoint. The key pair is made here and IoT Core signs a CSR whose subject CN is
 * the thing name (CreateCertificateFromCsr): the device policy's HTTPS statement allows
 * `devices/${iot:Certificate.Subject.CommonName}/telemetry`, and CreateKeysAndCertificate's
 * certificates all have the CN "AWS IoT Certificate". Every function takes the IoTClient, so tests
 * can hand in a mocked one (the IoT control plane has no local twin).
 */
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { certificateMatchesKey, createKeyAndCsr } from './certificate-request';

/** The IoT policy that serverless.yml deploys for the stage's devices. */
export const devicePolicyName = (stage: string): string => `telemetry-${stage}-device`;

export interface AwsDeviceIdentity {
  thingName: string;
  certificateArn: string;
  certificateId: string;
  certificatePem: string;
  privateKeyPem: string;
  /** The account's iot:Data-ATS endpoint host. */
  endpoint: string;
}

export interface AwsHooks {
  /** Progress lines (one per API call). */
  log?: (line: string) => void;
  /** Waits between DeleteThing attempts; tests pass one that returns at once. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ProvisionRequest extends AwsHooks {
  thingName: string;
  stage: string;
  /**
   * Saves the identity (the device folder). Runs before the call returns, so that a failure here
   * rolls everything back: the private key exists only in memory and would be lost.
   */
  persist?: (identity: AwsDeviceIdentity) => Promise<void> | void;
}

/**
 * DetachThingPrincipal takes a few seconds to propagate; until then DeleteThing answers
 * InvalidRequestException "…still attached to one or more principals".
 */
const DELETE_THING_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const silent = () => {};

interface Undo {
  description: string;
  run: () => Promise<unknown>;
}

/**
 * Creates the thing and its certificate. On any failure, whatever was created is removed again in
 * reverse order and the error says which step failed and what, if anything, is left over.
 */
export async function provisionAwsDevice(
  iot: IoTClient,
  request: ProvisionRequest,
): Promise<AwsDeviceIdentity> {
  const { thingName, stage } = request;
  const log = request.log ?? silent;
  const sleep = request.sleep ?? wait;
  const policyName = devicePolicyName(stage);

  const undo: Undo[] = [];
  let current = '';
  const step = <T>(name: string, run: () => Promise<T>): Promise<T> => {
    current = name;
    log(name);
    return run();
  };
  try {
    // Made before any call to AWS: a failure here leaves nothing to undo.
    const { privateKeyPem, csrPem } = await step(
      `generating an RSA key pair and a CSR with CN=${thingName}`,
      async () => createKeyAndCsr(thingName),
    );
    // CreateThing succeeds for an existing thing: look first, or a rollback would delete it.
    if (await step(`DescribeThing ${thingName}`, () => thingExists(iot, thingName))) {
      throw new Error(
        `the thing already exists; pass --force to re-issue it (its certificates are deleted)`,
      );
    }
    await step(`CreateThing ${thingName}`, () => iot.send(new CreateThingCommand({ thingName })));
    undo.push({
      description: `DeleteThing ${thingName}`,
      run: () => deleteThing(iot, thingName, sleep),
    });

    const { certificateArn, certificateId, certificatePem } = await step(
      'CreateCertificateFromCsr',
      () =>
        iot.send(
          new CreateCertificateFromCsrCommand({
            certificateSigningRequest: csrPem,
            setAsActive: true,
          }),
        ),
    );
    if (!certificateArn || !certificateId || !certificatePem) {
      throw new Error('CreateCertificateFromCsr returned no certificate');
    }
    undo.push({
      description: `UpdateCertificate INACTIVE and DeleteCertificate ${certificateId}`,
      run: () => retireCertificate(iot, certificateId),
    });
    if (!certificateMatchesKey(certificatePem, privateKeyPem)) {
      throw new Error('CreateCertificateFromCsr returned a certificate for another key');
    }

    await step(`AttachPolicy ${policyName}`, () =>
      iot.send(new AttachPolicyCommand({ policyName, target: certificateArn })),
    );
    undo.push({
      description: `DetachPolicy ${policyName}`,
      run: () => iot.send(new DetachPolicyCommand({ policyName, target: certificateArn })),
    });

    await step('AttachThingPrincipal', () =>
      iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn })),
    );
    undo.push({
      description: 'DetachThingPrincipal',
      run: () =>
        iot.send(new DetachThingPrincipalCommand({ thingName, principal: certificateArn })),
    });

    const { endpointAddress } = await step('DescribeEndpoint iot:Data-ATS', () =>
      iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })),
    );
    if (!endpointAddress) throw new Error('DescribeEndpoint returned no address');

    const identity: AwsDeviceIdentity = {
      thingName,
      certificateArn,
      certificateId,
      certificatePem,
      privateKeyPem,
      endpoint: endpointAddress,
    };
    if (request.persist) {
      const persist = request.persist;
      await step('saving the device folder', async () => persist(identity));
    }
    return identity;
  } catch (error) {
    throw new Error(
      `creating device "${thingName}" failed at ${current}: ${messageOf(error)}` +
        hintFor(error, current, stage) +
        (await rollBack(undo, log, thingName, stage)),
      { cause: error },
    );
  }
}

export interface DeprovisionResult {
  /** False when AWS IoT has no such thing (nothing was deleted). */
  thingFound: boolean;
  deletedCertificateIds: string[];
}

/**
 * Deletes the thing and every certificate attached to it: each principal is detached from the
 * thing, and a certificate also loses the device policy, is deactivated and deleted
 * (forceDelete false: AWS refuses if something else still uses it). Stops at the first failure.
 */
export async function deprovisionAwsDevice(
  iot: IoTClient,
  request: { thingName: string; stage: string } & AwsHooks,
): Promise<DeprovisionResult> {
  const { thingName } = request;
  const log = request.log ?? silent;
  const sleep = request.sleep ?? wait;
  const policyName = devicePolicyName(request.stage);
  const deletedCertificateIds: string[] = [];
  let current = `ListThingPrincipals ${thingName}`;
  try {
    log(current);
    let principals: string[];
    try {
      principals = await listThingPrincipals(iot, thingName);
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) {
        return { thingFound: false, deletedCertificateIds };
      }
      throw error;
    }
    for (const principal of principals) {
      current = `DetachThingPrincipal ${principal}`;
      log(current);
      await iot.send(new DetachThingPrincipalCommand({ thingName, principal }));
      const certificateId = certificateIdFromArn(principal);
      if (!certificateId) continue;
      current = `DetachPolicy ${policyName}`;
      log(current);
      await ignoreNotFound(iot.send(new DetachPolicyCommand({ policyName, target: principal })));
      current = `UpdateCertificate INACTIVE and DeleteCertificate ${certificateId}`;
      log(current);
      await retireCertificate(iot, certificateId);
      deletedCertificateIds.push(certificateId);
    }
    current = `DeleteThing ${thingName}`;
    log(current);
    await deleteThing(iot, thingName, sleep);
    return { thingFound: true, deletedCertificateIds };
  } catch (error) {
    throw new Error(`deleting device "${thingName}" failed at ${current}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

async function thingExists(iot: IoTClient, thingName: string): Promise<boolean> {
  try {
    await iot.send(new DescribeThingCommand({ thingName }));
    return true;
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return false;
    throw error;
  }
}

async function listThingPrincipals(iot: IoTClient, thingName: string): Promise<string[]> {
  const principals: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await iot.send(new ListThingPrincipalsCommand({ thingName, nextToken }));
    principals.push(...(page.principals ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return principals;
}

/** An active certificate cannot be deleted: deactivate it first. */
async function retireCertificate(iot: IoTClient, certificateId: string): Promise<void> {
  await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
  await iot.send(new DeleteCertificateCommand({ certificateId, forceDelete: false }));
}

async function deleteThing(
  iot: IoTClient,
  thingName: string,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  for (const delay of [...DELETE_THING_RETRY_DELAYS_MS, undefined]) {
    try {
      await iot.send(new DeleteThingCommand({ thingName }));
      return;
    } catch (error) {
      const stillAttached =
        isNamed(error, 'InvalidRequestException') && /principal/i.test(messageOf(error));
      if (!stillAttached || delay === undefined) throw error;
      await sleep(delay);
    }
  }
}

/** Undoes in reverse order, carrying on past failures; returns the sentence for the error. */
async function rollBack(
  undo: Undo[],
  log: (line: string) => void,
  thingName: string,
  stage: string,
): Promise<string> {
  if (undo.length === 0) return '\nNothing had been created in AWS IoT.';
  const failed: string[] = [];
  for (const { description, run } of [...undo].reverse()) {
    log(`rollback: ${description}`);
    try {
      await run();
    } catch (error) {
      failed.push(`${description} (${messageOf(error)})`);
    }
  }
  if (failed.length === 0) return '\nEverything created in AWS IoT was removed again.';
  return (
    `\nThe rollback could not: ${failed.join('; ')}.` +
    `\nRemove what is left with: npm run device:delete -- --thing ${thingName} --stage ${stage}`
  );
}

function hintFor(error: unknown, step: string, stage: string): string {
  if (step.startsWith('AttachPolicy') && isNamed(error, 'ResourceNotFoundException')) {
    return ` (the policy comes with the stage: deploy it first with npx sls deploy --stage ${stage})`;
  }
  return '';
}

async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!isNamed(error, 'ResourceNotFoundException')) throw error;
  }
}

/** arn:aws:iot:<region>:<account>:cert/<64 hex> → the certificate id. */
export function certificateIdFromArn(arn: string): string | undefined {
  return /:cert\/([0-9a-f]{64})$/.exec(arn)?.[1];
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
