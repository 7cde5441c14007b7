/**
 * Slow start and congestion avoidance of RFC 5681 §3.1 (fast retransmit and
 * NewReno recovery, RFC 6582, come with loss recovery).
 */
import type { CongestionControl } from './congestion.js';

export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  private mss: number;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance. */
  private bytesAcked = 0;

  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, initialWindow(mss));
  }

  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start, with appropriate byte counting limited to 1 SMSS per ACK (RFC 5681 eq. 2).
      this.cwnd += Math.min(acked, this.mss);
      return;
    }
    // Congestion avoidance: about one SMSS per RTT (RFC 5681 eq. 3, byte counting variant).
    this.bytesAcked += acked;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onTimeout(inFlight: number): void {
    // RFC 5681 eq. 4, and cwnd = 1 SMSS (loss window).
    this.ssthresh = Math.max(inFlight / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.bytesAcked = 0;
  }
}

/** RFC 5681 §3.1 initial window (Linux uses 10 segments, RFC 6928). */
export function initialWindow(mss: number): number {
  return 10 * mss;
}
