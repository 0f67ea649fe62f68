/**
 * A simulated device's identity and endpoint, read from its device folder. Offline, a missing
 * folder is provisioned with the local CA (as `device:create` does); with a stage, the AWS folder
 * written by `device:create --stage` must exist.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultLocalCloudDir } from '../../local/iot/identity/index';
import {
  CERTIFICATE_FILE,
  defaultDevicesDir,
  deviceFolder,
  PRIVATE_KEY_FILE,
  readDeviceConfig,
  type DeviceConfig,
} from '../devices/device-folder';
import { createLocalDevice, portFromEnv } from '../devices/local-device';

export interface DeviceIdentity {
  thingName: string;
  folder: string;
  host: string;
  mqttPort: number;
  httpsPort: number;
  /** IoT Core's 443 (ALPN, MQTT over WebSocket); offline ALPN_PORT, undefined when not set. */
  alpnPort: number | undefined;
  /** Which cloud: the offline one signs WebSocket URLs with the offline credentials. */
  mode: 'local' | 'aws';
  /** PEM: the root CA the device trusts, its certificate and its private key. */
  ca: string;
  cert: string;
  key: string;
  /** True when this run created the folder. */
  provisioned: boolean;
}

export function loadDeviceIdentity(
  thingName: string,
  stage: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): DeviceIdentity {
  if (stage !== undefined) {
    const folder = deviceFolder(defaultDevicesDir({ mode: 'aws', stage }, env), thingName);
    const config = readDeviceConfig(folder);
    if (!config) {
      throw new Error(
        `${thingName}: no device folder ${folder}; create it with ` +
          `npm run device:create -- --thing ${thingName} --stage ${stage}`,
      );
    }
    if (config.mode !== 'aws' || config.stage !== stage) {
      throw new Error(`${folder} does not hold a device of stage ${stage}`);
    }
    return {
      ...readIdentity(folder, config, config.mqttPort, config.httpsPort, false),
      alpnPort: 443,
    };
  }

  const devicesDir = defaultDevicesDir({ mode: 'local' }, env);
  const folder = deviceFolder(devicesDir, thingName);
  let provisioned = false;
  if (!fs.existsSync(folder)) {
    try {
      createLocalDevice({ thingName, devicesDir, localCloudDir: defaultLocalCloudDir(env), env });
      provisioned = true;
    } catch (error) {
      // Another simulator may have provisioned it meanwhile; then its folder is as good.
      if (!fs.existsSync(folder)) throw error;
    }
  }
  const config = readDeviceConfig(folder);
  if (!config) throw new Error(`${folder}: device.json is missing or unreadable`);
  if (config.mode !== 'local') {
    throw new Error(`${folder} holds an AWS IoT device; use --stage ${config.stage ?? '<stage>'}`);
  }
  // The offline IoT Core listens where MQTT_PORT and HTTPS_PORT say, as when the folder was made.
  return {
    ...readIdentity(
      folder,
      config,
      portFromEnv(env, 'MQTT_PORT', config.mqttPort),
      portFromEnv(env, 'HTTPS_PORT', config.httpsPort),
      provisioned,
    ),
    alpnPort: env.ALPN_PORT ? portFromEnv(env, 'ALPN_PORT', 0) : undefined,
  };
}

function readIdentity(
  folder: string,
  config: DeviceConfig,
  mqttPort: number,
  httpsPort: number,
  provisioned: boolean,
): Omit<DeviceIdentity, 'alpnPort'> {
  if (config.thingName !== path.basename(folder)) {
    throw new Error(`${folder}: device.json names the thing "${config.thingName}"`);
  }
  const read = (name: string) => {
    try {
      return fs.readFileSync(path.join(folder, name), 'utf8');
    } catch (error) {
      throw new Error(
        `${config.thingName}: cannot read ${path.join(folder, name)}: ${(error as Error).message}`,
      );
    }
  };
  return {
    thingName: config.thingName,
    folder,
    host: config.endpoint,
    mqttPort,
    httpsPort,
    mode: config.mode,
    ca: read(config.rootCa),
    cert: read(CERTIFICATE_FILE),
    key: read(PRIVATE_KEY_FILE),
    provisioned,
  };
}
