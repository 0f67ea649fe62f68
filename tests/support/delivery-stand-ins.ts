/**
 * In-memory stand-ins for the delivery tests of shared/telemetry/delivery.ts: a sender that
 * records what it is asked to post and answers as PostToConnection would, and the real
 * Broadcaster over a fixed set of connections with it.
 */
import { Broadcaster } from '../../shared/connections/broadcaster';
import type { Connection, ConnectionRepository } from '../../shared/connections/repository';
import type { ConnectionSender, SendOutcome } from '../../shared/connections/sender';

/** PostToConnection's 403: a failure the broadcaster does not retry. */
export const FORBIDDEN = Object.assign(new Error('PostToConnection answered 403'), {
  $metadata: { httpStatusCode: 403 },
});

export interface SenderAnswers {
  /** Connections answered 410 (gone). */
  gone?: readonly string[];
  /** Connections answered 403. */
  refuse?: readonly string[];
  /** How long each post takes. */
  delayMs?: number;
}

/** Records every post (`attempts`, with its timeout) and those delivered (`posts`). */
export class RecordingSender implements ConnectionSender {
  readonly attempts: { connectionId: string; data: string; timeoutMs: number | undefined }[] = [];
  readonly posts: { connectionId: string; data: string }[] = [];
  constructor(private readonly answers: SenderAnswers = {}) {}
  async send(connectionId: string, data: string, timeoutMs?: number): Promise<SendOutcome> {
    const { gone = [], refuse = [], delayMs = 0 } = this.answers;
    this.attempts.push({ connectionId, data, timeoutMs });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (refuse.includes(connectionId)) throw FORBIDDEN;
    if (gone.includes(connectionId)) return 'gone';
    this.posts.push({ connectionId, data });
    return 'delivered';
  }
}

/** The real Broadcaster over `connections`, posting through a RecordingSender. */
export function broadcasterOver(connections: Connection[], answers: SenderAnswers = {}) {
  const sender = new RecordingSender(answers);
  const broadcaster = new Broadcaster({
    connections: {
      async *pages() {
        yield connections;
      },
    },
    repository: { remove: async () => true } as unknown as ConnectionRepository,
    sender,
    concurrency: 4,
  });
  return { broadcaster, sender };
}
