/**
 * A stand-in for serverless-offline's Lambda invoke API whose answers the test releases: while
 * held, invocations stay in flight, so the rules engine's backlog grows exactly as far as the test
 * wants. A real HTTP server on 127.0.0.1, spoken to by the real OfflineLambdaInvoker.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldLambda {
  endpoint: string;
  /** Every invocation's payload, in arrival order. */
  received: Record<string, unknown>[];
  /** Payloads of the invocations answered with success (the function ran). */
  delivered: Record<string, unknown>[];
  /** Invocations waiting for an answer. */
  held(): number;
  /** Answers the `count` oldest held invocations with success. */
  release(count: number): void;
  /** Answers everything held, and from now on every invocation at once. */
  open(): void;
  close(): Promise<void>;
}

interface Pending {
  payload: Record<string, unknown>;
  response: http.ServerResponse;
}

export async function startHeldLambda(): Promise<HeldLambda> {
  const received: Record<string, unknown>[] = [];
  const delivered: Record<string, unknown>[] = [];
  let pending: Pending[] = [];
  let opened = false;

  const answer = ({ payload, response }: Pending) => {
    // An invocation the engine aborted (its socket is gone) was not delivered.
    if (response.destroyed || response.socket?.destroyed) return;
    response.once('finish', () => delivered.push(payload));
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"delivered":1}');
  };

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const payload = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      received.push(payload);
      const invocation = { payload, response };
      if (opened) answer(invocation);
      else pending.push(invocation);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    delivered,
    held: () => pending.filter(({ response }) => !response.socket?.destroyed).length,
    release(count) {
      pending.splice(0, count).forEach(answer);
    },
    open() {
      opened = true;
      const all = pending;
      pending = [];
      all.forEach(answer);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Resolves once `condition` holds; polls, so the test waits on a state, never on a duration. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
