/**
 * The MQTT broker restarts in the middle of a stream: QoS 1 devices reconnect by themselves and
 * every reading still reaches the WebSocket viewers (duplicates allowed, as QoS 1 allows them:
 * "AWS IoT Core … MQTT QoS 1 … at least once").
 *
 * `lost` is counted end to end: the readings' ids the viewers' WebSocket clients received
 * against the ids the device published. The path between them is the real one, in this process:
 * the MQTT endpoint (restarted mid-stream) takes each message before its PUBACK
 * (acceptPublish, as the offline IoT Core does), the deployed topic rule's SQL
 * (serverless.yml custom.telemetryRuleSql) shapes the event, the forwardTelemetry handler fans
 * it out through the @connections stand-in (dynalite for the connections), and the stand-in
 * hands each post to the viewer's real WebSocket, as API Gateway does.
 */
import { afterAll, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { handler as connect } from '../../handlers/connect';
import { handler as forwardTelemetry } from '../../handlers/forwardTelemetry';
import { startMqttEndpoint, type MqttEndpoint } from '../../local/iot/broker/mqtt-endpoint';
import { ensureLocalCa, ensureServerCertificate } from '../../local/iot/identity';
import { compileRule } from '../../local/iot/rules/sql';
import { connectDevice, deviceCredentials } from '../support/devices';
import { printReport, tally } from '../support/fault-report';
import { startHandlerEnv, type HandlerEnv } from '../support/handler-env';
import { lambdaContext, webSocketEvent } from '../support/lambda';
import { freePorts } from '../support/ports';

const cleanUp: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const step of cleanUp.reverse()) await step();
});

/** The SQL serverless.yml deploys (a folded block: its lines joined by single spaces). */
function deployedRuleSql(): string {
  const yml = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
  const block = /^ {2}telemetryRuleSql: >-\n((?: {4}.*\n)+)/m.exec(yml)?.[1];
  if (!block) throw new Error('custom.telemetryRuleSql not found in serverless.yml');
  return block.trim().split(/\n\s*/).join(' ');
}

/** Real WebSocket viewers, registered with the $connect handler; API Gateway's side relays. */
async function startViewers(env: HandlerEnv, count: number) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  cleanUp.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sockets = new Map<string, WebSocket>();
  const accepted: WebSocket[] = [];
  server.on('connection', (socket) => accepted.push(socket));
  env.api.relay = (connectionId, data) => {
    const socket = sockets.get(connectionId);
    if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error('gone');
    socket.send(data);
  };
  cleanUp.push(() => (env.api.relay = undefined));

  const { port } = server.address() as { port: number };
  const received: number[][] = [];
  for (let i = 0; i < count; i++) {
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    cleanUp.push(() => client.close());
    const seqs: number[] = [];
    received.push(seqs);
    client.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type?: string; data?: { seq?: number } };
      if (frame.type === 'telemetry' && typeof frame.data?.seq === 'number') {
        seqs.push(frame.data.seq);
      }
    });
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const connectionId = `viewer-${i}`;
    sockets.set(connectionId, accepted[i]!);
    await connect(webSocketEvent(connectionId, '$connect'), lambdaContext());
  }
  return received;
}

it('QoS 1 devices ride out a broker restart: every reading reaches every WebSocket viewer', async () => {
  const env = await startHandlerEnv();
  cleanUp.push(() => env.stop());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'broker-restart-'));
  cleanUp.push(() => rm(dir, { recursive: true, force: true }));
  const ca = ensureLocalCa(dir);
  const server = ensureServerCertificate(dir, ca);
  const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem };
  const [port] = (await freePorts(1)) as [number];

  const rule = compileRule(deployedRuleSql(), { sqlVersion: '2016-03-23' });
  const viewers = await startViewers(env, 2);

  let endpoint: MqttEndpoint | undefined;
  cleanUp.push(() => endpoint?.stop());
  const start = () =>
    startMqttEndpoint({
      host: 'localhost',
      port,
      tls,
      // Acknowledged (PUBACK) only once the reading has been fanned out, as the offline IoT
      // Core acknowledges only what its rules engine has taken.
      acceptPublish: async (message) => {
        const result = rule.evaluate({
          topic: message.topic,
          payload: message.payload,
          clientId: message.clientId,
          timestamp: Date.now(),
        });
        if (result.kind !== 'output') throw new Error(`rule answered ${result.kind}`);
        await forwardTelemetry(result.value as never, lambdaContext('forwardTelemetry'));
      },
    });

  endpoint = await start();
  const device = await connectDevice(port, deviceCredentials(dir, 'sensor-1'), {
    clean: false,
    reconnectPeriod: 100,
  });
  cleanUp.push(() => device.endAsync());
  const total = 60;
  const sent: string[] = [];
  const publishes: Promise<unknown>[] = [];
  for (let seq = 0; seq < total; seq++) {
    if (seq === 20) {
      // Mid-stream: the broker goes away and comes back on the same port.
      await endpoint.stop();
      endpoint = await start();
    }
    sent.push(String(seq));
    publishes.push(
      device.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ seq }), { qos: 1 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Every QoS 1 publish resolves only once the broker acknowledged it, i.e. after its fan-out.
  await Promise.all(publishes);
  // The frames were sent before the PUBACKs; wait until each viewer has every id (or time out
  // and let the tally below say what is missing).
  const until = Date.now() + 10_000;
  while (
    Date.now() < until &&
    viewers.some((seqs) => sent.some((id) => !seqs.includes(Number(id))))
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  for (const [index, seqs] of viewers.entries()) {
    const report = tally(sent, seqs.map(String));
    printReport(`broker restarted mid-stream, viewer ${index}`, report);
    expect(report.lost).toBe(0);
    expect(report.delivered).toBe(total);
    expect(seqs.every((seq) => seq >= 0 && seq < total)).toBe(true);
  }
}, 60_000);
