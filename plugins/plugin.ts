/**
 * Deploy-time checks and look-ups, wired into the framework by serverless-plugin.cjs: the stage's
 * names against AWS's limits (every command, before anything is built), the
 * `${iotEndpoint:…}` variable source, the checked `${delivery:…}` parameters (delivery.ts) and
 * the removal of serverless-esbuild's zip staging folders after packaging (zip-staging.ts).
 */
import type { IoTClientConfig } from '@aws-sdk/client-iot';
export { resolveDelivery } from './delivery';
export { removeZipStagingFolders } from './zip-staging';
import { lookUpIotEndpoint, parseEndpointType, type EndpointLookupLog } from './iot-endpoint';
import { NAME_RULES, assertNamesAccepted, namesOfResources, type AwsName } from './resource-names';

type Resources = Record<string, { Type?: unknown; Properties?: Record<string, unknown> }>;

export interface ServerlessLike {
  processedInput?: { commands?: string[] };
  service: {
    resources?: unknown;
    getAllFunctions(): string[];
    getFunction(key: string): { name?: string };
  };
  getProvider(name: 'aws'): {
    naming: { getStackName(): string };
    getStage(): string;
    getAwsSdkV3Config(options?: {
      maxAttempts?: number;
    }): Promise<IoTClientConfig & { region: string }>;
  };
}

/** Commands that run against the offline cloud, whose plugin sets the endpoints itself. */
const OFFLINE_COMMANDS = new Set(['offline', 'offline start', 'invoke local']);

export async function resolveIotEndpoint(
  serverless: ServerlessLike,
  address: string | undefined,
  log: EndpointLookupLog,
): Promise<string> {
  const endpointType = parseEndpointType(address);
  if (OFFLINE_COMMANDS.has((serverless.processedInput?.commands ?? []).join(' '))) return '';
  const clientConfig = await serverless.getProvider('aws').getAwsSdkV3Config({ maxAttempts: 2 });
  return lookUpIotEndpoint(endpointType, { clientConfig, log });
}

export function assertStageNamesAccepted(serverless: ServerlessLike): void {
  const provider = serverless.getProvider('aws');
  const functions = serverless.service.getAllFunctions().flatMap((key): AwsName[] => {
    const name = serverless.service.getFunction(key).name;
    return name ? [{ name, rule: NAME_RULES.function }] : [];
  });
  assertNamesAccepted(provider.getStage(), [
    { name: provider.naming.getStackName(), rule: NAME_RULES.stack },
    ...functions,
    ...namesOfResources(resourcesOf(serverless.service.resources)),
  ]);
}

/** `resources:` is one object or, as in this serverless.yml, a list of them. */
function resourcesOf(resources: unknown): Resources {
  const list = Array.isArray(resources) ? resources : [resources];
  return Object.assign(
    {},
    ...list.map((entry) => (entry as { Resources?: Resources } | undefined)?.Resources ?? {}),
  ) as Resources;
}
