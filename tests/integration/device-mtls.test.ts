/**
 * A device created by `device:create --local` connects with mutual TLS to a server that presents
 * the local server certificate and accepts only clients of the local CA, as the offline IoT Core's
 * MQTT broker and HTTPS endpoint do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import {
  ensureLocalCa,
  ensureServerCertificate,
  issueDeviceCertificate,
  isSignedByCa,
  thingNameFromCertificate,
  type ServerCertificate,
} from '../../local/iot/identity/index';
import { runDeviceCli } from './device-cli-runner';

interface ClientIdentity {
  cert?: string;
  key?: string;
}

interface Outcome {
  /** Server side: the handshake completed and the client certificate was authorized. */
  accepted: boolean;
  thingName?: string;
  /** Why the client certificate was not authorized (servers that do not reject it). */
  authorizationError?: string;
  serverError?: string;
  /** Client side: the server's certificate verified against the device's root CA. */
  clientVerifiedServer: boolean;
}

let workDir: string;
let deviceFolder: string;
let server: ServerCertificate;
let rootCaPem: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'device-mtls-'));
  const localCloudDir = path.join(workDir, 'cloud');
  const run = await runDeviceCli(
    'create',
    ['--thing', 'sensor-1', '--out', path.join(workDir, 'devices')],
    { LOCAL_CLOUD_DIR: localCloudDir },
  );
  expect(run.code).toBe(0);
  deviceFolder = path.join(workDir, 'devices', 'sensor-1');
  rootCaPem = fs.readFileSync(path.join(deviceFolder, 'root-ca.pem'), 'utf8');
  // The broker's view: the CA the CLI created is reused, and signs the server certificate.
  const ca = ensureLocalCa(localCloudDir);
  expect(ca.certificatePem).toBe(rootCaPem);
  server = ensureServerCertificate(localCloudDir, ca);
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

const deviceFile = (name: string) => fs.readFileSync(path.join(deviceFolder, name), 'utf8');

/** One TLS connection to a fresh server on a free port; resolves when the server has decided. */
async function handshake(
  client: ClientIdentity,
  options: { host?: string; servername?: string; rejectUnauthorized?: boolean } = {},
): Promise<Outcome> {
  const { host = '127.0.0.1', servername, rejectUnauthorized = true } = options;
  const tlsServer = tls.createServer({
    key: server.privateKeyPem,
    cert: server.certificatePem,
    ca: rootCaPem,
    requestCert: true,
    rejectUnauthorized,
  });
  const decided = new Promise<Omit<Outcome, 'clientVerifiedServer'>>((resolve) => {
    tlsServer.once('secureConnection', (socket: tls.TLSSocket) => {
      resolve({
        accepted: socket.authorized,
        thingName: thingNameFromCertificate(socket.getPeerCertificate()),
        ...(socket.authorizationError && { authorizationError: String(socket.authorizationError) }),
      });
      socket.end();
    });
    // Node ends a connection whose certificate fails verification without a reason
    // ("socket hang up"); a missing certificate fails inside OpenSSL with its own message.
    tlsServer.once('tlsClientError', (error) =>
      resolve({ accepted: false, serverError: error.message }),
    );
  });
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;

  let clientVerifiedServer = false;
  const socket = tls.connect({ port, host, servername, ca: rootCaPem, ...client });
  socket.once('secureConnect', () => (clientVerifiedServer = socket.authorized));
  // A rejected client sees the connection reset as an error; the server's view is asserted.
  socket.on('error', () => {});
  socket.resume();
  const closed = once(socket, 'close');

  const result = await decided;
  socket.destroy();
  await closed;
  tlsServer.close();
  await once(tlsServer, 'close');
  return { ...result, clientVerifiedServer };
}

describe('mutual TLS with a local device identity', () => {
  it('accepts the device certificate and reads the thing name from it', async () => {
    const outcome = await handshake(
      { cert: deviceFile('certificate.pem.crt'), key: deviceFile('private.pem.key') },
      { servername: 'localhost' },
    );
    expect(outcome).toEqual({ accepted: true, thingName: 'sensor-1', clientVerifiedServer: true });
  });

  it('lets the device verify the server by IP address too', async () => {
    const outcome = await handshake(
      { cert: deviceFile('certificate.pem.crt'), key: deviceFile('private.pem.key') },
      { host: '127.0.0.1' }, // no SNI: the IP SAN is checked
    );
    expect(outcome).toMatchObject({ accepted: true, clientVerifiedServer: true });
  });

  it('rejects a certificate from another CA', async () => {
    const otherCa = ensureLocalCa(path.join(workDir, 'other-cloud'));
    const impostor = issueDeviceCertificate(otherCa, 'sensor-1');
    expect(isSignedByCa({ certificatePem: rootCaPem }, impostor.certificatePem)).toBe(false);
    const identity = { cert: impostor.certificatePem, key: impostor.privateKeyPem };

    const outcome = await handshake(identity);
    expect(outcome.accepted).toBe(false);
    expect(outcome.thingName).toBeUndefined();
    expect(outcome.serverError).toBeDefined();

    // Why, as a server that does not reject outright sees it; its CN proves nothing then.
    const lenient = await handshake(identity, { rejectUnauthorized: false });
    expect(lenient).toMatchObject({
      accepted: false,
      authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it('rejects a client without a certificate', async () => {
    const outcome = await handshake({});
    expect(outcome.accepted).toBe(false);
    expect(outcome.serverError).toMatch(/certificate/i);
  });
});
