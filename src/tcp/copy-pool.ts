/**
 * Copies of received payloads. The link may reuse a packet's memory once its
 * batch is processed, so the bytes we keep for the application must be
 * copied; one Buffer allocation per 1460-byte segment was the largest item of
 * the receive path's profile (measured: 3.9 -> 3.2 µs of JavaScript per
 * segment in batches of 16 with slabs). 16 KiB slabs (11 full segments)
 * measured as fast as 64 KiB and pin less; super-segments get their own.
 */
import { SlabAllocator } from '../wire/slab.js';

const slabs = new SlabAllocator(16 * 1024, 4096);

/** A copy of `data` that stays valid after the caller's memory is reused. */
export function copyPayload(data: Uint8Array): Buffer {
  const out = slabs.alloc(data.length);
  out.set(data);
  return out;
}

/** Payloads up to this size are packed; larger ones are worth a Buffer of their own. */
export const PACK_MAX = 512;
/** Bytes reserved at a time for packing (a quarter of them may go unused). */
const REGION = 2048;
const EMPTY = Buffer.alloc(0);

/**
 * Small payloads copied back to back into a region that only this packer
 * writes, so that a copy which lands right after an earlier one can extend
 * that Buffer instead of making another. A Buffer view costs about 100
 * bytes of heap, so a peer sending one-byte segments that nobody reads would
 * otherwise make ~116 bytes of memory per byte held (scripts/bench/reassembly.ts).
 * Bytes once handed out are never written again: only the region past `fill` is.
 */
export class PayloadPacker {
  private region: Buffer = EMPTY;
  private fill = 0;

  /** Copy `data` to the region's free space (the caller checked it fits); returns where. */
  private place(data: Uint8Array): number {
    const at = this.fill;
    this.region.set(data, at);
    this.fill = at + data.length;
    return at;
  }

  /**
   * `prev` extended by a copy of `data`, when `prev` ends exactly where the
   * region's free space begins and `data` is small and fits; else null.
   */
  extend(prev: Buffer, data: Uint8Array): Buffer | null {
    const n = data.length;
    if (n > PACK_MAX || this.fill + n > this.region.length) return null;
    const r = this.region;
    if (prev.buffer !== r.buffer || prev.byteOffset + prev.length !== r.byteOffset + this.fill) return null;
    this.place(data);
    // A view from prev's start (which may lie before the region, in memory we filled earlier).
    return Buffer.from(r.buffer, prev.byteOffset, prev.length + n);
  }

  /** A copy of `data`: packed into the region when small, else a slab copy of its own. */
  copy(data: Uint8Array): Buffer {
    const n = data.length;
    if (n > PACK_MAX) return copyPayload(data);
    if (this.fill + n > this.region.length) {
      this.region = slabs.alloc(REGION);
      this.fill = 0;
    }
    const at = this.place(data);
    return this.region.subarray(at, at + n);
  }

  /** Forget the region (what was handed out stays valid): an idle connection pins no slab. */
  release(): void {
    this.region = EMPTY;
    this.fill = 0;
  }
}
