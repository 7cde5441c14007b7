/**
 * The send buffer: bytes from SND.UNA on, both sent-but-unacknowledged and not
 * yet sent (RFC 9293 §3.3.1, send sequence space). Stored as the caller's own
 * Buffers, never copied on write; a segment is a view into one chunk unless it
 * spans chunks, and only then is it joined.
 */
export class SendQueue {
  private chunks: Buffer[] = [];
  /** Offset of SND.UNA inside chunks[0]. */
  private head = 0;
  private total = 0;

  /** Bytes held (unacknowledged + unsent). */
  get length(): number {
    return this.total;
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.total += data.length;
  }

  /** Bytes [offset, offset+len) counted from SND.UNA. */
  read(offset: number, len: number): Buffer {
    let i = 0;
    let pos = offset + this.head;
    while (i < this.chunks.length && pos >= this.chunks[i]!.length) {
      pos -= this.chunks[i]!.length;
      i++;
    }
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
    n += this.head;
    let drop = 0;
    while (drop < this.chunks.length && n >= this.chunks[drop]!.length) {
      n -= this.chunks[drop]!.length;
      drop++;
    }
    if (drop > 0) this.chunks.splice(0, drop);
    this.head = this.chunks.length > 0 ? n : 0;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
