/**
 * NewReno's window rules: slow start and congestion avoidance (RFC 5681
 * §3.1), halving on a loss event (§3.2, eq. 4), the loss window after a
 * timeout, and restart after idle (§4.1). The recovery procedure itself
 * (RFC 6582 partial ACKs) lives in the sender.
 */
import { initialWindow, type CongestionControl } from './congestion.js';

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  private mss: number;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance. */
  private bytesAcked = 0;

  /** @param iw initial window in segments (Linux's route initcwnd). */
  constructor(mss: number, private readonly iw = 10) {
    this.mss = mss;
    this.cwnd = initialWindow(mss, iw);
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, initialWindow(mss, this.iw));
  }

  onAck(acked: number, cwndLimited: boolean): void {
    if (!cwndLimited) return; // RFC 7661 §4.3: an unused window does not grow (Linux tcp_reno_cong_avoid)
    if (this.cwnd < this.ssthresh) {
      // Slow start by every acknowledged byte (RFC 3465 byte counting without
      // the per-ACK limit L, as Linux's tcp_slow_start), so cwnd doubles per
      // RTT with delayed and stretch ACKs; the rest beyond ssthresh goes on
      // into congestion avoidance.
      const grown = Math.min(this.cwnd + acked, this.ssthresh);
      acked -= grown - this.cwnd;
      this.cwnd = grown;
      if (acked <= 0) return;
    }
    // Congestion avoidance: one SMSS per cwnd of acknowledged bytes (RFC 5681 eq. 3, byte counting).
    this.bytesAcked += acked;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onCongestionEvent(inFlight: number): void {
    // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = ssthresh (RFC 6675 §5 step 4.2).
    this.ssthresh = Math.max(inFlight / 2, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onRecoveryExit(): void {
    this.cwnd = this.ssthresh;
  }

  onTimeout(inFlight: number): void {
    this.ssthresh = Math.max(inFlight / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.bytesAcked = 0;
  }

  undo(priorCwnd: number, priorSsthresh: number): void {
    this.cwnd = Math.max(this.cwnd, priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, priorSsthresh);
  }

  onIdleRestart(): void {
    // RFC 5681 §4.1: restart window = min(IW, cwnd).
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
  }
}
