/**
 * Retransmission timeout per RFC 6298: SRTT and RTTVAR from RTT samples,
 * exponential backoff on timeouts. Karn's rule is the caller's: only
 * segments that were never retransmitted give samples.
 *
 * RFC 6298 §2.4 sets a 1 s floor on the RTO and lets implementations choose a
 * lower one; Linux (tcp_rtt_estimator, the default here, estimator 'linux')
 * floors the variance term instead: RTO = SRTT + max(4*RTTVAR seen over the
 * last RTT, minRto), so the RTO is never less than SRTT + 200 ms and the
 * variance term decays by a quarter per RTT, not per sample. A sample below
 * SRTT moves RTTVAR an eighth as much (Linux: a falling RTT is not
 * variance). estimator 'rfc6298': RTO = max(SRTT + max(G, 4*RTTVAR), minRto).
 */
import { seqGt } from '../wire/seq.js';

export interface RtoConfig {
  /** Lower bound (RFC 6298 says 1 s; Linux uses 200 ms). */
  minRto: number;
  /** Upper bound (Linux: 120 s). */
  maxRto: number;
  /** Before the first sample (RFC 6298 §2.1: 1 s). */
  initialRto: number;
  /** Clock granularity G in ms. */
  granularity: number;
  /** 'linux' (default): Linux's variance term (see above); 'rfc6298': the RFC's formula. */
  estimator?: 'linux' | 'rfc6298';
}

export const DEFAULT_RTO: RtoConfig = { minRto: 200, maxRto: 120_000, initialRto: 1000, granularity: 1, estimator: 'linux' };

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** RTO before backoff. */
  private baseRto: number;
  /** Number of consecutive timeouts (each doubles the RTO, §5.5). */
  backoff = 0;
  hasSample = false;
  /** Linux mdev_max_us: the largest 4*RTTVAR in this RTT, at least minRto. */
  private mdevMax = 0;
  /** Linux rttvar_us: the variance term of the RTO. */
  private rtoVar = 0;
  /** Linux rtt_seq: SND.NXT when this RTT's window began; its ACK ends the window. */
  private rttSeq = 0;

  constructor(private readonly cfg: RtoConfig) {
    this.baseRto = cfg.initialRto;
  }

  /** Current RTO including backoff. */
  get rto(): number {
    return Math.min(this.cfg.maxRto, this.baseRto * 2 ** this.backoff);
  }

  /**
   * RFC 6298 §2.2 and §2.3. `sndUna` (after this ACK) and `sndNxt` time the
   * Linux estimator's once-per-RTT decay of the variance term.
   */
  sample(r: number, sndUna = 0, sndNxt = 0): void {
    if (this.cfg.estimator !== 'rfc6298') {
      this.linuxSample(r, sndUna, sndNxt);
      return;
    }
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      // alpha = 1/8, beta = 1/4
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(this.cfg.granularity, 4 * this.rttvar);
    this.baseRto = Math.min(this.cfg.maxRto, Math.max(this.cfg.minRto, rto));
    this.backoff = 0;
  }

  /** Linux tcp_rtt_estimator and __tcp_set_rto (mdev = 4*RTTVAR). */
  private linuxSample(r: number, sndUna: number, sndNxt: number): void {
    const min = this.cfg.minRto;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2; // mdev = 2r: "make sure rto = 3*rtt"
      this.rtoVar = Math.max(4 * this.rttvar, min);
      this.mdevMax = this.rtoVar;
      this.rttSeq = sndNxt;
      this.hasSample = true;
    } else {
      const err = r - this.srtt;
      this.srtt += err / 8;
      let d = Math.abs(err) - this.rttvar;
      if (err < 0 && d > 0) d /= 8; // a falling RTT barely raises the variance
      this.rttvar += d / 4;
      const mdev = 4 * this.rttvar;
      if (mdev > this.mdevMax) {
        this.mdevMax = mdev;
        if (this.mdevMax > this.rtoVar) this.rtoVar = this.mdevMax;
      }
      // Once per RTT (the ACK of what was SND.NXT at the window's start),
      // the variance term decays a quarter of the way to this RTT's largest.
      if (seqGt(sndUna, this.rttSeq)) {
        if (this.mdevMax < this.rtoVar) this.rtoVar -= (this.rtoVar - this.mdevMax) / 4;
        this.rttSeq = sndNxt;
        this.mdevMax = min;
      }
    }
    this.baseRto = Math.min(this.cfg.maxRto, Math.max(min, this.srtt + this.rtoVar));
    this.backoff = 0;
  }

  /** RFC 6298 §5.5: back off the timer after it expires. */
  onTimeout(): void {
    if (this.rto < this.cfg.maxRto) this.backoff++;
  }

  /**
   * An ACK without a valid sample (Karn): keep the backed-off RTO as the base
   * until a fresh sample arrives (RFC 6298 §5.5 and the note on Karn), but stop
   * counting it as a run of timeouts.
   */
  keepBackoff(): void {
    this.baseRto = this.rto;
    this.backoff = 0;
  }

  /** Set the RTO outright (RFC 6298 §5.7: 3 s after a SYN timeout). */
  restartAt(rto: number): void {
    this.baseRto = Math.min(this.cfg.maxRto, Math.max(this.cfg.minRto, rto));
    this.backoff = 0;
  }
}
