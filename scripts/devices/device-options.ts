/** The options that `device:create` and `device:delete` share, and what they resolve to. */
import path from 'node:path';
import { defaultLocalCloudDir, isThingName } from '../../local/iot/identity/index';
import { UsageError, type OptionSpec } from '../cli/command-line';
import { defaultDevicesDir } from './device-folder';

export const deviceOptions = {
  thing: {
    type: 'string',
    value: 'NAME',
    required: true,
    description: 'thing name = device id = MQTT client id: 1-128 of a-z A-Z 0-9 : _ -',
  },
  stage: {
    type: 'string',
    value: 'STAGE',
    description: 'use AWS IoT Core, for this deployed stage',
  },
  local: {
    type: 'boolean',
    description: 'use the offline IoT Core (the default without --stage)',
  },
  region: {
    type: 'string',
    value: 'REGION',
    description: 'AWS region (default: from the AWS configuration)',
  },
  out: {
    type: 'string',
    value: 'DIR',
    description: 'devices directory (default: .local-cloud/devices, or certs/<stage> on AWS)',
  },
} as const satisfies Record<string, OptionSpec>;

export const LOCAL_CLOUD_DIR_NOTE =
  '  LOCAL_CLOUD_DIR   where the offline cloud keeps its CA (default: .local-cloud)';
export const AWS_ENVIRONMENT_NOTE =
  '  AWS_PROFILE, AWS_REGION and the other AWS SDK variables apply with --stage';

export type DeviceCommandTarget =
  | { mode: 'local'; thingName: string; devicesDir: string; localCloudDir: string }
  | { mode: 'aws'; thingName: string; devicesDir: string; stage: string; region?: string };

/** Serverless Framework's rule for stage names; the stage is part of the policy name. */
const STAGE_PATTERN = /^[a-zA-Z0-9-]+$/;

export function resolveTarget(
  options: {
    thing: string;
    stage?: string;
    local: boolean;
    region?: string;
    out?: string;
  },
  env: NodeJS.ProcessEnv = process.env,
): DeviceCommandTarget {
  const thingName = options.thing;
  if (!isThingName(thingName)) {
    throw new UsageError(
      `--thing "${thingName}" is not a valid thing name: use 1-128 of a-z A-Z 0-9 : _ -`,
    );
  }
  const out = options.out === undefined ? undefined : path.resolve(options.out);
  if (options.stage === undefined) {
    if (options.region !== undefined) throw new UsageError('--region needs --stage');
    return {
      mode: 'local',
      thingName,
      devicesDir: out ?? defaultDevicesDir({ mode: 'local' }, env),
      localCloudDir: defaultLocalCloudDir(env),
    };
  }
  if (options.local) throw new UsageError('choose one of --stage and --local');
  if (!STAGE_PATTERN.test(options.stage)) {
    throw new UsageError(`--stage "${options.stage}" may hold only letters, digits and hyphens`);
  }
  return {
    mode: 'aws',
    thingName,
    stage: options.stage,
    region: options.region,
    devicesDir: out ?? defaultDevicesDir({ mode: 'aws', stage: options.stage }, env),
  };
}
