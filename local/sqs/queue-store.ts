/**
 * A small offline SQS: one folder per queue under `.local-cloud/sqs/`, one JSON file per message,
 * in the order sent. The IoT rules' SQS action writes here; a fuller SQS emulator (the SQS API,
 * visibility timeouts, event source mappings) can take these folders over as they are.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';

export interface QueuedMessage {
  messageId: string;
  body: string;
  sentAt: string;
}

/** SQS message size limit (Amazon SQS message quotas): 256 KiB. */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;

/** SQS queue names: 1-80 of [A-Za-z0-9_-], and a FIFO queue ends in .fifo. */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,75}(\.fifo|[A-Za-z0-9_-]{0,5})$/;

export class OfflineSqsQueues {
  private sequence = 0;

  constructor(private readonly directory: string) {}

  /** Appends a message, as SendMessage does; the file appears whole or not at all. */
  async send(queueName: string, body: string): Promise<QueuedMessage> {
    if (!QUEUE_NAME.test(queueName)) throw new Error(`invalid SQS queue name "${queueName}"`);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > SQS_MAX_MESSAGE_BYTES) {
      throw new Error(
        `message of ${bytes} bytes exceeds SQS's ${SQS_MAX_MESSAGE_BYTES}-byte limit`,
      );
    }
    const message: QueuedMessage = {
      messageId: randomUUID(),
      body,
      sentAt: new Date().toISOString(),
    };
    const folder = path.join(this.directory, queueName);
    await mkdir(folder, { recursive: true });
    // Sortable names keep the sending order: time, then a per-process sequence.
    const name = `${Date.now().toString().padStart(15, '0')}-${String(this.sequence++).padStart(9, '0')}-${message.messageId}.json`;
    const file = path.join(folder, name);
    await writeFile(`${file}.tmp`, JSON.stringify(message), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    return message;
  }

  /** Every message in the queue, oldest first (they stay queued). */
  async list(queueName: string): Promise<QueuedMessage[]> {
    const folder = path.join(this.directory, queueName);
    let names: string[];
    try {
      names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();
    } catch {
      return [];
    }
    return Promise.all(
      names.map(
        async (name) =>
          JSON.parse(await readFile(path.join(folder, name), 'utf8')) as QueuedMessage,
      ),
    );
  }
}

export const sqsDirectory = (stateDir: string) => path.join(stateDir, 'sqs');
