/**
 * Requests awaiting the server's answer, oldest first. The answers carry no request id, and an
 * error frame does not say which request it answers: it is put down to the oldest request still
 * waiting, which is right whenever requests are answered in the order they were sent.
 */
import type { CommandEntry } from './commands';

export type PendingRequest =
  | { kind: 'subscribe' | 'unsubscribe'; topics: string[] }
  | { kind: 'command'; entry: CommandEntry };

export class PendingRequests {
  private readonly queue: PendingRequest[] = [];

  add(request: PendingRequest): void {
    this.queue.push(request);
    // A server that never answers must not make this grow without end.
    if (this.queue.length > 100) this.queue.shift();
  }

  /** Removes and returns the oldest request that `matches` (the oldest of all without it). */
  take(matches: (request: PendingRequest) => boolean = () => true): PendingRequest | undefined {
    const index = this.queue.findIndex(matches);
    return index < 0 ? undefined : this.queue.splice(index, 1)[0];
  }

  /** Every request still waiting; the queue is emptied (the connection they were sent on closed). */
  drain(): PendingRequest[] {
    return this.queue.splice(0);
  }
}
