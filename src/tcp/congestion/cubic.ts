/**
 * CUBIC congestion control, RFC 9438 (Linux's default). Slow start is the
 * standard one (§4.10), counting acknowledged bytes as Linux does; in
 * congestion avoidance the window follows a cubic
 * function of the time since the last congestion event (§4.2): concave up to
 * the window where the last loss happened (W_max), a plateau there, then convex
 * probing beyond it. A Reno-friendly estimate (§4.3) keeps CUBIC at least as
 * fast as AIMD where the cubic curve is slow (small RTT or small windows).
 *
 * Units: the interface counts bytes and milliseconds; the RFC's formulas count
 * segments and seconds. W_max, W_est and cwnd_prior are kept in segments, K and
 * t in seconds, and converted with the MSS from setMss.
 */
import { initialWindow, NO_OBSERVER, type AckSeq, type CongestionControl, type CongestionObserver } from './congestion.js';
import { HyStart } from './hystart.js';
import { HybridSlowStart } from './hystart-linux.js';

/** §4.1.1, §4.6: multiplicative decrease factor. */
export const BETA_CUBIC = 0.7;
/** §4.1.1, §5.1: the constant C, in segments per second cubed. */
export const C = 0.4;
/** §4.1.1, §4.3: additive increase of the AIMD estimate, per RTT, that matches Reno's average rate. */
export const ALPHA_CUBIC = (3 * (1 - BETA_CUBIC)) / (1 + BETA_CUBIC);

export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Infinity;
  /** §4.7: fast convergence, on by default as in Linux. */
  fastConvergence = true;
  private mss: number;
  /** §4.2 W_max in segments (0: no congestion event yet). */
  private wMax = 0;
  /** §4.2 K in seconds. */
  private k = 0;
  /** §4.3 W_est in segments. */
  private wEst = 0;
  /** §4.6 cwnd_prior: cwnd (segments) when ssthresh was last set. */
  private cwndPrior = 0;
  /** Start of the current epoch (ms), null until the first ACK in congestion avoidance. */
  private epochStart: number | null = null;
  /** Smallest RTT sample seen, ms (Linux's delay_min). */
  private minRtt = Infinity;
  private lastAckAt: number | null = null;
  /** §4.8: the next congestion avoidance stage is the first one after a timeout. */
  private afterTimeout = false;
  /** A timeout happened and no ACK since: a repeated timeout holds ssthresh (RFC 5681 §3.1). */
  private timeoutHeld = false;

  /** RFC 9406 HyStart++ in the first slow start (hystart: 'rfc9406'). */
  readonly hystart: HyStart | null;
  /** Linux's hybrid slow start (hystart: true, the default; hystart-linux.ts). */
  readonly hybrid: HybridSlowStart | null;

  constructor(mss: number, private readonly observer: CongestionObserver = NO_OBSERVER, hystart: boolean | 'rfc9406' = true, private readonly iw = 10) {
    this.mss = mss;
    this.cwnd = initialWindow(mss, iw);
    this.hystart = hystart === 'rfc9406' ? new HyStart() : null;
    this.hybrid = hystart === true ? new HybridSlowStart() : null;
  }

  /** §4.2 W_max, segments: the window at the last congestion event (after fast convergence). */
  get W_max(): number { return this.wMax; }
  /** §4.2 K, seconds: when W_cubic(t) is back at W_max. */
  get K(): number { return this.k; }
  /** §4.3 W_est, segments: the Reno-friendly (AIMD) window estimate. */
  get W_est(): number { return this.wEst; }

  setMss(mss: number): void {
    if (!(mss > 0) || !Number.isFinite(mss)) return;
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, initialWindow(mss, this.iw));
  }

  onAck(acked: number, cwndLimited: boolean, now: number, rtt?: number, seq?: AckSeq): void {
    if (!(acked > 0) || !Number.isFinite(acked) || !Number.isFinite(now)) return;
    if (rtt !== undefined && rtt > 0 && Number.isFinite(rtt)) this.minRtt = Math.min(this.minRtt, rtt);
    this.timeoutHeld = false;
    const sinceLastAck = this.lastAckAt === null ? 0 : Math.max(0, now - this.lastAckAt);
    this.lastAckAt = now;
    if (!cwndLimited) {
      // §5.8: no growth while the application, not cwnd, limits the flow (cwnd-usage.ts).
      // §4.6 requires such a guard when ssthresh comes from cwnd, and §4.2 keeps these
      // periods out of t: move the epoch along.
      if (this.epochStart !== null) this.epochStart += sinceLastAck;
      return;
    }
    if (this.cwnd < this.ssthresh && this.hybrid !== null && seq !== undefined) this.hybridAck(seq, rtt, now);
    if (this.cwnd < this.ssthresh && this.hystart !== null && seq !== undefined && !this.hyStartAck(seq, rtt)) {
      // RFC 9406 §4.2: Conservative Slow Start grows by a CSS_GROWTH_DIVISOR-th of slow start.
      this.cwnd += acked / this.hystart.growthDivisor;
      return;
    }
    if (this.cwnd < this.ssthresh) {
      // §4.10 standard slow start, growing by every acknowledged byte like
      // Linux's tcp_slow_start (RFC 3465 without the per-ACK limit), so cwnd
      // doubles per RTT with delayed and stretch ACKs too; what lies beyond
      // ssthresh goes on into congestion avoidance.
      const grown = Math.min(this.cwnd + acked, this.ssthresh);
      acked -= grown - this.cwnd;
      this.cwnd = grown;
      if (acked <= 0) return;
    }
    this.congestionAvoidance(acked / this.mss, now);
  }

  /**
   * RFC 9406 §4.2 for one ACK in slow start: true when standard slow start
   * goes on (or, after CSS_ROUNDS rounds of CSS, congestion avoidance with
   * ssthresh = cwnd), false when the ACK grows cwnd the CSS way.
   */
  private hyStartAck(seq: AckSeq, rtt: number | undefined): boolean {
    const h = this.hystart!;
    const change = h.onAck(seq.sndUna, seq.sndNxt, rtt);
    if (change === 'enter-css') {
      this.observer.inc('tcp_hystart_delay_detect');
      this.observer.note(`HyStart++: round min RTT ${h.currentRoundMinRtt} ms >= last round's ${h.lastRoundMinRtt} ms + ${h.lastThresh} ms: conservative slow start, cwnd ${this.cwnd} (RFC 9406 §4.2)`);
    } else if (change === 'resume-slow-start') {
      this.observer.inc('tcp_hystart_css_spurious');
      this.observer.note('HyStart++: RTT fell below the CSS baseline, the increase was jitter: slow start resumes (RFC 9406 §4.2)');
    } else if (change === 'exit') {
      this.ssthresh = this.cwnd;
      this.observer.inc('tcp_hystart_exits');
      this.observer.note(`HyStart++: ${h.cssRounds} rounds of conservative slow start: ssthresh = cwnd = ${this.cwnd}, congestion avoidance (RFC 9406 §4.2)`);
      return true; // cwnd is at ssthresh now: the ACK goes to congestion avoidance
    }
    return h.phase !== 'css';
  }

  /** Linux hystart_update for one ACK in slow start: an exit sets ssthresh = cwnd before this ACK grows it. */
  private hybridAck(seq: AckSeq, rtt: number | undefined, now: number): void {
    const h = this.hybrid!;
    const exit = h.onAck(seq.sndUna, seq.sndNxt, this.cwnd / this.mss, rtt, this.minRtt, now);
    if (exit === 'none') return;
    this.ssthresh = this.cwnd;
    if (exit === 'delay') {
      this.observer.inc('tcp_hystart_delay_detect');
      this.observer.note(`HyStart: round min RTT ${h.currRtt} ms > min RTT ${this.minRtt} ms + ${h.lastThresh} ms: ssthresh = cwnd = ${this.cwnd}, congestion avoidance (Linux hystart_update; RFC 9438 §4.10)`);
    } else {
      this.observer.inc('tcp_hystart_train_detect');
      this.observer.note(`HyStart: an ACK train longer than half the min RTT (${this.minRtt} ms): ssthresh = cwnd = ${this.cwnd}, congestion avoidance (Linux hystart_update; RFC 9438 §4.10)`);
    }
    this.observer.inc('tcp_hystart_exits');
  }

  private congestionAvoidance(segmentsAcked: number, now: number): void {
    const cwnd = this.cwnd / this.mss; // segments
    if (this.epochStart === null) this.startEpoch(cwnd, now);
    const t = Math.max(0, now - (this.epochStart ?? now)) / 1000;
    const rtt = Number.isFinite(this.minRtt) ? this.minRtt / 1000 : 0;
    // §4.3: W_est grows by alpha_cubic per RTT; once it reaches cwnd_prior, by 1 per RTT like Reno.
    const alpha = this.wEst >= this.cwndPrior ? 1 : ALPHA_CUBIC;
    this.wEst += (alpha * segmentsAcked) / cwnd;
    let next: number;
    if (this.wCubic(t) < this.wEst) {
      // §4.3: Reno-friendly region, cwnd = W_est (never lowered by an ACK).
      next = Math.max(cwnd, this.wEst);
    } else {
      // §4.4: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd].
      const target = Math.min(Math.max(this.wCubic(t + rtt), cwnd), 1.5 * cwnd);
      // §4.4 (concave, cwnd < W_max) and §4.5 (convex): cwnd += (target - cwnd) / cwnd per
      // acknowledged segment, never past the target.
      next = Math.min(target, cwnd + ((target - cwnd) / cwnd) * segmentsAcked);
    }
    this.cwnd = Math.max(next * this.mss, this.mss);
  }

  /** §4.2: a new epoch starts at the first ACK of a congestion avoidance stage. */
  private startEpoch(cwndEpoch: number, now: number): void {
    this.epochStart = now;
    this.wEst = cwndEpoch; // §4.3 (and §4.8): W_est starts at cwnd_epoch
    if (this.afterTimeout || this.wMax <= cwndEpoch) {
      // §4.8 (first stage after a timeout) and §4.10 (no usable W_max): K = 0, W_max = cwnd_epoch.
      this.wMax = cwndEpoch;
      this.k = 0;
    } else {
      // §4.2 Figure 2: K = cbrt((W_max - cwnd_epoch) / C).
      this.k = Math.cbrt((this.wMax - cwndEpoch) / C);
    }
    this.afterTimeout = false;
  }

  /** §4.2 Figure 1: W_cubic(t) = C * (t - K)^3 + W_max, in segments, t in seconds. */
  private wCubic(t: number): number {
    return C * (t - this.k) ** 3 + this.wMax;
  }

  /** §4.6 and §4.7: remember W_max and cwnd_prior, set ssthresh, end the epoch. */
  private reduce(): void {
    this.hystart?.stop(); // RFC 9406 §4.2: loss or ECN in slow start or CSS ends it
    this.hybrid?.stop();
    const cwnd = this.cwnd / this.mss;
    // §4.7: a loss before reaching the previous W_max means others want bandwidth; release some.
    this.wMax = this.fastConvergence && cwnd < this.wMax ? (cwnd * (1 + BETA_CUBIC)) / 2 : cwnd;
    this.cwndPrior = cwnd;
    // §4.6: ssthresh = cwnd * beta_cubic (Linux uses cwnd; the RFC allows it), at least 2 SMSS.
    this.ssthresh = Math.max(this.cwnd * BETA_CUBIC, 2 * this.mss);
    this.epochStart = null;
  }

  onCongestionEvent(_inFlight: number, _now: number): void {
    this.reduce();
    this.afterTimeout = false;
    // §4.6: cwnd = max(ssthresh, 2 SMSS) on a loss.
    this.cwnd = this.ssthresh;
  }

  onRecoveryExit(_now: number): void {
    // RFC 6582 §3.2 step 3: deflate to ssthresh (at least 1 SMSS should the MSS have grown);
    // nothing to do before any congestion event (ssthresh still infinite).
    if (Number.isFinite(this.ssthresh)) this.cwnd = Math.max(this.ssthresh, this.mss);
  }

  onTimeout(_inFlight: number, _now: number): void {
    // §4.8: ssthresh as in §4.6, but RFC 5681 §3.1 holds it when the same data times out again.
    if (!this.timeoutHeld) this.reduce();
    this.epochStart = null;
    this.timeoutHeld = true;
    this.afterTimeout = true;
    // §4.8 / RFC 5681 §3.1: cwnd = loss window = 1 SMSS.
    this.cwnd = this.mss;
    this.hybrid?.restart();
  }

  /** A spurious reduction undone (Linux cubictcp_undo_cwnd): the curve restarts from the restored window. */
  undo(priorCwnd: number, priorSsthresh: number): void {
    this.cwnd = Math.max(this.cwnd, priorCwnd);
    this.ssthresh = Math.max(this.ssthresh, priorSsthresh);
    this.epochStart = null;
    this.timeoutHeld = false;
    this.afterTimeout = false;
  }

  onIdleRestart(now: number): void {
    // §5.8: t must not include idle periods; like Linux (CA_EVENT_TX_START), move the epoch.
    const idle = this.lastAckAt === null ? 0 : now - this.lastAckAt;
    if (this.epochStart !== null && idle > 0 && Number.isFinite(idle)) this.epochStart += idle;
    this.lastAckAt = now;
    // RFC 5681 §4.1: restart window = min(IW, cwnd).
    this.cwnd = Math.max(Math.min(this.cwnd, initialWindow(this.mss, this.iw)), this.mss);
  }
}
