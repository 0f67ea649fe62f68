/** What the fleet has done so far, the live progress line and the final summary. */
export type Protocol = 'mqtt' | 'https';
export const PROTOCOLS: readonly Protocol[] = ['mqtt', 'https'];

export interface Counters {
  /** Readings handed to the transport. */
  sent: number;
  /** Confirmed by the cloud: PUBACK (MQTT) or 200 OK (HTTPS). */
  acked: number;
  /** Given up on: retries exhausted, refused, or still unconfirmed when the simulator stopped. */
  failed: number;
}

export class FleetStats {
  readonly readings: Record<Protocol, Counters> = {
    mqtt: { sent: 0, acked: 0, failed: 0 },
    https: { sent: 0, acked: 0, failed: 0 },
  };
  /** Commands received from the cloud and the acks published back. */
  readonly commands = { received: 0, answered: 0, failed: 0 };
  readonly devices: Record<Protocol, number> = { mqtt: 0, https: 0 };

  total(): Counters {
    const { mqtt, https } = this.readings;
    return {
      sent: mqtt.sent + https.sent,
      acked: mqtt.acked + https.acked,
      failed: mqtt.failed + https.failed,
    };
  }

  /** Everything that went wrong: the exit code is 0 only when this is 0. */
  failures(): number {
    return this.total().failed + this.commands.failed;
  }
}

export interface Reporter {
  /** A message for the person running the simulator (stderr), kept above the progress line. */
  log(line: string): void;
}

const RATE_WINDOW_MS = 5_000;
const SAMPLE_INTERVAL_MS = 250;

/**
 * On a terminal, one progress line rewritten in place; elsewhere (a pipe, a log file, npm start)
 * a plain line every `plainIntervalMs`.
 */
export class ProgressReporter implements Reporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly samples: { at: number; sent: number }[] = [];
  private startedAt = performance.now();
  private readonly live: boolean;
  private drawn = false;

  constructor(
    private readonly stats: FleetStats,
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    private readonly plainIntervalMs = 10_000,
  ) {
    this.live = stream.isTTY === true;
  }

  start(): void {
    this.startedAt = performance.now();
    let printedAt = this.startedAt;
    this.timer = setInterval(() => {
      this.sample();
      if (this.live) return this.draw();
      if (performance.now() - printedAt < this.plainIntervalMs) return;
      printedAt = performance.now();
      this.stream.write(`${this.line()}\n`);
    }, SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
  }

  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
    if (this.live && this.timer) this.draw();
  }

  /** Remembers how many readings were sent by now, for the rate over the last seconds. */
  private sample(): void {
    const now = performance.now();
    this.samples.push({ at: now, sent: this.stats.total().sent });
    while (this.samples.length > 2 && now - (this.samples[0]?.at ?? now) > RATE_WINDOW_MS) {
      this.samples.shift();
    }
  }

  private line(): string {
    const { sent, acked, failed } = this.stats.total();
    const now = performance.now();
    const first = this.samples[0] ?? { at: now, sent };
    const seconds = (now - first.at) / 1000;
    const rate = seconds > 0 ? (sent - first.sent) / seconds : 0;
    const elapsed = Math.round((now - this.startedAt) / 1000);
    return `sent ${sent} | acknowledged ${acked} | failed ${failed} | ${rate.toFixed(1)} msg/s | ${elapsed} s`;
  }

  private draw(): void {
    this.stream.write(`\r\x1b[2K${this.line()}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

export function formatSummary(stats: FleetStats, elapsedMs: number): string {
  const rows: [string, number, Counters][] = [
    ...PROTOCOLS.filter((protocol) => stats.devices[protocol] > 0).map(
      (protocol): [string, number, Counters] => [
        protocol,
        stats.devices[protocol],
        stats.readings[protocol],
      ],
    ),
    ['total', stats.devices.mqtt + stats.devices.https, stats.total()],
  ];
  const cells = (values: (string | number)[]) =>
    `  ${String(values[0]).padEnd(8)}${values
      .slice(1)
      .map((value) => String(value).padStart(9))
      .join('')}`;
  const { received, answered, failed } = stats.commands;
  return [
    `Summary after ${(elapsedMs / 1000).toFixed(1)} s:`,
    cells(['protocol', 'devices', 'sent', 'acked', 'failed']),
    ...rows.map(([name, devices, c]) => cells([name, devices, c.sent, c.acked, c.failed])),
    `  commands: ${received} received, ${answered} answered, ${failed} failed`,
    '',
  ].join('\n');
}
