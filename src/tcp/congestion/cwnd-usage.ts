/**
 * Whether the flow is cwnd-limited, the guard on every window increase
 * (RFC 7661 §4.3: grow cwnd only while it is validated, i.e. in use;
 * RFC 9438 §5.8). Linux's rule (tcp_cwnd_validate, tcp_is_cwnd_limited):
 * per window of data (until SND.UNA passes the SND.NXT of the window's
 * start), remember whether a send was stopped by cwnd, and the most bytes
 * that were outstanding (SND.NXT - SND.UNA). Limited if a send was stopped by cwnd; in slow start
 * also while cwnd < 2 * that maximum, so cwnd may grow to twice what the
 * application really used, never beyond.
 */
import { seqLt } from '../../wire/seq.js';

export class CwndUsage {
  /** A send in the current window was stopped by cwnd (Linux is_cwnd_limited). */
  private stoppedByCwnd = false;
  /** The most bytes outstanding in the current window (Linux max_packets_out, in bytes). */
  private maxOut = 0;
  /** SND.NXT when the current window began (Linux cwnd_usage_seq). */
  private usageSeq = 0;
  private started = false;

  /**
   * After a transmit pass that sent something or found cwnd full:
   * `outstanding` bytes now, `stopped` when what is in flight fills cwnd.
   */
  validate(sndUna: number, sndNxt: number, outstanding: number, stopped: boolean): void {
    const windowOver = !this.started || !seqLt(sndUna, this.usageSeq);
    if (windowOver || stopped || (!this.stoppedByCwnd && outstanding > this.maxOut)) {
      this.started = true;
      this.stoppedByCwnd = stopped;
      this.maxOut = outstanding;
      this.usageSeq = sndNxt;
    }
  }

  /** Linux tcp_is_cwnd_limited, for a window of `cwnd` bytes. */
  limited(cwnd: number, ssthresh: number): boolean {
    if (this.stoppedByCwnd) return true;
    return cwnd < ssthresh && cwnd < 2 * this.maxOut;
  }
}
