/**
 * Eventually consistent reads for the offline DynamoDB. DynamoDB answers a read without
 * `ConsistentRead` from any of an item's copies, one of which may not have the latest write yet
 * ("Read consistency", DynamoDB Developer Guide); dynalite is always consistent, so code that
 * needs a consistent read and forgets to ask for it passes every offline test.
 *
 * This front holds two dynalites: the primary takes every write and every consistent read; the
 * replica receives each successful write `lagMs` after the primary did, in the same order, and
 * answers the eventually consistent GetItem, BatchGetItem, Query and Scan. So such a read sees
 * the table as it was up to `lagMs` ago (always exactly that late: the worst case, every time).
 * Replaying the same requests in the same order gives the same outcome, conditions included.
 */
import http from 'node:http';

export interface LaggingReplica {
  server: http.Server;
  /** Resolves when every write has reached the replica. */
  drain(): Promise<void>;
}

const WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
const TABLE_CHANGES = new Set(['CreateTable', 'DeleteTable', 'UpdateTable', 'UpdateTimeToLive']);

interface ReadRequest {
  ConsistentRead?: boolean;
  RequestItems?: Record<string, { ConsistentRead?: boolean }>;
}

/** Whether DynamoDB may answer this request from a copy that is behind. */
export function isEventuallyConsistentRead(operation: string, body: ReadRequest): boolean {
  if (operation === 'GetItem' || operation === 'Query' || operation === 'Scan') {
    return body.ConsistentRead !== true;
  }
  if (operation === 'BatchGetItem') {
    return Object.values(body.RequestItems ?? {}).every((table) => table.ConsistentRead !== true);
  }
  return false;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export async function startLaggingReplica(options: {
  primaryEndpoint: string;
  replicaEndpoint: string;
  lagMs: number;
}): Promise<LaggingReplica> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let replication: Promise<void> = Promise.resolve();

  const forward = (endpoint: string, request: http.IncomingMessage, body: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const target = new URL(endpoint);
      const outgoing = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: request.url,
          method: request.method,
          headers: request.headers,
          agent,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () =>
            resolve({
              status: answer.statusCode ?? 502,
              headers: answer.headers,
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      outgoing.once('error', reject);
      outgoing.end(body);
    });

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const receivedAt = Date.now();
      const body = Buffer.concat(chunks);
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.indexOf('.') + 1);
      let parsed: ReadRequest = {};
      try {
        parsed = JSON.parse(body.toString('utf8') || '{}') as ReadRequest;
      } catch {
        // dynalite answers the malformed body itself (on the primary).
      }
      const eventual = isEventuallyConsistentRead(operation, parsed);
      const answer = (async () => {
        const primaryAnswer = eventual
          ? await forward(options.replicaEndpoint, request, body)
          : await forward(options.primaryEndpoint, request, body);
        if (TABLE_CHANGES.has(operation) && primaryAnswer.status < 300) {
          await forward(options.replicaEndpoint, request, body);
        } else if (WRITES.has(operation) && primaryAnswer.status < 300) {
          // In order, each no earlier than lagMs after the primary took it.
          replication = replication.then(async () => {
            const wait = receivedAt + options.lagMs - Date.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            await forward(options.replicaEndpoint, request, body).catch(() => undefined);
          });
        }
        return primaryAnswer;
      })();
      answer.then(
        ({ status, headers, body: answerBody }) =>
          response.writeHead(status, headers).end(answerBody),
        () => response.writeHead(502).end(),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  return {
    server,
    drain: async () => {
      await replication;
      agent.destroy();
    },
  };
}
