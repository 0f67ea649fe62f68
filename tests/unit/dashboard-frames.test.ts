/**
 * The dashboard with every kind of telemetry payload: the log shows each one readably, the charts
 * take only the fields of JSON objects.
 */
import { describe, expect, it } from '@jest/globals';
import { logPayload, parseFrame } from '../../dashboard/src/frames';
import { TelemetryStore } from '../../dashboard/src/store';
import type { TelemetryFrame } from '../../shared/protocol';

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
    const parsed = parseFrame(JSON.stringify(frame));
    expect(parsed).toEqual(frame);
    expect(logPayload(parsed as TelemetryFrame)).toEqual(shown);
  });

  it('logs the data of a frame from a backend that predates kind', () => {
    const old = parseFrame(JSON.stringify({ ...envelope, id: '7', data: { humidity: 40 } }));
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
