/**
 * The device table: one row per device, kept in id order. Rows are created once and then only
 * the cells whose text changed are touched. Status is text ("online"/"stale"), not only colour.
 */
import { ago, element, setText } from './dom';
import { formatMetric, METRICS } from './metrics';
import { MAX_CHARTED, type ChartSelection } from './selection';
import type { DeviceState, TelemetryStore } from './store';

interface Row {
  tr: HTMLTableRowElement;
  checkbox: HTMLInputElement;
  swatch: HTMLSpanElement;
  status: HTMLSpanElement;
  lastSeen: HTMLTimeElement;
  metrics: HTMLTableCellElement[];
  rate: HTMLTableCellElement;
}

const byName = new Intl.Collator(undefined, { numeric: true }).compare;

export class DeviceListView {
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly summary: HTMLElement,
    private readonly knownDevices: HTMLDataListElement,
    private readonly store: TelemetryStore,
    private readonly selection: ChartSelection,
    private readonly onSelectionChange: () => void,
  ) {
    body.addEventListener('change', (event) => {
      const box = event.target as HTMLInputElement;
      const id = box.closest('tr')?.dataset.deviceId;
      if (id === undefined) return;
      this.selection.set(id, box.checked);
      this.onSelectionChange();
    });
  }

  /** `tick`: time has passed, so ages, online/stale and rates of every row are refreshed. */
  render(now: number, tick: boolean): void {
    for (const id of this.store.changed) {
      const device = this.store.devices.get(id);
      if (device) this.update(this.rowOf(device), device, now);
      else this.removeRow(id);
    }
    this.store.changed.clear();
    if (tick) {
      for (const device of this.store.devices.values()) {
        this.updateTimes(this.rows.get(device.id)!, device, now);
      }
    }
    if (this.selection.changed || tick) this.updateSelection();
    this.updateSummary(now);
  }

  private rowOf(device: DeviceState): Row {
    const existing = this.rows.get(device.id);
    if (existing) return existing;
    const tr = element('tr');
    tr.dataset.deviceId = device.id;

    const chartCell = element('td', { className: 'chart-cell' });
    const checkbox = element('input');
    checkbox.type = 'checkbox';
    checkbox.setAttribute('aria-label', `Chart ${device.id}`);
    const swatch = element('span', { className: 'swatch' });
    swatch.setAttribute('aria-hidden', 'true');
    chartCell.append(checkbox, swatch);

    const name = element('th', { text: device.id });
    name.scope = 'row';
    const statusCell = element('td');
    const status = element('span', { className: 'status' });
    statusCell.append(status);
    const seenCell = element('td');
    const lastSeen = element('time');
    seenCell.append(lastSeen);
    const metrics = METRICS.map(() => element('td', { className: 'num' }));
    const rate = element('td', { className: 'num' });
    tr.append(chartCell, name, statusCell, seenCell, ...metrics, rate);

    const row: Row = { tr, checkbox, swatch, status, lastSeen, metrics, rate };
    this.rows.set(device.id, row);
    this.insertInOrder(device.id, tr);
    const option = element('option');
    option.value = device.id;
    this.knownDevices.append(option);
    return row;
  }

  private insertInOrder(id: string, tr: HTMLTableRowElement): void {
    let before: Element | null = null;
    for (const candidate of this.body.children) {
      if (byName((candidate as HTMLElement).dataset.deviceId ?? '', id) > 0) {
        before = candidate;
        break;
      }
    }
    this.body.insertBefore(tr, before);
  }

  private removeRow(id: string): void {
    this.rows.get(id)?.tr.remove();
    this.rows.delete(id);
    for (const option of this.knownDevices.options) if (option.value === id) option.remove();
    this.selection.remove(id);
  }

  private update(row: Row, device: DeviceState, now: number): void {
    METRICS.forEach((metric, index) => {
      setText(row.metrics[index]!, formatMetric(metric, device.latest[index]));
    });
    row.tr.dataset.messages = String(device.messages);
    row.tr.dataset.points = String(device.series.size);
    row.tr.dataset.capacity = String(device.series.capacity);
    this.updateTimes(row, device, now);
  }

  private updateTimes(row: Row, device: DeviceState, now: number): void {
    const status = this.store.isStale(device, now) ? 'stale' : 'online';
    if (row.tr.dataset.status !== status) {
      row.tr.dataset.status = status;
      row.status.className = `status status--${status}`;
      row.status.textContent = status;
    }
    setText(row.lastSeen, ago(now - device.lastSeen));
    const iso = new Date(device.lastSeen).toISOString();
    if (row.lastSeen.dateTime !== iso) row.lastSeen.dateTime = iso;
    setText(row.rate, device.rate.perSecond(now).toFixed(1));
  }

  private updateSelection(): void {
    for (const [id, row] of this.rows) {
      const charted = this.selection.has(id);
      row.checkbox.checked = charted;
      // A full selection is explained in the hint above the table; the box says why too.
      row.checkbox.disabled = !charted && this.selection.full;
      row.checkbox.title = row.checkbox.disabled ? `At most ${MAX_CHARTED} devices` : '';
      const style = this.selection.styleOf(id);
      row.swatch.style.background = style?.colour ?? 'transparent';
      row.swatch.hidden = !style;
    }
  }

  private updateSummary(now: number): void {
    let stale = 0;
    for (const device of this.store.devices.values()) {
      if (this.store.isStale(device, now)) stale += 1;
    }
    const count = this.store.devices.size;
    setText(
      this.summary,
      count === 0
        ? 'No telemetry yet.'
        : `${count} device${count === 1 ? '' : 's'} (${count - stale} online, ${stale} stale) · ` +
            `${this.store.rate.perSecond(now).toFixed(1)} msg/s · ` +
            `${this.store.telemetry} messages, ${this.store.duplicates} duplicates dropped`,
    );
    this.summary.dataset.devices = String(count);
    this.summary.dataset.telemetry = String(this.store.telemetry);
    this.summary.dataset.duplicates = String(this.store.duplicates);
  }
}
