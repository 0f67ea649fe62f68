/**
 * README's "Your own device against the offline IoT Core" works as written (issue 13, item 10):
 * its shell block, taken from README.md (so the docs cannot drift), runs literally with bash
 * against a started stack while a simulated fleet streams (as `npm start` runs it), and both
 * readings reach a WebSocket client. The only input is the environment the block documents
 * (`LOCAL_CLOUD_DIR`, `MQTT_PORT`, `HTTPS_PORT`: this test's stack runs on free ports).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../../local/stack';
import { connectClient, type TestClient } from '../support/ws-client';

const SECTION = '### Your own device against the offline IoT Core';

/** The first ```sh block under the section's heading. */
function walkthroughBlock(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(SECTION));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!readme.includes(SECTION) || !block) throw new Error(`README.md has no "${SECTION}" block`);
  return block;
}

let stack: OfflineStack;
let fleet: ChildProcess | undefined;
let viewer: TestClient;
let env: NodeJS.ProcessEnv;

const telemetryFrom = (deviceId: string) => (frame: Record<string, unknown>) =>
  frame.type === 'telemetry' && frame.deviceId === deviceId;

beforeAll(async () => {
  stack = await startOfflineStack();
  env = {
    ...process.env,
    LOCAL_CLOUD_DIR: stack.localCloudDir,
    MQTT_PORT: String(stack.ports.mqtt),
    HTTPS_PORT: String(stack.ports.https),
  };
  viewer = await connectClient(stack.websocketUrl);
  // The fleet `npm start` runs, with its sensor-1…N.
  fleet = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', path.join(REPO_ROOT, 'scripts/simulator/simulate.ts')],
      ...['--devices', '2', '--rate', '1', '--duration', '0'],
    ],
    { cwd: REPO_ROOT, env, stdio: 'ignore' },
  );
  await viewer.waitFor(telemetryFrom('sensor-1'), 30_000);
}, 120_000);

afterAll(async () => {
  fleet?.kill('SIGINT');
  await viewer?.close();
  await stack?.stop();
}, 30_000);

describe("README's walk-through, as written", () => {
  it('a device of its own publishes over MQTT and HTTPS, beside the simulated fleet', async () => {
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', walkthroughBlock()], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: run.stderr });
    const readings = [21.5, 22].map((temperature) =>
      viewer.waitFor(
        (frame) =>
          telemetryFrom('my-sensor')(frame) &&
          (frame.data as { temperature?: number }).temperature === temperature,
      ),
    );
    await Promise.all(readings);
  }, 90_000);

  it('device:create on a name the fleet uses says which command to run instead', () => {
    const run = spawnSync('npm', ['run', '-s', 'device:create', '--', '--thing', 'sensor-1'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('already exists');
    expect(run.stderr).toContain('npm run device:create -- --thing sensor-1 --force');
    expect(run.stderr).toContain('npm run device:create -- --thing my-sensor');
  }, 60_000);
});
