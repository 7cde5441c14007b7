/**
 * Small buffers carved from shared slabs: one allocation per slab instead of
 * one per packet, like Node's own Buffer pool. A slab is collected once no
 * buffer carved from it is referenced any more, so a buffer that is kept
 * pins at most its slab. Used where every packet needs memory of its own:
 * received payloads (tcp/copy-pool.ts) and packets a link keeps (link.ts).
 */
export class SlabAllocator {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;

  /** `slabBytes` per slab; requests above `pooledMax` get a buffer of their own. */
  constructor(
    private readonly slabBytes: number,
    private readonly pooledMax: number,
  ) {}

  /** `n` bytes, uninitialized. */
  alloc(n: number): Buffer {
    if (n > this.pooledMax) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + n);
    this.used = (this.used + n + 7) & ~7; // 8-byte aligned starts, like the TUN pool
    return out;
  }
}
