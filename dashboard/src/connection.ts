/**
 * One WebSocket to the API that reopens itself: after a close it waits an exponentially growing,
 * jittered delay (shared/backoff.ts) and tries again, for as long as the page is open.
 */
import type { ClientAction, ServerFrame } from '../../shared/protocol';
import { backoffDelay, type Backoff } from '../../shared/backoff';
import { parseFrames } from './frames';

export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open'; since: number }
  | {
      kind: 'waiting';
      attempt: number;
      retryAt: number;
      reason: string;
      /** The handshake itself failed (the socket never opened): refused or unreachable. */
      refused: boolean;
    }
  /** No more automatic attempts (see `stop`); "Reconnect now" still tries. */
  | { kind: 'stopped'; reason: string };

export interface ConnectionListener {
  state(state: ConnectionState): void;
  frame(frame: ServerFrame, now: number): void;
  /** A frame that is not JSON or lacks the fields of its type. */
  malformed(text: string): void;
}

/** Reconnect delays: from 1 s, doubling, at most 30 s (then jittered, see shared/backoff.ts). */
const RECONNECT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 };

/** A connection that stayed open this long resets the backoff; a shorter one keeps growing it. */
const STABLE_AFTER_MS = 5_000;

export class LiveConnection {
  private current: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private openedAt = 0;
  /** The URL of the latest attempt. */
  url = '';
  state: ConnectionState = { kind: 'connecting', attempt: 0 };

  /** `resolveUrl` runs before each attempt (a token of a few minutes is fetched afresh). */
  constructor(
    private readonly resolveUrl: () => Promise<string>,
    private readonly listener: ConnectionListener,
    private readonly policy: Backoff = RECONNECT_BACKOFF,
  ) {}

  /** The socket in use, if any (the browser tests close it to simulate a dropped connection). */
  get socket(): WebSocket | undefined {
    return this.current;
  }

  start(): void {
    // Coming back online is a good moment to retry at once rather than wait out the delay.
    addEventListener('online', () => {
      if (this.state.kind === 'waiting') this.reconnectNow();
    });
    void this.open();
  }

  /** Sends a request; false when the socket is not open (the caller tells the user). */
  send(action: ClientAction): boolean {
    if (this.current?.readyState !== WebSocket.OPEN) return false;
    this.current.send(JSON.stringify(action));
    return true;
  }

  reconnectNow(): void {
    if (this.state.kind !== 'waiting' && this.state.kind !== 'stopped') return;
    clearTimeout(this.retryTimer);
    void this.open();
  }

  /** No more automatic attempts: retrying a refused token only repeats the refusal. */
  stop(reason: string): void {
    clearTimeout(this.retryTimer);
    this.setState({ kind: 'stopped', reason });
  }

  private async open(): Promise<void> {
    this.setState({ kind: 'connecting', attempt: this.attempt });
    let socket: WebSocket;
    try {
      this.url = await this.resolveUrl();
      socket = new WebSocket(this.url);
    } catch (error) {
      this.retry(error instanceof Error ? error.message : String(error), true);
      return;
    }
    this.current = socket;
    socket.addEventListener('open', () => {
      this.openedAt = Date.now();
      this.setState({ kind: 'open', since: this.openedAt });
    });
    socket.addEventListener('message', (event: MessageEvent) => {
      const text = typeof event.data === 'string' ? event.data : '';
      const frames = parseFrames(text);
      if (!frames) return this.listener.malformed(text);
      const now = Date.now();
      for (const frame of frames) this.listener.frame(frame, now);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (socket !== this.current) return;
      this.current = undefined;
      const wasOpen = this.state.kind === 'open';
      if (wasOpen && Date.now() - this.openedAt >= STABLE_AFTER_MS) this.attempt = 0;
      this.retry(closeReason(event, wasOpen), !wasOpen);
    });
  }

  private retry(reason: string, refused: boolean): void {
    this.attempt += 1;
    const delay = backoffDelay(this.attempt, this.policy);
    this.retryTimer = setTimeout(() => void this.open(), delay);
    this.setState({
      kind: 'waiting',
      attempt: this.attempt,
      retryAt: Date.now() + delay,
      reason,
      refused,
    });
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.listener.state(state);
  }
}

function closeReason(event: CloseEvent, wasOpen: boolean): string {
  if (event.reason) return `${event.reason} (code ${event.code})`;
  if (!wasOpen) return 'could not connect';
  return event.code === 1000 ? 'closed by the server' : `connection lost (code ${event.code})`;
}
