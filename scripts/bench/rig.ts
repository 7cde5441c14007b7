/**
 * Pieces the per-packet microbenchmarks share (rxcost.ts, hotpath.ts): a
 * link that drops what it is given, batches laid out in one pool as the TUN
 * link delivers them, and a seeded PRNG so every run sends the same packets.
 */
import type { Link } from '../../src/link/link.js';
import type { Stack } from '../../src/stack/stack.js';

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
