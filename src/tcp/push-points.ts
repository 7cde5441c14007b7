/**
 * Where PSH goes. RFC 9293 §3.9.1 leaves it to the sender; this is Linux's
 * choice, kept as marks on the queued bytes (Linux keeps them on its skbs):
 *
 * - the last byte of each write is a push point (tcp_sendmsg -> tcp_push);
 * - in the middle of a long write, once more than half the peer's largest
 *   window has been queued since the last push point, the end of the next
 *   MSS-sized piece is one too (forced_push, so a receiver that waits for PSH
 *   still sees one per half window);
 * - a write that appends to bytes not yet sent takes the previous write's mark
 *   (Linux clears the PSH of the unsent tail skb it grows);
 * - a write with MSG_MORE leaves no mark at its end (tcp_push).
 *
 * A segment carries PSH when it ends at or covers a push point, however it is
 * cut (tcp_fragment moves PSH to the later half). Besides, Linux sets PSH on
 * every segment of more than one MSS (a TSO/GSO super-segment; the device keeps
 * it on the last piece): sender.ts applies that rule.
 *
 * Marks are counted in bytes since the connection began; they are bounded by
 * the send buffer (one per write, at most one per MSS within a write).
 */
export class PushPoints {
  /** Push points, ascending, as counts of bytes ever queued. */
  private points: number[] = [];
  private head = 0;
  /** Bytes ever acknowledged (the queue's start) and ever queued (its end). */
  private acked = 0;
  private queued = 0;

  /**
   * A write of `len` bytes joins the queue. `sentOffset` is SND.NXT's offset
   * in the queue (how much of it was sent), `maxWnd` the largest window the
   * peer offered, `mss` the segment size.
   */
  write(len: number, sentOffset: number, maxWnd: number, mss: number, mark = true): void {
    if (len <= 0) return;
    const last = this.points.length > this.head ? this.points[this.points.length - 1]! : -1;
    if (last === this.queued && last > this.acked + sentOffset) this.points.pop(); // unsent tail grows
    const end = this.queued + len;
    // forced_push: after each full skb (here one MSS), Linux marks it if more
    // than half the largest window lies past the last push point.
    const step = (Math.floor((maxWnd >> 1) / mss) + 1) * mss;
    for (let p = this.queued + step; p < end; p += step) this.points.push(p);
    if (mark) this.points.push(end); // not after MSG_MORE
    this.queued = end;
  }

  /** True when a push point lies in (offset, offset + len], offsets from SND.UNA. */
  covers(offset: number, len: number): boolean {
    const from = this.acked + offset;
    // First point after `from` (binary search: a long write may hold many).
    let lo = this.head;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! <= from) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.points.length && this.points[lo]! <= from + len;
  }

  /** `n` bytes were acknowledged. */
  consume(n: number): void {
    this.acked += n;
    while (this.head < this.points.length && this.points[this.head]! <= this.acked) this.head++;
    if (this.head === this.points.length) {
      this.points = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.points.length) {
      this.points = this.points.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.points = [];
    this.head = 0;
    this.acked = this.queued = 0;
  }
}
