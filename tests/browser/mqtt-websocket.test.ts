/**
 * mqtt.js in a browser (Debian's Chromium through playwright-core) on the offline IoT Core's MQTT
 * over WebSocket: `wss://localhost:{port}/mqtt` signed with SigV4 for the service
 * iotdevicegateway (AWS IoT Core Developer Guide, "MQTT over WebSocket protocol"). The page
 * connects, subscribes, receives a device's message and publishes one that the rules take; a
 * publish IoT Core refuses (a reserved topic) is answered 0x87 and never forwarded.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startOfflineIotCore, type OfflineIotCore } from '../../local/iot/core';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { presignedMqttUrl } from '../../scripts/simulator/wss-url';
import { connectDevice, deviceCredentials } from '../support/devices';
import { REPO_ROOT } from '../support/offline-stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
// mqtt.js's own browser build (its package exports do not name it, so by path).
const MQTT_BROWSER_BUNDLE = path.join(REPO_ROOT, 'node_modules/mqtt/dist/mqtt.min.js');

let dir: string;
let core: OfflineIotCore;
let browser: Browser;
const accepted: string[] = [];

beforeAll(async () => {
  if (!hasChromium && process.env.CI) throw new Error(`Chromium is needed at ${CHROMIUM}`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'mqtt-websocket-'));
  core = await startOfflineIotCore({
    host: 'localhost',
    mqttPort: 0,
    httpsPort: 0,
    dataPlanePort: 0,
    alpnPort: 0,
    stateDir: dir,
    region: OFFLINE_REGION,
    // No rule: the rules engine's intake is what this checks.
    lambdaEndpoint: 'http://127.0.0.1:9',
    rules: [],
    // The device that publishes to the page may do anything.
    policies: [
      {
        name: 'AllowAll',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }],
        },
      },
    ],
    onWarning: () => undefined,
  });
  const accept = core.rules.accept.bind(core.rules);
  core.rules.accept = (message) => {
    accepted.push(message.payload.toString('utf8'));
    return accept(message);
  };
  if (hasChromium) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // The local CA is not in Chromium's trust store; a browser app would add it there.
      args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors'],
    });
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await core?.stop();
  await rm(dir, { recursive: true, force: true });
});

(hasChromium ? it : it.skip)(
  'a page connects with a signed URL, subscribes, receives and publishes; a refused publish is never forwarded',
  async () => {
    const page = await browser.newPage();
    await page.addScriptTag({ path: MQTT_BROWSER_BUNDLE });
    const url = presignedMqttUrl({
      host: 'localhost',
      port: core.alpn!.port,
      region: OFFLINE_REGION,
      credentials: OFFLINE_CREDENTIALS,
    });
    const sensor = deviceCredentials(dir, 'sensor-b');

    // In the page: connect, subscribe, and keep what arrives.
    await page.evaluate(async (signedUrl) => {
      const w = window as unknown as {
        mqtt: {
          connect(
            url: string,
            options: object,
          ): {
            on(event: string, listener: (...args: unknown[]) => void): void;
            subscribe(topic: string, options: object, callback: (error?: Error) => void): void;
            publish(
              topic: string,
              payload: string,
              options: object,
              callback: (error?: Error, packet?: { reasonCode?: number }) => void,
            ): void;
          };
        };
        client: ReturnType<(typeof w)['mqtt']['connect']>;
        received: string[];
      };
      w.received = [];
      w.client = w.mqtt.connect(signedUrl, {
        clientId: 'browser-app',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await new Promise<void>((resolve, reject) => {
        w.client.on('connect', () => resolve());
        w.client.on('error', (error) => reject(new Error(String(error))));
      });
      w.client.on('message', (_topic, payload) => w.received.push(String(payload)));
      await new Promise<void>((resolve, reject) =>
        w.client.subscribe('devices/+/telemetry', { qos: 1 }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }, url);

    const device = await connectDevice(core.mqtt.port, sensor, { protocolVersion: 5 });
    await device.publishAsync('devices/sensor-b/telemetry', '{"marker":"to-browser"}', { qos: 1 });
    await device.endAsync();
    await page.waitForFunction(() =>
      (window as unknown as { received: string[] }).received.includes('{"marker":"to-browser"}'),
    );

    const answers = await page.evaluate(async () => {
      const w = window as unknown as {
        client: {
          publish(
            topic: string,
            payload: string,
            options: object,
            callback: (error?: Error & { code?: number }, packet?: { reasonCode?: number }) => void,
          ): void;
        };
      };
      const publish = (topic: string, payload: string) =>
        new Promise<number | undefined>((resolve) =>
          w.client.publish(topic, payload, { qos: 1 }, (error, packet) =>
            resolve(error ? (error.code ?? -1) : (packet?.reasonCode ?? 0)),
          ),
        );
      return {
        refused: await publish('$aws/things/x/shadow/update', '{"marker":"browser-refused"}'),
        ok: await publish('devices/browser-app/telemetry', '{"marker":"from-browser"}'),
      };
    });
    expect(answers).toEqual({ refused: 0x87, ok: 0 });
    // The PUBACK of the later publish came after the rules took it; the refused one never was.
    expect(accepted).toContain('{"marker":"from-browser"}');
    expect(accepted).not.toContain('{"marker":"browser-refused"}');
    await page.close();
  },
);
