/**
 * Device certificates issued off the test's main thread. Signing is pure JavaScript (node-forge)
 * and takes ~0.2 s per certificate here, so the fifty of the load check are issued by a worker
 * while the first tests run, instead of blocking the event loop for ten seconds when needed.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DeviceCredentials } from '../support/devices';
import { REPO_ROOT } from '../support/offline-stack';

// The worker is plain JavaScript that registers tsx, then loads the identity module from source.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import(workerData.tsxApi);
  register();
  const { ensureLocalCa, issueDeviceCertificate } = await import(workerData.identity);
  const ca = ensureLocalCa(workerData.localCloudDir);
  parentPort.postMessage(
    workerData.thingNames.map((thingName) => {
      const issued = issueDeviceCertificate(ca, thingName);
      return { thingName, ca: ca.certificatePem, cert: issued.certificatePem, key: issued.privateKeyPem };
    }),
  );
})().catch((error) => {
  throw error;
});
`;

export function issueInBackground(
  localCloudDir: string,
  thingNames: string[],
): Promise<DeviceCredentials[]> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      localCloudDir,
      thingNames,
      tsxApi: pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/esm/api/index.mjs')).href,
      identity: pathToFileURL(path.join(REPO_ROOT, 'local/iot/identity/index.ts')).href,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (credentials: DeviceCredentials[]) => {
      resolve(credentials);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`certificate worker exited with ${code}`)));
  });
}
