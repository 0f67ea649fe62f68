/** A WebSocket test client that keeps every frame and can wait for the ones a test expects. */
import WebSocket from 'ws';
import { WEBSOCKET_FRAME_MAX_BYTES } from '../../shared/limits';

export interface TestClient {
  socket: WebSocket;
  frames: Record<string, unknown>[];
  send(frame: unknown): void;
  waitFor(
    predicate: (frame: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Sends a text message as API Gateway requires: in frames of at most 32 KB ("Quotas for
 * configuring and running a WebSocket in API Gateway"; a larger frame closes the connection).
 */
export function sendInFrames(socket: WebSocket, message: string): void {
  const bytes = Buffer.from(message);
  if (bytes.length <= WEBSOCKET_FRAME_MAX_BYTES) {
    socket.send(message);
    return;
  }
  for (let start = 0; start < bytes.length; start += WEBSOCKET_FRAME_MAX_BYTES) {
    const end = Math.min(start + WEBSOCKET_FRAME_MAX_BYTES, bytes.length);
    socket.send(bytes.subarray(start, end), { binary: false, fin: end === bytes.length });
  }
}

export function connectClient(url: string): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const frames: Record<string, unknown>[] = [];
    const waiters = new Set<() => void>();
    socket.on('message', (data) => {
      frames.push(JSON.parse(data.toString()));
      for (const check of waiters) check();
    });
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`handshake refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        socket,
        frames,
        send: (frame) =>
          sendInFrames(socket, typeof frame === 'string' ? frame : JSON.stringify(frame)),
        waitFor: (predicate, timeoutMs = 15_000) =>
          new Promise((done, fail) => {
            const check = () => {
              const found = frames.find(predicate);
              if (!found) return;
              waiters.delete(check);
              clearTimeout(timer);
              done(found);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`,
                ),
              );
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
        close: () =>
          new Promise((done) => {
            if (socket.readyState === WebSocket.CLOSED) return done();
            socket.once('close', () => done());
            socket.close();
          }),
      }),
    );
  });
}
