/** The markdown report of one run: what `npm run bench` prints and docs/scaling.md quotes. */
import { renderDelivery } from './delivery-report';
import type { BenchResults } from './run-types';
import { formatNumber, table } from './support/markdown';
import { round } from './support/stats';

const kb = (bytes: number) => round(bytes / 1024, 0);

export function renderReport(results: BenchResults): string {
  const parts: string[] = [
    `## Benchmark ${results.startedAt}${results.quick ? ' (quick)' : ''}\n`,
    `Node ${results.machine.node}, ${results.machine.cpus} × ${results.machine.cpuModel}, ` +
      `${results.machine.memoryGb} GB, ${results.machine.platform}; load average ` +
      `${results.machine.loadAverage.start} at the start, ${results.machine.loadAverage.end} at the ` +
      `end (the machine is shared: figures are noisy). Loopback only.\n`,
  ];
  const { fanout, e2e, coldstart, flood, delivery } = results;

  if (fanout) {
    parts.push(
      '### Fan-out: one message to N connections\n',
      'Wall time per message at steady state (median of the 2nd..k-th message of one process); ' +
        '*seed* = full Scan then one PostToConnection at a time, *unbounded* = Promise.all over a ' +
        'full Scan (the SDK pools 50 sockets), *limit* = a bare keep-alive loop on the same server ' +
        '(no SDK, no DynamoDB), *project* = Broadcaster + ConnectionSnapshot + the signed ' +
        'sender as shared/runtime/broadcaster.ts wires them, *sdk* / *smithy* = the same with the ' +
        'AWS SDK client / a @smithy/signature-v4 sender (bench/lean-sender.ts), *churn* = the ' +
        'project when one client connects and one leaves before each message, *lambda* / ' +
        "*lambda-limit* = the project / the limit in a process held to a 256 MB Lambda's CPU " +
        `share (${formatNumber((fanout.lambdaCpuShare ?? 0) * 100)} % of a CPU; ` +
        `${fanout.rows.find((row) => row.cpuLimit)?.cpuLimit === 'model' ? 'modelled: wall ≥ CPU / share' : 'a CFS quota on the process'}). ` +
        'Items read counted by a proxy in front of ' +
        'dynalite; CPU and peak RSS of the process doing the fan-out (a fresh process per row).\n',
    );
    const rows = fanout.rows.map((row) => {
      const seed = fanout.rows.find(
        (r) =>
          r.variant === 'seed' &&
          r.connections === row.connections &&
          r.latencyMs === row.latencyMs,
      );
      const limit = fanout.rows.find(
        (r) =>
          r.variant === 'limit' &&
          r.connections === row.connections &&
          r.latencyMs === row.latencyMs,
      );
      return [
        row.connections,
        `${row.latencyMs} ms`,
        row.variant,
        row.concurrency ?? '∞',
        `${formatNumber(row.wallMs)}${row.extrapolatedFrom ? ` (extrapolated from ${formatNumber(row.extrapolatedFrom)} posts)` : ''}`,
        ['project', 'sdk', 'smithy', 'churn', 'lambda'].includes(row.variant)
          ? formatNumber(row.firstWallMs)
          : '',
        seed ? `${formatNumber(seed.wallMs / row.wallMs)}×` : '',
        limit && row.variant !== 'limit' ? `${formatNumber(row.wallMs / limit.wallMs)}×` : '',
        row.itemsRead,
        row.cpuMsPerPost,
        row.serverMaxInFlight,
        row.peakRssMb,
      ];
    });
    parts.push(
      table(
        [
          'connections',
          'latency',
          'variant',
          'concurrency',
          'ms / message',
          '1st message ms',
          'speed-up vs seed',
          '× limit',
          'items read / message',
          'CPU ms / post',
          'max in flight',
          'peak RSS MB',
        ],
        rows,
      ),
    );
    if (fanout.storm) {
      const { storm } = fanout;
      parts.push(
        `\nReconnect storm: ${formatNumber(storm.clients)} clients disconnect and connect again ` +
          `within ${storm.stormSeconds} s (${formatNumber(storm.changes)} changes, ` +
          `${formatNumber(storm.writes)} writes): the hottest item takes ` +
          `${formatNumber(storm.hottestItem.perSecond)} writes/s, the hottest partition key ` +
          `${formatNumber(storm.hottestPartition.perSecond)} (${storm.shards} change-log shards); ` +
          `one change counter would take ${formatNumber(storm.singleCounterPerSecond)} writes/s ` +
          `(DynamoDB: 1 000 per partition).\n`,
      );
    }
    if (fanout.sweep.length) {
      parts.push('\n### Fan-out concurrency (project vs limit)\n');
      const sweepRows = fanout.sweep
        .filter((row) => row.variant === 'project')
        .map((project) => {
          const limit = fanout.sweep.find(
            (row) =>
              row.variant === 'limit' &&
              row.latencyMs === project.latencyMs &&
              row.concurrency === project.concurrency,
          );
          return [
            project.connections,
            `${project.latencyMs} ms`,
            `${project.concurrency}${project.concurrency === fanout.defaultConcurrency ? ' (default)' : ''}`,
            project.wallMs,
            limit?.wallMs,
            limit ? `${formatNumber(project.wallMs / limit.wallMs)}×` : '',
            project.serverMaxInFlight,
            project.cpuMsPerPost,
            project.peakRssMb,
          ];
        });
      parts.push(
        table(
          [
            'connections',
            'latency',
            'concurrency',
            'project ms',
            'limit ms',
            '× limit',
            'max in flight',
            'CPU ms / post',
            'peak RSS MB',
          ],
          sweepRows,
        ),
      );
      for (const choice of fanout.chosen) {
        const at = `\nAt ${formatNumber(choice.connections)} connections and ${choice.latencyMs} ms: `;
        if (choice.regime === 'cpu-bound') {
          parts.push(
            `${at}no latency to overlap — CPU-bound, every concurrency within ` +
              `${formatNumber(choice.spreadMs[0])}–${formatNumber(choice.spreadMs[1])} ms ` +
              `(noise); nothing to choose here.`,
          );
          continue;
        }
        parts.push(
          `${at}best concurrency ${choice.best} (${formatNumber(choice.bestWallMs)} ms` +
            (choice.bestInFlight < choice.best
              ? `, at most ${choice.bestInFlight} posts in flight: the SDK's socket pool`
              : '') +
            `) vs the default ${fanout.defaultConcurrency} (${formatNumber(choice.defaultWallMs)} ms): ` +
            (choice.clearlyBetter
              ? `${formatNumber(choice.gain)}× faster — clearly better.`
              : `within 10 % — the default stands.`),
        );
      }
      parts.push('');
    }
  }

  if (e2e) {
    parts.push(
      '\n### End to end: device publish → WebSocket client\n',
      `*lambda* = offline IoT Core → topic rule → forwardTelemetry (serverless-offline) → ` +
        `PostToConnection → client; *limit* = the same device endpoints → in-process subscriber → ` +
        `bare ws relay, no Lambda. Latency = client receive − \`sentAt\` in the payload. ` +
        `Stack start: ${formatNumber(e2e.stackStartMs)} ms.\n`,
    );
    parts.push(
      table(
        [
          'target',
          'protocol',
          'msg/s',
          'clients',
          'devices',
          'sent',
          'frames delivered / expected',
          'lost (late)',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'max ms',
          'frames/s',
        ],
        e2e.rows.map((row) => [
          row.target,
          row.protocol,
          row.rate,
          row.clients,
          row.devices,
          row.sent,
          `${formatNumber(row.delivered)} / ${formatNumber(row.expectedFrames)}`,
          `${row.lost} (${row.late})`,
          row.p50Ms,
          row.p95Ms,
          row.p99Ms,
          row.maxMs,
          row.framesPerSecond,
        ]),
      ),
    );
    parts.push(
      `\nDirect invoke of forwardTelemetry (RequestResponse, fan-out included): ` +
        e2e.invokeProbes
          .map(
            (probe) =>
              `${probe.clients} client(s): p50 ${formatNumber(probe.p50Ms)} ms, p95 ` +
              `${formatNumber(probe.p95Ms)} ms${probe.failed ? ` (${probe.failed} failed)` : ''}`,
          )
          .join('; ') +
        '.\n',
    );
    if (e2e.errors.length) parts.push(...e2e.errors.map((error) => `- not measured: ${error}`), '');
  }

  if (flood) {
    const { total, throttled, rateLimited, other } = flood.floodAnswers;
    parts.push(
      '\n### One flooding client against a quiet viewer\n',
      `A device streams to a viewer; then one client floods (sendMessage and subscribe). ` +
        `${flood.floodFramesSent} flood frames: ${total} answered — ${throttled} by the stage ` +
        `throttle (429), ${rateLimited} RATE_LIMITED, ${other} by the function. ` +
        '`flooded after 2 s` is the same phase without its first two seconds (the flood’s ' +
        'functions start cold workers, and its connection spends its burst of tokens): shown ' +
        'to tell the onset from the steady flood, not a target.\n',
      table(
        ['phase', 'readings', 'received', 'p50 ms', 'p99 ms', 'max ms'],
        flood.phases.map((phase) => [
          phase.phase,
          phase.readings,
          phase.received,
          phase.p50Ms,
          phase.p99Ms,
          phase.maxMs,
        ]),
      ),
    );
  }

  if (coldstart) {
    parts.push(
      '\n### Cold start: bundles and import time\n',
      `\`sls package\` took ${formatNumber(coldstart.packageMs)} ms. Import = \`await import()\` of ` +
        `the unzipped bundle in a fresh node (median); Lambda runs with --enable-source-maps ` +
        `(NODE_OPTIONS in serverless.yml). Package shares from each bundle's source map.\n`,
    );
    parts.push(
      table(
        [
          'function',
          'bundle KB',
          'zip KB',
          'AWS SDK KB',
          'import ms',
          'import ms (source maps)',
          'RSS MB',
          'largest packages (KB)',
        ],
        coldstart.functions.map((f) => [
          f.name,
          kb(f.bundleBytes),
          kb(f.zipBytes),
          kb(f.awsSdkBytes),
          f.importMs,
          f.importWithSourceMapsMs,
          f.rssAfterImportMb,
          f.packages
            .filter((share) => share.name !== '(unmapped)')
            .slice(0, 4)
            .map((share) => `${share.name} ${kb(share.bytes)}`)
            .join(', '),
        ]),
      ),
    );
  }

  if (delivery) parts.push(...renderDelivery(delivery));

  if (results.targets.length) {
    parts.push('\n### Targets\n');
    parts.push(
      table(
        ['target', 'at', 'measured', 'goal', 'ratio to goal', 'result'],
        results.targets.map((t) => [
          t.name,
          t.at,
          t.measured,
          t.goal,
          formatNumber(t.ratio),
          `**${t.status}**`,
        ]),
      ),
    );
    const misses = results.targets.filter((t) => t.status === 'MISS');
    if (misses.length) {
      parts.push('', ...misses.map((t) => `- MISS ${t.name} (${t.at}): ${t.reason ?? ''}`), '');
    }
  }
  if (results.errors.length) {
    parts.push('\n### Errors\n', ...results.errors.map((e) => `- ${e.bench}: ${e.message}`), '');
  }
  return `${parts.join('\n')}\n`;
}
