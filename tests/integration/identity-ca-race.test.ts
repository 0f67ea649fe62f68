import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateIdOf, ensureLocalCa } from '../../local/iot/identity/index';
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
  const script = [
    "import { certificateIdOf, ensureLocalCa } from './local/iot/identity/index.ts';",
    `process.stdout.write(certificateIdOf(ensureLocalCa(${JSON.stringify(rootDir)}).certificatePem));`,
  ].join('\n');
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
