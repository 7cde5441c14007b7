/**
 * Pacing: the sender spreads a window's segments over the round trip at a
 * pacing rate instead of sending them in one burst. A rate and the earliest
 * time of the next send (Linux's sk_pacing_rate and tcp_wstamp_ns, internal
 * pacing); the TCB reports that time as a deadline and the stack's one
 * scheduler calls back (src/tcp stays sans-IO).
 *
 * The rate follows Linux's tcp_update_pacing_rate: 200 % of cwnd/SRTT in
 * slow start (while cwnd < ssthresh/2) and 120 % after, so pacing never
 * holds the window back, it only removes the bursts. A congestion control
 * that knows its rate (BBR) may set it instead.
 *
 * Linux paces CUBIC only under the fq qdisc or when the algorithm asks for
 * it; its default qdisc (fq_codel) does not, so pacing is off by default
 * here too (TcpConfig.pacing). The rate is kept all the same, as Linux keeps
 * sk_pacing_rate: it sizes TSO packets (tso-size.ts).
 */

/** Linux net.ipv4.tcp_pacing_ss_ratio and tcp_pacing_ca_ratio, in percent. */
export const PACING_SS_RATIO = 200;
export const PACING_CA_RATIO = 120;
/**
 * A segment may leave this early (ms): the scheduler's timers have
 * millisecond granularity, so each wakeup sends up to a millisecond's worth
 * of data, as Linux's fq releases a small quantum at once.
 */
export const PACING_SLACK_MS = 1;
/**
 * A wakeup that comes late (Node's timers fire a millisecond or more after
 * their time, several on a loaded machine) sends everything that fell due
 * meanwhile, so a late timer does not lower the rate: Linux's hrtimers are
 * precise to microseconds and forgive the rest (tcp_update_skb_after_send's
 * credit, fq's drift allowance); a userspace pacer must catch up instead.
 * At most this many ms of sending at once (a bounded burst).
 */
export const PACING_MAX_CREDIT_MS = 10;

export class Pacer {
  /** Pacing rate in bytes per ms (0: not yet known, nothing is held back). */
  rate = 0;
  /** Earliest time the next segment may leave (ms). */
  nextSendAt = 0;
  /** The sender is waiting for nextSendAt (its wakeup is armed): the time a late wakeup overslept is owed. */
  private held = false;

  /** Linux tcp_update_pacing_rate: ratio * max(cwnd, in flight) / SRTT. */
  updateFromCwnd(cwnd: number, ssthresh: number, inFlight: number, srtt: number): void {
    if (!(srtt > 0) || !Number.isFinite(srtt)) return;
    const ratio = cwnd < ssthresh / 2 ? PACING_SS_RATIO : PACING_CA_RATIO;
    this.rate = ((ratio / 100) * Math.max(cwnd, inFlight)) / srtt;
  }

  /** May a segment leave at `now`? */
  maySend(now: number): boolean {
    if (this.rate <= 0 || this.nextSendAt <= now + PACING_SLACK_MS) return true;
    this.held = true;
    return false;
  }

  /**
   * A segment of `len` bytes left at `now`: the next one waits len / rate
   * after this one's due time. A sender that waited for the pacer keeps the
   * time its wakeup came late (up to PACING_MAX_CREDIT_MS); one that was
   * idle or held back by something else keeps at most the slack.
   */
  sent(len: number, now: number): void {
    if (this.rate <= 0 || len <= 0) return;
    const credit = this.held ? PACING_MAX_CREDIT_MS : PACING_SLACK_MS;
    this.nextSendAt = Math.max(this.nextSendAt, now - credit) + len / this.rate;
  }

  /** The sender stopped for another reason than pacing (cwnd, the peer's window, no data): nothing is owed. */
  idle(): void {
    this.held = false;
  }
}
