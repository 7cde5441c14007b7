/**
 * F-RTO, Forward RTO-Recovery (RFC 5682), the SACK-enhanced algorithm of
 * §4 as Linux runs it (tcp_frto, on by default; tcp_process_loss), and for
 * peers without SACK the basic algorithm of §2, which Linux runs through
 * the same steps (recovery.ts tells what an ACK delivered). After a
 * retransmission timeout the sender resends only the first segment; if the
 * next ACK advances SND.UNA without covering everything, it sends NEW data
 * instead of going back N (step 2.b). If the ACK after that (or any ACK
 * meanwhile) acknowledges or SACKs data that was never retransmitted, the
 * originals were only delayed: the timeout was spurious and recovery.ts
 * undoes the reduction (step 3.b, response of RFC 4015). A duplicate ACK or
 * new SACK information after the new data shows a real loss: the usual
 * retransmissions go on (step 3.a). Works without timestamps, where Eifel
 * (undo.ts) cannot; Eifel is tried first, as in Linux.
 */
import { seqGt } from '../wire/seq.js';

/** What the ACK asks of loss recovery. */
export type FrtoVerdict =
  /** §4 step 3.b: never-retransmitted data was delivered: undo. */
  | 'spurious'
  /** §4 step 2.b: send new data on this ACK, not retransmissions. */
  | 'newData'
  /** Conventional RTO recovery for this ACK. */
  | 'conventional';

export class Frto {
  /** F-RTO runs for the current timeout (Linux tp->frto). */
  active = false;
  /** Step 2.b: this ACK is answered with new data only (Linux REXMIT_NEW). */
  sendNew = false;

  /**
   * RFC 5682 §4 step 1, at a timeout. Linux starts F-RTO for a timeout that
   * does not interrupt fast recovery, and for every further timeout in a row
   * (tcp_enter_loss: new_recovery || icsk_retransmits).
   */
  start(enabled: boolean, fromOpen: boolean, repeated: boolean): void {
    this.active = enabled && (fromOpen || repeated);
    this.sendNew = false;
  }

  /**
   * One ACK in the loss phase (not shown spurious by Eifel first).
   * `recover` is RFC 5682's "recover" (recovery.ts recoveryPoint): SND.NXT
   * at the timeout, moved to SND.NXT at step 2.b.
   */
  onAck(a: {
    sndUna: number;
    sndNxt: number;
    recover: number;
    /** SND.UNA advanced. */
    advanced: boolean;
    /** The ACK delivered (ACKed or newly SACKed) data sent only once, below `recover` (Linux FLAG_ORIG_SACK_ACKED). */
    origDelivered: boolean;
    /** New SACK information (Linux FLAG_DATA_SACKED), or a duplicate ACK. */
    sackedOrDup: boolean;
    /** Unsent data and room in the peer's window beyond SND.NXT. */
    newDataReady: boolean;
  }): FrtoVerdict {
    this.sendNew = false;
    if (!this.active) return 'conventional';
    // Step 3.b (SACK-enhanced, and Linux at step 2 too): data never sent twice arrived.
    if (a.origDelivered) {
      this.active = false;
      return 'spurious';
    }
    if (seqGt(a.sndNxt, a.recover)) {
      // Step 3.a: new data went out after step 2.b, and the peer still reports a hole: the loss was real.
      if (a.sackedOrDup) this.active = false;
    } else if (a.advanced && seqGt(a.recover, a.sndUna)) {
      // Step 2.b: transmit new data; without any to send, conventional recovery (Linux).
      if (a.newDataReady) {
        this.sendNew = true;
        return 'newData';
      }
      this.active = false;
    }
    return 'conventional';
  }

  end(): void {
    this.active = false;
    this.sendNew = false;
  }
}
