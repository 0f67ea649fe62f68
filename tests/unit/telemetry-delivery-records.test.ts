/**
 * What forwardTelemetry's delivery (shared/telemetry/delivery.ts) leaves for an operator: each
 * log line it writes (level, message and fields: connection ids, reasons, counts) and the
 * embedded-metric-format values it records (fan-out duration, viewers, frames per viewer, readings
 * per frame, readings forwarded), read back as the JSON lines the Logger and Metrics print, over
 * the real Broadcaster with in-memory connections and a recording sender, with delivered, gone
 * (410), failed (403) and no viewers at all.
 */
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest,
} from '@jest/globals';
import type { Context } from 'aws-lambda';
import { WEBSOCKET_MESSAGE_MAX_BYTES } from '../../shared/limits';
import { logger } from '../../shared/logger';
import type { SqsRecord } from '../../shared/protocol';
import { broadcasterOver } from '../support/delivery-stand-ins';
import { lambdaContext } from '../support/lambda';
import { capturePrintedLines } from '../support/printed-lines';

// Before shared/metrics.ts is first imported: tests/support/setup-env.ts turns metrics off.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const { metrics } = await import('../../shared/metrics');
const { forwardBatch, forwardReading } = await import('../../shared/telemetry/delivery');

const context = (): Context => lambdaContext('forwardTelemetry');

const base64 = (text: string) => Buffer.from(text).toString('base64');
const event = (deviceId: string, messageId: string, payload = '{"t":1}', receivedAt = 1_000) => ({
  deviceId,
  receivedAt,
  messageId,
  payload: base64(payload),
});
const record = (messageId: string, body: unknown): SqsRecord =>
  ({
    messageId,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '3' },
  }) as SqsRecord;
/** A JSON payload of about `bytes` bytes: a frame of it fills most of a 32 KB batch frame. */
const bulky = (bytes: number) => JSON.stringify({ t: 'x'.repeat(bytes) });

interface Printed {
  level?: string;
  message?: string;
  _aws?: unknown;
  [member: string]: unknown;
}

let printedLines: string[];
beforeAll(() => {
  logger.setLogLevel('INFO');
});
afterAll(() => {
  logger.setLogLevel('SILENT');
});
beforeEach(() => {
  printedLines = capturePrintedLines(
    (line) => line.startsWith('{'),
    [process.stdout, process.stderr],
  );
});
afterEach(() => {
  jest.restoreAllMocks();
});

/** Publishes what the invocation recorded (as emitMetrics does) and splits logs from metrics. */
function output(): { logs: Printed[]; metric: Printed | undefined } {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  const printed = printedLines.map((line) => JSON.parse(line) as Printed);
  const emf = printed.filter((line) => '_aws' in line);
  expect(emf.length).toBeLessThanOrEqual(1);
  return { logs: printed.filter((line) => !('_aws' in line)), metric: emf[0] };
}

const levelsAndMessages = (logs: Printed[]) =>
  logs.map(({ level, message }) => ({ level, message }));

/** Runs `call`, returning the wall time it took around it. */
async function timed<T>(call: () => Promise<T>): Promise<{ value: T; wallMs: number }> {
  const before = Date.now();
  const value = await call();
  return { value, wallMs: Date.now() - before };
}

describe('forwardReading logs and metrics', () => {
  it('a reading forwarded: one INFO line with the device, topic, kind and counts', async () => {
    const { broadcaster } = broadcasterOver(
      [
        { connectionId: 'ok', topics: null },
        { connectionId: 'left', topics: null },
        { connectionId: 'elsewhere', topics: ['devices/other/#'] },
      ],
      { gone: ['left'], delayMs: 20 },
    );
    const { value: report, wallMs } = await timed(() =>
      forwardReading(broadcaster, event('d1', 'm1'), context()),
    );
    expect(report).toEqual({ delivered: 1, gone: 1, failed: 0 });

    const { logs, metric } = output();
    expect(levelsAndMessages(logs)).toEqual([{ level: 'INFO', message: 'Telemetry forwarded' }]);
    expect(logs[0]).toMatchObject({
      deviceId: 'd1',
      topic: 'devices/d1/telemetry',
      kind: 'object',
      delivered: 1,
      gone: 1,
      failed: 0,
    });
    expect(metric).toMatchObject({
      DeliveriesDelivered: 1,
      DeliveriesGone: 1,
      DeliveriesFailed: 0,
      Viewers: 2,
      FramesPerViewer: 1,
      ReadingsForwarded: 1,
    });
    // From the first post to the last answer: at least the 20 ms each post took, at most the call.
    expect(metric?.FanOutDuration).toBeGreaterThanOrEqual(15);
    expect(metric?.FanOutDuration).toBeLessThanOrEqual(wallMs);
  });

  it('a viewer unreachable: one WARN line naming it and its error; nothing counted forwarded', async () => {
    const { broadcaster } = broadcasterOver(
      [
        { connectionId: 'ok', topics: null },
        { connectionId: 'bad', topics: null },
        { connectionId: 'left', topics: null },
      ],
      { gone: ['left'], refuse: ['bad'] },
    );
    const { value: failure, wallMs } = await timed(() =>
      forwardReading(broadcaster, event('d1', 'm1'), context()).catch((error: unknown) => error),
    );
    expect(failure).toMatchObject({ name: 'PartialDeliveryError' });

    const { logs, metric } = output();
    expect(levelsAndMessages(logs)).toEqual([
      {
        level: 'WARN',
        message: 'Some connections could not be reached; the event will be retried',
      },
    ]);
    expect(logs[0]).toMatchObject({
      delivered: 1,
      gone: 1,
      failed: 1,
      failures: [{ connectionId: 'bad', error: 'Error: PostToConnection answered 403' }],
    });
    expect(metric).toMatchObject({
      DeliveriesDelivered: 1,
      DeliveriesGone: 1,
      DeliveriesFailed: 1,
      Viewers: 3,
      FramesPerViewer: 1,
    });
    expect(metric).not.toHaveProperty('ReadingsForwarded');
    expect(metric?.FanOutDuration).toBeGreaterThanOrEqual(0);
    expect(metric?.FanOutDuration).toBeLessThanOrEqual(wallMs);
  });

  it('a frame over the message limit: a WARN line with its id, device, topic and sizes, then INFO', async () => {
    const { broadcaster, sender } = broadcasterOver([{ connectionId: 'ok', topics: null }]);
    const payload = bulky(WEBSOCKET_MESSAGE_MAX_BYTES);
    await forwardReading(broadcaster, event('d1', 'm-big', payload), context());

    const sent = JSON.parse(sender.posts[0]!.data) as { kind: string; frameSize: number };
    expect(sent.kind).toBe('tooLarge');
    const { logs } = output();
    expect(levelsAndMessages(logs)).toEqual([
      {
        level: 'WARN',
        message: 'Telemetry frame over the WebSocket message limit: clients get a tooLarge frame',
      },
      { level: 'INFO', message: 'Telemetry forwarded' },
    ]);
    expect(logs[0]).toMatchObject({
      id: 'm-big',
      deviceId: 'd1',
      topic: 'devices/d1/telemetry',
      size: Buffer.byteLength(payload),
      frameSize: sent.frameSize,
      limit: WEBSOCKET_MESSAGE_MAX_BYTES,
    });
    expect(sent.frameSize).toBeGreaterThan(WEBSOCKET_MESSAGE_MAX_BYTES);
    expect(logs[1]).toMatchObject({ kind: 'tooLarge', delivered: 1 });
  });
});

describe('forwardBatch logs and metrics', () => {
  it('all delivered: one INFO line with the batch’s counts; every record counted forwarded', async () => {
    const { broadcaster } = broadcasterOver(
      [
        { connectionId: 'all', topics: null },
        { connectionId: 'left', topics: null },
        { connectionId: 'only-d2', topics: ['devices/d2/#'] },
      ],
      { gone: ['left'], delayMs: 20 },
    );
    const twice = event('d1', 'm1');
    const { value: response, wallMs } = await timed(() =>
      forwardBatch(
        broadcaster,
        [record('r1', twice), record('r2', event('d2', 'm2')), record('r3', twice)],
        context(),
      ),
    );
    expect(response).toEqual({ batchItemFailures: [] });

    const { logs, metric } = output();
    expect(levelsAndMessages(logs)).toEqual([
      { level: 'INFO', message: 'Telemetry batch forwarded' },
    ]);
    expect(logs[0]).toMatchObject({
      records: 3,
      readings: 2,
      delivered: 2,
      gone: 1,
      failed: 0,
      framesSent: 2,
      failedRecords: 0,
    });
    expect(metric).toMatchObject({
      BatchRecords: 3,
      FramesSent: 2,
      // 'all' and 'left' one frame of 2 readings each, 'only-d2' one of 1.
      ReadingsPerFrame: 5 / 3,
      DeliveriesDelivered: 2,
      DeliveriesGone: 1,
      DeliveriesFailed: 0,
      Viewers: 3,
      FramesPerViewer: 1,
      ReadingsForwarded: 3,
    });
    expect(metric?.FanOutDuration).toBeGreaterThanOrEqual(15);
    expect(metric?.FanOutDuration).toBeLessThanOrEqual(wallMs);
  });

  it('gone and failed viewers: frames per viewer over all of them; a WARN line per failure', async () => {
    // Each bulky reading fills most of a 32 KB frame: 'all' gets [r1] [r2 r3], 'bad' (d1) [r1 r3],
    // 'left' (d2) [r2], 'd9' nothing.
    const { broadcaster, sender } = broadcasterOver(
      [
        { connectionId: 'all', topics: null },
        { connectionId: 'bad', topics: ['devices/d1/#'] },
        { connectionId: 'left', topics: ['devices/d2/#'] },
        { connectionId: 'd9', topics: ['devices/d9/#'] },
      ],
      { gone: ['left'], refuse: ['bad'] },
    );
    const records = [
      record('r1', event('d1', 'm1', bulky(20_000), 1_000)),
      record('r2', event('d2', 'm2', bulky(20_000), 1_001)),
      record('r3', event('d1', 'm3', '{"t":3}', 1_002)),
    ];
    const { value: response, wallMs } = await timed(() =>
      forwardBatch(broadcaster, records, context()),
    );
    expect(sender.posts.map((post) => post.connectionId)).toEqual(['all', 'all']);
    // 'bad' got neither of its readings: their records come back; r2 reached every viewer.
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'r1' }, { itemIdentifier: 'r3' }],
    });

    const { logs, metric } = output();
    expect(levelsAndMessages(logs)).toEqual([
      {
        level: 'WARN',
        message: 'Some connections could not be reached; their readings will be redelivered',
      },
    ]);
    expect(logs[0]).toMatchObject({
      records: 3,
      readings: 3,
      delivered: 1,
      gone: 1,
      failed: 1,
      framesSent: 2,
      failedRecords: 2,
      failures: [
        {
          connectionId: 'bad',
          error: 'Error: PostToConnection answered 403',
          undeliveredFrames: 1,
        },
      ],
    });
    expect(metric).toMatchObject({
      BatchRecords: 3,
      FramesSent: 2,
      DeliveriesDelivered: 1,
      DeliveriesGone: 1,
      DeliveriesFailed: 1,
      Viewers: 3,
      // 2 + 1 + 1 frames addressed to 3 viewers, holding 3 + 2 + 1 readings.
      FramesPerViewer: 4 / 3,
      ReadingsPerFrame: 6 / 4,
      // r2 only.
      ReadingsForwarded: 1,
    });
    expect(metric?.FanOutDuration).toBeGreaterThanOrEqual(0);
    expect(metric?.FanOutDuration).toBeLessThanOrEqual(wallMs);
  });

  it('a failed viewer with several frames: the WARN line counts the frames it did not get', async () => {
    const { broadcaster } = broadcasterOver([{ connectionId: 'bad', topics: null }], {
      refuse: ['bad'],
    });
    await forwardBatch(
      broadcaster,
      [
        record('r1', event('d1', 'm1', bulky(20_000), 1_000)),
        record('r2', event('d2', 'm2', bulky(20_000), 1_001)),
      ],
      context(),
    );
    const { logs, metric } = output();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'WARN',
      failed: 1,
      failedRecords: 2,
      failures: [{ connectionId: 'bad', undeliveredFrames: 2 }],
    });
    expect(metric).toMatchObject({ Viewers: 1, FramesPerViewer: 2, ReadingsForwarded: 0 });
  });

  it('no viewer at all: no frames per viewer nor readings per frame; every record forwarded', async () => {
    const { broadcaster, sender } = broadcasterOver([
      { connectionId: 'd9', topics: ['devices/d9/#'] },
    ]);
    const { wallMs } = await timed(() =>
      forwardBatch(
        broadcaster,
        [record('r1', event('d1', 'm1')), record('r2', event('d2', 'm2'))],
        context(),
      ),
    );
    expect(sender.posts).toEqual([]);

    const { logs, metric } = output();
    expect(levelsAndMessages(logs)).toEqual([
      { level: 'INFO', message: 'Telemetry batch forwarded' },
    ]);
    expect(logs[0]).toMatchObject({
      records: 2,
      readings: 2,
      delivered: 0,
      gone: 0,
      failed: 0,
      framesSent: 0,
      failedRecords: 0,
    });
    expect(metric).toMatchObject({
      BatchRecords: 2,
      FramesSent: 0,
      DeliveriesDelivered: 0,
      DeliveriesGone: 0,
      DeliveriesFailed: 0,
      Viewers: 0,
      ReadingsForwarded: 2,
    });
    expect(metric).not.toHaveProperty('FramesPerViewer');
    expect(metric).not.toHaveProperty('ReadingsPerFrame');
    expect(metric?.FanOutDuration).toBeGreaterThanOrEqual(0);
    expect(metric?.FanOutDuration).toBeLessThanOrEqual(wallMs);
  });

  it('unreadable records: a WARN line each with the record, its receive count and why', async () => {
    const { broadcaster } = broadcasterOver([{ connectionId: 'all', topics: null }]);
    const response = await forwardBatch(
      broadcaster,
      [
        record('not-json', '{"deviceId":'),
        record('not-object', '42'),
        record('bad-fields', { deviceId: 'd1', receivedAt: 'soon', topic: 7 }),
        // A record without its attributes: no receive count to log.
        { messageId: 'bare', body: 'null' } as SqsRecord,
        record('ok', event('d1', 'm1')),
      ],
      context(),
    );
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: 'not-json' },
        { itemIdentifier: 'not-object' },
        { itemIdentifier: 'bad-fields' },
        { itemIdentifier: 'bare' },
      ],
    });

    const { logs, metric } = output();
    const unreadable = 'Unreadable delivery record: reported failed, for the dead-letter queue';
    expect(levelsAndMessages(logs)).toEqual([
      { level: 'WARN', message: unreadable },
      { level: 'WARN', message: unreadable },
      { level: 'WARN', message: unreadable },
      { level: 'WARN', message: unreadable },
      { level: 'INFO', message: 'Telemetry batch forwarded' },
    ]);
    expect(logs.slice(0, 4)).toMatchObject([
      {
        messageId: 'not-json',
        receiveCount: '3',
        reason: `the body is not JSON (${jsonError('{"deviceId":')})`,
      },
      {
        messageId: 'not-object',
        receiveCount: '3',
        reason:
          'the body is not a telemetry event (Invalid input: expected object, received number)',
      },
      {
        messageId: 'bad-fields',
        receiveCount: '3',
        reason:
          'the body is not a telemetry event (receivedAt: Invalid input: expected number, received string; topic: Invalid input: expected string, received number)',
      },
      {
        messageId: 'bare',
        reason: 'the body is not a telemetry event (Invalid input: expected object, received null)',
      },
    ]);
    expect(logs[3]).not.toHaveProperty('receiveCount');
    expect(logs[4]).toMatchObject({ records: 5, readings: 1, delivered: 1, failedRecords: 4 });
    expect(metric).toMatchObject({ BatchRecords: 5, FramesSent: 1, ReadingsForwarded: 1 });
  });
});

/** What JSON.parse says of `text` (its wording is the engine's). */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is JSON`);
}
