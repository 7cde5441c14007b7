/**
 * The receive buffer (RFC 9293 §3.3.1, receive sequence space): in-order bytes
 * the application has not read yet, plus out-of-order segments waiting for
 * the hole before them to fill. Everything it holds lies inside the window we
 * advertised, so its size is bounded by the receive buffer size.
 */
import { seqAdd, seqGt, seqLe, seqSub } from '../wire/seq.js';
import { copyPayload } from './copy-pool.js';

interface Piece {
  seq: number;
  data: Buffer;
  fin: boolean;
}

export class ReceiveBuffer {
  /** In-order data ready for the application. */
  private ready: Buffer[] = [];
  private readyBytes = 0;
  /** Out-of-order pieces sorted by seq, never overlapping each other. */
  private ooo: Piece[] = [];
  private oooBytes = 0;

  constructor(readonly capacity: number) {}

  /** Bytes held (ready + out of order): the window shrinks by this much. */
  get used(): number {
    return this.readyBytes + this.oooBytes;
  }

  get readable(): number {
    return this.readyBytes;
  }

  get hasOutOfOrder(): boolean {
    return this.ooo.length > 0;
  }

  /** Append in-order data. */
  pushReady(data: Buffer): void {
    if (data.length === 0) return;
    this.ready.push(data);
    this.readyBytes += data.length;
  }

  /** Take up to `max` bytes of in-order data (all if omitted). */
  take(max = Infinity): Buffer[] {
    if (max >= this.readyBytes) {
      const out = this.ready;
      this.ready = [];
      this.readyBytes = 0;
      return out;
    }
    const out: Buffer[] = [];
    let left = max;
    while (left > 0) {
      const b = this.ready[0]!;
      if (b.length <= left) {
        out.push(b);
        this.ready.shift();
        left -= b.length;
      } else {
        out.push(b.subarray(0, left));
        this.ready[0] = b.subarray(left);
        left = 0;
      }
    }
    this.readyBytes -= max;
    return out;
  }

  /**
   * Store an out-of-order piece starting after RCV.NXT. Overlaps with pieces
   * already held are trimmed away (first copy wins). The data is copied: the
   * link's buffer may be reused after the batch.
   */
  storeOutOfOrder(seq: number, data: Buffer, fin: boolean): void {
    let start = seq;
    let bytes = data;
    const list = this.ooo;
    let i = 0;
    while (i < list.length && seqLe(seqAdd(list[i]!.seq, list[i]!.data.length), start)) i++;
    // Walk the pieces that may overlap and fill only the gaps between them.
    while (bytes.length > 0 || fin) {
      const next = list[i];
      if (next === undefined || seqLe(seqAdd(start, bytes.length), next.seq)) {
        this.insertAt(i, start, bytes, fin);
        return;
      }
      if (seqGt(next.seq, start)) {
        const gap = seqSub(next.seq, start);
        this.insertAt(i, start, bytes.subarray(0, gap), false);
        i++;
        bytes = bytes.subarray(gap);
        start = next.seq;
      }
      // Skip what `next` already covers.
      const covered = Math.min(bytes.length, seqSub(seqAdd(next.seq, next.data.length), start));
      bytes = bytes.subarray(covered);
      start = seqAdd(start, covered);
      if (fin && bytes.length === 0) next.fin = next.fin || seqAdd(next.seq, next.data.length) === start;
      if (bytes.length === 0) return;
      i++;
    }
  }

  private insertAt(i: number, seq: number, data: Buffer, fin: boolean): void {
    if (data.length === 0 && !fin) return;
    this.ooo.splice(i, 0, { seq, data: copyPayload(data), fin });
    this.oooBytes += data.length;
  }

  /**
   * After RCV.NXT advanced to `rcvNxt`, move pieces that are now in order to
   * the ready list. Returns the new RCV.NXT and whether a FIN was reached.
   */
  drainInOrder(rcvNxt: number): { rcvNxt: number; fin: boolean } {
    let fin = false;
    while (this.ooo.length > 0) {
      const p = this.ooo[0]!;
      if (seqGt(p.seq, rcvNxt)) break;
      this.ooo.shift();
      this.oooBytes -= p.data.length;
      const skip = seqSub(rcvNxt, p.seq);
      if (skip < p.data.length) {
        this.pushReady(p.data.subarray(skip));
        rcvNxt = seqAdd(p.seq, p.data.length);
      }
      if (p.fin && seqAdd(p.seq, p.data.length) === rcvNxt) {
        fin = true;
        break;
      }
    }
    return { rcvNxt, fin };
  }

  /** The held out-of-order pieces as they are stored, [left, right) each. */
  outOfOrderRanges(): Array<[number, number]> {
    return this.ooo.map((p) => [p.seq, seqAdd(p.seq, p.data.length)]);
  }

  /** The blocks to report in SACK options: adjacent pieces joined; a FIN alone
   * holds no data and is no block (RFC 2018 §3: blocks are non-empty). */
  sackRanges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const p of this.ooo) {
      if (p.data.length === 0) continue;
      const end = seqAdd(p.seq, p.data.length);
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === p.seq) last[1] = end;
      else out.push([p.seq, end]);
    }
    return out;
  }

  clear(): void {
    this.ready = [];
    this.readyBytes = 0;
    this.ooo = [];
    this.oooBytes = 0;
  }
}
