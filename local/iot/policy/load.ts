/**
 * Finds the IoT policies that serverless.yml declares among its resources, in the form IoT Core
 * receives them when the stack is deployed.
 */
import { resolveIntrinsics, resolvePolicyDocument, type PseudoParameters } from './cloudformation';
import { PolicyDocumentError } from './document';
import type { NamedPolicyDocument } from './evaluate';

export interface LoadedPolicy extends NamedPolicyDocument {
  logicalId: string;
}

/**
 * Every `AWS::IoT::Policy` in a (Framework-variables-resolved) resources map, with its
 * PolicyName, or its logical id when it has none. Throws PolicyDocumentError for a policy the
 * offline IoT Core cannot resolve or evaluate, naming the resource.
 */
export function loadDevicePolicy(
  resources: Record<string, { Type: string; Properties?: unknown }>,
  pseudo: PseudoParameters,
): LoadedPolicy[] {
  const policies: LoadedPolicy[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IoT::Policy') continue;
    const properties = (resource.Properties ?? {}) as Record<string, unknown>;
    try {
      if (properties.PolicyDocument === undefined) {
        throw new PolicyDocumentError('it has no PolicyDocument');
      }
      const name = resolveIntrinsics(properties.PolicyName ?? logicalId, pseudo, 'PolicyName');
      if (typeof name !== 'string') throw new PolicyDocumentError('PolicyName must be a string');
      const document = resolvePolicyDocument(properties.PolicyDocument, pseudo);
      policies.push({ logicalId, name, document });
    } catch (error) {
      if (!(error instanceof PolicyDocumentError)) throw error;
      throw new PolicyDocumentError(`IoT policy ${logicalId}: ${error.message}`, { cause: error });
    }
  }
  return policies;
}
