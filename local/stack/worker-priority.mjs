// Preloaded into the offline cloud's process (`node --import`, local/stack.ts), and so into every
// Lambda worker thread serverless-offline starts. On AWS each invocation has CPU of its own;
// offline, every function shares the machine's cores. A function whose environment names a
// lower CPU priority (OFFLINE_CPU_NICE, set by the offline cloud for the routes that answer a
// client's own frames) runs its worker thread at that nice value, so that one client flooding
// the API cannot take the cores from everyone's telemetry. The main thread is left alone.
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

const nice = Number(process.env.OFFLINE_CPU_NICE);
if (!isMainThread && Number.isInteger(nice) && nice > 0 && nice <= 19) {
  try {
    // Linux: /proc/thread-self is this thread's task; setpriority on its id renices it alone.
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (threadId > 0) os.setPriority(threadId, nice);
  } catch {
    // Not Linux, or not allowed: the worker runs at the process's priority, as before.
  }
}
