/**
 * The transmission control block (RFC 9293 §3.3.1): every variable of one
 * connection, and the pieces shared by sending and receiving: building
 * outgoing segments with their options, the advertised window, state
 * changes and events. The behaviour lives in two subclasses, read in order:
 * sender.ts (sending, retransmission, timers) and connection.ts (user calls
 * and segment arrival, RFC 9293 §3.10).
 */
import { Chrono } from './chrono.js';
import { TCP_ACK, TCP_ECE, TCP_RST, TCP_SYN, type TcpOption, type TcpOptions } from '../wire/tcp.js';
import { seqAdd, seqGt, seqLt, seqSub } from '../wire/seq.js';
import type { TcpState } from './state.js';
import { DEFAULT_PEER_MSS, initialRcvBuf, maxRcvBuf, ourMss, rcvWscaleFor, type TcpConfig } from './config.js';
import { RcvSpace } from './autotune.js';
import { SendQueue } from './send-queue.js';
import { PushPoints } from './push-points.js';
import { ReceiveBuffer } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import type { CongestionControl } from './congestion/congestion.js';
import { createCongestionControl } from './congestion/factory.js';
import { LossRecovery } from './recovery.js';
import { Timestamps, tsOffsetFor } from './timestamps.js';
import { WriteQueueMem, sizeGoal } from './wmem.js';
import { FixedOptionsSegment } from './options.js';
import { TailLossProbe } from './tlp.js';
import { AckPolicy } from './ack-policy.js';
import { EcnState } from './ecn.js';
import { Pacer } from './pacing.js';
import { expandedSndBuf } from './sndbuf.js';

/** A segment to send; the stack fills in addresses and ports. */
export interface OutSegment {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The options as a list (SYNs, tests); segments built by emitSegment make
   * it only when read, and the stack writes their fixed fields instead. */
  options?: TcpOption[];
  /** Timestamps (RFC 7323) and SACK blocks (RFC 2018) as plain fields
   * (options.ts FixedOptionsSegment): no option list per segment. */
  tsVal?: number;
  tsEcr?: number;
  sack?: Array<[number, number]>;
  payload?: Buffer;
  /** A super-segment for a link with segmentation offload: cut into pieces
   * of this many payload bytes (the effective MSS). 0 or absent: as it is. */
  gsoSize?: number;
  /** Send as ECN-capable, ECT(0) in the IP header (RFC 3168 §6.1.2: new data of an ECN connection). */
  ect?: boolean;
}

/** The ends of a connection, as errno names; the last ones come from ICMP errors (wire/icmp.ts, Linux icmp_err_convert). */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EPIPE'
  | 'ENETUNREACH' | 'EHOSTUNREACH' | 'ENOPROTOOPT' | 'EMSGSIZE' | 'EOPNOTSUPP' | 'EHOSTDOWN' | 'ENONET' | 'EPROTO' | 'EACCES';

export type ConnEvent =
  /** A state change, with what caused it and the RFC rule that says so. */
  | { type: 'state'; from: TcpState; to: TcpState; cause: string }
  | { type: 'established' }
  /** New in-order data can be read. */
  | { type: 'readable' }
  /** The peer's FIN arrived in order: no more data will come. */
  | { type: 'end' }
  /** The send buffer has room again after write() returned false. */
  | { type: 'drain' }
  | { type: 'error'; code: TcpErrorCode }
  /** The congestion control changed its own state (HyStart++ exit, ...): for --explain. */
  | { type: 'cc'; cause: string }
  /** The TCB is gone (CLOSED): the stack forgets the connection. */
  | { type: 'closed' }
  /** Loss recovery changed phase (open, recovery, loss) or undid a reduction; for --explain (recovery.ts). */
  | { type: 'recovery'; phase: 'open' | 'recovery' | 'loss'; cause: string };

export interface CounterSink {
  inc(name: string, by?: number): void;
}

const NO_COUNTERS: CounterSink = { inc() {} };

/** What sackBlocks returns when there is nothing to report (shared, never changed). */
const NO_SACK_BLOCKS: Array<[number, number]> = [];

/** Recent out-of-order arrivals remembered for the order of SACK blocks (two ACKs' worth). */
const SACK_RECENCY = 8;

export abstract class Tcb {
  state: TcpState = 'CLOSED';
  readonly out: OutSegment[] = [];
  readonly events: ConnEvent[] = [];

  // Send sequence variables (RFC 9293 §3.3.1).
  iss: number;
  sndUna: number;
  /** Next new sequence number to send; retransmissions never move it back. */
  sndNxt: number;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer ever offered (for sender SWS avoidance, §3.8.6.2.1). */
  maxSndWnd = 0;
  /** Shift applied to the peer's window field (RFC 7323). */
  sndWscale = 0;
  /** Effective send MSS (RFC 9293 §3.7.1). */
  sndMss = DEFAULT_PEER_MSS;

  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised: never moves left (§3.8.6.2.2). */
  protected rcvAdvEdge = 0;
  /** RCV.NXT in the last segment we sent with ACK (RFC 7323 Last.ACK.sent, Linux rcv_wup). */
  protected rcvWup = 0;
  rcvWscale = 0;
  protected wscaleOk = false;

  readonly sendQueue = new SendQueue();
  /** The send queue as Linux charges it against SO_SNDBUF (wmem.ts). */
  readonly wmem = new WriteQueueMem();
  /** Where PSH goes in the queued bytes (push-points.ts). */
  protected readonly pushPoints = new PushPoints();
  readonly recvBuffer: ReceiveBuffer;
  /** Receive-buffer autotuning (autotune.ts), from the first in-order data on; null with a fixed buffer. */
  protected rcvSpace: RcvSpace | null = null;
  private autotuneChecked = false;
  readonly rtt: RttEstimator;
  readonly cc: CongestionControl;
  readonly recovery: LossRecovery;
  readonly ts: Timestamps;
  /** When to acknowledge: delayed and quick ACKs, out-of-window ACK limit (ack-policy.ts). */
  readonly ackPolicy: AckPolicy;
  /** ECN negotiation, echo and response (RFC 3168, ecn.ts). */
  readonly ecn: EcnState;
  /** Both SYNs carried SACK-permitted (RFC 2018 §2). */
  protected sackOk = false;
  /** A duplicate we received, to report as the first SACK block (D-SACK, RFC 2883). */
  protected dsack: [number, number] | null = null;
  /** Starts of recent out-of-order arrivals, newest first: blocks are reported in this order (RFC 2018 §4). */
  protected sackRecency: number[] = [];
  /** Start of the newest segment of new data we sent (a tail loss probe resends it). */
  protected lastSegSeq = 0;
  /**
   * TSval when the retransmission timer last fired. A peer that saw only
   * duplicates since then still echoes a TS.Recent from before the stall,
   * which would inflate the RTT by the whole wait, so such older echoes give
   * no sample unless the acknowledged data was never retransmitted
   * (RFC 7323 §4.1 caveat; Linux takes them all).
   */
  protected rtxTsVal = -1;
  /** End of the highest range ever retransmitted: an ACK of data above it was
   * triggered by original transmissions, so its echo is fresh. */
  protected highRxtEver = 0;
  /** When we last sent new data (restart after idle, RFC 5681 §4.1). */
  protected lastSendAt = 0;
  /** The time of the input being processed (every entry point sets it). */
  protected now = 0;

  /** The user has closed the sending direction: a FIN follows the queued data. */
  protected finQueued = false;
  /** Our SYN has been acknowledged (it occupies one sequence number before the data). */
  protected synAcked = false;
  /** Sequence number of our FIN once sent, else -1. */
  protected finSeqNo = -1;
  /** The peer's FIN has been received (in order). */
  protected finReceived = false;
  /** The user called close() before the handshake completed; send FIN once established. */
  protected passiveOpen = false;
  protected writeBlocked = false;

  // Timers: absolute times in ms, Infinity when off.
  rtoAt = Infinity;
  persistAt = Infinity;
  delAckAt = Infinity;
  keepAliveAt = Infinity;
  timeWaitAt = Infinity;
  /** Tail loss probe timer (RFC 8985 §7). */
  ptoAt = Infinity;
  /** FIN_WAIT_2 timer of an orphan (Linux tcp_fin_timeout). */
  finWait2At = Infinity;
  /** Pacing held a segment back until then (pacing.ts). */
  paceAt = Infinity;
  readonly pacer = new Pacer();
  /**
   * The application closed its socket (close(2); Node's destroy()): nothing
   * more is read, and the TCB finishes on its own, with bounded patience.
   */
  orphaned = false;
  readonly tlp = new TailLossProbe();

  protected retries = 0;
  protected persistBackoff = 0;
  /** Zero-window probes sent since the peer last answered (Linux icsk_probes_out). */
  protected probesOut = 0;
  protected keepAliveProbes = 0;
  /** Karn: the segment being timed (ends at rttSeq), or -1. */
  protected rttSeq = -1;
  protected rttStart = 0;
  /** When the oldest unacknowledged data was sent or last acknowledged progress (RFC 5482). */
  protected unackedSince = 0;
  /** Our SYN (or SYN,ACK) timed out at least once (RFC 6298 §5.7). */
  protected synTimedOut = false;
  protected lastRecvAt = 0;
  protected challengeWindowStart = -Infinity;
  protected challengeCount = 0;

  readonly cfg: TcpConfig;

  constructor(
    cfg: TcpConfig,
    iss: number,
    now: number,
    protected readonly counters: CounterSink = NO_COUNTERS,
  ) {
    this.cfg = { ...cfg }; // setNoDelay and friends change it per connection
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.highRxtEver = this.iss;
    this.recvBuffer = new ReceiveBuffer(initialRcvBuf(cfg));
    this.rtt = new RttEstimator(cfg.rto);
    this.cc = createCongestionControl(cfg.cc, DEFAULT_PEER_MSS, {
      inc: (name) => counters.inc(name),
      note: (cause) => this.events.push({ type: 'cc', cause }),
    }, cfg.hystart, cfg.initCwnd);
    this.recovery = new LossRecovery(this.cc, counters);
    this.recovery.onChange = (phase, cause) => this.events.push({ type: 'recovery', phase, cause });
    this.ts = new Timestamps(tsOffsetFor(this.iss));
    this.ackPolicy = new AckPolicy(cfg.quickAcks);
    this.ecn = new EcnState(cfg.ecn);
    this.now = now;
    this.rcvWscale = cfg.windowScaling ? rcvWscaleFor(cfg) : 0;
    this.lastRecvAt = now;
    this.unackedSince = now;
  }

  /** Payload bytes per full segment: the MSS less the options every segment carries (RFC 9293 §3.7.1). */
  get effMss(): number {
    return this.sndMss - (this.ts.enabled ? 12 : 0);
  }

  /** The most payload a peer's segment should carry: the MSS we offered less the timestamp option. */
  protected get advMss(): number {
    return ourMss(this.cfg) - (this.ts.enabled ? 12 : 0);
  }


  /** Bytes queued and not yet acknowledged. */
  get bufferedToSend(): number {
    return this.sendQueue.length;
  }

  get readable(): number {
    return this.recvBuffer.readable;
  }

  protected ourFinAcked(): boolean {
    return this.finSeqNo !== -1 && seqGt(this.sndUna, this.finSeqNo);
  }

  /** Where our FIN goes: right after the last queued byte. */
  protected finPosition(): number {
    return seqAdd(this.sndUna, this.sendQueue.length + (this.synAcked ? 0 : 1));
  }

  /** A segment with ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> plus whatever flags;
   * `ect` for new data of an ECN connection (RFC 3168 §6.1.2). */
  protected emitSegment(seq: number, flags: number, payload?: Buffer, ect = false): void {
    // RFC 3168 §6.1.3: ECE on every segment after a CE until the peer's CWR (Linux: RSTs too).
    if (this.ecn.demandCwr && !(flags & TCP_SYN)) flags |= TCP_ECE;
    const window = flags & TCP_ACK || flags & TCP_RST ? this.advertiseWindow() : 0;
    // RFC 7323 §3.2: every segment carries TSopt once negotiated, RSTs included (as Linux sends them).
    const ts = this.ts.enabled;
    let sack: Array<[number, number]> | undefined;
    if (this.sackOk && flags & TCP_ACK && !(flags & TCP_RST)) {
      // Up to 4 blocks, 3 beside timestamps, and only as many as fit beside the payload.
      const room = Math.floor((this.sndMss - (payload?.length ?? 0) - (ts ? 12 : 0) - 4) / 8);
      sack = this.sackBlocks(Math.min(ts ? 3 : 4, room));
      if (sack.length === 0) sack = undefined;
    }
    const mss = this.effMss;
    const gsoSize = payload !== undefined && payload.length > mss ? mss : 0;
    this.out.push(new FixedOptionsSegment(
      seq, flags & TCP_ACK ? this.rcvNxt : 0, flags, window,
      ts ? this.ts.value(this.now) : undefined, ts ? this.ts.recent : undefined, sack, payload, gsoSize, ect,
    ));
    if (flags & TCP_ACK) {
      this.delAckAt = Infinity;
      this.rcvWup = this.rcvNxt;
      this.ackPolicy.ackSent();
    }
    if (payload !== undefined && payload.length > 0) this.ackPolicy.dataSent(this.now, this.cfg.delayedAck);
  }

  /**
   * SACK blocks for an outgoing ACK (RFC 2018 §4): a D-SACK first if we just
   * got a duplicate (RFC 2883), then the blocks in order of their latest
   * arrival, newest first (so recently reported blocks are repeated), then
   * any others, highest first. O(k log n): a tree lookup per block, however
   * many ranges a peer made us hold.
   */
  protected sackBlocks(max: number): Array<[number, number]> {
    if (max <= 0) return NO_SACK_BLOCKS;
    // Nothing out of order and no D-SACK (nearly every ACK): no SACK work at all.
    if (this.dsack === null && !this.recvBuffer.hasOutOfOrder) {
      if (this.sackRecency.length > 0) this.sackRecency = [];
      return NO_SACK_BLOCKS;
    }
    const out: Array<[number, number]> = [];
    if (this.dsack !== null) {
      out.push(this.dsack);
      this.dsack = null;
    }
    const buf = this.recvBuffer;
    const used: number[] = [];
    const live: number[] = [];
    for (const seq of this.sackRecency) {
      const r = buf.rangeAt(seq);
      if (r === null) continue; // filled meanwhile
      live.push(seq);
      if (out.length < max && !used.includes(r[0])) {
        used.push(r[0]);
        out.push(r);
      }
    }
    this.sackRecency = live;
    for (let r = buf.lastRange(); r !== null && out.length < max; r = buf.rangeBelow(r[0])) if (!used.includes(r[0])) out.push(r);
    return out;
  }

  /** Out-of-order data arrived at `seq`: its block is reported first from now on. */
  protected noteSackArrival(seq: number): void {
    const recent = this.sackRecency;
    if (recent.length >= SACK_RECENCY) recent.pop();
    recent.unshift(seq);
  }

  /** Data bytes in flight (RFC 5681 FlightSize): neither our SYN nor our FIN counts. */
  protected flightSize(): number {
    let n = seqSub(this.sndNxt, this.sndUna);
    if (!this.synAcked && n > 0) n--;
    if (this.finSeqNo !== -1 && seqGt(this.sndNxt, this.finSeqNo) && !seqGt(this.sndUna, this.finSeqNo)) n--;
    return Math.max(0, n);
  }

  sendAck(now: number): void {
    void now;
    this.emitSegment(this.sndNxt, TCP_ACK);
  }

  /** RFC 5961 §7: challenge ACKs, rate-limited per connection. */
  protected sendChallengeAck(now: number, why: string): void {
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount >= this.cfg.challengeAckLimit) {
      this.counters.inc('tcp_challenge_ack_suppressed');
      return;
    }
    this.challengeCount++;
    this.counters.inc(`tcp_challenge_ack_${why}`);
    this.sendAck(now);
  }

  /** <SEQ=seq><CTL=RST>, the answer to an unacceptable ACK. */
  protected sendReset(seq: number): void {
    this.out.push({ seq, ack: 0, flags: TCP_RST, window: 0 });
  }


  /** RCV.WND as last advertised, for tracing (the pictures' window plot). */
  get rcvWnd(): number {
    return this.currentRcvWnd();
  }

  /** RCV.WND as last advertised (what the acceptability test uses). */
  protected currentRcvWnd(): number {
    return Math.max(0, seqSub(this.rcvAdvEdge, this.rcvNxt));
  }

  /** The window we would offer now, before SWS avoidance. */
  protected windowToAdvertise(): number {
    const free = this.recvBuffer.capacity - this.recvBuffer.used;
    return Math.min(free, 65535 << this.rcvWscale);
  }

  /** What we accept: the buffer, plus the rounding slack of a scaled window edge. */
  protected rcvLimit(): number {
    return this.recvBuffer.capacity + (1 << this.rcvWscale) - 1;
  }

  protected worthwhileWindow(): number {
    return Math.min(this.recvBuffer.capacity >> 1, ourMss(this.cfg));
  }

  /**
   * The window field for an outgoing segment. The right edge never moves left
   * (§3.8.6.2.2, and the SHOULD NOT shrink of §3.8.6), and it moves right only by
   * a worthwhile amount (receiver SWS avoidance).
   */
  protected advertiseWindow(): number {
    const offer = this.windowToAdvertise();
    const edge = seqAdd(this.rcvNxt, offer);
    const old = this.rcvAdvEdge;
    let target = old;
    if (seqGt(edge, old) && (offer - this.currentRcvWnd() >= this.worthwhileWindow() || offer === this.recvBuffer.capacity)) target = edge;
    if (seqLt(target, this.rcvNxt)) target = this.rcvNxt;
    const wnd = seqSub(target, this.rcvNxt);
    // The scaled field says multiples of 2^shift: round down, unless that
    // would move the edge left; then round up, like Linux's tcp_select_window,
    // but only as far as the buffer can hold: each rounding up may add up to
    // 2^shift - 1 bytes, and ACK after ACK of a window that is closing would
    // let the edge creep past the buffer (with shift 7, 127 bytes per ACK), a
    // promise we could not keep. Then the field is rounded down and the edge
    // stays where it was: data up to it is still accepted (it fits).
    const shift = this.rcvWscale;
    let field = wnd >> shift;
    if (seqLt(seqAdd(this.rcvNxt, field << shift), old)) {
      const up = (wnd + (1 << shift) - 1) >> shift;
      // What lies in the window (held out of order or not) and the data not yet read must fit.
      if (up << shift <= this.rcvLimit() - this.recvBuffer.readable) field = up;
    }
    field = Math.min(field, 65535);
    const said = seqAdd(this.rcvNxt, field << shift);
    if (!seqLt(said, old)) this.rcvAdvEdge = said;
    return field;
  }


  /** In-order data arrived: the receiver's RTT measurements for autotuning (started by the first data). */
  protected autotuneOnData(len: number, tsEcr: number | undefined, now: number): void {
    if (!this.autotuneChecked) {
      this.autotuneChecked = true;
      // No further than the window field can say (a peer without window scaling: 65535).
      const max = Math.min(maxRcvBuf(this.cfg), 65535 * 2 ** this.rcvWscale);
      if (RcvSpace.enabled(this.recvBuffer.capacity, max)) this.rcvSpace = new RcvSpace(max, this.advMss, this.currentRcvWnd(), now);
    }
    const rs = this.rcvSpace;
    if (rs === null) return;
    const fresh = tsEcr !== undefined && tsEcr !== 0 && this.ts.enabled ? this.ts.rttSample(tsEcr, now) : undefined;
    rs.onData(len, this.rcvNxt, this.currentRcvWnd(), fresh, tsEcr, this.ackPolicy.rcvMss, now);
  }

  /** The application read `n` bytes: grow the buffer if a round trip's delivery says so (Linux tcp_rcv_space_adjust). */
  protected autotuneOnRead(n: number, now: number): void {
    const rs = this.rcvSpace;
    if (rs === null || n <= 0) return;
    const next = rs.onRead(n, this.recvBuffer.capacity, this.advMss, now);
    if (next > 0) {
      this.recvBuffer.grow(next);
      this.counters.inc('tcp_rcvbuf_autotuned');
    }
  }

  /** The options of the peer's SYN (or what a SYN cookie kept of them). */
  protected takePeerOptions(o: TcpOptions): void {
    // RFC 9293 §3.7.1: the effective send MSS; 536 when the peer sends none.
    const peerMss = o.mss !== undefined && o.mss > 0 ? o.mss : DEFAULT_PEER_MSS;
    this.sndMss = Math.max(64, Math.min(peerMss, this.cfg.mss));
    // RFC 2018 §2 and RFC 7323 §3.2: on only if both SYNs carry the option.
    this.sackOk = this.cfg.sack && o.sackPermitted;
    this.recovery.sackOk = this.sackOk;
    if (this.sackOk && this.cfg.rack) this.recovery.useRack(); // RFC 8985, Linux tcp_recovery=1
    this.recovery.frtoEnabled = this.cfg.frto; // RFC 5682, Linux tcp_frto
    this.ts.enabled = this.cfg.timestamps && o.tsVal !== undefined;
    if (this.ts.enabled) this.ts.setRecent(o.tsVal!, this.now);
    this.cc.setMss(this.effMss);
    this.ackPolicy.initRcvMss(this.advMss, this.effMss, Math.min(65535, this.recvBuffer.capacity));
    // RFC 7323 §2.2: scaling is on only if both SYNs carry the option.
    if (this.cfg.windowScaling && o.wscale !== undefined) {
      this.wscaleOk = true;
      this.sndWscale = Math.min(14, o.wscale);
    } else {
      this.wscaleOk = false;
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
  }


  protected fail(code: TcpErrorCode, cause: string): void {
    this.events.push({ type: 'error', code });
    this.setState('CLOSED', cause);
    this.destroy();
  }

  /** Delete the TCB (RFC 9293: "enter the CLOSED state and delete the TCB"). */
  protected destroy(): void {
    this.state = 'CLOSED';
    this.rtoAt = this.persistAt = this.delAckAt = this.keepAliveAt = this.timeWaitAt = this.ptoAt = this.finWait2At = this.paceAt = Infinity;
    this.recovery.reoTimerAt = Infinity;
    this.sendQueue.clear();
    this.wmem.clear();
    this.pushPoints.clear();
    this.events.push({ type: 'closed' });
  }

  protected setState(to: TcpState, cause: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (to === 'ESTABLISHED') {
      this.establishedAt = this.now;
      this.expandSndBuf(); // Linux tcp_init_buffer_space
    }
    this.events.push({ type: 'state', from, to, cause });
  }

  /** Busy, window- and buffer-limited time (TCP_INFO's chrono fields). */
  readonly chrono = new Chrono();

  /** When the connection reached ESTABLISHED (Linux sets lrcvtime then: tcp_finish_connect, tcp_create_openreq_child). */
  establishedAt = 0;

  /** Send-buffer autotuning (sndbuf.ts, Linux tcp_sndbuf_expand): the buffer follows cwnd. */
  protected expandSndBuf(): void {
    const next = expandedSndBuf(this.cfg.sndBuf, this.cfg.sndBufMax, this.sndMss, this.cc.cwnd / this.effMss, this.recovery.reordering, this.cc.sndBufWindows ?? 2);
    if (next <= this.cfg.sndBuf) return;
    this.cfg.sndBuf = next;
    this.counters.inc('tcp_sndbuf_expanded');
  }

  /** Bytes a write may queue next, as Linux's tcp_sendmsg takes them (wmem.ts). */
  get sendPiece(): number {
    return this.wmem.nextPiece(this.cfg.sndBuf, sizeGoal(this.effMss, this.maxSndWnd));
  }

  /** A write found the send buffer full and no 'drain' has followed yet (Linux SOCK_NOSPACE). */
  get writeWaiting(): boolean {
    return this.writeBlocked;
  }

  /** Zero-window probes sent and not answered (Linux icsk_probes_out, TCP_INFO tcpi_probes). */
  get unansweredProbes(): number {
    return this.probesOut;
  }

  /** For tests and invariants. */
  get peerFinReceived(): boolean {
    return this.finReceived;
  }

  /** Relations that must hold after every input (checked by the simulations). */
  checkInvariants(): string | null {
    if (seqGt(this.sndUna, this.sndNxt)) return 'SND.UNA > SND.NXT';
    if (this.state !== 'CLOSED' && seqSub(this.sndNxt, this.sndUna) > this.sendQueue.length + 2) return 'SND.NXT beyond the send queue';
    if (this.recvBuffer.used > this.rcvLimit()) return 'receive buffer over capacity';
    // Written so that NaN fails too.
    if (!(this.cc.cwnd >= this.effMss)) return 'cwnd < 1 MSS';
    const rto = this.rtt.rto;
    if (!(rto >= Math.min(this.cfg.rto.minRto, this.cfg.rto.initialRto) && rto <= this.cfg.rto.maxRto)) return 'RTO outside [minRto, maxRto]';
    // What we offered must fit what we hold (up to the rounding of a scaled window).
    if (seqSub(this.rcvAdvEdge, this.rcvNxt) > this.rcvLimit()) return 'advertised window beyond the receive buffer';
    // RFC 7323 §2.3: a shift above 14 counts as 14.
    if (!(this.sndWnd >= 0 && this.sndWnd <= 65535 * 2 ** 14)) return 'SND.WND outside [0, 65535 * 2^14]';
    return null;
  }
}
