/**
 * Where WebSocket connections live. Handlers depend on the ConnectionRepository port; the
 * DynamoDB adapter below is the one implementation (tests run it against dynalite).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  paginateScan,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { AppError } from '../errors';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../limits';

export interface Connection {
  connectionId: string;
  /** Topic filters the connection receives; `null` until it subscribes: it receives everything. */
  topics: string[] | null;
}

export interface NewConnection {
  connectionId: string;
  connectedAt: number;
  /** A token limited to some topics starts subscribed to exactly those; `null`: everything. */
  topics?: string[] | null;
}

export interface TokenBucket {
  perSecond: number;
  burst: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface ConnectionRepository {
  save(connection: NewConnection): Promise<void>;
  remove(connectionId: string): Promise<void>;
  /** Adds filters; returns the connection's filters after the change. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]>;
  /** Removes filters; returns the filters after the change (`null`: it never subscribed). */
  unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null>;
  /** Every connection, a page at a time. */
  pages(): AsyncIterable<Connection[]>;
  /** Takes one token from the connection's bucket (sendMessage, sendCommand), if it has one. */
  takeToken(connectionId: string, bucket: TokenBucket, now: number): Promise<TakeResult>;
  /**
   * A counter that every change to the set of connections or their filters increases: a reader
   * that cached the connections rereads them only when it moved (one item read per check).
   */
  version(): Promise<number>;
}

interface ConnectionItem {
  connectionId: string;
  connectedAt?: number;
  expiresAt?: number;
  filtered?: boolean;
  topics?: Set<string>;
  bucketTokens?: number;
  bucketAt?: number;
}

/** Concurrent takes on one bucket retry their read-modify-write this many times. */
const TAKE_ATTEMPTS = 3;

/** The item holding the change counter; no connection id can look like it ('#' is not issued). */
const VERSION_KEY = { connectionId: '#version' };

export class DynamoConnectionRepository implements ConnectionRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlSeconds: number,
  ) {}

  async save({ connectionId, connectedAt, topics = null }: NewConnection): Promise<void> {
    const item: ConnectionItem = {
      connectionId,
      connectedAt,
      expiresAt: Math.floor(connectedAt / 1000) + this.ttlSeconds,
      ...(topics === null
        ? {}
        : { filtered: true, ...(topics.length ? { topics: new Set(topics) } : {}) }),
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
    await this.bumpVersion();
  }

  async remove(connectionId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { connectionId } }));
    await this.bumpVersion();
  }

  async version(): Promise<number> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: VERSION_KEY,
        ProjectionExpression: 'version',
      }),
    );
    return (Item?.version as number | undefined) ?? 0;
  }

  /** After the write it follows, so a reader that sees the new version also sees the write. */
  private async bumpVersion(): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: VERSION_KEY,
        UpdateExpression: 'ADD version :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async subscribe(connectionId: string, topics: string[]): Promise<string[]> {
    const item = await this.update(connectionId, {
      UpdateExpression: 'SET filtered = :true ADD topics :topics',
      // A conservative bound: counts the new filters as if none were already present.
      ConditionExpression:
        'attribute_exists(connectionId) AND (attribute_not_exists(topics) OR size(topics) <= :room)',
      ExpressionAttributeValues: {
        ':true': true,
        ':topics': new Set(topics),
        ':room': MAX_SUBSCRIPTIONS_PER_CONNECTION - new Set(topics).size,
      },
    });
    return sorted(item.topics);
  }

  async unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null> {
    const item = await this.update(connectionId, {
      UpdateExpression: 'DELETE topics :topics',
      ConditionExpression: 'attribute_exists(connectionId)',
      ExpressionAttributeValues: { ':topics': new Set(topics) },
    });
    return item.filtered ? sorted(item.topics) : null;
  }

  async *pages(): AsyncIterable<Connection[]> {
    const paginator = paginateScan(
      { client: this.client },
      {
        TableName: this.tableName,
        ProjectionExpression: 'connectionId, filtered, topics',
      },
    );
    for await (const page of paginator) {
      const items = (page.Items ?? []) as ConnectionItem[];
      yield items
        .filter((item) => item.connectionId !== VERSION_KEY.connectionId)
        .map((item) => ({
          connectionId: item.connectionId,
          topics: item.filtered ? sorted(item.topics) : null,
        }));
    }
  }

  async takeToken(connectionId: string, bucket: TokenBucket, now: number): Promise<TakeResult> {
    for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ProjectionExpression: 'bucketTokens, bucketAt',
          ConsistentRead: true,
        }),
      );
      if (!Item) return { allowed: true }; // not registered: nothing to meter against
      const { bucketTokens = bucket.burst, bucketAt } = Item as ConnectionItem;
      const elapsed = bucketAt === undefined ? 0 : Math.max(0, now - bucketAt) / 1000;
      const tokens = Math.min(bucket.burst, bucketTokens + elapsed * bucket.perSecond);
      if (tokens < 1)
        return { allowed: false, retryAfterMs: ((1 - tokens) / bucket.perSecond) * 1000 };
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { connectionId },
            UpdateExpression: 'SET bucketTokens = :tokens, bucketAt = :now',
            // Only if nobody took a token since we read the bucket.
            ConditionExpression:
              bucketAt === undefined
                ? 'attribute_exists(connectionId) AND attribute_not_exists(bucketAt)'
                : 'bucketAt = :previous',
            ExpressionAttributeValues: {
              ':tokens': tokens - 1,
              ':now': now,
              ...(bucketAt === undefined ? {} : { ':previous': bucketAt }),
            },
          }),
        );
        return { allowed: true };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return { allowed: false, retryAfterMs: 1000 / bucket.perSecond };
  }

  private async update(
    connectionId: string,
    expression: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'
    >,
  ): Promise<ConnectionItem> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ReturnValues: 'ALL_NEW',
          ...expression,
        }),
      );
      await this.bumpVersion();
      return result.Attributes as ConnectionItem;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new AppError(
          'VALIDATION_FAILED',
          `A connection may hold at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} topic filters (or it is no longer registered: reconnect)`,
          400,
          { limit: MAX_SUBSCRIPTIONS_PER_CONNECTION },
        );
      }
      throw error;
    }
  }
}

const sorted = (topics: Set<string> | undefined): string[] => [...(topics ?? [])].sort();
