/**
 * Coalescing for the batched delivery mode: the readings of one SQS batch, per viewer, in as few
 * `telemetryBatch` frames as fit. API Gateway meters WebSocket messages in 32 KB units ("Amazon
 * API Gateway pricing": messages are metered in 32 KB increments), so a frame of up to 32 768
 * bytes costs what one reading of 300 bytes costs alone; 128 KB would be the message limit.
 *
 * Each item is the `telemetry` frame the direct mode sends, serialized once and shared by every
 * viewer; viewers with the same filters, or whose filters select the same readings, share the
 * frames too. Items are in the order the broker received them (`receivedAt`, ties in batch
 * order): an SQS standard queue delivers in roughly the order it was sent to, not exactly
 * ("Amazon SQS standard queues"), and this puts each device's readings back in order.
 */
import { subscribedTo, type OutgoingFrame } from '../connections/broadcaster';
import type { Connection } from '../connections/repository';
import type { TelemetryFrame } from '../protocol';

/** One API Gateway metering unit: the largest frame that still costs one message. */
export const BATCH_FRAME_MAX_BYTES = 32 * 1024;

/** A reading of the batch: its frame and whatever identifies the records that carried it. */
export interface BatchItem<R> {
  frame: TelemetryFrame;
  records: readonly R[];
}

/** A frame ready to post, with the records whose readings are in it. */
export interface PlannedFrame<R> extends OutgoingFrame {
  records: readonly R[];
  /** Readings in the frame. */
  readings: number;
}

interface Prepared<R> {
  topic: string;
  json: string;
  bytes: number;
  records: readonly R[];
}

export class ViewerFramePlanner<R> {
  private readonly items: Prepared<R>[];
  private readonly byFilters = new Map<string, PlannedFrame<R>[]>();
  private readonly bySelection = new Map<string, PlannedFrame<R>[]>();

  /** `newId` names each batch frame (unique within the deployment, e.g. request id + counter). */
  constructor(
    items: readonly BatchItem<R>[],
    private readonly newId: () => string,
    private readonly maxBytes = BATCH_FRAME_MAX_BYTES,
  ) {
    this.items = items
      .map((item, index) => ({ item, index }))
      .sort((a, b) => a.item.frame.receivedAt - b.item.frame.receivedAt || a.index - b.index)
      .map(({ item }) => {
        const json = JSON.stringify(item.frame);
        return {
          topic: item.frame.topic,
          json,
          bytes: Buffer.byteLength(json),
          records: item.records,
        };
      });
  }

  /** The frames for a viewer with these filters; none when it subscribed to none of the readings. */
  framesFor(connection: Pick<Connection, 'topics'>): PlannedFrame<R>[] {
    const filtersKey = JSON.stringify(connection.topics);
    let frames = this.byFilters.get(filtersKey);
    if (!frames) {
      const selected = this.items.flatMap((item, index) =>
        subscribedTo(connection, item.topic) ? [index] : [],
      );
      const selectionKey = selected.join(',');
      frames = this.bySelection.get(selectionKey);
      if (!frames) {
        frames = this.pack(selected.map((index) => this.items[index] as Prepared<R>));
        this.bySelection.set(selectionKey, frames);
      }
      this.byFilters.set(filtersKey, frames);
    }
    return frames;
  }

  /**
   * Fills each frame with the next readings until the next one would not fit. With the order
   * fixed, this gives the fewest frames: no split into consecutive runs can end its first frame
   * later than the greedy one does, nor (by the same argument from there on) any later frame.
   */
  private pack(items: Prepared<R>[]): PlannedFrame<R>[] {
    const frames: PlannedFrame<R>[] = [];
    let open: { id: string; parts: Prepared<R>[]; bytes: number } | undefined;
    let spareId: string | undefined;
    const close = () => {
      if (!open) return;
      frames.push({
        data: `${batchHead(open.id)}${open.parts.map((part) => part.json).join(',')}]}`,
        records: open.parts.flatMap((part) => part.records),
        readings: open.parts.length,
      });
      open = undefined;
    };
    for (const item of items) {
      if (open && open.bytes + 1 + item.bytes <= this.maxBytes) {
        open.parts.push(item);
        open.bytes += 1 + item.bytes;
        continue;
      }
      close();
      const id = spareId ?? this.newId();
      const head = Buffer.byteLength(batchHead(id)) + BATCH_TAIL_BYTES;
      if (head + item.bytes > this.maxBytes) {
        // Too large for any batch frame: sent on its own, as the direct mode sends it.
        spareId = id;
        frames.push({ data: item.json, records: item.records, readings: 1 });
        continue;
      }
      spareId = undefined;
      open = { id, parts: [item], bytes: head + item.bytes };
    }
    close();
    return frames;
  }
}

/** `{"type":"telemetryBatch","id":…,"items":[` — the items, comma-separated, and `]}` follow. */
function batchHead(id: string): string {
  return `{"type":"telemetryBatch","id":${JSON.stringify(id)},"items":[`;
}
const BATCH_TAIL_BYTES = 2;
