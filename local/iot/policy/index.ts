/**
 * AWS IoT Core policies for the offline IoT Core: the policies declared in serverless.yml's
 * resources, resolved as CloudFormation would, and evaluated as IoT Core does when a device
 * connects, publishes, subscribes or receives.
 */
export { resolvePolicyDocument } from './cloudformation';
export { PolicyDocumentError, type IotAction, type PolicyDocument } from './document';
export {
  evaluate,
  evaluatePolicies,
  resourceArn,
  type Decision,
  type NamedPolicyDocument,
  type PolicyContext,
} from './evaluate';
export { loadDevicePolicy } from './load';
