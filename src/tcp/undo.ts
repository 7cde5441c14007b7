/**
 * Undo of spurious window reductions, as Linux (tcp_try_undo_recovery,
 * tcp_try_undo_dsack, tcp_try_undo_loss). A recovery episode (fast
 * recovery or a retransmission timeout) remembers the window it reduced.
 * It was spurious, and the window comes back, when
 *  - every retransmission of the episode came back as a D-SACK (RFC 3708
 *    §3: the receiver got each segment twice, so none was lost), or
 *  - with timestamps, the ACK that ends it echoes a TSval older than the
 *    episode's first retransmission (Eifel detection, RFC 3522; RFC 4015's
 *    response restores cwnd and ssthresh): the originals arrived.
 */
import { seqGe, seqLt } from '../wire/seq.js';
import type { Timestamps } from './timestamps.js';

export class Undo {
  /** SND.UNA when the episode began (Linux undo_marker), or -1: nothing to undo. */
  marker = -1;
  /** Retransmitted segments of the episode not yet reported back by a D-SACK (Linux undo_retrans). */
  retrans = 0;
  /** When the episode's first retransmission went out (Linux retrans_stamp), or -1. */
  private firstRtxAt = -1;
  /** cwnd and ssthresh before the reduction (Linux prior_cwnd, prior_ssthresh). */
  priorCwnd = 0;
  priorSsthresh = 0;
  /** The last ACK echoed a TSval from before the first retransmission (Eifel). */
  echoBeforeRtx = false;

  /** A reduction begins: remember the window (ssthresh as Linux's tcp_current_ssthresh). */
  start(sndUna: number, cwnd: number, ssthresh: number): void {
    this.marker = sndUna;
    this.retrans = 0;
    this.firstRtxAt = -1;
    this.priorCwnd = cwnd;
    this.priorSsthresh = Math.max(ssthresh, (cwnd * 3) / 4);
  }

  /** A segment of the episode was sent again at `now`. */
  retransmitted(now: number): void {
    if (this.marker === -1) return;
    this.retrans++;
    if (this.firstRtxAt < 0) this.firstRtxAt = now;
  }

  /**
   * One ACK: a D-SACK for data at or above the marker cancels that many
   * retransmissions (RFC 3708 §3); its TSecr tells whether the originals arrived.
   */
  onAck(dsack: readonly [number, number] | null, mss: number, tsEcr: number | undefined, ts: Timestamps): void {
    if (this.marker === -1) return;
    if (dsack !== null && seqGe(dsack[0], this.marker) && this.retrans > 0) {
      this.retrans = Math.max(0, this.retrans - Math.ceil(((dsack[1] - dsack[0]) >>> 0) / mss));
    }
    this.echoBeforeRtx = this.firstRtxAt >= 0 && ts.enabled && tsEcr !== undefined && tsEcr !== 0 && seqLt(tsEcr, ts.value(this.firstRtxAt));
  }

  /** Linux tcp_may_undo: every retransmission D-SACKed, or the originals' echo. */
  get spurious(): boolean {
    return this.allDsacked || (this.marker !== -1 && this.echoBeforeRtx);
  }

  /** All retransmissions came back as D-SACKs (a later undo, after recovery ended). */
  get allDsacked(): boolean {
    return this.marker !== -1 && this.retrans === 0 && this.firstRtxAt >= 0;
  }

  end(): void {
    this.marker = -1;
  }
}
