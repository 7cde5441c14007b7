/**
 * Pieces the per-packet microbenchmarks share (rxcost.ts, hotpath.ts): a
 * link that drops what it is given, batches laid out in one pool as the TUN
 * link delivers them, and a seeded PRNG so every run sends the same packets.
 */
import type { Link } from '../../src/link/link.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { Stack } from '../../src/stack/stack.js';

/** A link that keeps the last header it was given (handshakes read it) and nothing else. */
export class SinkLink implements Link {
  readonly mtu = 1500;
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  sent = 0;
  last: Buffer = Buffer.alloc(0);
  send(header: Buffer): void {
    this.sent++;
    this.last = header;
  }
  close(): void {}
}

/** A PRNG of our own so every run sends the same packets. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** A batch as the TUN link holds it: one pool, each packet's start and end. */
export interface Batch {
  pool: Buffer;
  ranges: Uint32Array;
  count: number;
  /** Views of the packets, for preparing them (not for delivery). */
  views: Buffer[];
}

export function pooled(packets: Buffer[]): Batch {
  const pool = Buffer.concat(packets);
  const ranges = new Uint32Array(2 * packets.length);
  const views: Buffer[] = [];
  let off = 0;
  packets.forEach((p, i) => {
    ranges[2 * i] = off;
    ranges[2 * i + 1] = off + p.length;
    views.push(pool.subarray(off, off + p.length));
    off += p.length;
  });
  return { pool, ranges, count: packets.length, views };
}

/** Deliver a batch as TunLink does: the pool itself (Stack.receivePool). */
export function deliver(stack: Stack, b: Batch): void {
  stack.receivePool(b.pool, b.ranges, b.count);
}

/** --ms (CPU budget per case), --rounds, --only (a comma list of `cases`); exits on anything else. */
export function parseCaseArgs<C extends string>(name: string, argv: string[], cases: readonly C[]): { ms: number; rounds: number; only: C[] } {
  const o = { ms: 1500, rounds: 5, only: [...cases] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i] ?? '';
    if (a === '--ms') o.ms = Number(v);
    else if (a === '--rounds') o.rounds = Number(v);
    else if (a === '--only') o.only = v.split(',').filter((c): c is C => (cases as readonly string[]).includes(c));
    else {
      process.stderr.write(`${name}: unknown option ${a} (--ms N --rounds N --only ${cases.join(',')})\n`);
      process.exit(2);
    }
  }
  return o;
}

/** A Stack on a VirtualClock (time stands still unless advanced) behind a SinkLink; owners' events wait in `pending`. */
export interface Rig {
  stack: Stack;
  link: SinkLink;
  clock: VirtualClock;
  pending: Array<() => void>;
}

export function makeRig(addr: string, addr6?: string): Rig {
  const clock = new VirtualClock(1_000_000);
  const link = new SinkLink();
  const pending: Array<() => void> = [];
  const stack = new Stack({ link, addr, addr6, clock, isnKey: Buffer.alloc(32, 7), defer: (fn) => pending.push(fn) });
  return { stack, link, clock, pending };
}

/** Hand the owners their events (what the next tick would do). */
export function runDeferred(r: Rig): void {
  while (r.pending.length > 0) r.pending.shift()!();
}
