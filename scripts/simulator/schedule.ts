/**
 * When each device sends which reading: offsets in ms from the start of the run. Live readings
 * come from the seeded data set generator, stamped with the time they are sent; a CSV replays
 * its readings as recorded, at the pace of their timestamps divided by the speed.
 */
import { createDeviceStream, defaultDeviceIds } from '../telemetry/generator';
import type { Reading } from '../telemetry/reading';
import type { ReadingSource } from './options';

export interface ScheduledReading {
  offsetMs: number;
  reading: Reading;
}

export interface DeviceSchedule {
  deviceId: string;
  readings: Iterable<ScheduledReading>;
}

/** The devices of a source, in order: sensor-1..N, or a CSV's in order of appearance. */
export function sourceDeviceIds(source: ReadingSource): string[] {
  return source.kind === 'generated'
    ? defaultDeviceIds(source.devices)
    : [...new Set(source.readings.map((reading) => reading.deviceId))];
}

/** `durationMs` 0: no end (a CSV still ends with its last reading). */
export function buildSchedules(
  source: ReadingSource,
  durationMs: number,
  startTs: number = Date.now(),
): DeviceSchedule[] {
  const within = (offsetMs: number) => durationMs === 0 || offsetMs < durationMs;

  if (source.kind === 'generated') {
    const intervalMs = Math.max(1, Math.round(1000 / source.rate));
    const ids = sourceDeviceIds(source);
    return ids.map((deviceId, index) => {
      // Devices are spread over the interval, as real ones would not all send at once.
      const phaseMs = Math.floor((index * intervalMs) / ids.length);
      return {
        deviceId,
        readings: {
          *[Symbol.iterator]() {
            const stream = createDeviceStream({
              seed: source.seed,
              deviceId,
              startTs: startTs + phaseMs,
              intervalMs,
            });
            for (;;) {
              const reading = stream.next();
              const offsetMs = reading.ts - startTs;
              if (!within(offsetMs)) return;
              yield { offsetMs, reading };
            }
          },
        },
      };
    });
  }

  const firstTs = Math.min(...source.readings.map((reading) => reading.ts));
  const byDevice = new Map<string, ScheduledReading[]>();
  for (const reading of source.readings) {
    const offsetMs = (reading.ts - firstTs) / source.speed;
    if (!within(offsetMs)) continue;
    const list = byDevice.get(reading.deviceId) ?? [];
    list.push({ offsetMs, reading });
    byDevice.set(reading.deviceId, list);
  }
  return [...byDevice].map(([deviceId, readings]) => ({
    deviceId,
    readings: readings.sort((a, b) => a.offsetMs - b.offsetMs),
  }));
}
