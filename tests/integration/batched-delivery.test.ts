/**
 * Batched delivery end to end, offline (README "Delivery modes"): the stack started with
 * `--param=deliveryMode=batched`, devices publish over MQTT, the topic rule's SQS action writes to
 * the offline delivery queue, its event source mapping invokes forwardTelemetry with batches, and
 * WebSocket viewers receive `telemetryBatch` frames: every reading exactly once (by id), each
 * device's in the order published within each frame, each viewer only what its filters match.
 * Across frames no order is promised: the event source mapping runs batches side by side, as
 * Lambda's does for a standard queue, and a client orders by `receivedAt`. The queues and the
 * mapping come from serverless.yml (resources/delivery-batched.yml): batch size 100, a 1 s
 * window, ReportBatchItemFailures; a batch forwardTelemetry took is deleted from the queue.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { MqttClient } from 'mqtt';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import type { TelemetryBatchFrame, TelemetryFrame } from '../../shared/protocol';
import { connectDevice, deviceCredentials } from '../support/devices';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

const READINGS_PER_DEVICE = 25;
const DEVICES = ['sensor-a', 'sensor-b'];
const QUEUE = 'telemetry-dev-telemetry-delivery';

let stack: OfflineStack;
let everything: TestClient;
let onlyA: TestClient;
const devices: MqttClient[] = [];
let sqs: SQSClient;

beforeAll(async () => {
  stack = await startOfflineStack({ serverlessArgs: ['--param=deliveryMode=batched'] });
  sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: OFFLINE_REGION,
    credentials: OFFLINE_CREDENTIALS,
  });
  everything = await connectClient(stack.websocketUrl);
  onlyA = await connectClient(stack.websocketUrl);
  onlyA.send({ action: 'subscribe', topics: ['devices/sensor-a/telemetry'], requestId: 'a' });
  await onlyA.waitFor((frame) => frame.type === 'subscribed');
  for (const thingName of DEVICES) {
    devices.push(
      await connectDevice(stack.ports.mqtt, deviceCredentials(stack.localCloudDir, thingName)),
    );
  }
}, 180_000);

afterAll(async () => {
  sqs?.destroy();
  await Promise.all(devices.map((device) => device.endAsync()));
  await everything?.close();
  await onlyA?.close();
  await stack?.stop();
}, 30_000);

/** The readings in a client's frames, in the order they arrived, batches unpacked. */
function readingsOf(client: TestClient): TelemetryFrame[] {
  return (client.frames as unknown as (TelemetryBatchFrame | TelemetryFrame)[]).flatMap((frame) =>
    frame.type === 'telemetryBatch' ? frame.items : frame.type === 'telemetry' ? [frame] : [],
  );
}

/** Waits until the client holds `count` distinct readings (the frames arrive as they come). */
async function distinctReadings(client: TestClient, count: number): Promise<TelemetryFrame[]> {
  await client.waitFor(() => new Set(readingsOf(client).map((r) => r.id)).size >= count, 30_000);
  return readingsOf(client);
}

const seqOf = (reading: TelemetryFrame) => (reading.data as { seq: number }).seq;

describe('batched delivery', () => {
  it('announces the delivery queue and its event source mapping', () => {
    expect(stack.output()).toContain(
      `SQS triggers    ${QUEUE} → telemetry-dev-forwardTelemetry (batch 100, window 1 s, ReportBatchItemFailures)`,
    );
    expect(stack.output()).toMatch(/Topic rules +\S+ → sqs:telemetry-dev-telemetry-delivery/);
  });

  it('every reading reaches each viewer exactly once, in telemetryBatch frames, in order per device', async () => {
    // Each device publishes its readings one after another (QoS 1: each acknowledged before the
    // next), both devices at once.
    await Promise.all(
      devices.map(async (device, index) => {
        for (let seq = 1; seq <= READINGS_PER_DEVICE; seq++) {
          await device.publishAsync(
            `devices/${DEVICES[index]}/telemetry`,
            JSON.stringify({ seq }),
            { qos: 1 },
          );
        }
      }),
    );

    const total = READINGS_PER_DEVICE * DEVICES.length;
    const all = await distinctReadings(everything, total);
    expect(all).toHaveLength(total);
    expect(new Set(all.map((reading) => reading.id)).size).toBe(total);
    const published = Array.from({ length: READINGS_PER_DEVICE }, (_, index) => index + 1);
    for (const deviceId of DEVICES) {
      const own = all.filter((reading) => reading.deviceId === deviceId);
      expect(own.map(seqOf).sort((a, b) => a - b)).toEqual(published);
      // The broker's receivedAt follows the publication order: what a client orders by.
      const byTime = [...own].sort((a, b) => a.receivedAt - b.receivedAt || seqOf(a) - seqOf(b));
      expect(byTime.map(seqOf)).toEqual(published);
    }
    // Each item is the frame the direct mode sends.
    expect(all[0]).toEqual({
      type: 'telemetry',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      topic: `devices/${all[0]!.deviceId}/telemetry`,
      deviceId: all[0]!.deviceId,
      receivedAt: expect.any(Number),
      kind: 'object',
      size: Buffer.byteLength(JSON.stringify({ seq: seqOf(all[0]!) })),
      data: { seq: seqOf(all[0]!) },
    });
    // Coalesced: batch frames of at most 32 KB, far fewer than the readings.
    const frames = everything.frames.filter((frame) => frame.type === 'telemetryBatch');
    expect(frames.length).toBe(everything.frames.filter((f) => f.type !== 'subscribed').length);
    expect(frames.length).toBeLessThan(total / 2);
    for (const frame of frames as unknown as TelemetryBatchFrame[]) {
      expect(Buffer.byteLength(JSON.stringify(frame))).toBeLessThanOrEqual(32_768);
      // Within a frame, each device's readings are in the order published.
      for (const deviceId of DEVICES) {
        const seqs = frame.items.filter((item) => item.deviceId === deviceId).map(seqOf);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
    }

    // The filtered viewer: sensor-a's readings only, each once, in order.
    const onlyAReadings = await distinctReadings(onlyA, READINGS_PER_DEVICE);
    expect(onlyAReadings.map((reading) => reading.deviceId)).toEqual(
      Array(READINGS_PER_DEVICE).fill('sensor-a'),
    );
    expect(onlyAReadings.map(seqOf).sort((a, b) => a - b)).toEqual(published);
    expect(new Set(onlyAReadings.map((reading) => reading.id))).toEqual(
      new Set(
        all.filter((reading) => reading.deviceId === 'sensor-a').map((reading) => reading.id),
      ),
    );
  });

  it('deletes the batches forwardTelemetry took from the delivery queue', async () => {
    // After the test above every reading was delivered: nothing waits or is in flight.
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: QUEUE }));
    const deadline = Date.now() + 10_000;
    let attributes: Record<string, string> | undefined;
    do {
      attributes = (
        await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))
      ).Attributes;
      if (attributes?.ApproximateNumberOfMessagesNotVisible === '0') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < deadline);
    expect(attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      VisibilityTimeout: '60',
    });
  });
});
