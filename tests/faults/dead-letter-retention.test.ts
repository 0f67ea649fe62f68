/**
 * The dead-letter store forgets as the SQS queue it stands for does (issue 11, item 7).
 *
 * Amazon SQS Developer Guide, "Amazon SQS message quotas"
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html):
 * "Message retention: By default, a message is retained for 4 days. The minimum is 60 seconds (1
 * minute). The maximum is 1,209,600 seconds (14 days)." — so a letter older than the queue's
 * MessageRetentionPeriod is deleted. "Amazon SQS standard queue quotas" (quotas-queues.html): a
 * queue's backlog is unlimited; the offline store has a bound instead (records and bytes), and
 * drops the oldest first. Every deletion is logged as a warning and counted in `npm run dlq -- list`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deadLetterDirectory } from '../../local/iot/core';
import {
  DeadLetterStore,
  deadLetterLimitsFromResources,
  SQS_DEFAULT_RETENTION_SECONDS,
  type DeadLetterInput,
} from '../../local/iot/dead-letters';
import { REPO_ROOT } from '../support/offline-stack';

const run = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dead-letter-retention-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const letter = (seq: number, payloadBytes = 10): DeadLetterInput => ({
  rule: 'ForwardTelemetryIotTopicRule1',
  functionName: 'telemetry-dev-forwardTelemetry',
  topic: 'devices/sensor-1/telemetry',
  payloadBase64: Buffer.alloc(payloadBytes, 'x').toString('base64'),
  output: { seq },
  reason: 'boom',
  attempts: 3,
});

/** A clock the test moves: no waiting for a retention period to pass. */
function testClock(start = Date.parse('2026-01-01T00:00:00.000Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('retention period (SQS MessageRetentionPeriod)', () => {
  it('deletes letters older than the retention period, with a warning, and counts them', async () => {
    const clock = testClock();
    const warnings: string[] = [];
    const store = new DeadLetterStore(path.join(dir, 'expiry'), {
      limits: { retentionSeconds: 60 }, // SQS's minimum
      now: clock.now,
      onWarning: (line) => warnings.push(line),
    });
    await store.add(letter(1));
    clock.advance(30_000);
    await store.add(letter(2));
    expect(warnings).toEqual([]);

    clock.advance(30_000); // letter 1 is now exactly 60 s old: past its retention
    expect((await store.list()).map((l) => l.output?.seq)).toEqual([2]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /deleted 1 letter\(s\) older than the retention period \(1 minute\(s\).*1 expired since/,
      ),
    ]);
    expect(await store.status()).toMatchObject({ records: 1, expired: 1, dropped: 0 });

    clock.advance(60_000);
    await store.add(letter(3)); // adding also expires what is due
    expect((await store.list()).map((l) => l.output?.seq)).toEqual([3]);
    expect(await store.status()).toMatchObject({ records: 1, expired: 2 });
  });

  it('the running stack expires letters even when nobody lists them (expireNow, each minute)', async () => {
    const clock = testClock();
    const warnings: string[] = [];
    const folder = path.join(dir, 'timer');
    const store = new DeadLetterStore(folder, {
      limits: { retentionSeconds: 120 },
      now: clock.now,
      onWarning: (line) => warnings.push(line),
    });
    await store.add(letter(1));
    clock.advance(120_000);
    await store.expireNow();
    expect((await readdir(folder)).filter((name) => !name.startsWith('.'))).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/deleted 1 letter\(s\).*2 minute\(s\)/)]);
  });

  it('expires letters left from an earlier run when the store opens', async () => {
    const clock = testClock();
    const folder = path.join(dir, 'restart');
    await new DeadLetterStore(folder, { now: clock.now }).add(letter(1));
    clock.advance(SQS_DEFAULT_RETENTION_SECONDS * 1000 + 1);
    const warnings: string[] = [];
    const reopened = new DeadLetterStore(folder, {
      limits: {},
      now: clock.now,
      onWarning: (line) => warnings.push(line),
    });
    expect(await reopened.open()).toMatchObject({ records: 0, expired: 1 });
    expect(warnings).toEqual([expect.stringMatching(/4 day\(s\)/)]);
  });

  it("takes the retention from the error queue's MessageRetentionPeriod in resources/telemetry-rule.yml", () => {
    const yaml = readFileSync(path.join(REPO_ROOT, 'resources/telemetry-rule.yml'), 'utf8');
    expect(yaml).toMatch(/^ {2}TelemetryDeadLetterQueue:\n {4}Type: AWS::SQS::Queue$/m);
    const period = Number(/^ {6}MessageRetentionPeriod: (\d+)$/m.exec(yaml)?.[1]);
    const resources = {
      TelemetryDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: { MessageRetentionPeriod: period },
      },
      ConnectionsTable: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    };
    expect(deadLetterLimitsFromResources(resources)).toEqual({ retentionSeconds: 1_209_600 });
    // No period set: SQS's default of 4 days.
    expect(
      deadLetterLimitsFromResources({ Dlq: { Type: 'AWS::SQS::Queue', Properties: {} } }),
    ).toEqual({ retentionSeconds: 345_600 });
    // Outside what SQS accepts: refused, as CreateQueue refuses it.
    expect(() =>
      deadLetterLimitsFromResources({
        Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 59 } },
      }),
    ).toThrow(/from 60 to 1209600 seconds/);
  });
});

describe('size bound (offline only: an SQS backlog is unlimited)', () => {
  it('beyond maxRecords drops the oldest first, with a warning, and counts them', async () => {
    const clock = testClock();
    const warnings: string[] = [];
    const folder = path.join(dir, 'records');
    const store = new DeadLetterStore(folder, {
      limits: { maxRecords: 3 },
      now: clock.now,
      onWarning: (line) => warnings.push(line),
    });
    for (let seq = 1; seq <= 5; seq++) {
      await store.add(letter(seq));
      clock.advance(1_000);
    }
    expect((await store.list()).map((l) => l.output?.seq)).toEqual([3, 4, 5]);
    expect(warnings).toEqual([
      expect.stringMatching(
        /full \(at most 3 letters.*dropped the 1 oldest \(from 2026-01-01T00:00:00.000Z\); 1 dropped since/,
      ),
      expect.stringMatching(/dropped the 1 oldest \(from 2026-01-01T00:00:01.000Z\); 2 dropped/),
    ]);
    expect(await store.status()).toMatchObject({ records: 3, dropped: 2, expired: 0 });
    expect((await readdir(folder)).filter((name) => name.endsWith('.json'))).toHaveLength(4); // + state
  });

  it('beyond maxBytes drops the oldest first, never the letter just written', async () => {
    const clock = testClock();
    const warnings: string[] = [];
    const store = new DeadLetterStore(path.join(dir, 'bytes'), {
      limits: { maxBytes: 4_000 },
      now: clock.now,
      onWarning: (line) => warnings.push(line),
    });
    for (let seq = 1; seq <= 3; seq++) {
      await store.add(letter(seq, 1_000)); // ~1.7 KB each as stored
      clock.advance(1_000);
    }
    const status = await store.status();
    expect(status.bytes).toBeLessThanOrEqual(4_000);
    expect((await store.list()).map((l) => l.output?.seq)).toEqual([2, 3]);
    expect(status.dropped).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/full \(at most 10000 letters, 3.9 KiB\)/)]);

    await store.add(letter(4, 10_000)); // alone larger than the bound: kept, the others dropped
    expect((await store.list()).map((l) => l.output?.seq)).toEqual([4]);
  });

  it('does not count as dropped a letter another process redrove meanwhile', async () => {
    const folder = path.join(dir, 'shared');
    const stack = new DeadLetterStore(folder, { limits: { maxRecords: 2 }, onWarning: () => {} });
    const first = await stack.add(letter(1));
    await stack.add(letter(2));
    await new DeadLetterStore(folder).remove(first); // `npm run dlq -- redrive` in another process
    await stack.add(letter(3));
    expect(await stack.status()).toMatchObject({ records: 2, dropped: 0 });
  });
});

it('npm run dlq -- list says the retention, the bounds, and how many expired or were dropped', async () => {
  const localCloudDir = path.join(dir, 'cli');
  const clock = testClock(Date.now() - 60_000);
  const store = new DeadLetterStore(deadLetterDirectory(localCloudDir), {
    limits: { retentionSeconds: 1_209_600, maxRecords: 2 },
    now: clock.now,
    onWarning: () => {},
  });
  await store.open();
  for (let seq = 1; seq <= 3; seq++) {
    await store.add(letter(seq));
    clock.advance(1_000);
  }
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/dlq.ts'), 'list'],
    { cwd: REPO_ROOT, env: { ...process.env, LOCAL_CLOUD_DIR: localCloudDir } },
  );
  expect(stdout).toContain(
    'Retention 14 day(s) (MessageRetentionPeriod 1209600 s); at most 2 letters or 64 MiB, the oldest dropped first.',
  );
  expect(stdout).toMatch(
    /: 0 expired \(older than the retention period\), 1 dropped \(store full\)/,
  );
  expect(stdout).toContain('2 dead letter(s).');
}, 60_000);
