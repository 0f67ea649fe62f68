/**
 * AWS IoT Core policies for the offline IoT Core: the policies declared in serverless.yml's
 * resources, resolved as CloudFormation would, and evaluated as IoT Core does when a device
 * connects, publishes, subscribes or receives.
 */
export { resolvePolicyDocument, type PseudoParameters } from './cloudformation';
export {
  PolicyDocumentError,
  type Effect,
  type IotAction,
  type PolicyDocument,
  type PolicyStatement,
} from './document';
export {
  evaluate,
  evaluatePolicies,
  resourceArn,
  type Decision,
  type NamedPolicyDocument,
  type PolicyContext,
} from './evaluate';
export { loadDevicePolicy, type LoadedPolicy } from './load';
