/**
 * The sending half of a connection: segmentation, sender SWS avoidance and
 * Nagle, retransmission (RFC 6298 timer, RFC 6675 / RFC 6582 recovery via
 * recovery.ts), zero-window probing, keepalive, and the timers that drive
 * them. Segment arrival hands ACKs to `ackSynOrData`.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from '../wire/tcp.js';
import { seqAdd, seqGe, seqGt, seqLt, seqSub } from '../wire/seq.js';
import { ourSynWindow, synOptions } from './options.js';
import { Tcb } from './tcb.js';
import { ourMss } from './config.js';
import { TailLossProbe } from './tlp.js';
import { PACING_SLACK_MS } from './pacing.js';
import { bbrMinTsoSegs, tsoSegs } from './tso-size.js';
import { CHRONO_BUSY, CHRONO_RWND_LIMITED, CHRONO_SNDBUF_LIMITED } from './chrono.js';

export abstract class TcbSender extends Tcb {
  /** MSG_MORE on the write being pushed now: corked for that push only (Linux tcp_push, TCP_NAGLE_CORK). */
  protected moreNow = false;
  /** TCP_NODELAY set or TCP_CORK removed with Nagle off: queued data goes past the
   * cork until the next write (Linux TCP_NAGLE_PUSH, cleared by skb_entail). */
  protected pushNow = false;

  /** SND.UNA advances to `ack`: free the buffer, time RTT, restart timers. */
  protected ackSynOrData(ack: number, now: number, tsEcr?: number, dsack = false, sackedBefore?: number): void {
    let acked = seqSub(ack, this.sndUna);
    if (acked <= 0) return;
    const oldUna = this.sndUna;
    const advanced = acked;
    const flightSize = this.flightSize();
    const synJustAcked = !this.synAcked;
    if (synJustAcked) {
      this.synAcked = true;
      acked--; // our SYN
    }
    const finAcked = this.finSeqNo !== -1 && seqGt(ack, this.finSeqNo);
    const dataAcked = Math.min(this.sendQueue.length, acked - (finAcked ? 1 : 0));
    this.sendQueue.consume(dataAcked);
    this.wmem.ack(dataAcked);
    this.pushPoints.consume(dataAcked);
    this.sndUna = ack;
    this.unackedSince = now;
    this.retries = 0;
    // RTT: from the echoed timestamp on every ACK that advances (RFC 7323 §4.1),
    // else from the one timed segment, never a retransmitted one (Karn).
    // The echo is fresh if it is newer than our last retransmission, or if the
    // data at the old SND.UNA was never retransmitted (its original arrived).
    const freshEcho = this.rtxTsVal === -1 || (tsEcr !== undefined && seqGe(tsEcr, this.rtxTsVal)) || !seqLt(oldUna, this.highRxtEver);
    let rttSample = freshEcho ? this.ts.rttSample(tsEcr, now) : undefined;
    if (rttSample === undefined && this.rttSeq !== -1 && seqGe(ack, this.rttSeq)) rttSample = now - this.rttStart;
    if (this.rttSeq !== -1 && seqGe(ack, this.rttSeq)) this.rttSeq = -1;
    if (rttSample !== undefined) this.rtt.sample(rttSample, ack, this.sndNxt);
    else this.rtt.keepBackoff();
    // RFC 6298 §5.7: after a SYN timeout and no sample, data starts with RTO 3 s.
    if (synJustAcked && this.synTimedOut && !this.rtt.hasSample) this.rtt.restartAt(3000);
    // No growth until the window of an ECN reduction is acknowledged (Linux's CWR state).
    this.ecn.acked(ack);
    this.recovery.cwndHeld = this.ecn.inCwr;
    const lossDetected = this.recovery.onAck(
      // Congestion control's RTT: per ACK from the send times when RACK keeps them (Linux ca_rtt_us).
      { sndUna: ack, sndNxt: this.sndNxt, flightSize, acked: advanced, dataAcked, duplicate: false, mss: this.effMss, now, rtt: this.recovery.rack?.caRtt ?? rttSample, sackedBefore, srtt: this.rtt.srtt, newDataReady: this.newDataReady(), onceSentFrom: seqGt(this.highRxtEver, oldUna) ? this.highRxtEver : oldUna },
      this.counters,
    );
    if (lossDetected) this.ecn.reduced(this.sndNxt, false);
    this.updatePacingRate();
    // RFC 6298 §5.2/5.3: stop the timer when all is acked, else restart it.
    if (this.sndUna === this.sndNxt) {
      this.rtoAt = Infinity;
      this.chrono.stop(CHRONO_BUSY, now, this.sendQueue.length === 0); // Linux tcp_clean_rtx_queue
    } else this.armRto(now);
    if (this.tlp.onAck(ack, dsack)) {
      // RFC 8985 §7.4: the probe repaired a loss: respond as to a fast retransmit.
      this.counters.inc('tcp_tlp_recoveries');
      this.cc.onCongestionEvent(this.flightSize(), now);
      this.cc.onRecoveryExit(now);
      this.ecn.reduced(this.sndNxt, false);
    }
    this.schedulePto(now);
    // Linux tcp_new_space: a writer waits for room and what it queued cannot fill cwnd: the buffer grows with cwnd.
    if (this.writeBlocked && this.sendQueue.length - seqSub(this.sndNxt, this.sndUna) < this.cwndRoom(this.effMss)) this.expandSndBuf();
    this.checkWriteSpace(now);
  }

  /** Writable again once the free space is at least half of what is queued (Linux sk_stream_write_space). */
  private checkWriteSpace(now: number): void {
    if (this.writeBlocked && this.wmem.queued * 3 <= this.cfg.sndBuf * 2) {
      this.writeBlocked = false;
      this.chrono.stop(CHRONO_SNDBUF_LIMITED, now, this.sendQueue.length === 0); // Linux tcp_check_space
      this.events.push({ type: 'drain' });
    }
  }

  /** Unsent data waits and the peer's window has room beyond SND.NXT (F-RTO step 2.b, Linux tcp_process_loss). */
  private newDataReady(): boolean {
    return this.finSeqNo === -1 && this.sendQueue.length > seqSub(this.sndNxt, this.sndUna) && this.peerWindowRoom() > 0;
  }

  protected setSendWindow(window: number, seq: number, ack: number, scaled: boolean): void {
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

  /**
   * Send what the windows allow. Outside recovery: new data under
   * min(SND.WND, cwnd) with sender SWS avoidance (RFC 9293 §3.8.6.2.1) and
   * Nagle (§3.7.4). In recovery or after a timeout: retransmissions first,
   * then new data, while cwnd - pipe allows a segment (RFC 6675 §5 step C).
   * Then our FIN once the user closed and all data is out.
   */
  protected transmit(now: number): void {
    const s = this.state;
    if (s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT' && s !== 'FIN_WAIT_1' && s !== 'CLOSING' && s !== 'LAST_ACK') return;
    const r = this.recovery;
    const mss = this.effMss;
    this.paceAt = Infinity; // set again if pacing holds a segment back
    const sndNxtBefore = this.sndNxt;
    for (;;) {
      if (r.retransmitHead) {
        // Fast retransmit, or a NewReno partial ACK: the first unacknowledged
        // segment goes at once, up to the next SACKed range.
        r.retransmitHead = false;
        const rx = r.headRetransmission(this.sndUna, this.sndNxt, mss);
        if (rx !== null) this.retransmit(rx.seq, rx.len, now);
        continue;
      }
      const room = this.cwndRoom(mss);
      if (r.phase !== 'open' && room >= mss) {
        const rx = r.nextRetransmission(this.sndUna, this.sndNxt, mss, false);
        if (rx !== null) {
          if (this.paced(now)) break;
          this.retransmit(rx.seq, rx.len, now);
          continue;
        }
      }
      if (this.sendNewData(room, mss, now)) continue;
      if (this.paceAt !== Infinity) break; // new data waits for its pacing time
      if (r.phase !== 'open' && room >= mss) {
        const rx = r.nextRetransmission(this.sndUna, this.sndNxt, mss, true);
        if (rx !== null) {
          if (this.paced(now)) break;
          this.retransmit(rx.seq, rx.len, now);
          continue;
        }
      }
      break;
    }
    if (this.paceAt === Infinity) this.pacer.idle(); // stopped by cwnd, the window or the data: no pacing debt
    // RFC 7661 §4.3: note how much of cwnd this pass used (Linux tcp_cwnd_validate after tcp_write_xmit).
    const stopped = this.cwndRoom(mss) < mss;
    if (stopped || this.sndNxt !== sndNxtBefore) r.cwndUsage.validate(this.sndUna, this.sndNxt, seqSub(this.sndNxt, this.sndUna), stopped);
    this.chronoAfterTransmit(stopped, this.sndNxt !== sndNxtBefore, mss, now);
    if (this.sndNxt !== sndNxtBefore) {
      const sentData = Math.min(this.sendQueue.length, seqSub(this.sndNxt, this.sndUna) - (this.synAcked ? 0 : 1));
      this.wmem.sent(sentData, this.tsoSegs(mss) * mss, true); // Linux cuts its skbs where its TSO packets end
    }
    // draft-cheng-iccrg-delivery-rate-estimation §3.4: out of data, nothing to repair, room in cwnd: app-limited.
    if (!stopped && r.rack !== null && !r.rack.hasLost && this.sendQueue.length - seqSub(this.sndNxt, this.sndUna) < mss) r.rate.markAppLimited(r.rack.pipe());
    // The FIN alone (no data left to piggyback it on).
    if (this.finQueued && this.finSeqNo === -1 && this.sndNxt === this.finPosition()) {
      this.sendData(seqSub(this.sndNxt, this.sndUna), 0, true, now);
      return;
    }
    // Data waiting, nothing in flight, and the window too small to send: the
    // persist timer makes sure we probe rather than wait forever (§3.8.6.1).
    if (this.sndNxt === this.sndUna && this.sendQueue.length > 0 && this.persistAt === Infinity && this.paceAt === Infinity) {
      this.persistAt = now + this.persistInterval();
    }
  }

  /**
   * Bytes cwnd lets us send now (RFC 6675 §5 step C: cwnd - pipe). An
   * algorithm that counts its window in packets also caps the segments in
   * flight (Linux tcp_cwnd_test: in_flight < cwnd, both in packets), so
   * tiny segments cannot fill a byte window by the thousand.
   */
  private cwndRoom(mss: number): number {
    const r = this.recovery;
    const room = r.window(mss) - r.inFlight(this.sndUna, this.sndNxt, mss);
    if (!this.cc.cwndInPackets || r.rack === null) return room;
    const packets = Math.floor(r.window(mss) / mss) - r.rack.pipePackets();
    return Math.min(room, packets * mss);
  }

  /**
   * Linux's chronographs at the end of tcp_write_xmit: data waiting that the
   * peer's window does not take (cwnd would) is window-limited time; having
   * sent, not cwnd-limited, with nothing left unsent while a writer waits for
   * buffer space (tcp_cwnd_validate) is buffer-limited time.
   */
  private chronoAfterTransmit(cwndLimited: boolean, sent: boolean, mss: number, now: number): void {
    const unsent = this.finSeqNo === -1 ? this.sendQueue.length - seqSub(this.sndNxt, this.sndUna) : 0;
    if (unsent > 0 && !cwndLimited && this.peerWindowRoom() < Math.min(unsent, mss)) this.chrono.start(CHRONO_RWND_LIMITED, now);
    else this.chrono.stop(CHRONO_RWND_LIMITED, now, this.sendQueue.length === 0 && this.sndUna === this.sndNxt);
    if (sent && !cwndLimited && unsent <= 0 && this.writeBlocked && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT')) {
      this.chrono.start(CHRONO_SNDBUF_LIMITED, now);
    }
  }

  /**
   * Room the peer's window leaves beyond SND.NXT. The window was offered
   * relative to the ACK that carried it (SND.WL2), not to SND.UNA, which
   * may have moved on since without a window update (RFC 9293 §3.10.7.4).
   */
  protected peerWindowRoom(): number {
    return seqSub(seqAdd(this.sndWl2, this.sndWnd), this.sndNxt);
  }

  /** One segment of new data if the windows, SWS avoidance and Nagle allow it. */
  protected sendNewData(cwndRoom: number, mss: number, now: number): boolean {
    if (this.finSeqNo !== -1) return false;
    const offset = seqSub(this.sndNxt, this.sndUna);
    const unsent = this.sendQueue.length - offset;
    if (unsent <= 0) return false;
    const usable = Math.min(this.peerWindowRoom(), cwndRoom);
    // TSO: as many whole segments as fit in one super-segment (the link cuts
    // it), no more than Linux puts in one (tso-size.ts).
    const most = this.cfg.gsoMax > mss ? Math.min(this.cfg.gsoMax - (this.cfg.gsoMax % mss), this.tsoSegs(mss) * mss) : mss;
    let len = Math.min(unsent, most);
    if (usable < len) {
      if (usable >= mss) {
        len = usable - (usable % mss); // whole segments only; the rest waits (SWS)
      } else {
        // Window-limited: send only if at least half the largest window seen fits (SWS (b)).
        if (usable <= 0 || usable < Math.min(mss, this.maxSndWnd >> 1)) return false;
        len = usable;
      }
    } else if (len > mss && len % mss !== 0 && len === unsent && this.corked() && !this.finQueued) {
      len -= len % mss; // the whole segments go, the corked tail waits (Linux tcp_mss_split_point)
    } else if (len < mss && this.corked() && !(len === unsent && this.finQueued)) {
      // TCP_CORK / MSG_MORE: a partial segment waits, data in flight or not (Linux tcp_nagle_check); a FIN goes.
      return false;
    } else if (len < mss && !this.cfg.noDelay && this.sndNxt !== this.sndUna) {
      // Nagle: a small segment waits while data is unacknowledged.
      return false;
    }
    if (this.paced(now)) return false;
    if (this.sndNxt === this.sndUna && now - this.lastSendAt > this.rtt.rto && this.lastSendAt > 0) {
      this.cc.onIdleRestart(now); // RFC 5681 §4.1
    }
    this.sendData(offset, len, len === unsent && this.finQueued, now);
    return true;
  }

  /** Segments Linux would put in one TSO packet now (tso-size.ts). */
  private tsoSegs(mss: number): number {
    // Linux has a pacing rate from the handshake's RTT sample on (tcp_init_transfer).
    if (this.pacer.rate === 0 && this.rtt.hasSample) this.updatePacingRate();
    const own = this.cc.pacingRate;
    const rackMin = this.recovery.rack?.minRtt ?? Infinity;
    const minRtt = Number.isFinite(rackMin) ? rackMin : this.rtt.srtt; // Linux's min_rtt counts the handshake's sample too
    return tsoSegs(mss, this.cc.cwnd, this.pacer.rate, minRtt, own !== undefined ? bbrMinTsoSegs(own) : this.cfg.minTsoSegs);
  }

  private corked(): boolean {
    return (this.cfg.cork || this.moreNow) && !this.pushNow;
  }

  /**
   * Pacing (pacing.ts): true when the next segment must wait for its time;
   * the deadline `paceAt` brings the scheduler back then.
   */
  protected paced(now: number): boolean {
    if (!this.pacingOn) return false;
    // The first window after the handshake is paced from the SYN's RTT sample (Linux tcp_init_transfer).
    if (this.pacer.rate === 0 && this.rtt.hasSample) this.updatePacingRate();
    if (this.pacer.maySend(now)) return false;
    if (this.paceAt === Infinity) this.counters.inc('tcp_pacing_delays');
    this.paceAt = this.pacer.nextSendAt - PACING_SLACK_MS;
    return true;
  }

  /** Pacing is configured, or the congestion control paces itself (BBR). */
  protected get pacingOn(): boolean {
    return this.cfg.pacing || this.cc.pacingRate !== undefined;
  }

  /**
   * The algorithm's own pacing rate (BBR), else Linux's from cwnd/SRTT
   * (pacing.ts). Kept when not pacing too, as Linux keeps sk_pacing_rate:
   * it sizes TSO packets (tso-size.ts).
   */
  private updatePacingRate(): void {
    const own = this.cc.pacingRate;
    if (own !== undefined) this.pacer.rate = own;
    else this.pacer.updateFromCwnd(this.cc.cwnd, this.cc.ssthresh, this.flightSize(), this.rtt.srtt);
  }

  /** New data (and/or our FIN) at SND.NXT. */
  protected sendData(offset: number, len: number, withFin: boolean, now: number, psh = false): void {
    const payload = len > 0 ? this.sendQueue.read(offset, len) : undefined;
    let flags = TCP_ACK;
    if (len > 0 && (psh || this.pushes(offset, len))) flags |= TCP_PSH;
    if (withFin) flags |= TCP_FIN;
    // RFC 3168 §6.1.2: new data is ECT(0), and the first after a window reduction carries CWR.
    const ect = len > 0 && this.ecn.ok;
    if (ect && this.ecn.takeCwr()) flags |= TCP_CWR;
    const seq = this.sndNxt;
    if (this.sndUna === this.sndNxt) this.unackedSince = now;
    this.lastSegSeq = seq;
    this.emitSegment(seq, flags, payload, ect);
    if (this.pacingOn) this.pacer.sent(len, now);
    this.recovery.sent(seq, len + (withFin ? 1 : 0), this.effMss, now);
    this.sndNxt = seqAdd(seq, len + (withFin ? 1 : 0));
    this.lastSendAt = now;
    if (!this.ts.enabled && this.rttSeq === -1) {
      this.rttSeq = this.sndNxt;
      this.rttStart = now;
    }
    if (this.rtoAt === Infinity) this.armRto(now);
    this.schedulePto(now);
    if (withFin) {
      if (this.finSeqNo === -1) this.finSeqNo = seqAdd(seq, len);
      if (this.state === 'ESTABLISHED' || this.state === 'SYN_RECEIVED') this.setState('FIN_WAIT_1', 'user close: FIN sent (RFC 9293 §3.10.4)');
      else if (this.state === 'CLOSE_WAIT') this.setState('LAST_ACK', 'user close in CLOSE_WAIT: FIN sent (RFC 9293 §3.10.4)');
    }
  }

  /**
   * PSH on data at [offset, offset+len) of the queue: where it ends at or
   * covers a push point (push-points.ts), and on every super-segment of more
   * than one MSS, as Linux forces on TSO/GSO packets (__tcp_transmit_skb,
   * since 5.4) so that a receiver's GRO flushes it at once.
   */
  private pushes(offset: number, len: number): boolean {
    return len > this.effMss || this.pushPoints.covers(offset, len);
  }

  /** Resend [seq, seq+len) of sequence space: data, and our FIN if it lies inside. */
  protected retransmit(seq: number, len: number, now: number): void {
    const offset = seqSub(seq, this.sndUna) - (this.synAcked ? 0 : 1);
    const dataLen = Math.max(0, Math.min(len, this.sendQueue.length - offset));
    const fin = this.finSeqNo !== -1 && seqAdd(seq, dataLen) === this.finSeqNo && len > dataLen;
    this.recovery.retransmitted(seq, dataLen + (fin ? 1 : 0) || len, now);
    if (dataLen === 0 && !fin) return;
    let flags = TCP_ACK;
    if (fin) flags |= TCP_FIN;
    if (dataLen > 0 && this.pushes(offset, dataLen)) flags |= TCP_PSH;
    this.emitSegment(seq, flags, dataLen > 0 ? this.sendQueue.read(offset, dataLen) : undefined);
    if (this.pacingOn) this.pacer.sent(dataLen, now);
    this.counters.inc('tcp_retransmitted_segments');
    this.rttSeq = -1; // Karn: no sample from anything sent twice
    if (seqGt(seqAdd(seq, len), this.highRxtEver)) this.highRxtEver = seqAdd(seq, len);
    if (this.rtoAt === Infinity) this.armRto(now);
  }

  protected sendSyn(withAck: boolean, now: number): void {
    // A SYN offers what we are configured for; a SYN,ACK only what the peer offered too.
    const useTs = withAck ? this.ts.enabled : this.cfg.timestamps;
    const options: TcpOption[] = synOptions({
      mss: ourMss(this.cfg),
      sackPermitted: withAck ? this.sackOk : this.cfg.sack,
      ts: useTs ? { val: this.ts.value(now), ecr: withAck ? this.ts.recent : 0 } : undefined,
      wscale: this.cfg.windowScaling && (!withAck || this.wscaleOk) ? this.rcvWscale : undefined,
    });
    if (withAck) this.rcvWup = this.rcvNxt;
    const window = ourSynWindow(this.cfg, withAck, useTs);
    this.rcvAdvEdge = seqAdd(this.rcvNxt, window);
    // RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR (not when retransmitted,
    // §6.1.1.1, as Linux), an ECN-setup SYN,ACK ECE alone.
    let flags = withAck ? TCP_SYN | TCP_ACK : TCP_SYN;
    if (withAck ? this.ecn.ok : this.ecn.askInSyn(this.retries > 0)) flags |= withAck ? TCP_ECE : TCP_ECE | TCP_CWR;
    this.out.push({ seq: this.iss, ack: withAck ? this.rcvNxt : 0, flags, window, options });
    this.sndNxt = seqAdd(this.iss, 1);
    if (this.rtoAt === Infinity) this.armRto(now);
    if (this.retries === 0 && this.rttSeq === -1) {
      this.rttSeq = this.sndNxt;
      this.rttStart = now;
    }
  }

  protected retransmitSynAck(now: number): void {
    this.counters.inc('tcp_synack_retransmitted');
    this.rttSeq = -1;
    this.sendSyn(true, now);
  }

  /** Earliest time at which onTimer has work to do. */
  nextDeadline(): number {
    return Math.min(this.rtoAt, this.ptoAt, this.recovery.reoTimerAt, this.persistAt, this.delAckAt, this.keepAliveAt, this.timeWaitAt, this.finWait2At, this.paceAt);
  }

  /** RFC 8985 §6.3: the RACK reorder timer fired: what it waited for is lost now; resend it. */
  protected reorderTimeout(now: number): void {
    const p = { sndUna: this.sndUna, sndNxt: this.sndNxt, flightSize: this.flightSize(), mss: this.effMss, now, srtt: this.rtt.srtt };
    if (this.recovery.onReorderTimer(p, this.counters)) this.ecn.reduced(this.sndNxt, false);
    this.transmit(now);
    if (this.recovery.phase !== 'open') this.ptoAt = Infinity;
  }

  /**
   * RFC 8985 §7.2: (re)arm the probe timer while data is outstanding in the
   * open state with SACK and no probe is pending; a PTO beyond the RTO is
   * cut to it, and the probe then goes instead of the timeout (as Linux).
   * With rack: false, the earlier PTO (tlp.ts legacyTimeout).
   */
  protected schedulePto(now: number): void {
    this.ptoAt = Infinity;
    const s = this.state;
    if (!this.cfg.tlp || !this.sackOk || this.recovery.phase !== 'open' || this.tlp.endSeq !== -1 || !this.rtt.hasSample) return;
    if (s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT' && s !== 'FIN_WAIT_1' && s !== 'CLOSING' && s !== 'LAST_ACK') return;
    const flight = seqSub(this.sndNxt, this.sndUna);
    if (flight <= 0) return;
    const segments = Math.ceil(flight / this.effMss);
    if (this.recovery.rack !== null) {
      this.ptoAt = Math.min(now + TailLossProbe.timeout(this.rtt.srtt, segments), this.rtoAt);
    } else {
      const at = now + TailLossProbe.legacyTimeout(this.rtt.srtt, segments);
      if (at < this.rtoAt) this.ptoAt = at;
    }
  }

  /** RFC 8985 §7.3: send one probe segment, then let the RTO take over. */
  protected probeTimeout(now: number): void {
    this.ptoAt = Infinity;
    if (this.recovery.phase !== 'open' || this.sndUna === this.sndNxt || this.tlp.endSeq !== -1) return;
    const mss = this.effMss;
    const offset = seqSub(this.sndNxt, this.sndUna);
    const unsent = this.finSeqNo === -1 ? this.sendQueue.length - offset : 0;
    const rwnd = this.peerWindowRoom();
    this.counters.inc('tcp_tlp_probes');
    if (unsent > 0 && rwnd > 0) {
      const len = Math.min(unsent, mss, rwnd);
      this.sendData(offset, len, len === unsent && this.finQueued, now);
      this.ptoAt = Infinity; // sendData re-armed it; one probe per episode
      this.tlp.start(this.sndNxt, false);
    } else {
      // RFC 8985 §7.3: the highest-sequence segment sent so far. A super-segment
      // (offload) was several segments: only its last MSS goes, as Linux's
      // tcp_send_loss_probe cuts the skb (the FIN, if sent, rides with it).
      let start = seqGt(this.lastSegSeq, this.sndUna) ? this.lastSegSeq : this.sndUna;
      const finSent = this.finSeqNo !== -1 && seqGt(this.sndNxt, this.finSeqNo);
      const data = seqSub(this.sndNxt, start) - (finSent ? 1 : 0);
      if (data > mss) start = seqAdd(start, Math.floor((data - 1) / mss) * mss);
      this.retransmit(start, seqSub(this.sndNxt, start), now);
      this.tlp.start(this.sndNxt, true);
    }
    this.armRto(now);
  }

  onTimer(now: number): void {
    this.now = now;
    if (this.timeWaitAt <= now) {
      this.timeWaitAt = Infinity;
      this.setState('CLOSED', '2MSL timer expired (RFC 9293 §3.10.8)');
      this.destroy();
      return;
    }
    if (this.finWait2At <= now) {
      // Nobody will read what the peer might still send, and the peer may
      // never close: Linux gives an orphan tcp_fin_timeout, then forgets it
      // (a later segment from the peer gets a RST).
      this.counters.inc('tcp_fin_wait2_timeouts');
      this.setState('CLOSED', 'orphan waited tcp_fin_timeout in FIN_WAIT_2: forget it (Linux tcp_fin_timeout)');
      this.destroy();
      return;
    }
    // A probe cut to the RTO goes instead of the timeout (it re-arms the RTO).
    if (this.ptoAt <= now && this.ptoAt <= this.rtoAt) this.probeTimeout(now);
    if (this.rtoAt <= now) this.retransmissionTimeout(now);
    if (this.state === 'CLOSED') return;
    if (this.ptoAt <= now) this.probeTimeout(now);
    if (this.recovery.reoTimerAt <= now) this.reorderTimeout(now);
    if (this.delAckAt <= now) {
      this.delAckAt = Infinity;
      this.counters.inc('tcp_delayed_acks');
      this.ackPolicy.delayedAckFired();
      this.sendAck(now);
    }
    if (this.persistAt <= now) this.persistTimeout(now);
    if (this.keepAliveAt <= now) this.keepAliveTimeout(now);
    if (this.paceAt <= now) {
      this.paceAt = Infinity;
      this.transmit(now); // the paced segments' time has come
    }
  }

  /**
   * RFC 9293 §3.8.6.1: with a zero window, probe; like Linux the probe is an
   * ACK with an old sequence number (SND.UNA - 1), which the peer must answer
   * with its current window. With a small non-zero window, the timer overrides
   * sender SWS avoidance and sends what fits (§3.8.6.2.1).
   */
  protected persistTimeout(now: number): void {
    this.persistAt = Infinity;
    if (this.state === 'CLOSED' || this.sndNxt !== this.sndUna || this.sendQueue.length === 0) return;
    const usable = Math.min(this.peerWindowRoom(), this.cc.cwnd, this.sendQueue.length, this.effMss);
    if (usable > 0) {
      this.counters.inc('tcp_persist_sends');
      // Linux tcp_write_wakeup: what the probe timer sends carries PSH. This also
      // sends corked data once nothing is in flight: Linux's 200 ms "cork timer" is this timer.
      this.sendData(0, usable, usable === this.sendQueue.length && this.finQueued, now, true);
      return;
    }
    // Bounded patience (Linux tcp_probe_timer): an orphan stops once the probe
    // interval reached the maximum RTO or its probes go unanswered; the peer
    // is alive and may be waiting for us, so it is told with a RST. A live
    // socket gives up only when the peer stops answering (tcp_retries2).
    if (this.orphaned && (this.probesOut >= this.cfg.orphanRetries || this.persistInterval() >= this.cfg.rto.maxRto)) {
      this.counters.inc('tcp_orphan_gave_up');
      this.emitSegment(this.sndNxt, TCP_RST | TCP_ACK);
      this.setState('CLOSED', `orphan still facing a zero window after ${this.persistBackoff} probes: RST (Linux tcp_orphan_retries)`);
      this.destroy();
      return;
    }
    if (this.probesOut >= this.cfg.retries) {
      this.counters.inc('tcp_timeouts_gave_up');
      this.fail('ETIMEDOUT', `no answer to ${this.probesOut} zero-window probes: give up (RFC 9293 §3.8.6.1, Linux tcp_retries2)`);
      return;
    }
    this.probesOut++;
    this.counters.inc('tcp_window_probes');
    this.emitSegment(seqAdd(this.sndUna, -1), TCP_ACK);
    this.persistBackoff++;
    this.persistAt = now + this.persistInterval();
  }

  protected persistInterval(): number {
    return Math.min(this.cfg.rto.maxRto, this.rtt.rto * 2 ** this.persistBackoff);
  }

  /** RFC 6298 §5.4-5.6 and RFC 9293 §3.8.3 (give up after R2). */
  protected retransmissionTimeout(now: number): void {
    this.rtoAt = Infinity;
    if (this.sndUna === this.sndNxt) return;
    // A passive open gives up sooner than an active one, as Linux's request socks do.
    const s = this.state;
    let limit = s === 'SYN_RECEIVED' && this.passiveOpen ? this.cfg.synAckRetries : s === 'SYN_SENT' || s === 'SYN_RECEIVED' ? this.cfg.synRetries : this.cfg.retries;
    if (this.orphaned) limit = Math.min(limit, this.cfg.orphanRetries); // Linux tcp_write_timeout
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
      // A timeout after one in a row may run F-RTO even within recovery (Linux icsk_retransmits).
      this.recovery.onTimeout(this.sndUna, this.sndNxt, this.flightSize(), now, this.retries > 1);
      this.ecn.reduced(this.sndNxt, false); // CWR on the next new data, as Linux's tcp_enter_loss
      this.tlp.cancel();
      this.ptoAt = Infinity;
      this.transmit(now);
    }
    this.armRto(now);
  }

  /**
   * After SACK reneging, the retransmission timer fires soon rather than
   * after a whole RTO, like Linux (max(SRTT/16, 10 ms)): the timeout then
   * resends from SND.UNA what the receiver no longer holds.
   */
  protected armRenegingTimer(now: number): void {
    this.rtoAt = Math.min(this.rtoAt, now + Math.max(this.rtt.srtt / 16, 10));
    this.ptoAt = Infinity;
  }

  /** RFC 6298 §5.1/5.3, clamped so a user timeout fires on time (as Linux does). */
  protected armRto(now: number): void {
    this.rtoAt = now + this.rtt.rto;
    if (this.cfg.userTimeout > 0) this.rtoAt = Math.min(this.rtoAt, this.unackedSince + this.cfg.userTimeout);
  }

  protected armKeepAlive(now: number): void {
    const on = this.cfg.keepAliveIdle > 0 && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT' || this.state === 'FIN_WAIT_2');
    this.keepAliveAt = on ? now + (this.keepAliveProbes === 0 ? this.cfg.keepAliveIdle : this.cfg.keepAliveInterval) : Infinity;
  }

  /** RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: probe an idle connection. */
  protected keepAliveTimeout(now: number): void {
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
}
