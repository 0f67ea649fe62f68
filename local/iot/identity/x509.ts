/** Certificate building with node-forge; keys come from Node's OpenSSL. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const { pki } = forge;

export interface RsaKeyPair {
  /** PKCS#1 ("BEGIN RSA PRIVATE KEY"), the format AWS IoT Core hands out for device keys. */
  privateKeyPem: string;
  publicKey: forge.pki.rsa.PublicKey;
}

/** Node generates a 2048-bit key in milliseconds; forge's pure-JS generator takes seconds. */
export function generateRsaKeyPair(): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return {
    privateKeyPem: privateKey,
    publicKey: pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
  };
}

export interface CertificateRequest {
  subject: forge.pki.CertificateField[];
  publicKey: forge.pki.rsa.PublicKey;
  validityDays: number;
  /** Extensions besides the key identifiers, which are always added. */
  extensions: Record<string, unknown>[];
  /** The CA certificate that signs; absent for a self-signed certificate. */
  issuer?: forge.pki.Certificate;
  /** The issuer's private key, or the subject's own for a self-signed certificate. */
  signingKeyPem: string;
  now?: Date;
}

/** Tolerates clocks a little behind the issuer's, e.g. a device that has just booted. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export function signCertificate(request: CertificateRequest): forge.pki.Certificate {
  const certificate = pki.createCertificate();
  certificate.publicKey = request.publicKey;
  certificate.serialNumber = randomSerialNumber();
  const now = request.now ?? new Date();
  certificate.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  certificate.validity.notAfter = new Date(now.getTime() + request.validityDays * DAY_MS);
  certificate.setSubject(request.subject);
  certificate.setIssuer(request.issuer ? request.issuer.subject.attributes : request.subject);
  certificate.setExtensions([
    ...request.extensions,
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      // forge's `true` means the certificate's own key: right only when self-signed.
      keyIdentifier: request.issuer
        ? request.issuer.generateSubjectKeyIdentifier().getBytes()
        : true,
    },
  ]);
  certificate.sign(pki.privateKeyFromPem(request.signingKeyPem), forge.md.sha256.create());
  return certificate;
}

/**
 * 16 random bytes (RFC 5280 allows up to 20). The first byte is kept in 0x40..0x7f so that the
 * DER integer is positive and has no leading zero byte, which strict parsers reject.
 */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes.writeUInt8((bytes.readUInt8(0) & 0x3f) | 0x40, 0);
  return bytes.toString('hex');
}
