/**
 * Requests awaiting the server's answer, by the `requestId` the page sent with each one: every
 * answer (an error frame too) echoes it, so an answer is matched to its own request.
 */
import type { CommandEntry } from './commands';

export type PendingRequest =
  | { kind: 'subscribe' | 'unsubscribe'; topics: string[] }
  | { kind: 'command'; entry: CommandEntry };

/** A server that never answers must not make the map grow without end. */
const MAX_PENDING = 100;

export class PendingRequests {
  private readonly byId = new Map<string, PendingRequest>();
  private sequence = 0;

  /** A fresh requestId for the next action (unique within the page). */
  nextId(): string {
    this.sequence += 1;
    return `r${this.sequence}`;
  }

  add(requestId: string, request: PendingRequest): void {
    this.byId.set(requestId, request);
    if (this.byId.size > MAX_PENDING) this.byId.delete(this.byId.keys().next().value as string);
  }

  /** Removes and returns the request a frame answers (none when it carries no requestId). */
  take(requestId: string | undefined): PendingRequest | undefined {
    if (requestId === undefined) return undefined;
    const request = this.byId.get(requestId);
    this.byId.delete(requestId);
    return request;
  }

  /** Every request still waiting; the map is emptied (the connection they were sent on closed). */
  drain(): PendingRequest[] {
    const all = [...this.byId.values()];
    this.byId.clear();
    return all;
  }
}
