/** A WebSocket test client that keeps every frame and can wait for the ones a test expects. */
import WebSocket from 'ws';

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
        send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
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
