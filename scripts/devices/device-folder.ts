/**
 * A device's folder, the same in both clouds: what a device (or the simulator) needs to connect.
 *   <devicesDir>/<thingName>/certificate.pem.crt   device certificate
 *   <devicesDir>/<thingName>/private.pem.key       its private key (mode 0600)
 *   <devicesDir>/<thingName>/root-ca.pem           the root CA to trust (AmazonRootCA1.pem on AWS)
 *   <devicesDir>/<thingName>/device.json           DeviceConfig: where and how to connect
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLocalCloudDir, writeKeyDirectory } from '../../local/iot/identity/index';

export type DeviceMode = 'local' | 'aws';

export interface DeviceConfig {
  thingName: string;
  mode: DeviceMode;
  stage?: string;
  /** Host name of the MQTT broker and HTTPS endpoint. */
  endpoint: string;
  mqttPort: number;
  httpsPort: number;
  /** File name, in the device folder, of the root CA the device trusts. */
  rootCa: string;
  certificateId: string;
  certificateArn?: string;
}

export const CERTIFICATE_FILE = 'certificate.pem.crt';
export const PRIVATE_KEY_FILE = 'private.pem.key';
export const CONFIG_FILE = 'device.json';
export const LOCAL_ROOT_CA_FILE = 'root-ca.pem';
export const AWS_ROOT_CA_FILE = 'AmazonRootCA1.pem';

export interface DeviceIdentity {
  config: DeviceConfig;
  certificatePem: string;
  privateKeyPem: string;
  rootCaPem: string;
}

export interface CreatedDevice {
  folder: string;
  config: DeviceConfig;
}

export type DeviceTarget = { mode: 'local' } | { mode: 'aws'; stage: string };

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Local devices live beside the local CA (`<local cloud dir>/devices`); AWS devices under
 * `<repo>/certs/<stage>`. Both are ignored by git.
 */
export function defaultDevicesDir(
  target: DeviceTarget,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return target.mode === 'local'
    ? path.join(defaultLocalCloudDir(env), 'devices')
    : path.join(REPOSITORY_ROOT, 'certs', target.stage);
}

export function deviceFolder(devicesDir: string, thingName: string): string {
  return path.join(devicesDir, thingName);
}

/** Fails before anything is created when the device already has a folder. */
export function assertNoDeviceFolder(devicesDir: string, thingName: string): void {
  const folder = deviceFolder(devicesDir, thingName);
  if (fs.existsSync(folder)) throw new Error(alreadyExists(folder, thingName));
}

/** What to run instead: use the device as it is, re-issue it, or make another. */
function alreadyExists(folder: string, thingName: string): string {
  return (
    `${folder} already exists; pass --force to re-issue the device. Instead:\n` +
    `  use it as it is:    cd ${folder}\n` +
    `  re-issue it:        npm run device:create -- --thing ${thingName} --force\n` +
    `  make another:       npm run device:create -- --thing my-sensor\n` +
    `(npm start's simulated fleet uses sensor-1…N itself.)`
  );
}

/**
 * Writes the device folder in one step (see writeKeyDirectory): either all four files are there,
 * or none. Without `replace`, an existing folder is an error.
 */
export function writeDeviceFolder(
  devicesDir: string,
  identity: DeviceIdentity,
  options: { replace?: boolean } = {},
): string {
  const folder = deviceFolder(devicesDir, identity.config.thingName);
  const written = writeKeyDirectory(
    folder,
    [
      { name: CERTIFICATE_FILE, content: identity.certificatePem },
      { name: PRIVATE_KEY_FILE, content: identity.privateKeyPem, secret: true },
      { name: identity.config.rootCa, content: identity.rootCaPem },
      { name: CONFIG_FILE, content: `${JSON.stringify(identity.config, null, 2)}\n` },
    ],
    options,
  );
  if (!written) throw new Error(alreadyExists(folder, identity.config.thingName));
  return folder;
}

/** The folder's device.json, or undefined when there is none or it cannot be read. */
export function readDeviceConfig(folder: string): DeviceConfig | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(folder, CONFIG_FILE), 'utf8')) as DeviceConfig;
  } catch {
    return undefined;
  }
}
