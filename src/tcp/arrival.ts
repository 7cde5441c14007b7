/**
 * RFC 9293 §3.10.7, SEGMENT ARRIVES, step by step (the comments name the
 * step so the RFC can be read alongside): what a connection does with each
 * segment in each state. Connection (connection.ts) adds the user calls.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_RST, TCP_SYN, TCP_URG, type TcpSegment } from '../wire/tcp.js';
import { ACK_NOW, ECN_CE, QUICK_ACK } from './ecn.js';
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqSub } from '../wire/seq.js';
import { canReceive } from './state.js';
import { TcbPath } from './path-errors.js';
import type { ConnEvent } from './tcb.js';
import type { AckInfo } from './recovery.js';

/** One event object for every in-order arrival (owners only read events). */
const READABLE: ConnEvent = { type: 'readable' };

/** Counter names per reason, built once (a template string per segment would be hashed per segment). */
const OOW_RATELIMITED = {
  seq: 'tcp_oow_ratelimited_seq',
  paws: 'tcp_oow_ratelimited_paws',
  synrecv: 'tcp_oow_ratelimited_synrecv',
} as const;

export abstract class TcbArrival extends TcbPath {
  /** processAck's argument to recovery.onAck for an ACK that moves nothing (acked stays 0). */
  private readonly dupAckInfo: AckInfo = { sndUna: 0, sndNxt: 0, flightSize: 0, acked: 0, dataAcked: 0, duplicate: false, mss: 0, now: 0, srtt: 0, sackedBefore: 0 };

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
    this.takePeerOptions(seg.options);
    const ece = (seg.flags & TCP_ECE) !== 0;
    const cwr = (seg.flags & TCP_CWR) !== 0;
    if (ack) {
      this.ecn.peerSynAck(ece, cwr); // RFC 3168 §6.1.1
      this.ackSynOrData(seg.ack, now, seg.options.tsEcr);
      this.setSendWindow(seg.window, seg.seq, seg.ack, false);
      // Our SYN has been ACKed: ESTABLISHED, send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
      if (this.ecn.ok) this.counters.inc('tcp_ecn_negotiated');
      this.setState('ESTABLISHED', 'rcv SYN,ACK that acknowledges our SYN: ACK sent (RFC 9293 §3.10.7.3)');
      this.events.push({ type: 'established' });
      this.sendAck(now);
      this.continueEstablished(seg, seqAdd(seg.seq, 1), seg.payload, (seg.flags & TCP_FIN) !== 0, now);
      return;
    }
    // Simultaneous open: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    this.ecn.crossingSyn(ece, cwr);
    this.setSendWindow(seg.window, seg.seq, seg.ack, false);
    this.setState('SYN_RECEIVED', 'rcv SYN while in SYN_SENT: simultaneous open, SYN,ACK sent (RFC 9293 §3.10.7.3)');
    this.sndNxt = this.iss;
    this.sendSyn(true, now);
  }

  /** After the handshake-completing segment: its data (from `seq`) and FIN (steps six to eight). */
  protected continueEstablished(seg: TcpSegment, seq: number, payload: Buffer, fin: boolean, now: number): void {
    if (payload.length > 0 || fin) this.processText(seg, seq, payload, fin, now);
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
    if (!(flags & TCP_RST) && this.ts.pawsRejects(seg.options.tsVal, now)) {
      this.counters.inc('tcp_paws_rejected');
      this.sendDupAck(seg, segLen, 'paws', now);
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
        // Linux tcp_sequence lets a segment ending at RCV.WUP through, and
        // with a valid ACK its TSval becomes TS.Recent (RFC 7323 §4.3 (2),
        // tcp_ack's tcp_replace_ts_recent): the resent last segment whose ACK
        // was lost is echoed, so the sender gets an RTT sample and its
        // backed-off RTO comes down.
        const validAck = (flags & (TCP_ACK | TCP_SYN | TCP_RST)) === TCP_ACK && seqGe(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndNxt);
        if (validAck && segLen > 0 && seqAdd(seq, segLen) === this.rcvWup) this.ts.update(seg.options.tsVal, seq, this.rcvWup, now);
        // A duplicate of data we already have is reported back as a D-SACK (RFC 2883);
        // like Linux (tcp_send_dupack) a repeated FIN too, up to RCV.NXT. Not from
        // TIME_WAIT: Linux's timewait socket ACKs without SACK blocks.
        const dup = segLen > 0 && seqLt(seq, this.rcvNxt) && !(flags & (TCP_SYN | TCP_RST));
        if (this.sackOk && dup && this.state !== 'TIME_WAIT') {
          this.dsack = [seq, seqLt(seqAdd(seq, segLen), this.rcvNxt) ? seqAdd(seq, segLen) : this.rcvNxt];
        }
        if (!(flags & TCP_RST)) {
          // The peer's SYN again: our SYN,ACK again, rate limited like Linux's tcp_check_req.
          if (this.state === 'SYN_RECEIVED' && flags & TCP_SYN) {
            // Its timer starts over from this SYN,ACK (Linux tcp_check_req: mod_timer_pending).
            if (!this.oowRateLimited(0, true, 'synrecv', now)) {
              this.retransmitSynAck(now);
              this.armRto(now);
            }
          }
          else if (this.state === 'TIME_WAIT' && fin) this.timeWaitFinAgain(now);
          else this.sendDupAck(seg, segLen, 'seq', now);
        }
        return;
      }
      payload = payload.subarray(0, 0);
      fin = false;
      answerProbe = segLen > 0;
      // Data into a closed window (Linux: out of window, quick ACK mode).
      if (answerProbe) {
        this.ackPolicy.enterQuickAck(wnd);
        this.ackPolicy.scheduled = true;
      }
    }

    if (simultaneousSynAck) {
      payload = payload.subarray(0, 0);
      fin = false;
    }
    // Trim to the window: drop what was already received and what lies beyond.
    if (!simultaneousSynAck && segLen > 0) {
      const early = seqSub(this.rcvNxt, seq);
      if (early > 0) {
        // Its old part is a D-SACK (RFC 2883 §4.1.3); not for a RST, which only gets a challenge ACK.
        if (this.sackOk && payload.length > 0 && !(flags & TCP_RST)) this.dsack = [seq, seqAdd(seq, Math.min(early, payload.length))];
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
    // The SYN in that SYN,ACK repeats one we have (not acceptable, §3.10.7.4 first
    // check): ACKed like Linux, a D-SACK naming it when SACK is on (RFC 2883).
    if (simultaneousSynAck) {
      if (this.sackOk) this.dsack = [seq, seqAdd(seq, 1)];
      this.sendAck(now);
    }

    // Sixth (URG) is not supported: the urgent pointer is ignored, data is delivered inline.
    if (flags & TCP_URG) this.counters.inc('tcp_urg_ignored');

    // New data after the application closed its socket would be lost
    // silently: RST <SEQ=SEG.ACK>, as Linux (TCPAbortOnData) and RFC 1122
    // §4.2.2.13 say.
    if (this.orphaned && payload.length > 0) {
      this.counters.inc('tcp_abort_on_data');
      this.sendReset(seg.ack);
      this.setState('CLOSED', 'rcv data after the application closed: RST (RFC 1122 §4.2.2.13)');
      this.destroy();
      return;
    }

    // RFC 3168 §6.1.3: the peer's CWR ends our ECE; a CE mark on data starts it.
    const ecnAck = this.ecn.segmentReceived((flags & TCP_CWR) !== 0, payload.length + (fin ? 1 : 0), payload.length, seg.ecn ?? 0);
    if (seg.ecn === ECN_CE && payload.length > 0 && this.ecn.ok) this.counters.inc('tcp_ecn_ce_received');
    if (ecnAck & QUICK_ACK) this.ackPolicy.enterQuickAck(this.currentRcvWnd(), 2);

    // Seventh and eighth: segment text and FIN.
    if (payload.length > 0 || fin) this.processText(seg, seq, payload, fin, now);
    if (ecnAck & ACK_NOW && this.delAckAt !== Infinity) this.sendAck(now);
    this.transmit(now);
  }

  /**
   * The ACK that answers an unacceptable or PAWS-rejected segment (§3.10.7.4
   * first check, RFC 7323 §5.3 R1), as Linux's tcp_send_dupack behind
   * tcp_oow_rate_limited: one per cfg.invalidRateLimit ms unless the segment
   * carries data (ack-policy.ts).
   */
  private sendDupAck(seg: TcpSegment, segLen: number, why: 'seq' | 'paws', now: number): void {
    if (this.oowRateLimited(segLen, (seg.flags & TCP_SYN) !== 0, why, now)) return;
    // A copy of what we already have: the peer retransmitted because our
    // ACK was lost or late, so ACK quickly for a while (Linux DELAYEDACKLOST).
    if (segLen > 0 && seqLt(seg.seq, this.rcvNxt)) this.ackPolicy.enterQuickAck(this.currentRcvWnd());
    this.sendAck(now);
  }

  /** The answer to an out-of-window segment must be skipped (ack-policy.ts); counted by reason. */
  private oowRateLimited(segLen: number, syn: boolean, why: 'seq' | 'paws' | 'synrecv', now: number): boolean {
    if (!this.ackPolicy.oowRateLimited(segLen, syn, this.cfg.invalidRateLimit, now)) return false;
    this.counters.inc('tcp_oow_ratelimited');
    this.counters.inc(OOW_RATELIMITED[why]); // constant names: a flood counts here per segment
    return true;
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
      this.ts.update(seg.options.tsVal, seq, this.rcvWup, now); // RFC 7323 §4.3 (2)
      this.ackSynOrData(ack, now, seg.options.tsEcr);
      // RFC 7323 §2.2: the window of a SYN (the peer's SYN,ACK after a simultaneous open) is not scaled.
      this.setSendWindow(seg.window, seq, ack, !(seg.flags & TCP_SYN));
      const cause = this.passiveOpen
        ? 'rcv ACK of our SYN,ACK: handshake complete (RFC 9293 §3.10.7.4)'
        : 'rcv SYN,ACK in SYN_RECEIVED: simultaneous open complete (RFC 9293 §3.10.7.4)';
      if (this.ecn.ok) this.counters.inc('tcp_ecn_negotiated');
      this.setState('ESTABLISHED', cause);
      this.events.push({ type: 'established' });
      if (this.finQueued) this.transmit(now);
      return true;
    }

    // RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT.
    if (seqGt(ack, this.sndNxt)) {
      // RFC 9293 asks for an ACK; like Linux, none in ESTABLISHED (two ends
      // that disagree would ACK each other forever) and a rate-limited
      // challenge ACK in the other states (tcp_rcv_state_process).
      this.counters.inc('tcp_ack_of_unsent');
      if (this.state !== 'ESTABLISHED') this.sendChallengeAck(now, 'ack');
      return false;
    }
    if (seqLt(ack, seqSub(this.sndUna, Math.max(this.maxSndWnd, 1)))) {
      this.counters.inc('tcp_ack_too_old');
      this.sendChallengeAck(now, 'ack');
      return false;
    }
    this.probesOut = 0; // the peer answers (Linux resets icsk_probes_out on every ACK)
    // RFC 7323 §4.3 (2), once the segment is known acceptable: like Linux,
    // not from an ACK of unsent data or one too old (it would be echoed and
    // could make PAWS reject the peer's good segments).
    this.ts.update(seg.options.tsVal, seq, this.rcvWup, now);
    // SACK blocks first (RFC 6675 §5): blocks at or below the new SND.UNA are D-SACKs.
    let freshSack = 0;
    let dsack = false;
    const sackedBefore = this.recovery.scoreboard.sackedBytes;
    // But before them, the receiver may have dropped what it SACKed (RFC 2018 §8).
    const reneged = this.sackOk && seqGt(ack, this.sndUna) && this.recovery.checkReneging(ack, this.counters);
    if (seqGt(ack, this.sndUna)) this.recovery.learnReordering(this.sndUna, ack, this.effMss, this.counters);
    if (this.sackOk && seg.options.sack !== undefined) {
      const r = this.recovery.scoreboard.update(seg.options.sack, seqGt(ack, this.sndUna) ? ack : this.sndUna, this.sndNxt);
      freshSack = r.fresh;
      dsack = r.ignored > 0;
      if (dsack) this.counters.inc('tcp_dsack_or_old_sack_blocks');
    }
    // RACK (RFC 8985 §6.2): which segments this ACK delivered, and when they were sent.
    if (this.recovery.rack !== null) this.recovery.rackAck(seqGt(ack, this.sndUna) ? ack : this.sndUna, this.sndNxt, seg.options.sack, seg.options.tsEcr, this.ts, this.effMss, now);
    // RFC 3168 §6.1.2: ECE asks for a window reduction, once per window of
    // data, before this ACK could grow cwnd (as Linux's tcp_ack orders it).
    if (seg.flags & TCP_ECE) this.eceArrives(seqGt(ack, this.sndUna) ? ack : this.sndUna, now);
    if (seqGt(ack, this.sndUna)) {
      this.ackSynOrData(ack, now, seg.options.tsEcr, dsack, sackedBefore);
      if (reneged) this.armRenegingTimer(now);
    } else if (ack === this.sndUna) {
      // A duplicate ACK (RFC 5681 §2; with SACK, one bringing new SACK information, RFC 6675 §2).
      const outstanding = this.sndUna !== this.sndNxt;
      const plain = seg.payload.length === 0 && !(seg.flags & (TCP_SYN | TCP_FIN)) && seg.window << this.sndWscale === this.sndWnd;
      // With SACK only new SACK information counts; a D-SACK or a repeat of known blocks does not.
      const duplicate = outstanding && (freshSack > 0 || (plain && (!this.sackOk || seg.options.sack === undefined)));
      // One object for these ACKs (every segment a receiver gets): recovery reads it and keeps nothing.
      const p = this.dupAckInfo;
      p.sndUna = this.sndUna;
      p.sndNxt = this.sndNxt;
      p.flightSize = this.flightSize();
      p.duplicate = duplicate;
      p.mss = this.effMss;
      p.now = now;
      p.srtt = this.rtt.srtt;
      p.sackedBefore = sackedBefore;
      if (this.recovery.onAck(p, this.counters)) {
        this.ecn.reduced(this.sndNxt, false);
      }
    }
    // Window update (§3.10.7.4 fifth: SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)).
    if (seqLe(this.sndUna, ack) && (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack)))) {
      this.setSendWindow(seg.window, seq, ack, true);
    }

    const ourFinAcked = this.ourFinAcked();
    switch (this.state) {
      case 'FIN_WAIT_1':
        if (ourFinAcked) {
          this.setState('FIN_WAIT_2', 'rcv ACK of our FIN (RFC 9293 §3.10.7.4)');
          if (this.orphaned) this.finWait2At = now + this.cfg.finTimeout;
        }
        break;
      case 'CLOSING':
        if (ourFinAcked) this.enterTimeWait(now, 'rcv ACK of our FIN in CLOSING: wait 2MSL (RFC 9293 §3.10.7.4)');
        else this.transmit(now); // the ACK may have opened the window or shown a hole
        return false;
      case 'LAST_ACK':
        if (ourFinAcked) {
          this.setState('CLOSED', 'rcv ACK of our FIN in LAST_ACK (RFC 9293 §3.10.7.4)');
          this.destroy();
        } else {
          this.transmit(now);
        }
        return false;
      case 'TIME_WAIT':
        // Only a retransmitted FIN can arrive here (handled with the FIN below).
        break;
    }
    return true;
  }

  /**
   * The peer echoed a CE mark (RFC 3168 §6.1.2): halve cwnd as for a loss,
   * without retransmitting, unless this window was already reduced (by ECE
   * or by loss recovery, which Linux's CWR and Recovery states both cover);
   * CWR goes on the next new data segment.
   */
  private eceArrives(ack: number, now: number): void {
    if (!this.ecn.ok) return;
    this.counters.inc('tcp_ecn_ece_received');
    if (this.recovery.phase !== 'open' || !this.ecn.eceReceived(ack)) return;
    this.counters.inc('tcp_ecn_cwnd_reductions');
    this.cc.onCongestionEvent(this.cc.cwnd, now);
    this.cc.onRecoveryExit(now);
    this.ecn.reduced(this.sndNxt, true);
    this.recovery.cwndHeld = true;
  }

  /** Seventh (text) and eighth (FIN) steps, for data already trimmed to the window (`seg` as it arrived). */
  private processText(seg: TcpSegment, seq: number, payload: Buffer, fin: boolean, now: number): void {
    if (!canReceive(this.state)) {
      if (fin && this.state === 'TIME_WAIT') this.timeWaitFinAgain(now);
      else if (fin && seq === this.rcvNxt) this.sendAck(now); // FIN repeated in CLOSE_WAIT/CLOSING/LAST_ACK
      if (payload.length > 0) this.counters.inc('tcp_data_after_fin');
      return;
    }
    if (seq !== this.rcvNxt) {
      // Out of order: keep it (bounded by the window) and ACK at once (RFC 5681 §4.2).
      // A copy of data we already hold is reported as a D-SACK (RFC 2883 §4.2).
      const end = seqAdd(seq, payload.length);
      if (this.sackOk && payload.length > 0 && this.recvBuffer.holds(seq, end)) this.dsack = [seq, end];
      if (payload.length > 0) this.noteSackArrival(seq);
      if (this.recvBuffer.used + payload.length > this.rcvLimit()) this.counters.inc('tcp_rcvbuf_full');
      else if (!this.recvBuffer.storeOutOfOrder(seq, payload, fin)) this.counters.inc('tcp_ofo_dropped');
      this.counters.inc('tcp_out_of_order');
      this.ackPolicy.scheduled = true;
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
      const wnd = this.currentRcvWnd();
      this.ackPolicy.onData(seg.payload.length, seg.headerLength, seg.flags, this.advMss, this.ts.enabled ? 32 : 20, wnd, this.rtt.rto, now);
      // Copied: the link may reuse the packet buffer after this batch.
      this.recvBuffer.pushInOrder(payload);
      this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
      this.autotuneOnData(payload.length, seg.options.tsEcr, now);
      if (this.recvBuffer.hasOutOfOrder) {
        const drained = this.recvBuffer.drainInOrder(this.rcvNxt);
        this.rcvNxt = drained.rcvNxt;
        gotFin = gotFin || drained.fin;
      }
      this.events.push(READABLE);
    }
    if (gotFin) {
      this.finArrives(now);
      return;
    }
    if (payload.length === 0) return;
    // Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2), as Linux's
    // __tcp_ack_snd_check: at once when more than one of the peer's
    // full-sized segments (rcv_mss, learned from what arrives) is
    // unacknowledged, so a super-segment from an offloading link counts as
    // what it carries; at once in quick-ACK mode and when a hole was filled;
    // else within the timeout.
    if (hadHole || this.ackPolicy.inQuickAck || seqSub(this.rcvNxt, this.rcvWup) > this.ackPolicy.rcvMss) this.sendAck(now);
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
    this.rtoAt = this.persistAt = this.delAckAt = this.keepAliveAt = this.finWait2At = Infinity;
    this.timeWaitAt = now + 2 * this.cfg.msl;
  }
}
