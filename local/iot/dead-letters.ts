/**
 * The local twin of the topic rule's SQS error action: one JSON file per failed message under
 * `.local-cloud/dead-letters/`, listed and redriven by `npm run dlq`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

export class DeadLetterStore {
  constructor(readonly directory: string) {}

  async add(input: DeadLetterInput): Promise<DeadLetter> {
    const letter: DeadLetter = { id: randomUUID(), failedAt: new Date().toISOString(), ...input };
    await mkdir(this.directory, { recursive: true });
    // Written then renamed, so a reader never sees half a file.
    const file = this.file(letter);
    await writeFile(`${file}.tmp`, JSON.stringify(letter, null, 2));
    await rename(`${file}.tmp`, file);
    return letter;
  }

  async list(): Promise<DeadLetter[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const letters = await Promise.all(
      names
        .filter((name) => name.endsWith('.json'))
        .map(
          async (name) =>
            JSON.parse(await readFile(path.join(this.directory, name), 'utf8')) as DeadLetter,
        ),
    );
    return letters.sort((a, b) => a.failedAt.localeCompare(b.failedAt));
  }

  async remove(letter: DeadLetter): Promise<void> {
    await rm(this.file(letter), { force: true });
  }

  private file(letter: Pick<DeadLetter, 'id' | 'failedAt'>): string {
    return path.join(this.directory, `${letter.failedAt.replace(/[:.]/g, '-')}-${letter.id}.json`);
  }
}
