/**
 * Where WebSocket connections live. Handlers depend on the ConnectionRepository port; the
 * DynamoDB adapter below is the one implementation (tests run it against dynalite).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  paginateScan,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { AppError } from '../errors';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../protocol';

export interface Connection {
  connectionId: string;
  /** Topic filters the connection receives; `null` until it subscribes: it receives everything. */
  topics: string[] | null;
}

export interface NewConnection {
  connectionId: string;
  connectedAt: number;
}

export interface ConnectionRepository {
  save(connection: NewConnection): Promise<void>;
  remove(connectionId: string): Promise<void>;
  /** Adds filters; returns the connection's filters after the change. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]>;
  /** Removes filters; returns the filters after the change (`null`: it never subscribed). */
  unsubscribe(connectionId: string, topics: string[]): Promise<string[] | null>;
  /** Every connection, a page at a time. */
  pages(): AsyncIterable<Connection[]>;
}

interface ConnectionItem {
  connectionId: string;
  connectedAt?: number;
  expiresAt?: number;
  filtered?: boolean;
  topics?: Set<string>;
}

export class DynamoConnectionRepository implements ConnectionRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlSeconds: number,
  ) {}

  async save({ connectionId, connectedAt }: NewConnection): Promise<void> {
    const item: ConnectionItem = {
      connectionId,
      connectedAt,
      expiresAt: Math.floor(connectedAt / 1000) + this.ttlSeconds,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async remove(connectionId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { connectionId } }));
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
      yield items.map((item) => ({
        connectionId: item.connectionId,
        topics: item.filtered ? sorted(item.topics) : null,
      }));
    }
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
