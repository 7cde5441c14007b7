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

export class Pacer {
  /** Pacing rate in bytes per ms (0: not yet known, nothing is held back). */
  rate = 0;
  /** Earliest time the next segment may leave (ms). */
  nextSendAt = 0;

  /** Linux tcp_update_pacing_rate: ratio * max(cwnd, in flight) / SRTT. */
  updateFromCwnd(cwnd: number, ssthresh: number, inFlight: number, srtt: number): void {
    if (!(srtt > 0) || !Number.isFinite(srtt)) return;
    const ratio = cwnd < ssthresh / 2 ? PACING_SS_RATIO : PACING_CA_RATIO;
    this.rate = ((ratio / 100) * Math.max(cwnd, inFlight)) / srtt;
  }

  /** May a segment leave at `now`? */
  maySend(now: number): boolean {
    return this.rate <= 0 || this.nextSendAt <= now + PACING_SLACK_MS;
  }

  /** A segment of `len` bytes left at `now`: the next one waits len / rate. */
  sent(len: number, now: number): void {
    if (this.rate <= 0 || len <= 0) return;
    this.nextSendAt = Math.max(this.nextSendAt, now - PACING_SLACK_MS) + len / this.rate;
  }
}
