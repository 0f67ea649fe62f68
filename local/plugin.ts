/**
 * The offline cloud: what serverless-offline does not emulate, started from the same
 * serverless.yml. It starts before serverless-offline (DynamoDB first), injects the local
 * endpoints into the functions' environment, and stops on Ctrl-C.
 *
 * Each emulated service lives in its own folder (dynamodb/, later iot/).
 */
import {
  startLocalDynamoDb,
  type CloudFormationResource,
  type LocalDynamoDb,
} from './dynamodb/server';
import path from 'node:path';
import { signAccessToken } from '../shared/auth/tokens';
import { tokenLifetimeFromEnv } from '../shared/config';
import { ensureLocalTokenSecret } from './auth/token-secret';
import { buildDashboard } from './dashboard/build';
import {
  startDashboardServer,
  type DashboardServer,
  type LocalConnectionConfig,
} from './dashboard/server';
import { OFFLINE_ACCOUNT_ID, startOfflineIotCore, type OfflineIotCore } from './iot/core';
import { defaultLocalCloudDir } from './iot/identity';
import { loadDevicePolicy } from './iot/policy';
import {
  describeRules,
  formatBacklog,
  rulesFromTemplate,
  type IotEventDefinition,
} from './iot/rules/engine';
import { deadLetterLimitsFromResources } from './iot/dead-letters';
import { verifySigV4 } from './aws/sigv4';
import { OfflineLambdaInvoker } from './iot/lambda-invoker';
import { OFFLINE_AWS_ENV, OFFLINE_CREDENTIALS, OFFLINE_REGION } from './offline-credentials';
import { installApiGatewayRules } from './websocket/api-gateway';
import { refuseOversizedHandshakes } from './websocket/oversized-handshake';
import { loadServerlessOfflineInternals } from './websocket/serverless-offline-internals';
import { webSocketApiSettings, type WebSocketEvent } from './websocket/settings';
import { exitWithParent, signalReady } from './stack/signal';
import { describeMappings, startOfflineSqs, type OfflineSqs } from './sqs/service';
import type { SqsEventDefinition } from './sqs/template';
import {
  assertPortsFree,
  readSettings,
  type OfflineSettings,
  type ServerlessLike,
} from './settings';

/** The dashboard's token lives minutes: the page fetches a fresh one for each (re)connect. */
const DASHBOARD_TOKEN_TTL_SECONDS = 15 * 60;

interface PluginUtils {
  log: {
    notice(message: string): void;
    warning(message: string): void;
    error(message: string): void;
  };
}

export class OfflineCloud {
  private dynamodb: LocalDynamoDb | undefined;
  private iot: OfflineIotCore | undefined;
  private dashboard: DashboardServer | undefined;
  private sqs: OfflineSqs | undefined;
  private readonly settings: OfflineSettings;

  constructor(
    private readonly serverless: ServerlessLike,
    options: Record<string, unknown>,
    private readonly utils: PluginUtils,
  ) {
    this.settings = readSettings(serverless, options);
  }

  /** `sls offline start`: bring the local services up before serverless-offline starts. */
  async start(): Promise<void> {
    // Started by local/stack.ts: the stack ends with the process that started it.
    exitWithParent();
    // Rules first: an unsupported SQL stops start-up before anything listens.
    // The iot events (with their restated `extensions`) and every AWS::IoT::TopicRule resource.
    const rules = rulesFromTemplate(this.functions(), {
      functionName: (key) => this.functionName(key),
      stackName: this.stackName(),
      resources: this.resources(),
      extensions: this.extensions(),
      accountId: OFFLINE_ACCOUNT_ID,
      // aws_lambda() and get_dynamodb() run against the offline Lambda API and dynalite.
      services: true,
    });
    const region = String(this.serverless.service.provider.region ?? 'us-east-1');
    const policies = loadDevicePolicy(this.resources(), {
      partition: 'aws',
      region,
      accountId: OFFLINE_ACCOUNT_ID,
    });
    await assertPortsFree(this.settings);
    const { host } = this.settings;
    await this.applyApiGatewayRules();
    try {
      this.dynamodb = await startLocalDynamoDb({
        host,
        port: this.settings.dynamodbPort,
        resources: this.resources(),
      });
      // Before IoT Core: the rules' SQS action sends into these queues. The event source
      // mappings start polling in announce(), once the Lambda API listens.
      this.sqs = await startOfflineSqs({
        host,
        port: this.settings.sqsPort,
        stateDir: defaultLocalCloudDir(),
        resources: this.resources(),
        functions: this.functions(),
        functionName: (key) => this.functionName(key),
        providerTimeout: (this.serverless.service.provider as { timeout?: unknown }).timeout,
        region,
        accountId: OFFLINE_ACCOUNT_ID,
        stackName: this.stackName(),
        pollers: this.settings.lambdaConcurrency,
        onError: (message) => this.utils.log.warning(message),
      });
      this.iot = await startOfflineIotCore({
        host,
        mqttPort: this.settings.mqttPort,
        httpsPort: this.settings.httpsPort,
        dataPlanePort: this.settings.iotDataPort,
        plainMqttPort: this.settings.plainMqttPort,
        alpnPort: this.settings.alpnPort,
        stateDir: defaultLocalCloudDir(),
        rules,
        policies,
        region,
        lambdaEndpoint: `http://${host}:${this.settings.lambdaPort}`,
        dynamodbEndpoint: this.dynamodb.endpoint,
        sqs: this.sqs.queues,
        onError: (error) => this.utils.log.error(`IoT rules engine: ${String(error)}`),
        onDenied: (reason) => this.utils.log.notice(`IoT policy ${reason}`),
        onCertificateRefused: (reason) => this.utils.log.notice(`IoT certificate ${reason}`),
        // The dead-letter queue's own retention (resources/telemetry-rule.yml), as SQS keeps it.
        deadLetterLimits: deadLetterLimitsFromResources(this.resources()),
        onWarning: (message) => this.utils.log.warning(message),
      });
      // Built into the state folder: stacks running side by side never share an output folder.
      const dashboardDir = path.join(defaultLocalCloudDir(), 'dashboard');
      await buildDashboard(dashboardDir);
      this.dashboard = await startDashboardServer({
        host,
        port: this.settings.dashboardPort,
        root: dashboardDir,
        localConnection: () => this.dashboardConnection(),
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.injectEnvironment();
  }

  /** What the dashboard page at its plain address connects with: a token of a few minutes. */
  private async dashboardConnection(): Promise<LocalConnectionConfig> {
    const ttlSeconds = DASHBOARD_TOKEN_TTL_SECONDS;
    const token = await signAccessToken(ensureLocalTokenSecret(defaultLocalCloudDir()), {
      subject: 'dashboard',
      commands: true,
      ttlSeconds,
      stage: this.stage(),
    });
    return {
      websocketUrl: `ws://${this.settings.host}:${this.settings.websocketPort}`,
      token,
      expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds,
    };
  }

  /** serverless-offline's WebSocket API, made to refuse and limit as API Gateway does. */
  private async applyApiGatewayRules(): Promise<void> {
    const invoker = new OfflineLambdaInvoker(
      `http://${this.settings.host}:${this.settings.lambdaPort}`,
    );
    const api = webSocketApiSettings(this.functions(), this.serverless.service);
    const internals = await loadServerlessOfflineInternals();
    // A handshake URL too long to parse is refused as one with an invalid token is (403).
    refuseOversizedHandshakes(internals.hapiServer, this.settings.websocketPort);
    installApiGatewayRules(internals, {
      stage: this.stage(),
      identitySources: api.identitySources,
      throttling: api.throttling,
      routeSelectionExpression: api.routeSelectionExpression,
      routeKeys: Object.keys(api.routes),
      lambdaConcurrency: this.settings.lambdaConcurrency,
      reloadHandler: this.settings.reloadHandler,
      invokeRoute: async (route, event) => {
        const key = api.routes[route];
        if (!key) return null;
        const outcome = await invoker.invoke(this.functionName(key), event);
        if (!outcome.ok) throw new Error(outcome.error);
        return outcome.result;
      },
      // API Gateway refuses unsigned @connections calls; offline, the offline credentials sign.
      verifyRequest: async (request) => {
        const verdict = await verifySigV4(request, OFFLINE_CREDENTIALS, {
          service: 'execute-api',
          region: OFFLINE_REGION,
        });
        return verdict.ok ? undefined : `${verdict.code}: ${verdict.reason}`;
      },
      log: this.utils.log,
    });
  }

  /** Printed once serverless-offline is listening too. */
  async announce(): Promise<void> {
    const token = await signAccessToken(ensureLocalTokenSecret(defaultLocalCloudDir()), {
      subject: 'developer',
      commands: true,
      // 12 h, or less when the stage allows less (the authorizer would refuse a longer one).
      ttlSeconds: Math.min(12 * 60 * 60, tokenLifetimeFromEnv().maxLifetimeSeconds),
      stage: this.stage(),
    });
    const { host, websocketPort, lambdaPort } = this.settings;
    const iot = this.iot;
    this.sqs?.startEventSources(new OfflineLambdaInvoker(`http://${host}:${lambdaPort}`));
    const lines = [
      'Offline cloud ready',
      `  WebSocket API   ws://${host}:${websocketPort}   (needs ?token=…: npm run token)`,
      `  Dashboard       ${this.dashboard?.url}?ws=ws://${host}:${websocketPort}&token=${token}`,
      `  Watch it live   npx wscat -c "ws://${host}:${websocketPort}?token=${token}"`,
      `  MQTT (mTLS)     mqtts://${host}:${iot?.mqtt.port}`,
      ...(iot?.mqtt.plainPort
        ? [`  MQTT (plain)    mqtt://${host}:${iot.mqtt.plainPort}   local tools only`]
        : []),
      `  HTTPS (mTLS)    https://${host}:${iot?.https.port}/topics/{topic}?qos=1`,
      `  IoT data plane  http://${host}:${iot?.dataPlane.port}`,
      `  IoT "443"       ${host}:${iot?.alpn?.port}   ALPN x-amzn-mqtt-ca (MQTT), x-amzn-http-ca (HTTPS); wss://${host}:${iot?.alpn?.port}/mqtt (SigV4)`,
      `  Rules backlog   ${iot ? formatBacklog(iot.backlog()) : 'n/a'}`,
      `  Topic rules     ${iot ? describeRules(iot.rules.rules) : 'none'}   Basic Ingest: $aws/rules/<rule>/<topic>`,
      `  Local CA        ${iot?.caCertificatePath}   devices: npm run device:create -- --thing sensor-1`,
      `  DynamoDB        ${this.dynamodb?.endpoint}   tables: ${this.dynamodb?.tables.join(', ')}`,
      `  Lambda invoke   http://${host}:${lambdaPort}`,
      `  SQS             ${this.sqs?.endpoint.url}   queues: ${this.sqs?.queues.names().join(', ') || 'none'}`,
      `  SQS triggers    ${describeMappings(this.sqs?.mappings ?? [])}`,
      'Press Ctrl-C to stop.',
    ];
    this.utils.log.notice(lines.join('\n'));
    this.signalReady();
  }

  /** The machine-readable twin of the banner, for local/stack.ts. */
  private signalReady(): void {
    const { host, websocketPort, lambdaPort } = this.settings;
    const iot = this.iot;
    if (!iot || !this.dynamodb || !this.dashboard || !this.sqs) return;
    signalReady({
      stage: this.stage(),
      localCloudDir: defaultLocalCloudDir(),
      websocket: `ws://${host}:${websocketPort}`,
      management: `http://${host}:${websocketPort}/${this.stage()}`,
      lambda: `http://${host}:${lambdaPort}`,
      dynamodb: this.dynamodb.endpoint,
      mqtt: `mqtts://${host}:${iot.mqtt.port}`,
      plainMqtt: iot.mqtt.plainPort ? `mqtt://${host}:${iot.mqtt.plainPort}` : undefined,
      https: `https://${host}:${iot.https.port}`,
      iotData: `http://${host}:${iot.dataPlane.port}`,
      dashboard: this.dashboard.url,
      sqs: this.sqs.endpoint.url,
      ports: {
        websocket: websocketPort,
        lambda: lambdaPort,
        dynamodb: this.settings.dynamodbPort,
        mqtt: iot.mqtt.port,
        https: iot.https.port,
        iotData: iot.dataPlane.port,
        dashboard: this.dashboard.port,
        sqs: this.sqs.endpoint.port,
      },
    });
  }

  async stop(): Promise<void> {
    await this.dashboard?.stop();
    await this.iot?.stop();
    // After IoT Core, whose rules may still send while they drain.
    await this.sqs?.stop();
    await this.dynamodb?.stop();
    this.dashboard = undefined;
    this.iot = undefined;
    this.sqs = undefined;
    this.dynamodb = undefined;
  }

  /** `sls invoke local`: point the function at an offline cloud that is already running. */
  async useRunningCloud(): Promise<void> {
    this.injectEnvironment();
  }

  private injectEnvironment(): void {
    const { host, websocketPort, dynamodbPort, iotDataPort } = this.settings;
    const provider = this.serverless.service.provider;
    provider.environment = {
      ...provider.environment,
      ...OFFLINE_AWS_ENV,
      // The SDK reads service endpoints from AWS_ENDPOINT_URL_<SERVICE>: handlers stay unaware.
      AWS_ENDPOINT_URL_DYNAMODB: `http://${host}:${dynamodbPort}`,
      // Under the stage, as in AWS: https://{api}.execute-api.{region}.amazonaws.com/{stage}.
      WEBSOCKET_MANAGEMENT_ENDPOINT: `http://${host}:${websocketPort}/${this.stage()}`,
      IOT_DATA_ENDPOINT: `http://${host}:${iotDataPort}`,
      AWS_ENDPOINT_URL_SQS: `http://${host}:${this.settings.sqsPort}`,
      TOKEN_SECRET: ensureLocalTokenSecret(defaultLocalCloudDir()),
    };
    // The routes that answer a client's own frames run at a lower CPU priority than the rest
    // (local/stack/worker-priority.cjs): on AWS a flood of them has CPU of its own; here it would
    // take the shared cores from everyone's telemetry.
    for (const definition of Object.values(this.functions())) {
      const routes = (definition.events ?? []).map(({ websocket }) =>
        typeof websocket === 'string' ? websocket : websocket?.route,
      );
      if (routes.some((route) => route && route !== '$connect' && route !== '$disconnect')) {
        definition.environment = { ...definition.environment, OFFLINE_CPU_NICE: '10' };
      }
    }
  }

  private functions(): Record<
    string,
    {
      name?: string;
      environment?: Record<string, string>;
      events?: { iot?: IotEventDefinition; websocket?: WebSocketEvent; sqs?: SqsEventDefinition }[];
    }
  > {
    return (this.serverless.service as { functions?: Record<string, never> }).functions ?? {};
  }

  private functionName(key: string): string {
    return `${this.serverless.service.service}-${this.stage()}-${key}`;
  }

  private stage(): string {
    return this.serverless.service.provider.stage ?? 'dev';
  }

  /** CloudFormation's stack name, from which it names rules that have no RuleName. */
  private stackName(): string {
    const provider = this.serverless.service.provider as { stackName?: string };
    return provider.stackName ?? `${this.serverless.service.service}-${this.stage()}`;
  }

  /** serverless.yml's `extensions` (a resources file restating the framework's rule). */
  private extensions(): Record<string, { Properties?: Record<string, unknown> }> {
    const resources = this.serverless.service.resources;
    const list = Array.isArray(resources) ? resources : [resources];
    return Object.assign(
      {},
      ...list.map((entry) => (entry as { extensions?: object } | undefined)?.extensions ?? {}),
    );
  }

  private resources(): Record<string, CloudFormationResource> {
    const resources = this.serverless.service.resources;
    const list = Array.isArray(resources) ? resources : [resources];
    return Object.assign(
      {},
      ...list.map((entry) => (entry as { Resources?: object } | undefined)?.Resources ?? {}),
    );
  }
}
