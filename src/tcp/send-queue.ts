/**
 * The send buffer: bytes from SND.UNA on, both sent-but-unacknowledged and not
 * yet sent (RFC 9293 §3.3.1, send sequence space).
 *
 * push() copies the caller's bytes in, as the kernel does on write(2):
 * node:net lets a caller reuse its Buffer as soon as the write callback has
 * run, which is long before the bytes are acknowledged (calling back only at
 * the ACK would leave one write in flight per round trip). The bytes are
 * packed into blocks that only ever grow at their end, so a segment is a view
 * of one block (joined by a copy only where it spans two), and a view handed
 * to a link stays valid after the bytes are acknowledged.
 */
import { SlabAllocator } from '../wire/slab.js';

/** Blocks start small (a chatty connection holds little) and grow with the
 * queue up to MAX_BLOCK, so bulk data rarely spans two blocks. */
const MIN_BLOCK = 4 * 1024;
const MAX_BLOCK = 256 * 1024;
/** Blocks up to this size are carved from shared slabs (one allocation per 16). */
const SLAB_BLOCK_MAX = 16 * 1024;
const slabs = new SlabAllocator(64 * 1024, SLAB_BLOCK_MAX);

export class SendQueue {
  /** Views of the bytes held, in order; the last may still grow into `tail`. */
  private chunks: Buffer[] = [];
  /** Offset of SND.UNA inside chunks[0]. */
  private head = 0;
  private total = 0;
  /** The block that receives the next bytes, and how much of it is used. */
  private tail: Buffer | null = null;
  private tailUsed = 0;
  /**
   * Where the last read found its bytes: chunks[curIdx] starts `curStart`
   * bytes after chunks[0]'s start. Segments are read in increasing order, so
   * the next lookup starts here: O(1) per segment where a walk from the front
   * cost O(chunks) (issue 15). Pushes only append or lengthen the last chunk,
   * so it stays true; consume() moves it with the chunks it drops.
   */
  private curIdx = 0;
  private curStart = 0;

  /** Bytes held (unacknowledged + unsent). */
  get length(): number {
    return this.total;
  }

  /** Copy `data` to the end of the queue. */
  push(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      if (this.tail === null || this.tailUsed === this.tail.length) this.newBlock(data.length - off);
      const tail = this.tail!;
      const start = this.tailUsed;
      const n = Math.min(tail.length - start, data.length - off);
      tail.set(data.subarray(off, off + n), start);
      this.tailUsed = start + n;
      off += n;
      this.total += n;
      const i = this.chunks.length - 1;
      const last = this.chunks[i];
      if (start > 0 && last !== undefined && last.buffer === tail.buffer && last.byteOffset + last.length === tail.byteOffset + start) {
        // Still contiguous in the tail block: one longer view.
        this.chunks[i] = tail.subarray(last.byteOffset - tail.byteOffset, this.tailUsed);
      } else {
        this.chunks.push(tail.subarray(start, this.tailUsed));
      }
    }
  }

  private newBlock(need: number): void {
    let size = MIN_BLOCK;
    while (size < need + this.total && size < MAX_BLOCK) size *= 2;
    this.tail = slabs.alloc(size);
    this.tailUsed = 0;
  }

  /** Bytes [offset, offset+len) counted from SND.UNA. */
  read(offset: number, len: number): Buffer {
    const at = offset + this.head;
    let i = 0;
    let start = 0;
    if (this.curIdx < this.chunks.length && at >= this.curStart) {
      i = this.curIdx;
      start = this.curStart;
    }
    while (i < this.chunks.length && at - start >= this.chunks[i]!.length) {
      start += this.chunks[i]!.length;
      i++;
    }
    this.curIdx = i;
    this.curStart = start;
    let pos = at - start;
    const first = this.chunks[i]!;
    if (pos + len <= first.length) return first.subarray(pos, pos + len);
    const out = Buffer.allocUnsafe(len);
    let copied = 0;
    while (copied < len) {
      const c = this.chunks[i++]!;
      const n = Math.min(c.length - pos, len - copied);
      c.copy(out, copied, pos, pos + n);
      copied += n;
      pos = 0;
    }
    return out;
  }

  /** Drop `n` acknowledged bytes from the front. */
  consume(n: number): void {
    n = Math.min(n, this.total);
    this.total -= n;
    if (this.total === 0) {
      // Nothing left: an idle connection holds no block.
      this.clear();
      return;
    }
    n += this.head;
    let drop = 0;
    let dropped = 0;
    while (drop < this.chunks.length && n >= this.chunks[drop]!.length) {
      n -= this.chunks[drop]!.length;
      dropped += this.chunks[drop]!.length;
      drop++;
    }
    if (drop > 0) this.chunks.splice(0, drop);
    this.head = this.chunks.length > 0 ? n : 0;
    if (this.curIdx >= drop) {
      this.curIdx -= drop;
      this.curStart -= dropped;
    } else {
      this.curIdx = 0;
      this.curStart = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
    this.tail = null;
    this.tailUsed = 0;
    this.curIdx = 0;
    this.curStart = 0;
  }
}
