/**
 * Named counters for everything the stack does and every reason it drops a
 * packet (GUIDE §Principles 4: bad input is data). Names are snake_case and
 * stable: `tuntcp netstat -s` prints them and tests assert on them.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** A sorted plain-object copy, for printing and JSON. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.values.keys()].sort()) out[k] = this.values.get(k)!;
    return out;
  }
}
