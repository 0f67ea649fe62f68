/**
 * The MQTT endpoint of the offline IoT Core: aedes (2.x, MQTT 3.1.1 and 5) behind TLS that
 * requires a client certificate from the local CA that is ACTIVE in the CA's registry (see
 * CertificateGate). As in IoT Core, the certificate stands for the thing it is attached to
 * (whatever its CN), the MQTT client id must be that thing name, QoS 2 is refused, and the
 * broker's limits hold. MQTT 5 clients get IoT Core's limits and reason codes (see ./mqtt5.ts).
 *
 * Connections also arrive from the ALPN listener (`x-amzn-mqtt-ca`, through acceptTlsSocket) and
 * from MQTT over WebSocket (IAM principals with a SigV4-signed URL, through acceptStream).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { CertificateGate, type CertificateRegistry } from '../identity';
import { MAX_CLIENT_ID_BYTES, publishProblem, subscribeProblem } from '../limits';
import type { Decision, IotAction } from '../policy';
import {
  MAXIMUM_PACKET_SIZE,
  MESSAGE_EXPIRY_LIMIT_SECONDS,
  PENDING_SESSIONS_LIMIT,
  REASON,
  RECEIVE_MAXIMUM,
  SESSION_EXPIRY_LIMIT_SECONDS,
  TOPIC_ALIAS_MAXIMUM,
  messagePropertiesOf,
  type MessageProperties,
} from './mqtt5';
import { SharedSubscriptions } from './shared-subscriptions';

export interface TlsMaterial {
  key: string;
  cert: string;
  ca: string;
}

/** Who is on the other end of a connection. */
export interface DeviceIdentity {
  /** The thing the certificate is attached to; the client id on the plain local-tools listener. */
  thingName: string;
  /** IoT Core's certificate id (SHA-256 of the DER); undefined on the plain local-tools listener. */
  certificateId: string | undefined;
  /** The certificate's subject CN, which need not be the thing name. */
  commonName?: string | undefined;
  /** The IAM access key of a client signed in with SigV4 (MQTT over WebSocket). */
  iamAccessKeyId?: string | undefined;
}

export interface PublishedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  clientId: string | undefined;
  identity: DeviceIdentity | undefined;
  /** 5 for MQTT 5, 4 for 3.1.1. */
  protocolVersion: number;
  /** The MQTT 5 properties (user properties, content type, response topic…); MQTT 5 only. */
  properties?: MessageProperties | undefined;
}

export interface MqttEndpointOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  /** A plain-TCP listener for trusted local tools; off unless a port is given. */
  plainPort?: number;
  /** Every message a connected client publishes (not those published through publish()). */
  onClientPublish?: (message: PublishedMessage) => void;
  /**
   * Takes each permitted client message before the broker acknowledges it: the QoS 1 PUBACK is
   * sent, and the connection's next packets read, only once the promise resolves (back-pressure
   * from the rules engine); a rejection is answered like a refused publish (disconnect).
   */
  acceptPublish?: (message: PublishedMessage) => Promise<void>;
  /**
   * The device policy, asked on connect, publish, subscribe and receive. Clients of the plain
   * local-tools listener are trusted and not asked. Without it, everything is allowed.
   */
  authorize?: (
    action: IotAction,
    target: string,
    client: { clientId: string; identity: DeviceIdentity },
  ) => Decision;
  onDenied?: (decision: Decision) => void;
  /**
   * The local CA's certificate registry: only ACTIVE certificates connect, and connections whose
   * certificate leaves ACTIVE are closed. Without it, any certificate of the CA whose CN is a thing
   * name connects as that thing.
   */
  certificates?: CertificateRegistry;
  /** How often connected certificates are checked again (default 1 s). */
  certificateRecheckMs?: number;
  /** Told about each certificate refused or disconnected, with the reason. */
  onCertificateRefused?: (reason: string) => void;
}

export interface MqttEndpoint {
  broker: Aedes;
  port: number;
  plainPort: number | undefined;
  identityOf(client: Client): DeviceIdentity | undefined;
  /**
   * A TLS connection that another listener accepted (ALPN `x-amzn-mqtt-ca` on the 443-style
   * port): admitted by its client certificate exactly as on this endpoint's own port.
   */
  acceptTlsSocket(socket: tls.TLSSocket): void;
  /**
   * A connection whose principal is already authenticated (MQTT over WebSocket, signed with
   * SigV4). Its client id may be anything; the IoT policy is not asked (see README: an IAM
   * principal's permissions are its IAM policy), IoT Core's limits are.
   */
  acceptStream(stream: Duplex, identity: Omit<DeviceIdentity, 'thingName'>): void;
  /** Publishes on behalf of the cloud (HTTPS devices, the data plane). */
  publish(message: { topic: string; payload: Buffer; qos: 0 | 1; retain?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;
const MQTT_5 = 5;

export async function startMqttEndpoint(options: MqttEndpointOptions): Promise<MqttEndpoint> {
  const identities = new WeakMap<Client, DeviceIdentity>();
  const plainConnections = new WeakSet<object>();
  const shared = new SharedSubscriptions();
  /** WebSocket connections, by the principal their signature names. */
  const iamConnections = new WeakMap<object, Omit<DeviceIdentity, 'thingName'>>();
  const gate = new CertificateGate({
    registry: options.certificates,
    recheckMs: options.certificateRecheckMs,
    onRefused: options.onCertificateRefused,
  });
  /** Whether the policy allows `client` this action; logs the reason when it does not. */
  const allowed = (client: Client, action: IotAction, target: string): boolean => {
    const identity = identities.get(client);
    if (!options.authorize || !identity || plainConnections.has(client.conn)) return true;
    if (identity.iamAccessKeyId !== undefined) return true;
    const decision = options.authorize(action, target, { clientId: client.id, identity });
    if (!decision.allowed) options.onDenied?.(decision);
    return decision.allowed;
  };

  const broker = await Aedes.createBroker({
    // Client ids may be up to 128 bytes in IoT Core; aedes's own default is lower.
    maxClientsIdLength: MAX_CLIENT_ID_BYTES + 1,
    // IoT Core's MQTT 5 limits, advertised in the CONNACK and enforced.
    topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    maximumPacketSize: MAXIMUM_PACKET_SIZE,
    receiveMaximum: RECEIVE_MAXIMUM,
    sessionExpiryIntervalLimit: SESSION_EXPIRY_LIMIT_SECONDS,
    pendingSessionsLimit: PENDING_SESSIONS_LIMIT,
    authenticate(client, _username, _password, done) {
      const refuse = (message: string, code: number) =>
        done(Object.assign(new Error(message), { returnCode: code }) as AuthenticateError, false);
      if (Buffer.byteLength(client.id ?? '', 'utf8') > MAX_CLIENT_ID_BYTES) {
        return refuse(`client id longer than ${MAX_CLIENT_ID_BYTES} bytes`, IDENTIFIER_REJECTED);
      }
      if (plainConnections.has(client.conn)) {
        identities.set(client, { thingName: client.id, certificateId: undefined });
        return done(null, true);
      }
      const iam = iamConnections.get(client.conn);
      if (iam) {
        identities.set(client, { ...iam, thingName: client.id });
        return done(null, true);
      }
      // Admitted when the TLS handshake completed (the gate closed every other connection).
      const certificate = gate.identityOf(client.conn);
      if (!certificate) return refuse('the certificate was not admitted', NOT_AUTHORIZED);
      const { thingName } = certificate;
      if (client.id !== thingName) {
        return refuse(
          `client id "${client.id}" is not the thing "${thingName}" the certificate is attached to`,
          NOT_AUTHORIZED,
        );
      }
      identities.set(client, certificate);
      if (!allowed(client, 'iot:Connect', client.id)) {
        return refuse(`the policy does not allow client "${client.id}" to connect`, NOT_AUTHORIZED);
      }
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the cloud's own publishes were checked where they entered
      const mqtt5 = client.version === MQTT_5;
      if (packet.qos === 2) {
        const error = new Error('QoS 2 is not supported by AWS IoT Core');
        // MQTT 5: DISCONNECT 0x9B (QoS not supported), as the CONNACK's Maximum QoS promises.
        if (mqtt5) return disconnect(client, REASON.QOS_NOT_SUPPORTED, error.message, done);
        return done(error);
      }
      // MQTT 5 refusals below are answered as aedes 2 does and IoT Core documents ("MQTT reason
      // codes"): a QoS 1 PUBACK with 0x87 and a reason string, the connection kept; QoS 0 dropped.
      // MQTT 3.1.1 has no such answer: IoT Core disconnects, and so does done(error).
      const problem = publishProblem(packet.topic, packet.payload.length);
      if (problem) return done(new Error(problem));
      const permitted =
        allowed(client, 'iot:Publish', packet.topic) &&
        (!packet.retain || allowed(client, 'iot:RetainPublish', packet.topic));
      if (!permitted)
        return done(new Error(`publishing to "${packet.topic}" is not allowed by the policy`));
      const expiry = packet.properties?.messageExpiryInterval;
      if (expiry !== undefined && expiry > MESSAGE_EXPIRY_LIMIT_SECONDS && packet.properties)
        packet.properties.messageExpiryInterval = MESSAGE_EXPIRY_LIMIT_SECONDS;
      if (!options.acceptPublish) return done(null);
      options.acceptPublish(publishedMessage(packet, client)).then(
        () => done(null),
        (error: Error) =>
          // Not taken (the cloud is stopping): no PUBACK, so the device sends it again later.
          mqtt5
            ? disconnect(client, REASON.SERVER_SHUTTING_DOWN, error.message, done)
            : done(error),
      );
    },
    authorizeSubscribe(client, subscription, done) {
      // IoT Core does not support MQTT 5 Subscription Identifiers ("AWS IoT differences from
      // MQTT specifications"): DISCONNECT 0xA1 (Subscription Identifiers not supported).
      if ((subscription as { subscriptionIdentifier?: number }).subscriptionIdentifier) {
        return disconnect(
          client,
          0xa1,
          'Subscription Identifiers are not supported by AWS IoT Core',
          (error) => done(error ?? null, null),
        );
      }
      // A refused subscription is answered with the SUBACK failure code 0x80 (MQTT 5: 0x87).
      // A shared one is asked about as the client wrote it: `$share/{group}/{filter}`.
      const asWritten = shared.sharedFilterOf(client, subscription.topic) ?? subscription.topic;
      if (
        subscription.qos === 2 ||
        subscribeProblem(subscription.topic) ||
        !allowed(client, 'iot:Subscribe', asWritten)
      ) {
        shared.refuse(client, subscription.topic);
        return done(null, null);
      }
      done(null, subscription);
    },
    authorizeForward(client, packet) {
      // A shared subscription's message goes to one member of its group.
      if (!shared.delivers(client, packet)) return null;
      // A message the policy does not let this client receive is silently not delivered.
      if (packet.topic.startsWith('$SYS') || allowed(client, 'iot:Receive', packet.topic))
        return packet;
      return null;
    },
  });

  broker.on('publish', (packet, client) => {
    if (!client || !options.onClientPublish) return;
    options.onClientPublish(publishedMessage(packet, client));
  });
  function publishedMessage(packet: PublishPacket, client: Client): PublishedMessage {
    return {
      topic: packet.topic,
      payload: Buffer.from(packet.payload),
      qos: packet.qos === 1 ? 1 : 0,
      retain: packet.retain,
      clientId: client.id,
      identity: identities.get(client),
      protocolVersion: client.version ?? 4,
      properties: messagePropertiesOf(packet.properties),
    };
  }
  /** MQTT 5: tells the client why with a DISCONNECT reason code, then ends the packet. */
  function disconnect(
    client: Client,
    reasonCode: number,
    reasonString: string,
    done: (error?: Error | null) => void,
  ): void {
    client.disconnect({ reasonCode, properties: { reasonString } }, () =>
      done(new Error(reasonString)),
    );
  }

  /** Every connection enters here: `$share/…` filters are rewritten before aedes reads them. */
  function handle(stream: Duplex): void {
    const client = broker.handle(stream);
    const parser = (client as unknown as { _parser: NodeJS.EventEmitter })._parser;
    parser.prependListener('packet', (packet: Record<string, unknown>) =>
      shared.rewrite(client, packet),
    );
    stream.once('close', () => shared.forget(client));
  }

  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const tlsServer = tls.createServer(
    {
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (socket) => acceptTlsSocket(socket),
  );
  function acceptTlsSocket(socket: tls.TLSSocket): void {
    track(socket);
    if (gate.admit(socket).outcome !== 'admitted') {
      socket.destroy();
      return;
    }
    handle(socket);
  }
  const port = await listen(tlsServer, options.host, options.port);

  let plainServer: net.Server | undefined;
  let plainPort: number | undefined;
  if (options.plainPort !== undefined) {
    plainServer = net.createServer((socket) => {
      track(socket);
      plainConnections.add(socket);
      handle(socket);
    });
    plainPort = await listen(plainServer, options.host, options.plainPort);
  }

  return {
    broker,
    port,
    plainPort,
    identityOf: (client) => identities.get(client),
    acceptTlsSocket,
    acceptStream: (stream, identity) => {
      iamConnections.set(stream, identity);
      handle(stream);
    },
    publish: ({ topic, payload, qos, retain = false }) =>
      new Promise((resolve, reject) =>
        broker.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false }, (error) =>
          error ? reject(error) : resolve(),
        ),
      ),
    stop: async () => {
      gate.stop();
      for (const socket of sockets) socket.destroy();
      await Promise.all([close(tlsServer), plainServer ? close(plainServer) : undefined]);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

export function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
