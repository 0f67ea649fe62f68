/**
 * The ids of the most recent frames, to drop a duplicate delivered by a retry. Bounded: the oldest
 * id is forgotten when a new one would exceed the capacity.
 */
export class RecentIds {
  private readonly order: (string | undefined)[];
  private readonly ids = new Set<string>();
  private next = 0;

  constructor(readonly capacity: number) {
    this.order = new Array<string | undefined>(capacity);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Remembers `id`; false when it was already remembered (a duplicate). */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    const evicted = this.order[this.next];
    if (evicted !== undefined) this.ids.delete(evicted);
    this.order[this.next] = id;
    this.ids.add(id);
    this.next = (this.next + 1) % this.capacity;
    return true;
  }
}
