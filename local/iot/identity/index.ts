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
  type LocalCa,
  type ServerCertificate,
} from './certificate-authority';
export { CertificateRegistry } from './certificate-registry';
export { CertificateGate } from './certificate-gate';
export { writeKeyDirectory } from './key-directory';
export { defaultLocalCloudDir } from './paths';
export { isThingName } from './thing-name';
export { certificateIdOf, isSignedByCa, thingNameFromCertificate } from './verification';
