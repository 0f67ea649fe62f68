/**
 * device:create: creates a device identity (thing, certificate and private key) for the offline
 * IoT Core (signed by the local CA) or for AWS IoT Core, and writes the device folder.
 */
import path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { runCommand, UsageError, type CommandSpec, type OptionSpecs } from '../cli/command-line';
import { createAwsDevice } from './aws-device-folder';
import {
  CERTIFICATE_FILE,
  CONFIG_FILE,
  PRIVATE_KEY_FILE,
  type CreatedDevice,
} from './device-folder';
import {
  AWS_ENVIRONMENT_NOTE,
  deviceOptions,
  LOCAL_CLOUD_DIR_NOTE,
  resolveTarget,
} from './device-options';
import { createLocalDevice, portFromEnv } from './local-device';
import { DEVICE_PROTOCOLS, deviceCommandLine, type DeviceProtocol } from './protocol-commands';
import { COMMON_NAME_PATTERN } from '../../local/iot/identity/index';

const spec = {
  command: 'npm run device:create --',
  summary:
    'Creates a device: a thing with a certificate and private key, written to <out>/<thing>/.\n' +
    'Offline (default) the local CA signs the certificate; with --stage the key pair is made on\n' +
    'this machine and AWS IoT Core signs a CSR for it (subject CN = the thing name), then the\n' +
    'policy telemetry-<stage>-device is attached. The private key never leaves this machine.',
  options: {
    ...deviceOptions,
    force: {
      type: 'boolean',
      description:
        're-issue: replace an existing device (its earlier certificates are revoked offline, deleted on AWS)',
    },
    'common-name': {
      type: 'string',
      value: 'CN',
      description:
        'offline only: a certificate subject CN other than the thing name, to try what AWS does with one',
    },
    protocol: {
      type: 'string',
      value: 'mqtt|mqtt5|https|alpn|wss',
      description:
        'also print the device-side command line that publishes a reading over this protocol\n' +
        '(mosquitto_pub, curl, or mqtt.js for MQTT over WebSocket)',
    },
  },
  notes: [
    'Environment:',
    LOCAL_CLOUD_DIR_NOTE,
    '  MQTT_PORT, HTTPS_PORT  ports written to a local device.json (default: 8883, 8443)',
    "  ALPN_PORT              the offline IoT Core's 443-style port, for --protocol alpn|wss",
    AWS_ENVIRONMENT_NOTE,
    '',
    'Examples:',
    '  npm run device:create -- --thing sensor-1',
    '  npm run device:create -- --thing sensor-1 --stage dev --region eu-west-1',
    '  npm run device:create -- --thing sensor-9 --common-name "AWS IoT Certificate"',
    '  npm run device:create -- --thing sensor-1 --protocol mqtt5',
  ],
} as const satisfies CommandSpec<OptionSpecs>;

await runCommand(spec, async (options) => {
  const target = resolveTarget(options);
  const protocol = options.protocol;
  if (protocol !== undefined && !(DEVICE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new UsageError(
      `--protocol must be one of ${DEVICE_PROTOCOLS.join(', ')}, got "${protocol}"`,
    );
  }
  const printCommand = (device: CreatedDevice) => {
    if (protocol === undefined) return;
    const alpnPort = process.env.ALPN_PORT ? portFromEnv(process.env, 'ALPN_PORT', 0) : undefined;
    const lines = deviceCommandLine({
      protocol: protocol as DeviceProtocol,
      folder: device.folder,
      config: device.config,
      alpnPort: device.config.mode === 'aws' ? undefined : alpnPort,
    });
    process.stdout.write(`\n${lines.join('\n')}\n`);
  };
  const { thingName, devicesDir } = target;
  const commonName = options['common-name'];

  if (target.mode === 'local') {
    if (commonName !== undefined && !COMMON_NAME_PATTERN.test(commonName)) {
      throw new UsageError(
        `--common-name "${commonName}" is not usable: 1-64 of a-z A-Z 0-9 space _ . : @ -`,
      );
    }
    const device = createLocalDevice({
      thingName,
      devicesDir,
      localCloudDir: target.localCloudDir,
      replace: options.force,
      commonName,
    });
    printSummary(`Created device "${thingName}" for the offline IoT Core`, device);
    printCommand(device);
    for (const id of device.revokedCertificateIds) {
      process.stdout.write(`Revoked the earlier certificate ${id}\n`);
    }
    return;
  }
  if (commonName !== undefined) {
    throw new UsageError('--common-name is for the offline IoT Core only (not with --stage)');
  }

  const { stage } = target;
  const iot = new IoTClient(target.region ? { region: target.region } : {});
  try {
    process.stderr.write(`Creating "${thingName}" in AWS IoT Core (stage ${stage})…\n`);
    const device = await createAwsDevice(iot, {
      thingName,
      stage,
      devicesDir,
      replace: options.force,
      log: (line) => process.stderr.write(`  ${line}\n`),
    });
    printSummary(`Created device "${thingName}" in AWS IoT Core (stage ${stage})`, device);
    printCommand(device);
  } finally {
    iot.destroy();
  }
});

function printSummary(title: string, { folder, config }: CreatedDevice): void {
  const rows: [string, string][] = [
    [CERTIFICATE_FILE, `device certificate, id ${config.certificateId}`],
    [PRIVATE_KEY_FILE, 'private key (mode 0600)'],
    [config.rootCa, 'root CA the device trusts'],
    [
      CONFIG_FILE,
      `${config.endpoint}, MQTT port ${config.mqttPort}, HTTPS port ${config.httpsPort}`,
    ],
  ];
  process.stdout.write(
    `${title}:\n  ${folder}${path.sep}\n` +
      rows.map(([file, what]) => `    ${file.padEnd(21)}${what}\n`).join(''),
  );
}
