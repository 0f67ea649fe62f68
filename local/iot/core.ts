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
import {
  evaluatePolicies,
  type IotAction,
  type NamedPolicyDocument,
  type PolicyContext,
} from './policy';
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
  /** The IoT policies from serverless.yml, attached to every device certificate, as device:create does. */
  policies: NamedPolicyDocument[];
  /** The account and region the policies' ARNs are evaluated in. */
  region: string;
  /** serverless-offline's Lambda API, which the rules' Lambda actions call. */
  lambdaEndpoint: string;
  onError?: (error: unknown) => void;
  /** Told each time the policy denies something, with the reason. */
  onDenied?: (reason: string) => void;
}

/** The offline account id in the ARNs the policies are evaluated against. */
export const OFFLINE_ACCOUNT_ID = '000000000000';

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

  const context = (extra: Partial<PolicyContext>): PolicyContext => ({
    region: options.region,
    accountId: OFFLINE_ACCOUNT_ID,
    ...extra,
  });
  const decide = (action: IotAction, target: string, policyContext: PolicyContext) => {
    const decision = evaluatePolicies(options.policies, action, target, policyContext);
    if (!decision.allowed) options.onDenied?.(decision.reason);
    return decision;
  };

  const mqtt = await startMqttEndpoint({
    host: options.host,
    // Over MQTT the certificate's thing is known; thing policy variables resolve.
    authorize: (action, target, { clientId, identity }) =>
      decide(
        action,
        target,
        context({
          clientId,
          thingName: identity.thingName,
          certificateId: identity.certificateId,
          certificateCommonName: identity.thingName,
        }),
      ),
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
      // Over HTTPS IoT Core knows no client id and no thing: only certificate variables resolve.
      authorizePublish: (topic, identity, retain) => {
        const https = context({
          certificateId: identity.certificateId,
          certificateCommonName: identity.thingName,
        });
        return (
          decide('iot:Publish', topic, https).allowed &&
          (!retain || decide('iot:RetainPublish', topic, https).allowed)
        );
      },
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
