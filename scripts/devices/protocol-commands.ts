/**
 * The device-side command line for each of IoT Core's device protocols, for a device folder:
 * what `device:create --protocol P` prints and the README shows. Clients nobody here wrote:
 * mosquitto_pub (MQTT 3.1.1, MQTT 5, ALPN), curl (HTTPS), mqtt.js (MQTT over WebSocket).
 */
import path from 'node:path';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { presignedMqttUrl } from '../simulator/wss-url';
import { CERTIFICATE_FILE, PRIVATE_KEY_FILE, type DeviceConfig } from './device-folder';

export const DEVICE_PROTOCOLS = ['mqtt', 'mqtt5', 'https', 'alpn', 'wss'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];

export interface CommandLineRequest {
  protocol: DeviceProtocol;
  folder: string;
  config: DeviceConfig;
  /** IoT Core's 443: 443 on AWS, ALPN_PORT offline. */
  alpnPort: number | undefined;
  /** For wss on AWS: the IAM credentials and region the URL is signed with. */
  env?: NodeJS.ProcessEnv;
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Lines to print: a comment saying what it is, then the command. */
export function deviceCommandLine(request: CommandLineRequest): string[] {
  const { protocol, folder, config } = request;
  const file = (name: string) => quote(path.join(folder, name));
  const topic = `devices/${config.thingName}/telemetry`;
  const reading = quote(JSON.stringify({ temperature: 21.5 }));
  const tls = [
    `--cafile ${file(config.rootCa)}`,
    `--cert ${file(CERTIFICATE_FILE)}`,
    `--key ${file(PRIVATE_KEY_FILE)}`,
  ].join(' ');
  const mosquitto = (port: number, extra: string) =>
    `mosquitto_pub -h ${config.endpoint} -p ${port} ${tls} -i ${config.thingName} ${extra}` +
    `-q 1 -t ${topic} -m ${reading}`;
  switch (protocol) {
    case 'mqtt':
      return ['# MQTT 3.1.1 with the device certificate', mosquitto(config.mqttPort, '')];
    case 'mqtt5':
      return [
        '# MQTT 5 with the device certificate, a user property and a content type',
        mosquitto(
          config.mqttPort,
          '-V mqttv5 -D publish user-property firmware 1.0 -D publish content-type application/json ',
        ),
      ];
    case 'https':
      return [
        '# HTTPS publish with the device certificate',
        `curl --cacert ${file(config.rootCa)} --cert ${file(CERTIFICATE_FILE)} --key ${file(PRIVATE_KEY_FILE)} ` +
          `-X POST -d ${reading} 'https://${config.endpoint}:${config.httpsPort}/topics/${topic}?qos=1'`,
      ];
    case 'alpn': {
      const port = requirePort(request);
      return [
        `# MQTT on IoT Core's 443 (here ${port}) with ALPN x-amzn-mqtt-ca and the device certificate`,
        mosquitto(port, '--tls-alpn x-amzn-mqtt-ca -V mqttv5 '),
      ];
    }
    case 'wss': {
      const port = requirePort(request);
      const signing = webSocketSigning(config, request.env ?? process.env);
      const url = presignedMqttUrl({ host: config.endpoint, port, ...signing });
      return [
        '# MQTT 5 over WebSocket as an IAM principal (mqtt.js); the URL is SigV4-signed, good for 15 minutes',
        `node --input-type=module -e "import mqtt from 'mqtt'; import fs from 'node:fs'; ` +
          `const c = mqtt.connect(process.argv[1], { protocolVersion: 5, clientId: '${config.thingName}', ` +
          `ca: fs.readFileSync(process.argv[2]) }); c.on('connect', () => c.publish('${topic}', ` +
          `'{\\"temperature\\":21.5}', { qos: 1 }, () => c.end())); c.on('error', (e) => { console.error(e.message); process.exit(1); });" ` +
          `${quote(url)} ${file(config.rootCa)}`,
      ];
    }
  }
}

function requirePort({ config, alpnPort }: CommandLineRequest): number {
  if (alpnPort !== undefined) return alpnPort;
  if (config.mode === 'aws') return 443;
  throw new Error(
    "set ALPN_PORT to the offline IoT Core's 443-style port (the npm start banner names it; " +
      'ALPN_PORT=4443 npm start fixes it)',
  );
}

function webSocketSigning(config: DeviceConfig, env: NodeJS.ProcessEnv) {
  if (config.mode === 'local') return { region: OFFLINE_REGION, credentials: OFFLINE_CREDENTIALS };
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY || !region) {
    throw new Error(
      'wss on AWS signs the URL with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and ' +
        'AWS_SESSION_TOKEN) and AWS_REGION: set them',
    );
  }
  return {
    region,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN,
    },
  };
}
