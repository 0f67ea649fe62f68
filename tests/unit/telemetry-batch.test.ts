/**
 * The coalescing of batched delivery (shared/telemetry/batch.ts): frames of at most 32 768 bytes
 * (API Gateway meters messages in 32 KB units, "Amazon API Gateway pricing"), the fewest of them
 * with each device's readings in order, per viewer after its filters, and a reading too large for
 * any batch frame sent on its own as the direct mode sends it.
 */
import { describe, expect, it } from '@jest/globals';
import type { TelemetryBatchFrame, TelemetryFrame } from '../../shared/protocol';
import {
  BATCH_FRAME_MAX_BYTES,
  ViewerFramePlanner,
  type BatchItem,
  type PlannedFrame,
} from '../../shared/telemetry/batch';

const EVERYONE = { topics: null };

/** A text reading of `deviceId` whose frame's JSON is exactly `bytes` long. */
function reading(deviceId: string, n: number, bytes = 300, receivedAt = 1_000 + n): TelemetryFrame {
  const frame: TelemetryFrame = {
    type: 'telemetry',
    id: `${deviceId}-${n}`,
    topic: `devices/${deviceId}/telemetry`,
    deviceId,
    receivedAt,
    size: 0,
    data: {},
    kind: 'text',
    text: '',
  };
  const padding = bytes - Buffer.byteLength(JSON.stringify(frame));
  if (padding < 0) throw new Error(`a frame of ${bytes} bytes is too small`);
  return { ...frame, text: 'x'.repeat(padding) };
}

const itemsOf = (frames: TelemetryFrame[]): BatchItem<string>[] =>
  frames.map((frame) => ({ frame, records: [`record-${frame.id}`] }));

function planner(frames: TelemetryFrame[], maxBytes?: number) {
  let next = 0;
  return new ViewerFramePlanner(
    itemsOf(frames),
    () => `batch-${String(next++).padStart(2, '0')}`,
    maxBytes,
  );
}

/** What a client receives: each frame parsed, a batch frame's items or a plain frame. */
const received = (frames: PlannedFrame<string>[]) =>
  frames.map((frame) => JSON.parse(frame.data) as TelemetryBatchFrame | TelemetryFrame);
const idsIn = (frames: PlannedFrame<string>[]) =>
  received(frames).flatMap((frame) =>
    frame.type === 'telemetryBatch' ? frame.items.map((item) => item.id) : [frame.id],
  );
const bytesOf = (frame: PlannedFrame<string>) => Buffer.byteLength(frame.data);

/** The JSON of a batch frame with this id around items of these sizes. */
const batchBytes = (id: string, itemBytes: number[]) =>
  Buffer.byteLength(`{"type":"telemetryBatch","id":"${id}","items":[]}`) +
  itemBytes.reduce((sum, bytes) => sum + bytes, 0) +
  itemBytes.length -
  1;

describe('ViewerFramePlanner', () => {
  it('sends each reading as the frame direct delivery sends, inside {"type":"telemetryBatch","id","items"}', () => {
    const frames = [reading('a', 1), reading('b', 1)];
    const planned = planner(frames).framesFor(EVERYONE);
    expect(received(planned)).toEqual([{ type: 'telemetryBatch', id: 'batch-00', items: frames }]);
    expect(planned[0]).toMatchObject({ readings: 2, records: ['record-a-1', 'record-b-1'] });
    // Serialized exactly as JSON.stringify would: the bytes metered are the bytes counted.
    expect(planned[0]!.data).toBe(JSON.stringify(received(planned)[0]));
  });

  it('fills a frame to exactly 32 768 bytes, and one byte more takes a second frame', () => {
    const first = 20_000;
    const envelope = batchBytes('batch-00', [first, 0]) - first;
    const exact = [
      reading('a', 1, first),
      reading('a', 2, BATCH_FRAME_MAX_BYTES - envelope - first),
    ];
    const fits = planner(exact).framesFor(EVERYONE);
    expect(fits.map(bytesOf)).toEqual([BATCH_FRAME_MAX_BYTES]);
    expect(idsIn(fits)).toEqual(['a-1', 'a-2']);

    const over = [
      reading('a', 1, first),
      reading('a', 2, BATCH_FRAME_MAX_BYTES - envelope - first + 1),
    ];
    const split = planner(over).framesFor(EVERYONE);
    expect(split).toHaveLength(2);
    for (const frame of split) expect(bytesOf(frame)).toBeLessThanOrEqual(BATCH_FRAME_MAX_BYTES);
    expect(idsIn(split)).toEqual(['a-1', 'a-2']);
  });

  it('a reading whose frame alone is over 32 KB goes on its own as a plain telemetry frame, in its place', () => {
    const big = reading('a', 2, 40_000);
    const frames = [reading('a', 1), big, reading('a', 3)];
    const planned = planner(frames).framesFor(EVERYONE);
    expect(received(planned)).toEqual([
      { type: 'telemetryBatch', id: expect.any(String), items: [frames[0]] },
      big,
      { type: 'telemetryBatch', id: expect.any(String), items: [frames[2]] },
    ]);
    expect(planned.map((frame) => frame.readings)).toEqual([1, 1, 1]);
    expect(planned[1]!.records).toEqual(['record-a-2']);
    // Batch frame ids stay unique.
    const ids = received(planned).map((frame) => frame.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('a reading that fits a batch frame alone only just is still batched', () => {
    const alone = BATCH_FRAME_MAX_BYTES - batchBytes('batch-00', [0]);
    const planned = planner([reading('a', 1, alone)]).framesFor(EVERYONE);
    expect(received(planned)[0]!.type).toBe('telemetryBatch');
    expect(bytesOf(planned[0]!)).toBe(BATCH_FRAME_MAX_BYTES);
    const plain = planner([reading('a', 1, alone + 1)]).framesFor(EVERYONE);
    expect(received(plain)[0]!.type).toBe('telemetry');
  });

  it("keeps each device's readings in the order they were received, whatever the batch's order", () => {
    // The queue handed them over shuffled; receivedAt is the broker's time (the rule's timestamp()).
    const frames = [
      reading('a', 3, 300, 30),
      reading('b', 1, 300, 10),
      reading('a', 1, 300, 10),
      reading('b', 2, 300, 20),
      reading('a', 2, 300, 20),
      // Same millisecond: the batch's order decides.
      reading('b', 3, 300, 30),
      reading('b', 4, 300, 30),
    ];
    // Small frames, so that the order must also hold from one frame to the next.
    const planned = planner(frames, 1_000).framesFor(EVERYONE);
    expect(planned.length).toBeGreaterThan(2);
    const ids = idsIn(planned);
    expect(ids.filter((id) => id.startsWith('a-'))).toEqual(['a-1', 'a-2', 'a-3']);
    expect(ids.filter((id) => id.startsWith('b-'))).toEqual(['b-1', 'b-2', 'b-3', 'b-4']);
  });

  it('gives each viewer the readings its filters match, sharing frames between viewers who get the same', () => {
    const frames = [reading('a', 1), reading('b', 1), reading('c', 1), reading('a', 2)];
    const plan = planner(frames);
    const onlyA = plan.framesFor({ topics: ['devices/a/#'] });
    const aAndB = plan.framesFor({ topics: ['devices/a/telemetry', 'devices/b/telemetry'] });
    const all = plan.framesFor({ topics: ['devices/+/telemetry'] });
    expect(idsIn(onlyA)).toEqual(['a-1', 'a-2']);
    expect(idsIn(aAndB)).toEqual(['a-1', 'b-1', 'a-2']);
    expect(idsIn(all)).toEqual(['a-1', 'b-1', 'c-1', 'a-2']);
    expect(plan.framesFor({ topics: ['devices/z/telemetry'] })).toEqual([]);
    // Other filters selecting the same readings get the very same frames (built once).
    expect(plan.framesFor(EVERYONE)).toBe(all);
    expect(plan.framesFor({ topics: ['devices/a/telemetry'] })).toBe(onlyA);
    expect(received(onlyA)[0]!.id).not.toBe(received(all)[0]!.id);
  });

  it('viewers whose selections read alike without separators still get their own readings', () => {
    // 24 readings: one viewer selects readings 1, 2 and 3, the other 1 and 23 ("123" both ways).
    const device = (n: number) => (n === 1 ? 'a' : n === 2 || n === 3 ? 'b' : n === 23 ? 'c' : 'z');
    const frames = Array.from({ length: 24 }, (_, n) => reading(device(n), n));
    const plan = planner(frames);
    const aAndB = plan.framesFor({ topics: ['devices/a/#', 'devices/b/#'] });
    const aAndC = plan.framesFor({ topics: ['devices/a/#', 'devices/c/#'] });
    expect(idsIn(aAndB)).toEqual(['a-1', 'b-2', 'b-3']);
    expect(idsIn(aAndC)).toEqual(['a-1', 'c-23']);
  });

  it('uses the fewest frames any split in order could (checked against every split)', () => {
    // A tiny limit and random sizes; the fewest frames of a split in order, by dynamic programming.
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (let round = 0; round < 40; round++) {
      const sizes = Array.from({ length: 12 }, () => 200 + Math.floor(random() * 500));
      const frames = sizes.map((bytes, n) => reading('a', n, bytes));
      const maxBytes = 1_200;
      const planned = planner(frames, maxBytes).framesFor(EVERYONE);
      for (const frame of planned) {
        if (JSON.parse(frame.data).type === 'telemetryBatch') {
          expect(bytesOf(frame)).toBeLessThanOrEqual(maxBytes);
        }
      }
      expect(idsIn(planned)).toEqual(frames.map((frame) => frame.id));
      const fewest = [0];
      for (let end = 1; end <= sizes.length; end++) {
        fewest[end] = Infinity;
        for (let start = end - 1; start >= 0; start--) {
          const run = sizes.slice(start, end);
          if (run.length > 1 && batchBytes('batch-00', run) > maxBytes) break;
          fewest[end] = Math.min(fewest[end]!, fewest[start]! + 1);
        }
      }
      expect(planned).toHaveLength(fewest[sizes.length]!);
    }
  });

  it('packs 100 readings of ~300 bytes into one frame, the case the batched mode is for', () => {
    const frames = Array.from({ length: 100 }, (_, n) => reading(`d${n % 10}`, n));
    const planned = planner(frames).framesFor(EVERYONE);
    expect(planned).toHaveLength(1);
    expect(planned[0]!.readings).toBe(100);
    expect(bytesOf(planned[0]!)).toBeLessThanOrEqual(BATCH_FRAME_MAX_BYTES);
  });
});
