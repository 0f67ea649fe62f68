/**
 * The batched delivery mode offline, end to end (issue 15): a device's reading goes through the
 * telemetry rule's SQS action into the offline delivery queue, the queue's event source mapping
 * (batch size 100, a 1 s batching window, ReportBatchItemFailures) invokes forwardTelemetry with
 * an SQS event, and the viewer gets the readings in a `telemetryBatch` frame; the batch is then
 * deleted from the queue. The queues and the mapping come from serverless.yml
 * (resources/delivery-batched.yml) with `--param=deliveryMode=batched`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { OFFLINE_CREDENTIALS, OFFLINE_REGION } from '../../local/offline-credentials';
import { connectDevice, deviceCredentials } from '../support/devices';
import { startOfflineStack, type OfflineStack } from '../support/offline-stack';
import { connectClient, type TestClient } from '../support/ws-client';

const QUEUE = 'telemetry-dev-telemetry-delivery';
/** The stage's batching window (serverless.yml params.deliveryBatchWindowSeconds). */
const WINDOW_MS = 1_000;

let stack: OfflineStack;
let viewer: TestClient;
let sqs: SQSClient;

beforeAll(async () => {
  stack = await startOfflineStack({ serverlessArgs: ['--param=deliveryMode=batched'] });
  viewer = await connectClient(stack.websocketUrl);
  sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: OFFLINE_REGION,
    credentials: OFFLINE_CREDENTIALS,
  });
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  await viewer?.close();
  await stack?.stop();
}, 30_000);

interface Item {
  type: string;
  deviceId: string;
  id: string;
  data: { marker?: number };
}

describe('batched delivery offline', () => {
  it('announces the delivery queue and its event source mapping', () => {
    expect(stack.output()).toContain(
      `SQS triggers    ${QUEUE} → telemetry-dev-forwardTelemetry (batch 100, window 1 s, ReportBatchItemFailures)`,
    );
    expect(stack.output()).toMatch(/Topic rules +\S+ → sqs:telemetry-dev-telemetry-delivery/);
  });

  it('a device reading goes rule → queue → event source mapping → forwardTelemetry → a telemetryBatch frame', async () => {
    const device = await connectDevice(
      stack.ports.mqtt,
      deviceCredentials(stack.localCloudDir, 'sensor-1'),
    );
    const published = Date.now();
    for (const marker of [1, 2, 3]) {
      await device.publishAsync(
        'devices/sensor-1/telemetry',
        JSON.stringify({ temperature: 20 + marker, marker }),
        { qos: 1 },
      );
    }
    await device.endAsync();

    // Two pollers gather batches side by side (as Lambda's do), so the three readings may come
    // in one frame or in two; each frame keeps the device's readings in the order received.
    const ofSensor = (frame: Record<string, unknown>) =>
      (frame.items as Item[]).filter((item) => item.deviceId === 'sensor-1');
    const batches = () => viewer.frames.filter((f) => f.type === 'telemetryBatch');
    await viewer.waitFor(() => batches().flatMap(ofSensor).length >= 3, 10_000);
    const frames = batches().filter((frame) => ofSensor(frame).length > 0);
    for (const frame of frames) {
      expect(frame.id).toEqual(expect.any(String));
      const markers = ofSensor(frame).map((item) => item.data.marker!);
      expect(markers).toEqual([...markers].sort());
    }
    const items = frames.flatMap(ofSensor);
    expect(items.map((item) => [item.type, item.data.marker]).sort()).toEqual([
      ['telemetry', 1],
      ['telemetry', 2],
      ['telemetry', 3],
    ]);
    expect(new Set(items.map((item) => item.id)).size).toBe(3);
    // The offline target: within the batching window plus a second.
    expect(Date.now() - published).toBeLessThan(WINDOW_MS + 1_000 + 2_000);

    // forwardTelemetry succeeded: the mapping deleted the batch from the queue.
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
