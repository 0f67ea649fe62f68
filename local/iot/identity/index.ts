/**
 * Device identities for the offline IoT Core: a local root CA, the server certificate of the
 * broker and HTTPS endpoint, device certificates, and the checks the broker makes on them.
 */
export {
  CA_COMMON_NAME,
  ensureLocalCa,
  ensureServerCertificate,
  issueDeviceCertificate,
  type DeviceCertificate,
  type IssueOptions,
  type LocalCa,
  type PemKeyPair,
  type ServerCertificate,
} from './certificate-authority';
export { writeKeyDirectory, type KeyDirectoryFile } from './key-directory';
export { defaultLocalCloudDir } from './paths';
export { isThingName, THING_NAME_PATTERN } from './thing-name';
export {
  certificateIdOf,
  isSignedByCa,
  thingNameFromCertificate,
  type CertificateInput,
} from './verification';
