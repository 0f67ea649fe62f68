/**
 * The change log of the connections: one small item per change (connect, disconnect,
 * subscribe, unsubscribe, removal of a gone connection), numbered per shard, kept for minutes.
 * A warm fan-out reads only the changes after the ones it has applied, instead of the table.
 *
 * Layout (a table of its own, hash key `shard`, range key `seq`):
 * - `{ shard: "head-{k}", seq: 0, head: n }`: shard k's counter, the last number it handed out;
 * - `{ shard: "{k}", seq: n, connectionId, expiresAt }`: the n-th change of shard k.
 * A connection's changes always go to the same shard (a hash of its id). With `shards` counters
 * no single item takes every connect and disconnect (DynamoDB: 1 000 write units per second per
 * partition, "Best practices for designing and using partition keys effectively").
 *
 * Why a table and not a GSI: a GSI is read eventually consistent only, and a reader must see
 * every change that completed before it reads. Every read here is ConsistentRead.
 *
 * An entry says only *which* connection changed; the reader reads that connection's item again
 * (consistent). So entries may be applied in any order: whatever order concurrent writers got
 * their numbers in, the item read after the last entry is the item's state after every write
 * that came before its counter was moved.
 */
import {
  BatchGetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';

export interface ChangeLogOptions {
  /** The change table; by default the connections table's name + `-changes`. */
  tableName?: string;
  /** Counters the changes are spread over (the hot-item limit divided by this). */
  shards?: number;
  /** How long an entry is kept (its TTL). Readers further behind rescan the connections. */
  retentionSeconds?: number;
}

export interface ChangeEntry {
  seq: number;
  connectionId: string;
}

export const DEFAULT_CHANGE_SHARDS = 4;
export const DEFAULT_CHANGE_RETENTION_SECONDS = 15 * 60;

export class DynamoChangeLog {
  readonly tableName: string;
  readonly shards: number;
  readonly retentionSeconds: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    connectionsTable: string,
    options: ChangeLogOptions = {},
  ) {
    this.tableName = options.tableName ?? `${connectionsTable}-changes`;
    this.shards = options.shards ?? DEFAULT_CHANGE_SHARDS;
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_CHANGE_RETENTION_SECONDS;
  }

  shardOf(connectionId: string): number {
    let hash = 0;
    for (let i = 0; i < connectionId.length; i++) {
      hash = (hash * 31 + connectionId.charCodeAt(i)) >>> 0;
    }
    return hash % this.shards;
  }

  /**
   * Records that a connection changed. Called after the change itself is written, so a reader
   * that sees the entry (or a counter past it) also sees the change.
   */
  async record(connectionId: string, now = Date.now()): Promise<void> {
    const shard = this.shardOf(connectionId);
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { shard: `head-${shard}`, seq: 0 },
        UpdateExpression: 'ADD head :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          shard: String(shard),
          seq: Attributes?.head as number,
          connectionId,
          expiresAt: Math.floor(now / 1000) + this.retentionSeconds,
        },
      }),
    );
  }

  /** Every shard's counter, read consistently (0 for a shard that never changed). */
  async heads(): Promise<number[]> {
    const keys = Array.from({ length: this.shards }, (_, k) => ({ shard: `head-${k}`, seq: 0 }));
    const items = await batchGet(this.client, this.tableName, keys, '#shard, head', {
      '#shard': 'shard',
    });
    const heads = new Array<number>(this.shards).fill(0);
    for (const item of items) {
      heads[Number(String(item.shard).slice('head-'.length))] = (item.head as number) ?? 0;
    }
    return heads;
  }

  /** The entries of a shard numbered above `after`, in order, read consistently. */
  async since(shard: number, after: number): Promise<ChangeEntry[]> {
    const entries: ChangeEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          // SHARD is a DynamoDB reserved word.
          KeyConditionExpression: '#shard = :shard AND seq > :after',
          ExpressionAttributeNames: { '#shard': 'shard' },
          ExpressionAttributeValues: { ':shard': String(shard), ':after': after },
          ProjectionExpression: 'seq, connectionId',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        entries.push({ seq: item.seq as number, connectionId: item.connectionId as string });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return entries;
  }
}

/** BatchGetItem (100 keys a request), consistent, retrying what DynamoDB leaves unprocessed. */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: Record<string, unknown>[],
  projection: string,
  names?: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending = keys.slice(start, start + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 8) throw new Error(`BatchGetItem on ${tableName} kept keys unprocessed`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      const answer = await client.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: pending,
              ProjectionExpression: projection,
              ...(names ? { ExpressionAttributeNames: names } : {}),
              ConsistentRead: true,
            },
          },
        }),
      );
      items.push(...(answer.Responses?.[tableName] ?? []));
      pending = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return items;
}
