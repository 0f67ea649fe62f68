/**
 * The dashboard at the plain address `npm start` prints (issue 13, item 9), in a real browser
 * (Debian's Chromium via playwright-core) against the whole offline stack:
 * - http://localhost:<dashboard port>/ with nothing in the address: the page fetches a
 *   short-lived token from the stack's /config.json (loopback only) and charts five devices;
 * - /config.json refuses a client that names another host (a page of another site);
 * - a bad token says why (API Gateway answers 403 when the $connect authorizer denies: "Control
 *   access to WebSocket APIs with AWS Lambda REQUEST authorizers"), and the page stops retrying
 *   and offers the connect form instead of looping silently; no token at all says 401;
 * - the token never stays in the page's address.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import http from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startOfflineStack, type OfflineStack } from '../../local/stack';
import { connectDevice, type TestDevice } from './devices';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const describeInBrowser = hasChromium || process.env.CI ? describe : describe.skip;
const FLEET = ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4', 'sensor-5'];

let stack: OfflineStack;
let browser: Browser;
const devices: TestDevice[] = [];
let publishing: ReturnType<typeof setInterval> | undefined;

const state = (page: Page) =>
  page.evaluate(() => document.getElementById('connection')?.dataset.state);

async function open(address: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(address);
  return page;
}

/** GET /config.json with a chosen Host header, from this (loopback) machine. */
function getConfig(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/config.json', headers: { host } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .once('error', reject);
  });
}

describeInBrowser('the dashboard at its plain address', () => {
  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startOfflineStack(),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] }),
    ]);
    for (const id of FLEET) {
      devices.push(await connectDevice(stack.localCloudDir, stack.ports.mqtt, id));
    }
    // One reading per device per 200 ms, as a fleet does, until the end.
    publishing = setInterval(() => {
      for (const device of devices) void device.publishReading().catch(() => undefined);
    }, 200);
  }, 120_000);

  afterAll(async () => {
    clearInterval(publishing);
    await Promise.allSettled(devices.map((device) => device.close()));
    await browser?.close();
    await stack?.stop();
  }, 30_000);

  it('charts the five devices within seconds, with nothing in the address', async () => {
    const page = await open(stack.endpoints.dashboard);
    await page.waitForFunction(
      (count) => document.querySelectorAll('#device-rows tr').length >= count,
      FLEET.length,
      { timeout: 15_000 },
    );
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('figure.chart')?.dataset.points) > 0,
      undefined,
      { timeout: 15_000 },
    );
    expect(await state(page)).toBe('open');
    expect(await page.textContent('#connection-url')).toContain('(with a token)');
    await page.close();
  }, 60_000);

  it('hands the token only to a page that names this machine', async () => {
    expect(await getConfig(stack.ports.dashboard, `localhost:${stack.ports.dashboard}`)).toBe(200);
    expect(await getConfig(stack.ports.dashboard, `evil.example:${stack.ports.dashboard}`)).toBe(
      403,
    );
  });

  it('explains a refused token (403) and offers the connect form, without looping', async () => {
    const query = new URLSearchParams({ ws: stack.bareWebsocketUrl, token: 'not-a-token' });
    const page = await open(`${stack.endpoints.dashboard}?${query}`);
    await page.waitForFunction(() => !document.getElementById('connect-form')?.hidden, undefined, {
      timeout: 15_000,
    });
    // The status is drawn on the page's next tick, which a loaded machine can delay past the
    // form's appearing: wait for it to say stopped (it never does if the page keeps retrying).
    await page.waitForFunction(
      () => document.getElementById('connection')?.dataset.state === 'stopped',
      undefined,
      { timeout: 5_000 },
    );
    expect(await state(page)).toBe('stopped');
    expect(await page.textContent('#connection-help')).toContain(
      'not a token this API issues (403)',
    );
    expect(await page.textContent('#connection-help')).toContain('npm run token');
    // The token left the address bar after use.
    expect(page.url()).not.toContain('not-a-token');
    expect(page.url()).not.toContain('ws=');
    await page.close();
  }, 30_000);

  it('says 401 when there is no token, and an expired token is named as such', async () => {
    const bare = await open(`${stack.endpoints.dashboard}?ws=${stack.bareWebsocketUrl}`);
    await bare.waitForFunction(() => !document.getElementById('connect-form')?.hidden);
    expect(await bare.textContent('#connection-help')).toContain('no token');
    expect(await bare.textContent('#connection-help')).toContain('401');
    await bare.close();

    const expired = await stack.token({ ttlSeconds: -60 });
    const query = new URLSearchParams({ ws: stack.bareWebsocketUrl, token: expired });
    const page = await open(`${stack.endpoints.dashboard}?${query}`);
    await page.waitForFunction(() => !document.getElementById('connect-form')?.hidden);
    expect(await page.textContent('#connection-help')).toMatch(/token expired at .* \(403\)/);
    await page.close();
  }, 30_000);

  it('connects with what the connect form is given', async () => {
    const page = await open(`${stack.endpoints.dashboard}?ws=${stack.bareWebsocketUrl}`);
    await page.waitForFunction(() => !document.getElementById('connect-form')?.hidden);
    await page.fill('#connect-url', stack.bareWebsocketUrl);
    await page.fill('#connect-token', await stack.token({ commands: true }));
    await page.click('#connect-form button[type="submit"]');
    await page.waitForFunction(
      () => document.getElementById('connection')?.dataset.state === 'open',
      undefined,
      { timeout: 15_000 },
    );
    expect(page.url()).not.toContain('token');
    await page.close();
  }, 30_000);
});
