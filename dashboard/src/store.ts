/**
 * What the dashboard knows about each device, updated as frames arrive (cheap, no DOM) and read
 * by the views once per animation frame. Every collection is bounded: duplicate ids, devices, and
 * each device's samples.
 */
import type { TelemetryFrame } from '../../shared/protocol';
import { metricValues } from './metrics';
import { RateMeter } from './rate-meter';
import { RecentIds } from './recent-ids';
import { SeriesRing } from './series-ring';

/** Five minutes at 4 readings/s: twice the rate the dashboard is sized for. */
export const SERIES_CAPACITY = 1_200;
export const MAX_DEVICES = 500;
export const STALE_AFTER_MS = 10_000;
const REMEMBERED_IDS = 20_000;

export interface DeviceState {
  id: string;
  /** When this dashboard received the device's latest frame (local clock, ms). */
  lastSeen: number;
  /** The device's latest values, NaN where its readings never carried a metric. */
  latest: number[];
  messages: number;
  series: SeriesRing;
  rate: RateMeter;
}

export class TelemetryStore {
  readonly devices = new Map<string, DeviceState>();
  /** Devices changed since the views last rendered. */
  readonly changed = new Set<string>();
  readonly rate = new RateMeter();
  telemetry = 0;
  duplicates = 0;
  private readonly seen = new RecentIds(REMEMBERED_IDS);

  /** Records a telemetry frame; false when it is a duplicate (an id already seen), dropped. */
  add(frame: TelemetryFrame, now: number): boolean {
    if (!this.seen.add(frame.id)) {
      this.duplicates += 1;
      return false;
    }
    this.telemetry += 1;
    this.rate.record(now);
    let device = this.devices.get(frame.deviceId);
    if (!device) {
      if (this.devices.size >= MAX_DEVICES) this.forgetLongestSilent();
      device = {
        id: frame.deviceId,
        lastSeen: now,
        latest: metricValues({}),
        messages: 0,
        series: new SeriesRing(SERIES_CAPACITY, metricValues({}).length),
        rate: new RateMeter(),
      };
      this.devices.set(device.id, device);
    }
    device.lastSeen = now;
    device.messages += 1;
    device.rate.record(now);
    const values = metricValues(frame.data);
    if (values.some((value) => !Number.isNaN(value))) {
      device.series.push(now, values);
      values.forEach((value, index) => {
        if (!Number.isNaN(value)) device.latest[index] = value;
      });
    }
    this.changed.add(device.id);
    return true;
  }

  isStale(device: DeviceState, now: number): boolean {
    return now - device.lastSeen > STALE_AFTER_MS;
  }

  private forgetLongestSilent(): void {
    let oldest: DeviceState | undefined;
    for (const device of this.devices.values()) {
      if (!oldest || device.lastSeen < oldest.lastSeen) oldest = device;
    }
    if (oldest) {
      this.devices.delete(oldest.id);
      this.changed.add(oldest.id);
    }
  }
}
