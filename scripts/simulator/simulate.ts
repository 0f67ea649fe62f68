/**
 * `npm run simulate`: a fleet of simulated devices sending the dummy data set to IoT Core over
 * MQTT and HTTPS with their own certificates, until the duration is over or Ctrl-C. See --help.
 */
import { runCommand } from '../cli/command-line';
import { Fleet } from './fleet';
import { resolveConfig, simulatorSpec, type SimulatorConfig } from './options';
import { FleetStats, formatSummary, ProgressReporter } from './stats';

/** How long readings in flight may take to be confirmed once the run is over. */
const END_GRACE_MS = 15_000;
/** The same after Ctrl-C: stopping should feel immediate. */
const INTERRUPT_GRACE_MS = 3_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

await runCommand(simulatorSpec, async (args) => {
  const config = resolveConfig(args);
  const stats = new FleetStats();
  const progress = new ProgressReporter(stats);
  const fleet = Fleet.create(config, stats, progress);
  progress.log(describeRun(config, stats));

  const startedAt = performance.now();
  let signals = 0;
  let interrupted: () => void = () => undefined;
  const interruption = new Promise<'interrupted'>(
    (resolve) => (interrupted = () => resolve('interrupted')),
  );
  const onSignal = () => {
    signals += 1;
    if (signals === 1) interrupted();
    else fleet.force(); // a second Ctrl-C does not wait for confirmations
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  progress.start();
  const outcome = await Promise.race([fleet.run().then(() => 'done' as const), interruption]);
  if (outcome === 'interrupted') progress.log('Stopping…');
  await fleet.stop(outcome === 'done' ? END_GRACE_MS : INTERRUPT_GRACE_MS);
  progress.stop();
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);

  process.stdout.write(formatSummary(stats, performance.now() - startedAt));
  process.exitCode = stats.failures() === 0 ? 0 : 1;
});

function describeRun(config: SimulatorConfig, stats: FleetStats): string {
  const count = stats.devices.mqtt + stats.devices.https;
  const protocols = (['mqtt', 'https'] as const)
    .filter((protocol) => stats.devices[protocol] > 0)
    .map((protocol) => `${stats.devices[protocol]} ${protocol.toUpperCase()}`)
    .join(', ');
  const { source } = config;
  const what =
    source.kind === 'generated'
      ? `${source.rate} reading${source.rate === 1 ? '' : 's'}/s each (seed ${source.seed})`
      : `${source.readings.length} readings from ${source.file} at ${source.speed}x`;
  const until =
    config.durationMs > 0
      ? `for ${config.durationMs / 1000} s`
      : source.kind === 'csv'
        ? 'until the file ends'
        : 'until Ctrl-C';
  const cloud = config.stage ? `AWS IoT Core (stage ${config.stage})` : 'the offline IoT Core';
  return `Simulating ${count} device${count === 1 ? '' : 's'} (${protocols}) on ${cloud}: ${what}, ${until}. Ctrl-C stops.`;
}
