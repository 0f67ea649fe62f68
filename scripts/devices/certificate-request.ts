/**
 * A device key pair made on this machine and a certificate signing request for it, which AWS IoT
 * Core's CreateCertificateFromCsr signs: the private key never leaves the machine, and the subject
 * CN is ours to choose (the thing name, which the device policy's HTTPS statement relies on),
 * unlike CreateKeysAndCertificate's fixed "AWS IoT Certificate".
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface KeyAndCsr {
  /** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), as CreateKeysAndCertificate hands out. */
  privateKeyPem: string;
  csrPem: string;
}

/** RSA 2048 with a SHA-256 signature: a key type and algorithm AWS IoT Core accepts from a CSR. */
export function createKeyAndCsr(commonName: string): KeyAndCsr {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey);
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { privateKeyPem: privateKey, csrPem: forge.pki.certificationRequestToPem(csr) };
}

/** Whether `certificatePem` certifies the public half of `privateKeyPem`; false if unparseable. */
export function certificateMatchesKey(certificatePem: string, privateKeyPem: string): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}
