/**
 * Who may stay connected, decided when the TLS handshake completes and again while connected:
 * a client certificate signed by the local CA must also be ACTIVE in the CA's registry, and the
 * thing it stands for is the one it is attached to there (not its CN).
 *
 * IoT Core, per UpdateCertificate in the AWS IoT API Reference: "Certificates must be in the ACTIVE
 * state to authenticate devices"; "within a few minutes of updating a certificate from the ACTIVE
 * state to any other state, AWS IoT disconnects all devices that used that certificate", and they
 * "cannot use a certificate that is not in the ACTIVE state to reconnect". Devices see the
 * refusal during the TLS handshake (alert certificate_unknown, aws-iot-device-sdk-python#76), never
 * an MQTT CONNACK or an HTTP status. Node has no API to send that alert from a server, so the
 * connection is closed at the same step instead, before a byte of MQTT or HTTP is read: the way
 * Node's own TLS server ends a connection whose certificate fails verification.
 */
import type { TLSSocket } from 'node:tls';
import type { CertificateRegistry } from './certificate-registry';
import { certificateIdOf, thingNameFromCertificate } from './verification';

export interface CertificateIdentity {
  /** The thing the certificate is attached to. */
  thingName: string;
  certificateId: string;
  /** The subject CN: `${iot:Certificate.Subject.CommonName}`. */
  commonName: string | undefined;
}

export type Admission =
  | { outcome: 'admitted'; identity: CertificateIdentity }
  /** No certificate, or one the CA did not sign: the endpoint answers as it always has. */
  | { outcome: 'anonymous' }
  | { outcome: 'refused'; reason: string };

export interface CertificateGateOptions {
  /**
   * The CA's registry. Without one (endpoints tested on their own), every certificate of the CA is
   * admitted and its CN names the thing.
   */
  registry?: CertificateRegistry;
  /** How often connected certificates are checked again; IoT Core takes "a few minutes". */
  recheckMs?: number;
  /** Told about each refusal and each disconnection, with the reason. */
  onRefused?: (reason: string) => void;
}

const DEFAULT_RECHECK_MS = 1000;

export class CertificateGate {
  private readonly connected = new Map<TLSSocket, CertificateIdentity>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CertificateGateOptions = {}) {
    if (options.registry) {
      this.timer = setInterval(() => this.recheck(), options.recheckMs ?? DEFAULT_RECHECK_MS);
      this.timer.unref();
    }
  }

  /**
   * Call on 'secureConnection'. An admitted socket is remembered (and closed later if its
   * certificate leaves ACTIVE); a refused one is destroyed here.
   */
  admit(socket: TLSSocket): Admission {
    const admission = this.decide(socket);
    if (admission.outcome === 'refused') {
      this.options.onRefused?.(admission.reason);
      socket.destroy();
    } else if (admission.outcome === 'admitted') {
      this.connected.set(socket, admission.identity);
      socket.once('close', () => this.connected.delete(socket));
    }
    return admission;
  }

  identityOf(socket: object): CertificateIdentity | undefined {
    return this.connected.get(socket as TLSSocket);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private decide(socket: TLSSocket): Admission {
    const peer = socket.authorized ? socket.getPeerCertificate(false) : undefined;
    if (!peer?.raw) return { outcome: 'anonymous' };
    const certificateId = certificateIdOf(peer.raw);
    const commonName = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
    const { registry } = this.options;
    if (!registry) {
      const thingName = thingNameFromCertificate(peer);
      if (!thingName) return { outcome: 'refused', reason: 'the certificate names no thing' };
      return { outcome: 'admitted', identity: { thingName, certificateId, commonName } };
    }
    const registered = registry.get(certificateId);
    if (!registered) {
      return {
        outcome: 'refused',
        reason: `certificate ${certificateId} is not in the registry of the local CA`,
      };
    }
    if (registered.status !== 'ACTIVE') {
      return {
        outcome: 'refused',
        reason: `certificate ${certificateId} of "${registered.thingName}" is ${registered.status}`,
      };
    }
    return {
      outcome: 'admitted',
      identity: { thingName: registered.thingName, certificateId, commonName },
    };
  }

  /** Closes the connections whose certificate is no longer ACTIVE (or no longer known). */
  private recheck(): void {
    const { registry } = this.options;
    if (!registry) return;
    const statuses = new Map<string, string>();
    for (const [socket, { certificateId, thingName }] of this.connected) {
      let status = statuses.get(certificateId);
      if (status === undefined) {
        status = registry.get(certificateId)?.status ?? 'unknown';
        statuses.set(certificateId, status);
      }
      if (status === 'ACTIVE') continue;
      this.connected.delete(socket);
      this.options.onRefused?.(
        `certificate ${certificateId} of "${thingName}" is ${status}: its connection is closed`,
      );
      socket.destroy();
    }
  }
}
