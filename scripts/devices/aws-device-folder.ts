/** AWS IoT devices together with their folders: what device:create and device:delete do on AWS. */
import fs from 'node:fs';
import type { IoTClient } from '@aws-sdk/client-iot';
import { AMAZON_ROOT_CA_1_PEM } from './amazon-root-ca';
import {
  deprovisionAwsDevice,
  provisionAwsDevice,
  type AwsDeviceIdentity,
  type AwsHooks,
  type DeprovisionResult,
} from './aws-device';
import {
  assertNoDeviceFolder,
  AWS_ROOT_CA_FILE,
  deviceFolder,
  readDeviceConfig,
  writeDeviceFolder,
  type CreatedDevice,
  type DeviceConfig,
} from './device-folder';

/** AWS IoT Core's ports for MQTT and HTTPS with X.509 client certificates. */
const AWS_MQTT_PORT = 8883;
const AWS_HTTPS_PORT = 8443;

export interface AwsDeviceRequest extends AwsHooks {
  thingName: string;
  stage: string;
  devicesDir: string;
}

/**
 * Creates the device in AWS IoT and writes its folder. With `replace`, an existing thing is
 * deleted first, with its certificates and its folder.
 */
export async function createAwsDevice(
  iot: IoTClient,
  request: AwsDeviceRequest & { replace?: boolean },
): Promise<CreatedDevice> {
  const { thingName, stage, devicesDir } = request;
  const folder = deviceFolder(devicesDir, thingName);
  if (request.replace) {
    request.log?.(`replacing the existing "${thingName}"`);
    await deprovisionAwsDevice(iot, request);
    // Its certificate is gone: the old folder must not outlive it if the creation fails.
    fs.rmSync(folder, { recursive: true, force: true });
  } else {
    assertNoDeviceFolder(devicesDir, thingName);
  }
  const configOf = (identity: AwsDeviceIdentity): DeviceConfig => ({
    thingName,
    mode: 'aws',
    stage,
    endpoint: identity.endpoint,
    mqttPort: AWS_MQTT_PORT,
    httpsPort: AWS_HTTPS_PORT,
    rootCa: AWS_ROOT_CA_FILE,
    certificateId: identity.certificateId,
    certificateArn: identity.certificateArn,
  });
  const identity = await provisionAwsDevice(iot, {
    ...request,
    persist: (created) => {
      writeDeviceFolder(devicesDir, {
        config: configOf(created),
        certificatePem: created.certificatePem,
        privateKeyPem: created.privateKeyPem,
        rootCaPem: AMAZON_ROOT_CA_1_PEM,
      });
    },
  });
  return { folder, config: configOf(identity) };
}

export interface DeletedAwsDevice extends DeprovisionResult {
  folder: string;
  folderRemoved: boolean;
}

/** Deletes the thing and its certificates in AWS IoT, then the device folder. */
export async function deleteAwsDevice(
  iot: IoTClient,
  request: AwsDeviceRequest,
): Promise<DeletedAwsDevice> {
  const { thingName, stage } = request;
  const folder = deviceFolder(request.devicesDir, thingName);
  const folderExists = fs.existsSync(folder);
  const config = readDeviceConfig(folder);
  if (config && (config.mode !== 'aws' || config.stage !== stage)) {
    // The folder belongs to another cloud or stage: deleting this thing would leave it orphaned.
    const owner = config.mode === 'aws' ? `stage ${config.stage}` : 'the offline IoT Core';
    throw new Error(`${folder} holds a device of ${owner}, not of stage ${stage}`);
  }
  const result = await deprovisionAwsDevice(iot, request);
  if (!result.thingFound && !folderExists) {
    throw new Error(`there is no thing "${thingName}" in AWS IoT and no folder ${folder}`);
  }
  fs.rmSync(folder, { recursive: true, force: true });
  return { ...result, folder, folderRemoved: folderExists };
}
