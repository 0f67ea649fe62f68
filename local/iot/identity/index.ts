/**
 * Device identities for the offline IoT Core: a local root CA, the server certificate of the
 * broker and HTTPS endpoint, device certificates, and the checks the broker makes on them.
 */
export {
  CA_COMMON_NAME,
  COMMON_NAME_PATTERN,
  ensureLocalCa,
  ensureServerCertificate,
  issueDeviceCertificate,
  type DeviceCertificate,
  type DeviceIssueOptions,
  type IssueOptions,
  type LocalCa,
  type PemKeyPair,
  type ServerCertificate,
} from './certificate-authority';
export {
  CertificateRegistry,
  commonNameOf,
  type CertificateRecord,
  type CertificateStatus,
  type RegisteredCertificate,
} from './certificate-registry';
export {
  CertificateGate,
  type Admission,
  type CertificateGateOptions,
  type CertificateIdentity,
} from './certificate-gate';
export { writeKeyDirectory, type KeyDirectoryFile } from './key-directory';
export { defaultLocalCloudDir } from './paths';
export { isThingName, THING_NAME_PATTERN } from './thing-name';
export {
  certificateIdOf,
  isSignedByCa,
  thingNameFromCertificate,
  type CertificateInput,
} from './verification';
