/**
 * The offline AWS IoT Core: the MQTT endpoint (8883) and the HTTPS device endpoint (8443), both
 * with mutual TLS against the local CA; the data-plane API the Lambdas publish through; and the
 * rules engine fed by every message, whichever way it came in.
 */
import path from 'node:path';
import { startMqttEndpoint, type DeviceIdentity, type MqttEndpoint } from './broker/mqtt-endpoint';
import { DeadLetterStore } from './dead-letters';
import { startDataPlaneEndpoint, type DataPlaneEndpoint } from './endpoints/data-plane';
import { startDeviceHttpsEndpoint, type DeviceHttpsEndpoint } from './endpoints/device-https';
import type { PublishRequest } from './endpoints/publish-request';
import { ensureLocalCa, ensureServerCertificate } from './identity';
import { OfflineLambdaInvoker } from './lambda-invoker';
import { RulesEngine, type TopicRule } from './rules/engine';

export interface OfflineIotCoreOptions {
  host: string;
  mqttPort: number;
  httpsPort: number;
  dataPlanePort: number;
  plainMqttPort?: number;
  /** Where the CA, the server certificate and the dead letters live (`.local-cloud`). */
  stateDir: string;
  rules: TopicRule[];
  /** serverless-offline's Lambda API, which the rules' Lambda actions call. */
  lambdaEndpoint: string;
  onError?: (error: unknown) => void;
}

export interface OfflineIotCore {
  mqtt: MqttEndpoint;
  https: DeviceHttpsEndpoint;
  dataPlane: DataPlaneEndpoint;
  rules: RulesEngine;
  deadLetters: DeadLetterStore;
  caCertificatePath: string;
  stop(): Promise<void>;
}

export async function startOfflineIotCore(options: OfflineIotCoreOptions): Promise<OfflineIotCore> {
  const ca = ensureLocalCa(options.stateDir);
  const server = ensureServerCertificate(options.stateDir, ca);
  const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem };
  const deadLetters = new DeadLetterStore(deadLetterDirectory(options.stateDir));
  const rules = new RulesEngine({
    rules: options.rules,
    invoker: new OfflineLambdaInvoker(options.lambdaEndpoint),
    deadLetters,
    onError: options.onError,
  });

  const mqtt = await startMqttEndpoint({
    host: options.host,
    port: options.mqttPort,
    plainPort: options.plainMqttPort,
    tls,
    onClientPublish: (message) =>
      rules.dispatch({
        topic: message.topic,
        payload: message.payload,
        clientId: message.clientId,
        principal: message.identity?.certificateId,
        timestamp: Date.now(),
      }),
  });

  // Messages that enter through HTTP go to the broker's subscribers and to the rules alike.
  const publishFromHttp = async (request: PublishRequest, identity?: DeviceIdentity) => {
    await mqtt.publish(request);
    rules.dispatch({
      topic: request.topic,
      payload: request.payload,
      principal: identity?.certificateId,
      timestamp: Date.now(),
    });
  };

  const started: { stop(): Promise<void> }[] = [mqtt];
  try {
    const https = await startDeviceHttpsEndpoint({
      host: options.host,
      port: options.httpsPort,
      tls,
      publish: publishFromHttp,
    });
    started.push(https);
    const dataPlane = await startDataPlaneEndpoint({
      host: options.host,
      port: options.dataPlanePort,
      publish: (request) => publishFromHttp(request),
    });
    started.push(dataPlane);
    return {
      mqtt,
      https,
      dataPlane,
      rules,
      deadLetters,
      caCertificatePath: ca.certificatePath,
      stop: async () => {
        await Promise.all(started.map((service) => service.stop()));
        await rules.drain();
      },
    };
  } catch (error) {
    await Promise.all(started.map((service) => service.stop()));
    throw error;
  }
}

export const deadLetterDirectory = (stateDir: string) => path.join(stateDir, 'dead-letters');
