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
 *
 * A client certificate is asked for only when the ClientHello names one of IoT Core's ALPN
 * protocols: browsers cancel a WebSocket whose server asks for a certificate they do not have
 * (Chromium: "WebSocket opening handshake was canceled"). So the ClientHello is read first and
 * the connection handed to one of two TLS servers, with and without the certificate request.
 */
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
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

  const tlsServer = (requestCert: boolean) => {
    const server = tls.createServer({
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.tls.ca,
      // Checked by the endpoint behind, exactly as on its own port (403, or no CONNACK).
      requestCert,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: requestCert ? [ALPN_MQTT, ALPN_HTTPS] : ['http/1.1'],
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
    return server;
  };
  const withCertificate = tlsServer(true);
  const withoutCertificate = tlsServer(false);
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
    void readClientHello(raw).then((hello) => {
      if (!hello) return raw.destroy();
      const iotProtocol = hello.protocols.some((p) => p === ALPN_MQTT || p === ALPN_HTTPS);
      (iotProtocol ? withCertificate : withoutCertificate).emit('connection', hello.stream);
    });
  });
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

const MAX_HELLO_BYTES = 16 * 1024 + 5;

/**
 * Reads the first TLS record (the ClientHello) and the ALPN protocols it offers; resolves with a
 * stream that replays it, for the TLS server. Undefined when the connection ends first.
 */
function readClientHello(
  raw: net.Socket,
): Promise<{ protocols: string[]; stream: Duplex } | undefined> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const length = buffered.length >= 5 ? buffered.readUInt16BE(3) + 5 : Infinity;
      if (buffered.length < Math.min(length, MAX_HELLO_BYTES)) return;
      raw.off('data', onData);
      raw.off('close', onClose);
      raw.pause();
      resolve({ protocols: alpnProtocols(buffered), stream: replaying(raw, buffered) });
    };
    const onClose = () => resolve(undefined);
    raw.on('data', onData);
    raw.once('close', onClose);
  });
}

/** A duplex over `raw` that first yields `head` (bytes already read from it). */
function replaying(raw: net.Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read: () => raw.resume(),
    write: (chunk: Buffer, _encoding, callback) => raw.write(chunk, callback),
    final: (callback) => raw.end(callback),
    destroy: (error, callback) => {
      raw.destroy();
      callback(error);
    },
  });
  stream.push(head);
  raw.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) raw.pause();
  });
  raw.once('end', () => stream.push(null));
  raw.once('close', () => stream.destroy());
  raw.on('error', () => stream.destroy());
  return stream;
}

/** The ALPN protocol names of a ClientHello record (RFC 8446 §4.1.2, RFC 7301); [] if none. */
export function alpnProtocols(record: Buffer): string[] {
  try {
    if (record[0] !== 0x16 || record[5] !== 0x01) return [];
    let at = 5 + 4 + 2 + 32; // record header, handshake header, version, random
    at += 1 + record.readUInt8(at); // session id
    at += 2 + record.readUInt16BE(at); // cipher suites
    at += 1 + record.readUInt8(at); // compression methods
    const end = at + 2 + record.readUInt16BE(at);
    at += 2;
    while (at + 4 <= end) {
      const type = record.readUInt16BE(at);
      const length = record.readUInt16BE(at + 2);
      at += 4;
      if (type === 0x0010) {
        const names: string[] = [];
        let cursor = at + 2;
        while (cursor < at + length) {
          const size = record.readUInt8(cursor);
          names.push(record.toString('latin1', cursor + 1, cursor + 1 + size));
          cursor += 1 + size;
        }
        return names;
      }
      at += length;
    }
  } catch {
    // A malformed or truncated hello: no ALPN; the TLS server then refuses it properly.
  }
  return [];
}
