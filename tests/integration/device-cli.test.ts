import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CertificateRegistry } from '../../local/iot/identity/index';
import { runDeviceCli } from './device-cli-runner';

let workDir: string;
let env: Record<string, string | undefined>;
let devicesDir: string;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'device-cli-'));
  devicesDir = path.join(workDir, 'devices');
  // Keep the CA out of the repository's .local-cloud, and the default ports.
  env = { LOCAL_CLOUD_DIR: path.join(workDir, 'cloud'), MQTT_PORT: '', HTTPS_PORT: '' };
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('device CLIs: arguments', () => {
  it.each([
    ['create', 'no --thing', []],
    ['create', 'an invalid thing name', ['--thing', 'not valid!']],
    ['create', 'an unknown option', ['--thing', 'a', '--colour', 'red']],
    ['create', 'a stray argument', ['--thing', 'a', 'extra']],
    ['create', '--stage with --local', ['--thing', 'a', '--stage', 'dev', '--local']],
    ['create', '--region without --stage', ['--thing', 'a', '--region', 'eu-west-1']],
    [
      'create',
      '--common-name with --stage',
      ['--thing', 'a', '--stage', 'dev', '--common-name', 'x'],
    ],
    ['create', 'a --common-name no topic can hold', ['--thing', 'a', '--common-name', 'a/+/#']],
    [
      'create',
      'a --common-name over 64 characters',
      ['--thing', 'a', '--common-name', 'x'.repeat(65)],
    ],
    ['delete', 'no --thing', ['--local']],
    ['delete', 'a missing value', ['--thing']],
  ] as ['create' | 'delete', string, string[]][])(
    '%s with %s: usage on stderr, exit code 2',
    async (script, _label, args) => {
      const run = await runDeviceCli(script, args, env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^error: .+\n\nUsage: npm run device:(create|delete) -- --thing NAME/,
      );
      expect(run.stdout).toBe('');
    },
  );

  it.each(['create', 'delete'] as const)(
    '%s --help: usage on stdout, exit code 0',
    async (script) => {
      const run = await runDeviceCli(script, ['--help'], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: npm run device:/);
      for (const option of ['--thing NAME', '--stage STAGE', '--local', '--region', '--out DIR']) {
        expect(run.stdout).toContain(option);
      }
      expect(run.stderr).toBe('');
    },
  );
});

describe('device CLIs: local mode', () => {
  const registry = () => CertificateRegistry.inRoot(path.join(workDir, 'cloud'));
  const folder = () => path.join(devicesDir, 'sensor-1');
  const readConfig = () => JSON.parse(fs.readFileSync(path.join(folder(), 'device.json'), 'utf8'));

  it('creates the device folder', async () => {
    const run = await runDeviceCli('create', ['--thing', 'sensor-1', '--out', devicesDir], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Created device "sensor-1" for the offline IoT Core');
    for (const file of ['certificate.pem.crt', 'private.pem.key', 'root-ca.pem', 'device.json']) {
      expect(run.stdout).toContain(file);
    }

    expect(fs.readdirSync(folder()).sort()).toEqual([
      'certificate.pem.crt',
      'device.json',
      'private.pem.key',
      'root-ca.pem',
    ]);
    expect(fs.statSync(path.join(folder(), 'private.pem.key')).mode & 0o777).toBe(0o600);
    const certificate = new X509Certificate(
      fs.readFileSync(path.join(folder(), 'certificate.pem.crt')),
    );
    expect(certificate.subject).toBe('CN=sensor-1');
    const rootCa = fs.readFileSync(path.join(folder(), 'root-ca.pem'), 'utf8');
    expect(rootCa).toBe(fs.readFileSync(path.join(workDir, 'cloud', 'ca', 'root-ca.pem'), 'utf8'));
    expect(readConfig()).toEqual({
      thingName: 'sensor-1',
      mode: 'local',
      endpoint: 'localhost',
      mqttPort: 8883,
      httpsPort: 8443,
      rootCa: 'root-ca.pem',
      certificateId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(run.stdout).toContain(readConfig().certificateId);
  });

  it('refuses to overwrite it without --force (exit 1), and re-issues with --force', async () => {
    const before = readConfig().certificateId;
    const refused = await runDeviceCli('create', ['--thing', 'sensor-1', '--out', devicesDir], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already exists; pass --force/);
    expect(readConfig().certificateId).toBe(before);

    const forced = await runDeviceCli(
      'create',
      ['--thing', 'sensor-1', '--out', devicesDir, '--force'],
      { ...env, MQTT_PORT: '18883', HTTPS_PORT: '18443' },
    );
    expect(forced.code).toBe(0);
    expect(readConfig()).toMatchObject({ mqttPort: 18883, httpsPort: 18443 });
    expect(readConfig().certificateId).not.toBe(before);
    // The earlier certificate is revoked in the local CA's registry, the new one active.
    expect(forced.stdout).toContain(`Revoked the earlier certificate ${before}\n`);
    expect(registry().get(before)?.status).toBe('REVOKED');
    expect(registry().get(readConfig().certificateId)).toMatchObject({
      status: 'ACTIVE',
      thingName: 'sensor-1',
    });
  });

  it('issues a certificate with another subject CN, attached to the thing', async () => {
    const run = await runDeviceCli(
      'create',
      ['--thing', 'sensor-7', '--out', devicesDir, '--common-name', 'AWS IoT Certificate'],
      env,
    );
    expect(run.code).toBe(0);
    const folder7 = path.join(devicesDir, 'sensor-7');
    const certificate = new X509Certificate(
      fs.readFileSync(path.join(folder7, 'certificate.pem.crt')),
    );
    expect(certificate.subject).toBe('CN=AWS IoT Certificate');
    const { certificateId } = JSON.parse(
      fs.readFileSync(path.join(folder7, 'device.json'), 'utf8'),
    );
    expect(registry().get(certificateId)).toMatchObject({
      thingName: 'sensor-7',
      commonName: 'AWS IoT Certificate',
      status: 'ACTIVE',
    });
  });

  it('fails with exit 1 on a bad port variable, writing nothing', async () => {
    const run = await runDeviceCli('create', ['--thing', 'sensor-2', '--out', devicesDir], {
      ...env,
      MQTT_PORT: 'eighty',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: MQTT_PORT must be a port number (1-65535), got "eighty"\n');
    expect(fs.existsSync(path.join(devicesDir, 'sensor-2'))).toBe(false);
  });

  it('deletes it, revoking its certificate, and says so when there is nothing to delete', async () => {
    const { certificateId } = readConfig();
    const run = await runDeviceCli('delete', ['--thing', 'sensor-1', '--out', devicesDir], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `Deleted device "sensor-1": revoked certificate ${certificateId}; removed ${folder()}\n`,
    );
    expect(fs.existsSync(folder())).toBe(false);
    expect(registry().get(certificateId)?.status).toBe('REVOKED');

    const again = await runDeviceCli('delete', ['--thing', 'sensor-1', '--out', devicesDir], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/there is no device "sensor-1"/);
  });
});
