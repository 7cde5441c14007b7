/**
 * Hybrid slow start as Linux CUBIC runs it (tcp_cubic.c hystart_update;
 * Ha and Rhee, "Taming the elephants", 2011), the default here. RFC 9438
 * §4.10 recommends HyStart++ (RFC 9406, hystart.ts, config hystart:
 * 'rfc9406') and names this one as the experimental alternative "that some
 * CUBIC implementations have used as the default for the last decade":
 * Linux's, which this project follows where the RFCs leave room.
 *
 * Rounds are counted in sequence space (a round ends when SND.UNA passes
 * SND.NXT at its start). Once cwnd is at least LOW_WINDOW segments, two
 * detectors watch each round:
 * - ACK train: ACKs less than ACK_DELTA apart, spanning more than half of
 *   delay_min (+1 ms) since the round began: the pipe is full;
 * - delay: from the MIN_SAMPLES+1-th sample on, the round's minimum RTT exceeds
 *   delay_min (the smallest RTT seen) + clamp(delay_min/8, 4, 16) ms.
 * Either ends slow start at once (ssthresh = cwnd). Unlike HyStart++ there
 * is no conservative phase and the baseline is the connection's minimum RTT,
 * not the previous round's. A timeout re-arms it for the next slow start.
 */
import { seqGt } from '../../wire/seq.js';

/** Linux hystart_low_window: no detection below 16 segments. */
export const LOW_WINDOW = 16;
/** Linux hystart_ack_delta_us: ACKs this close (ms) form a train. */
export const ACK_DELTA = 2;
/** Linux HYSTART_MIN_SAMPLES. */
export const MIN_SAMPLES = 8;
/** Linux HYSTART_DELAY_MIN / HYSTART_DELAY_MAX (ms). */
export const DELAY_MIN = 4;
export const DELAY_MAX = 16;
/** Linux hystart_ack_delay: the ACK train's allowance for delayed ACKs, 1 ms at any rate below 65 GB/s. */
const ACK_DELAY = 1;

export type HybridExit = 'none' | 'ack-train' | 'delay';

export class HybridSlowStart {
  /** Slow start's end was found (Linux ca->found): no more detection until a timeout. */
  found = false;
  /** SND.NXT when the round began (Linux end_seq); null: none yet. */
  private endSeq: number | null = null;
  private roundStart = 0;
  private lastAck = 0;
  /** This round's minimum RTT (Linux curr_rtt). */
  currRtt = Infinity;
  private sampleCnt = 0;
  /** The threshold of the last delay test (for the explanation). */
  lastThresh = 0;

  /**
   * One ACK in slow start: `cwndSegs` before this ACK's growth, `rtt` its
   * sample if any, `delayMin` the smallest RTT seen (Linux delay_min).
   */
  onAck(sndUna: number, sndNxt: number, cwndSegs: number, rtt: number | undefined, delayMin: number, now: number): HybridExit {
    if (this.found || rtt === undefined || !(rtt >= 0) || !Number.isFinite(rtt) || !Number.isFinite(delayMin)) return 'none';
    if (this.endSeq === null || seqGt(sndUna, this.endSeq)) {
      this.endSeq = sndNxt;
      this.roundStart = this.lastAck = now;
      this.currRtt = Infinity;
      this.sampleCnt = 0;
    }
    if (cwndSegs < LOW_WINDOW) return 'none';
    if (now - this.lastAck <= ACK_DELTA) {
      this.lastAck = now;
      // Without fq pacing (Linux SK_PACING_NONE) the threshold is halved.
      if (now - this.roundStart > (delayMin + ACK_DELAY) / 2) {
        this.found = true;
        return 'ack-train';
      }
    }
    // Every sample lowers the round's minimum, so one that is a new delay_min
    // cannot end slow start (Linux b344579, "spurious HYSTART_DELAY exit").
    this.currRtt = Math.min(this.currRtt, rtt);
    if (this.sampleCnt < MIN_SAMPLES) {
      this.sampleCnt++;
      return 'none';
    }
    this.lastThresh = Math.max(DELAY_MIN, Math.min(delayMin / 8, DELAY_MAX));
    if (this.currRtt > delayMin + this.lastThresh) {
      this.found = true;
      return 'delay';
    }
    return 'none';
  }

  /** A loss ended slow start: nothing more to find. */
  stop(): void {
    this.found = true;
  }

  /** A timeout: the next slow start is watched again (Linux bictcp_reset on TCP_CA_Loss). */
  restart(): void {
    this.found = false;
    this.endSeq = null;
  }
}
