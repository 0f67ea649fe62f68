/**
 * Fan-out to many connections, of one frame to all (`broadcast`) or of each connection's own
 * frames (`deliverEach`, batched delivery): bounded concurrency, a `410 Gone` removes that
 * connection without stopping delivery to the others, and the outcome is counted.
 *
 * API Gateway also answers 410 to a post for a connection whose $connect has not completed yet
 * (AWS Knowledge Center, "Why do I get a 410 GoneException from PostToConnection?"), while its
 * item is already written. So a connection younger than `connectGraceMs` is counted gone but
 * kept; a later 410, after the grace, removes it. The age is judged on the stored item (a
 * conditional delete), not on the cached copy the recipients came from.
 */
import type { DeliveryReport } from '../protocol';
import { topicMatches } from '../topics';
import type { Connection, ConnectionRepository } from './repository';
import { DEFAULT_RETRY_POLICY, retrying, type RetryPolicy } from './retry';
import type { ConnectionSender } from './sender';
import type { ConnectionSource } from './snapshot';

export interface BroadcasterDependencies {
  /** Where the recipients come from: the repository itself, or a cached snapshot of it. */
  connections: ConnectionSource;
  /** Where gone connections are removed. */
  repository: ConnectionRepository;
  sender: ConnectionSender;
  /** PostToConnection calls in flight at once. */
  concurrency: number;
  retryPolicy?: RetryPolicy;
  /** A 410 within this long of a connection's $connect does not remove it (handshake race). */
  connectGraceMs?: number;
  now?: () => number;
}

/** API Gateway's $connect integration has 29 s at most; most handshakes complete far sooner. */
export const DEFAULT_CONNECT_GRACE_MS = 10_000;

export interface BroadcastOptions {
  /** Only connections whose filters match this topic receive the frame; all when omitted. */
  topic?: string;
  /** Never send to this connection (e.g. the sender of a chat message gets a report instead). */
  exclude?: string;
  /** Epoch ms after which transient failures are no longer retried (the Lambda's time left). */
  deadline?: number;
}

export interface BroadcastFailure {
  connectionId: string;
  error: unknown;
}

export interface BroadcastResult extends DeliveryReport {
  failures: BroadcastFailure[];
}

/** One message for one connection, serialized; the caller may attach what it carries. */
export interface OutgoingFrame {
  data: string;
}

export interface ViewerDeliveryFailure<F> extends BroadcastFailure {
  /** The frame that failed and every later one of this connection (none of them was sent). */
  undelivered: readonly F[];
}

/** Per connection: delivered (every frame arrived), gone (410) or failed. */
export interface ViewerDeliveryResult<F> extends DeliveryReport {
  /** Frames that arrived, over all connections. */
  posts: number;
  failures: ViewerDeliveryFailure<F>[];
}

export class Broadcaster {
  private readonly connections: ConnectionSource;
  private readonly repository: ConnectionRepository;
  private readonly sender: ConnectionSender;
  private readonly concurrency: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly connectGraceMs: number;
  private readonly now: () => number;

  constructor(dependencies: BroadcasterDependencies) {
    ({
      connections: this.connections,
      repository: this.repository,
      sender: this.sender,
      concurrency: this.concurrency,
      retryPolicy: this.retryPolicy = DEFAULT_RETRY_POLICY,
      connectGraceMs: this.connectGraceMs = DEFAULT_CONNECT_GRACE_MS,
      now: this.now = Date.now,
    } = dependencies);
  }

  async broadcast(frame: object, options: BroadcastOptions = {}): Promise<BroadcastResult> {
    const { topic } = options;
    const frames = [{ data: JSON.stringify(frame) }];
    const result = await this.deliverEach(
      (connection) => (topic === undefined || subscribedTo(connection, topic) ? frames : []),
      options,
    );
    const { delivered, gone, failed } = result;
    const failures = result.failures.map(({ connectionId, error }) => ({ connectionId, error }));
    return { delivered, gone, failed, failures };
  }

  /**
   * Sends each connection the frames `framesFor` gives it (none: it is skipped), one after the
   * other so they arrive in order. A frame that still fails after the retries ends that
   * connection's delivery: it and the frames after it are returned as undelivered, so the caller
   * knows exactly what did not arrive (and the client never gets a later frame before an earlier
   * one). A 410 ends it too: the connection is gone.
   */
  async deliverEach<F extends OutgoingFrame>(
    framesFor: (connection: Connection) => readonly F[],
    options: Pick<BroadcastOptions, 'exclude' | 'deadline'> = {},
  ): Promise<ViewerDeliveryResult<F>> {
    const result: ViewerDeliveryResult<F> = {
      delivered: 0,
      gone: 0,
      failed: 0,
      posts: 0,
      failures: [],
    };
    const goneIds: string[] = [];
    const cutoff = this.now() - this.connectGraceMs;

    const deadline = options.deadline ?? Date.now() + 5_000;
    const deliver = async ({ connectionId, frames }: Addressed<F>): Promise<void> => {
      for (const [index, frame] of frames.entries()) {
        try {
          const outcome = await retrying(
            (timeoutMs) => this.sender.send(connectionId, frame.data, timeoutMs),
            this.retryPolicy,
            deadline,
          );
          if (outcome === 'gone') {
            result.gone++;
            goneIds.push(connectionId);
            return;
          }
          result.posts++;
        } catch (error) {
          result.failed++;
          result.failures.push({ connectionId, error, undelivered: frames.slice(index) });
          return;
        }
      }
      result.delivered++;
    };

    await forEachConcurrently(
      this.addressed(framesFor, options.exclude),
      this.concurrency,
      deliver,
    );
    await forEachConcurrently(goneIds, this.concurrency, async (id) => {
      await this.repository.remove(id, { connectedBefore: cutoff });
    });
    return result;
  }

  private async *addressed<F>(
    framesFor: (connection: Connection) => readonly F[],
    exclude: string | undefined,
  ): AsyncIterable<Addressed<F>> {
    for await (const page of this.connections.pages()) {
      for (const connection of page) {
        if (connection.connectionId === exclude) continue;
        const frames = framesFor(connection);
        if (frames.length > 0) yield { connectionId: connection.connectionId, frames };
      }
    }
  }
}

interface Addressed<F> {
  connectionId: string;
  frames: readonly F[];
}

/** Whether a connection's filters take a message on `topic` (no filters: it takes everything). */
export function subscribedTo(connection: Pick<Connection, 'topics'>, topic: string): boolean {
  return (
    connection.topics === null || connection.topics.some((filter) => topicMatches(filter, topic))
  );
}

/** Runs `work` over the items with at most `limit` in flight, pulling lazily from the source. */
export async function forEachConcurrently<T>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : toAsync((items as Iterable<T>)[Symbol.iterator]());
  const worker = async (): Promise<void> => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      await work(next.value);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return { next: async () => iterator.next() };
}
