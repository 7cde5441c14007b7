/**
 * The receive buffer (RFC 9293 §3.3.1, receive sequence space): in-order bytes
 * the application has not read yet, plus out-of-order data waiting for the
 * hole before it to fill. Everything it holds lies inside the window we
 * advertised, so its bytes are bounded by the receive buffer size; the number
 * of pieces is bounded too, since a peer chooses how finely it cuts them:
 *
 *  - out of order: ranges in an AVL tree (ooo-tree.ts), O(log n) per
 *    segment; each chunk is charged a fixed overhead, and a chunk that would
 *    exceed the allowance is dropped (never reneging on what we SACKed);
 *  - in order: small payloads are packed into shared regions (copy-pool.ts),
 *    so one-byte segments make about one Buffer per 2 KiB, not one per byte.
 *
 * Payloads are copied: the link's buffer may be reused after the batch.
 */
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from '../wire/seq.js';
import { PACK_MAX, PayloadPacker, copyPayload } from './copy-pool.js';
import { OooRange, OooTree, type Chunk } from './ooo-tree.js';

/**
 * What one out-of-order chunk costs beyond its bytes, an estimate like
 * Linux's skb truesize: measured 218 bytes of heap per one-byte piece held
 * in a range of its own (a Buffer view is ~100 of them; the chunk, the range
 * node and its boxed sequence numbers the rest), with
 * `node --expose-gc dist/scripts/bench/reassembly.js --ofo 40000 --rcvbuf 33554432`.
 */
export const CHUNK_OVERHEAD = 256;
/** The overhead may take half the buffer on top of the data, as Linux keeps
 * part of rcvbuf for skb overhead (tcp_adv_win_scale = 1: half): capacity/512
 * chunks, 512 for the default 256 KiB, so a full window of 536-byte segments
 * (488 chunks) still fits. */
const OVERHEAD_SHARE = 2;
/** Small buffers still get this many chunks. */
const MIN_CHUNKS = 64;

export class ReceiveBuffer {
  /** In-order data ready for the application. */
  private ready: Buffer[] = [];
  private readyBytes = 0;
  /** Out-of-order data: maximal runs of held bytes, none touching another. */
  private readonly ooo = new OooTree();
  private oooBytes = 0;
  private oooChunks = 0;
  /** A FIN held out of order, at `finSeq`. No held byte lies at or beyond it. */
  private finHeld = false;
  private finSeq = 0;
  private readonly packer = new PayloadPacker();
  /** The most out-of-order chunks held at once. */
  maxChunks = 0;
  private cap = 0;

  constructor(capacity: number) {
    this.grow(capacity);
  }

  /** Bytes of data the buffer may hold. */
  get capacity(): number {
    return this.cap;
  }

  /** Receive-buffer autotuning (autotune.ts) makes room for more; the buffer never shrinks. */
  grow(capacity: number): void {
    if (!(capacity > this.cap)) return;
    this.cap = capacity;
    this.maxChunks = Math.max(MIN_CHUNKS, Math.floor(capacity / OVERHEAD_SHARE / CHUNK_OVERHEAD));
  }

  /** Bytes held (ready + out of order): the window shrinks by this much. */
  get used(): number {
    return this.readyBytes + this.oooBytes;
  }

  get readable(): number {
    return this.readyBytes;
  }

  get hasOutOfOrder(): boolean {
    return this.ooo.size > 0 || this.finHeld;
  }

  /** Out-of-order chunks held now (each charged CHUNK_OVERHEAD). */
  get outOfOrderChunks(): number {
    return this.oooChunks;
  }

  /** Nodes of the out-of-order tree visited so far (tests check the cost grows as log n). */
  get treeSteps(): number {
    return this.ooo.steps;
  }

  /** Append in-order data (copied). */
  pushInOrder(data: Buffer): void {
    if (data.length > 0) this.pushReady(data, false);
  }

  /**
   * Append to the ready list. Small pieces are packed after the last one
   * when there is one (a lone small piece stays a plain copy, so a reader
   * that keeps up never reserves a region); `owned` pieces are ours already.
   */
  private pushReady(data: Buffer, owned: boolean): void {
    const n = data.length;
    const last = this.ready.length - 1;
    let b: Buffer;
    if (n <= PACK_MAX && last >= 0) {
      const joined = this.packer.extend(this.ready[last]!, data);
      if (joined !== null) {
        this.ready[last] = joined;
        this.readyBytes += n;
        return;
      }
      b = this.packer.copy(data);
    } else {
      b = owned ? data : copyPayload(data);
    }
    this.ready.push(b);
    this.readyBytes += n;
  }

  /** Take up to `max` bytes of in-order data (all if omitted). */
  take(max = Infinity): Buffer[] {
    if (max >= this.readyBytes) {
      const out = this.ready;
      this.ready = [];
      this.readyBytes = 0;
      if (!this.hasOutOfOrder) this.packer.release();
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
   * Store out-of-order data starting after RCV.NXT. Bytes already held are
   * skipped (first copy wins); the rest joins the ranges it touches. Returns
   * false if some of it was dropped because the out-of-order chunks are at
   * their bound (the sender will retransmit it; nothing SACKed is lost).
   */
  storeOutOfOrder(seq: number, data: Buffer, fin: boolean): boolean {
    let end = seqAdd(seq, data.length);
    // One FIN per sequence space, and nothing after it: whichever came first wins.
    if (this.finHeld && seqGt(end, this.finSeq)) {
      data = data.subarray(0, Math.max(0, seqSub(this.finSeq, seq)));
      end = seqAdd(seq, data.length);
      fin = false;
    }
    if (fin && !this.finHeld) {
      const last = this.ooo.last();
      if (last === null || seqLe(last.end, end)) {
        this.finHeld = true;
        this.finSeq = end;
      }
    }
    if (data.length === 0) return true;
    const p = this.ooo.floor(seq);
    let target = p !== null && seqGe(p.end, seq) ? p : null;
    let cur = target !== null ? target.end : seq;
    while (seqLt(cur, end)) {
      // Fill the gap up to the next range (or the end), then join that range if touched.
      const q = this.ooo.above(cur);
      const gapEnd = q !== null && seqLt(q.start, end) ? q.start : end;
      const piece = data.subarray(seqSub(cur, seq), seqSub(gapEnd, seq));
      if (target === null) {
        if (this.oooChunks >= this.maxChunks) return false;
        target = new OooRange(cur, gapEnd, { data: this.packer.copy(piece), next: null });
        this.ooo.insert(target);
        this.oooChunks++;
      } else if (!this.append(target, piece)) {
        return false;
      }
      this.oooBytes += piece.length;
      if (q === null || seqGt(q.start, end)) break;
      this.ooo.remove(q);
      target.tail.next = q.head;
      target.tail = q.tail;
      target.end = q.end;
      cur = q.end;
    }
    return true;
  }

  /** Add `piece` at the end of `r`: into its last chunk when the packer can, else as a new chunk. */
  private append(r: OooRange, piece: Buffer): boolean {
    const joined = this.packer.extend(r.tail.data, piece);
    if (joined !== null) {
      r.tail.data = joined;
    } else {
      if (this.oooChunks >= this.maxChunks) return false;
      const c: Chunk = { data: this.packer.copy(piece), next: null };
      r.tail.next = c;
      r.tail = c;
      this.oooChunks++;
    }
    r.end = seqAdd(r.end, piece.length);
    return true;
  }

  /**
   * After RCV.NXT advanced to `rcvNxt`, move ranges that are now in order to
   * the ready list. Returns the new RCV.NXT and whether a FIN was reached.
   */
  drainInOrder(rcvNxt: number): { rcvNxt: number; fin: boolean } {
    for (let r = this.ooo.first(); r !== null && seqLe(r.start, rcvNxt); r = this.ooo.first()) {
      this.ooo.remove(r);
      this.oooBytes -= seqSub(r.end, r.start);
      let at = r.start;
      for (let c: Chunk | null = r.head; c !== null; c = c.next) {
        this.oooChunks--;
        const next = seqAdd(at, c.data.length);
        // Skip what the in-order segment already delivered.
        if (seqGt(next, rcvNxt)) this.pushReady(seqLt(at, rcvNxt) ? c.data.subarray(seqSub(rcvNxt, at)) : c.data, true);
        at = next;
      }
      if (seqGt(r.end, rcvNxt)) rcvNxt = r.end;
    }
    let fin = false;
    if (this.finHeld && seqLe(this.finSeq, rcvNxt)) {
      fin = this.finSeq === rcvNxt;
      this.finHeld = false;
    }
    return { rcvNxt, fin };
  }

  /** The held range [start, end) that contains `seq`, or null. */
  rangeAt(seq: number): [number, number] | null {
    const r = this.ooo.floor(seq);
    return r !== null && seqLt(seq, r.end) ? [r.start, r.end] : null;
  }

  /** The highest held range that starts below `seq`, or null. */
  rangeBelow(seq: number): [number, number] | null {
    const r = this.ooo.below(seq);
    return r !== null ? [r.start, r.end] : null;
  }

  /** The highest held range, or null. */
  lastRange(): [number, number] | null {
    const r = this.ooo.last();
    return r !== null ? [r.start, r.end] : null;
  }

  /** Whether [from, to) is held out of order already (a duplicate: D-SACK, RFC 2883 §4.2). */
  holds(from: number, to: number): boolean {
    const r = this.ooo.floor(from);
    return r !== null && seqLt(from, r.end) && seqLe(to, r.end);
  }

  /** The held out-of-order chunks as stored, [left, right) each (O(n), for tests). */
  outOfOrderRanges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const r of this.ooo) {
      let at = r.start;
      for (let c: Chunk | null = r.head; c !== null; c = c.next) {
        const next = seqAdd(at, c.data.length);
        out.push([at, next]);
        at = next;
      }
    }
    return out;
  }

  /** The blocks SACK options can report, lowest first: the held ranges (O(n), for tests). */
  sackRanges(): Array<[number, number]> {
    return Array.from(this.ooo, (r): [number, number] => [r.start, r.end]);
  }

  /**
   * Drop everything held out of order: SACK reneging (RFC 2018 §8), which
   * Linux does under memory pressure (tcp_prune_ofo_queue). The stack never
   * calls it (a piece that does not fit is dropped instead); simulations do,
   * to play a receiver that reneges.
   */
  renege(): void {
    this.ooo.clear();
    this.oooBytes = 0;
    this.oooChunks = 0;
    this.finHeld = false;
  }

  clear(): void {
    this.renege();
    this.ready = [];
    this.readyBytes = 0;
    this.packer.release();
  }
}
