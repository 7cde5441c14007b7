/**
 * The SACK scoreboard of the sender (RFC 2018, RFC 6675 §4): which ranges
 * above SND.UNA the receiver has reported holding. Ranges are kept sorted,
 * disjoint and merged; everything at or below SND.UNA is forgotten as the
 * cumulative ACK moves.
 */
import { seqAdd, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from '../wire/seq.js';

export class Scoreboard {
  /** Sorted, disjoint [start, end) ranges, all above SND.UNA. */
  private ranges: Array<[number, number]> = [];
  /** Bytes covered by `ranges`. */
  sackedBytes = 0;

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** The highest SACKed sequence number + 1, or `fallback` when nothing is SACKed. */
  highestSacked(fallback: number): number {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1]![1] : fallback;
  }

  /**
   * Take the blocks of one ACK. Blocks below SND.UNA or beyond SND.MAX are
   * D-SACKs (RFC 2883) or bogus; they are ignored and counted by the caller.
   * Returns the number of blocks that reported something new.
   */
  update(blocks: ReadonlyArray<readonly [number, number]>, sndUna: number, sndMax: number): { fresh: number; ignored: number } {
    let fresh = 0;
    let ignored = 0;
    for (const [left, right] of blocks) {
      if (!seqLt(left, right) || seqLe(right, sndUna) || seqGt(right, sndMax) || seqLt(left, sndUna)) {
        ignored++;
        continue;
      }
      if (this.add(left, right)) fresh++;
    }
    return { fresh, ignored };
  }

  /** Add [left, right); true if any byte was new. */
  private add(left: number, right: number): boolean {
    const before = this.sackedBytes;
    const out: Array<[number, number]> = [];
    let l = left;
    let r = right;
    let placed = false;
    for (const range of this.ranges) {
      if (seqLt(range[1], l)) out.push(range);
      else if (seqGt(range[0], r)) {
        if (!placed) {
          out.push([l, r]);
          placed = true;
        }
        out.push(range);
      } else {
        l = seqMin(l, range[0]);
        r = seqMax(r, range[1]);
      }
    }
    if (!placed) out.push([l, r]);
    this.ranges = out;
    this.sackedBytes = out.reduce((n, [a, b]) => n + seqSub(b, a), 0);
    return this.sackedBytes > before;
  }

  /** The cumulative ACK moved to `sndUna`: forget what lies below it. */
  ackTo(sndUna: number): void {
    if (this.ranges.length === 0) return;
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.ranges) {
      if (seqLe(b, sndUna)) continue;
      out.push([seqMax(a, sndUna), b]);
    }
    this.ranges = out;
    this.sackedBytes = out.reduce((n, [a, b]) => n + seqSub(b, a), 0);
  }

  /** Whether `seq` lies inside a SACKed range. */
  isSacked(seq: number): boolean {
    for (const [a, b] of this.ranges) {
      if (seqLt(seq, a)) return false;
      if (seqLt(seq, b)) return true;
    }
    return false;
  }

  /** The SACKed range holding `seq` (blocks of several ACKs merged), or null. */
  rangeAround(seq: number): readonly [number, number] | null {
    for (const r of this.ranges) {
      if (seqLt(seq, r[0])) return null;
      if (seqLt(seq, r[1])) return r;
    }
    return null;
  }

  /** End of the SACKed range holding `seq` (the next unSACKed byte), or `seq` itself. */
  skipSacked(seq: number): number {
    for (const [a, b] of this.ranges) {
      if (seqLt(seq, a)) return seq;
      if (seqLt(seq, b)) return b;
    }
    return seq;
  }

  /** Start of the first SACKed range above `seq`, or `limit`. */
  nextSackedAfter(seq: number, limit: number): number {
    for (const [a] of this.ranges) if (seqGt(a, seq)) return seqMin(a, limit);
    return limit;
  }

  /** SACKed bytes strictly above `seq` and the number of ranges they form (RFC 6675 IsLost). */
  sackedAbove(seq: number): { bytes: number; ranges: number } {
    let bytes = 0;
    let ranges = 0;
    const above = seqAdd(seq, 1);
    for (const [a, b] of this.ranges) {
      if (seqLe(b, above)) continue;
      bytes += seqSub(b, seqMax(a, above));
      ranges++;
    }
    return { bytes, ranges };
  }

  /**
   * RFC 6675 IsLost is monotone: a lower sequence number has at least as much
   * SACKed above it. So one boundary answers it for every SeqNum: IsLost(s)
   * holds exactly when s < the returned value (or never, for `none`).
   * `dupThresh` ranges above, or more than (dupThresh - 1) * mss bytes above.
   */
  lostBoundary(mss: number, dupThresh: number, none: number): number {
    let boundary = none;
    const n = this.ranges.length;
    // Range criterion: s lies below the end of the dupThresh-th range from the top (minus one).
    if (n >= dupThresh) boundary = seqAdd(this.ranges[n - dupThresh]![1], -1);
    // Byte criterion: walk down from the top until more than T bytes lie above.
    const t = (dupThresh - 1) * mss;
    let acc = 0;
    for (let i = n - 1; i >= 0; i--) {
      const [a, b] = this.ranges[i]!;
      const len = seqSub(b, a);
      if (acc + len > t) {
        const byBytes = seqAdd(b, -(t - acc) - 1);
        if (boundary === none || seqGt(byBytes, boundary)) boundary = byBytes;
        break;
      }
      acc += len;
    }
    return boundary;
  }

  /** Call `fn(start, end)` for every unSACKed gap of [from, to). */
  forEachGap(from: number, to: number, fn: (start: number, end: number) => void): void {
    let x = from;
    for (const [a, b] of this.ranges) {
      if (!seqLt(x, to)) return;
      if (seqLe(b, x)) continue;
      if (seqLt(x, a)) fn(x, seqMin(a, to));
      x = seqMax(x, b);
    }
    if (seqLt(x, to)) fn(x, to);
  }

  clear(): void {
    this.ranges = [];
    this.sackedBytes = 0;
  }

  /** For tests. */
  toArray(): Array<[number, number]> {
    return this.ranges.map(([a, b]) => [a, b]);
  }
}

/**
 * RFC 2883 §4: the first block of an ACK is a D-SACK when it lies at or
 * below the cumulative ACK, or inside the second block.
 */
export function isDsack(blocks: ReadonlyArray<readonly [number, number]>, ack: number): boolean {
  const first = blocks[0];
  if (first === undefined) return false;
  if (seqLe(first[1], ack)) return true;
  const second = blocks[1];
  return second !== undefined && seqLe(second[0], first[0]) && seqLe(first[1], second[1]);
}
