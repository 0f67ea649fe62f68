/**
 * The offline IoT Core's certificate authority. AWS IoT Core signs device certificates with its
 * own CA and presents a server certificate that chains to Amazon Root CA 1; offline, one local
 * root CA plays both parts: it signs the broker's server certificate and every device certificate.
 *
 * Files under the root directory (default: see `defaultLocalCloudDir`):
 *   ca/root-ca.pem, ca/root-ca.key          the root CA (created once, then reused)
 *   server/server.pem, server/server.key    the MQTT broker's and HTTPS endpoint's certificate
 *   ca/issued/                              the registry of device certificates (see
 *                                           certificate-registry.ts)
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { writeKeyDirectory } from './key-directory';
import { defaultLocalCloudDir } from './paths';
import { isThingName, THING_NAME_PATTERN } from './thing-name';
import { CertificateRegistry } from './certificate-registry';
import { isSignedByCa } from './verification';
import { generateRsaKeyPair, signCertificate } from './x509';

const { pki } = forge;

export const CA_COMMON_NAME = 'Offline IoT Core Root CA';
/** Ten years, leap days included. */
const CA_VALIDITY_DAYS = 3653;
const DEFAULT_VALIDITY_DAYS = 365;
/** A server certificate closer than this to its end is replaced at the next start. */
const RENEW_BEFORE_DAYS = 7;

export interface PemKeyPair {
  certificatePem: string;
  privateKeyPem: string;
  certificatePath: string;
  privateKeyPath: string;
}

export type LocalCa = PemKeyPair;
export type ServerCertificate = PemKeyPair;

export interface DeviceCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** As IoT Core computes it: lowercase hex SHA-256 of the certificate's DER encoding. */
  certificateId: string;
}

export interface IssueOptions {
  validityDays?: number;
  now?: Date;
}

export interface DeviceIssueOptions extends IssueOptions {
  /**
   * The subject CN, when it should not be the thing name (as with AWS's CreateKeysAndCertificate,
   * whose CN is "AWS IoT Certificate"). The certificate is attached to the thing all the same.
   */
  commonName?: string;
}

/**
 * What a subject CN may hold here: up to 64 characters (X.520's upper bound for a CN) that are also
 * valid in an MQTT topic, since `${iot:Certificate.Subject.CommonName}` ends up in one.
 */
export const COMMON_NAME_PATTERN = /^[A-Za-z0-9 _.:@-]{1,64}$/;

/**
 * Returns the root CA under `rootDir`, creating it on the first call. Later calls, from any
 * process, reuse it: replacing it would invalidate every device certificate already issued.
 */
export function ensureLocalCa(rootDir: string = defaultLocalCloudDir()): LocalCa {
  const files = pairFiles(rootDir, 'ca', 'root-ca');
  if (!fs.existsSync(files.certificatePath) && !fs.existsSync(files.privateKeyPath)) {
    const { privateKeyPem, publicKey } = generateRsaKeyPair();
    const certificate = signCertificate({
      subject: [
        { name: 'commonName', value: CA_COMMON_NAME },
        { name: 'organizationName', value: 'Offline IoT Core' },
      ],
      publicKey,
      validityDays: CA_VALIDITY_DAYS,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
      signingKeyPem: privateKeyPem,
    });
    // Losing a creation race is fine: the winner's CA is read below.
    writeKeyDirectory(
      files.dir,
      pairContents(files, pki.certificateToPem(certificate), privateKeyPem),
    );
  }
  const ca = readPair(files);
  if (!ca) {
    throw new Error(
      `The local CA in ${files.dir} is incomplete or its key does not match its certificate. ` +
        `Delete that directory to create a new CA, then re-issue the device certificates.`,
    );
  }
  adoptDeviceFolders(rootDir, ca);
  return ca;
}

/**
 * Certificates issued before the CA had a registry would all be refused now. Until the registry
 * exists, the ones still in a device folder under `<root>/devices` (those a device can use) are
 * recorded as ACTIVE and attached to the folder's thing; any other must be re-issued.
 */
function adoptDeviceFolders(rootDir: string, ca: LocalCa): void {
  const registry = CertificateRegistry.besideCa(ca);
  if (fs.existsSync(registry.dir)) return;
  const devicesDir = path.join(rootDir, 'devices');
  let things: string[];
  try {
    things = fs.readdirSync(devicesDir).filter(isThingName);
  } catch {
    return;
  }
  for (const thingName of things) {
    try {
      const certificatePem = fs.readFileSync(
        path.join(devicesDir, thingName, 'certificate.pem.crt'),
        'utf8',
      );
      if (isSignedByCa(ca, certificatePem)) registry.register(certificatePem, thingName);
    } catch {
      // No certificate there, or not one of this CA: nothing to adopt.
    }
  }
}

/**
 * Returns the certificate the broker and the HTTPS endpoint present: for localhost, 127.0.0.1
 * and ::1, signed by `ca`. It is reused while it still chains to `ca` and is not about to expire,
 * and re-issued otherwise (it is derived material: nothing else depends on it).
 */
export function ensureServerCertificate(
  rootDir: string = defaultLocalCloudDir(),
  ca: LocalCa = ensureLocalCa(rootDir),
  options: IssueOptions = {},
): ServerCertificate {
  const files = pairFiles(rootDir, 'server', 'server');
  const now = options.now ?? new Date();
  const existing = readPair(files);
  if (existing && isSignedByCa(ca, existing.certificatePem) && !expiresSoon(existing, now)) {
    return existing;
  }
  const { privateKeyPem, publicKey } = generateRsaKeyPair();
  const certificate = signCertificate({
    subject: [{ name: 'commonName', value: 'localhost' }],
    publicKey,
    validityDays: options.validityDays ?? DEFAULT_VALIDITY_DAYS,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
    issuer: pki.certificateFromPem(ca.certificatePem),
    signingKeyPem: ca.privateKeyPem,
    now,
  });
  const certificatePem = pki.certificateToPem(certificate);
  writeKeyDirectory(files.dir, pairContents(files, certificatePem, privateKeyPem), {
    replace: true,
  });
  return { certificatePem, privateKeyPem, ...files };
}

/**
 * A client certificate for one device (subject CN = the thing name unless told otherwise, extended
 * key usage clientAuth), recorded in the CA's registry as ACTIVE and attached to the thing, as
 * device:create on AWS leaves it. Fails, issuing nothing usable, if the registry cannot be written.
 */
export function issueDeviceCertificate(
  ca: LocalCa,
  thingName: string,
  options: DeviceIssueOptions = {},
): DeviceCertificate {
  if (!isThingName(thingName)) {
    throw new Error(`"${thingName}" is not a valid thing name (${THING_NAME_PATTERN.source})`);
  }
  const commonName = options.commonName ?? thingName;
  if (options.commonName !== undefined && !COMMON_NAME_PATTERN.test(commonName)) {
    throw new Error(
      `"${commonName}" is not a usable common name: 1-64 of a-z A-Z 0-9 space _ . : @ -`,
    );
  }
  const { privateKeyPem, publicKey } = generateRsaKeyPair();
  const certificate = signCertificate({
    subject: [{ name: 'commonName', value: commonName }],
    publicKey,
    validityDays: options.validityDays ?? DEFAULT_VALIDITY_DAYS,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
    issuer: pki.certificateFromPem(ca.certificatePem),
    signingKeyPem: ca.privateKeyPem,
    now: options.now,
  });
  const certificatePem = pki.certificateToPem(certificate);
  const { certificateId } = CertificateRegistry.besideCa(ca).register(
    certificatePem,
    thingName,
    options.now,
  );
  return { certificatePem, privateKeyPem, certificateId };
}

interface PairFiles {
  dir: string;
  certificatePath: string;
  privateKeyPath: string;
}

function pairFiles(rootDir: string, folder: string, baseName: string): PairFiles {
  const dir = path.join(rootDir, folder);
  return {
    dir,
    certificatePath: path.join(dir, `${baseName}.pem`),
    privateKeyPath: path.join(dir, `${baseName}.key`),
  };
}

function pairContents(files: PairFiles, certificatePem: string, privateKeyPem: string) {
  return [
    { name: path.basename(files.certificatePath), content: certificatePem },
    { name: path.basename(files.privateKeyPath), content: privateKeyPem, secret: true },
  ];
}

/** The pair on disk, or undefined when a file is missing, unreadable or the two do not match. */
function readPair(files: PairFiles): PemKeyPair | undefined {
  try {
    const certificatePem = fs.readFileSync(files.certificatePath, 'utf8');
    const privateKeyPem = fs.readFileSync(files.privateKeyPath, 'utf8');
    const matches = new X509Certificate(certificatePem).checkPrivateKey(
      createPrivateKey(privateKeyPem),
    );
    if (!matches) return undefined;
    return {
      certificatePem,
      privateKeyPem,
      certificatePath: files.certificatePath,
      privateKeyPath: files.privateKeyPath,
    };
  } catch {
    return undefined;
  }
}

function expiresSoon(pair: PemKeyPair, now: Date): boolean {
  const notAfter = new Date(new X509Certificate(pair.certificatePem).validTo);
  return notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * 24 * 60 * 60 * 1000;
}
