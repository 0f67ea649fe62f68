/**
 * The order in which jest hands the test files to its workers (jest.config.js runs two): the
 * longest first, so that the last files to start are short ones and the workers finish close
 * together. Jest's default orders by the durations in its cache, and on a fresh clone (no cache)
 * by file size, which starts the long stack tests late.
 *
 * SECONDS: each file's wall time in a full run with two workers (2026-12-02, 2 cores shared with
 * other work, so all of them are long; their order is what counts), for the files over 30 s. The
 * others follow, largest file first.
 */
import { statSync } from 'node:fs';
import path from 'node:path';

const SECONDS = {
  'tests/integration/packaging.test.ts': 326,
  'tests/bench/bench-smoke.test.ts': 203,
  'tests/bad-input/corpus.test.ts': 163,
  'tests/integration/start.test.ts': 146,
  'tests/handlers/forward-telemetry.test.ts': 135,
  'tests/browser/dashboard.test.ts': 114,
  'tests/integration/offline-sqs-restart.test.ts': 113,
  'tests/integration/simulator.test.ts': 110,
  'tests/bad-input/websocket-api.test.ts': 107,
  'tests/integration/device-cli.test.ts': 105,
  'tests/bad-input/websocket-auth.test.ts': 87,
  'tests/unit/dataset-generator.test.ts': 83,
  'tests/integration/iot-offline.test.ts': 83,
  'tests/browser/dashboard-address.test.ts': 83,
  'tests/faults/dead-letter-redrive.test.ts': 75,
  'tests/unit/dataset-cli.test.ts': 62,
  'tests/integration/readme-walkthrough.test.ts': 60,
  'tests/integration/any-payload.test.ts': 57,
  'tests/integration/batched-delivery.test.ts': 55,
  'tests/integration/iot-protocols.test.ts': 52,
  'tests/integration/certificate-registry.test.ts': 46,
  'tests/faults/connect-race.test.ts': 41,
  'tests/integration/identity-ca-race.test.ts': 39,
  'tests/unit/device-aws.test.ts': 38,
  'tests/integration/metrics-offline.test.ts': 37,
  'tests/integration/offline-sqs-dlq.test.ts': 33,
};

export default class LongestFirst {
  sort(tests) {
    const weight = (test) => {
      const file = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
      // Listed files before the others (no file is a million bytes).
      return file in SECONDS ? 1e9 * SECONDS[file] : statSync(test.path).size;
    };
    const weights = new Map(tests.map((test) => [test, weight(test)]));
    return [...tests].sort((a, b) => weights.get(b) - weights.get(a));
  }

  /** Jest hands each run's results over; the order above needs none of them. */
  cacheResults() {}
}
