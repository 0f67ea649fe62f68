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
import { batchGet, DynamoChangeLog, type ChangeEntry, type ChangeLogOptions } from './change-log';

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

/** What a cached copy of the connections catches up from (see change-log.ts). */
export interface ChangeLogReader {
  readonly shards: number;
  /** How long entries are kept: a reader further behind must rescan. */
  readonly retentionSeconds: number;
  heads(): Promise<number[]>;
  since(shard: number, after: number): Promise<ChangeEntry[]>;
}

export interface RemoveOptions {
  /**
   * Remove only a connection whose $connect was before this (epoch ms), judged on the stored
   * item: a 410 soon after $connect may only mean the handshake is not done yet.
   */
  connectedBefore?: number;
}

export interface ConnectionRepository {
  save(connection: NewConnection): Promise<void>;
  /** Resolves whether a connection was removed (false: none, or too young to remove). */
  remove(connectionId: string, options?: RemoveOptions): Promise<boolean>;
  /** Adds filters; returns the connection's filters after the change. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]>;
  /** Removes filters; returns the filters after the change (`null`: it never subscribed). */
  unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null>;
  /** Every connection, a page at a time (a consistent scan). */
  pages(): AsyncIterable<Connection[]>;
  /** These connections as stored now (consistent reads); ids not stored are not in the map. */
  find(connectionIds: string[]): Promise<Map<string, Connection>>;
  /** Every write above also records the connection in this log, after the write. */
  readonly changes: ChangeLogReader;
  /** Takes one token from the connection's bucket (every client action), atomically. */
  takeToken(connectionId: string, bucket: TokenBucket, now: number): Promise<TakeResult>;
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
  'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues' | 'ReturnValues'
>;

/** A take whose schedule lapses between its two conditional updates tries again this often. */
const TAKE_ATTEMPTS = 3;

/**
 * The single change counter that earlier versions kept in the connections table (a hot item, and
 * every change made every warm reader rescan); now the change log replaces it. API Gateway never
 * issues '#' in a connection id, so scans skip any such item a table may still hold.
 */
export const VERSION_ITEM_ID = '#version';
const isConnectionId = (id: string) => !id.startsWith('#');

const CONNECTION_PROJECTION = 'connectionId, connectedAt, filtered, topics';

/** Connections whose schedule a warm instance remembers; past this the memory starts over. */
const KNOWN_SCHEDULES_LIMIT = 10_000;

export class DynamoConnectionRepository implements ConnectionRepository {
  readonly changes: DynamoChangeLog;
  /**
   * The latest rate-limit arrival time this instance has seen per connection. A connection's
   * arrival time only ever grows (both updates in takeToken raise it), so what was seen is a
   * lower bound of the stored one: while it is more than a burst ahead of now, the take is
   * refused without a DynamoDB call. A client flooding a warm instance costs it no reads or
   * writes (`npm run bench -- --only flood`).
   */
  private readonly knownSchedules = new Map<string, number>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlSeconds: number,
    changeLog: ChangeLogOptions = {},
  ) {
    this.changes = new DynamoChangeLog(client, tableName, changeLog);
  }

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
    await this.changes.record(connectionId);
  }

  async remove(connectionId: string, { connectedBefore }: RemoveOptions = {}): Promise<boolean> {
    try {
      const { Attributes } = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ReturnValues: 'ALL_OLD',
          ...(connectedBefore === undefined
            ? {}
            : {
                ConditionExpression: 'attribute_not_exists(connectedAt) OR connectedAt < :before',
                ExpressionAttributeValues: { ':before': connectedBefore },
              }),
        }),
      );
      // Nothing was there (a $disconnect and a 410 both removing it): nothing changed.
      if (!Attributes) return false;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    await this.changes.record(connectionId);
    return true;
  }

  async find(connectionIds: string[]): Promise<Map<string, Connection>> {
    const items = await batchGet(
      this.client,
      this.tableName,
      [...new Set(connectionIds)].map((connectionId) => ({ connectionId })),
      CONNECTION_PROJECTION,
    );
    return new Map(
      (items as unknown as ConnectionItem[]).map((item) => [item.connectionId, toConnection(item)]),
    );
  }

  async subscribe(connectionId: string, topics: string[]): Promise<string[]> {
    const wanted = new Set(topics);
    const before = await this.update(connectionId, {
      UpdateExpression: 'SET filtered = :true ADD topics :topics',
      // A conservative bound: counts the new filters as if none were already present.
      ConditionExpression:
        'attribute_exists(connectionId) AND (attribute_not_exists(topics) OR size(topics) <= :room)',
      ExpressionAttributeValues: {
        ':true': true,
        ':topics': wanted,
        ':room': MAX_SUBSCRIPTIONS_PER_CONNECTION - wanted.size,
      },
    });
    const after = new Set([...(before.topics ?? []), ...wanted]);
    if (!before.filtered || after.size !== (before.topics?.size ?? 0)) {
      await this.changes.record(connectionId);
    }
    return sorted(after);
  }

  async unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null> {
    const before = await this.update(connectionId, {
      UpdateExpression: 'DELETE topics :topics',
      ConditionExpression: 'attribute_exists(connectionId)',
      ExpressionAttributeValues: { ':topics': new Set(topics) },
    });
    const after = new Set([...(before.topics ?? [])].filter((topic) => !topics.includes(topic)));
    // Removing filters it does not have changes nothing a fan-out needs to know.
    if (after.size !== (before.topics?.size ?? 0)) await this.changes.record(connectionId);
    return before.filtered ? sorted(after) : null;
  }

  async *pages(): AsyncIterable<Connection[]> {
    const paginator = paginateScan(
      { client: this.client },
      {
        TableName: this.tableName,
        ProjectionExpression: CONNECTION_PROJECTION,
        // A reader that caught the change log's counters before this scan must see every write
        // before them; an eventually consistent scan may miss the newest ("Read consistency").
        ConsistentRead: true,
      },
    );
    for await (const page of paginator) {
      const items = (page.Items ?? []) as ConnectionItem[];
      yield items.filter((item) => isConnectionId(item.connectionId)).map(toConnection);
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
    const known = this.knownSchedules.get(connectionId);
    if (known !== undefined && known > now + tolerance) {
      return { allowed: false, retryAfterMs: known - tolerance - now };
    }
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
        this.rememberSchedule(connectionId, now + interval);
        return { allowed: true };
      }
      // A bucket in use: allowed while the schedule is less than a burst ahead of now.
      const advanced = await this.conditionalUpdate(connectionId, {
        UpdateExpression: 'SET rateTat = rateTat + :interval',
        ConditionExpression: 'rateTat > :now AND rateTat <= :latest',
        ExpressionAttributeValues: {
          ':now': now,
          ':interval': interval,
          ':latest': now + tolerance,
        },
        ReturnValues: 'UPDATED_NEW',
      });
      if (advanced) {
        const tat = advanced.rateTat;
        if (typeof tat === 'number') this.rememberSchedule(connectionId, tat);
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
      if (!Item) {
        this.knownSchedules.delete(connectionId);
        return { allowed: false, unregistered: true };
      }
      const tat = (Item as ConnectionItem).rateTat ?? now;
      this.rememberSchedule(connectionId, tat);
      // Over the limit; otherwise the schedule lapsed between the two updates: try again.
      if (tat > now + tolerance) return { allowed: false, retryAfterMs: tat - tolerance - now };
    }
    return { allowed: false, retryAfterMs: interval };
  }

  private rememberSchedule(connectionId: string, tat: number): void {
    if (
      !this.knownSchedules.has(connectionId) &&
      this.knownSchedules.size >= KNOWN_SCHEDULES_LIMIT
    ) {
      this.knownSchedules.clear();
    }
    this.knownSchedules.set(
      connectionId,
      Math.max(tat, this.knownSchedules.get(connectionId) ?? 0),
    );
  }

  /** Runs a conditional update: its returned attributes (empty unless asked), or undefined. */
  private async conditionalUpdate(
    connectionId: string,
    expression: UpdateExpressionParts,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: { connectionId }, ...expression }),
      );
      return Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Updates an existing connection; resolves the item as it was before (the caller logs it). */
  private async update(
    connectionId: string,
    expression: UpdateExpressionParts,
  ): Promise<ConnectionItem> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { connectionId },
          ReturnValues: 'ALL_OLD',
          ...expression,
        }),
      );
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

const toConnection = (item: ConnectionItem): Connection => ({
  connectionId: item.connectionId,
  topics: item.filtered ? sorted(item.topics) : null,
  ...(item.connectedAt === undefined ? {} : { connectedAt: item.connectedAt }),
});
