/**
 * Proportional Rate Reduction (RFC 6937 §3), the PRR-SSRB variant, as
 * Linux's tcp_cwnd_reduction: during fast recovery the sender does not
 * halve at once and then wait (RFC 6675: nothing is sent until pipe falls
 * below the new cwnd, then a burst) but sends in proportion to what is
 * delivered: ssthresh/RecoverFS of it while pipe is above ssthresh, and
 * slow start back up to ssthresh (at most one segment more than delivered)
 * once pipe is below it. Its answer is a window, pipe + sndcnt, that
 * recovery.ts uses in place of cwnd while recovery lasts.
 */
export class Prr {
  /** prr_delivered: bytes delivered to the receiver since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent since recovery began. */
  out = 0;
  /** RecoverFS; as Linux, the cwnd before the reduction (prior_cwnd). */
  recoverFs = 1;
  /** The window to send under until the next ACK: pipe + sndcnt. */
  window = 0;

  /** RFC 6937 "on entering recovery". */
  start(priorCwnd: number, pipe: number, mss: number): void {
    this.delivered = 0;
    this.out = 0;
    this.recoverFs = Math.max(priorCwnd, 1);
    this.window = pipe + mss; // the fast retransmit goes at once
  }

  /**
   * RFC 6937 "on every ACK during recovery": `newlyDelivered` bytes ACKed or
   * SACKed for the first time, `pipe` after the ACK's marks.
   */
  onAck(newlyDelivered: number, pipe: number, ssthresh: number, mss: number, sndUnaAdvanced: boolean, newlyLost: boolean): void {
    if (newlyDelivered <= 0) return;
    this.delivered += newlyDelivered;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional part: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      // PRR-SSRB: as much as was delivered, one segment more on a cumulative
      // ACK that showed no new loss (Linux), never beyond ssthresh.
      sndcnt = Math.max(this.delivered - this.out, newlyDelivered);
      if (sndUnaAdvanced && !newlyLost) sndcnt += mss;
      sndcnt = Math.min(ssthresh - pipe, sndcnt);
    }
    // The first retransmission is never held back (Linux: a forced fast retransmit).
    if (this.out === 0) sndcnt = Math.max(sndcnt, mss);
    this.window = pipe + Math.max(sndcnt, 0);
  }

  /** Bytes sent (new or again) during recovery. */
  sent(bytes: number): void {
    this.out += bytes;
  }
}
