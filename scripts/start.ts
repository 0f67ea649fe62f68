/**
 * `npm start`: the whole edge-to-cloud system offline — `sls offline start` with the offline
 * cloud plugin (DynamoDB, and the IoT Core endpoints). Arguments after `--` go to serverless.
 * Ctrl-C stops everything; the exit code is serverless's.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const serverlessBin = path.join(root, 'node_modules/serverless/bin/serverless.js');

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(`Usage: npm start [-- <options>]

Runs the whole system offline from serverless.yml.

Options:
  --stage NAME        stage to run (default: dev)
  -h, --help          show this help

Ports (environment): WEBSOCKET_PORT (3001), LAMBDA_PORT (3002), DYNAMODB_PORT (8000)`);
  process.exit(0);
}

const offline = spawn(process.execPath, [serverlessBin, 'offline', 'start', ...args], {
  cwd: root,
  stdio: 'inherit',
});

// Ctrl-C reaches the whole foreground process group; forward other stop signals explicitly.
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => offline.kill('SIGINT'));
}
process.on('SIGINT', () => undefined);

offline.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 130 : 1));
});
