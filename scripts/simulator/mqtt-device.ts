/**
 * A device on MQTT: one connection (client id = thing name, persistent session) in one of IoT
 * Core's MQTT transports: `mqtt` (3.1.1, mutual TLS, 8883), `mqtt5` (MQTT 5, 8883), `alpn` (3.1.1
 * with mutual TLS on the 443 port, ALPN x-amzn-mqtt-ca), `wss` (MQTT 5 over WebSocket, the URL
 * signed with SigV4 afresh on each connect; no certificate: an IAM principal),
 * readings published at QoS 1 to devices/{id}/telemetry, commands received on
 * devices/{id}/commands and answered with an ack on the telemetry topic. A lost or refused
 * connection is reported and re-established with exponential backoff and jitter; the session's
 * unconfirmed messages are sent again after the reconnect.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import type { DeviceCommand } from '../../shared/protocol';
import type { Reading } from '../telemetry/reading';
import { commandTopic, telemetryTopic } from '../../shared/topics';
import { backoffDelay, MQTT_RECONNECT } from './backoff';
import { InFlight, type SimulatedDevice } from './device';
import type { DeviceIdentity } from './identity';
import type { FleetStats, Reporter } from './stats';
import { describeTransportError } from './transport-errors';
import { presignedMqttUrl } from './wss-url';

export type MqttVariant = 'mqtt' | 'mqtt5' | 'alpn' | 'wss';

/** What the device publishes to its telemetry topic when it has received a command. */
export interface CommandAck {
  type: 'ack';
  commandId: string;
  deviceId: string;
  ts: number;
}

/** How many command ids a device remembers to recognise a redelivery. */
const REMEMBERED_COMMANDS = 1000;

export class MqttDevice implements SimulatedDevice {
  readonly protocol = 'mqtt' as const;
  readonly deviceId: string;
  private readonly url: string;
  private readonly client: MqttClient;
  // Kept across reconnects: the QoS 1 messages not yet acknowledged live here.
  private readonly stores = { incomingStore: new mqtt.Store(), outgoingStore: new mqtt.Store() };
  private readonly readings: InFlight;
  private readonly acks: InFlight;
  private readonly answered = new Set<string>();
  private attempt = 0;
  private lastError: unknown;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private announced = false;
  private wasConnected = false;

  constructor(
    identity: DeviceIdentity,
    private readonly stats: FleetStats,
    private readonly reporter: Reporter,
    private readonly variant: MqttVariant = 'mqtt',
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.deviceId = identity.thingName;
    const transport = transportOf(identity, variant, env);
    this.url = transport.url;
    this.readings = new InFlight((ok) =>
      ok ? stats.readings.mqtt.acked++ : stats.readings.mqtt.failed++,
    );
    this.acks = new InFlight((ok) => (ok ? stats.commands.answered++ : stats.commands.failed++));
    this.client = mqtt.connect(this.url, {
      clientId: identity.thingName,
      ca: identity.ca,
      ...transport.options,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      // Reconnects are ours: exponential backoff with jitter rather than a fixed period.
      reconnectPeriod: 0,
      resubscribe: false,
      ...this.stores,
    });
    this.client.on('connect', () => this.onConnect());
    this.client.on('error', (error) => (this.lastError = error));
    this.client.on('close', () => this.onClose());
    this.client.on('message', (_topic, payload) => this.onCommand(payload));
  }

  send(reading: Reading): void {
    this.stats.readings.mqtt.sent++;
    const settle = this.readings.track();
    this.client.publish(
      telemetryTopic(this.deviceId),
      JSON.stringify(reading),
      { qos: 1 },
      (error) => settle(!error),
    );
  }

  idle(): Promise<void> {
    if (!this.client.connected) return Promise.resolve();
    return Promise.all([this.readings.idle(), this.acks.idle()]).then(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const clean = this.client.connected && this.readings.size === 0 && this.acks.size === 0;
    this.readings.abandon();
    this.acks.abandon();
    await new Promise<void>((resolve) => this.client.end(!clean, () => resolve()));
  }

  private report(line: string): void {
    this.reporter.log(`${this.deviceId} (${this.variant}): ${line}`);
  }

  private onConnect(): void {
    const recovered = this.attempt > 0;
    this.attempt = 0;
    this.wasConnected = true;
    this.lastError = undefined;
    const topic = commandTopic(this.deviceId);
    this.client.subscribe(topic, { qos: 1 }, (error, granted) => {
      if (error || granted?.[0]?.qos === 128) {
        this.report(
          `the broker refused the subscription to ${topic}${error ? `: ${error.message}` : ''}`,
        );
      } else if (!this.announced || recovered) {
        this.announced = true;
        this.report(`connected to ${this.url}, listening on ${topic}`);
      }
    });
  }

  private onClose(): void {
    if (this.closing) return;
    const delay = backoffDelay(this.attempt, MQTT_RECONNECT);
    this.attempt += 1;
    const what = this.wasConnected
      ? `lost the connection to ${this.url}`
      : `cannot connect to ${this.url}`;
    const why =
      this.lastError !== undefined
        ? describeTransportError(this.lastError)
        : this.wasConnected
          ? 'the connection closed'
          : // With TLS 1.3 the client sees no alert: the server just closes the connection.
            'it closed the connection before answering CONNECT (did it refuse the device certificate?)';
    this.lastError = undefined;
    this.wasConnected = false;
    this.report(
      `${what}: ${why}; reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${this.attempt})`,
    );
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.closing) this.client.reconnect(this.stores);
    }, delay);
  }

  private onCommand(payload: Buffer): void {
    let command: Partial<DeviceCommand> | undefined;
    try {
      command = JSON.parse(payload.toString('utf8')) as Partial<DeviceCommand>;
    } catch {
      command = undefined;
    }
    const commandId = command?.commandId;
    if (typeof commandId !== 'string' || commandId === '') {
      this.report(
        `ignored a command that is not {commandId, command, issuedAt}: ${payload.toString('utf8').slice(0, 200)}`,
      );
      return;
    }
    // QoS 1 may deliver a command twice; it is answered once.
    if (this.answered.has(commandId)) return;
    this.answered.add(commandId);
    if (this.answered.size > REMEMBERED_COMMANDS) {
      this.answered.delete(this.answered.values().next().value as string);
    }
    this.stats.commands.received++;
    this.report(`command ${commandId} ${JSON.stringify(command?.command)}: sending ack`);
    const ack: CommandAck = { type: 'ack', commandId, deviceId: this.deviceId, ts: Date.now() };
    const settle = this.acks.track();
    this.client.publish(telemetryTopic(this.deviceId), JSON.stringify(ack), { qos: 1 }, (error) =>
      settle(!error),
    );
  }
}

/** Where and how a variant connects. */
function transportOf(
  identity: DeviceIdentity,
  variant: MqttVariant,
  env: NodeJS.ProcessEnv,
): { url: string; options: IClientOptions } {
  const certificate = { cert: identity.cert, key: identity.key };
  if (variant === 'mqtt' || variant === 'mqtt5') {
    return {
      url: `mqtts://${identity.host}:${identity.mqttPort}`,
      options: { ...certificate, protocolVersion: variant === 'mqtt5' ? 5 : 4 },
    };
  }
  const port = identity.alpnPort;
  if (port === undefined) {
    throw new Error(
      `${identity.thingName}: --protocol ${variant} needs ALPN_PORT, the offline IoT Core's ` +
        '443-style port (named in the npm start banner; ALPN_PORT=4443 npm start fixes it)',
    );
  }
  if (variant === 'alpn') {
    return {
      url: `mqtts://${identity.host}:${port}`,
      options: { ...certificate, protocolVersion: 4, ALPNProtocols: ['x-amzn-mqtt-ca'] },
    };
  }
  const signing = webSocketSigning(identity, env);
  const sign = () => presignedMqttUrl({ host: identity.host, port, ...signing });
  return {
    url: sign(),
    // A fresh signature for every (re)connect: a signed URL is good for 15 minutes.
    options: { protocolVersion: 5, transformWsUrl: () => sign() },
  };
}

function webSocketSigning(identity: DeviceIdentity, env: NodeJS.ProcessEnv) {
  if (identity.mode === 'local') {
    return { region: OFFLINE_REGION, credentials: OFFLINE_CREDENTIALS };
  }
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY || !region) {
    throw new Error(
      `${identity.thingName}: --protocol wss on AWS signs with AWS_ACCESS_KEY_ID, ` +
        'AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and AWS_REGION: set them',
    );
  }
  return {
    region,
    credentials: {
      accessKeyId: AWS_ACCESS_KEY_ID,
      secretAccessKey: AWS_SECRET_ACCESS_KEY,
      sessionToken: AWS_SESSION_TOKEN,
    },
  };
}
