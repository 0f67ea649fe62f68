/**
 * One uPlot chart per metric over the last five minutes, a series per charted device. uPlot
 * needs one x array shared by all series, so the devices' samples are merged by time on each
 * redraw (a gap where a device has no sample at that instant; `spanGaps` draws across it).
 * Redraws are throttled: a line moving a pixel or two needs no 60 redraws a second.
 */
import uPlot from 'uplot';
import { element, setText } from './dom';
import { formatMetric, METRICS, type Metric } from './metrics';
import type { ChartSelection } from './selection';
import type { DeviceState, TelemetryStore } from './store';

export const WINDOW_MS = 5 * 60 * 1000;
const REDRAW_EVERY_MS = 250;
const CHART_HEIGHT = 170;

interface Chart {
  metric: Metric;
  figure: HTMLElement;
  plotArea: HTMLElement;
  summary: HTMLElement;
  plot: uPlot | undefined;
}

export class ChartsView {
  private readonly charts: Chart[];
  private lastDraw = 0;
  private dataChanged = false;
  private windowStart = 0;
  private windowEnd = 0;

  constructor(
    container: HTMLElement,
    private readonly emptyHint: HTMLElement,
    private readonly store: TelemetryStore,
    private readonly selection: ChartSelection,
  ) {
    this.charts = METRICS.map((metric) => {
      const figure = element('figure', { className: 'chart' });
      figure.dataset.metric = metric.key;
      figure.dataset.points = '0';
      const caption = element('figcaption', { text: `${metric.label} (${metric.unit})` });
      const plotArea = element('div', { className: 'chart__plot' });
      // The canvas says nothing to a screen reader: this sentence does.
      const summary = element('p', { className: 'visually-hidden' });
      figure.append(caption, plotArea, summary);
      container.append(figure);
      return { metric, figure, plotArea, summary, plot: undefined };
    });
    new ResizeObserver(() => this.resize()).observe(container);
  }

  /** New samples arrived for some device (charted or not). */
  touch(): void {
    this.dataChanged = true;
  }

  /** Draws if the selection changed, or data changed / time moved and the throttle allows. */
  render(now: number): boolean {
    const rebuild = this.selection.changed;
    if (!rebuild && now - this.lastDraw < (this.dataChanged ? REDRAW_EVERY_MS : 1000)) {
      return false;
    }
    this.selection.changed = false;
    this.dataChanged = false;
    this.lastDraw = now;
    const devices = this.selection.ids
      .map((id) => this.store.devices.get(id))
      .filter((device): device is DeviceState => device !== undefined);
    this.emptyHint.hidden = devices.length > 0;
    this.windowEnd = now;
    this.windowStart = now - WINDOW_MS;
    const data = mergeByTime(devices, this.windowStart);
    this.charts.forEach((chart, index) => {
      if (rebuild) this.createPlot(chart, devices);
      const series = data.metrics[index]!;
      chart.plot?.setData([data.x, ...series]);
      let points = 0;
      for (const values of series) for (const value of values) if (value !== null) points += 1;
      chart.figure.dataset.points = String(points);
      chart.figure.dataset.series = String(devices.length);
      setText(chart.summary, describe(chart.metric, devices, series));
    });
    return true;
  }

  private createPlot(chart: Chart, devices: DeviceState[]): void {
    chart.plot?.destroy();
    chart.plot = undefined;
    if (devices.length === 0) return;
    const options: uPlot.Options = {
      width: Math.max(200, chart.plotArea.clientWidth),
      height: CHART_HEIGHT,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [this.windowStart / 1000, this.windowEnd / 1000] },
        y: { auto: true },
      },
      axes: [{}, { size: valueAxisSize }],
      series: [
        {},
        ...devices.map((device) => {
          const style = this.selection.styleOf(device.id);
          return {
            label: device.id,
            stroke: style?.colour ?? '#222',
            dash: style?.dash ?? [],
            width: 1.5,
            spanGaps: true,
            points: { show: false },
          };
        }),
      ],
    };
    chart.plot = new uPlot(options, [[], ...devices.map(() => [])], chart.plotArea);
  }

  private resize(): void {
    for (const chart of this.charts) {
      const width = Math.max(200, chart.plotArea.clientWidth);
      if (chart.plot && chart.plot.width !== width) {
        chart.plot.setSize({ width, height: CHART_HEIGHT });
      }
    }
  }
}

/** Room for the longest tick label of a value axis (uPlot's fixed default cuts "1,013.5"). */
function valueAxisSize(self: uPlot, values: string[] | null, axisIndex: number): number {
  const axis = self.axes[axisIndex]!;
  const longest = (values ?? []).reduce((a, b) => (b.length > a.length ? b : a), '');
  self.ctx.font = axis.font?.[0] ?? '12px system-ui';
  const labelWidth = self.ctx.measureText(longest).width / devicePixelRatio;
  return Math.ceil(labelWidth + (axis.ticks?.size ?? 10) + (axis.gap ?? 5) + 4);
}

interface MergedData {
  /** Seconds since the epoch, as uPlot's time scale expects. */
  x: number[];
  /** [metric][device][sample]: null where that device has no sample at x. */
  metrics: (number | null)[][][];
}

/** A k-way merge of the devices' samples since `from` (each device's are in time order). */
function mergeByTime(devices: DeviceState[], from: number): MergedData {
  const cursors = devices.map((device) => device.series.firstIndexFrom(from));
  const x: number[] = [];
  const metrics = METRICS.map(() => devices.map((): (number | null)[] => []));
  for (;;) {
    let time = Infinity;
    devices.forEach((device, d) => {
      if (cursors[d]! < device.series.size)
        time = Math.min(time, device.series.timeAt(cursors[d]!));
    });
    if (time === Infinity) break;
    x.push(time / 1000);
    devices.forEach((device, d) => {
      const at = cursors[d]!;
      const has = at < device.series.size && device.series.timeAt(at) === time;
      METRICS.forEach((_, m) => {
        const value = has ? device.series.valueAt(at, m) : NaN;
        metrics[m]![d]!.push(Number.isNaN(value) ? null : value);
      });
      if (has) cursors[d] = at + 1;
    });
  }
  return { x, metrics };
}

function describe(metric: Metric, devices: DeviceState[], series: (number | null)[][]): string {
  if (devices.length === 0) return `${metric.label}: no device charted.`;
  const latest = devices.map((device, d) => {
    const values = series[d]!;
    let last: number | undefined;
    for (let i = values.length - 1; i >= 0 && last === undefined; i -= 1) {
      last = values[i] ?? undefined;
    }
    return `${device.id} ${formatMetric(metric, last)} ${metric.unit}`;
  });
  return `${metric.label}, latest values: ${latest.join('; ')}.`;
}
