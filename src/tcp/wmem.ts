/**
 * Send-buffer accounting as Linux does it (sk_wmem_queued against sk_sndbuf).
 *
 * Linux keeps the send queue as skbs and charges each its payload plus a
 * fixed overhead (the skb's truesize). tcp_sendmsg fills the tail skb up to
 * size_goal (tcp_xmit_size_goal: half the peer's largest window, at most
 * 64 KB) and starts a new one only while sk_wmem_queued < sk_sndbuf
 * (sk_stream_memory_free), so a write may overshoot the buffer by one skb.
 * tcp_write_xmit cuts a sent skb at the end of what it sends and where
 * each TSO packet ends (tso-size.ts, the same size the sender cuts its
 * super-segments to); an ACK frees whole skbs and trims the payload it
 * covers off a partly acknowledged one (tcp_trim_head). This file models
 * just those boundaries, as stream offsets, without touching the bytes
 * (send-queue.ts). Numbers are from packetdrill against Linux 6.18 under
 * CUBIC, sk_wmem_queued read with `ss -tm` (its `w`).
 */
import { GSO_MAX_SIZE } from './tso-size.js';

/** skb truesize minus payload charged per skb (Linux 6.18: an skb of 1000
 * bytes charges 1832). */
export const SKB_OVERHEAD = 832;

export class WriteQueueMem {
  /** End offsets (bytes written since the start) of the skbs, oldest at `head`.
   * 8 to start: 64 bytes stay in V8's heap, where a larger typed array would
   * cost every connection a backing store of its own (reserve() grows it). */
  private ends = new Float64Array(8);
  private head = 0;
  private tail = 0;
  /** Start offset of the oldest skb (everything before it is freed). */
  private start = 0;
  private written = 0;
  private acked = 0;
  /** End of the data handed to the link so far. */
  private sentTo = 0;

  /** sk_wmem_queued: unacknowledged payload plus the live skbs' overhead. */
  get queued(): number {
    return this.written - this.acked + (this.tail - this.head) * SKB_OVERHEAD;
  }

  /**
   * Bytes a write may add next (one step of tcp_sendmsg's loop): the rest of
   * an unsent tail skb, else a new size_goal skb if the queue is below
   * `sndBuf` (sk_stream_memory_free), else 0. Linux pushes each skb it
   * fills before it starts the next, so a writer queues one step at a time.
   */
  nextPiece(sndBuf: number, sizeGoal: number): number {
    const tailRoom = this.tailRoom(sizeGoal);
    if (tailRoom > 0) return tailRoom;
    return this.queued < sndBuf ? sizeGoal : 0;
  }

  /** Queue `n` bytes: into the tail skb while it has room, then new skbs. */
  append(n: number, sizeGoal: number): void {
    const fill = Math.min(n, this.tailRoom(sizeGoal));
    if (fill > 0) this.ends[this.tail - 1] += fill;
    this.written += fill;
    n -= fill;
    while (n > 0) {
      const len = Math.min(n, sizeGoal);
      this.push(this.written + len);
      this.written += len;
      n -= len;
    }
  }

  /**
   * Data up to `unackedOffset` bytes past SND.UNA went out. An skb is cut
   * every `tsoBytes` of what is sent (one TSO packet, tso-size.ts); `burstEnd` also cuts
   * at the end of what was sent (tcp_write_xmit's cwnd/window split).
   */
  sent(unackedOffset: number, tsoBytes: number, burstEnd: boolean): void {
    const to = this.acked + unackedOffset;
    if (to <= this.sentTo) return;
    let i = this.indexOf(this.sentTo);
    // Whole skbs sent: cut each every tsoBytes from its start.
    while (i < this.tail) {
      const s = i === this.head ? this.start : this.ends[i - 1]!;
      const cut = s + tsoBytes;
      if (cut < this.ends[i]! && cut <= to) {
        i = this.insert(i, cut);
      } else if (this.ends[i]! <= to) {
        // fully sent
      } else break;
      i++;
    }
    this.sentTo = to;
    if (burstEnd) this.cutAt(to);
  }

  /** The sender stopped: the skb holding the last byte sent is cut there. */
  private cutAt(to: number): void {
    const i = this.indexOf(to);
    if (i >= this.tail) return;
    const s = i === this.head ? this.start : this.ends[i - 1]!;
    if (s < to && to < this.ends[i]!) this.insert(i, to);
  }

  /** `n` more bytes acknowledged: fully acknowledged skbs are freed, a partly acknowledged one trimmed. */
  ack(n: number): void {
    this.acked += n;
    while (this.head < this.tail && this.ends[this.head]! <= this.acked) this.start = this.ends[this.head++]!;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  clear(): void {
    this.head = this.tail = 0;
    this.start = this.written = this.acked = this.sentTo = 0;
  }

  /** Room in the tail skb, if it exists, is unsent and below size_goal. */
  private tailRoom(sizeGoal: number): number {
    if (this.tail === this.head) return 0;
    const s = this.tail - 1 === this.head ? this.start : this.ends[this.tail - 2]!;
    if (s < this.sentTo) return 0;
    return Math.max(0, sizeGoal - (this.written - s));
  }

  /** Index of the skb holding offset `off` (the first whose end is beyond it).
   * From the tail: `off` is where sending stands, and few skbs lie unsent. */
  private indexOf(off: number): number {
    let i = this.tail;
    while (i > this.head && this.ends[i - 1]! > off) i--;
    return i;
  }

  /** Split skb i at `at` (tso_fragment: the new skb is charged its overhead). */
  private insert(i: number, at: number): number {
    const rel = i - this.head;
    this.reserve(); // may move the ring to index 0
    i = this.head + rel;
    this.ends.copyWithin(i + 1, i, this.tail);
    this.ends[i] = at;
    this.tail++;
    return i;
  }

  private push(end: number): void {
    this.reserve();
    this.ends[this.tail++] = end;
  }

  private reserve(): void {
    if (this.tail < this.ends.length) return;
    if (this.head > 0) {
      this.ends.copyWithin(0, this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
      if (this.tail < this.ends.length) return;
    }
    const bigger = new Float64Array(this.ends.length * 2);
    bigger.set(this.ends);
    this.ends = bigger;
  }
}

/** tcp_xmit_size_goal: how large tcp_sendmsg lets an skb grow. */
export function sizeGoal(mss: number, maxSndWnd: number): number {
  // tcp_bound_to_half_wnd
  const cutoff = maxSndWnd > 536 ? maxSndWnd >> 1 : maxSndWnd;
  const bound = cutoff > 0 && GSO_MAX_SIZE > cutoff ? Math.max(cutoff, 68) : GSO_MAX_SIZE;
  return Math.max(mss, bound - (bound % mss));
}
