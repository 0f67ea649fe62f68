/**
 * The local twin of the topic rule's SQS error action: one JSON file per failed message under
 * `.local-cloud/dead-letters/`, listed and redriven by `npm run dlq`.
 *
 * Like the SQS queue it stands for, the store forgets: a letter older than the queue's
 * MessageRetentionPeriod is deleted (SQS default 4 days, 60 s to 14 days; Amazon SQS Developer
 * Guide, "Amazon SQS message quotas"). An SQS queue's backlog is unlimited ("Amazon SQS standard
 * queue quotas"); a laptop's disk is not, so the store also holds at most `maxRecords` letters and
 * `maxBytes` bytes, dropping the oldest first. Every deletion is counted, logged as a warning and
 * reported by `npm run dlq -- list`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface DeadLetterInput {
  rule: string;
  functionName: string;
  topic: string;
  clientId?: string;
  payloadBase64: string;
  /** What the rule's SQL produced (absent when the SQL could not produce an output). */
  output?: Record<string, unknown>;
  reason: string;
  attempts: number;
}

export interface DeadLetter extends DeadLetterInput {
  id: string;
  failedAt: string;
}

export interface DeadLetterLimits {
  /** SQS MessageRetentionPeriod, in seconds. */
  retentionSeconds: number;
  maxRecords: number;
  maxBytes: number;
}

/** SQS's default MessageRetentionPeriod (4 days) and its valid range (1 minute to 14 days). */
export const SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 60 * 60;
export const SQS_MIN_RETENTION_SECONDS = 60;
export const SQS_MAX_RETENTION_SECONDS = 14 * 24 * 60 * 60;

/**
 * The bound SQS does not have. A letter holds the payload twice (base64, and the rule's output),
 * so one at IoT Core's 128 KB limit takes about 300 KB: 64 MiB keeps ~200 of the largest, or
 * 10 000 ordinary readings (the record bound, which keeps `dlq list` and `redrive` short).
 */
export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = {
  retentionSeconds: SQS_DEFAULT_RETENTION_SECONDS,
  maxRecords: 10_000,
  maxBytes: 64 * 1024 * 1024,
};

export interface DeadLetterStoreOptions {
  /** The running stack's limits; without them, the limits it last recorded here, or the defaults. */
  limits?: Partial<DeadLetterLimits>;
  /** Told whenever letters are deleted by the retention period or the size bound. */
  onWarning?: (message: string) => void;
  /** The clock the retention period is measured with (tests move it forward). */
  now?: () => number;
}

export interface DeadLetterStatus {
  limits: DeadLetterLimits;
  records: number;
  bytes: number;
  /** Letters deleted because they outlived the retention period, since `since`. */
  expired: number;
  /** Letters dropped, oldest first, to stay within maxRecords / maxBytes, since `since`. */
  dropped: number;
  /** When the store first counted (undefined: nothing has been counted yet). */
  since: string | undefined;
}

/** Kept beside the letters, so that `npm run dlq` knows the stack's limits and counts. */
interface StoreState {
  limits: DeadLetterLimits;
  expired: number;
  dropped: number;
  since: string;
}

interface Entry {
  failedAtMs: number;
  bytes: number;
}

const STATE_FILE = '.store-state.json';
/** Letter files are named `<failedAt with - for : and .>-<id>.json`: their names sort by age. */
const LETTER_NAME = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z-[0-9a-f-]+\.json$/;

export class DeadLetterStore {
  private limits: DeadLetterLimits | undefined;
  /** name → age and size; loaded from the folder once, then kept up to date by this process. */
  private index: Map<string, Entry> | undefined;
  /** One change at a time in this process: the bounds are checked against a settled index. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly directory: string,
    private readonly options: DeadLetterStoreOptions = {},
  ) {}

  /** Loads the store, records its limits for `npm run dlq`, deletes what outlived the retention. */
  async open(): Promise<DeadLetterStatus> {
    return this.exclusive(async () => {
      await this.load();
      if (this.options.limits) await this.updateState({});
      await this.expire();
      return this.statusNow();
    });
  }

  /** Deletes the letters that outlived the retention period (the running stack calls it now and then). */
  async expireNow(): Promise<void> {
    await this.exclusive(async () => {
      await this.load();
      await this.expire();
    });
  }

  async add(input: DeadLetterInput): Promise<DeadLetter> {
    return this.exclusive(async () => {
      const index = await this.load();
      const letter: DeadLetter = {
        id: randomUUID(),
        failedAt: new Date(this.now()).toISOString(),
        ...input,
      };
      const text = serialize(letter);
      await mkdir(this.directory, { recursive: true });
      // Written then renamed, so a reader never sees half a file.
      const name = fileName(letter);
      const file = path.join(this.directory, name);
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
      index.set(name, { failedAtMs: Date.parse(letter.failedAt), bytes: Buffer.byteLength(text) });
      await this.expire();
      await this.enforceBounds(name);
      return letter;
    });
  }

  /** Every letter still within the retention period, oldest first. */
  async list(): Promise<DeadLetter[]> {
    return this.exclusive(async () => {
      await this.load();
      await this.expire();
      const names = await this.letterNames();
      const letters = await Promise.all(
        names.map(async (name) => {
          try {
            return JSON.parse(
              await readFile(path.join(this.directory, name), 'utf8'),
            ) as DeadLetter;
          } catch (error) {
            // Redriven by another process between the listing and the read.
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
            throw error;
          }
        }),
      );
      return letters
        .filter((letter): letter is DeadLetter => letter !== undefined)
        .sort((a, b) => a.failedAt.localeCompare(b.failedAt));
    });
  }

  async remove(letter: DeadLetter): Promise<void> {
    await this.exclusive(async () => {
      const name = fileName(letter);
      await rm(path.join(this.directory, name), { force: true });
      this.index?.delete(name);
    });
  }

  async status(): Promise<DeadLetterStatus> {
    return this.exclusive(async () => {
      await this.load();
      await this.expire();
      await this.resync();
      return this.statusNow();
    });
  }

  private async statusNow(): Promise<DeadLetterStatus> {
    const state = await this.readState();
    const index = this.index ?? new Map<string, Entry>();
    return {
      limits: this.limitsNow(),
      records: index.size,
      bytes: totalBytes(index),
      expired: state?.expired ?? 0,
      dropped: state?.dropped ?? 0,
      since: state?.since,
    };
  }

  private async load(): Promise<Map<string, Entry>> {
    if (!this.limits) {
      const recorded = this.options.limits ? undefined : (await this.readState())?.limits;
      this.limits = checkLimits({
        ...DEFAULT_DEAD_LETTER_LIMITS,
        ...recorded,
        ...this.options.limits,
      });
    }
    if (!this.index) {
      this.index = new Map();
      await this.resync();
    }
    return this.index;
  }

  /** Brings the index in line with the folder (another process may have redriven letters). */
  private async resync(): Promise<void> {
    const index = this.index ?? new Map<string, Entry>();
    this.index = index;
    const onDisk = new Set(await this.letterNames());
    for (const name of index.keys()) if (!onDisk.has(name)) index.delete(name);
    for (const name of onDisk) {
      if (index.has(name)) continue;
      try {
        const { size } = await stat(path.join(this.directory, name));
        index.set(name, { failedAtMs: failedAtOf(name), bytes: size });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  /** Deletes the letters older than the retention period, as SQS deletes expired messages. */
  private async expire(): Promise<void> {
    const { retentionSeconds } = this.limitsNow();
    const cutoff = this.now() - retentionSeconds * 1000;
    const expired = [...(this.index ?? [])].filter(([, entry]) => entry.failedAtMs <= cutoff);
    if (expired.length === 0) return;
    const deleted = await this.delete(expired.map(([name]) => name));
    if (deleted === 0) return;
    const state = await this.updateState({ expired: deleted });
    this.warn(
      `Dead-letter store: deleted ${deleted} letter(s) older than the retention period ` +
        `(${formatDuration(retentionSeconds)}, the queue's MessageRetentionPeriod); ` +
        `${state.expired} expired since ${state.since}.`,
    );
  }

  /** Drops the oldest letters (never `keep`, the one just written) until the store is in bounds. */
  private async enforceBounds(keep: string): Promise<void> {
    if (!this.overBounds()) return;
    await this.resync(); // the index may still count letters another process removed
    const index = this.index ?? new Map<string, Entry>();
    const { maxRecords, maxBytes } = this.limitsNow();
    let bytes = totalBytes(index);
    let dropped = 0;
    let oldest: string | undefined;
    for (const victim of [...index.keys()].filter((name) => name !== keep).sort()) {
      if (index.size <= maxRecords && bytes <= maxBytes) break;
      bytes -= index.get(victim)?.bytes ?? 0;
      oldest ??= victim;
      dropped += await this.delete([victim]);
    }
    if (dropped === 0 || !oldest) return;
    const state = await this.updateState({ dropped });
    this.warn(
      `Dead-letter store full (at most ${maxRecords} letters, ${formatBytes(maxBytes)}): ` +
        `dropped the ${dropped} oldest (from ${new Date(failedAtOf(oldest)).toISOString()}); ` +
        `${state.dropped} dropped since ${state.since}. Redrive or inspect them: npm run dlq -- list`,
    );
  }

  private overBounds(): boolean {
    const { maxRecords, maxBytes } = this.limitsNow();
    const index = this.index ?? new Map<string, Entry>();
    return index.size > maxRecords || (totalBytes(index) > maxBytes && index.size > 1);
  }

  /** Removes letters; counts only those this call removed (not those already gone). */
  private async delete(names: string[]): Promise<number> {
    let deleted = 0;
    for (const name of names) {
      this.index?.delete(name);
      try {
        await rm(path.join(this.directory, name));
        deleted++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return deleted;
  }

  private async letterNames(): Promise<string[]> {
    try {
      return (await readdir(this.directory)).filter((name) => LETTER_NAME.test(name)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  private async readState(): Promise<StoreState | undefined> {
    try {
      return JSON.parse(
        await readFile(path.join(this.directory, STATE_FILE), 'utf8'),
      ) as StoreState;
    } catch (error) {
      // Absent (nothing recorded yet) or unreadable: the counts start again.
      if (error instanceof SyntaxError || (error as NodeJS.ErrnoException).code === 'ENOENT')
        return undefined;
      throw error;
    }
  }

  /** Adds to the counts on disk (re-read first: `npm run dlq` may have counted some too). */
  private async updateState(delta: { expired?: number; dropped?: number }): Promise<StoreState> {
    const current = await this.readState();
    const state: StoreState = {
      limits: this.limitsNow(),
      expired: (current?.expired ?? 0) + (delta.expired ?? 0),
      dropped: (current?.dropped ?? 0) + (delta.dropped ?? 0),
      since: current?.since ?? new Date(this.now()).toISOString(),
    };
    await mkdir(this.directory, { recursive: true });
    const file = path.join(this.directory, STATE_FILE);
    await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
    await rename(`${file}.tmp`, file);
    return state;
  }

  private limitsNow(): DeadLetterLimits {
    return this.limits ?? DEFAULT_DEAD_LETTER_LIMITS;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private warn(message: string): void {
    (this.options.onWarning ?? ((line: string) => console.warn(line)))(message);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/**
 * The retention period of the queue the topic rule's error action writes to, from serverless.yml's
 * resources: the SQS queue named like a dead-letter queue (or the only queue), else SQS's default.
 */
export function deadLetterLimitsFromResources(
  resources: Record<string, { Type?: string; Properties?: Record<string, unknown> }>,
): Partial<DeadLetterLimits> {
  const queues = Object.entries(resources).filter(([, r]) => r?.Type === 'AWS::SQS::Queue');
  const [, queue] =
    queues.find(([logicalId]) => /dead.?letter|dlq/i.test(logicalId)) ??
    (queues.length === 1 ? queues[0]! : [undefined, undefined]);
  const period = queue?.Properties?.MessageRetentionPeriod;
  if (period === undefined) return { retentionSeconds: SQS_DEFAULT_RETENTION_SECONDS };
  return { retentionSeconds: checkRetention(Number(period)) };
}

function checkLimits(limits: DeadLetterLimits): DeadLetterLimits {
  checkRetention(limits.retentionSeconds);
  for (const key of ['maxRecords', 'maxBytes'] as const) {
    if (!Number.isInteger(limits[key]) || limits[key] < 1) {
      throw new Error(`dead-letter store: ${key} must be a positive integer, got ${limits[key]}`);
    }
  }
  return limits;
}

function checkRetention(seconds: number): number {
  if (
    !Number.isInteger(seconds) ||
    seconds < SQS_MIN_RETENTION_SECONDS ||
    seconds > SQS_MAX_RETENTION_SECONDS
  ) {
    throw new Error(
      `MessageRetentionPeriod must be an integer from ${SQS_MIN_RETENTION_SECONDS} to ` +
        `${SQS_MAX_RETENTION_SECONDS} seconds, as SQS requires; got ${seconds}`,
    );
  }
  return seconds;
}

/** The letter as JSON; a rule output too deep to serialize is left out and the reason says so. */
function serialize(letter: DeadLetter): string {
  try {
    return JSON.stringify(letter);
  } catch (error) {
    return JSON.stringify({
      ...letter,
      output: undefined,
      reason: `${letter.reason} (the rule output could not be stored: ${(error as Error).message})`,
    });
  }
}

function totalBytes(index: Map<string, Entry>): number {
  let bytes = 0;
  for (const entry of index.values()) bytes += entry.bytes;
  return bytes;
}

const fileName = (letter: Pick<DeadLetter, 'id' | 'failedAt'>) =>
  `${letter.failedAt.replace(/[:.]/g, '-')}-${letter.id}.json`;

function failedAtOf(name: string): number {
  const [, day, hours, minutes, seconds, millis] = LETTER_NAME.exec(name) ?? [];
  return Date.parse(`${day}T${hours}:${minutes}:${seconds}.${millis}Z`);
}

export function formatDuration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day(s)`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} hour(s)`;
  if (seconds % 60 === 0) return `${seconds / 60} minute(s)`;
  return `${seconds} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${bytes} B`;
}
