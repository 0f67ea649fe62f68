import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient } from '../support/ws-client';

let stack: OfflineStack;
beforeAll(async () => {
  stack = await startOfflineStack();
}, 120_000);
/** The nice value of each thread of the stack's process (field 19 of /proc/<pid>/task/<tid>/stat). */
async function niceValues(): Promise<number[]> {
  const tasks = await readdir(`/proc/${stack.process.pid}/task`);
  return Promise.all(
    tasks.map(async (tid) => {
      const stat = await readFile(`/proc/${stack.process.pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    }),
  );
}
/** Threads at nice 10: the workers of the client routes (local/stack/worker-priority.cjs). */
const lowered = (values: number[]) => values.filter((nice) => nice === 10).length;

afterAll(async () => {
  const code = await stack?.stop();
  expect(code).toBe(0);
  // Ctrl-C frees every port.
  for (const port of Object.values(stack.ports)) {
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer().once('error', reject);
      probe.listen(port, 'localhost', () => probe.close(() => resolve()));
    });
  }
}, 30_000);

describe('the offline WebSocket API', () => {
  it('prints where to connect', () => {
    expect(stack.output()).toMatch(
      new RegExp(
        `npx wscat -c "ws://localhost:${stack.ports.websocket}\\?token=[\\w-]+\\.[\\w-]+\\.[\\w-]+"`,
      ),
    );
  });

  it('serves the dashboard and prints its address with the WebSocket URL and a token', async () => {
    const response = await fetch(`http://localhost:${stack.ports.dashboard}/index.html`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>');
    expect(stack.output()).toMatch(
      new RegExp(
        `Dashboard +http://localhost:${stack.ports.dashboard}/\\?ws=ws://localhost:${stack.ports.websocket}&token=`,
      ),
    );
  });

  it('broadcasts a sendMessage from one client to both', async () => {
    const first = await connectClient(stack.websocketUrl);
    const second = await connectClient(stack.websocketUrl);
    first.send({ action: 'sendMessage', message: 'hi' });

    const isHi = (frame: Record<string, unknown>) =>
      frame.type === 'message' && frame.message === 'hi';
    await expect(first.waitFor(isHi)).resolves.toMatchObject({ message: 'hi' });
    await expect(second.waitFor(isHi)).resolves.toMatchObject({ message: 'hi' });
    await expect(first.waitFor((frame) => frame.type === 'sent')).resolves.toMatchObject({
      delivered: 2,
    });
    await Promise.all([first.close(), second.close()]);
  });

  it("runs the client routes' Lambda workers at a lower CPU priority, the connection ones not", async () => {
    const before = await niceValues();
    const client = await connectClient(stack.websocketUrl);
    // $connect ran (its worker and the authorizer's): no thread more at a lower priority, and no
    // other value than 10 anywhere.
    const connected = await niceValues();
    expect(lowered(connected)).toBe(lowered(before));
    expect(connected.filter((nice) => nice !== 0 && nice !== 10)).toEqual([]);
    // unsubscribe's first run (no earlier test in this file sends one) starts its worker thread,
    // at nice 10 (local/stack/worker-priority.cjs).
    client.send({ action: 'unsubscribe', topics: ['devices/a/telemetry'] });
    await client.waitFor((frame) => frame.type === 'unsubscribed');
    expect(lowered(await niceValues())).toBe(lowered(connected) + 1);
    await client.close();
  });

  it('a burst of frames to one function starts at most OFFLINE_LAMBDA_CONCURRENCY (2) workers', async () => {
    // Lambda gives each concurrent invocation an execution environment of its own; offline they
    // are worker threads on shared cores, bounded per function (local/websocket/
    // lambda-environments.ts). serverless-offline's pool made a third for this burst, and one
    // per frame before any bound. subscribe: no earlier test in this file runs it.
    const client = await connectClient(stack.websocketUrl);
    const before = await niceValues();
    const frames = 40;
    for (let i = 0; i < frames; i++) client.send({ action: 'subscribe', topics: [`burst/${i}`] });
    const answered = () =>
      client.frames.filter((frame) => frame.type === 'subscribed' || frame.code === 'RATE_LIMITED');
    await client.waitFor(() => answered().length === frames, 60_000);
    // Counted at nice 10 only: a $disconnect of an earlier test may start its worker meanwhile.
    const started = lowered(await niceValues()) - lowered(before);
    expect(started).toBeGreaterThanOrEqual(1);
    expect(started).toBeLessThanOrEqual(2);
    await client.close();
  });

  it('answers bad input with an error frame and keeps the connection usable', async () => {
    const client = await connectClient(stack.websocketUrl);
    client.send('this is not json');
    await expect(client.waitFor((frame) => frame.code === 'INVALID_JSON')).resolves.toMatchObject({
      type: 'error',
    });
    client.send({ action: 'launchRockets' });
    await expect(client.waitFor((frame) => frame.code === 'UNKNOWN_ACTION')).resolves.toMatchObject(
      {
        type: 'error',
      },
    );
    client.send({ action: 'subscribe', topics: ['devices/+/telemetry'] });
    await expect(client.waitFor((frame) => frame.type === 'subscribed')).resolves.toEqual({
      type: 'subscribed',
      topics: ['devices/+/telemetry'],
    });
    await client.close();
  });

  it('refuses to start a second stack on ports that are taken, naming them', async () => {
    const { spawnSync } = await import('node:child_process');
    const { REPO_ROOT, SERVERLESS_BIN } = await import('../support/offline-stack');
    const result = spawnSync(process.execPath, [SERVERLESS_BIN, 'offline', 'start'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        WEBSOCKET_PORT: String(stack.ports.websocket),
        LAMBDA_PORT: '0',
        DYNAMODB_PORT: String(stack.ports.dynamodb),
        ESBUILD_WORK_FOLDER: `.esbuild-test-busy-${process.pid}`,
      },
      encoding: 'utf8',
      timeout: 90_000,
    });
    const output = result.stdout + result.stderr;
    expect(result.status).not.toBe(0);
    expect(output).toContain(`port ${stack.ports.websocket} (websocketPort) is in use`);
    expect(output).toContain('WEBSOCKET_PORT');
    expect(output).toContain(`port ${stack.ports.dynamodb} (dynamodbPort) is in use`);
  }, 100_000);
});
