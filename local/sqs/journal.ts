/**
 * The offline SQS queues' persistence: one append-only journal per queue
 * (`.local-cloud/sqs/<queue>.ndjson`), a JSON line per change, replayed at start.
 *
 * Why a journal and not a file per message (as the first queue store had): the delivery bench
 * pushes 1 000 messages/s through a queue on 2 cores, and every message is written, received and
 * deleted; three small appends grouped into one write per event-loop turn cost a fraction of
 * three file creations, renames and unlinks. A send resolves once its line is written (the queue
 * then holds it across a crash of the stack); receives and deletes are written behind, with the
 * next group. At start (and whenever dead lines outnumber live messages by far) the journal is
 * rewritten as a snapshot of the live messages.
 *
 * What a restart does not keep: the visibility of messages in flight (they are receivable again
 * at once, as if their timeout had run out) and their receipt handles.
 */
import { mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { copyMessage, type StoredMessage } from './queue';

type JournalRecord = { s: StoredMessage } | { r: string[]; at: number } | { d: string[] };

/** Rewrite once this many lines are on file and they are 4 times the live messages or more. */
const COMPACT_MIN_LINES = 20_000;
const COMPACT_RATIO = 4;

export const journalFile = (directory: string, queueName: string) =>
  path.join(directory, `${queueName}.ndjson`);

/** The live messages a journal holds, oldest first; a torn last line (a crash) is skipped. */
export async function readJournal(file: string): Promise<StoredMessage[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const messages = new Map<string, StoredMessage>();
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      continue;
    }
    if ('s' in record) messages.set(record.s.id, record.s);
    else if ('r' in record) {
      for (const id of record.r) {
        const message = messages.get(id);
        if (!message) continue;
        message.receiveCount++;
        message.firstReceivedAt ??= record.at;
      }
    } else for (const id of record.d) messages.delete(id);
  }
  return [...messages.values()].map((message) => {
    // In flight before the restart: receivable again now (the handles are gone with the process).
    return copyMessage(message, message.receiveCount > 0 ? { visibleAt: 0 } : {});
  });
}

export class Journal {
  private handle: FileHandle | undefined;
  private pending: string[] = [];
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private lines = 0;
  private failed: unknown;

  /** `live` gives the messages to snapshot when the journal is compacted. */
  constructor(
    private readonly file: string,
    private readonly live: () => StoredMessage[],
  ) {}

  /** Writes a snapshot of the live messages (the replayed state) and opens the journal for appends. */
  async open(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await this.snapshot();
  }

  sent(message: StoredMessage): Promise<void> {
    return this.append({ s: message });
  }

  received(ids: string[], at: number): void {
    if (ids.length > 0) void this.append({ r: ids, at }).catch(() => undefined);
  }

  deleted(ids: string[]): void {
    if (ids.length > 0) void this.append({ d: ids }).catch(() => undefined);
  }

  /** Resolves once everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.flushing || this.pending.length > 0) {
      await (this.flushing ?? this.startFlush());
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  private append(record: JournalRecord): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    this.pending.push(`${JSON.stringify(record)}\n`);
    const written = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    // One write for everything appended in this turn of the event loop.
    if (!this.flushing && this.pending.length === 1) setImmediate(() => void this.startFlush());
    return written;
  }

  private startFlush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.pending.length > 0) {
        const text = this.pending.join('');
        const waiters = this.waiters;
        this.lines += this.pending.length;
        this.pending = [];
        this.waiters = [];
        try {
          if (!this.handle) throw new Error(`the SQS journal ${this.file} is not open`);
          await this.handle.appendFile(text, 'utf8');
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          this.failed = error;
          for (const waiter of waiters) waiter.reject(error);
        }
        if (this.lines >= COMPACT_MIN_LINES && this.lines >= COMPACT_RATIO * this.live().length) {
          await this.snapshot().catch((error: unknown) => (this.failed = error));
        }
      }
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Replaces the journal with one line per live message (atomically: write, then rename). */
  private async snapshot(): Promise<void> {
    // The live messages already show every change appended so far: those lines are not needed,
    // and replaying them on top of the snapshot would count their receives twice.
    const messages = this.live();
    const covered = this.waiters;
    this.pending = [];
    this.waiters = [];
    const text = messages.map((message) => `${JSON.stringify({ s: message })}\n`).join('');
    try {
      await writeFile(`${this.file}.tmp`, text, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
      await this.handle?.close();
      this.handle = await open(this.file, 'a', 0o600);
      this.lines = messages.length;
      for (const waiter of covered) waiter.resolve();
    } catch (error) {
      for (const waiter of covered) waiter.reject(error);
      throw error;
    }
  }
}
