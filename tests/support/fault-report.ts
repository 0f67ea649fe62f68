/** The one line every fault test prints: what was sent, delivered once, delivered twice, lost. */
export interface FaultReport {
  sent: number;
  delivered: number;
  duplicated: number;
  lost: number;
}

/** Counts, per expected id, how often it arrived. */
export function tally(expectedIds: readonly string[], receivedIds: readonly string[]): FaultReport {
  const counts = new Map<string, number>();
  for (const id of receivedIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const delivered = expectedIds.filter((id) => (counts.get(id) ?? 0) > 0).length;
  const duplicated = expectedIds.reduce(
    (sum, id) => sum + Math.max(0, (counts.get(id) ?? 0) - 1),
    0,
  );
  return { sent: expectedIds.length, delivered, duplicated, lost: expectedIds.length - delivered };
}

export function printReport(name: string, report: FaultReport): void {
  process.stdout.write(
    `fault "${name}": sent ${report.sent}, delivered ${report.delivered}, duplicated ${report.duplicated}, lost ${report.lost}\n`,
  );
}
