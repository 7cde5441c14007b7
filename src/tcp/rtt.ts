/**
 * Retransmission timeout per RFC 6298: SRTT and RTTVAR from RTT samples,
 * RTO = SRTT + max(G, 4*RTTVAR) clamped to [minRto, maxRto], exponential
 * backoff on timeouts. Karn's rule is the caller's: only segments that were
 * never retransmitted give samples.
 */
export interface RtoConfig {
  /** Lower bound (RFC 6298 says 1 s; Linux uses 200 ms). */
  minRto: number;
  /** Upper bound (Linux: 120 s). */
  maxRto: number;
  /** Before the first sample (RFC 6298 §2.1: 1 s). */
  initialRto: number;
  /** Clock granularity G in ms. */
  granularity: number;
}

export const DEFAULT_RTO: RtoConfig = { minRto: 200, maxRto: 120_000, initialRto: 1000, granularity: 1 };

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** RTO before backoff. */
  private baseRto: number;
  /** Number of consecutive timeouts (each doubles the RTO, §5.5). */
  backoff = 0;
  hasSample = false;

  constructor(private readonly cfg: RtoConfig) {
    this.baseRto = cfg.initialRto;
  }

  /** Current RTO including backoff. */
  get rto(): number {
    return Math.min(this.cfg.maxRto, this.baseRto * 2 ** this.backoff);
  }

  /** RFC 6298 §2.2 and §2.3. */
  sample(r: number): void {
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
