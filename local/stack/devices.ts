/** Devices for tests and the bench: certificates from a stack's local CA, and mqtt.js clients that use them. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import https from 'node:https';
import { ensureLocalCa, issueDeviceCertificate } from '../iot/identity';

export interface DeviceCredentials {
  thingName: string;
  ca: string;
  cert: string;
  key: string;
}

export function deviceCredentials(localCloudDir: string, thingName: string): DeviceCredentials {
  const ca = ensureLocalCa(localCloudDir);
  const issued = issueDeviceCertificate(ca, thingName);
  return {
    thingName,
    ca: ca.certificatePem,
    cert: issued.certificatePem,
    key: issued.privateKeyPem,
  };
}

export function connectDevice(
  port: number,
  credentials: Partial<DeviceCredentials> & { ca: string },
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://localhost:${port}`, {
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
    clientId: credentials.thingName,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
  // A refused TLS handshake can end in a bare 'close' with no 'error': that is a failure too.
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(new Error('connection closed before CONNACK'));
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('connect', () => {
      client.off('error', onError);
      client.off('close', onClose);
      resolve(client);
    });
    client.once('error', onError);
    client.once('close', onClose);
  });
}

export interface HttpsAnswer {
  status: number;
  body: string;
}

/** POST /topics/{topic}?… as a device (or, without cert/key, as a stranger) would. */
export function httpsPublish(
  port: number,
  path: string,
  body: string | Buffer,
  credentials: Partial<DeviceCredentials> & { ca: string },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: 'localhost',
        port,
        path,
        method: 'POST',
        ca: credentials.ca,
        cert: credentials.cert,
        key: credentials.key,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Publishes once and resolves when the broker closes the connection for it (as IoT Core does). */
export async function publishExpectingDisconnect(
  port: number,
  credentials: DeviceCredentials,
  topic: string,
  payload: string | Buffer,
  qos: 0 | 1 | 2 = 1,
): Promise<void> {
  const device = await connectDevice(port, credentials);
  const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
  device.publish(topic, payload, { qos });
  await closed;
  device.end(true);
}
