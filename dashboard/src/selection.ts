/**
 * Which devices the charts show, each with a colour and a dash pattern (so series differ by more
 * than colour). The first devices to appear are charted until the user picks for themselves.
 */
export const MAX_CHARTED = 8;
const AUTO_CHARTED = 4;

/** Okabe–Ito colours, distinguishable with the common colour-vision deficiencies. */
const COLOURS = [
  '#0072b2',
  '#d55e00',
  '#009e73',
  '#cc79a7',
  '#e69f00',
  '#56b4e9',
  '#222222',
  '#8c564b',
];
const DASHES: number[][] = [[], [8, 4], [2, 3], [10, 3, 2, 3], [], [8, 4], [2, 3], [10, 3, 2, 3]];

export interface SeriesStyle {
  colour: string;
  dash: number[];
}

export class ChartSelection {
  /** Charted device ids, in the order they were chosen. */
  readonly ids: string[] = [];
  /** Set when the set of charted devices changes; the charts clear it. */
  changed = true;
  private readonly slots = new Map<string, number>();
  private chosenByUser = false;

  has(id: string): boolean {
    return this.slots.has(id);
  }

  get full(): boolean {
    return this.ids.length >= MAX_CHARTED;
  }

  styleOf(id: string): SeriesStyle | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : { colour: COLOURS[slot]!, dash: DASHES[slot]! };
  }

  /** A device appeared: chart it while the user has not chosen and there is room. */
  offer(id: string): void {
    if (!this.chosenByUser && this.ids.length < AUTO_CHARTED) this.add(id);
  }

  set(id: string, charted: boolean): void {
    this.chosenByUser = true;
    if (charted) this.add(id);
    else this.remove(id);
  }

  remove(id: string): void {
    if (!this.slots.delete(id)) return;
    this.ids.splice(this.ids.indexOf(id), 1);
    this.changed = true;
  }

  private add(id: string): void {
    if (this.slots.has(id) || this.full) return;
    const used = new Set(this.slots.values());
    let slot = 0;
    while (used.has(slot)) slot += 1;
    this.slots.set(id, slot);
    this.ids.push(id);
    this.changed = true;
  }
}
