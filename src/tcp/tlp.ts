/**
 * Tail Loss Probe (RFC 8985 §7). When the last segments of a flight are
 * lost, no duplicate ACKs come back and only the retransmission timer (200 ms
 * at least) would notice. A probe timer of about two RTTs instead sends one
 * segment, new data if any, else the last one again; its ACK carries SACK
 * information that starts fast recovery, or it repairs a single tail loss
 * by itself. This file holds the episode state and the timeout arithmetic;
 * sender.ts sends the probe.
 */
import { seqGe } from '../wire/seq.js';

/** RFC 8985 §7.2: worst-case delayed ACK time when one segment is in flight. */
export const WC_DEL_ACK_T = 200;
/** Linux TCP_TIMEOUT_MIN: the slack of a PTO with several segments in flight. */
export const TIMEOUT_MIN = 2;

export class TailLossProbe {
  /** SND.NXT when the probe was sent (TLP.end_seq), or -1 when no episode is open. */
  endSeq = -1;
  /** The probe was a retransmission (TLP.is_retrans). */
  isRetrans = false;

  /**
   * RFC 8985 §7.2: PTO = 2*SRTT, plus WCDelAckT when one segment is in
   * flight (its ACK may be delayed). Like Linux (tcp_schedule_loss_probe:
   * 2*srtt + TCP_RTO_MIN for one packet, else + TCP_TIMEOUT_MIN, 2 ms) a
   * little slack otherwise. The caller cuts it to the RTO.
   */
  static timeout(srtt: number, flightSegments: number): number {
    return 2 * srtt + (flightSegments <= 1 ? WC_DEL_ACK_T : TIMEOUT_MIN);
  }

  /**
   * The PTO of RFC 8985's draft predecessor (draft-dukkipati-tcpm-tcp-loss-probe),
   * kept with rack: false so that mode is the stack as it was before RACK:
   * max(2*SRTT, 1.5*SRTT + WCDelAckT) with one segment, at least 10 ms; the
   * caller skips a probe that would not come before the RTO.
   */
  static legacyTimeout(srtt: number, flightSegments: number): number {
    let pto = 2 * srtt;
    if (flightSegments <= 1) pto = Math.max(pto, 1.5 * srtt + WC_DEL_ACK_T);
    return Math.max(pto, 10);
  }

  start(sndNxt: number, retransmission: boolean): void {
    this.endSeq = sndNxt;
    this.isRetrans = retransmission;
  }

  /**
   * RFC 8985 §7.4: an ACK at or beyond the probe ends the episode. Returns true
   * when the probe repaired a loss (it was a retransmission and no D-SACK said
   * the original had arrived): the caller then reduces cwnd as for fast recovery.
   */
  onAck(ack: number, dsack: boolean): boolean {
    if (this.endSeq === -1 || !seqGe(ack, this.endSeq)) return false;
    const repaired = this.isRetrans && !dsack;
    this.endSeq = -1;
    return repaired;
  }

  cancel(): void {
    this.endSeq = -1;
  }
}
