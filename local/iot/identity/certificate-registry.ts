/**
 * The offline IoT Core's certificate registry: every certificate the local CA has issued, the thing
 * it is attached to, and its status. IoT Core lets a certificate authenticate only while it is
 * ACTIVE ("Certificates must be in the ACTIVE state to authenticate devices", UpdateCertificate in
 * the AWS IoT API Reference); a certificate it does not know is refused the same way.
 *
 * Files, beside the CA (so that a new CA starts with an empty registry):
 *   ca/issued/<certificateId>.json       the record, written once (never changed afterwards)
 *   ca/issued/<certificateId>.INACTIVE   present while the certificate is deactivated
 *   ca/issued/<certificateId>.REVOKED    present once it is revoked: final, as in IoT Core
 * Every write is either an atomic rename of a complete file or the exclusive creation or removal of
 * a marker, so any number of processes (device:create, device:delete, the broker) can use the
 * registry at once without a lock: nobody sees half a record, and no update is lost.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { certificateIdOf } from './verification';

export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED';

export interface CertificateRecord {
  /** IoT Core's certificate id: hex SHA-256 of the DER. */
  certificateId: string;
  /** The thing the certificate is attached to (AttachThingPrincipal). */
  thingName: string;
  /** The certificate's subject CN: `${iot:Certificate.Subject.CommonName}` in a policy. */
  commonName: string;
  /** ISO 8601. */
  issuedAt: string;
  notAfter: string;
}

export interface RegisteredCertificate extends CertificateRecord {
  status: CertificateStatus;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;
const RECORD_SUFFIX = '.json';

export class CertificateRegistry {
  constructor(readonly dir: string) {}

  /** The registry of the CA whose files are under `rootDir` (see ensureLocalCa). */
  static inRoot(rootDir: string): CertificateRegistry {
    return new CertificateRegistry(path.join(rootDir, 'ca', 'issued'));
  }

  /** The registry beside a CA certificate file (`<root>/ca/root-ca.pem`). */
  static besideCa(ca: { certificatePath: string }): CertificateRegistry {
    return new CertificateRegistry(path.join(path.dirname(ca.certificatePath), 'issued'));
  }

  /** Records a newly issued certificate as ACTIVE and attached to `thingName`. */
  register(certificatePem: string, thingName: string, now: Date = new Date()): CertificateRecord {
    const certificate = new X509Certificate(certificatePem);
    const record: CertificateRecord = {
      certificateId: certificateIdOf(certificatePem),
      thingName,
      commonName: commonNameOf(certificate) ?? '',
      issuedAt: now.toISOString(),
      notAfter: new Date(certificate.validTo).toISOString(),
    };
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(record.certificateId, RECORD_SUFFIX);
    const staging = path.join(
      this.dir,
      `.${record.certificateId}.${randomBytes(6).toString('hex')}`,
    );
    try {
      fs.writeFileSync(staging, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' });
      fs.renameSync(staging, target);
    } finally {
      fs.rmSync(staging, { force: true });
    }
    return record;
  }

  /** The certificate with its status, or undefined when the registry does not know it. */
  get(certificateId: string): RegisteredCertificate | undefined {
    if (!ID_PATTERN.test(certificateId)) return undefined;
    let record: CertificateRecord;
    try {
      record = JSON.parse(fs.readFileSync(this.file(certificateId, RECORD_SUFFIX), 'utf8'));
    } catch {
      return undefined;
    }
    if (record.certificateId !== certificateId) return undefined;
    return { ...record, status: this.statusOf(certificateId) };
  }

  /** Every certificate attached to `thingName`, oldest first. */
  attachedTo(thingName: string): RegisteredCertificate[] {
    return this.list().filter((certificate) => certificate.thingName === thingName);
  }

  list(): RegisteredCertificate[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((name) => name.endsWith(RECORD_SUFFIX) && !name.startsWith('.'))
      .map((name) => this.get(name.slice(0, -RECORD_SUFFIX.length)))
      .filter((certificate): certificate is RegisteredCertificate => certificate !== undefined)
      .sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  }

  /**
   * UpdateCertificate: ACTIVE ⇄ INACTIVE, and to REVOKED for good. A revoked certificate cannot
   * change status again, and an unknown one has none to change.
   */
  setStatus(certificateId: string, status: CertificateStatus, now: Date = new Date()): void {
    const current = this.get(certificateId);
    if (!current) throw new Error(`no certificate ${certificateId} in ${this.dir}`);
    if (current.status === 'REVOKED') {
      if (status === 'REVOKED') return;
      throw new Error(`certificate ${certificateId} is revoked; its status cannot change`);
    }
    if (status === 'ACTIVE') {
      fs.rmSync(this.file(certificateId, '.INACTIVE'), { force: true });
      return;
    }
    try {
      fs.writeFileSync(this.file(certificateId, `.${status}`), `${now.toISOString()}\n`, {
        flag: 'wx',
      });
    } catch (error) {
      // Another process got there first: the status is what was asked for.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }

  /** Revokes every certificate of the thing that is not already revoked; returns their ids. */
  revokeAttachedTo(thingName: string, options: { except?: string; now?: Date } = {}): string[] {
    const revoked: string[] = [];
    for (const certificate of this.attachedTo(thingName)) {
      if (certificate.certificateId === options.except || certificate.status === 'REVOKED') {
        continue;
      }
      this.setStatus(certificate.certificateId, 'REVOKED', options.now);
      revoked.push(certificate.certificateId);
    }
    return revoked;
  }

  private statusOf(certificateId: string): CertificateStatus {
    if (fs.existsSync(this.file(certificateId, '.REVOKED'))) return 'REVOKED';
    if (fs.existsSync(this.file(certificateId, '.INACTIVE'))) return 'INACTIVE';
    return 'ACTIVE';
  }

  private file(certificateId: string, suffix: string): string {
    return path.join(this.dir, `${certificateId}${suffix}`);
  }
}

/** The subject's single CN, or undefined when there is none or several. */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  const names = certificate.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
  return names.length === 1 ? names[0] : undefined;
}
