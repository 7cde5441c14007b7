/**
 * What the path tells a connection through ICMP, as events with `now` (the
 * stack decodes the message and finds the connection by its 4-tuple):
 *
 *  - errors are believed only if they quote a sequence number in
 *    SND.UNA..SND.NXT (RFC 5927 §4.1; inclusive at both ends, as Linux), so a
 *    blind attacker can neither reset nor shrink a connection;
 *  - in SYN_SENT every error ends `connect` at once with its errno (Linux
 *    tcp_v4_err); later they are soft errors (RFC 1122 §4.2.3.9), reported
 *    only if the connection then times out (Linux sk_err_soft), and a net or
 *    host unreachable undoes one RTO backoff (RFC 6069);
 *  - a lower path MTU (RFC 1191, given by the stack for every connection to
 *    the destination) lowers the send MSS, and what is in flight is resent
 *    at once at the new size without a congestion response (Linux
 *    tcp_simple_retransmit);
 *  - packetization-layer PMTUD (RFC 4821) for paths that drop ICMP:
 *    plpmtud.ts decides, this file applies its MSS.
 */
import type { TcpOptions } from '../wire/tcp.js';
import { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, type IcmpTcpError } from '../wire/icmp.js';
import { seqGe, seqLe } from '../wire/seq.js';
import { TcbSender } from './sender.js';
import type { TcpErrorCode } from './tcb.js';

/** IPv4 and TCP headers without options: MSS = MTU - 40 (RFC 9293 §3.7.1). */
export const TCPIP_HEADERS = 40;

/** What the stack should do after an ICMP error reached a connection. */
export type IcmpVerdict = 'dropped' | 'accepted' | 'path-mtu';

export abstract class TcbPath extends TcbSender {
  /** The last soft error (Linux sk_err_soft): what a later timeout reports instead of ETIMEDOUT. */
  softError: TcpErrorCode | null = null;
  /** The path MTU this connection sends for (RFC 1191); Infinity while unknown. */
  pathMtu = Infinity;
  /** The send MSS the handshake settled (peer's option and ours), before the path lowers it. */
  protected synMss = 0;
  /** When the retransmission timer was last armed (RFC 6069 counts the reverted RTO from there). */
  protected rtoArmedAt = 0;

  /**
   * An ICMP error quoting a segment of this connection (RFC 5927, RFC 1122
   * §4.2.3.9). Returns 'path-mtu' when the stack should lower the path MTU
   * to `err.mtu` for this destination (and tell every connection to it).
   */
  icmpError(err: IcmpTcpError, now: number): IcmpVerdict {
    this.now = now;
    const s = this.state;
    if (s === 'CLOSED' || s === 'LISTEN' || s === 'TIME_WAIT') {
      this.counters.inc('icmp_tcp_no_connection');
      return 'dropped';
    }
    // RFC 5927 §4.1: only a sequence number we have sent and not seen acknowledged.
    if (!seqGe(err.seq, this.sndUna) || !seqLe(err.seq, this.sndNxt)) {
      this.counters.inc('icmp_tcp_out_of_window');
      return 'dropped';
    }
    // RFC 1191 §6.1: fragmentation needed is about the path, not an error (Linux: in every state).
    if (err.type === ICMP_DEST_UNREACH && err.code === ICMP_FRAG_NEEDED) {
      this.counters.inc('icmp_tcp_frag_needed');
      return 'path-mtu';
    }
    const code = err.errno;
    if (s === 'SYN_SENT' || (s === 'SYN_RECEIVED' && !this.passiveOpen)) {
      // Linux tcp_v4_err: an error while connecting ends the attempt at once.
      this.counters.inc('icmp_tcp_connect_failed');
      this.fail(code, `ICMP error (type ${err.type} code ${err.code}) for our SYN: ${code} (RFC 1122 §4.2.3.9, as Linux)`);
      return 'accepted';
    }
    if (s === 'SYN_RECEIVED') {
      // A passive open nobody has accepted yet: Linux drops the request (tcp_req_err).
      this.counters.inc('icmp_tcp_syn_recv_dropped');
      this.setState('CLOSED', `ICMP error (type ${err.type} code ${err.code}) for our SYN,ACK: forget the half-open connection (Linux tcp_req_err)`);
      this.destroy();
      return 'accepted';
    }
    // RFC 1122 §4.2.3.9: soft errors do not abort a connection; reported only on a later timeout.
    this.counters.inc('icmp_tcp_soft_errors');
    this.softError = code;
    if (err.type === ICMP_DEST_UNREACH && (err.code === ICMP_NET_UNREACH || err.code === ICMP_HOST_UNREACH)) this.revertRto(err.seq, now);
    return 'accepted';
  }

  /**
   * RFC 6069 §3: a net or host unreachable for the retransmitted head segment
   * shows the path is down, not congested: undo one backoff of the RTO, and
   * retransmit at once if the shorter timer has already run out.
   */
  private revertRto(seq: number, now: number): void {
    if (seq !== this.sndUna || this.retries === 0 || this.rtt.backoff === 0 || this.rtoAt === Infinity) return;
    this.rtt.backoff--;
    this.counters.inc('icmp_tcp_rto_reverted');
    const at = this.rtoArmedAt + this.rtt.rto;
    if (at > now) this.rtoAt = at;
    else this.retransmissionTimeout(now);
  }

  /**
   * The path MTU to the peer is now `mtu` (the stack's cache, RFC 1191). A
   * lower one resends what is in flight at once, at the new size.
   */
  pathMtuChanged(mtu: number, now: number): void {
    this.now = now;
    this.pathMtu = mtu;
    const before = this.sndMss;
    this.applyMss();
    if (this.sndMss >= before || this.sndUna === this.sndNxt || !this.synAcked) return;
    // Linux tcp_simple_retransmit: the segments in flight were too big; resend, no congestion response.
    this.counters.inc('tcp_pmtu_retransmits');
    this.recovery.enterLoss(this.sndUna, this.sndNxt);
    this.tlp.cancel();
    this.ptoAt = Infinity;
    this.transmit(now);
  }

  /** SND.MSS = min(the handshake's MSS, path MTU - 40), as Linux tcp_sync_mss. */
  protected applyMss(): void {
    if (this.synMss === 0) return; // before the handshake: takePeerOptions applies it
    this.sndMss = Math.max(64, Math.min(this.synMss, this.pathMtu - TCPIP_HEADERS));
    this.cc.setMss(this.effMss);
  }

  protected override takePeerOptions(o: TcpOptions): void {
    super.takePeerOptions(o);
    this.synMss = this.sndMss;
    this.applyMss();
  }

  /** A soft error stands in for ETIMEDOUT (Linux tcp_write_err: sk_err_soft ?: ETIMEDOUT). */
  protected override fail(code: TcpErrorCode, cause: string): void {
    if (code === 'ETIMEDOUT' && this.softError !== null) {
      cause += `; last ICMP error: ${this.softError}`;
      code = this.softError;
    }
    super.fail(code, cause);
  }

  /** An ACK that moves SND.UNA shows the path works: forget the soft error (Linux tcp_ack). */
  protected override ackSynOrData(ack: number, now: number, tsEcr?: number, dsack = false, sackedBefore?: number): void {
    const una = this.sndUna;
    super.ackSynOrData(ack, now, tsEcr, dsack, sackedBefore);
    if (this.sndUna !== una) this.softError = null;
  }

  protected override armRto(now: number): void {
    this.rtoArmedAt = now;
    super.armRto(now);
  }
}
