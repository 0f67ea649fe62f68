// Preloaded into the offline cloud's process (`node --require`, local/stack.ts), and so into every
// Lambda worker thread serverless-offline starts. On AWS each invocation has CPU of its own;
// offline, every function shares the machine's cores. A function whose environment names a
// lower CPU priority (OFFLINE_CPU_NICE, set by the offline cloud for the routes that answer a
// client's own frames) runs its worker thread at that nice value, so that one client flooding
// the API cannot take the cores from everyone's telemetry. The main thread is left alone.
// CommonJS on purpose: Node runs `--require` preloads before it sets up the ES module loader, so
// a new worker spends ~10 ms less at the full priority than with `--import` (measured: 23 vs 33 ms
// of CPU before this line ran, from /proc/thread-self/schedstat).
'use strict';
const { readlinkSync } = require('node:fs');
const os = require('node:os');
const { isMainThread } = require('node:worker_threads');

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
