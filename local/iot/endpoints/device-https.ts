/**
 * The HTTPS device endpoint of the offline IoT Core (8443): a device POSTs a message with its
 * client certificate, exactly as to `https://{endpoint}:8443/topics/{topic}?qos=1` in AWS.
 * A certificate of the local CA that is not ACTIVE in its registry is refused at the TLS step, as
 * on the MQTT endpoint (see CertificateGate); no certificate, or a foreign one, gets 403.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CertificateGate, type CertificateRegistry } from '../identity';
import type { DeviceIdentity, TlsMaterial } from '../broker/mqtt-endpoint';
import { close, listen } from '../broker/mqtt-endpoint';
import {
  answer,
  PublishRequestError,
  readPublishRequest,
  type PublishRequest,
} from './publish-request';

export interface DeviceHttpsOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  publish(request: PublishRequest, identity: DeviceIdentity): Promise<void>;
  /** The device policy for the HTTPS publish; without it, everything is allowed. */
  authorizePublish?: (topic: string, identity: DeviceIdentity, retain: boolean) => boolean;
  /** The local CA's certificate registry (see MqttEndpointOptions.certificates). */
  certificates?: CertificateRegistry;
  certificateRecheckMs?: number;
  onCertificateRefused?: (reason: string) => void;
}

export interface DeviceHttpsEndpoint {
  port: number;
  /**
   * A TLS connection another listener accepted (ALPN `x-amzn-http-ca` on the 443-style port):
   * admitted and answered exactly as on this endpoint's own port.
   */
  acceptTlsSocket(socket: TLSSocket): void;
  stop(): Promise<void>;
}

export async function startDeviceHttpsEndpoint(
  options: DeviceHttpsOptions,
): Promise<DeviceHttpsEndpoint> {
  const gate = new CertificateGate({
    registry: options.certificates,
    recheckMs: options.certificateRecheckMs,
    onRefused: options.onCertificateRefused,
  });
  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const identity = gate.identityOf(request.socket as TLSSocket);
    if (!identity) {
      request.resume();
      return answer(response, 403, 'Forbidden');
    }
    try {
      const publish = await readPublishRequest(request);
      if (
        options.authorizePublish &&
        !options.authorizePublish(publish.topic, identity, publish.retain)
      ) {
        return answer(response, 403, 'Forbidden');
      }
      await options.publish(publish, identity);
      answer(response, 200, 'OK');
    } catch (error) {
      if (error instanceof PublishRequestError)
        return answer(response, error.status, error.message);
      answer(response, 500, 'Internal error');
    }
  };
  const server = https.createServer(
    {
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.tls.ca,
      requestCert: true,
      // Checked per request, so a missing or foreign certificate gets IoT Core's 403, not a reset.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    handle,
  );
  // HTTP over TLS sockets that the ALPN listener already decrypted.
  const alpnServer = http.createServer(handle);
  const sockets = new Set<net.Socket>();
  const admit = (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Synchronously, before the HTTP parser has read a byte of the request.
    gate.admit(socket);
  };
  server.on('secureConnection', admit);
  const port = await listen(server, options.host, options.port);
  return {
    port,
    acceptTlsSocket: (socket) => {
      admit(socket);
      if (!socket.destroyed) alpnServer.emit('connection', socket);
    },
    stop: async () => {
      gate.stop();
      for (const socket of sockets) socket.destroy();
      await close(server);
      alpnServer.close();
    },
  };
}
