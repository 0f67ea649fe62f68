/**
 * Device identities for the offline IoT Core, signed by the local CA and kept in its certificate
 * registry: re-issuing a device revokes its earlier certificates and deleting it revokes them all,
 * as deleting them does on AWS, so that the offline IoT Core refuses them from then on.
 */
import fs from 'node:fs';
import { DEFAULT_PORTS } from '../../local/settings';
import {
  CertificateRegistry,
  ensureLocalCa,
  issueDeviceCertificate,
} from '../../local/iot/identity/index';
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
  /** Re-issue: the device's earlier certificates are revoked once the new folder is written. */
  replace?: boolean;
  /** The certificate's subject CN when it should not be the thing name (see COMMON_NAME_PATTERN). */
  commonName?: string;
  /** Reads MQTT_PORT and HTTPS_PORT: the ports the offline IoT Core listens on. */
  env?: NodeJS.ProcessEnv;
}

export interface CreatedLocalDevice extends CreatedDevice {
  /** Certificates of the thing revoked by a re-issue. */
  revokedCertificateIds: string[];
}

export function createLocalDevice(request: LocalDeviceRequest): CreatedLocalDevice {
  const { thingName, devicesDir } = request;
  if (!request.replace) assertNoDeviceFolder(devicesDir, thingName);
  const env = request.env ?? process.env;
  // Read the ports first: a bad variable should fail before any key is generated.
  const mqttPort = portFromEnv(env, 'MQTT_PORT', DEFAULT_PORTS.mqttPort);
  const httpsPort = portFromEnv(env, 'HTTPS_PORT', DEFAULT_PORTS.httpsPort);
  const ca = ensureLocalCa(request.localCloudDir);
  const registry = CertificateRegistry.besideCa(ca);
  const certificate = issueDeviceCertificate(ca, thingName, { commonName: request.commonName });
  const config: DeviceConfig = {
    thingName,
    mode: 'local',
    endpoint: 'localhost',
    mqttPort,
    httpsPort,
    rootCa: LOCAL_ROOT_CA_FILE,
    certificateId: certificate.certificateId,
  };
  let folder: string;
  try {
    folder = writeDeviceFolder(
      devicesDir,
      {
        config,
        certificatePem: certificate.certificatePem,
        privateKeyPem: certificate.privateKeyPem,
        rootCaPem: ca.certificatePem,
      },
      { replace: request.replace },
    );
  } catch (error) {
    // Its key is gone with the failed folder: nobody can use the certificate, so nobody may.
    registry.setStatus(certificate.certificateId, 'REVOKED');
    throw error;
  }
  // Only now: had the folder not been written, the device would keep its working certificate.
  const revokedCertificateIds = request.replace
    ? registry.revokeAttachedTo(thingName, { except: certificate.certificateId })
    : [];
  return { folder, config, revokedCertificateIds };
}

export interface DeletedLocalDevice {
  /** The folder removed, or undefined when there was none. */
  folder: string | undefined;
  revokedCertificateIds: string[];
}

/**
 * Deletes the thing: revokes every certificate attached to it in the local CA's registry and
 * removes the device folder. Fails, changing nothing, when there is neither a folder nor a
 * certificate to revoke, or when the folder holds an AWS device.
 */
export function deleteLocalDevice(request: {
  thingName: string;
  devicesDir: string;
  localCloudDir: string;
}): DeletedLocalDevice {
  const { thingName } = request;
  const folder = deviceFolder(request.devicesDir, thingName);
  const folderExists = fs.existsSync(folder);
  const config = readDeviceConfig(folder);
  if (config?.mode === 'aws') {
    // Its key is the only copy: removing the folder would strand the certificate in AWS.
    throw new Error(
      `${folder} holds an AWS IoT device; delete it with --stage ${config.stage ?? '<stage>'}`,
    );
  }
  const registry = CertificateRegistry.inRoot(request.localCloudDir);
  const live = registry.attachedTo(thingName).filter(({ status }) => status !== 'REVOKED');
  if (!folderExists && live.length === 0) {
    throw new Error(
      `there is no device "${thingName}" in ${request.devicesDir} and no certificate of it to revoke`,
    );
  }
  const revokedCertificateIds = registry.revokeAttachedTo(thingName);
  fs.rmSync(folder, { recursive: true, force: true });
  return { folder: folderExists ? folder : undefined, revokedCertificateIds };
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
