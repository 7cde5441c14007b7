/**
 * Named counters for everything the stack does and every reason it drops a
 * packet (GUIDE §Principles 4: bad input is data). Names are snake_case and
 * stable: `tuntcp netstat -s` prints them and tests assert on them.
 *
 * Each name owns a slot in one Float64Array. inc(name) is one Map lookup
 * (the name to its slot) and an array store; the receive path takes the
 * slots of its hottest counters once (slot()) and counts with add(), which
 * is the array store alone. A counter that was never counted reads 0 and is
 * left out of snapshot().
 */
export class Counters {
  private readonly slots = new Map<string, number>();
  private readonly names: string[] = [];
  private values = new Float64Array(64);

  /** The slot of `name`, for add(); taken once, valid for the life of this object. */
  slot(name: string): number {
    return this.slots.get(name) ?? this.newSlot(name);
  }

  add(slot: number, by = 1): void {
    this.values[slot] += by;
  }

  inc(name: string, by = 1): void {
    const s = this.slots.get(name) ?? this.newSlot(name); // first: newSlot may replace `values`
    this.values[s] += by;
  }

  private newSlot(name: string): number {
    const s = this.names.length;
    this.slots.set(name, s);
    this.names.push(name);
    if (s === this.values.length) {
      const grown = new Float64Array(2 * s);
      grown.set(this.values);
      this.values = grown;
    }
    return s;
  }

  get(name: string): number {
    const s = this.slots.get(name);
    return s === undefined ? 0 : this.values[s]!;
  }

  /** A sorted plain-object copy, for printing and JSON. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.names].sort()) {
      const v = this.values[this.slots.get(k)!]!;
      if (v !== 0) out[k] = v;
    }
    return out;
  }
}
