/** The connections a fan-out benchmark seeds, and the frame it delivers to them. */
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { forEachConcurrently } from '../shared/connections/broadcaster';

export const BENCH_TABLE = 'telemetry-bench-connections';
export const BENCH_TOPIC = 'devices/bench-1/telemetry';

/** Connection ids as API Gateway issues them (16 characters), but reproducible from the index. */
export function connectionIdFor(index: number): string {
  return `B${index.toString(36).padStart(6, '0')}nch=Cx${(index % 97).toString().padStart(2, '0')}`;
}

/** A telemetry frame as forwardTelemetry builds it (about 250 bytes of JSON). */
export function telemetryFrame(sequence: number): object {
  return {
    type: 'telemetry',
    id: `00000000-0000-4000-8000-${sequence.toString().padStart(12, '0')}`,
    topic: BENCH_TOPIC,
    deviceId: 'bench-1',
    receivedAt: Date.now(),
    data: {
      seq: sequence,
      temperature: 21.37,
      humidity: 48.2,
      pressure: 1013.25,
      battery: 0.87,
      sentAt: Date.now(),
    },
  };
}

/**
 * Writes connections [from, to) with BatchWriteItem (25 a request, a few requests at once),
 * retrying unprocessed items, as a connect handler would have saved them — but without change
 * log entries: an instance that starts after seeding finds them with its first (cold) scan.
 */
export async function seedConnections(
  client: DynamoDBClient,
  from: number,
  to: number,
): Promise<void> {
  const now = Date.now();
  const batches: number[][] = [];
  for (let start = from; start < to; start += 25) {
    batches.push(Array.from({ length: Math.min(25, to - start) }, (_, i) => start + i));
  }
  await forEachConcurrently(batches, 8, async (indexes) => {
    let requests = indexes.map((index) => ({
      PutRequest: {
        Item: {
          connectionId: { S: connectionIdFor(index) },
          connectedAt: { N: String(now) },
          expiresAt: { N: String(Math.floor(now / 1000) + 3 * 3600) },
        },
      },
    }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt >= 10) throw new Error('BatchWriteItem kept leaving items unprocessed');
      const answer = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [BENCH_TABLE]: requests } }),
      );
      requests = (answer.UnprocessedItems?.[BENCH_TABLE] ?? []) as typeof requests;
    }
  });
}
