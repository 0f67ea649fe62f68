/** The simulator's pure parts: arguments, schedules, backoff, error messages and the summary. */
import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { parseOptions, UsageError } from '../../scripts/cli/command-line';
import { backoffDelay } from '../../scripts/simulator/backoff';
import { resolveConfig, simulatorSpec } from '../../scripts/simulator/options';
import { buildSchedules } from '../../scripts/simulator/schedule';
import { FleetStats, formatSummary } from '../../scripts/simulator/stats';
import { describeTransportError } from '../../scripts/simulator/transport-errors';
import type { Reading } from '../../scripts/telemetry/reading';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const configOf = (argv: string[]) => {
  const args = parseOptions(simulatorSpec, argv);
  if (!args) throw new Error('--help');
  return resolveConfig(args, REPO_ROOT);
};

describe('simulator arguments', () => {
  it('defaults to 5 mixed devices, 1 reading/s, for 60 s, seed 42, offline', () => {
    expect(configOf([])).toEqual({
      protocol: 'mixed',
      durationMs: 60_000,
      source: { kind: 'generated', devices: 5, rate: 1, seed: 42 },
      stage: undefined,
    });
  });

  it('reads every option', () => {
    const argv = ['--devices', '3', '--rate', '0.5', '--duration', '0', '--protocol', 'https'];
    expect(configOf([...argv, '--seed', '9', '--stage', 'dev'])).toEqual({
      protocol: 'https',
      durationMs: 0,
      source: { kind: 'generated', devices: 3, rate: 0.5, seed: 9 },
      stage: 'dev',
    });
  });

  it('replays a CSV, validated, until it ends unless a duration is given', () => {
    const config = configOf(['--csv', 'data/readings.csv', '--speed', '10']);
    expect(config.durationMs).toBe(0);
    expect(config.source).toMatchObject({ kind: 'csv', speed: 10 });
    expect(config.source.kind === 'csv' && config.source.readings).toHaveLength(250);
  });

  it.each([
    [['--devices', '0'], /--devices must be an integer >= 1/],
    [['--devices', '2.5'], /--devices must be an integer/],
    [['--rate', '0'], /--rate must be a number > 0/],
    [['--rate', 'fast'], /--rate must be a number/],
    [['--duration=-1'], /--duration must be a number >= 0/],
    [['--protocol', 'coap'], /--protocol must be one of mqtt, mqtt5, https, alpn, wss, mixed/],
    [['--seed', 'x'], /--seed must be an integer/],
    [['--stage', 'no/slash'], /--stage "no\/slash" may hold only/],
    [['--speed', '2'], /--speed applies only to --csv/],
    [['--csv', 'data/readings.csv', '--rate', '2'], /--rate does not apply to --csv/],
    [['--csv', 'data/readings.csv', '--speed', '0'], /--speed must be a number > 0/],
    [['--csv', 'no-such-file.csv'], /--csv .*no-such-file\.csv: ENOENT/],
    [['--csv', 'package.json'], /--csv .*package\.json: line 1/],
  ])('rejects %j with a UsageError', (argv, message) => {
    expect(() => configOf(argv)).toThrow(UsageError);
    expect(() => configOf(argv)).toThrow(message);
  });
});

describe('schedules', () => {
  const startTs = Date.UTC(2026, 0, 1, 12);

  it('spreads generated devices over the interval and stamps readings with their send time', () => {
    const schedules = buildSchedules(
      { kind: 'generated', devices: 4, rate: 2, seed: 1 },
      2_000,
      startTs,
    );
    expect(schedules.map((schedule) => schedule.deviceId)).toEqual([
      'sensor-1',
      'sensor-2',
      'sensor-3',
      'sensor-4',
    ]);
    schedules.forEach((schedule, index) => {
      const readings = [...schedule.readings];
      // 500 ms apart, device i starts i * 125 ms in; at most 4 readings in 2 s (less dropouts).
      expect(readings.length).toBeGreaterThanOrEqual(2);
      expect(readings.length).toBeLessThanOrEqual(4);
      for (const { offsetMs, reading } of readings) {
        expect(reading.ts).toBe(startTs + offsetMs);
        expect(offsetMs).toBe(index * 125 + reading.seq * 500);
        expect(offsetMs).toBeLessThan(2_000);
        expect(reading.deviceId).toBe(schedule.deviceId);
      }
    });
  });

  it('goes on without end when the duration is 0', () => {
    const [schedule] = buildSchedules({ kind: 'generated', devices: 1, rate: 1000, seed: 1 }, 0);
    const readings = (schedule?.readings ?? [])[Symbol.iterator]();
    let count = 0;
    while (count < 5_000 && !readings.next().done) count += 1;
    expect(count).toBe(5_000);
  });

  it('replays a CSV at its recorded pace divided by the speed, per device', () => {
    const reading = (deviceId: string, seq: number, ts: number): Reading => ({
      deviceId,
      seq,
      ts,
      temperature: 20,
      humidity: 50,
      pressure: 1013,
      battery: 90,
      rssi: -60,
    });
    const readings = [
      reading('b', 0, 10_000),
      reading('a', 0, 10_000),
      reading('a', 1, 20_000),
      reading('b', 1, 40_000),
    ];
    const schedules = buildSchedules({ kind: 'csv', file: 'x.csv', speed: 10, readings }, 0);
    expect(
      schedules.map(({ deviceId, readings: list }) => [
        deviceId,
        [...list].map(({ offsetMs, reading: r }) => [offsetMs, r.seq]),
      ]),
    ).toEqual([
      [
        'b',
        [
          [0, 0],
          [3_000, 1],
        ],
      ],
      [
        'a',
        [
          [0, 0],
          [1_000, 1],
        ],
      ],
    ]);
    // A duration cuts the replay short.
    const short = buildSchedules({ kind: 'csv', file: 'x.csv', speed: 10, readings }, 2_000);
    expect(short.map(({ readings: list }) => [...list].length)).toEqual([1, 2]);
  });
});

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 1_000 };

  it('doubles per attempt up to the cap, with jitter in the upper half', () => {
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, policy, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, policy, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});

describe('transport errors', () => {
  const errorWith = (message: string, code?: string | number) =>
    Object.assign(new Error(message), code === undefined ? {} : { code });

  it.each([
    [
      'refused',
      errorWith('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'),
      /^the endpoint is unreachable/,
    ],
    [
      'untrusted server',
      errorWith('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
      /^the endpoint's certificate is not trusted by the device's root CA/,
    ],
    [
      'refused client certificate',
      errorWith('tlsv13 alert certificate required', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'),
      /^the endpoint refused the device certificate/,
    ],
    [
      'CONNACK refusal',
      errorWith('Connection refused: Not authorized', 5),
      /^the broker refused the connection/,
    ],
    ['not an Error', 'plain', /^plain$/],
  ])('describes a %s', (_name, error, expected) => {
    expect(describeTransportError(error)).toMatch(expected);
  });
});

describe('the summary', () => {
  it('has a row per protocol in use, a total and the commands', () => {
    const stats = new FleetStats();
    stats.devices.mqtt = 2;
    Object.assign(stats.readings.mqtt, { sent: 10, acked: 9, failed: 1 });
    stats.commands.received = 1;
    stats.commands.answered = 1;
    expect(formatSummary(stats, 1_234)).toBe(
      [
        'Summary after 1.2 s:',
        '  protocol  devices     sent    acked   failed',
        '  mqtt            2       10        9        1',
        '  total           2       10        9        1',
        '  commands: 1 received, 1 answered, 0 failed',
        '',
      ].join('\n'),
    );
    expect(stats.failures()).toBe(1);
  });
});
