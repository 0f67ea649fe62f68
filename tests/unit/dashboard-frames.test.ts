/**
 * The dashboard with every kind of telemetry payload: the log shows each one readably, the charts
 * take only the fields of JSON objects. Batched delivery's `telemetryBatch` frames are unpacked
 * into their readings, and a reading delivered twice (SQS redelivers a batch's failed records)
 * is dropped by its id.
 */
import { describe, expect, it } from '@jest/globals';
import { ackOf, logPayload, parseFrames } from '../../dashboard/src/frames';
import { TelemetryStore } from '../../dashboard/src/store';
import { telemetryBatchFrameSchema } from '../../scripts/asyncapi/frames';
import type { CommandAck } from '../../scripts/simulator/mqtt-device';
import type { TelemetryFrame } from '../../shared/protocol';
import { BATCH_FRAME_MAX_BYTES, ViewerFramePlanner } from '../../shared/telemetry/batch';
import { telemetryFrame } from '../../shared/telemetry/frame';

const envelope = {
  type: 'telemetry',
  topic: 'devices/sensor-1/telemetry',
  deviceId: 'sensor-1',
  receivedAt: 1,
  data: {},
} as const;

const frames: [TelemetryFrame, unknown][] = [
  [
    { ...envelope, id: '1', kind: 'object', size: 19, data: { temperature: 21.5 } },
    { temperature: 21.5 },
  ],
  [
    { ...envelope, id: '2', kind: 'text', size: 26, text: 'Hello, IoT, This is Mayuri' },
    'Hello, IoT, This is Mayuri',
  ],
  [{ ...envelope, id: '3', kind: 'json', size: 7, value: [1, 2, 3] }, [1, 2, 3]],
  [{ ...envelope, id: '4', kind: 'binary', size: 3, base64: '/wAQ' }, 'binary, 3 bytes: /wAQ'],
  [{ ...envelope, id: '5', kind: 'empty', size: 0 }, 'empty payload'],
  [
    {
      ...envelope,
      id: '6',
      kind: 'tooLarge',
      size: 102_400,
      payloadKind: 'binary',
      frameSize: 136_800,
      limit: 131_072,
    },
    'binary payload of 102400 bytes, too large to forward (136800 bytes frame, limit 131072 bytes)',
  ],
];

describe('the dashboard and non-JSON telemetry', () => {
  const cases = frames.map(([frame, shown]) => ({ kind: frame.kind, frame, shown }));
  it.each(cases)('logs a $kind frame readably', ({ frame, shown }) => {
    const parsed = parseFrames(JSON.stringify(frame));
    expect(parsed).toEqual([frame]);
    expect(logPayload(parsed![0] as TelemetryFrame)).toEqual(shown);
  });

  it('logs the data of a frame from a backend that predates kind', () => {
    const [old] = parseFrames(JSON.stringify({ ...envelope, id: '7', data: { humidity: 40 } }))!;
    expect(logPayload(old as TelemetryFrame)).toEqual({ humidity: 40 });
  });

  it('charts only the JSON object, counting the other messages', () => {
    const store = new TelemetryStore();
    for (const [frame] of frames) expect(store.add(frame, 1_000)).toBe(true);
    const device = store.devices.get('sensor-1')!;
    expect(device.messages).toBe(frames.length);
    expect(device.series.size).toBe(1);
    expect(device.latest[0]).toBe(21.5);
  });
});

const reading = (id: string, deviceId: string, data: Record<string, unknown>): TelemetryFrame => ({
  type: 'telemetry',
  id,
  topic: `devices/${deviceId}/telemetry`,
  deviceId,
  receivedAt: 1,
  kind: 'object',
  size: JSON.stringify(data).length,
  data,
});
const batch = (id: string, items: unknown[]) =>
  JSON.stringify({ type: 'telemetryBatch', id, items });

describe('the dashboard and telemetryBatch frames', () => {
  const first = [1, 2, 3].map((seq) => reading(`a${seq}`, 'sensor-1', { seq, temperature: seq }));

  it('unpacks a batch into its readings, in the order sent', () => {
    expect(parseFrames(batch('b1', first))).toEqual(first);
    expect(parseFrames(batch('b0', []))).toEqual([]);
  });

  it.each([
    ['no id', JSON.stringify({ type: 'telemetryBatch', items: [] })],
    ['items not a list', JSON.stringify({ type: 'telemetryBatch', id: 'b', items: {} })],
    ['an item that is not telemetry', batch('b', [first[0], { type: 'message', id: 'x' }])],
    ['an item without data', batch('b', [{ ...first[0], data: null }])],
  ])('calls a batch with %s malformed', (_, text) => {
    expect(parseFrames(text)).toBeUndefined();
  });

  it('drops the readings of a redelivered batch that it already has, by id', () => {
    const store = new TelemetryStore();
    // SQS redelivers the records that failed for some viewer: in a new batch, with their ids.
    const again = [first[2]!, reading('a4', 'sensor-1', { seq: 4, temperature: 4 })];
    const added = [batch('b1', first), batch('b2', again)]
      .flatMap((text) => parseFrames(text)!)
      .map((frame) => store.add(frame as TelemetryFrame, 1_000));
    expect(added).toEqual([true, true, true, false, true]);
    expect(store.telemetry).toBe(4);
    expect(store.duplicates).toBe(1);
    expect(store.devices.get('sensor-1')!.latest[0]).toBe(4);
  });

  it("finds a simulated device's command acknowledgement inside a batch", () => {
    const ack: CommandAck = { type: 'ack', commandId: 'c-1', deviceId: 'sensor-2', ts: 5 };
    const frames = parseFrames(batch('b3', [first[0], reading('k', 'sensor-2', { ...ack })]))!;
    expect(frames.map((frame) => ackOf(frame as TelemetryFrame))).toEqual([
      undefined,
      { commandId: 'c-1' },
    ]);
  });
});

describe('the dashboard and the batches forwardTelemetry builds', () => {
  // 300 readings of two devices as the topic rule's SQL gives them (base64 payloads), through
  // the real coalescing (shared/telemetry/batch.ts) for a viewer of everything.
  const frames = Array.from({ length: 300 }, (_, seq) => {
    const deviceId = `sensor-${seq % 2}`;
    const payload = Buffer.from(JSON.stringify({ seq, temperature: 20 + seq / 100 }));
    return telemetryFrame(
      {
        deviceId,
        receivedAt: 1_000 + seq,
        messageId: `m${seq}`,
        payload: payload.toString('base64'),
      },
      `r${seq}`,
    );
  });
  let next = 0;
  const planned = new ViewerFramePlanner(
    frames.map((frame) => ({ frame, records: [frame.id] })),
    () => `b${next++}`,
  ).framesFor({ topics: null });

  it('fill frames of at most 32 KB that the AsyncAPI schema accepts', () => {
    expect(planned.length).toBeGreaterThan(1);
    for (const { data } of planned) {
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(BATCH_FRAME_MAX_BYTES);
      expect(telemetryBatchFrameSchema.safeParse(JSON.parse(data)).success).toBe(true);
    }
  });

  it('unpack into every reading, each device in order, none twice', () => {
    const store = new TelemetryStore();
    const readings = planned.flatMap(({ data }) => parseFrames(data)!) as TelemetryFrame[];
    expect(readings.map((frame) => frame.id)).toEqual(frames.map((frame) => frame.id));
    for (const frame of readings) expect(store.add(frame, 2_000)).toBe(true);
    expect(store.devices.get('sensor-1')!.messages).toBe(150);
    // Redelivered: the whole batch again, dropped reading by reading.
    for (const frame of parseFrames(planned[0]!.data)!) {
      expect(store.add(frame as TelemetryFrame, 3_000)).toBe(false);
    }
    expect(store.duplicates).toBeGreaterThan(100);
  });
});
