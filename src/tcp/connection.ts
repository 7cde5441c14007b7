/**
 * One TCP connection as a sans-IO state machine: the user calls of RFC
 * 9293 §3.10 (OPEN, SEND, RECEIVE, CLOSE, ABORT) here, segment arrival
 * (§3.10.7) in arrival.ts. Its variables are in tcb.ts, its sending
 * machinery in sender.ts, ICMP errors and path MTU in path-errors.ts.
 *
 * Inputs: `segmentArrives(seg, now)`, user calls (`connect`, `write`, `read`,
 * `close`, `abort`) and `onTimer(now)`. Outputs: segments appended to `out`,
 * events appended to `events`, and `nextDeadline()`. The stack drains `out`
 * and `events` after every input; nothing here reads a clock or does I/O.
 */
import { CHRONO_BUSY } from './chrono.js';
import { sizeGoal } from './wmem.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_RST, type TcpOptions, type TcpSegment } from '../wire/tcp.js';
import { seqAdd, seqSub } from '../wire/seq.js';
import { canReceive } from './state.js';
import { TcbArrival } from './arrival.js';
import { ourSynWindow } from './options.js';

export type { OutSegment, TcpErrorCode, ConnEvent, CounterSink } from './tcb.js';

export class Connection extends TcbArrival {
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
    this.takePeerOptions(seg.options);
    this.ecn.peerSyn((seg.flags & TCP_ECE) !== 0, (seg.flags & TCP_CWR) !== 0, seg.ecn ?? 0); // RFC 3168 §6.1.1
    this.setSendWindow(seg.window, seg.seq, seg.ack, false);
    this.setState('SYN_RECEIVED', 'rcv SYN on a listening port: SYN,ACK sent (RFC 9293 §3.10.7.2)');
    this.sendSyn(true, now);
  }

  /**
   * An ACK that carries a valid SYN cookie arrived for a LISTEN socket (RFC
   * 4987 §3.6; Linux cookie_v4_check): our SYN,ACK went out with this
   * connection's ISS as the cookie and nothing was kept, so the TCB is built
   * here from the ACK and from `syn`, the SYN's options as the cookie kept
   * them, straight into ESTABLISHED. The stack has checked the cookie, so
   * SEG.ACK = ISS + 1, and that the segment carries neither SYN nor RST;
   * SEG.SEQ is RCV.NXT by construction. Its data and FIN count as usual.
   * `ecnOk`: the cookie SYN,ACK granted ECN (RFC 3168 §6.1.1).
   */
  acceptCookie(seg: TcpSegment, syn: TcpOptions, now: number, ecnOk = false): void {
    this.now = now;
    this.passiveOpen = true;
    this.state = 'LISTEN';
    this.irs = seqAdd(seg.seq, -1);
    this.rcvNxt = seg.seq;
    this.takePeerOptions(syn);
    this.ecn.ok = ecnOk;
    if (ecnOk) this.counters.inc('tcp_ecn_negotiated');
    // What the cookie SYN,ACK set up: SND.NXT = ISS + 1 and the unscaled window it offered.
    this.sndNxt = seqAdd(this.iss, 1);
    this.rcvAdvEdge = seqAdd(this.rcvNxt, ourSynWindow(this.cfg, true, this.ts.enabled));
    this.rcvWup = this.rcvNxt;
    this.ackSynOrData(seg.ack, now, seg.options.tsEcr);
    this.setSendWindow(seg.window, seg.seq, seg.ack, true);
    this.setState('ESTABLISHED', 'rcv ACK with a valid SYN cookie: connection rebuilt from it (RFC 4987 §3.6)');
    this.events.push({ type: 'established' });
    // Seventh and eighth steps, for what fits in the window the SYN,ACK offered.
    const room = this.currentRcvWnd();
    const fin = (seg.flags & TCP_FIN) !== 0 && seg.payload.length <= room;
    this.continueEstablished(seg, seg.seq, seg.payload.subarray(0, room), fin, now);
    this.armKeepAlive(now);
  }

  /**
   * Queue data (RFC 9293 §3.10.2 SEND). Returns false when the send buffer
   * is full: the caller should wait for a 'drain' event.
   */
  write(data: Buffer, now: number, more = false): boolean {
    this.now = now;
    if (this.finQueued || this.state === 'CLOSED') return false;
    // Linux tcp_add_write_queue_tail: data joins an empty write queue, the sender is busy.
    if (data.length > 0 && this.sendQueue.length <= seqSub(this.sndNxt, this.sndUna) - (this.synAcked ? 0 : 1)) this.chrono.start(CHRONO_BUSY, now);
    this.sendQueue.push(data);
    this.wmem.append(data.length, sizeGoal(this.effMss, this.maxSndWnd));
    // MSG_MORE (`more`): no push point at its end, and its partial segment waits as under TCP_CORK.
    this.pushPoints.write(data.length, seqSub(this.sndNxt, this.sndUna) - (this.synAcked ? 0 : 1), this.maxSndWnd, this.effMss, !more);
    this.pushNow = false;
    this.moreNow = more;
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT') this.transmit(now);
    this.moreNow = false;
    const ok = this.wmem.queued < this.cfg.sndBuf; // Linux sk_stream_memory_free
    if (!ok) this.writeBlocked = true;
    return ok;
  }

  /** Take received in-order data; opening the window may send an update. */
  read(now: number, max = Infinity): Buffer[] {
    this.now = now;
    const data = this.recvBuffer.take(max);
    if (data.length > 0) {
      let n = 0;
      for (const b of data) n += b.length;
      this.autotuneOnRead(n, now);
    }
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

  /**
   * The application closed its socket (close(2); Node's destroy()). Like
   * Linux's tcp_close: received data it never read is lost, so the peer is
   * told with a RST (RFC 1122 §4.2.2.13, RFC 2525 §2.17); otherwise this is
   * a CLOSE, and the TCB lives on as an orphan until its data and FIN are
   * through, with bounded patience (cfg.orphanRetries, cfg.finTimeout).
   */
  orphan(now: number): void {
    this.now = now;
    if (this.orphaned || this.state === 'CLOSED') return;
    this.orphaned = true;
    if (this.recvBuffer.readable > 0 && this.state === 'TIME_WAIT') {
      // Linux's socket is CLOSE by now and its timewait sock lives on: the
      // unread data goes, TIME_WAIT stays (to ACK a repeated FIN).
      this.recvBuffer.clear();
      return;
    }
    if (this.recvBuffer.readable > 0) {
      this.counters.inc('tcp_abort_on_close');
      // Linux resets in every state here; ABORT (RFC 9293 §3.10.5) would
      // delete these two silently, leaving a peer waiting for our lost FIN.
      if (this.state === 'CLOSING' || this.state === 'LAST_ACK') this.emitSegment(this.sndNxt, TCP_RST | TCP_ACK);
      this.abort(now, 'user close with unread data: RST (RFC 1122 §4.2.2.13, RFC 2525 §2.17)');
      return;
    }
    this.close(now);
    if (this.state === 'FIN_WAIT_2') this.finWait2At = now + this.cfg.finTimeout;
  }

  /** The stack has too many connections in TIME_WAIT (Linux tcp_max_tw_buckets): forget this one now, sending nothing. */
  skipTimeWait(now: number): void {
    this.now = now;
    if (this.state !== 'TIME_WAIT') return;
    this.setState('CLOSED', 'TIME_WAIT table full: no 2MSL wait (Linux tcp_max_tw_buckets)');
    this.destroy();
  }

  /** ABORT (RFC 9293 §3.10.5): send RST if synchronized, forget everything. */
  abort(now: number, cause = 'user abort: RST sent (RFC 9293 §3.10.5)'): void {
    this.now = now;
    const s = this.state;
    if (s === 'CLOSED') return;
    if (s === 'SYN_RECEIVED' || s === 'ESTABLISHED' || s === 'FIN_WAIT_1' || s === 'FIN_WAIT_2' || s === 'CLOSE_WAIT') {
      this.emitSegment(this.sndNxt, TCP_RST | TCP_ACK);
    }
    this.setState('CLOSED', cause);
    this.destroy();
  }

  setNoDelay(on: boolean, now: number): void {
    this.now = now;
    this.cfg.noDelay = on;
    if (!on) return;
    this.pushNow = true; // Linux: TCP_NODELAY pushes what waits, corked or not
    this.transmit(now);
  }

  /** TCP_CORK (Linux tcp_sock_set_cork): on, partial segments wait; off, what waits is pushed. */
  setCork(on: boolean, now: number): void {
    this.now = now;
    this.cfg.cork = on;
    if (on) return;
    if (this.cfg.noDelay) this.pushNow = true;
    this.transmit(now);
  }

  setKeepAlive(idleMs: number, now: number): void {
    this.now = now;
    this.cfg.keepAliveIdle = idleMs;
    this.keepAliveProbes = 0;
    this.armKeepAlive(now);
  }
}
