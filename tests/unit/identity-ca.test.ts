import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import {
  CA_COMMON_NAME,
  CertificateRegistry,
  certificateIdOf,
  ensureLocalCa,
  ensureServerCertificate,
  isSignedByCa,
  issueDeviceCertificate,
  thingNameFromCertificate,
  writeKeyDirectory,
  type LocalCa,
} from '../../local/iot/identity/index';

const DAY_MS = 24 * 60 * 60 * 1000;

/** DER straight from the PEM body, independent of how the module computes it. */
function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function fileMode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

let rootDir: string;
let otherRootDir: string;
let ca: LocalCa;
let otherCa: LocalCa;

beforeAll(() => {
  rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-ca-'));
  otherRootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-other-ca-'));
  ca = ensureLocalCa(rootDir);
  otherCa = ensureLocalCa(otherRootDir);
});

afterAll(() => {
  fs.rmSync(rootDir, { recursive: true, force: true });
  fs.rmSync(otherRootDir, { recursive: true, force: true });
});

describe('ensureLocalCa', () => {
  it('creates a root CA certificate and a 0600 key under <root>/ca', () => {
    expect(ca.certificatePath).toBe(path.join(rootDir, 'ca', 'root-ca.pem'));
    expect(ca.privateKeyPath).toBe(path.join(rootDir, 'ca', 'root-ca.key'));
    expect(fs.readFileSync(ca.certificatePath, 'utf8')).toBe(ca.certificatePem);
    expect(fileMode(ca.privateKeyPath)).toBe(0o600);

    const certificate = new X509Certificate(ca.certificatePem);
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toContain(`CN=${CA_COMMON_NAME}`);
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.verify(certificate.publicKey)).toBe(true);

    const parsed = forge.pki.certificateFromPem(ca.certificatePem);
    expect(parsed.getExtension('basicConstraints')).toMatchObject({ cA: true, critical: true });
    expect(parsed.getExtension('keyUsage')).toMatchObject({ keyCertSign: true, critical: true });
  });

  it('is valid for ten years', () => {
    const certificate = new X509Certificate(ca.certificatePem);
    const days = (Date.parse(certificate.validTo) - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(3650);
    expect(days).toBeLessThan(3660);
  });

  it('reuses the CA on later calls', () => {
    const before = fs.statSync(ca.certificatePath).mtimeMs;
    const again = ensureLocalCa(rootDir);
    expect(again.certificatePem).toBe(ca.certificatePem);
    expect(again.privateKeyPem).toBe(ca.privateKeyPem);
    expect(fs.statSync(ca.certificatePath).mtimeMs).toBe(before);
  });

  it('gives each root its own CA with a random serial number', () => {
    expect(otherCa.certificatePem).not.toBe(ca.certificatePem);
    expect(new X509Certificate(otherCa.certificatePem).serialNumber).not.toBe(
      new X509Certificate(ca.certificatePem).serialNumber,
    );
  });

  it('refuses an incomplete CA instead of silently replacing it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-broken-'));
    try {
      const broken = ensureLocalCa(dir);
      fs.rmSync(broken.privateKeyPath);
      expect(() => ensureLocalCa(dir)).toThrow(/incomplete or its key does not match/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issueDeviceCertificate', () => {
  it('issues a clientAuth certificate for the thing, chained to the CA', () => {
    const device = issueDeviceCertificate(ca, 'sensor-1');
    const certificate = new X509Certificate(device.certificatePem);
    expect(certificate.subject).toBe('CN=sensor-1');
    expect(certificate.ca).toBe(false);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(certificate.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(certificate.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(device.privateKeyPem))).toBe(true);
    expect(device.privateKeyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(isSignedByCa(ca, device.certificatePem)).toBe(true);
    expect(isSignedByCa(otherCa, device.certificatePem)).toBe(false);
  });

  it('reports the certificate id as the SHA-256 of the DER, as IoT Core does', () => {
    const device = issueDeviceCertificate(ca, 'sensor-2');
    const expected = createHash('sha256').update(derOf(device.certificatePem)).digest('hex');
    expect(device.certificateId).toBe(expected);
    expect(device.certificateId).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateIdOf(derOf(device.certificatePem))).toBe(expected);
    expect(certificateIdOf(Buffer.from(device.certificatePem))).toBe(expected);
  });

  it('is valid for a year by default, or as configured', () => {
    const days = (pem: string) =>
      (Date.parse(new X509Certificate(pem).validTo) - Date.now()) / DAY_MS;
    expect(days(issueDeviceCertificate(ca, 'a').certificatePem)).toBeCloseTo(365, 0);
    expect(days(issueDeviceCertificate(ca, 'b', { validityDays: 30 }).certificatePem)).toBeCloseTo(
      30,
      0,
    );
  });

  it('gives every certificate its own key, serial number and id', () => {
    const first = issueDeviceCertificate(ca, 'twin');
    const second = issueDeviceCertificate(ca, 'twin');
    expect(second.certificateId).not.toBe(first.certificateId);
    expect(second.privateKeyPem).not.toBe(first.privateKeyPem);
    expect(new X509Certificate(second.certificatePem).serialNumber).not.toBe(
      new X509Certificate(first.certificatePem).serialNumber,
    );
  });

  it.each([
    ['empty', ''],
    ['with a space', 'has space'],
    ['with a slash', 'slash/name'],
    ['of 129 characters', 'a'.repeat(129)],
    ['with dots', 'dots.not.allowed'],
  ])('refuses a thing name %s', (_label, thingName) => {
    expect(() => issueDeviceCertificate(ca, thingName)).toThrow(/not a valid thing name/);
  });

  it('accepts the longest thing name IoT Core allows', () => {
    const thingName = 'a:b_c-'.repeat(21) + 'xy';
    expect(thingName).toHaveLength(128);
    const device = issueDeviceCertificate(ca, thingName);
    expect(new X509Certificate(device.certificatePem).subject).toBe(`CN=${thingName}`);
  });
});

describe('ensureServerCertificate', () => {
  it('issues a serverAuth certificate for localhost, 127.0.0.1 and ::1, chained to the CA', () => {
    const server = ensureServerCertificate(rootDir, ca);
    const certificate = new X509Certificate(server.certificatePem);
    expect(certificate.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(certificate.checkHost('localhost')).toBe('localhost');
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkIP('::1')).toBe('::1');
    expect(isSignedByCa(ca, server.certificatePem)).toBe(true);
    expect(fileMode(server.privateKeyPath)).toBe(0o600);
    expect(server.privateKeyPath).toBe(path.join(rootDir, 'server', 'server.key'));
  });

  it('reuses the certificate while it is valid and from the same CA', () => {
    const first = ensureServerCertificate(rootDir, ca);
    expect(ensureServerCertificate(rootDir, ca).certificatePem).toBe(first.certificatePem);
  });

  it('re-issues it for another CA, or when it is about to expire', () => {
    const first = ensureServerCertificate(rootDir, ca);
    const forOtherCa = ensureServerCertificate(rootDir, otherCa);
    expect(forOtherCa.certificatePem).not.toBe(first.certificatePem);
    expect(isSignedByCa(otherCa, forOtherCa.certificatePem)).toBe(true);

    const back = ensureServerCertificate(rootDir, ca);
    expect(isSignedByCa(ca, back.certificatePem)).toBe(true);
    const nearlyExpired = new Date(Date.parse(new X509Certificate(back.certificatePem).validTo));
    const renewed = ensureServerCertificate(rootDir, ca, { now: nearlyExpired });
    expect(renewed.certificatePem).not.toBe(back.certificatePem);
  });
});

describe('thingNameFromCertificate', () => {
  it('reads the thing name from the subject CN', () => {
    expect(thingNameFromCertificate({ subject: { CN: 'sensor-1' } as never })).toBe('sensor-1');
  });

  it.each([
    ['no certificate', {}],
    ['undefined', undefined],
    ['no CN', { subject: { O: 'Acme' } }],
    ['several CNs', { subject: { CN: ['a', 'b'] } }],
    ['an invalid thing name', { subject: { CN: 'not a thing' } }],
  ])('gives undefined for %s', (_label, peer) => {
    expect(thingNameFromCertificate(peer as never)).toBeUndefined();
  });
});

describe('the certificate registry', () => {
  const registry = () => CertificateRegistry.inRoot(rootDir);

  it('records every issued certificate as ACTIVE, attached to its thing, beside the CA', () => {
    const now = new Date('2026-01-02T03:04:05.000Z');
    const device = issueDeviceCertificate(ca, 'registered-1', { now });
    expect(registry().dir).toBe(path.join(rootDir, 'ca', 'issued'));
    expect(CertificateRegistry.besideCa(ca).dir).toBe(registry().dir);
    expect(registry().get(device.certificateId)).toEqual({
      certificateId: device.certificateId,
      thingName: 'registered-1',
      commonName: 'registered-1',
      status: 'ACTIVE',
      issuedAt: now.toISOString(),
      notAfter: new Date(new X509Certificate(device.certificatePem).validTo).toISOString(),
    });
    // One complete file per certificate, no staging file left behind.
    expect(fs.readdirSync(registry().dir).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('issues with another subject CN when asked, still attached to the thing', () => {
    const device = issueDeviceCertificate(ca, 'registered-2', {
      commonName: 'AWS IoT Certificate',
    });
    expect(new X509Certificate(device.certificatePem).subject).toBe('CN=AWS IoT Certificate');
    expect(registry().get(device.certificateId)).toMatchObject({
      thingName: 'registered-2',
      commonName: 'AWS IoT Certificate',
    });
  });

  it.each([['a/b'], ['a+b'], ['#'], [''], ['x'.repeat(65)]])(
    'refuses the common name %p, issuing nothing',
    (commonName) => {
      const before = registry().list().length;
      expect(() => issueDeviceCertificate(ca, 'registered-3', { commonName })).toThrow(
        /not a usable common name/,
      );
      expect(registry().list()).toHaveLength(before);
    },
  );

  it('moves between ACTIVE and INACTIVE; REVOKED is final', () => {
    const { certificateId } = issueDeviceCertificate(ca, 'registered-4');
    const status = () => registry().get(certificateId)?.status;
    registry().setStatus(certificateId, 'INACTIVE');
    expect(status()).toBe('INACTIVE');
    registry().setStatus(certificateId, 'INACTIVE'); // idempotent, as UpdateCertificate is
    registry().setStatus(certificateId, 'ACTIVE');
    expect(status()).toBe('ACTIVE');
    registry().setStatus(certificateId, 'REVOKED');
    registry().setStatus(certificateId, 'REVOKED');
    expect(status()).toBe('REVOKED');
    expect(() => registry().setStatus(certificateId, 'ACTIVE')).toThrow(/revoked/);
    expect(() => registry().setStatus(certificateId, 'INACTIVE')).toThrow(/revoked/);
    expect(status()).toBe('REVOKED');
  });

  it('revokes every certificate of a thing but the one kept', () => {
    const first = issueDeviceCertificate(ca, 'registered-5');
    const second = issueDeviceCertificate(ca, 'registered-5');
    const kept = issueDeviceCertificate(ca, 'registered-5');
    const bystander = issueDeviceCertificate(ca, 'registered-6');
    registry().setStatus(second.certificateId, 'INACTIVE');

    const revoked = registry().revokeAttachedTo('registered-5', { except: kept.certificateId });
    expect(revoked.sort()).toEqual([first.certificateId, second.certificateId].sort());
    expect(
      registry()
        .attachedTo('registered-5')
        .map(({ certificateId, status }) => [certificateId, status]),
    ).toEqual(
      expect.arrayContaining([
        [first.certificateId, 'REVOKED'],
        [second.certificateId, 'REVOKED'],
        [kept.certificateId, 'ACTIVE'],
      ]),
    );
    expect(registry().get(bystander.certificateId)?.status).toBe('ACTIVE');
    // Nothing left to revoke the second time.
    expect(registry().revokeAttachedTo('registered-5', { except: kept.certificateId })).toEqual([]);
  });

  it('adopts the device folders of a CA that had no registry yet, and only those', () => {
    const legacyRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-legacy-'));
    try {
      const legacyCa = ensureLocalCa(legacyRoot);
      const mine = issueDeviceCertificate(legacyCa, 'old-1');
      const foreign = issueDeviceCertificate(otherCa, 'old-2');
      const gone = issueDeviceCertificate(legacyCa, 'old-3');
      for (const [thing, device] of [
        ['old-1', mine],
        ['old-2', foreign],
      ] as const) {
        fs.mkdirSync(path.join(legacyRoot, 'devices', thing), { recursive: true });
        fs.writeFileSync(
          path.join(legacyRoot, 'devices', thing, 'certificate.pem.crt'),
          device.certificatePem,
        );
      }
      // As the CA was before it kept a registry.
      const legacy = CertificateRegistry.besideCa(legacyCa);
      fs.rmSync(legacy.dir, { recursive: true });

      ensureLocalCa(legacyRoot);
      expect(
        legacy
          .list()
          .map(({ certificateId, thingName, status }) => [certificateId, thingName, status]),
      ).toEqual([[mine.certificateId, 'old-1', 'ACTIVE']]);
      expect(legacy.get(gone.certificateId)).toBeUndefined();
      // Once the registry exists, folders are no longer adopted.
      legacy.setStatus(mine.certificateId, 'REVOKED');
      ensureLocalCa(legacyRoot);
      expect(legacy.get(mine.certificateId)?.status).toBe('REVOKED');
    } finally {
      fs.rmSync(legacyRoot, { recursive: true, force: true });
    }
  });

  it('knows nothing of ids it never recorded, or of unreadable records', () => {
    expect(registry().get('0'.repeat(64))).toBeUndefined();
    expect(registry().get('../../ca/root-ca')).toBeUndefined();
    const { certificateId } = issueDeviceCertificate(ca, 'registered-7');
    fs.writeFileSync(path.join(registry().dir, `${certificateId}.json`), '{"trunc');
    expect(registry().get(certificateId)).toBeUndefined();
    expect(() => registry().setStatus(certificateId, 'REVOKED')).toThrow(/no certificate/);
    expect(new CertificateRegistry(path.join(rootDir, 'missing')).list()).toEqual([]);
  });
});

describe('isSignedByCa', () => {
  it('is false for what is not a certificate', () => {
    expect(isSignedByCa(ca, 'not a certificate')).toBe(false);
    expect(isSignedByCa(ca, Buffer.from([1, 2, 3]))).toBe(false);
  });

  it('is true for the CA itself (self-signed)', () => {
    expect(isSignedByCa(ca, ca.certificatePem)).toBe(true);
    expect(isSignedByCa(ca, otherCa.certificatePem)).toBe(false);
  });
});

describe('writeKeyDirectory', () => {
  it('writes all files or keeps what is there', () => {
    const dir = path.join(rootDir, 'key-dir');
    expect(writeKeyDirectory(dir, [{ name: 'a.key', content: 'first', secret: true }])).toBe(true);
    expect(writeKeyDirectory(dir, [{ name: 'a.key', content: 'second', secret: true }])).toBe(
      false,
    );
    expect(fs.readFileSync(path.join(dir, 'a.key'), 'utf8')).toBe('first');
    expect(fileMode(dir)).toBe(0o700);
    expect(fileMode(path.join(dir, 'a.key'))).toBe(0o600);

    const files = [{ name: 'b.pem', content: 'third' }];
    expect(writeKeyDirectory(dir, files, { replace: true })).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['b.pem']);
    // No staging directories are left behind.
    expect(fs.readdirSync(rootDir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});
