/**
 * One sensor reading as a device publishes it to `devices/{id}/telemetry`: the shape of the dummy
 * data set, of what the simulator sends and of what the backend may validate.
 */
import * as z from 'zod/mini';
import { deviceIdSchema } from '../../shared/protocol';

export const readingSchema = z.object({
  deviceId: deviceIdSchema,
  /** Per-device sequence number; gaps mean readings the device lost. */
  seq: z.int().check(z.gte(0)),
  /** When the device took the reading, ms since the Unix epoch. */
  ts: z.int().check(z.gte(0)),
  /** °C */
  temperature: z.number().check(z.gte(-273.15)),
  /** % relative humidity */
  humidity: z.number().check(z.gte(0), z.lte(100)),
  /** hPa */
  pressure: z.number().check(z.positive()),
  /** % charge */
  battery: z.number().check(z.gte(0), z.lte(100)),
  /** dBm */
  rssi: z.int().check(z.lte(0)),
});

export type Reading = z.infer<typeof readingSchema>;

/** The fields of a reading in their canonical order (the CSV header). */
export const READING_COLUMNS = [
  'deviceId',
  'seq',
  'ts',
  'temperature',
  'humidity',
  'pressure',
  'battery',
  'rssi',
] as const satisfies readonly (keyof Reading)[];

export type ReadingColumn = (typeof READING_COLUMNS)[number];
