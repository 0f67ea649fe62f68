/** The simulated fleet: one device per schedule, each sending its readings on time. */
import path from 'node:path';
import { cancellableSleep } from './backoff';
import type { SimulatedDevice } from './device';
import { HttpsDevice } from './https-device';
import { loadDeviceIdentity } from './identity';
import { MqttDevice, type MqttVariant } from './mqtt-device';
import type { SimulatorConfig } from './options';
import { buildSchedules, sourceDeviceIds, type DeviceSchedule } from './schedule';
import type { FleetStats, Reporter } from './stats';

export class Fleet {
  readonly devices: SimulatedDevice[];
  private readonly sleeps = new Set<{ cancel(): void }>();
  private stopping = false;
  private startedAt = 0;
  private grace: { cancel(): void } | undefined;
  private forced = false;

  private constructor(
    private readonly config: SimulatorConfig,
    devices: SimulatedDevice[],
  ) {
    this.devices = devices;
  }

  /** Loads (offline: provisions, where missing) every device's identity and connects it. */
  static create(
    config: SimulatorConfig,
    stats: FleetStats,
    reporter: Reporter,
    env: NodeJS.ProcessEnv = process.env,
  ): Fleet {
    const identities = sourceDeviceIds(config.source).map((deviceId) =>
      loadDeviceIdentity(deviceId, config.stage, env),
    );
    const provisioned = identities.filter((identity) => identity.provisioned);
    if (provisioned.length > 0) {
      reporter.log(
        `Provisioned ${provisioned.map((identity) => identity.thingName).join(', ')} ` +
          `with the local CA (in ${path.dirname(provisioned[0]?.folder ?? '.')})`,
      );
    }
    const devices = identities.map((identity, index): SimulatedDevice => {
      const choice = protocolOf(config.protocol, index);
      // Every MQTT transport counts as mqtt in the summary; the device's lines name its variant.
      stats.devices[choice === 'https' ? 'https' : 'mqtt']++;
      return choice === 'https'
        ? new HttpsDevice(identity, stats, reporter)
        : new MqttDevice(identity, stats, reporter, choice, env);
    });
    return new Fleet(config, devices);
  }

  /** Starts sending; resolves when every schedule has ended (never, for an endless run). */
  run(): Promise<void> {
    this.startedAt = performance.now();
    const schedules = buildSchedules(this.config.source, this.config.durationMs, Date.now());
    const byId = new Map(this.devices.map((device) => [device.deviceId, device]));
    const plays = schedules.map((schedule) => {
      const device = byId.get(schedule.deviceId);
      return device ? this.play(schedule, device) : undefined;
    });
    // A generated run lasts its whole duration, though its last reading comes a little earlier.
    if (this.config.source.kind === 'generated' && this.config.durationMs > 0) {
      plays.push(this.sleep(this.config.durationMs));
    }
    return Promise.all(plays).then(() => undefined);
  }

  /**
   * Stops sending, gives what is in flight up to `graceMs` to be confirmed (or until `force`),
   * then closes every device.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const sleep of this.sleeps) sleep.cancel();
    const grace = cancellableSleep(this.forced ? 0 : graceMs);
    this.grace = grace;
    await Promise.race([Promise.all(this.devices.map((device) => device.idle())), grace.done]);
    grace.cancel();
    await Promise.all(this.devices.map((device) => device.close()));
  }

  /** Ends the grace period of `stop` now (or makes it none, before `stop`). */
  force(): void {
    this.forced = true;
    this.grace?.cancel();
  }

  /** Until `offsetMs` after the start, or until stop. */
  private async sleep(offsetMs: number): Promise<void> {
    const wait = this.startedAt + offsetMs - performance.now();
    if (wait <= 0 || this.stopping) return;
    const sleep = cancellableSleep(wait);
    this.sleeps.add(sleep);
    await sleep.done;
    this.sleeps.delete(sleep);
  }

  private async play(schedule: DeviceSchedule, device: SimulatedDevice): Promise<void> {
    for (const { offsetMs, reading } of schedule.readings) {
      await this.sleep(offsetMs);
      if (this.stopping) return;
      device.send(reading);
    }
  }
}

function protocolOf(choice: SimulatorConfig['protocol'], index: number): MqttVariant | 'https' {
  if (choice === 'mixed') return index % 2 === 0 ? 'mqtt' : 'https';
  return choice;
}
