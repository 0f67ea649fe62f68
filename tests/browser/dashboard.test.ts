/**
 * The live dashboard in a real browser (Debian's Chromium driven by playwright-core) against the
 * whole offline stack: devices publish over MQTT with mutual TLS, the page shows what arrives.
 * One stack, one browser and one page serve the tests below, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DashboardHandle } from '../../dashboard/src/main';
import { buildDashboard } from '../../local/dashboard/build';
import { startDashboardServer, type DashboardServer } from '../../local/dashboard/server';
import { REPO_ROOT, startOfflineStack, type OfflineStack } from '../support/offline-stack';
import type { DeviceCredentials } from '../support/devices';
import { connectClient, type TestClient } from '../support/ws-client';
import { issueInBackground } from './certificates';
import { connectDevice, type TestDevice } from './devices';
import { megabytes, startFrameMeter, usedHeap, type FrameReport } from './page-meter';
import { startTelemetryFeed, type TelemetryFeed } from './telemetry-feed';

/** Debian's Chromium; CHROMIUM_PATH points elsewhere (e.g. /usr/bin/chromium-browser). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const INSTALL_HINT = 'apt-get install chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const SCREENSHOTS = path.join(REPO_ROOT, 'test-results');
/** Seconds of 50 devices × 2 readings/s through the real stack (its rule → Lambda path is slow). */
const STACK_LOAD_SECONDS = Number(process.env.DASHBOARD_STACK_LOAD_SECONDS ?? 2);
/** Seconds of 50 devices × 2 readings/s fed straight to the page. */
const FEED_LOAD_SECONDS = Number(process.env.DASHBOARD_FEED_LOAD_SECONDS ?? 10);

if (!hasChromium && !process.env.CI) {
  console.warn(
    `Skipping the dashboard browser tests: ${CHROMIUM} is missing. Install it with: ${INSTALL_HINT}`,
  );
}
const describeInBrowser = hasChromium || process.env.CI ? describe : describe.skip;

let stack: OfflineStack;
let server: DashboardServer;
let browser: Browser;
let page: Page;
let buildDir: string;
const devices: TestDevice[] = [];
const FLEET = Array.from({ length: 50 }, (_, i) => `load-${String(i).padStart(2, '0')}`);
let fleetCredentials: ReturnType<typeof issueInBackground>;
const pageErrors: string[] = [];
/** Chromium logs a refused handshake itself; the dashboard's answer is to retry, so not an error. */
const refusedHandshakes: string[] = [];

async function openDashboard(socketUrl: string, token?: string): Promise<Page> {
  const opened = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  opened.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
  opened.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text().replace(/token=[^&'\s]+/, 'token=…');
    if (/^WebSocket connection to .* failed/.test(text)) refusedHandshakes.push(text);
    else pageErrors.push(`console: ${text}`);
  });
  const query = new URLSearchParams({ ws: socketUrl, ...(token && { token }) });
  await opened.goto(`${server.url}index.html?${query}`);
  await waitForState(opened, 'open');
  return opened;
}

const waitForState = (target: Page, state: string) =>
  target.waitForFunction(
    (expected) => document.getElementById('connection')?.dataset.state === expected,
    state,
    { timeout: 20_000 },
  );

async function device(id: string, credentials?: DeviceCredentials): Promise<TestDevice> {
  const connected = await connectDevice(stack.localCloudDir, stack.ports.mqtt, id, credentials);
  devices.push(connected);
  return connected;
}

/** The device rows' data attributes, by device id. */
function rows(target: Page = page) {
  return target.$$eval('#device-rows tr', (trs) =>
    Object.fromEntries(
      trs.map((tr) => [
        tr.dataset.deviceId!,
        {
          status: tr.dataset.status,
          statusText: tr.querySelector('.status')?.textContent,
          messages: Number(tr.dataset.messages),
          points: Number(tr.dataset.points),
          capacity: Number(tr.dataset.capacity),
          text: tr.textContent ?? '',
        },
      ]),
    ),
  );
}

/** Waits until the device's row shows at least `messages` messages. */
const waitForMessages = (id: string, messages: number, target: Page = page, timeout = 20_000) =>
  target.waitForFunction(
    ([deviceId, count]) =>
      [...document.querySelectorAll<HTMLElement>('#device-rows tr')].some(
        (tr) => tr.dataset.deviceId === deviceId && Number(tr.dataset.messages) >= count,
      ),
    [id, messages] as const,
    { timeout },
  );

function chartPoints(target: Page = page) {
  return target.$$eval('figure.chart', (figures) =>
    Object.fromEntries(
      figures.map((figure) => [
        figure.dataset.metric!,
        { points: Number(figure.dataset.points), series: Number(figure.dataset.series ?? 0) },
      ]),
    ),
  );
}

describeInBrowser('the live dashboard', () => {
  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(
        `The dashboard browser tests need Chromium at ${CHROMIUM} (CI is set, so they may not be ` +
          `skipped). Install it with: ${INSTALL_HINT}`,
      );
    }
    buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startOfflineStack(),
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-quic',
          '--disable-sync',
          // For the load check: exact heap figures, and a GC before each one.
          '--enable-precise-memory-info',
          '--js-flags=--expose-gc',
        ],
      }),
      buildDashboard(buildDir),
    ]);
    fleetCredentials = issueInBackground(stack.localCloudDir, FLEET);
    // Handled here so that a failure is reported by the load test, not as an unhandled rejection.
    fleetCredentials.catch(() => undefined);
    server = await startDashboardServer({ host: '127.0.0.1', port: 0, root: buildDir });
    // The token goes in its own parameter: the page passes it on to the socket URL.
    page = await openDashboard(stack.bareWebsocketUrl, await stack.token({ commands: true }));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(devices.map((device) => device.close()));
    await browser?.close();
    await server?.stop();
    // What the offline stack printed, for a failure that starts in the backend.
    if (stack) fs.writeFileSync(path.join(SCREENSHOTS, 'dashboard-stack.log'), stack.output());
    await stack?.stop();
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  }, 30_000);

  it('fills the device list as devices publish', async () => {
    for (const id of ['sensor-1', 'sensor-2', 'sensor-3']) {
      const sensor = await device(id);
      await sensor.publishReading();
    }
    for (const id of ['sensor-1', 'sensor-2', 'sensor-3']) await waitForMessages(id, 1);

    const shown = await rows();
    for (const id of ['sensor-1', 'sensor-2', 'sensor-3']) {
      expect(shown[id]).toMatchObject({ status: 'online', statusText: 'online', messages: 1 });
      // The first reading's temperature (21.00 °C) is in the row, as text.
      expect(shown[id]!.text).toContain('21.0');
    }
    await expect(page.textContent('#devices-summary')).resolves.toContain('3 devices');
  });

  it('charts the readings: point counts grow as readings arrive', async () => {
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>('figure.chart')?.dataset.series === '3',
    );
    const before = await chartPoints();
    const sensors = devices.slice(0, 3);
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(sensors.map((sensor) => sensor.publishReading()));
    }
    for (const sensor of sensors) await waitForMessages(sensor.id, 4);
    await page.waitForFunction(
      (expected) =>
        [...document.querySelectorAll<HTMLElement>('figure.chart')].every(
          (figure) => Number(figure.dataset.points) >= expected,
        ),
      before.temperature!.points + 9,
    );
    const after = await chartPoints();
    for (const metric of ['temperature', 'humidity', 'pressure', 'battery', 'rssi']) {
      expect(after[metric]).toEqual({ points: 12, series: 3 });
      expect(after[metric]!.points).toBeGreaterThan(before[metric]!.points);
    }
  });

  it('sends a command from the form and shows the device acknowledgement', async () => {
    const actuator = await device('actuator-1');
    const received: string[] = [];
    await actuator.acknowledgeCommands(({ commandId }) => received.push(commandId));

    await page.fill('#command-device', 'actuator-1');
    await page.fill('#command-body', '{"setInterval": 5}');
    await page.click('#command-form button[type=submit]');

    const acknowledged = await page.waitForSelector('#commands li[data-status="acknowledged"]', {
      timeout: 20_000,
    });
    const commandId = await acknowledged.getAttribute('data-command-id');
    expect(received).toEqual([commandId]);
    const text = await acknowledged.textContent();
    expect(text).toContain('acknowledged');
    expect(text).toContain('"status":"done"');
    expect(text).toContain('{"setInterval":5}');
  });

  it('rejects a command that is not JSON, saying why', async () => {
    await page.fill('#command-body', '{reboot');
    await page.click('#command-form button[type=submit]');
    await expect(page.getAttribute('#command-body', 'aria-invalid')).resolves.toBe('true');
    await expect(page.textContent('#command-body-error')).resolves.toContain('Not valid JSON');
    await page.fill('#command-body', '{"reboot": true}');
  });

  it('narrows what arrives to a subscription filter', async () => {
    const [sensor1, sensor2] = devices as [TestDevice, TestDevice];
    // A second client that receives everything tells when sensor-2's readings were broadcast.
    const everything: TestClient = await connectClient(stack.websocketUrl);
    try {
      await page.fill('#subscription-filters', 'devices/sensor-1/#');
      await page.click('#subscription-form button[value=subscribe]');
      await page.waitForFunction(
        () =>
          document.getElementById('subscription-current')?.dataset.filters ===
          '["devices/sensor-1/#"]',
      );
      await expect(page.textContent('#subscription-current')).resolves.toBe(
        'only devices/sensor-1/#',
      );
      const before = await rows();

      await sensor2.publishReading();
      await sensor2.publishReading();
      await everything.waitFor(
        (frame) =>
          frame.deviceId === 'sensor-2' &&
          (frame.data as { seq?: number }).seq === sensor2.published - 1,
      );
      await sensor1.publishReading();
      await waitForMessages('sensor-1', before['sensor-1']!.messages + 1);

      const after = await rows();
      expect(after['sensor-2']!.messages).toBe(before['sensor-2']!.messages);
      expect(after['sensor-3']!.messages).toBe(before['sensor-3']!.messages);
      expect(after['sensor-1']!.messages).toBe(before['sensor-1']!.messages + 1);
    } finally {
      await everything.close();
    }
  });

  it('reconnects by itself when the socket drops, with a visible countdown', async () => {
    await page.evaluate(() => window.__dashboard!.socket!.close());
    await waitForState(page, 'waiting');
    await expect(page.textContent('#connection-countdown')).resolves.toMatch(
      /^Next attempt in \d+ s \(attempt 1\)\.$/,
    );
    await expect(page.textContent('#connection-status')).resolves.toContain(
      'Reconnecting automatically',
    );
    await expect(page.isVisible('#reconnect-now')).resolves.toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-reconnecting.png') });

    await waitForState(page, 'open');
    await expect(page.textContent('#connection-status')).resolves.toBe('Connected: live.');
    // The new connection gets the subscription back, and telemetry flows on it.
    await page.waitForFunction(
      () =>
        document.getElementById('subscription-current')?.dataset.filters ===
        '["devices/sensor-1/#"]',
    );
    const sensor1 = devices[0]!;
    const before = (await rows())['sensor-1']!.messages;
    await sensor1.publishReading();
    await waitForMessages('sensor-1', before + 1);
  });

  it('stays usable at 375 px width', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    // Nothing but the device table's own scroll region is wider than the screen.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow).toBeLessThanOrEqual(375);
    await page.waitForFunction(() => {
      const plot = document.querySelector<HTMLElement>('.chart__plot .uplot');
      return plot !== null && plot.getBoundingClientRect().width <= 375;
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-375.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('is keyboard usable: every control can be reached with Tab and shows focus', async () => {
    const reached = new Set<string>();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (let press = 0; press < 40; press += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const active = document.activeElement as HTMLElement | null;
        if (!active || active === document.body) return undefined;
        const outline = getComputedStyle(active).outlineStyle;
        return { id: active.id || active.getAttribute('aria-label') || active.tagName, outline };
      });
      if (!focused) continue;
      expect(focused.outline).not.toBe('none');
      reached.add(focused.id);
    }
    for (const id of ['subscription-filters', 'command-device', 'command-body', 'log-pause']) {
      expect(reached).toContain(id);
    }
    expect([...reached].some((id) => id.startsWith('Chart '))).toBe(true);
  });

  it('pauses and resumes the message log', async () => {
    await page.click('#log-pause');
    await expect(page.getAttribute('#log-pause', 'aria-pressed')).resolves.toBe('true');
    const frozen = await page.$$eval('#log li', (items) => items.length);
    const sensor1 = devices[0]!;
    const before = (await rows())['sensor-1']!.messages;
    await sensor1.publishReading();
    await waitForMessages('sensor-1', before + 1);
    await page.waitForFunction(() =>
      document.getElementById('log-status')?.textContent?.startsWith('Paused: 1 message'),
    );
    expect(await page.$$eval('#log li', (items) => items.length)).toBe(frozen);
    await page.click('#log-pause');
    await page.waitForFunction(
      (count) => document.querySelectorAll('#log li').length > count,
      frozen,
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  it('load through the stack: 50 devices × 2 readings/s', async () => {
    await page.fill('#subscription-filters', 'devices/+/telemetry');
    await page.click('#subscription-form button[value=subscribe]');
    await page.waitForFunction(() =>
      document
        .getElementById('subscription-current')
        ?.dataset.filters?.includes('devices/+/telemetry'),
    );
    const fleet = await Promise.all(
      (await fleetCredentials).map((credentials) => device(credentials.thingName, credentials)),
    );
    const telemetryBefore = (await dashboardStats(page)).telemetry;

    const measure = await measurePage(page);
    const started = Date.now();
    for (let tick = 0; tick < STACK_LOAD_SECONDS * 2; tick += 1) {
      const due = started + tick * 500;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      await Promise.all(fleet.map((member) => member.publishReading()));
    }
    const published = fleet.length * STACK_LOAD_SECONDS * 2;
    await page.waitForFunction(
      (expected) => window.__dashboard!.stats.telemetry >= expected,
      telemetryBefore + published,
      { timeout: 60_000, polling: 250 },
    );
    const deliveredMs = Date.now() - started;
    const report = await measure();

    const shown = await rows();
    for (const id of FLEET) expect(shown[id]?.messages).toBe(STACK_LOAD_SECONDS * 2);
    assertBounded(shown, await chartPoints());
    console.log(
      `stack load: ${published} readings from 50 devices over MQTT in ${STACK_LOAD_SECONDS} s, ` +
        `all on the page after ${(deliveredMs / 1000).toFixed(1)} s ` +
        `(${((published * 1000) / deliveredMs).toFixed(0)} readings/s through rule → Lambda → ` +
        `WebSocket)\n${describeReport(report)}`,
    );
  }, 90_000);

  it('keeps up with 50 devices × 2 readings/s fed straight to the page, memory bounded', async () => {
    const feed: TelemetryFeed = await startTelemetryFeed();
    const loadPage = await openDashboard(feed.url);
    try {
      await feed.connected();
      // One device far over capacity first: its ring buffer must stop growing at capacity.
      const capacity = await loadPage.evaluate(() => window.__dashboard!.seriesCapacity);
      const burst = await feed.burst('burst-00', capacity * 2 + 100);
      await waitForMessages('burst-00', burst.unique, loadPage);

      const ids = Array.from({ length: 50 }, (_, i) => `feed-${String(i).padStart(2, '0')}`);
      const measure = await measurePage(loadPage);
      const sent = await feed.stream({
        devices: ids,
        perSecond: 2,
        seconds: FEED_LOAD_SECONDS,
        duplicateEvery: 20,
      });
      const streamEnded = Date.now();
      await loadPage.waitForFunction(
        (expected) => window.__dashboard!.stats.telemetry >= expected,
        burst.unique + sent.unique,
        { timeout: 15_000, polling: 100 },
      );
      const backlogMs = Date.now() - streamEnded;
      const report = await measure();
      const stats = await dashboardStats(loadPage);

      expect(stats.telemetry).toBe(burst.unique + sent.unique);
      expect(stats.duplicates).toBe(sent.duplicates);
      const shown = await rows(loadPage);
      expect(shown['burst-00']).toMatchObject({ messages: burst.unique, points: capacity });
      for (const id of ids) expect(shown[id]?.messages).toBe(2 * FEED_LOAD_SECONDS);
      assertBounded(shown, await chartPoints(loadPage));
      const logEntries = await loadPage.$$eval('#log li', (items) => items.length);
      expect(logEntries).toBeLessThanOrEqual(200);
      // A generous bound: the per-device buffers are allocated once, so the heap plateaus.
      expect(report.heapAfter - report.heapBefore).toBeLessThan(32 * 1024 * 1024);

      await loadPage.screenshot({
        path: path.join(SCREENSHOTS, 'dashboard-load.png'),
        fullPage: true,
      });
      console.log(
        `feed load: ${sent.unique} readings (+${sent.duplicates} duplicates, all dropped) from ` +
          `50 devices in ${(sent.elapsedMs / 1000).toFixed(1)} s ` +
          `(${((sent.unique * 1000) / sent.elapsedMs).toFixed(0)}/s); backlog after the last ` +
          `frame ${backlogMs} ms; ${capacity * 2 + 100}-reading burst kept ${capacity} points\n` +
          `${describeReport(report)}\n` +
          `  dashboard renders: ${stats.render.renders}, mean ` +
          `${(stats.render.totalRenderMs / stats.render.renders).toFixed(2)} ms, max ` +
          `${stats.render.maxRenderMs.toFixed(1)} ms`,
      );
    } finally {
      await loadPage.close();
      await feed.stop();
    }
  }, 60_000);

  it('takes batched delivery: telemetryBatch frames, a redelivered reading dropped by id', async () => {
    const feed: TelemetryFeed = await startTelemetryFeed();
    const batchPage = await openDashboard(feed.url);
    try {
      await feed.connected();
      const sent = await feed.batches('batch-00', 250, 100);
      await waitForMessages('batch-00', sent.unique, batchPage);
      await batchPage.waitForFunction(
        (expected) => window.__dashboard!.stats.duplicates >= expected,
        sent.duplicates,
        { timeout: 10_000, polling: 100 },
      );
      const stats = await dashboardStats(batchPage);
      expect(stats).toMatchObject({ telemetry: sent.unique, duplicates: sent.duplicates });
      expect((await rows(batchPage))['batch-00']?.messages).toBe(sent.unique);
    } finally {
      await batchPage.close();
      await feed.stop();
    }
  }, 30_000);

  it('logged no errors in the page', () => {
    if (refusedHandshakes.length > 0) {
      console.log(`handshakes refused, then retried:\n  ${refusedHandshakes.join('\n  ')}`);
    }
    expect(pageErrors).toEqual([]);
  });
});

const dashboardStats = (target: Page): Promise<DashboardHandle['stats']> =>
  target.evaluate(() => window.__dashboard!.stats);

interface PageReport extends FrameReport {
  heapBefore: number;
  heapAfter: number;
}

/** Starts counting frames now (heap measured first); the returned function ends the period. */
async function measurePage(target: Page): Promise<() => Promise<PageReport>> {
  const heapBefore = await usedHeap(target);
  const stop = await startFrameMeter(target);
  return async () => {
    const frames = await stop();
    return { ...frames, heapBefore, heapAfter: await usedHeap(target) };
  };
}

function describeReport(report: PageReport): string {
  const expected = report.rendered + report.dropped;
  return (
    `  frames: ${report.rendered} rendered, ${report.dropped} dropped ` +
    `(${((100 * report.dropped) / Math.max(1, expected)).toFixed(1)}%) over ` +
    `${report.seconds.toFixed(1)} s at ${(1000 / report.intervalMs).toFixed(0)} Hz, longest ` +
    `gap ${report.longestGapMs.toFixed(0)} ms\n` +
    `  JS heap: ${megabytes(report.heapBefore)} before, ${megabytes(report.heapAfter)} after`
  );
}

function assertBounded(
  shown: Awaited<ReturnType<typeof rows>>,
  charts: Awaited<ReturnType<typeof chartPoints>>,
): void {
  let capacity = 0;
  for (const row of Object.values(shown)) {
    expect(row.points).toBeLessThanOrEqual(row.capacity);
    capacity = Math.max(capacity, row.capacity);
  }
  for (const chart of Object.values(charts)) {
    expect(chart.points).toBeLessThanOrEqual(chart.series * capacity);
  }
}
