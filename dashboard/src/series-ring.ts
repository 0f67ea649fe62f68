/**
 * A fixed-capacity time series: one time column and one value column per metric in typed arrays
 * allocated once. When full, a new sample overwrites the oldest, so memory never grows.
 */
export class SeriesRing {
  private readonly times: Float64Array;
  private readonly columns: Float32Array[];
  private start = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    columnCount: number,
  ) {
    this.times = new Float64Array(capacity);
    this.columns = Array.from({ length: columnCount }, () => new Float32Array(capacity));
  }

  get size(): number {
    return this.count;
  }

  /** Appends a sample; `values[c]` is NaN where the reading lacks metric c. */
  push(time: number, values: ArrayLike<number>): void {
    // Times must not go backwards for the binary search and the chart's x axis.
    const previous = this.count > 0 ? this.timeAt(this.count - 1) : -Infinity;
    const slot = (this.start + this.count) % this.capacity;
    if (this.count < this.capacity) this.count += 1;
    else this.start = (this.start + 1) % this.capacity;
    this.times[slot] = Math.max(time, previous);
    this.columns.forEach((column, c) => (column[slot] = values[c] ?? NaN));
  }

  /** Time of the i-th oldest sample. */
  timeAt(i: number): number {
    return this.times[(this.start + i) % this.capacity]!;
  }

  /** Value of metric `column` in the i-th oldest sample (NaN when the reading lacked it). */
  valueAt(i: number, column: number): number {
    return this.columns[column]![(this.start + i) % this.capacity]!;
  }

  /** The index of the oldest sample at or after `time`. */
  firstIndexFrom(time: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.timeAt(middle) < time) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
