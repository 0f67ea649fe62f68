/**
 * The connections as the warm Lambda instance knows them, kept current from the change log
 * (change-log.ts): each fan-out reads the shards' counters and queries the shards whose counter
 * moved for the entries after the last one applied, then reads again only the connections those
 * entries name.
 * The table is scanned when the instance is cold, when it fell further behind than the log
 * keeps, when an entry stays missing (a writer that died between its counter and its entry), and
 * every `maxAgeMs` as a safety net.
 *
 * Why it never misses a change: a writer writes the connection, then takes a number from its
 * shard's counter, then writes the entry. A rescan reads the counters first and the table second
 * (both consistent), so every change numbered up to those counters is in what it scanned; after
 * it, every entry numbered above them is read from the log, and the connection it names is read
 * after the entry exists, hence after the change. A number whose entry is not there yet is a gap:
 * the shard's cursor stops before it (entries after it are applied, and remembered) until the
 * entry appears.
 */
import type { ChangeLogReader, Connection, ConnectionRepository } from './repository';

export interface ConnectionSource {
  pages(): AsyncIterable<Connection[]>;
}

export interface SnapshotOptions {
  /** The longest the instance goes without a full scan. */
  maxAgeMs: number;
  /** How long a missing entry is waited for before the table is rescanned. */
  gapTimeoutMs?: number;
  now?: () => number;
}

/** Margin for clocks between instances when judging whether the log still reaches back. */
const CLOCK_MARGIN_MS = 60_000;

interface ShardCursor {
  /** Every entry up to this number is applied. */
  applied: number;
  /** Entries above `applied` applied already (past a gap). */
  ahead: Set<number>;
  /** When the gap at `applied + 1` was first seen. */
  gapSince?: number;
}

interface State {
  connections: Map<string, Connection>;
  list: Connection[] | undefined;
  cursors: ShardCursor[];
  scannedAt: number;
  /** When the last catch-up started: every entry not applied yet was written after it. */
  syncedAt: number;
}

export interface SnapshotStats {
  scans: number;
  catchUps: number;
  /** Connections read again because an entry named them. */
  refreshed: number;
}

export class ConnectionSnapshot implements ConnectionSource {
  private state: State | undefined;
  private readonly log: ChangeLogReader;
  private readonly maxAgeMs: number;
  private readonly gapTimeoutMs: number;
  private readonly now: () => number;
  readonly stats: SnapshotStats = { scans: 0, catchUps: 0, refreshed: 0 };

  constructor(
    private readonly repository: ConnectionRepository,
    options: SnapshotOptions | number,
  ) {
    const settings = typeof options === 'number' ? { maxAgeMs: options } : options;
    this.log = repository.changes;
    this.maxAgeMs = Math.min(
      settings.maxAgeMs,
      this.log.retentionSeconds * 1000 - 2 * CLOCK_MARGIN_MS,
    );
    this.gapTimeoutMs = settings.gapTimeoutMs ?? 10_000;
    this.now = settings.now ?? Date.now;
  }

  async *pages(): AsyncIterable<Connection[]> {
    yield await this.current();
  }

  async current(): Promise<Connection[]> {
    const state = this.state;
    const now = this.now();
    const fresh =
      state && now - state.scannedAt < this.maxAgeMs && now - state.syncedAt < this.maxAgeMs;
    const current = fresh && (await this.catchUp(state, now)) ? state : await this.rescan();
    current.list ??= [...current.connections.values()];
    return current.list;
  }

  /**
   * Applies the entries after each cursor; false when only a rescan can bring it up to date.
   * The shards' counters come first, in one read: a shard whose counter has not moved past its
   * cursor has no entry to apply (every entry is numbered by the counter before it is written), so
   * only the shards that changed are queried. With no churn a fan-out costs one request, not one
   * per shard.
   */
  private async catchUp(state: State, now: number): Promise<boolean> {
    this.stats.catchUps++;
    const heads = await this.log.heads();
    const batches = await Promise.all(
      state.cursors.map((cursor, shard) =>
        (heads[shard] ?? 0) > cursor.applied ? this.log.since(shard, cursor.applied) : [],
      ),
    );
    const changed = new Set<string>();
    let gapTimedOut = false;
    batches.forEach((entries, shard) => {
      const cursor = state.cursors[shard] as ShardCursor;
      for (const { seq, connectionId } of entries) {
        if (cursor.ahead.has(seq)) continue;
        changed.add(connectionId);
        cursor.ahead.add(seq);
      }
      while (cursor.ahead.delete(cursor.applied + 1)) cursor.applied++;
      if (cursor.ahead.size === 0) {
        delete cursor.gapSince;
      } else {
        cursor.gapSince ??= now;
        if (now - cursor.gapSince >= this.gapTimeoutMs) gapTimedOut = true;
      }
    });
    if (gapTimedOut) return false;
    if (changed.size > 0) {
      const found = await this.repository.find([...changed]);
      for (const connectionId of changed) {
        const connection = found.get(connectionId);
        if (connection) state.connections.set(connectionId, connection);
        else state.connections.delete(connectionId);
      }
      state.list = undefined;
      this.stats.refreshed += changed.size;
    }
    state.syncedAt = now;
    return true;
  }

  private async rescan(): Promise<State> {
    this.stats.scans++;
    const startedAt = this.now();
    // Counters first: every change they count was written before them, so the scan holds it.
    const heads = await this.log.heads();
    const connections = new Map<string, Connection>();
    for await (const page of this.repository.pages()) {
      for (const connection of page) connections.set(connection.connectionId, connection);
    }
    this.state = {
      connections,
      list: undefined,
      cursors: heads.map((applied) => ({ applied, ahead: new Set<number>() })),
      scannedAt: startedAt,
      syncedAt: startedAt,
    };
    return this.state;
  }
}
