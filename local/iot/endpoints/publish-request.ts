/**
 * `POST /topics/{topic}?qos=0|1[&retain=true]`: the publish request of IoT Core's HTTPS device
 * endpoint and of its data-plane API, parsed and checked as IoT Core does, with its statuses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_PAYLOAD_BYTES, publishProblem } from '../limits';

export interface PublishRequest {
  topic: string;
  qos: 0 | 1;
  retain: boolean;
  payload: Buffer;
}

export class PublishRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `body`: the payload when the caller has read it already (the data plane, to verify SigV4). */
export async function readPublishRequest(
  request: IncomingMessage,
  body?: Buffer,
): Promise<PublishRequest> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const match = /^\/topics\/(.+)$/.exec(url.pathname);
  if (!match) throw new PublishRequestError(404, `No such resource: ${url.pathname}`);
  if (request.method !== 'POST')
    throw new PublishRequestError(405, `Method ${request.method} not allowed`);

  let topic: string;
  try {
    topic = decodeURIComponent(match[1] as string);
  } catch {
    throw new PublishRequestError(400, 'The topic is not valid percent-encoded UTF-8');
  }
  const qosParam = url.searchParams.get('qos') ?? '0';
  if (qosParam !== '0' && qosParam !== '1') {
    throw new PublishRequestError(400, `Invalid qos "${qosParam}": must be 0 or 1`);
  }
  const retainParam = url.searchParams.get('retain') ?? 'false';
  if (retainParam !== 'true' && retainParam !== 'false') {
    throw new PublishRequestError(400, `Invalid retain "${retainParam}": must be true or false`);
  }
  const topicProblem = publishProblem(topic, 0);
  if (topicProblem) throw new PublishRequestError(400, topicProblem);

  const payload = body ?? (await readPublishBody(request));
  return { topic, qos: qosParam === '1' ? 1 : 0, retain: retainParam === 'true', payload };
}

/** The request's body, refused with 413 past IoT Core's limit (declared or as it streams). */
export async function readPublishBody(request: IncomingMessage): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_PAYLOAD_BYTES) throw tooLarge(declared);
  return readBody(request);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        reject(tooLarge(size));
        request.pause();
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

const tooLarge = (size: number) =>
  new PublishRequestError(
    413,
    `Payload of at least ${size} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`,
  );

/** IoT Core's answer shape: `{"message": …, "traceId": …}`. */
export function answer(response: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message, traceId: randomUUID() });
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // A request whose body was not read to the end cannot keep its connection.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  response.end(body);
}
