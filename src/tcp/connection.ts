/**
 * One TCP connection (the TCB of RFC 9293 §3.3.1) as a sans-IO state machine.
 *
 * Inputs: `segmentArrives(seg, now)`, user calls (`connect`, `write`, `read`,
 * `close`, `abort`) and `onTimer(now)`. Outputs: segments appended to `out`,
 * events appended to `events`, and `nextDeadline()`. The stack drains `out`
 * and `events` after every input; nothing here reads a clock or does I/O.
 *
 * Segment arrival follows RFC 9293 §3.10.7 step by step; the comments name
 * the step so the RFC can be read alongside.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpOption, type TcpSegment } from '../wire/tcp.js';
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqSub } from '../wire/seq.js';
import type { TcpState } from './state.js';
import { canReceive } from './state.js';
import { DEFAULT_PEER_MSS, windowShiftFor, type TcpConfig } from './config.js';
import { SendQueue } from './send-queue.js';
import { ReceiveBuffer } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import type { CongestionControl } from './congestion/congestion.js';
import { createCongestionControl } from './congestion/factory.js';
import { LossRecovery } from './recovery.js';
import { Timestamps } from './timestamps.js';
import { segmentOptions, synOptions } from './options.js';

/** A segment to send; the stack fills in addresses and ports. */
export interface OutSegment {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options?: TcpOption[];
  payload?: Buffer;
}

export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EPIPE';

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
  /** The TCB is gone (CLOSED): the stack forgets the connection. */
  | { type: 'closed' };

export interface CounterSink {
  inc(name: string, by?: number): void;
}

const NO_COUNTERS: CounterSink = { inc() {} };

export class Connection {
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
  private rcvAdvEdge = 0;
  rcvWscale = 0;
  private wscaleOk = false;

  readonly sendQueue = new SendQueue();
  readonly recvBuffer: ReceiveBuffer;
  readonly rtt: RttEstimator;
  readonly cc: CongestionControl;
  readonly recovery: LossRecovery;
  readonly ts: Timestamps;
  /** Both SYNs carried SACK-permitted (RFC 2018 §2). */
  private sackOk = false;
  /** A duplicate we received, to report as the first SACK block (D-SACK, RFC 2883). */
  private dsack: [number, number] | null = null;
  /** Start of the most recent out-of-order arrival: its block is reported first (RFC 2018 §4). */
  private lastOooSeq = -1;
  /**
   * TSval of our latest retransmission. An echo older than it may come from a
   * peer that had not seen anything new since before the timeout (its
   * TS.Recent is stale) and would inflate the RTT by the whole wait, so only
   * echoes at least this new are used as samples (RFC 7323 §4.1 caveat).
   */
  private rtxTsVal = -1;
  /** When we last sent new data (restart after idle, RFC 5681 §4.1). */
  private lastSendAt = 0;
  /** The time of the input being processed (every entry point sets it). */
  private now = 0;

  /** The user has closed the sending direction: a FIN follows the queued data. */
  private finQueued = false;
  /** Our SYN has been acknowledged (it occupies one sequence number before the data). */
  private synAcked = false;
  /** Sequence number of our FIN once sent, else -1. */
  private finSeqNo = -1;
  /** The peer's FIN has been received (in order). */
  private finReceived = false;
  /** The user called close() before the handshake completed; send FIN once established. */
  private passiveOpen = false;
  private writeBlocked = false;

  // Timers: absolute times in ms, Infinity when off.
  rtoAt = Infinity;
  persistAt = Infinity;
  delAckAt = Infinity;
  keepAliveAt = Infinity;
  timeWaitAt = Infinity;

  private retries = 0;
  private persistBackoff = 0;
  private keepAliveProbes = 0;
  /** Full-sized segments received since we last sent an ACK. */
  private unackedSegments = 0;
  /** Karn: the segment being timed (ends at rttSeq), or -1. */
  private rttSeq = -1;
  private rttStart = 0;
  /** When the oldest unacknowledged data was sent or last acknowledged progress (RFC 5482). */
  private unackedSince = 0;
  /** Our SYN (or SYN,ACK) timed out at least once (RFC 6298 §5.7). */
  private synTimedOut = false;
  private lastRecvAt = 0;
  private challengeWindowStart = -Infinity;
  private challengeCount = 0;

  readonly cfg: TcpConfig;

  constructor(
    cfg: TcpConfig,
    iss: number,
    now: number,
    private readonly counters: CounterSink = NO_COUNTERS,
  ) {
    this.cfg = { ...cfg }; // setNoDelay and friends change it per connection
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.recvBuffer = new ReceiveBuffer(cfg.rcvBuf);
    this.rtt = new RttEstimator(cfg.rto);
    this.cc = createCongestionControl(cfg.cc, DEFAULT_PEER_MSS);
    this.recovery = new LossRecovery(this.cc);
    // Timestamps start from a per-connection offset derived from the (keyed, random-looking) ISS.
    this.ts = new Timestamps(Math.imul(this.iss ^ 0x9e3779b9, 2654435761) >>> 0);
    this.now = now;
    this.rcvWscale = cfg.windowScaling ? windowShiftFor(cfg.rcvBuf) : 0;
    this.lastRecvAt = now;
    this.unackedSince = now;
  }

  /** Payload bytes per full segment: the MSS less the options every segment carries (RFC 9293 §3.7.1). */
  get effMss(): number {
    return this.sndMss - (this.ts.enabled ? 12 : 0);
  }

  // ---------------------------------------------------------------- user calls

  /** Active OPEN (RFC 9293 §3.10.1): send SYN, enter SYN_SENT. */
  connect(now: number): void {
    this.now = now;
    this.sendSyn(false, now);
    this.setState('SYN_SENT', 'user connect: SYN sent (RFC 9293 §3.10.1)');
  }

  /**
   * A SYN arrived for a LISTEN socket (RFC 9293 §3.10.7.2 third check): the
   * new connection starts in SYN_RECEIVED and answers with SYN,ACK.
   */
  acceptSyn(seg: TcpSegment, now: number): void {
    this.now = now;
    this.passiveOpen = true;
    this.state = 'LISTEN';
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takePeerOptions(seg);
    this.setSendWindow(seg.window, seg.seq, seg.ack, false);
    this.setState('SYN_RECEIVED', 'rcv SYN on a listening port: SYN,ACK sent (RFC 9293 §3.10.7.2)');
    this.sendSyn(true, now);
  }

  /**
   * Queue data (RFC 9293 §3.10.2 SEND). Returns false when the send buffer
   * is full: the caller should wait for a 'drain' event.
   */
  write(data: Buffer, now: number): boolean {
    this.now = now;
    if (this.finQueued || this.state === 'CLOSED') return false;
    this.sendQueue.push(data);
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT') this.transmit(now);
    const ok = this.sendQueue.length < this.cfg.sndBuf;
    if (!ok) this.writeBlocked = true;
    return ok;
  }

  /** Bytes queued and not yet acknowledged. */
  get bufferedToSend(): number {
    return this.sendQueue.length;
  }

  /** Take received in-order data; opening the window may send an update. */
  read(now: number, max = Infinity): Buffer[] {
    this.now = now;
    const data = this.recvBuffer.take(max);
    if (data.length > 0 && canReceive(this.state)) {
      // Receiver SWS avoidance (§3.8.6.2.2): announce the window only when it
      // can move right by min(RCV.BUFF/2, MSS) or more.
      // Like Linux, only when the window would at least double, to save ACKs.
      const cur = this.currentRcvWnd();
      const offer = this.windowToAdvertise();
      if (offer - cur >= this.worthwhileWindow() && offer >= 2 * cur) this.sendAck(now);
    }
    return data;
  }

  get readable(): number {
    return this.recvBuffer.readable;
  }

  /**
   * CLOSE (RFC 9293 §3.10.4): no more data from us; FIN after what is queued.
   */
  close(now: number): void {
    this.now = now;
    switch (this.state) {
      case 'CLOSED':
      case 'LISTEN':
        return;
      case 'SYN_SENT':
        // Nothing was sent that needs closing: delete the TCB.
        this.setState('CLOSED', 'user close in SYN_SENT (RFC 9293 §3.10.4)');
        this.destroy();
        return;
      case 'SYN_RECEIVED':
        if (this.finQueued) return;
        this.finQueued = true;
        // §3.10.4: with nothing queued, send the FIN now and enter FIN-WAIT-1;
        // otherwise it follows the data once ESTABLISHED.
        if (this.sendQueue.length === 0) this.sendData(0, 0, true, now);
        return;
      case 'ESTABLISHED':
      case 'CLOSE_WAIT':
        if (this.finQueued) return;
        this.finQueued = true;
        this.transmit(now);
        return;
      default:
        return; // FIN already queued or sent.
    }
  }

  /** ABORT (RFC 9293 §3.10.5): send RST if synchronized, forget everything. */
  abort(now: number): void {
    this.now = now;
    const s = this.state;
    if (s === 'CLOSED') return;
    if (s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2' || s === 'CLOSE_WAIT') {
      this.emitSegment(this.sndNxt, TCP_RST | TCP_ACK);
    }
    this.setState('CLOSED', 'user abort: RST sent (RFC 9293 §3.10.5)');
    this.destroy();
  }

  setNoDelay(on: boolean, now: number): void {
    this.now = now;
    this.cfg.noDelay = on;
    if (on) this.transmit(now);
  }

  setKeepAlive(idleMs: number, now: number): void {
    this.now = now;
    this.cfg.keepAliveIdle = idleMs;
    this.keepAliveProbes = 0;
    this.armKeepAlive(now);
  }

  // ---------------------------------------------------------- segment arrival

  /** RFC 9293 §3.10.7: SEGMENT ARRIVES. */
  segmentArrives(seg: TcpSegment, now: number): void {
    this.now = now;
    this.lastRecvAt = now;
    this.keepAliveProbes = 0;
    switch (this.state) {
      case 'CLOSED':
      case 'LISTEN':
        return; // The stack handles these (§3.10.7.1, §3.10.7.2).
      case 'SYN_SENT':
        this.synSentArrives(seg, now);
        break;
      default:
        this.synchronizedArrives(seg, now);
    }
    this.armKeepAlive(now);
  }

  /** §3.10.7.3: SYN-SENT STATE. */
  private synSentArrives(seg: TcpSegment, now: number): void {
    const ack = (seg.flags & TCP_ACK) !== 0;
    // First, check the ACK bit.
    if (ack && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt))) {
      if (!(seg.flags & TCP_RST)) this.sendReset(seg.ack);
      this.counters.inc('tcp_bad_ack_syn_sent');
      return;
    }
    // Second, check the RST bit: reset only if its ACK was acceptable.
    if (seg.flags & TCP_RST) {
      if (!ack) return;
      this.counters.inc('tcp_rst_received');
      this.fail('ECONNREFUSED', 'rcv RST,ACK for our SYN: connection refused (RFC 9293 §3.10.7.3)');
      return;
    }
    // Fourth, check the SYN bit.
    if (!(seg.flags & TCP_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.takePeerOptions(seg);
    if (ack) {
      this.ackSynOrData(seg.ack, now, seg.options.tsEcr);
      this.setSendWindow(seg.window, seg.seq, seg.ack, false);
      // Our SYN has been ACKed: ESTABLISHED, send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
      this.setState('ESTABLISHED', 'rcv SYN,ACK that acknowledges our SYN: ACK sent (RFC 9293 §3.10.7.3)');
      this.events.push({ type: 'established' });
      this.sendAck(now);
      this.continueEstablished(seg, now);
      return;
    }
    // Simultaneous open: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    this.setSendWindow(seg.window, seg.seq, seg.ack, false);
    this.setState('SYN_RECEIVED', 'rcv SYN while in SYN_SENT: simultaneous open, SYN,ACK sent (RFC 9293 §3.10.7.3)');
    this.sndNxt = this.iss;
    this.sendSyn(true, now);
  }

  /** After the handshake-completing segment: its data and FIN (steps six to eight). */
  private continueEstablished(seg: TcpSegment, now: number): void {
    const payload = seg.payload;
    if (payload.length > 0 || seg.flags & TCP_FIN) {
      this.processText(seqAdd(seg.seq, 1), payload, (seg.flags & TCP_FIN) !== 0, now);
    }
    this.transmit(now);
  }

  /** §3.10.7.4: all synchronized states (and SYN-RECEIVED). */
  private synchronizedArrives(seg: TcpSegment, now: number): void {
    const flags = seg.flags;
    let seq = seg.seq;
    let payload = seg.payload;
    let fin = (flags & TCP_FIN) !== 0;
    const segLen = payload.length + (flags & TCP_SYN ? 1 : 0) + (fin ? 1 : 0);

    // RFC 5961 §4.2 exception (and Linux): in SYN-RECEIVED after a simultaneous
    // open, the peer's SYN,ACK completes the handshake as if it were an ACK.
    const simultaneousSynAck =
      this.state === 'SYN_RECEIVED' && !this.passiveOpen && (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) &&
      seqAdd(seq, 1) === this.rcvNxt && seg.ack === this.sndNxt;

    // RFC 7323 §5.3 R1 (PAWS): a segment older than TS.Recent is an old
    // duplicate: answer with an ACK and drop it. RSTs are exempt, as in Linux.
    if (!(flags & TCP_RST) && this.ts.pawsRejects(seg.options.tsVal)) {
      this.counters.inc('tcp_paws_rejected');
      this.sendAck(now);
      return;
    }

    // First, check the sequence number (the four acceptability cases).
    const wnd = this.currentRcvWnd();
    /** A probe into our zero window: its ACK is used, and it is answered with an ACK. */
    let answerProbe = false;
    if (!simultaneousSynAck && !this.acceptable(seq, segLen, wnd)) {
      // Special allowance (§3.10.7.4): with a zero window, still process ACKs at RCV.NXT.
      const zeroWindowAck = wnd === 0 && seq === this.rcvNxt && !(flags & (TCP_SYN | TCP_RST));
      if (!zeroWindowAck) {
        this.counters.inc('tcp_unacceptable_segment');
        // A duplicate of data we already have is reported back as a D-SACK (RFC 2883).
        if (this.sackOk && payload.length > 0 && seqLe(seqAdd(seq, payload.length), this.rcvNxt)) this.dsack = [seq, seqAdd(seq, payload.length)];
        if (!(flags & TCP_RST)) {
          if (this.state === 'SYN_RECEIVED' && flags & TCP_SYN) this.retransmitSynAck(now);
          else if (this.state === 'TIME_WAIT' && fin) this.timeWaitFinAgain(now);
          else this.sendAck(now);
        }
        return;
      }
      payload = payload.subarray(0, 0);
      fin = false;
      answerProbe = segLen > 0;
    }

    if (simultaneousSynAck) {
      payload = payload.subarray(0, 0);
      fin = false;
    }
    // Trim to the window: drop what was already received and what lies beyond.
    if (!simultaneousSynAck && segLen > 0) {
      const early = seqSub(this.rcvNxt, seq);
      if (early > 0) {
        if (this.sackOk && payload.length > 0) this.dsack = [seq, seqAdd(seq, Math.min(early, payload.length))];
        payload = payload.subarray(Math.min(early, payload.length));
        seq = this.rcvNxt;
        this.counters.inc('tcp_partial_duplicate');
      }
      const room = seqSub(seqAdd(this.rcvNxt, wnd), seq);
      if (payload.length > room) {
        payload = payload.subarray(0, Math.max(0, room));
        fin = false;
        this.counters.inc('tcp_trimmed_beyond_window');
      }
    }

    this.ts.update(seg.options.tsVal, seg.seq); // RFC 7323 §4.3 (2)

    // Second, check the RST bit (RFC 5961 §3.2: only an exact match resets).
    if (flags & TCP_RST) {
      this.counters.inc('tcp_rst_received');
      // SEG.SEQ as sent, not as trimmed: data before RCV.NXT must not widen the target.
      if (seg.seq !== this.rcvNxt) {
        this.sendChallengeAck(now, 'rst');
        return;
      }
      this.resetReceived();
      return;
    }

    // Fourth, check the SYN bit (RFC 5961 §4.2: any SYN gets a challenge ACK).
    if (flags & TCP_SYN && !simultaneousSynAck) {
      if (this.state === 'SYN_RECEIVED' && this.passiveOpen) {
        // §3.10.7.4 fourth: a passive open returns to LISTEN, i.e. this TCB goes away.
        this.setState('CLOSED', 'rcv SYN in SYN_RECEIVED: back to LISTEN (RFC 9293 §3.10.7.4)');
        this.destroy();
        return;
      }
      this.sendChallengeAck(now, 'syn');
      return;
    }

    // Fifth, check the ACK field.
    if (!(flags & TCP_ACK)) {
      this.counters.inc('tcp_no_ack');
      return;
    }
    if (!this.processAck(seg, now)) return;
    if (answerProbe) this.sendAck(now);

    // Sixth (URG) is not supported: the urgent pointer is ignored, data is delivered inline.
    if (flags & TCP_URG) this.counters.inc('tcp_urg_ignored');

    // Seventh and eighth: segment text and FIN.
    if (payload.length > 0 || fin) this.processText(seq, payload, fin, now);
    this.transmit(now);
  }

  /** §3.10.7.4 first check: the four cases of segment acceptability. */
  private acceptable(seq: number, segLen: number, wnd: number): boolean {
    if (segLen === 0) {
      if (wnd === 0) return seq === this.rcvNxt;
      return seqInWindow(seq, this.rcvNxt, wnd);
    }
    if (wnd === 0) return false;
    return seqInWindow(seq, this.rcvNxt, wnd) || seqInWindow(seqAdd(seq, segLen - 1), this.rcvNxt, wnd);
  }

  /** §3.10.7.4 second check, for an in-sequence RST. */
  private resetReceived(): void {
    switch (this.state) {
      case 'SYN_RECEIVED':
        if (this.passiveOpen) {
          // Return to LISTEN: the listener never saw this connection.
          this.setState('CLOSED', 'rcv RST in SYN_RECEIVED: back to LISTEN (RFC 9293 §3.10.7.4)');
          this.destroy();
        } else {
          this.fail('ECONNREFUSED', 'rcv RST in SYN_RECEIVED after active open: refused (RFC 9293 §3.10.7.4)');
        }
        return;
      case 'ESTABLISHED':
      case 'FIN_WAIT_1':
      case 'FIN_WAIT_2':
        this.fail('ECONNRESET', 'rcv RST: connection reset by peer (RFC 9293 §3.10.7.4)');
        return;
      case 'CLOSE_WAIT':
        // The peer had closed and now refuses what we still send: Linux reports EPIPE.
        this.fail('EPIPE', 'rcv RST in CLOSE_WAIT: the peer is gone (RFC 9293 §3.10.7.4)');
        return;
      default:
        // CLOSING, LAST_ACK, TIME_WAIT: just go away.
        this.setState('CLOSED', `rcv RST in ${this.state} (RFC 9293 §3.10.7.4)`);
        this.destroy();
    }
  }

  /** §3.10.7.4 fifth check. Returns false when the segment must be dropped. */
  private processAck(seg: TcpSegment, now: number): boolean {
    const ack = seg.ack;
    const seq = seg.seq;
    if (this.state === 'SYN_RECEIVED') {
      if (!(seqLt(this.sndUna, ack) && seqLe(ack, this.sndNxt))) {
        // Unacceptable ACK in SYN-RECEIVED: <SEQ=SEG.ACK><CTL=RST>.
        this.sendReset(ack);
        return false;
      }
      this.ackSynOrData(ack, now, seg.options.tsEcr);
      // RFC 7323 §2.2: the window of a SYN (the peer's SYN,ACK after a simultaneous open) is not scaled.
      this.setSendWindow(seg.window, seq, ack, !(seg.flags & TCP_SYN));
      const cause = this.passiveOpen
        ? 'rcv ACK of our SYN,ACK: handshake complete (RFC 9293 §3.10.7.4)'
        : 'rcv SYN,ACK in SYN_RECEIVED: simultaneous open complete (RFC 9293 §3.10.7.4)';
      this.setState('ESTABLISHED', cause);
      this.events.push({ type: 'established' });
      if (this.finQueued) this.transmit(now);
      return true;
    }

    // RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
    if (seqGt(ack, this.sndNxt)) {
      this.counters.inc('tcp_ack_of_unsent');
      this.sendAck(now);
      return false;
    }
    if (seqLt(ack, seqSub(this.sndUna, Math.max(this.maxSndWnd, 1)))) {
      this.counters.inc('tcp_ack_too_old');
      this.sendChallengeAck(now, 'ack');
      return false;
    }
    // SACK blocks first (RFC 6675 §5): blocks at or below the new SND.UNA are D-SACKs.
    let freshSack = 0;
    if (this.sackOk && seg.options.sack !== undefined) {
      const r = this.recovery.scoreboard.update(seg.options.sack, seqGt(ack, this.sndUna) ? ack : this.sndUna, this.sndNxt);
      freshSack = r.fresh;
      if (r.ignored > 0) this.counters.inc('tcp_dsack_or_old_sack_blocks');
    }
    if (seqGt(ack, this.sndUna)) {
      this.ackSynOrData(ack, now, seg.options.tsEcr);
    } else if (ack === this.sndUna) {
      // A duplicate ACK (RFC 5681 §2; with SACK, one bringing new SACK information, RFC 6675 §2).
      const outstanding = this.sndUna !== this.sndNxt;
      const plain = seg.payload.length === 0 && !(seg.flags & (TCP_SYN | TCP_FIN)) && seg.window << this.sndWscale === this.sndWnd;
      const duplicate = outstanding && (plain || freshSack > 0);
      this.recovery.onAck({ sndUna: this.sndUna, sndNxt: this.sndNxt, acked: 0, dataAcked: 0, duplicate, mss: this.effMss, now }, this.counters);
    }
    // Window update (§3.10.7.4 fifth: SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)).
    if (seqLe(this.sndUna, ack) && (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack)))) {
      this.setSendWindow(seg.window, seq, ack, true);
    }

    const ourFinAcked = this.ourFinAcked();
    switch (this.state) {
      case 'FIN_WAIT_1':
        if (ourFinAcked) this.setState('FIN_WAIT_2', 'rcv ACK of our FIN (RFC 9293 §3.10.7.4)');
        break;
      case 'CLOSING':
        if (ourFinAcked) this.enterTimeWait(now, 'rcv ACK of our FIN in CLOSING: wait 2MSL (RFC 9293 §3.10.7.4)');
        return false;
      case 'LAST_ACK':
        if (ourFinAcked) {
          this.setState('CLOSED', 'rcv ACK of our FIN in LAST_ACK (RFC 9293 §3.10.7.4)');
          this.destroy();
        }
        return false;
      case 'TIME_WAIT':
        // Only a retransmitted FIN can arrive here (handled with the FIN below).
        break;
    }
    return true;
  }

  /** SND.UNA advances to `ack`: free the buffer, time RTT, restart timers. */
  private ackSynOrData(ack: number, now: number, tsEcr?: number): void {
    let acked = seqSub(ack, this.sndUna);
    if (acked <= 0) return;
    const advanced = acked;
    const synJustAcked = !this.synAcked;
    if (synJustAcked) {
      this.synAcked = true;
      acked--; // our SYN
    }
    const finAcked = this.finSeqNo !== -1 && seqGt(ack, this.finSeqNo);
    const dataAcked = Math.min(this.sendQueue.length, acked - (finAcked ? 1 : 0));
    this.sendQueue.consume(dataAcked);
    this.sndUna = ack;
    this.unackedSince = now;
    this.retries = 0;
    // RTT: from the echoed timestamp on every ACK that advances (RFC 7323 §4.1),
    // else from the one timed segment, never a retransmitted one (Karn).
    let rttSample = this.rtxTsVal === -1 || (tsEcr !== undefined && seqGe(tsEcr, this.rtxTsVal)) ? this.ts.rttSample(tsEcr, now) : undefined;
    if (rttSample === undefined && this.rttSeq !== -1 && seqGe(ack, this.rttSeq)) rttSample = now - this.rttStart;
    if (this.rttSeq !== -1 && seqGe(ack, this.rttSeq)) this.rttSeq = -1;
    if (rttSample !== undefined) this.rtt.sample(rttSample);
    else this.rtt.keepBackoff();
    // RFC 6298 §5.7: after a SYN timeout and no sample, data starts with RTO 3 s.
    if (synJustAcked && this.synTimedOut && !this.rtt.hasSample) this.rtt.restartAt(3000);
    this.recovery.onAck(
      { sndUna: ack, sndNxt: this.sndNxt, acked: advanced, dataAcked, duplicate: false, mss: this.effMss, now, rtt: rttSample },
      this.counters,
    );
    // RFC 6298 §5.2/5.3: stop the timer when all is acked, else restart it.
    if (this.sndUna === this.sndNxt) this.rtoAt = Infinity;
    else this.armRto(now);
    if (this.writeBlocked && this.sendQueue.length < this.cfg.sndBuf) {
      this.writeBlocked = false;
      this.events.push({ type: 'drain' });
    }
  }

  private setSendWindow(window: number, seq: number, ack: number, scaled: boolean): void {
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    this.sndWnd = scaled ? window << this.sndWscale : window;
    this.sndWl1 = seq;
    this.sndWl2 = ack;
    if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
    if (this.sndWnd > 0) {
      this.persistAt = Infinity;
      this.persistBackoff = 0;
    }
  }

  /** Seventh (text) and eighth (FIN) steps, for data already trimmed to the window. */
  private processText(seq: number, payload: Buffer, fin: boolean, now: number): void {
    if (!canReceive(this.state)) {
      if (fin && this.state === 'TIME_WAIT') this.timeWaitFinAgain(now);
      else if (fin && seq === this.rcvNxt) this.sendAck(now); // FIN repeated in CLOSE_WAIT/CLOSING/LAST_ACK
      if (payload.length > 0) this.counters.inc('tcp_data_after_fin');
      return;
    }
    if (seq !== this.rcvNxt) {
      // Out of order: keep it (bounded by the window) and ACK at once (RFC 5681 §4.2).
      this.lastOooSeq = seq;
      if (this.recvBuffer.used + payload.length <= this.rcvLimit()) this.recvBuffer.storeOutOfOrder(seq, payload, fin);
      else this.counters.inc('tcp_rcvbuf_full');
      this.counters.inc('tcp_out_of_order');
      this.sendAck(now);
      return;
    }
    const hadHole = this.recvBuffer.hasOutOfOrder;
    let gotFin = fin;
    if (payload.length > 0) {
      const room = this.rcvLimit() - this.recvBuffer.used;
      if (payload.length > room) {
        payload = payload.subarray(0, room);
        gotFin = false;
        this.counters.inc('tcp_rcvbuf_full');
      }
      // Copy: the link may reuse the packet buffer after this batch.
      this.recvBuffer.pushReady(Buffer.from(payload));
      this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
      const drained = this.recvBuffer.drainInOrder(this.rcvNxt);
      this.rcvNxt = drained.rcvNxt;
      gotFin = gotFin || drained.fin;
      this.events.push({ type: 'readable' });
    }
    if (gotFin) {
      this.finArrives(now);
      return;
    }
    if (payload.length === 0) return;
    // Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2): at least every second
    // full-sized segment, at once when a hole was filled, else within the timeout.
    if (payload.length >= Math.min(this.cfg.mss, this.sndMss) - (this.ts.enabled ? 12 : 0)) this.unackedSegments++;
    if (hadHole || this.unackedSegments >= 2) this.sendAck(now);
    else if (this.delAckAt === Infinity) this.delAckAt = now + this.cfg.delayedAck;
  }

  /** §3.10.7.4 eighth check: the FIN bit, once in order. */
  private finArrives(now: number): void {
    this.finReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.events.push({ type: 'end' });
    this.sendAck(now);
    switch (this.state) {
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE_WAIT', 'rcv FIN: the peer closed its side (RFC 9293 §3.10.7.4 eighth)');
        break;
      case 'FIN_WAIT_1':
        if (this.ourFinAcked()) {
          this.enterTimeWait(now, 'rcv FIN and our FIN is acked: wait 2MSL (RFC 9293 §3.10.7.4 eighth)');
        } else {
          this.setState('CLOSING', 'rcv FIN before the ACK of ours: simultaneous close (RFC 9293 §3.10.7.4 eighth)');
        }
        break;
      case 'FIN_WAIT_2':
        this.enterTimeWait(now, 'rcv FIN in FIN_WAIT_2: wait 2MSL (RFC 9293 §3.10.7.4 eighth)');
        break;
    }
  }

  /** TIME_WAIT: a retransmitted FIN is ACKed again and the 2MSL timer restarts. */
  private timeWaitFinAgain(now: number): void {
    this.counters.inc('tcp_time_wait_fin_reacked');
    this.sendAck(now);
    this.timeWaitAt = now + 2 * this.cfg.msl;
  }

  private enterTimeWait(now: number, cause: string): void {
    this.setState('TIME_WAIT', cause);
    this.rtoAt = this.persistAt = this.delAckAt = this.keepAliveAt = Infinity;
    this.timeWaitAt = now + 2 * this.cfg.msl;
  }

  // ------------------------------------------------------------------ sending

  private ourFinAcked(): boolean {
    return this.finSeqNo !== -1 && seqGt(this.sndUna, this.finSeqNo);
  }

  /** Where our FIN goes: right after the last queued byte. */
  private finPosition(): number {
    return seqAdd(this.sndUna, this.sendQueue.length + (this.synAcked ? 0 : 1));
  }

  /**
   * Send what the windows allow. Outside recovery: new data under
   * min(SND.WND, cwnd) with sender SWS avoidance (RFC 9293 §3.8.6.2.1) and
   * Nagle (§3.7.4). In recovery or after a timeout: retransmissions first,
   * then new data, while cwnd - pipe allows a segment (RFC 6675 §5 step C).
   * Then our FIN once the user closed and all data is out.
   */
  private transmit(now: number): void {
    const s = this.state;
    if (s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT' && s !== 'FIN_WAIT_1' && s !== 'CLOSING' && s !== 'LAST_ACK') return;
    const r = this.recovery;
    const mss = this.effMss;
    for (;;) {
      if (r.retransmitHead) {
        // NewReno: fast retransmit / partial ACK resends the first unacknowledged segment at once.
        r.retransmitHead = false;
        if (seqLt(this.sndUna, this.sndNxt)) this.retransmit(this.sndUna, Math.min(mss, seqSub(this.sndNxt, this.sndUna)), now);
        continue;
      }
      const room = r.window(mss) - r.inFlight(this.sndUna, this.sndNxt, mss);
      if (r.phase !== 'open' && room >= mss) {
        const rx = r.nextRetransmission(this.sndUna, this.sndNxt, mss, false);
        if (rx !== null) {
          this.retransmit(rx.seq, rx.len, now);
          continue;
        }
      }
      if (this.sendNewData(room, mss, now)) continue;
      if (r.phase !== 'open' && room >= mss) {
        const rx = r.nextRetransmission(this.sndUna, this.sndNxt, mss, true);
        if (rx !== null) {
          this.retransmit(rx.seq, rx.len, now);
          continue;
        }
      }
      break;
    }
    // The FIN alone (no data left to piggyback it on).
    if (this.finQueued && this.finSeqNo === -1 && this.sndNxt === this.finPosition()) {
      this.sendData(seqSub(this.sndNxt, this.sndUna), 0, true, now);
      return;
    }
    // Data waiting, nothing in flight, and the window too small to send: the
    // persist timer makes sure we probe rather than wait forever (§3.8.6.1).
    if (this.sndNxt === this.sndUna && this.sendQueue.length > 0 && this.persistAt === Infinity) {
      this.persistAt = now + this.persistInterval();
    }
  }

  /** One segment of new data if the windows, SWS avoidance and Nagle allow it. */
  private sendNewData(cwndRoom: number, mss: number, now: number): boolean {
    if (this.finSeqNo !== -1) return false;
    const offset = seqSub(this.sndNxt, this.sndUna);
    const unsent = this.sendQueue.length - offset;
    if (unsent <= 0) return false;
    const usable = Math.min(seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndNxt), cwndRoom);
    let len = Math.min(unsent, mss);
    if (usable < len) {
      // Window-limited: send only if at least half the largest window seen fits (SWS (b)).
      if (usable <= 0 || usable < Math.min(mss, this.maxSndWnd >> 1)) return false;
      len = usable;
    } else if (len < mss && !this.cfg.noDelay && this.sndNxt !== this.sndUna) {
      // Nagle: a small segment waits while data is unacknowledged.
      return false;
    }
    if (this.sndNxt === this.sndUna && now - this.lastSendAt > this.rtt.rto && this.lastSendAt > 0) {
      this.cc.onIdleRestart(now); // RFC 5681 §4.1
    }
    this.sendData(offset, len, len === unsent && this.finQueued, now);
    return true;
  }

  /** New data (and/or our FIN) at SND.NXT. */
  private sendData(offset: number, len: number, withFin: boolean, now: number): void {
    const payload = len > 0 ? this.sendQueue.read(offset, len) : undefined;
    let flags = TCP_ACK;
    if (len > 0 && offset + len === this.sendQueue.length) flags |= TCP_PSH;
    if (withFin) flags |= TCP_FIN;
    const seq = this.sndNxt;
    if (this.sndUna === this.sndNxt) this.unackedSince = now;
    this.emitSegment(seq, flags, payload);
    this.sndNxt = seqAdd(seq, len + (withFin ? 1 : 0));
    this.lastSendAt = now;
    if (!this.ts.enabled && this.rttSeq === -1) {
      this.rttSeq = this.sndNxt;
      this.rttStart = now;
    }
    if (this.rtoAt === Infinity) this.armRto(now);
    if (withFin) {
      if (this.finSeqNo === -1) this.finSeqNo = seqAdd(seq, len);
      if (this.state === 'ESTABLISHED' || this.state === 'SYN_RECEIVED') this.setState('FIN_WAIT_1', 'user close: FIN sent (RFC 9293 §3.10.4)');
      else if (this.state === 'CLOSE_WAIT') this.setState('LAST_ACK', 'user close in CLOSE_WAIT: FIN sent (RFC 9293 §3.10.4)');
    }
  }

  /** Resend [seq, seq+len) of sequence space: data, and our FIN if it lies inside. */
  private retransmit(seq: number, len: number, now: number): void {
    const offset = seqSub(seq, this.sndUna) - (this.synAcked ? 0 : 1);
    const dataLen = Math.max(0, Math.min(len, this.sendQueue.length - offset));
    const fin = this.finSeqNo !== -1 && seqAdd(seq, dataLen) === this.finSeqNo && len > dataLen;
    this.recovery.retransmitted(seq, dataLen + (fin ? 1 : 0) || len);
    if (dataLen === 0 && !fin) return;
    let flags = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    if (dataLen > 0 && offset + dataLen === this.sendQueue.length) flags |= TCP_PSH;
    this.emitSegment(seq, flags, dataLen > 0 ? this.sendQueue.read(offset, dataLen) : undefined);
    this.counters.inc('tcp_retransmitted_segments');
    this.rttSeq = -1; // Karn: no sample from anything sent twice
    if (this.ts.enabled) this.rtxTsVal = this.ts.value(now);
    if (this.rtoAt === Infinity) this.armRto(now);
  }

  private sendSyn(withAck: boolean, now: number): void {
    // A SYN offers what we are configured for; a SYN,ACK only what the peer offered too.
    const useTs = withAck ? this.ts.enabled : this.cfg.timestamps;
    const options: TcpOption[] = synOptions({
      mss: this.cfg.mss,
      sackPermitted: withAck ? this.sackOk : this.cfg.sack,
      ts: useTs ? { val: this.ts.value(now), ecr: withAck ? this.ts.recent : 0 } : undefined,
      wscale: this.cfg.windowScaling && (!withAck || this.wscaleOk) ? this.rcvWscale : undefined,
    });
    if (withAck) this.ts.lastAckSent = this.rcvNxt;
    const window = Math.min(65535, this.cfg.rcvBuf);
    this.rcvAdvEdge = seqAdd(this.rcvNxt, window);
    this.out.push({ seq: this.iss, ack: withAck ? this.rcvNxt : 0, flags: withAck ? TCP_SYN | TCP_ACK : TCP_SYN, window, options });
    this.sndNxt = seqAdd(this.iss, 1);
    if (this.rtoAt === Infinity) this.armRto(now);
    if (this.retries === 0 && this.rttSeq === -1) {
      this.rttSeq = this.sndNxt;
      this.rttStart = now;
    }
  }

  private retransmitSynAck(now: number): void {
    this.counters.inc('tcp_synack_retransmitted');
    this.rttSeq = -1;
    this.sendSyn(true, now);
  }

  /** A segment with ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> plus whatever flags. */
  private emitSegment(seq: number, flags: number, payload?: Buffer): void {
    const window = flags & TCP_ACK || flags & TCP_RST ? this.advertiseWindow() : 0;
    const ts = this.ts.enabled && !(flags & TCP_RST) ? { val: this.ts.value(this.now), ecr: this.ts.recent } : undefined;
    let sack: Array<[number, number]> | undefined;
    if (this.sackOk && flags & TCP_ACK && !(flags & TCP_RST)) {
      // Up to 4 blocks, 3 beside timestamps, and only as many as fit beside the payload.
      const room = Math.floor((this.sndMss - (payload?.length ?? 0) - (ts ? 12 : 0) - 4) / 8);
      sack = this.sackBlocks(Math.min(ts ? 3 : 4, room));
      if (sack.length === 0) sack = undefined;
    }
    this.out.push({ seq, ack: flags & TCP_ACK ? this.rcvNxt : 0, flags, window, options: segmentOptions(ts, sack), payload });
    if (flags & TCP_ACK) {
      this.delAckAt = Infinity;
      this.unackedSegments = 0;
      this.ts.lastAckSent = this.rcvNxt;
    }
  }

  /**
   * SACK blocks for an outgoing ACK (RFC 2018 §4): a D-SACK first if we just
   * got a duplicate (RFC 2883), then the block holding the latest
   * out-of-order arrival, then the others, highest first.
   */
  private sackBlocks(max: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (max <= 0) return out;
    if (this.dsack !== null) {
      out.push(this.dsack);
      this.dsack = null;
    }
    const ranges = this.recvBuffer.outOfOrderRanges();
    const latest = ranges.findIndex(([a, b]) => seqLe(a, this.lastOooSeq) && seqLt(this.lastOooSeq, b));
    if (latest >= 0) out.push(ranges.splice(latest, 1)[0]!);
    for (let i = ranges.length - 1; i >= 0 && out.length < max; i--) out.push(ranges[i]!);
    return out.slice(0, max);
  }

  sendAck(now: number): void {
    void now;
    this.emitSegment(this.sndNxt, TCP_ACK);
  }

  /** RFC 5961 §7: challenge ACKs, rate-limited per connection. */
  private sendChallengeAck(now: number, why: string): void {
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
  private sendReset(seq: number): void {
    this.out.push({ seq, ack: 0, flags: TCP_RST, window: 0 });
  }

  // ------------------------------------------------------------------- window

  /** RCV.WND as last advertised (what the acceptability test uses). */
  private currentRcvWnd(): number {
    return Math.max(0, seqSub(this.rcvAdvEdge, this.rcvNxt));
  }

  /** The window we would offer now, before SWS avoidance. */
  private windowToAdvertise(): number {
    const free = this.recvBuffer.capacity - this.recvBuffer.used;
    return Math.min(free, 65535 << this.rcvWscale);
  }

  /** What we accept: the buffer, plus the rounding slack of a scaled window edge. */
  private rcvLimit(): number {
    return this.recvBuffer.capacity + (1 << this.rcvWscale) - 1;
  }

  private worthwhileWindow(): number {
    return Math.min(this.recvBuffer.capacity >> 1, this.cfg.mss);
  }

  /**
   * The window field for an outgoing segment. The right edge never moves left
   * (§3.8.6.2.2, and the SHOULD NOT shrink of §3.8.6), and it moves right only by
   * a worthwhile amount (receiver SWS avoidance).
   */
  private advertiseWindow(): number {
    const offer = this.windowToAdvertise();
    const edge = seqAdd(this.rcvNxt, offer);
    const old = this.rcvAdvEdge;
    let target = old;
    if (seqGt(edge, old) && (offer - this.currentRcvWnd() >= this.worthwhileWindow() || offer === this.recvBuffer.capacity)) target = edge;
    if (seqLt(target, this.rcvNxt)) target = this.rcvNxt;
    const wnd = seqSub(target, this.rcvNxt);
    // The scaled field says multiples of 2^shift: round down, unless that
    // would move the edge left; then round up, like Linux's tcp_select_window.
    const shift = this.rcvWscale;
    let field = wnd >> shift;
    if (seqLt(seqAdd(this.rcvNxt, field << shift), old)) field = (wnd + (1 << shift) - 1) >> shift;
    field = Math.min(field, 65535);
    this.rcvAdvEdge = seqAdd(this.rcvNxt, field << shift);
    return field;
  }

  // -------------------------------------------------------------- handshake

  private takePeerOptions(seg: TcpSegment): void {
    const o = seg.options;
    // RFC 9293 §3.7.1: the effective send MSS; 536 when the peer sends none.
    const peerMss = o.mss !== undefined && o.mss > 0 ? o.mss : DEFAULT_PEER_MSS;
    this.sndMss = Math.max(64, Math.min(peerMss, this.cfg.mss));
    // RFC 2018 §2 and RFC 7323 §3.2: on only if both SYNs carry the option.
    this.sackOk = this.cfg.sack && o.sackPermitted;
    this.recovery.sackOk = this.sackOk;
    this.ts.enabled = this.cfg.timestamps && o.tsVal !== undefined;
    if (this.ts.enabled) this.ts.recent = o.tsVal!;
    this.cc.setMss(this.effMss);
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

  // ------------------------------------------------------------------ timers

  /** Earliest time at which onTimer has work to do. */
  nextDeadline(): number {
    return Math.min(this.rtoAt, this.persistAt, this.delAckAt, this.keepAliveAt, this.timeWaitAt);
  }

  onTimer(now: number): void {
    this.now = now;
    if (this.timeWaitAt <= now) {
      this.timeWaitAt = Infinity;
      this.setState('CLOSED', '2MSL timer expired (RFC 9293 §3.10.8)');
      this.destroy();
      return;
    }
    if (this.rtoAt <= now) this.retransmissionTimeout(now);
    if (this.state === 'CLOSED') return;
    if (this.delAckAt <= now) {
      this.delAckAt = Infinity;
      this.counters.inc('tcp_delayed_acks');
      this.sendAck(now);
    }
    if (this.persistAt <= now) this.persistTimeout(now);
    if (this.keepAliveAt <= now) this.keepAliveTimeout(now);
  }

  /**
   * RFC 9293 §3.8.6.1: with a zero window, probe; like Linux the probe is an
   * ACK with an old sequence number (SND.UNA - 1), which the peer must answer
   * with its current window. With a small non-zero window, the timer overrides
   * sender SWS avoidance and sends what fits (§3.8.6.2.1).
   */
  private persistTimeout(now: number): void {
    this.persistAt = Infinity;
    if (this.state === 'CLOSED' || this.sndNxt !== this.sndUna || this.sendQueue.length === 0) return;
    const usable = Math.min(this.sndWnd, this.cc.cwnd, this.sendQueue.length, this.sndMss);
    if (usable > 0) {
      this.counters.inc('tcp_persist_sends');
      this.sendData(0, usable, usable === this.sendQueue.length && this.finQueued, now);
      return;
    }
    this.counters.inc('tcp_window_probes');
    this.emitSegment(seqAdd(this.sndUna, -1), TCP_ACK);
    this.persistBackoff++;
    this.persistAt = now + this.persistInterval();
  }

  private persistInterval(): number {
    return Math.min(this.cfg.rto.maxRto, this.rtt.rto * 2 ** this.persistBackoff);
  }

  /** RFC 6298 §5.4-5.6 and RFC 9293 §3.8.3 (give up after R2). */
  private retransmissionTimeout(now: number): void {
    this.rtoAt = Infinity;
    if (this.sndUna === this.sndNxt) return;
    const limit = this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' ? this.cfg.synRetries : this.cfg.retries;
    const userTimedOut = this.cfg.userTimeout > 0 && now - this.unackedSince >= this.cfg.userTimeout;
    if (this.retries >= limit || userTimedOut) {
      this.counters.inc('tcp_timeouts_gave_up');
      this.fail('ETIMEDOUT', `no ACK after ${this.retries} retransmissions: give up (RFC 9293 §3.8.3)`);
      return;
    }
    this.retries++;
    this.counters.inc('tcp_rto_expired');
    this.rtt.onTimeout();
    this.rttSeq = -1; // Karn
    this.rtxTsVal = this.ts.value(now); // echoes of older segments give no RTT sample now
    if (!this.synAcked) {
      this.synTimedOut = true;
      if (this.state === 'SYN_SENT') {
        this.counters.inc('tcp_syn_retransmitted');
        this.sendSyn(false, now);
      } else {
        // SYN_RECEIVED, or FIN_WAIT_1 after a close in SYN_RECEIVED: SYN,ACK (and FIN) again.
        this.retransmitSynAck(now);
        if (this.finSeqNo !== -1) this.retransmit(this.finSeqNo, 1, now);
      }
    } else {
      // Every unSACKed segment below SND.NXT now counts as lost; transmit()
      // resends them in order as the loss window (1 SMSS, slow start) allows.
      this.recovery.onTimeout(this.sndUna, this.sndNxt, now);
      this.transmit(now);
    }
    this.armRto(now);
  }

  /** RFC 6298 §5.1/5.3, clamped so a user timeout fires on time (as Linux does). */
  private armRto(now: number): void {
    this.rtoAt = now + this.rtt.rto;
    if (this.cfg.userTimeout > 0) this.rtoAt = Math.min(this.rtoAt, this.unackedSince + this.cfg.userTimeout);
  }

  private armKeepAlive(now: number): void {
    const on = this.cfg.keepAliveIdle > 0 && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT' || this.state === 'FIN_WAIT_2');
    this.keepAliveAt = on ? now + (this.keepAliveProbes === 0 ? this.cfg.keepAliveIdle : this.cfg.keepAliveInterval) : Infinity;
  }

  /** RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: probe an idle connection. */
  private keepAliveTimeout(now: number): void {
    this.keepAliveAt = Infinity;
    if (this.sndUna !== this.sndNxt) {
      // Data in flight: the retransmission timer watches the peer instead.
      this.armKeepAlive(now);
      return;
    }
    if (this.keepAliveProbes >= this.cfg.keepAliveCount) {
      // Like Linux (tcp_keepalive_timer): tell the peer, if it is there at all.
      this.emitSegment(this.sndNxt, TCP_RST | TCP_ACK);
      this.fail('ETIMEDOUT', `no answer to ${this.keepAliveProbes} keepalive probes (RFC 9293 §3.8.4)`);
      return;
    }
    this.keepAliveProbes++;
    this.counters.inc('tcp_keepalive_probes');
    // SEG.SEQ = SND.NXT - 1 with no data, as Linux: the peer answers with an ACK.
    this.emitSegment(seqAdd(this.sndNxt, -1), TCP_ACK);
    this.keepAliveAt = now + this.cfg.keepAliveInterval;
  }

  // ------------------------------------------------------------------ endings

  private fail(code: TcpErrorCode, cause: string): void {
    this.events.push({ type: 'error', code });
    this.setState('CLOSED', cause);
    this.destroy();
  }

  /** Delete the TCB (RFC 9293: "enter the CLOSED state and delete the TCB"). */
  private destroy(): void {
    this.state = 'CLOSED';
    this.rtoAt = this.persistAt = this.delAckAt = this.keepAliveAt = this.timeWaitAt = Infinity;
    this.sendQueue.clear();
    this.events.push({ type: 'closed' });
  }

  private setState(to: TcpState, cause: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.events.push({ type: 'state', from, to, cause });
  }

  /** For tests and invariants. */
  get peerFinReceived(): boolean {
    return this.finReceived;
  }

  /** Relations that must hold after every input (checked by the simulations). */
  checkInvariants(): string | null {
    if (seqGt(this.sndUna, this.sndNxt)) return 'SND.UNA > SND.NXT';
    if (seqGt(this.sndNxt, this.sndNxt)) return 'SND.NXT > SND.MAX';
    if (this.recvBuffer.used > this.rcvLimit()) return 'receive buffer over capacity';
    if (this.cc.cwnd < this.sndMss) return 'cwnd < 1 MSS';
    return null;
  }
}
