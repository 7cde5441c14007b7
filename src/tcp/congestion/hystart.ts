/**
 * HyStart++ (RFC 9406): leave slow start when the round-trip time starts to
 * grow, before the queue overflows, and not on jitter. Rounds are counted in
 * sequence space (§4.2: a round ends when the ACK covers windowEnd, SND.NXT
 * at its start). When a round's minimum RTT exceeds the previous round's by
 * RttThresh, slow start turns into Conservative Slow Start (CSS): growth
 * divided by CSS_GROWTH_DIVISOR for CSS_ROUNDS rounds, then congestion
 * avoidance with ssthresh = cwnd. A round in CSS whose minimum RTT falls
 * below the baseline again was jitter: slow start resumes.
 *
 * Used for the first slow start only (§4.2 SHOULD: later ones have an
 * ssthresh). Linux CUBIC's HyStart has the same delay test and thresholds
 * but no CSS; the RFC is followed here. L (§4.2, the per-ACK growth limit)
 * is not applied, as Linux's tcp_slow_start does not limit it either.
 */
import { seqGt } from '../../wire/seq.js';

/** §4.3 constants; times in ms. */
export const MIN_RTT_THRESH = 4;
export const MAX_RTT_THRESH = 16;
export const MIN_RTT_DIVISOR = 8;
export const N_RTT_SAMPLE = 8;
export const CSS_GROWTH_DIVISOR = 4;
export const CSS_ROUNDS = 5;

export type HyStartPhase = 'slow-start' | 'css' | 'done';

/** What one ACK changed, for the caller's counters and explanations. */
export type HyStartChange = 'none' | 'enter-css' | 'resume-slow-start' | 'exit';

export class HyStart {
  phase: HyStartPhase = 'slow-start';
  /** §4.2 windowEnd: the round ends when SND.UNA reaches it (null: no round yet). */
  windowEnd: number | null = null;
  lastRoundMinRtt = Infinity;
  currentRoundMinRtt = Infinity;
  rttSampleCount = 0;
  cssBaselineMinRtt = Infinity;
  /** Rounds completed in CSS. */
  cssRounds = 0;
  /** The RttThresh of the last delay test that passed (for the explanation). */
  lastThresh = 0;

  /**
   * One ACK in (initial) slow start or CSS: `sndUna` after it, `sndNxt`,
   * `rtt` its sample if any. Returns what changed; `growthDivisor` then says
   * how to scale this ACK's growth.
   */
  onAck(sndUna: number, sndNxt: number, rtt: number | undefined): HyStartChange {
    if (this.phase === 'done') return 'none';
    let change: HyStartChange = 'none';
    if (this.windowEnd === null || seqGt(sndUna, this.windowEnd)) {
      // §4.2: a new round starts with the first ACK beyond windowEnd (the ACK of windowEnd
      // itself still belongs to the old round, as in Linux: after(snd_una, end_seq)).
      if (this.windowEnd !== null && this.phase === 'css' && ++this.cssRounds >= CSS_ROUNDS) {
        // §4.2: CSS_ROUNDS rounds in CSS without a decrease: congestion avoidance.
        this.phase = 'done';
        return 'exit';
      }
      this.windowEnd = sndNxt;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
    }
    if (rtt === undefined || !(rtt >= 0) || !Number.isFinite(rtt)) return change;
    this.currentRoundMinRtt = Math.min(this.currentRoundMinRtt, rtt);
    this.rttSampleCount++;
    if (this.rttSampleCount < N_RTT_SAMPLE) return change;
    if (this.phase === 'slow-start') {
      if (!Number.isFinite(this.currentRoundMinRtt) || !Number.isFinite(this.lastRoundMinRtt)) return change;
      const thresh = Math.max(MIN_RTT_THRESH, Math.min(this.lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH));
      if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.lastThresh = thresh;
        this.phase = 'css';
        this.cssRounds = 0;
        change = 'enter-css';
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // §4.2: the RTT increase was spurious (jitter): back to slow start.
      this.cssBaselineMinRtt = Infinity;
      this.phase = 'slow-start';
      change = 'resume-slow-start';
    }
    return change;
  }

  /** §4.2: growth in CSS is a quarter of slow start's. */
  get growthDivisor(): number {
    return this.phase === 'css' ? CSS_GROWTH_DIVISOR : 1;
  }

  /** A loss, ECN reduction or timeout ends HyStart++ for good (later slow starts have an ssthresh). */
  stop(): void {
    this.phase = 'done';
  }
}
