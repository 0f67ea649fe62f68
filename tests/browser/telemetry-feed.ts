/**
 * A loopback WebSocket server speaking the server side of the protocol (telemetry frames only),
 * for the load check: it feeds the dashboard at exactly the rate under test, which the offline
 * stack's rule → Lambda path cannot sustain on a small machine. Frames are shaped as
 * forwardTelemetry sends them; some are sent twice, as a retry would, to exercise deduplication.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TelemetryBatchFrame, TelemetryFrame } from '../../shared/protocol';
import { reading } from './devices';

export interface FeedReport {
  /** Distinct frames (distinct ids) sent. */
  unique: number;
  /** Repeated frames (an id already sent). */
  duplicates: number;
  /** How long sending took, ms. */
  elapsedMs: number;
}

export interface TelemetryFeed {
  url: string;
  connected(): Promise<void>;
  /** Sends `count` readings of one device as fast as the socket takes them. */
  burst(deviceId: string, count: number): Promise<FeedReport>;
  /**
   * Batched delivery: `count` readings of one device in `telemetryBatch` frames of `perFrame`,
   * then the last frame's readings again in a new batch, as SQS redelivers a failed record.
   */
  batches(deviceId: string, count: number, perFrame: number): Promise<FeedReport>;
  /** `devices` devices, `perSecond` readings each per second, for `seconds`; every `duplicateEvery`-th frame twice. */
  stream(options: {
    devices: string[];
    perSecond: number;
    seconds: number;
    duplicateEvery: number;
  }): Promise<FeedReport>;
  stop(): Promise<void>;
}

export async function startTelemetryFeed(): Promise<TelemetryFeed> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const clients = new Set<WebSocket>();
  let onConnection: (() => void) | undefined;
  server.on('connection', (socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    onConnection?.();
  });
  const sequences = new Map<string, number>();
  const readingOf = (deviceId: string): TelemetryFrame => {
    const seq = sequences.get(deviceId) ?? 0;
    sequences.set(deviceId, seq + 1);
    const data = { deviceId, ...reading(seq) };
    const frame: TelemetryFrame = {
      type: 'telemetry',
      id: randomUUID(),
      topic: `devices/${deviceId}/telemetry`,
      deviceId,
      receivedAt: Date.now(),
      kind: 'object',
      size: Buffer.byteLength(JSON.stringify(data)),
      data,
    };
    return frame;
  };
  const frameOf = (deviceId: string): string => JSON.stringify(readingOf(deviceId));
  const batchOf = (items: TelemetryFrame[]): string => {
    const batch: TelemetryBatchFrame = { type: 'telemetryBatch', id: randomUUID(), items };
    return JSON.stringify(batch);
  };
  const send = (text: string) => {
    for (const socket of clients) socket.send(text);
  };

  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connected: () =>
      clients.size > 0
        ? Promise.resolve()
        : new Promise((resolve) => (onConnection = () => resolve())),
    async burst(deviceId, count) {
      const started = Date.now();
      for (let i = 0; i < count; i += 1) send(frameOf(deviceId));
      return { unique: count, duplicates: 0, elapsedMs: Date.now() - started };
    },
    async batches(deviceId, count, perFrame) {
      const started = Date.now();
      let last: TelemetryFrame[] = [];
      for (let sent = 0; sent < count; sent += perFrame) {
        last = Array.from({ length: Math.min(perFrame, count - sent) }, () => readingOf(deviceId));
        send(batchOf(last));
      }
      send(batchOf(last));
      return { unique: count, duplicates: last.length, elapsedMs: Date.now() - started };
    },
    async stream({ devices, perSecond, seconds, duplicateEvery }) {
      // Each device sends on its own phase within the period, as independent devices would.
      const periodMs = 1000 / perSecond;
      const started = Date.now();
      const total = devices.length * perSecond * seconds;
      let unique = 0;
      let duplicates = 0;
      while (unique < total) {
        const due = Math.min(
          total,
          Math.floor(((Date.now() - started) / periodMs) * devices.length),
        );
        for (; unique < due; unique += 1) {
          const text = frameOf(devices[unique % devices.length]!);
          send(text);
          if ((unique + 1) % duplicateEvery === 0) {
            send(text);
            duplicates += 1;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return { unique, duplicates, elapsedMs: Date.now() - started };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of clients) socket.terminate();
        server.close(() => resolve());
      }),
  };
}
