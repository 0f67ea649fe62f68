/**
 * One flooding WebSocket client against everyone else. A device streams readings to a quiet
 * viewer; the viewer's latency is measured first alone, then while one client floods the API
 * with `sendMessage` and `subscribe` frames. API Gateway's stage throttling, the per-connection
 * rate limit and the offline cloud's bounded Lambda workers should keep the viewer's p99 within
 * a few times its quiet value (target: ≤ 3×), and every flood frame gets an answer.
 */
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { connectDevice, deviceCredentials } from '../local/stack/devices';
import { startOfflineStack, type OfflineStack } from '../local/stack';
import { percentile, preciseNow, round, sleep } from './support/stats';

export interface FloodOptions {
  /** Readings per second from the device during each phase. */
  readingRate: number;
  /** How long each phase (quiet, flooded) lasts. */
  phaseMs: number;
  /** Flood frames per second (half sendMessage, half subscribe). */
  floodRate: number;
  log: (line: string) => void;
}

export const FULL_FLOOD: Omit<FloodOptions, 'log'> = {
  readingRate: 20,
  phaseMs: 10_000,
  floodRate: 200,
};
export const QUICK_FLOOD: Omit<FloodOptions, 'log'> = {
  readingRate: 10,
  phaseMs: 2_000,
  floodRate: 100,
};

/** The flood's first seconds: its functions' cold starts and its connection's burst of tokens. */
const FLOOD_ONSET_MS = 2_000;

export interface FloodPhase {
  /** `flooded after 2 s`: the same readings as `flooded` without its onset (not a target). */
  phase: 'quiet' | 'flooded' | 'flooded after 2 s';
  readings: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface FloodResult {
  phases: FloodPhase[];
  floodFramesSent: number;
  /** Answers the flooder got: the function's frames and API Gateway's throttling errors. */
  floodAnswers: { total: number; throttled: number; rateLimited: number; other: number };
}

export async function runFlood(options: FloodOptions): Promise<FloodResult> {
  const stack = await startOfflineStack();
  let device: MqttClient | undefined;
  const sockets: WebSocket[] = [];
  try {
    device = await connectDevice(
      stack.ports.mqtt,
      deviceCredentials(stack.localCloudDir, 'quiet-1'),
    );
    const latencies = new Map<string, number>();
    const viewer = await open(stack, sockets, (frame) => {
      const data = frame.data as { bench?: string; sentAt?: number } | undefined;
      if (frame.type === 'telemetry' && data?.bench && data.sentAt !== undefined) {
        latencies.set(data.bench, preciseNow() - data.sentAt);
      }
    });
    void viewer;
    const phases: FloodPhase[] = [];
    const stream = (phase: FloodPhase['phase']) =>
      streamReadings(device as MqttClient, phase, options, latencies);

    // Not measured: the first readings pay for cold Lambda workers.
    await streamReadings(device, 'warmup', { ...options, phaseMs: 1_000 }, latencies);
    options.log(`flood: quiet phase, ${options.readingRate} readings/s`);
    phases.push(...(await stream('quiet')));

    const answers = { total: 0, throttled: 0, rateLimited: 0, other: 0 };
    const flooder = await open(stack, sockets, (frame) => {
      // Its own chat broadcasts and the readings it receives are not answers to its frames.
      if (frame.type === 'message' || frame.type === 'telemetry') return;
      answers.total++;
      if (frame.message === 'Too Many Requests') answers.throttled++;
      else if (frame.code === 'RATE_LIMITED') answers.rateLimited++;
      else answers.other++;
    });
    options.log(`flood: flooded phase, ${options.floodRate} frames/s from one client`);
    let floodFramesSent = 0;
    const flooding = (async () => {
      const total = Math.round((options.floodRate * options.phaseMs) / 1000);
      const start = preciseNow();
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / options.floodRate;
        if (due > preciseNow()) await sleep(due - preciseNow());
        flooder.send(
          JSON.stringify(
            i % 2 === 0
              ? { action: 'sendMessage', message: `flood ${i}` }
              : { action: 'subscribe', topics: [`flood/${i}`] },
          ),
        );
        floodFramesSent++;
      }
    })();
    phases.push(...(await stream('flooded')));
    await flooding;
    // Every flood frame is answered, by the function or by the throttle.
    const deadline = Date.now() + 60_000;
    while (answers.total < floodFramesSent && Date.now() < deadline) await sleep(100);
    return { phases, floodFramesSent, floodAnswers: answers };
  } finally {
    for (const socket of sockets) socket.terminate();
    device?.end(true);
    await stack.stop();
  }
}

async function streamReadings(
  device: MqttClient,
  phase: FloodPhase['phase'] | 'warmup',
  options: FloodOptions,
  latencies: Map<string, number>,
): Promise<FloodPhase[]> {
  const total = Math.round((options.readingRate * options.phaseMs) / 1000);
  const ids: string[] = [];
  const start = preciseNow();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / options.readingRate;
    if (due > preciseNow()) await sleep(due - preciseNow());
    const id = `${phase}-${i}`;
    ids.push(id);
    device.publish(
      'devices/quiet-1/telemetry',
      JSON.stringify({ bench: id, sentAt: preciseNow() }),
      { qos: 1 },
    );
  }
  const deadline = Date.now() + 30_000;
  while (ids.some((id) => !latencies.has(id)) && Date.now() < deadline) await sleep(100);
  const summary = (name: FloodPhase['phase'], of: string[]): FloodPhase => {
    const samples = of.flatMap((id) => latencies.get(id) ?? []);
    return {
      phase: name,
      readings: of.length,
      received: samples.length,
      p50Ms: round(percentile(samples, 50)),
      p99Ms: round(percentile(samples, 99)),
      maxMs: round(Math.max(...samples)),
    };
  };
  if (phase !== 'flooded') return [summary('quiet', ids)];
  const onset = Math.ceil((FLOOD_ONSET_MS * options.readingRate) / 1000);
  return [summary('flooded', ids), summary('flooded after 2 s', ids.slice(onset))];
}

function open(
  stack: OfflineStack,
  sockets: WebSocket[],
  onFrame: (frame: Record<string, unknown>) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(stack.websocketUrl);
    sockets.push(socket);
    socket.on('message', (data) => onFrame(JSON.parse(String(data)) as Record<string, unknown>));
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}
