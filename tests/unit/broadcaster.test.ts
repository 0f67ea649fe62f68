/**
 * The fan-out (shared/connections/broadcaster.ts) on its own, with in-memory implementations of
 * the project's own interfaces (where the recipients come from, where gone ones are removed,
 * how a frame is posted): exact counts, the concurrency bound, the topic and exclude filters,
 * the 410 grace after $connect, and retries. The handler and fault tests run the same code
 * against dynalite and a real @connections server; these pin what those cannot see cheaply.
 */
import { describe, expect, it } from '@jest/globals';
import {
  Broadcaster,
  DEFAULT_CONNECT_GRACE_MS,
  forEachConcurrently,
} from '../../shared/connections/broadcaster';
import type { Connection, ConnectionRepository } from '../../shared/connections/repository';
import type { RetryPolicy } from '../../shared/connections/retry';
import type { ConnectionSender, SendOutcome } from '../../shared/connections/sender';

const NOW = 1_767_225_600_000;
const NO_WAIT: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, requestTimeoutMs: 50 };

/** Answers per connection: 'delivered' by default; errors are thrown. */
class RecordingSender implements ConnectionSender {
  readonly posts: { connectionId: string; data: string; timeoutMs: number | undefined }[] = [];
  readonly answers = new Map<string, (SendOutcome | Error | object)[]>();
  inFlight = 0;
  maxInFlight = 0;
  async send(connectionId: string, data: string, timeoutMs?: number): Promise<SendOutcome> {
    this.posts.push({ connectionId, data, timeoutMs });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      const answer = this.answers.get(connectionId)?.shift() ?? 'delivered';
      if (typeof answer !== 'string') throw answer;
      return answer;
    } finally {
      this.inFlight--;
    }
  }
}

function setUp(
  connections: Connection[],
  options: { concurrency?: number; pageSize?: number; retryPolicy?: RetryPolicy } = {},
) {
  const sender = new RecordingSender();
  const removed: { id: string; connectedBefore: number | undefined }[] = [];
  const pageSize = options.pageSize ?? 2;
  const source = {
    async *pages() {
      for (let i = 0; i < connections.length; i += pageSize) {
        yield connections.slice(i, i + pageSize);
      }
    },
  };
  const repository = {
    remove: async (id: string, removeOptions?: { connectedBefore?: number }) => {
      removed.push({ id, connectedBefore: removeOptions?.connectedBefore });
      return true;
    },
  } as unknown as ConnectionRepository;
  const broadcaster = new Broadcaster({
    connections: source,
    repository,
    sender,
    concurrency: options.concurrency ?? 4,
    retryPolicy: options.retryPolicy ?? NO_WAIT,
    now: () => NOW,
  });
  return { broadcaster, sender, removed };
}

const everyone = (...ids: string[]): Connection[] =>
  ids.map((connectionId) => ({ connectionId, topics: null }));

describe('Broadcaster', () => {
  it('posts the frame as JSON once to every connection, across pages, and counts it', async () => {
    const { broadcaster, sender, removed } = setUp(everyone('a', 'b', 'c', 'd', 'e'));
    const result = await broadcaster.broadcast({ type: 'x', n: 1 });
    expect(result).toEqual({ delivered: 5, gone: 0, failed: 0, failures: [] });
    expect(sender.posts.map((post) => post.connectionId).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(new Set(sender.posts.map((post) => post.data))).toEqual(new Set(['{"type":"x","n":1}']));
    expect(removed).toEqual([]);
  });

  it('keeps at most `concurrency` posts in flight, and does reach it', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const { broadcaster, sender } = setUp(everyone(...ids), { concurrency: 3, pageSize: 7 });
    await broadcaster.broadcast({});
    expect(sender.posts).toHaveLength(40);
    expect(sender.maxInFlight).toBe(3);
  });

  it('sends only to connections whose filters match the topic; null filters take everything', async () => {
    const { broadcaster, sender } = setUp([
      { connectionId: 'all', topics: null },
      { connectionId: 'mine', topics: ['devices/sensor-1/#'] },
      { connectionId: 'other', topics: ['devices/sensor-2/telemetry'] },
      { connectionId: 'none', topics: [] },
    ]);
    const result = await broadcaster.broadcast({}, { topic: 'devices/sensor-1/telemetry' });
    expect(sender.posts.map((post) => post.connectionId).sort()).toEqual(['all', 'mine']);
    expect(result.delivered).toBe(2);
  });

  it('sends to every connection when no topic is given, whatever their filters', async () => {
    const { broadcaster, sender } = setUp([
      { connectionId: 'f', topics: ['a/b'] },
      { connectionId: 'n', topics: null },
    ]);
    await broadcaster.broadcast({});
    expect(sender.posts.map((post) => post.connectionId).sort()).toEqual(['f', 'n']);
  });

  it('never sends to the excluded connection', async () => {
    const { broadcaster, sender } = setUp(everyone('me', 'you'));
    const result = await broadcaster.broadcast({}, { exclude: 'me' });
    expect(sender.posts.map((post) => post.connectionId)).toEqual(['you']);
    expect(result.delivered).toBe(1);
  });

  it('counts a 410 as gone and removes it, only if it connected before the grace period', async () => {
    const { broadcaster, sender, removed } = setUp(everyone('live', 'stale'));
    sender.answers.set('stale', ['gone']);
    const result = await broadcaster.broadcast({});
    expect(result).toEqual({ delivered: 1, gone: 1, failed: 0, failures: [] });
    expect(removed).toEqual([{ id: 'stale', connectedBefore: NOW - DEFAULT_CONNECT_GRACE_MS }]);
    expect(DEFAULT_CONNECT_GRACE_MS).toBe(10_000);
  });

  it('uses the configured grace period', async () => {
    const sender = new RecordingSender();
    sender.answers.set('x', ['gone']);
    const removed: unknown[] = [];
    const broadcaster = new Broadcaster({
      connections: {
        pages: async function* () {
          yield everyone('x');
        },
      },
      repository: {
        remove: async (id: string, options?: object) => removed.push({ id, ...options }),
      } as unknown as ConnectionRepository,
      sender,
      concurrency: 1,
      retryPolicy: NO_WAIT,
      connectGraceMs: 500,
      now: () => NOW,
    });
    await broadcaster.broadcast({});
    expect(removed).toEqual([{ id: 'x', connectedBefore: NOW - 500 }]);
  });

  it('retries a transient failure and counts the delivery once', async () => {
    const { broadcaster, sender } = setUp(everyone('a'));
    sender.answers.set('a', [{ $metadata: { httpStatusCode: 429 } }, 'delivered']);
    const result = await broadcaster.broadcast({}, { deadline: Date.now() + 5_000 });
    expect(result).toEqual({ delivered: 1, gone: 0, failed: 0, failures: [] });
    expect(sender.posts).toHaveLength(2);
    expect(sender.posts.every((post) => post.timeoutMs! > 0 && post.timeoutMs! <= 50)).toBe(true);
  });

  it('reports a failure for good with its connection and error; the others are delivered', async () => {
    const { broadcaster, sender, removed } = setUp(everyone('a', 'bad', 'c'));
    const refused = { $metadata: { httpStatusCode: 403 } };
    sender.answers.set('bad', [refused]);
    const result = await broadcaster.broadcast({});
    expect(result).toEqual({
      delivered: 2,
      gone: 0,
      failed: 1,
      failures: [{ connectionId: 'bad', error: refused }],
    });
    expect(sender.posts.filter((post) => post.connectionId === 'bad')).toHaveLength(1);
    expect(removed).toEqual([]);
  });

  it('without a deadline, gives transient failures about five seconds', async () => {
    const { broadcaster, sender } = setUp(everyone('a'));
    const before = Date.now();
    await broadcaster.broadcast({});
    const [post] = sender.posts;
    // The attempt's time is the smaller of requestTimeoutMs (50) and the time left (≈ 5 s).
    expect(post!.timeoutMs).toBe(50);
    expect(Date.now() - before).toBeLessThan(5_000);
  });
});

/** Batched delivery: each connection its own frames, in order (shared/telemetry/delivery.ts). */
describe('Broadcaster.deliverEach', () => {
  const frame = (data: string, tag = data) => ({ data, tag });
  const framesOf = (...data: string[]) => data.map((text) => frame(text));

  it('posts each connection its frames one after the other, in order, and counts every post', async () => {
    const { broadcaster, sender } = setUp(everyone('a', 'b', 'c'), { concurrency: 2 });
    const plan = new Map([
      ['a', framesOf('a1', 'a2', 'a3')],
      ['b', framesOf('b1')],
      ['c', framesOf('c1', 'c2')],
    ]);
    const result = await broadcaster.deliverEach((connection) =>
      plan.get(connection.connectionId)!,
    );
    expect(result).toEqual({ delivered: 3, gone: 0, failed: 0, posts: 6, failures: [] });
    for (const [id, frames] of plan) {
      expect(
        sender.posts.filter((post) => post.connectionId === id).map((post) => post.data),
      ).toEqual(frames.map((planned) => planned.data));
    }
  });

  it('skips a connection with no frames: not posted to, not counted', async () => {
    const { broadcaster, sender } = setUp(everyone('a', 'idle'));
    const result = await broadcaster.deliverEach((connection) =>
      connection.connectionId === 'idle' ? [] : framesOf('x'),
    );
    expect(result).toEqual({ delivered: 1, gone: 0, failed: 0, posts: 1, failures: [] });
    expect(sender.posts.map((post) => post.connectionId)).toEqual(['a']);
  });

  it('never sends to the excluded connection', async () => {
    const { broadcaster, sender } = setUp(everyone('me', 'you'));
    const result = await broadcaster.deliverEach(() => framesOf('x'), { exclude: 'me' });
    expect(sender.posts.map((post) => post.connectionId)).toEqual(['you']);
    expect(result.delivered).toBe(1);
  });

  it('a frame that fails for good ends that connection: it and the later frames are undelivered', async () => {
    const { broadcaster, sender } = setUp(everyone('bad', 'ok'));
    const refused = { $metadata: { httpStatusCode: 403 } };
    // The first frame arrives, the second is refused; the third is never tried.
    sender.answers.set('bad', ['delivered', refused]);
    const frames = framesOf('f1', 'f2', 'f3');
    const result = await broadcaster.deliverEach(() => frames);
    expect(result).toEqual({
      delivered: 1,
      gone: 0,
      failed: 1,
      posts: 4,
      failures: [{ connectionId: 'bad', error: refused, undelivered: [frames[1], frames[2]] }],
    });
    expect(
      sender.posts.filter((post) => post.connectionId === 'bad').map((post) => post.data),
    ).toEqual(['f1', 'f2']);
  });

  it('a 410 ends that connection as gone, removed after the grace period, its later frames unsent', async () => {
    const { broadcaster, sender, removed } = setUp(everyone('stale', 'ok'));
    sender.answers.set('stale', ['delivered', 'gone']);
    const result = await broadcaster.deliverEach(() => framesOf('f1', 'f2', 'f3'));
    expect(result).toEqual({ delivered: 1, gone: 1, failed: 0, posts: 4, failures: [] });
    expect(sender.posts.filter((post) => post.connectionId === 'stale')).toHaveLength(2);
    expect(removed).toEqual([{ id: 'stale', connectedBefore: NOW - DEFAULT_CONNECT_GRACE_MS }]);
  });

  it('retries each frame within the deadline it is given', async () => {
    // Attempts may take a minute by the policy: only the deadline bounds them.
    const { broadcaster, sender } = setUp(everyone('a'), {
      retryPolicy: { ...NO_WAIT, requestTimeoutMs: 60_000 },
    });
    sender.answers.set('a', ['delivered', { code: 'ECONNRESET' }, 'delivered']);
    const result = await broadcaster.deliverEach(() => framesOf('f1', 'f2'), {
      deadline: Date.now() + 2_000,
    });
    expect(result).toMatchObject({ delivered: 1, failed: 0, posts: 2 });
    expect(sender.posts.map((post) => post.data)).toEqual(['f1', 'f2', 'f2']);
    for (const post of sender.posts) {
      expect(post.timeoutMs).toBeGreaterThan(0);
      expect(post.timeoutMs).toBeLessThanOrEqual(2_000);
    }
  });

  it('without a deadline, gives each frame about five seconds', async () => {
    const { broadcaster, sender } = setUp(everyone('a'), {
      retryPolicy: { ...NO_WAIT, requestTimeoutMs: 60_000 },
    });
    await broadcaster.deliverEach(() => framesOf('f1'));
    expect(sender.posts[0]!.timeoutMs).toBeGreaterThan(4_000);
    expect(sender.posts[0]!.timeoutMs).toBeLessThanOrEqual(5_000);
  });
});

describe('forEachConcurrently', () => {
  it('works through an iterable with at most `limit` at once, each item once', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: number[] = [];
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 2, async (item) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(item);
      inFlight--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(max).toBe(2);
  });

  it('runs one at a time when the limit is 0 or less, rather than none', async () => {
    const seen: string[] = [];
    await forEachConcurrently(['a', 'b'], 0, async (item) => {
      seen.push(item);
    });
    expect(seen).toEqual(['a', 'b']);
  });
});
