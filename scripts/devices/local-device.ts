/** Device identities for the offline IoT Core, signed by the local CA. */
import fs from 'node:fs';
import { ensureLocalCa, issueDeviceCertificate } from '../../local/iot/identity/index';
import {
  assertNoDeviceFolder,
  deviceFolder,
  LOCAL_ROOT_CA_FILE,
  readDeviceConfig,
  writeDeviceFolder,
  type CreatedDevice,
  type DeviceConfig,
} from './device-folder';

export interface LocalDeviceRequest {
  thingName: string;
  devicesDir: string;
  /** Where the local CA lives (see defaultLocalCloudDir). */
  localCloudDir: string;
  replace?: boolean;
  /** Reads MQTT_PORT and HTTPS_PORT: the ports the offline IoT Core listens on. */
  env?: NodeJS.ProcessEnv;
}

export function createLocalDevice(request: LocalDeviceRequest): CreatedDevice {
  const { thingName, devicesDir } = request;
  if (!request.replace) assertNoDeviceFolder(devicesDir, thingName);
  const env = request.env ?? process.env;
  // Read the ports first: a bad variable should fail before any key is generated.
  const mqttPort = portFromEnv(env, 'MQTT_PORT', 8883);
  const httpsPort = portFromEnv(env, 'HTTPS_PORT', 8443);
  const ca = ensureLocalCa(request.localCloudDir);
  const certificate = issueDeviceCertificate(ca, thingName);
  const config: DeviceConfig = {
    thingName,
    mode: 'local',
    endpoint: 'localhost',
    mqttPort,
    httpsPort,
    rootCa: LOCAL_ROOT_CA_FILE,
    certificateId: certificate.certificateId,
  };
  const folder = writeDeviceFolder(
    devicesDir,
    {
      config,
      certificatePem: certificate.certificatePem,
      privateKeyPem: certificate.privateKeyPem,
      rootCaPem: ca.certificatePem,
    },
    { replace: request.replace },
  );
  return { folder, config };
}

/** Removes the device folder; the offline IoT Core keeps no registry of things. */
export function deleteLocalDevice(request: { thingName: string; devicesDir: string }): string {
  const folder = deviceFolder(request.devicesDir, request.thingName);
  if (!fs.existsSync(folder)) {
    throw new Error(`there is no device "${request.thingName}" in ${request.devicesDir}`);
  }
  const config = readDeviceConfig(folder);
  if (config?.mode === 'aws') {
    // Its key is the only copy: removing the folder would strand the certificate in AWS.
    throw new Error(
      `${folder} holds an AWS IoT device; delete it with --stage ${config.stage ?? '<stage>'}`,
    );
  }
  fs.rmSync(folder, { recursive: true, force: true });
  return folder;
}

/** A port from the environment variable `name`, or `fallback` when it is unset or empty. */
export function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number (1-65535), got "${value}"`);
  }
  return port;
}
