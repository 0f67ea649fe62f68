/**
 * The HTTPS device endpoint of the offline IoT Core (8443): a device POSTs a message with its
 * client certificate, exactly as to `https://{endpoint}:8443/topics/{topic}?qos=1` in AWS.
 */
import https from 'node:https';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { certificateIdOf, thingNameFromCertificate } from '../identity';
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
}

export interface DeviceHttpsEndpoint {
  port: number;
  stop(): Promise<void>;
}

export async function startDeviceHttpsEndpoint(
  options: DeviceHttpsOptions,
): Promise<DeviceHttpsEndpoint> {
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
    async (request, response) => {
      const socket = request.socket as TLSSocket;
      const certificate = socket.authorized ? socket.getPeerCertificate(false) : undefined;
      const thingName = thingNameFromCertificate(certificate);
      if (!thingName || !certificate?.raw) {
        request.resume();
        return answer(response, 403, 'Forbidden');
      }
      try {
        const publish = await readPublishRequest(request);
        const identity = { thingName, certificateId: certificateIdOf(certificate.raw) };
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
    },
  );
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server, options.host, options.port);
  return {
    port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await close(server);
    },
  };
}
