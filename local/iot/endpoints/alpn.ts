/**
 * IoT Core's port 443, offline: one TLS listener that dispatches each connection by the ALPN
 * protocol the client asks for (AWS IoT Core Developer Guide, "Device communication protocols" →
 * "Protocols, port mappings, and authentication"):
 *
 * - `x-amzn-mqtt-ca`: MQTT with a client certificate, handed to the MQTT endpoint (as on 8883);
 * - `x-amzn-http-ca`: the HTTPS publish with a client certificate, handed to the device HTTPS
 *   endpoint (as on 8443);
 * - no ALPN or `http/1.1`: MQTT over WebSocket (`wss://host:port/mqtt`), which IoT Core
 *   authenticates by a SigV4-signed URL (IAM principals); no client certificate is asked for.
 *
 * Every rule of the endpoints behind it holds unchanged: the certificate registry, the policy,
 * the limits and the rules' back-pressure.
 */
import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { MqttEndpoint, TlsMaterial } from '../broker/mqtt-endpoint';
import { close, listen } from '../broker/mqtt-endpoint';
import type { DeviceHttpsEndpoint } from './device-https';

export const ALPN_MQTT = 'x-amzn-mqtt-ca';
export const ALPN_HTTPS = 'x-amzn-http-ca';
/** The path IoT Core serves MQTT over WebSocket on. */
export const WEBSOCKET_PATH = '/mqtt';

export type WebSocketVerdict =
  { ok: true; accessKeyId: string } | { ok: false; status: number; message: string };

export interface AlpnEndpointOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  mqtt: MqttEndpoint;
  https: DeviceHttpsEndpoint;
  /** Checks a WebSocket upgrade's SigV4-signed URL. */
  verifyWebSocket(request: http.IncomingMessage): WebSocketVerdict | Promise<WebSocketVerdict>;
  /** Told about each refused WebSocket upgrade, with the reason. */
  onRefused?: (reason: string) => void;
}

export interface AlpnEndpoint {
  port: number;
  stop(): Promise<void>;
}

export async function startAlpnEndpoint(options: AlpnEndpointOptions): Promise<AlpnEndpoint> {
  const sockets = new Set<net.Socket>();
  const webSockets = new WebSocketServer({
    noServer: true,
    // The MQTT over WebSocket subprotocol (MQTT 3.1.1 §6, MQTT 5.0 §6).
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    maxPayload: 256 * 1024,
  });
  const web = http.createServer((_request, response) => {
    // Plain HTTPS requests on 443 without ALPN are not a device publish: IoT Core wants
    // `x-amzn-http-ca` for that, or a WebSocket upgrade on /mqtt.
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ message: 'Not Found: use ALPN x-amzn-http-ca or wss://…/mqtt' }));
  });
  web.on('upgrade', async (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const refuse = (status: number, message: string) => {
      options.onRefused?.(`MQTT over WebSocket refused (${status}): ${message}`);
      const body = JSON.stringify({ message });
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    const url = new URL(request.url ?? '/', 'https://localhost');
    if (url.pathname !== WEBSOCKET_PATH) return refuse(404, `No such path: ${url.pathname}`);
    let verdict: WebSocketVerdict;
    try {
      verdict = await options.verifyWebSocket(request);
    } catch (error) {
      return refuse(500, String(error));
    }
    if (!verdict.ok) return refuse(verdict.status, verdict.message);
    webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      const stream = createWebSocketStream(webSocket);
      // A stream error (the browser went away) ends the MQTT connection, nothing else.
      stream.on('error', () => stream.destroy());
      options.mqtt.acceptStream(stream, {
        certificateId: undefined,
        iamAccessKeyId: verdict.accessKeyId,
      });
    });
  });

  const server = tls.createServer({
    key: options.tls.key,
    cert: options.tls.cert,
    ca: options.tls.ca,
    // Asked for, not required: WebSocket clients sign with SigV4 instead; the MQTT and HTTPS
    // endpoints check the certificate exactly as on their own ports.
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ALPNProtocols: [ALPN_MQTT, ALPN_HTTPS, 'http/1.1'],
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (socket.alpnProtocol === ALPN_MQTT) return options.mqtt.acceptTlsSocket(socket);
    if (socket.alpnProtocol === ALPN_HTTPS) return options.https.acceptTlsSocket(socket);
    web.emit('connection', socket);
  });
  // A failed handshake (no common ALPN protocol, a foreign certificate) ends that socket only.
  server.on('tlsClientError', () => undefined);
  const port = await listen(server, options.host, options.port);
  return {
    port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      for (const client of webSockets.clients) client.terminate();
      await close(server);
      web.close();
    },
  };
}
