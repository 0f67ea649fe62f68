/** Markdown tables for the printed report. */
export type Cell = string | number | undefined;

export function table(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (cell: Cell) =>
    cell === undefined ? '' : typeof cell === 'number' ? formatNumber(cell) : cell;
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(text).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
