/**
 * The offline AWS IoT Core: the MQTT endpoint (8883) and the HTTPS device endpoint (8443), both
 * with mutual TLS against the local CA; the data-plane API the Lambdas publish through; and the
 * rules engine fed by every message, whichever way it came in.
 *
 * A device's message is accepted (QoS 1 PUBACK, HTTPS 200) only once the rules engine has queued
 * it; while the engine's backlog is full the answer waits (back-pressure). On stop, the backlog
 * drains for a moment and the rest goes to the dead-letter store: nothing accepted is lost.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { startMqttEndpoint, type DeviceIdentity, type MqttEndpoint } from './broker/mqtt-endpoint';
import { DeadLetterStore, type DeadLetterLimits } from './dead-letters';
import { startAlpnEndpoint, type AlpnEndpoint } from './endpoints/alpn';
import { startDataPlaneEndpoint, type DataPlaneEndpoint } from './endpoints/data-plane';
import { startDeviceHttpsEndpoint, type DeviceHttpsEndpoint } from './endpoints/device-https';
import { PublishRequestError, type PublishRequest } from './endpoints/publish-request';
import { verifyPresignedSigV4 } from '../aws/sigv4';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../offline-credentials';
import type { MessageProperties } from './broker/mqtt5';
import { CertificateRegistry, ensureLocalCa, ensureServerCertificate } from './identity';
import { OfflineLambdaInvoker } from './lambda-invoker';
import { basicIngestTopic } from './limits';
import { OfflineSqsQueues, defaultQueueSettings, sqsDirectory } from '../sqs/queue-store';
import { queueArn } from '../sqs/template';
import { actionsOf } from './rules/actions';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  evaluatePolicies,
  type IotAction,
  type NamedPolicyDocument,
  type PolicyContext,
} from './policy';
import {
  RulesEngine,
  RulesEngineStoppedError,
  type BacklogStatus,
  type TopicRule,
} from './rules/engine';

export interface OfflineIotCoreOptions {
  host: string;
  mqttPort: number;
  httpsPort: number;
  dataPlanePort: number;
  plainMqttPort?: number;
  /**
   * IoT Core's 443, offline: one TLS port for MQTT (ALPN x-amzn-mqtt-ca), HTTPS publish (ALPN
   * x-amzn-http-ca) and MQTT over WebSocket (wss://…/mqtt, SigV4). 0 picks a free port; off
   * when undefined.
   */
  alpnPort?: number;
  /** Where the CA, the server certificate and the dead letters live (`.local-cloud`). */
  stateDir: string;
  rules: TopicRule[];
  /** The IoT policies from serverless.yml, attached to every device certificate, as device:create does. */
  policies: NamedPolicyDocument[];
  /** The account and region the policies' ARNs are evaluated in. */
  region: string;
  /** serverless-offline's Lambda API, which the rules' Lambda actions call. */
  lambdaEndpoint: string;
  /** dynalite, which the rules' DynamoDBv2 actions write to; without it they fail (dead letter). */
  dynamodbEndpoint?: string;
  /**
   * The offline SQS queues the rules' SQS action sends to (local/sqs, started with the template's
   * queues). Without it, each queue a rule's SQS action names exists with SQS's defaults.
   */
  sqs?: OfflineSqsQueues;
  onError?: (error: unknown) => void;
  /** Told each time the policy denies something, with the reason. */
  onDenied?: (reason: string) => void;
  /** Told each time a certificate that is not ACTIVE in the CA's registry is refused. */
  onCertificateRefused?: (reason: string) => void;
  /**
   * The dead-letter store's bounds; pass deadLetterLimitsFromResources(resources) so that its
   * retention is the error queue's MessageRetentionPeriod. Default: SQS's 4 days, 10 000 letters,
   * 64 MiB.
   */
  deadLetterLimits?: Partial<DeadLetterLimits>;
  /** Rule actions queued before devices are held back (default 256). */
  maxQueuedRuleActions?: number;
  /** How long stop() lets the rules' backlog drain before dead-lettering the rest (default 5 s). */
  stopDrainMs?: number;
  /**
   * Lines to log as warnings: the rules' backlog crossing a threshold, a stop dead-lettering what
   * it could not drain, dead letters expired or dropped. Default: console.warn.
   */
  onWarning?: (message: string) => void;
}

/** How often the running stack deletes dead letters past the retention period (SQS's minimum). */
const DEAD_LETTER_EXPIRY_CHECK_MS = 60_000;

/** The offline account id in the ARNs the policies are evaluated against. */
export const OFFLINE_ACCOUNT_ID = '000000000000';

export interface OfflineIotCore {
  mqtt: MqttEndpoint;
  https: DeviceHttpsEndpoint;
  dataPlane: DataPlaneEndpoint;
  /** The 443-style ALPN/WebSocket port, when started. */
  alpn: AlpnEndpoint | undefined;
  rules: RulesEngine;
  deadLetters: DeadLetterStore;
  caCertificatePath: string;
  /** The rules engine's queue right now (depth, capacity, publishers held back…), for a status line. */
  backlog(): BacklogStatus;
  stop(): Promise<void>;
}

export async function startOfflineIotCore(options: OfflineIotCoreOptions): Promise<OfflineIotCore> {
  const ca = ensureLocalCa(options.stateDir);
  const server = ensureServerCertificate(options.stateDir, ca);
  const tls = { key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem };
  // Only certificates ACTIVE in the registry connect, over MQTT and HTTPS alike.
  const certificates = {
    certificates: CertificateRegistry.besideCa(ca),
    onCertificateRefused: options.onCertificateRefused ?? options.onDenied,
  };
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  const deadLetters = new DeadLetterStore(deadLetterDirectory(options.stateDir), {
    limits: options.deadLetterLimits,
    onWarning: warn,
  });
  // Records the limits for `npm run dlq`, and deletes letters that outlived the retention period.
  await deadLetters.open();
  // The rules' SQS, Republish and DynamoDBv2 actions (Republish needs the broker, started below).
  const republishVia: { broker?: MqttEndpoint } = {};
  const ownSqs = options.sqs ? undefined : ruleQueues(options);
  const rules = new RulesEngine({
    rules: options.rules,
    invoker: new OfflineLambdaInvoker(options.lambdaEndpoint),
    targets: {
      sqs: options.sqs ?? ownSqs,
      republish: async (message) => {
        if (!republishVia.broker) throw new Error('the offline broker is not running');
        await republishVia.broker.publish(message);
      },
      dynamodb: options.dynamodbEndpoint
        ? offlineDynamoDb(options.dynamodbEndpoint, options.region)
        : undefined,
    },
    deadLetters,
    maxQueuedActions: options.maxQueuedRuleActions,
    onError: options.onError,
    onBacklog: warn,
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
          certificateCommonName: identity.commonName,
        }),
      ),
    ...certificates,
    port: options.mqttPort,
    plainPort: options.plainMqttPort,
    tls,
    // The PUBACK waits until the rules engine has queued the message.
    acceptPublish: (message) => {
      // `properties`: the MQTT 5 properties (user properties, content type, response topic,
      // correlation data, message expiry) for the rule SQL's get_user_property() and
      // get_mqtt_property(); absent for MQTT 3.1.1. Typed in ./broker/mqtt5.ts.
      const ruleMessage: RuleMessageWithProperties = {
        topic: message.topic,
        payload: message.payload,
        clientId: message.clientId,
        principal: message.identity?.certificateId ?? message.identity?.iamAccessKeyId,
        timestamp: Date.now(),
        properties: message.properties,
        // traceid(): "the trace ID (UUID) of the MQTT message" (HTTPS messages have none).
        traceId: randomUUID(),
      };
      return rules.accept(ruleMessage);
    },
  });

  // Messages that enter through HTTP go to the rules and to the broker's subscribers alike; the
  // answer waits until the rules engine has queued the message.
  const publishFromHttp = async (request: PublishRequest, identity?: DeviceIdentity) => {
    try {
      await rules.accept({
        topic: request.topic,
        payload: request.payload,
        principal: identity?.certificateId,
        timestamp: Date.now(),
      });
    } catch (error) {
      // Stopping: IoT Core's answer when it cannot take a message ("AWS IoT errors": 503).
      if (error instanceof RulesEngineStoppedError)
        throw new PublishRequestError(503, 'Service Unavailable');
      throw error;
    }
    // Basic Ingest goes to its rule only, never to the broker's subscribers.
    if (!basicIngestTopic(request.topic)) await mqtt.publish(request);
  };

  republishVia.broker = mqtt;
  const started: { stop(): Promise<void> }[] = [mqtt];
  try {
    const https = await startDeviceHttpsEndpoint({
      host: options.host,
      port: options.httpsPort,
      tls,
      ...certificates,
      publish: publishFromHttp,
      // Over HTTPS IoT Core knows no client id and no thing: only certificate variables resolve.
      authorizePublish: (topic, identity, retain) => {
        const https = context({
          certificateId: identity.certificateId,
          certificateCommonName: identity.commonName,
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
    let alpn: AlpnEndpoint | undefined;
    if (options.alpnPort !== undefined) {
      alpn = await startAlpnEndpoint({
        host: options.host,
        port: options.alpnPort,
        tls,
        mqtt,
        https,
        // IoT Core signs MQTT over WebSocket for the service `iotdevicegateway`.
        verifyWebSocket: (request) => {
          const url = new URL(request.url ?? '/', 'https://localhost');
          const verdict = verifyPresignedSigV4(
            {
              method: request.method ?? 'GET',
              path: url.pathname,
              rawQuery: url.search.slice(1),
              headers: request.headers,
            },
            OFFLINE_CREDENTIALS,
            // Signed with the offline credentials' region, as the data plane's requests are.
            { service: 'iotdevicegateway', region: OFFLINE_REGION },
          );
          return verdict.ok
            ? verdict
            : { ok: false, status: 403, message: `${verdict.code}: ${verdict.reason}` };
        },
        onRefused: options.onDenied,
      });
      started.push(alpn);
    }
    // SQS deletes expired messages whether anyone looks or not; so does the running stack.
    const expiry = setInterval(
      () => deadLetters.expireNow().catch((error) => options.onError?.(error)),
      DEAD_LETTER_EXPIRY_CHECK_MS,
    );
    expiry.unref();
    return {
      mqtt,
      https,
      dataPlane,
      alpn,
      rules,
      deadLetters,
      caCertificatePath: ca.certificatePath,
      backlog: () => rules.backlog(),
      stop: async () => {
        clearInterval(expiry);
        // First the engine refuses new messages (publishers still waiting get no PUBACK, or a
        // 503), then the endpoints close while the backlog drains or is dead-lettered.
        const stopped = rules.stop({ drainMs: options.stopDrainMs });
        await Promise.all(started.map((service) => service.stop()));
        await stopped;
        await ownSqs?.close();
      },
    };
  } catch (error) {
    await Promise.all(started.map((service) => service.stop()));
    throw error;
  }
}

/** Queues with SQS's defaults for the rules' SQS actions, when no offline SQS is given. */
function ruleQueues(options: OfflineIotCoreOptions): OfflineSqsQueues {
  const names = new Set<string>();
  for (const rule of options.rules) {
    for (const action of [...actionsOf(rule), ...(rule.errorAction ? [rule.errorAction] : [])]) {
      if (action.kind === 'sqs') names.add(action.queueName);
    }
  }
  const context = { region: options.region, accountId: OFFLINE_ACCOUNT_ID };
  return new OfflineSqsQueues(sqsDirectory(options.stateDir), {
    queues: [...names].map((name) => defaultQueueSettings(name, queueArn(context, name))),
  });
}

/** The message the rules engine takes, with the MQTT 5 properties of an MQTT 5 publish. */
type RuleMessageWithProperties = Parameters<RulesEngine['accept']>[0] & {
  properties?: MessageProperties | undefined;
};

export const deadLetterDirectory = (stateDir: string) => path.join(stateDir, 'dead-letters');

/** The DynamoDBv2 action's client: the AWS SDK on dynalite, with the offline credentials. */
function offlineDynamoDb(endpoint: string, region: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region, credentials: OFFLINE_CREDENTIALS }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}
