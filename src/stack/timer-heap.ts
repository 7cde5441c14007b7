/**
 * A binary min-heap of (time, callback) with O(log n) cancel. Entries with the
 * same time fire in insertion order, which keeps simulations reproducible.
 */
export interface Timer {
  /** Position in the heap array, -1 once fired or cancelled. */
  index: number;
  readonly time: number;
  readonly order: number;
  fn: (() => void) | null;
}

export class TimerHeap {
  private readonly items: Timer[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  peekTime(): number {
    return this.items.length > 0 ? this.items[0]!.time : Infinity;
  }

  push(time: number, fn: () => void): Timer {
    const t: Timer = { index: this.items.length, time, order: this.counter++, fn };
    this.items.push(t);
    this.up(t.index);
    return t;
  }

  cancel(t: Timer): void {
    const i = t.index;
    if (i < 0 || this.items[i] !== t) return;
    t.index = -1;
    t.fn = null;
    const last = this.items.pop()!;
    if (last !== t) {
      this.items[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
  }

  /** Fire every timer whose time is <= now, earliest first. Timers added by
   * a callback for a time <= now fire in the same call. */
  runDue(now: number): void {
    while (this.items.length > 0 && this.items[0]!.time <= now) {
      const t = this.items[0]!;
      const fn = t.fn;
      this.cancel(t);
      fn?.();
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.time < b.time || (a.time === b.time && a.order < b.order);
  }

  private up(i: number): void {
    const items = this.items;
    const t = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (!this.less(t, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = t;
    t.index = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const t = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!this.less(child, t)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = t;
    t.index = i;
  }
}
