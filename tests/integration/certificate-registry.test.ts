/**
 * The offline IoT Core's certificate registry, end to end: devices made by the real CLIs, the
 * offline IoT Core (startOfflineIotCore, with the project's device policy and a topic rule whose
 * Lambda endpoint is a real HTTP server here), mqtt.js, mosquitto_pub and curl.
 *
 * What AWS does, and so what is asserted:
 * - "AWS IoT API Reference: UpdateCertificate": certificates must be ACTIVE to authenticate;
 *   within a few minutes of leaving ACTIVE, AWS IoT disconnects the devices that use it, and they
 *   cannot reconnect with it. Devices see the refusal during the TLS handshake (alert
 *   certificate_unknown), never a CONNACK or an HTTP status. `device:create --force` and
 *   `device:delete` delete the old certificates on AWS; offline they are revoked.
 * - "AWS IoT Core: Thing policy variables": over MQTT, `${iot:Connection.Thing.ThingName}` is the
 *   thing attached to the certificate (the client id must be that thing), whatever the
 *   certificate's CN. Over HTTPS there is no thing: the policy's
 *   `devices/${iot:Certificate.Subject.CommonName}/telemetry` is all that allows a publish.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startOfflineIotCore, type OfflineIotCore } from '../../local/iot/core';
import { CertificateRegistry, issueDeviceCertificate } from '../../local/iot/identity';
import { ensureLocalCa } from '../../local/iot/identity';
import { loadDevicePolicy } from '../../local/iot/policy';
import { compileRule } from '../../local/iot/rules/sql';
import { missingTools } from '../support/tools';
import { connectDevice, httpsPublish, type DeviceCredentials } from '../support/devices';
import { freePorts } from '../support/ports';
import { runDeviceCli } from './device-cli-runner';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

let stateDir: string;
let devicesDir: string;
let iot: OfflineIotCore;
let ports: { mqtt: number; https: number; dataPlane: number; plainMqtt: number };
let lambda: http.Server;
/** Every message the topic rule handed to the "Lambda". */
const invocations: Record<string, unknown>[] = [];
/** Every message a subscriber to '#' received (over the trusted plain listener). */
const received: { topic: string; payload: string }[] = [];
let watcher: MqttClient;
const refusals: string[] = [];

/** The project's device policy (resources/device-policy.yml), as CloudFormation receives it. */
function projectPolicy() {
  const yaml = readFileSync(new URL('../../resources/device-policy.yml', import.meta.url), 'utf8');
  const pattern = /- Effect: (Allow|Deny)\n\s+Action: (\S+)\n\s+Resource: !Sub '([^']*)'/g;
  const statements = [...yaml.matchAll(pattern)].map(([, effect, action, resource]) => ({
    Effect: effect,
    Action: action,
    Resource: { 'Fn::Sub': resource },
  }));
  expect(statements.length).toBe(yaml.match(/- Effect:/g)?.length);
  return loadDevicePolicy(
    {
      DevicePolicy: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyName: 'telemetry-test-device',
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      },
    },
    { partition: 'aws', region: REGION, accountId: ACCOUNT },
  );
}

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'certificate-registry-'));
  devicesDir = path.join(stateDir, 'devices');
  const [mqttPort, httpsPort, dataPlane, plainMqtt] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  ports = { mqtt: mqttPort, https: httpsPort, dataPlane, plainMqtt };

  lambda = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      invocations.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      response.writeHead(200, { 'content-type': 'application/json' }).end('null');
    });
  });
  await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));

  iot = await startOfflineIotCore({
    host: 'localhost',
    mqttPort,
    httpsPort,
    dataPlanePort: dataPlane,
    plainMqttPort: plainMqtt,
    stateDir,
    rules: [
      {
        name: 'TelemetryRule',
        functionName: 'telemetry-test-forwardTelemetry',
        compiled: compileRule("SELECT * FROM 'devices/+/telemetry'"),
      },
    ],
    policies: projectPolicy(),
    region: REGION,
    lambdaEndpoint: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
    onCertificateRefused: (reason) => refusals.push(reason),
  });

  watcher = await mqtt.connectAsync(`mqtt://localhost:${plainMqtt}`, {
    clientId: 'test-watcher',
    reconnectPeriod: 0,
  });
  watcher.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  await watcher.subscribeAsync('#', { qos: 1 });
}, 60_000);

afterAll(async () => {
  await watcher?.endAsync();
  await iot?.stop();
  await new Promise((resolve) => lambda?.close(resolve));
  await fs.rm(stateDir, { recursive: true, force: true });
}, 30_000);

const cliEnv = () => ({
  LOCAL_CLOUD_DIR: stateDir,
  MQTT_PORT: String(ports.mqtt),
  HTTPS_PORT: String(ports.https),
});

async function createDevice(thingName: string, ...extra: string[]): Promise<string> {
  const run = await runDeviceCli(
    'create',
    ['--thing', thingName, '--out', devicesDir, ...extra],
    cliEnv(),
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return run.stdout;
}

/** The device's folder as it is now: its credentials, and the files on disk for the CLIs. */
async function snapshot(thingName: string, copyTo?: string): Promise<DeviceFiles> {
  const folder = path.join(devicesDir, thingName);
  const target = copyTo ?? folder;
  if (copyTo) await fs.cp(folder, copyTo, { recursive: true });
  const read = (name: string) => readFileSync(path.join(target, name), 'utf8');
  const config = JSON.parse(read('device.json')) as { certificateId: string };
  return {
    thingName,
    certificateId: config.certificateId,
    ca: read('root-ca.pem'),
    cert: read('certificate.pem.crt'),
    key: read('private.pem.key'),
    files: {
      ca: path.join(target, 'root-ca.pem'),
      cert: path.join(target, 'certificate.pem.crt'),
      key: path.join(target, 'private.pem.key'),
    },
  };
}

interface DeviceFiles extends DeviceCredentials {
  certificateId: string;
  files: { ca: string; cert: string; key: string };
}

type Outcome = { code: number; stdout: string; stderr: string };

function run(command: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const mosquittoPub = (device: DeviceFiles, payload: string) =>
  run('mosquitto_pub', [
    '--cafile',
    device.files.ca,
    '--cert',
    device.files.cert,
    '--key',
    device.files.key,
    '-h',
    'localhost',
    '-p',
    String(ports.mqtt),
    '-i',
    device.thingName,
    '-q',
    '1',
    '-t',
    `devices/${device.thingName}/telemetry`,
    '-m',
    payload,
  ]);

const curlPublish = (device: DeviceFiles, topic: string, payload: string) =>
  run('curl', [
    '--silent',
    '--show-error',
    '--write-out',
    '\n%{http_code}',
    '--cert',
    device.files.cert,
    '--key',
    device.files.key,
    '--cacert',
    device.files.ca,
    '-X',
    'POST',
    '--data',
    payload,
    `https://localhost:${ports.https}/topics/${encodeURIComponent(topic).replace(/%2F/g, '/')}?qos=1`,
  ]);

const marker = (value: string) => JSON.stringify({ marker: value });
const seenByWatcher = (value: string) => received.some((m) => m.payload === marker(value));
const seenByRule = (value: string) => invocations.some((event) => event.marker === value);

/** Waits until the condition holds (messages travel asynchronously); fails after `ms`. */
async function eventually(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Publishes `sentinel` with a working certificate and waits until both the subscriber and the rule
 * have it: anything published before it by a refused device would have arrived by then.
 */
async function flushWith(device: DeviceFiles, sentinel: string): Promise<void> {
  const client = await connectDevice(ports.mqtt, device);
  await client.publishAsync(`devices/${device.thingName}/telemetry`, marker(sentinel), { qos: 1 });
  await client.endAsync();
  await eventually(() => seenByWatcher(sentinel) && seenByRule(sentinel), sentinel);
}

/** mqtt.js, mosquitto_pub and curl with a certificate that IoT Core must refuse at TLS. */
async function expectRefusedEverywhere(device: DeviceFiles, label: string): Promise<void> {
  const refusedBefore = refusals.length;

  // mqtt.js: the connection ends before any CONNACK.
  await expect(connectDevice(ports.mqtt, device)).rejects.toThrow(
    /connection closed before CONNACK|ECONNRESET|socket hang up|disconnected/i,
  );

  // mosquitto_pub: fails, the connection lost before CONNACK (AWS: TLS alert certificate_unknown;
  // Node's TLS server cannot send that alert, so it closes the connection at the same step).
  const pub = await mosquittoPub(device, marker(`${label}-mosquitto`));
  expect(pub.code).not.toBe(0);
  expect(pub.stderr).toMatch(/The connection was lost|certificate/i);

  // curl: no HTTP answer at all (status 000), not a 403 (the TLS step refused it).
  const post = await curlPublish(
    device,
    `devices/${device.thingName}/telemetry`,
    marker(`${label}-curl`),
  );
  expect(post.code).not.toBe(0);
  // The server ends the TLS connection: depending on timing curl sees an empty reply or a reset.
  expect(post.stderr).toMatch(/Empty reply from server|certificate|Connection reset by peer/i);
  expect(post.stdout.trim().split('\n').at(-1)).toBe('000');

  // And from Node's https: no status either.
  await expect(
    httpsPublish(
      ports.https,
      `/topics/devices/${device.thingName}/telemetry?qos=1`,
      marker(`${label}-https`),
      device,
    ),
  ).rejects.toThrow(/socket hang up|ECONNRESET/);

  // Each refusal says why (certificate id and status), once per attempt.
  expect(refusals.length - refusedBefore).toBeGreaterThanOrEqual(4);
  expect(
    refusals.slice(refusedBefore).every((reason) => reason.includes(device.certificateId)),
  ).toBe(true);
}

const hasTools = missingTools(['mosquitto_pub', 'curl']).length === 0;
const withTools = hasTools || process.env.CI ? describe : describe.skip;

withTools(
  'certificates that are gone stay gone (UpdateCertificate: only ACTIVE authenticates)',
  () => {
    it('device:create --force revokes the earlier certificate: refused on MQTT and HTTPS, nothing forwarded', async () => {
      await createDevice('sensor-1');
      const old = await snapshot('sensor-1', path.join(stateDir, 'old-sensor-1'));
      // The old certificate works until it is re-issued: the assertions below can fail.
      await flushWith(old, 'old-before-force');
      const viaCurl = await curlPublish(old, 'devices/sensor-1/telemetry', marker('old-curl-ok'));
      expect(viaCurl.stdout.trim().split('\n').at(-1)).toBe('200');

      const forced = await createDevice('sensor-1', '--force');
      expect(forced).toContain(`Revoked the earlier certificate ${old.certificateId}`);
      const registry = CertificateRegistry.inRoot(stateDir);
      expect(registry.get(old.certificateId)?.status).toBe('REVOKED');

      await expectRefusedEverywhere(old, 'forced');

      const current = await snapshot('sensor-1');
      expect(current.certificateId).not.toBe(old.certificateId);
      expect(registry.get(current.certificateId)).toMatchObject({
        status: 'ACTIVE',
        thingName: 'sensor-1',
        commonName: 'sensor-1',
      });
      const ok = await curlPublish(current, 'devices/sensor-1/telemetry', marker('new-curl-ok'));
      expect(ok.stdout.trim().split('\n').at(-1)).toBe('200');
      await flushWith(current, 'after-force');
      for (const attempt of ['forced-mosquitto', 'forced-curl', 'forced-https']) {
        expect(seenByWatcher(attempt)).toBe(false);
        expect(seenByRule(attempt)).toBe(false);
      }
    }, 60_000);

    it('device:delete revokes every certificate of the thing and closes its live connections', async () => {
      await createDevice('sensor-2');
      const device = await snapshot('sensor-2', path.join(stateDir, 'deleted-sensor-2'));
      const live = await connectDevice(ports.mqtt, device);
      await live.publishAsync('devices/sensor-2/telemetry', marker('live-before-delete'), {
        qos: 1,
      });
      await eventually(() => seenByRule('live-before-delete'), 'the live device’s reading');
      let closed = false;
      live.once('close', () => (closed = true));

      const deleted = await runDeviceCli(
        'delete',
        ['--thing', 'sensor-2', '--out', devicesDir],
        cliEnv(),
      );
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toBe(
        `Deleted device "sensor-2": revoked certificate ${device.certificateId}; ` +
          `removed ${path.join(devicesDir, 'sensor-2')}\n`,
      );

      // IoT Core disconnects devices whose certificate leaves ACTIVE ("within a few minutes").
      await eventually(() => closed, 'the revoked device’s connection to be closed');
      live.end(true);
      await expectRefusedEverywhere(device, 'deleted');

      const other = await createDevice('sensor-3').then(() => snapshot('sensor-3'));
      await flushWith(other, 'after-delete');
      for (const attempt of ['deleted-mosquitto', 'deleted-curl', 'deleted-https']) {
        expect(seenByWatcher(attempt)).toBe(false);
        expect(seenByRule(attempt)).toBe(false);
      }
      expect(refusals).toContainEqual(
        `certificate ${device.certificateId} of "sensor-2" is REVOKED: its connection is closed`,
      );
    }, 60_000);

    it('an INACTIVE certificate is refused until it is ACTIVE again; a revoked one stays revoked', async () => {
      await createDevice('sensor-4');
      const device = await snapshot('sensor-4');
      const registry = CertificateRegistry.inRoot(stateDir);

      registry.setStatus(device.certificateId, 'INACTIVE');
      expect(registry.get(device.certificateId)?.status).toBe('INACTIVE');
      await expect(connectDevice(ports.mqtt, device)).rejects.toThrow();
      expect(refusals.at(-1)).toBe(`certificate ${device.certificateId} of "sensor-4" is INACTIVE`);

      registry.setStatus(device.certificateId, 'ACTIVE');
      const client = await connectDevice(ports.mqtt, device);
      await client.endAsync();

      registry.setStatus(device.certificateId, 'REVOKED');
      expect(() => registry.setStatus(device.certificateId, 'ACTIVE')).toThrow(/revoked/);
      await expect(connectDevice(ports.mqtt, device)).rejects.toThrow();
    }, 30_000);

    it('a certificate of the local CA that the registry does not know is refused', async () => {
      const ca = ensureLocalCa(stateDir);
      const issued = issueDeviceCertificate(ca, 'sensor-5');
      const registry = CertificateRegistry.inRoot(stateDir);
      // As if issued by hand with the CA key, or before the registry existed.
      await fs.rm(path.join(registry.dir, `${issued.certificateId}.json`));
      expect(registry.get(issued.certificateId)).toBeUndefined();
      await expect(
        connectDevice(ports.mqtt, {
          thingName: 'sensor-5',
          ca: ca.certificatePem,
          cert: issued.certificatePem,
          key: issued.privateKeyPem,
        }),
      ).rejects.toThrow();
      expect(refusals.at(-1)).toBe(
        `certificate ${issued.certificateId} is not in the registry of the local CA`,
      );
    });
  },
);

describe('a certificate whose CN is not its thing name (as CreateKeysAndCertificate issues)', () => {
  let device: DeviceFiles;
  beforeAll(async () => {
    await createDevice('sensor-9', '--common-name', 'AWS IoT Certificate');
    device = await snapshot('sensor-9');
  }, 30_000);

  it('is attached to the thing in the registry, with its own CN', () => {
    expect(CertificateRegistry.inRoot(stateDir).get(device.certificateId)).toMatchObject({
      thingName: 'sensor-9',
      commonName: 'AWS IoT Certificate',
      status: 'ACTIVE',
    });
  });

  it('MQTT: connects as the attached thing and publishes on its topic', async () => {
    const client = await connectDevice(ports.mqtt, device);
    await client.publishAsync('devices/sensor-9/telemetry', marker('cn-mqtt'), { qos: 1 });
    await client.endAsync();
    await eventually(() => seenByRule('cn-mqtt') && seenByWatcher('cn-mqtt'), 'cn-mqtt');
  });

  it('MQTT: the CN is no client id (no thing of that name is attached)', async () => {
    await expect(
      connectDevice(ports.mqtt, { ...device, thingName: 'AWS IoT Certificate' }),
    ).rejects.toThrow(/Not authorized/i);
  });

  it('HTTPS: publishing to devices/<thing>/telemetry is refused with 403, and not forwarded', async () => {
    const answer = await httpsPublish(
      ports.https,
      '/topics/devices/sensor-9/telemetry?qos=1',
      marker('cn-https-thing'),
      device,
    );
    expect(answer.status).toBe(403);
    const post = await curlPublish(device, 'devices/sensor-9/telemetry', marker('cn-curl-thing'));
    expect(post.stdout.trim().split('\n').at(-1)).toBe('403');

    // What the policy allows instead: the topic named after the CN, as on AWS.
    const cnTopic = await curlPublish(
      device,
      'devices/AWS IoT Certificate/telemetry',
      marker('cn-curl-cn-topic'),
    );
    expect(cnTopic.stdout.trim().split('\n').at(-1)).toBe('200');
    await eventually(() => seenByWatcher('cn-curl-cn-topic'), 'the CN topic’s message');
    expect(seenByWatcher('cn-https-thing') || seenByWatcher('cn-curl-thing')).toBe(false);
    expect(seenByRule('cn-https-thing') || seenByRule('cn-curl-thing')).toBe(false);
  });

  it('HTTPS: a device whose CN is its thing name publishes there (200)', async () => {
    await createDevice('sensor-10');
    const normal = await snapshot('sensor-10');
    const answer = await httpsPublish(
      ports.https,
      '/topics/devices/sensor-10/telemetry?qos=1',
      marker('cn-normal'),
      normal,
    );
    expect(answer.status).toBe(200);
    await eventually(() => seenByRule('cn-normal'), 'cn-normal');
  }, 30_000);
});
