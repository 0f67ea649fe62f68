/**
 * Where the offline cloud listens: serverless.yml's custom.serverless-offline and
 * custom.offlineCloud (which read WEBSOCKET_PORT, LAMBDA_PORT, DYNAMODB_PORT… from the environment),
 * overridden by the matching command-line options.
 */
import net from 'node:net';
import DEFAULT_PORTS from './default-ports.json' with { type: 'json' };

export { DEFAULT_PORTS };

export interface OfflineSettings {
  host: string;
  websocketPort: number;
  lambdaPort: number;
  dynamodbPort: number;
  mqttPort: number;
  httpsPort: number;
  iotDataPort: number;
  /** A plain MQTT listener for trusted local tools; off unless set. */
  plainMqttPort: number | undefined;
  /**
   * IoT Core's 443, offline (ALPN MQTT/HTTPS and MQTT over WebSocket): ALPN_PORT, or a free port
   * (0) so stacks side by side never collide; the banner names it.
   */
  alpnPort: number;
  dashboardPort: number;
  /** The offline SQS endpoint (SQS_PORT; 9324, ElasticMQ's, by default). */
  sqsPort: number;
  /** Most Lambda workers one function runs at once offline (OFFLINE_LAMBDA_CONCURRENCY). */
  lambdaConcurrency: number;
  /** serverless-offline's `--reloadHandler`: every invocation loads the handler anew. */
  reloadHandler: boolean;
}

export interface ServerlessLike {
  service: {
    service: string;
    custom?: Record<string, unknown>;
    provider: {
      stage?: string;
      region?: string;
      environment?: Record<string, unknown>;
      websocketsApiRouteSelectionExpression?: string;
    };
    resources?: unknown;
  };
}

export function readSettings(
  serverless: ServerlessLike,
  options: Record<string, unknown>,
): OfflineSettings {
  const custom = serverless.service.custom ?? {};
  const offline = (custom['serverless-offline'] ?? {}) as Record<string, unknown>;
  const cloud = (custom.offlineCloud ?? {}) as Record<string, unknown>;
  const pick = (name: string, from: Record<string, unknown>, fallback: number) =>
    port(name, options[name] ?? from[name] ?? fallback);
  return {
    host: String(options.host ?? offline.host ?? 'localhost'),
    websocketPort: pick('websocketPort', offline, DEFAULT_PORTS.websocketPort),
    lambdaPort: pick('lambdaPort', offline, DEFAULT_PORTS.lambdaPort),
    dynamodbPort: pick('dynamodbPort', cloud, DEFAULT_PORTS.dynamodbPort),
    mqttPort: pick('mqttPort', cloud, DEFAULT_PORTS.mqttPort),
    httpsPort: pick('httpsPort', cloud, DEFAULT_PORTS.httpsPort),
    iotDataPort: pick('iotDataPort', cloud, DEFAULT_PORTS.iotDataPort),
    dashboardPort: pick('dashboardPort', cloud, DEFAULT_PORTS.dashboardPort),
    sqsPort: port(
      'sqsPort',
      options.sqsPort ??
        cloud.sqsPort ??
        (process.env.SQS_PORT || undefined) ??
        DEFAULT_PORTS.sqsPort,
    ),
    lambdaConcurrency: positive('lambdaConcurrency', cloud.lambdaConcurrency ?? 2),
    reloadHandler: Boolean(options.reloadHandler ?? offline.reloadHandler ?? false),
    alpnPort: port(
      'alpnPort',
      options.alpnPort ?? cloud.alpnPort ?? (process.env.ALPN_PORT || undefined) ?? 0,
    ),
    plainMqttPort:
      (options.plainMqttPort ?? cloud.plainMqttPort ?? '') === ''
        ? undefined
        : port('plainMqttPort', options.plainMqttPort ?? cloud.plainMqttPort),
  };
}

function positive(name: string, value: unknown): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new Error(`${name} must be a positive integer, got "${String(value)}"`);
  }
  return number;
}

function port(name: string, value: unknown): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${String(value)}"`);
  }
  return number;
}

/** The environment variable serverless.yml reads each port from. */
export const PORT_VARIABLES: Record<string, string> = {
  httpPort: 'HTTP_PORT',
  websocketPort: 'WEBSOCKET_PORT',
  lambdaPort: 'LAMBDA_PORT',
  dynamodbPort: 'DYNAMODB_PORT',
  mqttPort: 'MQTT_PORT',
  httpsPort: 'HTTPS_PORT',
  iotDataPort: 'IOT_DATA_PORT',
  plainMqttPort: 'PLAIN_MQTT_PORT',
  dashboardPort: 'DASHBOARD_PORT',
  alpnPort: 'ALPN_PORT',
  sqsPort: 'SQS_PORT',
};

/** Fails with one clear message naming every port that is taken and how to choose another. */
export async function assertPortsFree(settings: OfflineSettings): Promise<void> {
  const taken: string[] = [];
  for (const [name, variable] of Object.entries(PORT_VARIABLES)) {
    const value = settings[name as keyof OfflineSettings] as number | undefined;
    if (value !== undefined && value !== 0 && !(await isFree(settings.host, value))) {
      taken.push(
        `  port ${value} (${name}) is in use: stop what holds it or set ${variable}=<port>`,
      );
    }
  }
  if (taken.length > 0) {
    throw new Error(`The offline cloud cannot start:\n${taken.join('\n')}`);
  }
}

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
