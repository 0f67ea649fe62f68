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
import { ConnectionNotRegisteredError, TooManyFiltersError } from '../errors';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../limits';

export interface Connection {
  connectionId: string;
  /** Topic filters the connection receives; `null` until it subscribes: it receives everything. */
  topics: string[] | null;
  /** Epoch ms of its $connect; a 410 soon after it may only mean the handshake is not done yet. */
  connectedAt?: number;
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

export type TakeResult =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number }
  /** No such connection: nothing to meter, and nothing may be done for it. */
  | { allowed: false; unregistered: true };

export interface ConnectionRepository {
  save(connection: NewConnection): Promise<void>;
  remove(connectionId: string): Promise<void>;
  /** Adds filters; returns the connection's filters after the change. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]>;
  /** Removes filters; returns the filters after the change (`null`: it never subscribed). */
  unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null>;
  /** Every connection, a page at a time. */
  pages(): AsyncIterable<Connection[]>;
  /** Takes one token from the connection's bucket (every client action), atomically. */
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
  /** The rate limit's theoretical arrival time (epoch ms), see takeToken. */
  rateTat?: number;
}

type UpdateExpressionParts = Pick<
  ConstructorParameters<typeof UpdateCommand>[0],
  'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'
>;

/** A take whose schedule lapses between its two conditional updates tries again this often. */
const TAKE_ATTEMPTS = 3;

/** The id of the item holding the change counter; API Gateway never issues '#' in an id. */
export const VERSION_ITEM_ID = '#version';
const VERSION_KEY = { connectionId: VERSION_ITEM_ID };

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
        ProjectionExpression: 'connectionId, connectedAt, filtered, topics',
      },
    );
    for await (const page of paginator) {
      const items = (page.Items ?? []) as ConnectionItem[];
      yield items
        .filter((item) => item.connectionId !== VERSION_KEY.connectionId)
        .map((item) => ({
          connectionId: item.connectionId,
          topics: item.filtered ? sorted(item.topics) : null,
          ...(item.connectedAt === undefined ? {} : { connectedAt: item.connectedAt }),
        }));
    }
  }

  /**
   * The token bucket as GCRA (generic cell rate algorithm): one attribute, the theoretical arrival
   * time `rateTat`. A take is one conditional UpdateItem — atomic, so concurrent takes can never
   * share a token — and the refused path costs one more read to say why.
   */
  async takeToken(connectionId: string, bucket: TokenBucket, now: number): Promise<TakeResult> {
    const interval = 1000 / bucket.perSecond;
    const tolerance = (bucket.burst - 1) * interval;
    for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
      // An idle bucket (arrival time passed): full again, this take starts a new schedule.
      if (
        await this.conditionalUpdate(connectionId, {
          UpdateExpression: 'SET rateTat = :next',
          ConditionExpression:
            'attribute_exists(connectionId) AND (attribute_not_exists(rateTat) OR rateTat <= :now)',
          ExpressionAttributeValues: { ':now': now, ':next': now + interval },
        })
      ) {
        return { allowed: true };
      }
      // A bucket in use: allowed while the schedule is less than a burst ahead of now.
      if (
        await this.conditionalUpdate(connectionId, {
          UpdateExpression: 'SET rateTat = rateTat + :interval',
          ConditionExpression: 'rateTat > :now AND rateTat <= :latest',
          ExpressionAttributeValues: {
            ':now': now,
            ':interval': interval,
            ':latest': now + tolerance,
          },
        })
      ) {
        return { allowed: true };
      }
      const { Item } = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ProjectionExpression: 'connectionId, rateTat',
          ConsistentRead: true,
        }),
      );
      if (!Item) return { allowed: false, unregistered: true };
      const tat = (Item as ConnectionItem).rateTat ?? now;
      // Over the limit; otherwise the schedule lapsed between the two updates: try again.
      if (tat > now + tolerance) return { allowed: false, retryAfterMs: tat - tolerance - now };
    }
    return { allowed: false, retryAfterMs: interval };
  }

  /** An UpdateItem whose condition may fail: false when it did. */
  private async conditionalUpdate(
    connectionId: string,
    expression: UpdateExpressionParts,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: { connectionId }, ...expression }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async update(
    connectionId: string,
    expression: UpdateExpressionParts,
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
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Two causes fail the condition; one consistent read tells which.
      const { Item } = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ProjectionExpression: 'connectionId',
          ConsistentRead: true,
        }),
      );
      throw Item
        ? new TooManyFiltersError(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        : new ConnectionNotRegisteredError();
    }
  }
}

const sorted = (topics: Set<string> | undefined): string[] => [...(topics ?? [])].sort();
