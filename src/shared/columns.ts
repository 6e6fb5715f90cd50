/**
 * Growable typed-array columns: per-tensor numbers of a million-entry header (offsets, dtypes,
 * ids) kept without a JS number or object per entry.
 */

type Typed = Float64Array | Int32Array | Uint8Array;

export class Column<T extends Typed> {
  private data: T;
  length = 0;

  constructor(
    private readonly make: (n: number) => T,
    initial = 1024,
  ) {
    this.data = make(initial);
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  get(i: number): number {
    return this.data[i]!;
  }

  /** The values, trimmed to length (a copy). */
  toArray(): T {
    return this.data.slice(0, this.length) as T;
  }
}

export const float64Column = () => new Column((n) => new Float64Array(n));
export const int32Column = () => new Column((n) => new Int32Array(n));
export const uint8Column = () => new Column((n) => new Uint8Array(n));
