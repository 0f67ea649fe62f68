/**
 * device:delete: deletes a device. On AWS: every certificate attached to the thing (detached,
 * deactivated, deleted) and then the thing. Offline: every certificate of the thing is revoked in
 * the local CA's registry. In both modes: the device folder.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { runCommand, type CommandSpec } from '../cli/command-line';
import { deleteAwsDevice } from './aws-device-folder';
import {
  AWS_ENVIRONMENT_NOTE,
  deviceOptions,
  LOCAL_CLOUD_DIR_NOTE,
  resolveTarget,
} from './device-options';
import { deleteLocalDevice } from './local-device';

const spec = {
  command: 'npm run device:delete --',
  summary:
    'Deletes a device: its folder, and its certificates (revoked by the offline IoT Core or,\n' +
    'with --stage, deleted with the thing in AWS IoT Core).',
  options: deviceOptions,
  notes: [
    'Environment:',
    LOCAL_CLOUD_DIR_NOTE,
    AWS_ENVIRONMENT_NOTE,
    '',
    'Examples:',
    '  npm run device:delete -- --thing sensor-1',
    '  npm run device:delete -- --thing sensor-1 --stage dev',
  ],
} as const satisfies CommandSpec<typeof deviceOptions>;

await runCommand(spec, async (options) => {
  const target = resolveTarget(options);
  const { thingName } = target;

  if (target.mode === 'local') {
    const deleted = deleteLocalDevice(target);
    const done = [
      ...deleted.revokedCertificateIds.map((id) => `revoked certificate ${id}`),
      ...(deleted.folder ? [`removed ${deleted.folder}`] : []),
    ];
    process.stdout.write(`Deleted device "${thingName}": ${done.join('; ')}\n`);
    return;
  }

  const { stage } = target;
  const iot = new IoTClient(target.region ? { region: target.region } : {});
  try {
    process.stderr.write(`Deleting "${thingName}" from AWS IoT Core (stage ${stage})…\n`);
    const deleted = await deleteAwsDevice(iot, {
      thingName,
      stage,
      devicesDir: target.devicesDir,
      log: (line) => process.stderr.write(`  ${line}\n`),
    });
    const count = deleted.deletedCertificateIds.length;
    const inAws = deleted.thingFound
      ? `deleted the thing and ${count} certificate${count === 1 ? '' : 's'} in AWS IoT`
      : 'there was no such thing in AWS IoT';
    const local = deleted.folderRemoved ? `; removed ${deleted.folder}` : '';
    process.stdout.write(`Deleted device "${thingName}" (stage ${stage}): ${inAws}${local}\n`);
  } finally {
    iot.destroy();
  }
});
