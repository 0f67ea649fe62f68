/**
 * The MQTT endpoint of the offline IoT Core: aedes behind TLS that requires a client certificate
 * from the local CA that is ACTIVE in the CA's registry (see CertificateGate). As in IoT Core, the
 * certificate stands for the thing it is attached to (whatever its CN), the MQTT client id must be
 * that thing name, QoS 2 is refused, and the broker's limits hold.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { CertificateGate, type CertificateRegistry } from '../identity';
import { MAX_CLIENT_ID_BYTES, publishProblem, subscribeProblem } from '../limits';
import type { Decision, IotAction } from '../policy';

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
}

export interface PublishedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  clientId: string | undefined;
  identity: DeviceIdentity | undefined;
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
  /** Publishes on behalf of the cloud (HTTPS devices, the data plane). */
  publish(message: { topic: string; payload: Buffer; qos: 0 | 1; retain?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

export async function startMqttEndpoint(options: MqttEndpointOptions): Promise<MqttEndpoint> {
  const identities = new WeakMap<Client, DeviceIdentity>();
  const plainConnections = new WeakSet<object>();
  const gate = new CertificateGate({
    registry: options.certificates,
    recheckMs: options.certificateRecheckMs,
    onRefused: options.onCertificateRefused,
  });
  /** Whether the policy allows `client` this action; logs the reason when it does not. */
  const allowed = (client: Client, action: IotAction, target: string): boolean => {
    const identity = identities.get(client);
    if (!options.authorize || !identity || plainConnections.has(client.conn)) return true;
    const decision = options.authorize(action, target, { clientId: client.id, identity });
    if (!decision.allowed) options.onDenied?.(decision);
    return decision.allowed;
  };

  const broker = await Aedes.createBroker({
    // Client ids may be up to 128 bytes in IoT Core; aedes's own default is lower.
    maxClientsIdLength: MAX_CLIENT_ID_BYTES + 1,
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
      if (packet.qos === 2) return done(new Error('QoS 2 is not supported by AWS IoT Core'));
      const problem = publishProblem(packet.topic, packet.payload.length);
      if (problem) return done(new Error(problem));
      const permitted =
        allowed(client, 'iot:Publish', packet.topic) &&
        (!packet.retain || allowed(client, 'iot:RetainPublish', packet.topic));
      // IoT Core disconnects an MQTT 3.1.1 client that publishes where it may not.
      if (!permitted)
        return done(new Error(`publishing to "${packet.topic}" is not allowed by the policy`));
      if (!options.acceptPublish) return done(null);
      options.acceptPublish(publishedMessage(packet, client)).then(() => done(null), done);
    },
    authorizeSubscribe(client, subscription, done) {
      // A refused subscription is answered with the SUBACK failure code 0x80, as IoT Core does.
      if (subscription.qos === 2 || subscribeProblem(subscription.topic)) return done(null, null);
      if (!allowed(client, 'iot:Subscribe', subscription.topic)) return done(null, null);
      done(null, subscription);
    },
    authorizeForward(client, packet) {
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
    };
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
    (socket) => {
      track(socket);
      if (gate.admit(socket).outcome !== 'admitted') {
        socket.destroy();
        return;
      }
      broker.handle(socket);
    },
  );
  const port = await listen(tlsServer, options.host, options.port);

  let plainServer: net.Server | undefined;
  let plainPort: number | undefined;
  if (options.plainPort !== undefined) {
    plainServer = net.createServer((socket) => {
      track(socket);
      plainConnections.add(socket);
      broker.handle(socket);
    });
    plainPort = await listen(plainServer, options.host, options.plainPort);
  }

  return {
    broker,
    port,
    plainPort,
    identityOf: (client) => identities.get(client),
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
