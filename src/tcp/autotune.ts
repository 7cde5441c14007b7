/**
 * Receive-buffer autotuning, Linux's dynamic right-sizing
 * (tcp_rcv_space_adjust, tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts): once
 * per receiver-measured RTT, what the application read in that RTT is
 * compared with what it read in the one before; when it grew, the buffer
 * (and so the window we may offer) grows to twice the per-RTT delivery plus
 * a cushion of 16 segments, more while the sender is still in slow start,
 * up to a maximum (tcp_rmem[2]). A buffer set by the user is not tuned
 * (SO_RCVBUF locks Linux's too). Sans-IO: time is passed in.
 *
 * The receiver's RTT estimate: from the timestamps it echoes (our TSval,
 * 1 ms ticks), smoothed by 1/8, on segments of at least one full MSS, else
 * from the time a whole advertised window takes to arrive (the smaller wins).
 */

/** Linux TCP_INIT_CWND: the first measurement's baseline is 10 segments. */
const INIT_SEGMENTS = 10;
/** Cushion over twice the delivery (Linux: 16 * advmss). */
const CUSHION_SEGMENTS = 16;

export class RcvSpace {
  /** Bytes read in the last measured RTT (Linux rcvq_space.space). */
  space: number;
  /** The receiver's RTT estimate in ms (Linux rcv_rtt_est.rtt_us); 0: none yet. */
  rtt = 0;
  /** Bytes the application has read in all. */
  private copied = 0;
  /** `copied` and the time at the start of this measurement. */
  private mark = 0;
  private markAt: number;
  /** Window-based RTT measurement: RCV.NXT to reach, and since when (Linux rcv_rtt_est.seq/time). */
  private rttSeqEnd = 0;
  private rttSeqAt = -1;
  /** The last TSecr sampled: one sample per echo (Linux rcv_rtt_last_tsecr). */
  private lastTsEcr = -1;

  constructor(
    private readonly max: number,
    advMss: number,
    initialWindow: number,
    now: number,
  ) {
    // At least one segment: a first segment that filled the whole window must not leave it 0 (a divisor below).
    this.space = Math.max(advMss, Math.min(initialWindow, INIT_SEGMENTS * advMss));
    this.markAt = now;
  }

  /** Autotuning is on (the buffer may grow). */
  static enabled(capacity: number, max: number): boolean {
    return max > capacity;
  }

  /** Linux tcp_rcv_rtt_update: smoothed by 1/8 from the timestamps, the minimum from whole windows. */
  private update(sample: number, windowBased: boolean): void {
    const m = Math.max(sample, 1);
    if (this.rtt === 0) this.rtt = m;
    else if (windowBased) this.rtt = Math.min(this.rtt, m);
    else this.rtt += (m - this.rtt) / 8;
  }

  /**
   * In-order data arrived: `len` bytes, RCV.NXT after it, the RCV.WND we had
   * offered, `tsRtt` our TSval age when the segment echoes one (ms), `rcvMss`
   * the peer's full segment size as seen by the receiver.
   */
  onData(len: number, rcvNxt: number, rcvWnd: number, tsRtt: number | undefined, tsEcr: number | undefined, rcvMss: number, now: number): void {
    // Linux tcp_rcv_rtt_measure_ts: one sample per new echo, only from full-sized segments.
    if (tsRtt !== undefined && tsEcr !== undefined && tsEcr !== this.lastTsEcr && len >= rcvMss) {
      this.lastTsEcr = tsEcr;
      this.update(tsRtt, false);
    }
    // Linux tcp_rcv_rtt_measure: the time one advertised window takes to arrive.
    if (this.rttSeqAt >= 0 && ((rcvNxt - this.rttSeqEnd) | 0) < 0) return;
    if (this.rttSeqAt >= 0) this.update(now - this.rttSeqAt, true);
    this.rttSeqEnd = (rcvNxt + Math.max(rcvWnd, 1)) >>> 0;
    this.rttSeqAt = now;
  }

  /**
   * The application read `n` bytes (Linux tcp_rcv_space_adjust, from
   * tcp_recvmsg). Returns the buffer size to grow to, or 0 for no change.
   */
  onRead(n: number, capacity: number, advMss: number, now: number): number {
    this.copied += n;
    if (this.rtt === 0 || now - this.markAt < this.rtt) return 0;
    const copied = this.copied - this.mark;
    this.mark = this.copied;
    this.markAt = now;
    if (copied <= this.space) return 0;
    // Twice the per-RTT delivery (a loss costs one RTT) plus a cushion; twice
    // more the growth since the last RTT, as the sender may still double.
    let rcvwin = 2 * copied + CUSHION_SEGMENTS * advMss;
    rcvwin += 2 * Math.floor((rcvwin * (copied - this.space)) / this.space);
    this.space = copied;
    const next = Math.min(rcvwin, this.max);
    return next > capacity ? next : 0;
  }
}
