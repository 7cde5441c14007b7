/**
 * Explicit Congestion Notification for one connection (RFC 3168 §6.1),
 * with Linux's choices where the RFC leaves room (tcp_ecn.h, tcp_input.c):
 *
 *  - Negotiation: an ECN-setup SYN carries ECE and CWR, an ECN-setup SYN,ACK
 *    ECE alone (§6.1.1). We ask only when configured (`ecn: 'on'`, Linux
 *    tcp_ecn=1) and accept when asked unless off (`'passive'`, Linux's
 *    default tcp_ecn=2). A retransmitted SYN goes without ECE and CWR
 *    (§6.1.1.1 fallback, Linux tcp_ecn_fallback=1).
 *  - Sending: ECT(0) on new data segments only: never on SYNs (§6.1.1),
 *    pure ACKs (§6.1.4), retransmissions (§6.1.5), zero-window probes
 *    (no data here), FINs alone or RSTs.
 *  - Receiving: a CE-marked data segment makes every later ACK carry ECE
 *    until a segment with CWR arrives (§6.1.3; like Linux, a pure ACK with
 *    CWR counts too); the ACK goes at once, as Linux's quick ACK on CE
 *    (tcp_ecn_check_ce).
 *  - Reacting: ECE on an ACK reduces cwnd as a loss would, without a
 *    retransmission, at most once per window of data (§6.1.2; Linux's CWR
 *    state until SND.UNA passes the SND.NXT of the reduction), and the next
 *    new data segment carries CWR. Any other window reduction (fast
 *    recovery, timeout) also sends CWR, as Linux queues it for each.
 *
 * Sans-IO state only; the TCB asks it what to put on each segment.
 */
import { seqGt } from '../wire/seq.js';

/** Linux's net.ipv4.tcp_ecn: 0 off, 1 ask and accept, 2 accept only (the default). */
export type EcnMode = 'off' | 'on' | 'passive';

/** The IP header's ECN field (RFC 3168 §5). */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;

/** segmentReceived's answers. */
export const ACK_NOW = 1;
export const QUICK_ACK = 2;

export class EcnState {
  /** Negotiated on this connection (Linux TCP_ECN_OK). */
  ok = false;
  /** We received CE and echo ECE until the peer's CWR (Linux TCP_ECN_DEMAND_CWR). */
  demandCwr = false;
  /** Our window was reduced: CWR on the next new data segment (Linux TCP_ECN_QUEUE_CWR). */
  queueCwr = false;
  /** An ECE-triggered reduction lasts until SND.UNA passes this (Linux high_seq in TCP_CA_CWR). */
  cwrHighSeq = 0;
  /** Inside a reduction window: further ECEs are not reacted to. */
  inCwr = false;
  /** An ECT segment was seen: a later Not-ECT one is probably a retransmission (Linux TCP_ECN_SEEN). */
  seen = false;

  /** One of our SYNs asked for ECN. */
  asked = false;

  constructor(readonly mode: EcnMode) {}

  /** Our SYN asks for ECN (§6.1.1): only the first one, never a retransmission. */
  askInSyn(retransmission: boolean): boolean {
    const ask = this.mode === 'on' && !retransmission;
    if (ask) this.asked = true;
    return ask;
  }

  /**
   * The peer's SYN (passive open): ECE and CWR both set ask for ECN; like
   * Linux (tcp_ecn_create_request), a SYN that is itself ECT-marked does not
   * count (RFC 3168 §6.1.1: SYNs must be Not-ECT), nor does ECE or CWR alone.
   */
  peerSyn(ece: boolean, cwr: boolean, ipEcn: number): void {
    this.ok = this.mode !== 'off' && ece && cwr && ipEcn === ECN_NOT_ECT;
  }

  /** The peer's SYN,ACK answers our SYN: ECN only if we asked and it has ECE without CWR (§6.1.1). */
  peerSynAck(ece: boolean, cwr: boolean): void {
    this.ok = this.asked && ece && !cwr;
  }

  /** The peer's SYN crossed ours (simultaneous open): ECN if both SYNs asked (Linux tcp_ecn_rcv_syn). */
  crossingSyn(ece: boolean, cwr: boolean): void {
    this.ok = this.asked && ece && cwr;
  }

  /**
   * A segment whose ACK was acceptable: CWR ends our echo (on pure ACKs too:
   * Linux's tcp_ecn_accept_cwr in tcp_ack, a deviation from §6.1.3 for peers
   * that send CWR so), then its own mark counts (data only:
   * tcp_ecn_check_ce). Returns what the ACK policy should do: ACK_NOW (CWR
   * on a segment with data or FIN: the sender's cwnd may be tiny),
   * QUICK_ACK (a new CE, or Not-ECT data after ECT: probably a
   * retransmission; Linux's tcp_enter_quickack_mode(sk, 2)), or 0.
   */
  segmentReceived(cwr: boolean, segLen: number, dataLen: number, ipEcn: number): number {
    if (!this.ok) return 0;
    let act = 0;
    if (cwr) {
      this.demandCwr = false;
      if (segLen > 0) act |= ACK_NOW;
    }
    if (dataLen > 0) {
      if (ipEcn === ECN_CE) {
        if (!this.demandCwr) act |= QUICK_ACK;
        this.demandCwr = true;
        this.seen = true;
      } else if (ipEcn !== ECN_NOT_ECT) {
        this.seen = true;
      } else if (this.seen) {
        act |= QUICK_ACK;
      }
    }
    return act;
  }

  /**
   * ECE arrived on an ACK (of `ack`, or a duplicate) in a synchronized
   * state. Returns true when the sender must reduce its window now: not
   * inside a reduction window that is still open (one response per window
   * of data, §6.1.2).
   */
  eceReceived(ack: number): boolean {
    if (!this.ok) return false;
    this.acked(ack);
    return !this.inCwr;
  }

  /** The window was reduced (by ECE, a loss or a timeout) with SND.NXT at `sndNxt`. */
  reduced(sndNxt: number, byEce: boolean): void {
    if (!this.ok) return;
    this.queueCwr = true;
    if (byEce) {
      this.inCwr = true;
      this.cwrHighSeq = sndNxt;
    }
  }

  /** SND.UNA moved: the reduction window closes once it passes SND.NXT of the reduction (Linux tcp_fastretrans_alert). */
  acked(sndUna: number): void {
    if (this.inCwr && seqGt(sndUna, this.cwrHighSeq)) this.inCwr = false;
  }

  /** The next new data segment: ECT(0), and CWR if queued (taken now). */
  takeCwr(): boolean {
    const c = this.queueCwr;
    this.queueCwr = false;
    return c;
  }
}
