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
 *    plpmtud.ts keeps the search, this file sends its probes, tells it of
 *    timeouts, ACKs and retransmissions, and applies its MTU.
 */
import { TCP_PSH, type TcpOptions } from '../wire/tcp.js';
import {
  ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_PARAM_PROBLEM, ICMP_TIME_EXCEEDED, type IcmpTcpError,
} from '../wire/icmp.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from '../wire/seq.js';
import { TcbSender } from './sender.js';
import type { TcpErrorCode } from './tcb.js';
import { BLACK_HOLE_TIMEOUTS, MtuSearch } from './plpmtud.js';

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
  /** RFC 4821 search (black holes, probes). */
  readonly mtuSearch = new MtuSearch(this.headers, this.cfg.mtuSearch);
  /** A route change this connection has not sent by yet (routeChanged). */
  private routeStale = false;
  /** Timeouts of full-sized segments in a row at the current MSS, the peer silent (see retransmissionTimeout). */
  protected blackHoleTimeouts = 0;
  /** SACKed bytes at the last timeout or SND.UNA's last move: more since is a sign of delivery. */
  private sackedSeen = 0;

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
    const unreachable = err.type === ICMP_DEST_UNREACH && (err.code === ICMP_NET_UNREACH || err.code === ICMP_HOST_UNREACH);
    if (s === 'SYN_RECEIVED') {
      // A passive open nobody has accepted yet: Linux tcp_req_err drops the
      // request on net/host unreachable, time exceeded and parameter problem only.
      if (!unreachable && err.type !== ICMP_TIME_EXCEEDED && err.type !== ICMP_PARAM_PROBLEM) {
        this.counters.inc('icmp_tcp_syn_recv_ignored');
        return 'accepted';
      }
      this.counters.inc('icmp_tcp_syn_recv_dropped');
      this.setState('CLOSED', `ICMP error (type ${err.type} code ${err.code}) for our SYN,ACK: forget the half-open connection (Linux tcp_req_err)`);
      this.destroy();
      return 'accepted';
    }
    // RFC 1122 §4.2.3.9: soft errors do not abort a connection; reported only on a later timeout.
    this.counters.inc('icmp_tcp_soft_errors');
    this.softError = code;
    if (unreachable) this.revertRto(err.seq, now);
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
    if (!this.cfg.pmtuDiscovery && mtu < this.pathMtu) {
      // IP_PMTUDISC_DONT: the route learns the MTU, this connection keeps its MSS (Linux tcp_v4_mtu_reduced).
      this.counters.inc('tcp_pmtu_ignored');
      return;
    }
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

  /** The most the path may take: the path MTU if known, else what the handshake allows. */
  private pathBound(): number {
    return Math.min(this.pathMtu, this.synMss + this.headers, this.cfg.routeMtu || Infinity);
  }

  /**
   * The route to the peer now has MTU `mtu` (0: none). As Linux, which
   * notices a new route when it next sends (__sk_dst_check) and sizes that
   * burst with the MSS it started with (tcp_write_xmit's mss_now): probes
   * see the route at once, the MSS follows after the next transmission.
   */
  routeChanged(mtu: number): void {
    this.cfg.routeMtu = mtu;
    this.routeStale = true;
  }

  /** IP and TCP headers without options: 40, or 60 over IPv6 (RFC 8200 §8.3). */
  protected get headers(): number {
    return this.cfg.ipv6 ? TCPIP_HEADERS + 20 : TCPIP_HEADERS;
  }

  /** SND.MSS = min(the handshake's MSS, path MTU - 40, the RFC 4821 search's MTU - 40), as Linux tcp_sync_mss (60 over IPv6). */
  protected applyMss(): void {
    if (this.synMss === 0) return; // before the handshake: takePeerOptions applies it
    this.sndMss = Math.max(64, Math.min(this.synMss, this.mtuSearch.mtu(this.pathBound()) - this.headers));
    this.cc.setMss(this.effMss);
  }

  /**
   * RFC 4821 §7.7 (Linux tcp_mtu_probing): five timeouts in a row of
   * full-sized segments mean the large ones vanish: a smaller MSS before
   * this retransmission, and smaller again on each timeout after, until
   * SND.UNA moves. Only timeouts without a sign of delivery count: on a
   * lossy path, duplicate ACKs or SACK blocks for the segments that did
   * arrive show that full-sized ones get through. (Linux does not ask for
   * that, and halves down to 48 bytes; with probing on, that shrank the MSS
   * of connections that merely lose a lot in our seeded simulations with
   * 15-20 % loss. Here the floor is 512, plpmtud.ts.)
   */
  protected override retransmissionTimeout(now: number): void {
    // No duplicate ACK since the last timeout or SND.UNA's last move, nothing newly SACKed.
    const sacked = this.recovery.scoreboard.sackedBytes;
    const silent = this.recovery.dupAcks === 0 && sacked <= this.sackedSeen;
    this.sackedSeen = sacked;
    if (this.cfg.mtuProbing && this.synAcked && silent && seqSub(this.sndNxt, this.sndUna) >= this.effMss) {
      if (++this.blackHoleTimeouts >= BLACK_HOLE_TIMEOUTS) {
        this.counters.inc('tcp_mtu_black_holes');
        if (this.mtuSearch.blackHole(this.pathBound(), now)) this.applyMss();
      }
    }
    super.retransmissionTimeout(now);
  }

  /** RFC 4821 §7.3: a probe goes first when one is due (Linux tcp_write_xmit: tcp_mtu_probe). */
  protected override transmit(now: number): void {
    const sent = this.out.length;
    if (this.mtuSearch.enabled && this.cfg.mtuProbing) this.sendMtuProbe(now);
    super.transmit(now);
    if (this.routeStale && this.out.length > sent) {
      this.routeStale = false;
      this.applyMss();
    }
  }

  /**
   * One segment of new data at the probe size, as Linux tcp_mtu_probe sends
   * it: only in the open state, with enough data behind it that its loss
   * shows as duplicate ACKs rather than a timeout, and room for it in both
   * windows (cwnd of at least 11 segments).
   */
  private sendMtuProbe(now: number): void {
    const s = this.state;
    const r = this.recovery;
    if ((s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT') || r.phase !== 'open' || this.finSeqNo !== -1) return;
    const size = this.mtuSearch.nextProbe(this.pathBound(), now);
    if (size === 0) return;
    const mss = this.effMss;
    const len = size - this.headers - (this.sndMss - mss); // less the options every segment carries
    if (len <= mss) return;
    const offset = seqSub(this.sndNxt, this.sndUna);
    const needed = len + (r.reordering + 1) * mss;
    if (this.sendQueue.length - offset < needed || this.peerWindowRoom() < needed) return;
    if (this.cc.cwnd < 11 * mss || r.window(mss) - r.inFlight(this.sndUna, this.sndNxt, mss) < len + mss) return;
    const start = this.sndNxt;
    this.sendData(offset, len, false, now);
    const probe = this.out[this.out.length - 1]!;
    probe.gsoSize = 0; // one datagram of the probe's size, never cut
    // So no PSH forced as on a super-segment (Linux: the probe is one segment, gso_segs 1); a push point still gets it.
    if (!this.pushPoints.covers(offset, len)) probe.flags &= ~TCP_PSH;
    this.mtuSearch.probeSent(size, start, this.sndNxt);
    this.counters.inc('tcp_mtu_probes');
  }

  /** RFC 4821 §7.6.2: a probe that has to be retransmitted was lost. */
  protected override retransmit(seq: number, len: number, now: number): void {
    const m = this.mtuSearch;
    if (m.probeSize !== 0 && seqLt(seq, m.probeEnd) && seqGt(seqAdd(seq, len), m.probeStart)) {
      m.probeLost();
      this.counters.inc('tcp_mtu_probe_failed');
    }
    super.retransmit(seq, len, now);
  }

  protected override takePeerOptions(o: TcpOptions): void {
    super.takePeerOptions(o);
    this.synMss = this.sndMss;
    // tcp_mtu_probing=2: the search runs from the start. Linux sets a passive
    // open's MSS (tcp_v4_syn_recv_sock) before the search starts
    // (tcp_init_transfer), so its first MSS is the path's; an active open
    // starts the search first (tcp_connect_init) and sends at tcp_base_mss.
    const always = this.cfg.mtuProbing === 'always';
    if (always && !this.passiveOpen) this.mtuSearch.start(this.synMss + this.headers, this.now);
    this.applyMss();
    if (always && this.passiveOpen) this.mtuSearch.start(this.synMss + this.headers, this.now);
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
    if (this.sndUna !== una) {
      this.softError = null;
      this.blackHoleTimeouts = 0;
      this.sackedSeen = this.recovery.scoreboard.sackedBytes;
    }
    // RFC 4821 §7.6.1: the probe arrived (never retransmitted, see retransmit): its MTU works.
    const m = this.mtuSearch;
    if (m.probeSize !== 0 && seqGe(this.sndUna, m.probeEnd)) {
      m.probeAcked(now);
      this.counters.inc('tcp_mtu_probe_success');
      this.applyMss();
    }
  }

  protected override armRto(now: number): void {
    this.rtoArmedAt = now;
    super.armRto(now);
  }
}
