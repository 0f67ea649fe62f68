import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CertificateRegistry,
  certificateIdOf,
  ensureLocalCa,
} from '../../local/iot/identity/index';
import { repositoryRoot } from './device-cli-runner';

let rootDir: string;

beforeAll(() => {
  rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-race-'));
});

afterAll(() => {
  fs.rmSync(rootDir, { recursive: true, force: true });
});

/** A separate process that ensures the CA under rootDir and prints its certificate id. */
function caIdFromAnotherProcess(): Promise<string> {
  return inAnotherProcess([
    "import { certificateIdOf, ensureLocalCa } from './local/iot/identity/index.ts';",
    `process.stdout.write(certificateIdOf(ensureLocalCa(${JSON.stringify(rootDir)}).certificatePem));`,
  ]);
}

/** Runs the module source in a separate Node process; resolves with its stdout. */
function inAnotherProcess(lines: string[]): Promise<string> {
  const script = lines.join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: repositoryRoot,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

describe('ensureLocalCa across processes', () => {
  it('gives processes that start together one and the same CA', async () => {
    const ids = await Promise.all([1, 2, 3, 4].map(() => caIdFromAnotherProcess()));
    const onDisk = certificateIdOf(ensureLocalCa(rootDir).certificatePem);
    expect(ids).toEqual([onDisk, onDisk, onDisk, onDisk]);
    // The losers' staging directories are gone.
    expect(fs.readdirSync(rootDir)).toEqual(['ca']);
  });
});

describe('the certificate registry across processes', () => {
  const IDENTITY = "import * as identity from './local/iot/identity/index.ts';";

  it('loses no certificate that processes issue at once, and no revocation', async () => {
    const root = path.join(rootDir, 'registry-race');
    ensureLocalCa(root);
    const issue = () =>
      inAnotherProcess([
        IDENTITY,
        `const ca = identity.ensureLocalCa(${JSON.stringify(root)});`,
        "const ids = [1, 2, 3].map(() => identity.issueDeviceCertificate(ca, 'racer').certificateId);",
        "process.stdout.write(ids.join(','));",
      ]).then((out) => out.split(','));
    const issued = (await Promise.all([1, 2, 3, 4].map(issue))).flat();
    expect(new Set(issued).size).toBe(12);

    const registry = CertificateRegistry.inRoot(root);
    expect(
      registry
        .attachedTo('racer')
        .map(({ certificateId }) => certificateId)
        .sort(),
    ).toEqual([...issued].sort());

    const revoke = () =>
      inAnotherProcess([
        IDENTITY,
        `const registry = identity.CertificateRegistry.inRoot(${JSON.stringify(root)});`,
        "process.stdout.write(registry.revokeAttachedTo('racer').join(','));",
      ]);
    await Promise.all([1, 2, 3, 4].map(revoke));
    expect(registry.attachedTo('racer').map(({ status }) => status)).toEqual(
      Array(12).fill('REVOKED'),
    );
    // Only whole records and markers: no staging file of any process is left behind.
    expect(fs.readdirSync(registry.dir).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(fs.readdirSync(registry.dir)).toHaveLength(24);
  }, 60_000);
});
