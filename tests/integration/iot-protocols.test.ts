/**
 * The offline IoT Core speaks what IoT Core speaks (issue 18), exercised with clients nobody here
 * wrote: mosquitto_pub/sub in MQTT 5 mode, mosquitto over ALPN, Node's HTTPS client with ALPN,
 * mqtt.js over a SigV4-signed WebSocket. For each protocol a refused publish is never forwarded.
 *
 * AWS documents what is mirrored: AWS IoT Core Developer Guide, "MQTT" → "MQTT 5 supported
 * features", "MQTT 5 properties", "MQTT reason codes"; "Device communication protocols" →
 * "Protocols, port mappings, and authentication" (port 443 with ALPN x-amzn-mqtt-ca /
 * x-amzn-http-ca); "MQTT over WebSocket protocol" (SigV4, service iotdevicegateway); AWS General
 * Reference, "AWS IoT Core message broker and protocol limits and quotas".
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { SignatureV4 } from '@smithy/signature-v4';
import { startOfflineIotCore, type OfflineIotCore } from '../../local/iot/core';
import type { MessageProperties } from '../../local/iot/broker/mqtt5';
import { compileRule } from '../../local/iot/rules/sql';
import { OFFLINE_CREDENTIALS } from '../../local/offline-credentials';
import { connectDevice, deviceCredentials, type DeviceCredentials } from '../support/devices';
import { REPO_ROOT } from '../support/offline-stack';

const run = promisify(execFile);
const REGION = 'us-east-1';
const ARN = `arn:aws:iot:${REGION}:000000000000`;

let dir: string;
let core: OfflineIotCore;
let lambda: http.Server;
let lambdaPort: number;
let sensor: DeviceCredentials;
let files: { ca: string; cert: string; key: string };
/** Every message the rules engine took, with its MQTT 5 properties. */
const accepted: { topic: string; payload: string; properties?: MessageProperties }[] = [];
/** Every event the topic rule's Lambda action delivered. */
const invoked: Record<string, unknown>[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iot-protocols-'));
  lambda = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      invoked.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      response.end('null');
    });
  });
  lambdaPort = await new Promise<number>((resolve) =>
    lambda.listen(0, '127.0.0.1', () => resolve((lambda.address() as { port: number }).port)),
  );
  core = await startOfflineIotCore({
    host: 'localhost',
    mqttPort: 0,
    httpsPort: 0,
    dataPlanePort: 0,
    alpnPort: 0,
    stateDir: dir,
    region: REGION,
    lambdaEndpoint: `http://127.0.0.1:${lambdaPort}`,
    rules: [
      {
        name: 'Telemetry',
        functionName: 'forwardTelemetry',
        compiled: compileRule("SELECT * FROM 'devices/+/telemetry'"),
      },
    ],
    // The device policy of resources/device-policy.yml, in short.
    policies: [
      {
        name: 'DevicePolicy',
        document: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'iot:Connect',
              Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}`,
            },
            {
              Effect: 'Allow',
              Action: 'iot:Publish',
              Resource: `${ARN}:topic/devices/\${iot:Connection.Thing.ThingName}/telemetry`,
            },
            {
              Effect: 'Allow',
              Action: 'iot:Publish',
              Resource: `${ARN}:topic/devices/\${iot:Certificate.Subject.CommonName}/telemetry`,
            },
          ],
        },
      },
    ],
    onWarning: () => undefined,
  });
  // A spy that calls through: what the rules engine was handed, properties included.
  const accept = core.rules.accept.bind(core.rules);
  core.rules.accept = (message) => {
    const withProperties = message as typeof message & { properties?: MessageProperties };
    accepted.push({
      topic: message.topic,
      payload: message.payload.toString('utf8'),
      properties: withProperties.properties,
    });
    return accept(message);
  };
  sensor = deviceCredentials(dir, 'sensor-9');
  files = {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'sensor.pem'),
    key: path.join(dir, 'sensor.key'),
  };
  await writeFile(files.ca, sensor.ca);
  await writeFile(files.cert, sensor.cert);
  await writeFile(files.key, sensor.key);
}, 60_000);

afterAll(async () => {
  await core?.stop();
  await new Promise((resolve) => lambda?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once `predicate` holds (polled; every wait has the test's timeout as its bound). */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 20));
}
const acceptedWith = (marker: string) => accepted.find((m) => m.payload.includes(marker));
const invokedWith = (marker: string) => invoked.find((event) => event.marker === marker);
/**
 * A refused publish must never reach the rules or the Lambda. Proved against a later message of
 * the same client that is let through: the rules engine keeps each client's order, so once the
 * later one arrived the refused one would have too.
 */
function neverForwarded(marker: string): void {
  expect(acceptedWith(marker)).toBeUndefined();
  expect(invokedWith(marker)).toBeUndefined();
}

const mosquitto = (tool: 'mosquitto_pub' | 'mosquitto_sub', port: number, args: string[]) =>
  run(
    tool,
    [
      '-h',
      'localhost',
      '-p',
      String(port),
      '--cafile',
      files.ca,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '-i',
      'sensor-9',
      ...args,
    ],
    { timeout: 15_000 },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );

describe('MQTT 5 on 8883 (mosquitto_pub -V mqttv5)', () => {
  it('a publish with user properties and content type reaches the rules with them, and the Lambda', async () => {
    const result = await mosquitto('mosquitto_pub', core.mqtt.port, [
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'devices/sensor-9/telemetry',
      '-m',
      JSON.stringify({ marker: 'v5-ok', temperature: 20 }),
      '-D',
      'publish',
      'user-property',
      'firmware',
      '1.2.3',
      '-D',
      'publish',
      'content-type',
      'application/json',
      '-D',
      'publish',
      'response-topic',
      'devices/sensor-9/replies',
      '-D',
      'publish',
      'correlation-data',
      'req-42',
    ]);
    expect(result).toMatchObject({ code: 0 });
    // The PUBACK came only once the rules engine had the message.
    expect(acceptedWith('v5-ok')?.properties).toEqual({
      userProperties: { firmware: '1.2.3' },
      contentType: 'application/json',
      responseTopic: 'devices/sensor-9/replies',
      correlationData: Buffer.from('req-42'),
    });
    await until(() => invokedWith('v5-ok') !== undefined);
    expect(invokedWith('v5-ok')).toEqual({ marker: 'v5-ok', temperature: 20 });
  });

  it('a publish the policy refuses gets PUBACK 0x87 (Not authorized) and is never forwarded', async () => {
    const refused = await mosquitto('mosquitto_pub', core.mqtt.port, [
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'devices/someone-else/telemetry',
      '-m',
      JSON.stringify({ marker: 'v5-refused' }),
    ]);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/not authori[sz]ed/i);
    const later = await mosquitto('mosquitto_pub', core.mqtt.port, [
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'devices/sensor-9/telemetry',
      '-m',
      JSON.stringify({ marker: 'v5-after-refusal' }),
    ]);
    expect(later.code).toBe(0);
    await until(() => invokedWith('v5-after-refusal') !== undefined);
    neverForwarded('v5-refused');
  });

  it('a client id other than the thing is refused with CONNACK 0x87 (Not authorized), not a bare close', async () => {
    const refused = await connectDevice(
      core.mqtt.port,
      { ...sensor, thingName: 'not-sensor-9' },
      { protocolVersion: 5 },
    ).then(
      () => undefined,
      (error: { code?: number }) => error.code,
    );
    expect(refused).toBe(0x87);
  });

  it('QoS 2 is answered with DISCONNECT 0x9B (QoS not supported), never forwarded', async () => {
    const device = await connectDevice(core.mqtt.port, sensor, { protocolVersion: 5 });
    const disconnected = new Promise<number | undefined>((resolve) =>
      device.once('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    device.publish('devices/sensor-9/telemetry', JSON.stringify({ marker: 'v5-qos2' }), {
      qos: 2,
    });
    await expect(disconnected).resolves.toBe(0x9b);
    device.end(true);
    neverForwarded('v5-qos2');
  });

  it('the CONNACK carries IoT Core’s limits; a longer session expiry is cut to 1 hour', async () => {
    const device = mqtt.connect(`mqtts://localhost:${core.mqtt.port}`, {
      ...sensor,
      clientId: 'sensor-9',
      protocolVersion: 5,
      reconnectPeriod: 0,
      clean: false,
      properties: { sessionExpiryInterval: 7 * 24 * 3600 },
    });
    const connack = await new Promise<{ properties?: Record<string, unknown> }>(
      (resolve, reject) => {
        device.once('connect', resolve);
        device.once('error', reject);
      },
    );
    expect(connack.properties).toMatchObject({
      topicAliasMaximum: 8,
      receiveMaximum: 100,
      maximumPacketSize: 146 * 1024,
      sessionExpiryInterval: 3600,
    });
    await device.endAsync();
  });

  it('topic aliases up to 8 work: a publish named only by its alias reaches the rules under its topic', async () => {
    const device = await connectDevice(core.mqtt.port, sensor, { protocolVersion: 5 });
    await device.publishAsync(
      'devices/sensor-9/telemetry',
      JSON.stringify({ marker: 'alias-set' }),
      {
        qos: 1,
        properties: { topicAlias: 8 },
      },
    );
    // The alias alone names the topic now.
    await device.publishAsync('', JSON.stringify({ marker: 'alias-used' }), {
      qos: 1,
      properties: { topicAlias: 8 },
    });
    expect(acceptedWith('alias-used')?.topic).toBe('devices/sensor-9/telemetry');
    await device.endAsync();
  });
});

describe('port 443 with ALPN', () => {
  it('x-amzn-mqtt-ca: mosquitto_pub (MQTT 5) publishes with its client certificate', async () => {
    const alpnPort = core.alpn!.port;
    const result = await mosquitto('mosquitto_pub', alpnPort, [
      '--tls-alpn',
      'x-amzn-mqtt-ca',
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'devices/sensor-9/telemetry',
      '-m',
      JSON.stringify({ marker: 'alpn-mqtt' }),
    ]);
    expect(result.code).toBe(0);
    await until(() => invokedWith('alpn-mqtt') !== undefined);
  });

  it('x-amzn-mqtt-ca: MQTT 3.1.1 publishing where the policy refuses is disconnected, never forwarded', async () => {
    const alpnPort = core.alpn!.port;
    const refused = await mosquitto('mosquitto_pub', alpnPort, [
      '--tls-alpn',
      'x-amzn-mqtt-ca',
      '-V',
      'mqttv311',
      '-q',
      '1',
      '-t',
      'devices/someone-else/telemetry',
      '-m',
      JSON.stringify({ marker: 'alpn-mqtt-refused' }),
    ]);
    expect(refused.code).not.toBe(0);
    const later = await mosquitto('mosquitto_pub', alpnPort, [
      '--tls-alpn',
      'x-amzn-mqtt-ca',
      '-q',
      '1',
      '-t',
      'devices/sensor-9/telemetry',
      '-m',
      JSON.stringify({ marker: 'alpn-mqtt-later' }),
    ]);
    expect(later.code).toBe(0);
    await until(() => invokedWith('alpn-mqtt-later') !== undefined);
    neverForwarded('alpn-mqtt-refused');
  });

  it('x-amzn-mqtt-ca without a client certificate never gets a CONNACK', async () => {
    const result = await run(
      'mosquitto_pub',
      ['-h', 'localhost', '-p', String(core.alpn!.port), '--cafile', files.ca, '--tls-alpn'],
      { timeout: 15_000 },
    ).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1,
    );
    expect(result).not.toBe(0);
  });

  const alpnPost = (topic: string, body: string, withCertificate = true) =>
    new Promise<{ status: number; protocol: string | false | null }>((resolve, reject) => {
      // Node's HTTPS client passes TLS options through to tls.connect, ALPN included.
      const options: https.RequestOptions & { ALPNProtocols: string[] } = {
        host: 'localhost',
        port: core.alpn!.port,
        path: `/topics/${encodeURIComponent(topic)}?qos=1`,
        method: 'POST',
        ca: sensor.ca,
        ...(withCertificate ? { cert: sensor.cert, key: sensor.key } : {}),
        ALPNProtocols: ['x-amzn-http-ca'],
        agent: false,
      };
      const request = https.request(options, (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            protocol: (response.socket as TLSSocket).alpnProtocol ?? false,
          }),
        );
      });
      request.on('error', reject);
      request.end(body);
    });

  it('x-amzn-http-ca: the HTTPS publish answers 200 and the message arrives', async () => {
    const answer = await alpnPost(
      'devices/sensor-9/telemetry',
      JSON.stringify({ marker: 'alpn-https' }),
    );
    expect(answer).toEqual({ status: 200, protocol: 'x-amzn-http-ca' });
    await until(() => invokedWith('alpn-https') !== undefined);
  });

  it('x-amzn-http-ca: a topic the policy refuses, or no certificate, answers 403 and is never forwarded', async () => {
    const refused = await alpnPost(
      'devices/someone-else/telemetry',
      JSON.stringify({ marker: 'alpn-https-refused' }),
    );
    expect(refused.status).toBe(403);
    const stranger = await alpnPost(
      'devices/sensor-9/telemetry',
      JSON.stringify({ marker: 'alpn-https-stranger' }),
      false,
    );
    expect(stranger.status).toBe(403);
    const later = await alpnPost(
      'devices/sensor-9/telemetry',
      JSON.stringify({ marker: 'alpn-https-later' }),
    );
    expect(later.status).toBe(200);
    await until(() => invokedWith('alpn-https-later') !== undefined);
    neverForwarded('alpn-https-refused');
    neverForwarded('alpn-https-stranger');
  });
});

/** node:crypto as the signer's hash. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac(
            'sha256',
            typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array),
          );
  }
  update(chunk: Uint8Array) {
    this.hash.update(chunk);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

/** `wss://localhost:port/mqtt?X-Amz-…`, presigned as the AWS SDK presigns (service iotdevicegateway). */
async function signedWebSocketUrl(
  port: number,
  secretAccessKey = OFFLINE_CREDENTIALS.secretAccessKey,
) {
  const signer = new SignatureV4({
    credentials: { ...OFFLINE_CREDENTIALS, secretAccessKey },
    region: REGION,
    service: 'iotdevicegateway',
    sha256: Sha256,
  });
  const signed = await signer.presign({
    method: 'GET',
    protocol: 'wss:',
    hostname: 'localhost',
    port,
    path: '/mqtt',
    headers: { host: `localhost:${port}` },
    query: {},
  });
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return `wss://localhost:${port}/mqtt?${query}`;
}

const connectWebSocket = (url: string, clientId: string) =>
  new Promise<MqttClient>((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ca: sensor.ca,
    });
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('connect', () => resolve(client));
    client.once('error', fail);
    client.once('close', () => fail(new Error('closed before CONNACK')));
  });

/** The HTTP status a WebSocket upgrade is answered with (ws, the WebSocket client library). */
const upgradeStatus = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(url, 'mqtt', { ca: sensor.ca });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.terminate();
    });
    socket.once('error', reject);
  });

describe('MQTT over WebSocket (wss://…/mqtt, SigV4)', () => {
  it('a signed mqtt.js client subscribes and receives a device’s MQTT 5 message with its properties', async () => {
    const app = await connectWebSocket(await signedWebSocketUrl(core.alpn!.port), 'dashboard-app');
    await app.subscribeAsync('devices/+/telemetry', { qos: 1 });
    const received = new Promise<{ payload: string; properties: Record<string, unknown> }>(
      (resolve) =>
        app.on('message', (_topic, payload, packet) => {
          if (payload.toString().includes('wss-seen'))
            resolve({ payload: payload.toString(), properties: packet.properties ?? {} });
        }),
    );
    const device = await connectDevice(core.mqtt.port, sensor, { protocolVersion: 5 });
    await device.publishAsync(
      'devices/sensor-9/telemetry',
      JSON.stringify({ marker: 'wss-seen' }),
      {
        qos: 1,
        properties: {
          responseTopic: 'devices/sensor-9/replies',
          correlationData: Buffer.from('c-1'),
          userProperties: { unit: 'celsius' },
          contentType: 'application/json',
        },
      },
    );
    await device.endAsync();
    await expect(received).resolves.toMatchObject({
      properties: {
        responseTopic: 'devices/sensor-9/replies',
        correlationData: Buffer.from('c-1'),
        userProperties: { unit: 'celsius' },
        contentType: 'application/json',
      },
    });
    // And it publishes: an IAM principal is not bound by the device policy (its IAM policy is).
    await app.publishAsync('devices/sensor-9/telemetry', JSON.stringify({ marker: 'wss-pub' }), {
      qos: 1,
    });
    await until(() => invokedWith('wss-pub') !== undefined);
    // IoT Core's limits still hold: a reserved topic is refused (PUBACK 0x87), never forwarded.
    const refused = await app
      .publishAsync('$aws/things/x/shadow/update', JSON.stringify({ marker: 'wss-refused' }), {
        qos: 1,
      })
      .then(
        (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode,
        (error: { code?: number }) => error.code,
      );
    expect(refused).toBe(0x87);
    await app.publishAsync('devices/sensor-9/telemetry', JSON.stringify({ marker: 'wss-later' }), {
      qos: 1,
    });
    await until(() => invokedWith('wss-later') !== undefined);
    neverForwarded('wss-refused');
    await app.endAsync();
  });

  it('message expiry: a queued message past its interval is not delivered; over 7 days is cut to 7 days', async () => {
    const url = () => signedWebSocketUrl(core.alpn!.port);
    const session = { clean: false, properties: { sessionExpiryInterval: 300 } };
    const connectApp = async () => {
      const app = mqtt.connect(await url(), {
        clientId: 'expiry-app',
        protocolVersion: 5,
        reconnectPeriod: 0,
        ca: sensor.ca,
        ...session,
      });
      await new Promise((resolve, reject) => {
        app.once('connect', resolve);
        app.once('error', reject);
      });
      return app;
    };
    const away = await connectApp();
    await away.subscribeAsync('devices/sensor-9/telemetry', { qos: 1 });
    await away.endAsync();

    const device = await connectDevice(core.mqtt.port, sensor, { protocolVersion: 5 });
    const expiring = Date.now();
    await device.publishAsync('devices/sensor-9/telemetry', 'expires-in-1s', {
      qos: 1,
      properties: { messageExpiryInterval: 1 },
    });
    await device.publishAsync('devices/sensor-9/telemetry', 'expires-in-30-days', {
      qos: 1,
      properties: { messageExpiryInterval: 30 * 24 * 3600 },
    });
    // The 1 s interval has to pass (a wait on the clock, which is what expiry is about).
    await until(() => Date.now() - expiring > 1_500);
    await device.publishAsync('devices/sensor-9/telemetry', 'no-expiry', { qos: 1 });
    await device.endAsync();

    const received: { payload: string; expiry?: number }[] = [];
    const back = mqtt.connect(await url(), {
      clientId: 'expiry-app',
      protocolVersion: 5,
      reconnectPeriod: 0,
      ca: sensor.ca,
      ...session,
    });
    back.on('message', (_topic, payload, packet) =>
      received.push({
        payload: payload.toString(),
        expiry: packet.properties?.messageExpiryInterval,
      }),
    );
    await until(() => received.some((message) => message.payload === 'no-expiry'));
    const queued = received.filter((m) => !m.payload.startsWith('{'));
    expect(queued.map((m) => m.payload)).toEqual(['expires-in-30-days', 'no-expiry']);
    expect(queued[0]?.expiry).toBeLessThanOrEqual(7 * 24 * 3600);
    await back.endAsync();
  });

  it('an unsigned or wrongly signed URL is refused with 403 before MQTT starts', async () => {
    const port = core.alpn!.port;
    await expect(upgradeStatus(`wss://localhost:${port}/mqtt`)).resolves.toBe(403);
    await expect(upgradeStatus(await signedWebSocketUrl(port, 'not-the-secret'))).resolves.toBe(
      403,
    );
    await expect(upgradeStatus(await signedWebSocketUrl(port))).resolves.toBe(101);
    await expect(connectWebSocket(`wss://localhost:${port}/mqtt`, 'anon')).rejects.toThrow();
  });
});

describe('device:create --protocol prints a command line that works (the README’s commands)', () => {
  it.each(['mqtt', 'mqtt5', 'https', 'alpn', 'wss'] as const)('%s', async (protocol) => {
    const thing = `cli-${protocol}`;
    const env = {
      ...process.env,
      LOCAL_CLOUD_DIR: dir,
      MQTT_PORT: String(core.mqtt.port),
      HTTPS_PORT: String(core.https.port),
      ALPN_PORT: String(core.alpn!.port),
    };
    const created = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/devices/create.ts', '--thing', thing, '--protocol', protocol],
      { cwd: REPO_ROOT, env },
    );
    const command = created.stdout
      .split('\n')
      .find((line) => /^(mosquitto_pub|curl|node) /.test(line));
    expect(command).toBeDefined();
    const before = invoked.length;
    await run('bash', ['-c', command as string], { cwd: REPO_ROOT, env, timeout: 15_000 });
    await until(() => accepted.some((message) => message.topic === `devices/${thing}/telemetry`));
    await until(() => invoked.length > before);
  });
});
