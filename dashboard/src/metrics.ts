/** The reading fields the dashboard charts, in the order of the device table's columns. */
export const METRICS = [
  { key: 'temperature', label: 'Temperature', unit: '°C', decimals: 1 },
  { key: 'humidity', label: 'Humidity', unit: '%', decimals: 1 },
  { key: 'pressure', label: 'Pressure', unit: 'hPa', decimals: 1 },
  { key: 'battery', label: 'Battery', unit: '%', decimals: 0 },
  { key: 'rssi', label: 'RSSI', unit: 'dBm', decimals: 0 },
] as const;

export type Metric = (typeof METRICS)[number];

/** The metric values of a reading, NaN where a field is missing or not a finite number. */
export function metricValues(data: Record<string, unknown>): number[] {
  return METRICS.map(({ key }) => {
    const value = data[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : NaN;
  });
}

export function formatMetric(metric: Metric, value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '–' : value.toFixed(metric.decimals);
}
