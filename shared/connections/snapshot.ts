/**
 * The connections as the warm Lambda instance last read them. Each fan-out costs one item read
 * (the repository's change counter) instead of a full scan; the table is rescanned only when the
 * counter moved, or when the copy is older than `maxAgeMs` (a safety net for TTL expiries, which
 * change the table without our code).
 */
import type { Connection, ConnectionRepository } from './repository';

export interface ConnectionSource {
  pages(): AsyncIterable<Connection[]>;
}

export class ConnectionSnapshot implements ConnectionSource {
  private cached: { version: number; readAt: number; connections: Connection[] } | undefined;

  constructor(
    private readonly repository: ConnectionRepository,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async *pages(): AsyncIterable<Connection[]> {
    yield await this.current();
  }

  async current(): Promise<Connection[]> {
    const version = await this.repository.version();
    const cached = this.cached;
    if (cached && cached.version === version && this.now() - cached.readAt < this.maxAgeMs) {
      return cached.connections;
    }
    const readAt = this.now();
    const connections: Connection[] = [];
    for await (const page of this.repository.pages()) connections.push(...page);
    this.cached = { version, readAt, connections };
    return connections;
  }
}
