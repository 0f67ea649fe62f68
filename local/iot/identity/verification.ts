/** What the offline IoT Core asks of a certificate that a client presents. */
import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { isThingName } from './thing-name';

/** A certificate as PEM text, or as DER or PEM bytes (e.g. `PeerCertificate.raw`). */
export type CertificateInput = string | Buffer;

/** IoT Core's certificate id: the lowercase hex SHA-256 of the certificate's DER encoding. */
export function certificateIdOf(certificate: CertificateInput): string {
  const der = new X509Certificate(certificate).raw;
  return createHash('sha256').update(der).digest('hex');
}

/**
 * Whether `certificate` names the CA as its issuer and carries the CA's valid signature.
 * Validity dates are not checked here: TLS does that during the handshake.
 * Unparseable input is simply not signed by the CA.
 */
export function isSignedByCa(
  ca: { certificatePem: string },
  certificate: CertificateInput,
): boolean {
  try {
    const caCertificate = new X509Certificate(ca.certificatePem);
    const candidate = new X509Certificate(certificate);
    return candidate.checkIssued(caCertificate) && candidate.verify(caCertificate.publicKey);
  } catch {
    return false;
  }
}

/**
 * The thing name a device certificate stands for: its subject's common name, as issued by
 * `issueDeviceCertificate`. Undefined when there is no certificate (`getPeerCertificate()` returns
 * `{}` then), no CN, several CNs (Node gives an array), or a CN that is not a valid thing name.
 */
export function thingNameFromCertificate(
  peerCertificate: Pick<PeerCertificate, 'subject'> | undefined,
): string | undefined {
  const commonName: unknown = peerCertificate?.subject?.CN;
  return typeof commonName === 'string' && isThingName(commonName) ? commonName : undefined;
}
