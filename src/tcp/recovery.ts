/**
 * Loss detection and recovery of the sender.
 *
 *  - open: normal sending; duplicate ACKs are counted and the first two allow
 *    one new segment each (limited transmit, RFC 3042).
 *  - recovery: fast retransmit and fast recovery after DupThresh duplicate
 *    ACKs, or as soon as SACK shows the first segment lost. With SACK the
 *    RFC 6675 procedure (scoreboard, pipe, NextSeg); without it NewReno
 *    (RFC 6582: cwnd inflation, retransmission on each partial ACK).
 *  - loss: after a retransmission timeout every unSACKed segment below the
 *    recovery point counts as lost and is resent as the (slow-starting) window
 *    allows, skipping what the scoreboard shows SACKed (RFC 6675 §5.1).
 * Recovery ends when the cumulative ACK covers the recovery point (RFC 6582
 * "recover", RFC 6675 RecoveryPoint).
 *
 * With SACK and RACK on (config `rack`, Linux tcp_recovery=1, the default),
 * RACK (rack.ts, RFC 8985 §6) decides what is lost instead of RFC 6675's
 * IsLost/DupThresh, as in Linux: recovery starts when it marks a segment
 * lost, per-segment marks give pipe and the next retransmission, and a lost
 * retransmission is sent again. DupThresh stays for peers without SACK.
 * Then Proportional Rate Reduction (prr.ts, RFC 6937) paces the sending in
 * fast recovery, as Linux; with rack: false RFC 6675's cwnd - pipe does.
 * A reduction that D-SACKs or timestamps show spurious is undone (undo.ts),
 * in fast recovery already on a partial ACK when nothing retransmitted is in
 * flight (Linux tcp_try_undo_partial); F-RTO (frto.ts, RFC 5682) sends new
 * data after a timeout to find out whether it was spurious, timestamps or
 * not: SACK-enhanced with RACK, the basic algorithm (§2) without SACK.
 *
 * The congestion window itself belongs to the CongestionControl algorithm;
 * this file decides when it is told about a congestion event.
 */
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from '../wire/seq.js';
import { Scoreboard, isDsack } from './sack.js';
import { Rack, type SackedBlock } from './rack.js';
import { Prr } from './prr.js';
import { Undo } from './undo.js';
import { Frto } from './frto.js';
import type { CongestionControl } from './congestion/congestion.js';
import { CwndUsage } from './congestion/cwnd-usage.js';
import { DeliveryRate } from './rate-sample.js';
import type { Timestamps } from './timestamps.js';

interface Counters {
  inc(name: string, by?: number): void;
}

/** RFC 5681 §3.2 / RFC 6675: three duplicate ACKs signal a loss. */
export const DUP_THRESH = 3;
/** Upper bound of the learned reordering degree (Linux's tcp_max_reordering). */
export const MAX_REORDERING = 300;

export type RecoveryPhase = 'open' | 'recovery' | 'loss';

// Why the phase changes (--explain prints them; trace/explain.ts translates them).
const DUPACKS = 'three duplicate ACKs: fast retransmit, NewReno recovery (RFC 6582 §3.2)';
const SACK_LOSS = 'duplicate ACKs and SACK show a segment lost: fast retransmit (RFC 6675 §5)';
const RACK_LOSS = 'RACK: a segment sent well before one now delivered is lost: fast recovery (RFC 8985 §6.2)';
const RACK_TIMER = 'RACK reorder timer: the reordering window passed, the segment is lost: fast recovery (RFC 8985 §6.3)';
const TIMEOUT = 'retransmission timeout: what is in flight counts as lost (RFC 6298 §5.5)';
const MTU_FELL = 'the path MTU fell: what no longer fits is sent again (RFC 1191 §6.5)';
const EXIT_RECOVERY = 'the recovery point is acknowledged: recovery ends (RFC 6675 §5)';
const EXIT_LOSS = 'everything sent before the timeout is acknowledged (RFC 6298 §5)';
const UNDO_LOSS = 'the timeout was spurious: back to open (RFC 4015 §3)';
const UNDO_DSACK = 'every retransmission came back as a D-SACK: the window reduction is undone (RFC 3708 §3)';
const UNDO_TS = 'the ACK echoes a timestamp older than the retransmission: spurious, the window reduction is undone (RFC 4015 §3)';
const UNDO_PARTIAL = 'a partial ACK echoes a timestamp older than the retransmission and none is in flight: spurious, undone, recovery ends (Linux tcp_try_undo_partial)';
const UNDO_FRTO = 'F-RTO: data sent only once is acknowledged after the timeout: spurious, the window reduction is undone (RFC 5682 §4 step 3.b)';
const FRTO_NEW = 'F-RTO: the ACK after the timeout advances: new data goes out instead of retransmissions (RFC 5682 §4 step 2.b)';

export interface Retransmission {
  seq: number;
  /** Sequence space to resend (data, plus our FIN if it lies inside). */
  len: number;
}

/** What recovery.onAck is told of one ACK. */
export type AckInfo = Parameters<LossRecovery['onAck']>[0];

export class LossRecovery {
  readonly scoreboard = new Scoreboard();
  /** Both SYNs carried SACK-permitted. */
  sackOk = false;
  phase: RecoveryPhase = 'open';
  dupAcks = 0;
  /** SND.NXT when recovery began: recovery ends once this is acknowledged. */
  recoveryPoint = 0;
  /** Everything below this has been retransmitted in this recovery (RFC 6675 HighRxt). */
  highRxt = 0;
  /** NewReno: bytes added to cwnd by duplicate ACKs during recovery (RFC 6582). */
  inflation = 0;
  /** NewReno: resend the segment at SND.UNA before anything else. */
  retransmitHead = false;
  /**
   * DupThresh in segments, raised when the path is seen to reorder (RFC 6675
   * §2 allows a larger DupThresh; Linux learns it the same way as here).
   */
  reordering = DUP_THRESH;
  /** The window of an ECN reduction is not yet acknowledged (ecn.ts): cwnd
   * neither grows nor is reduced again for a loss in it. */
  cwndHeld = false;
  /** How much of cwnd the sender used (the sender reports each transmit pass; growth reads it). */
  readonly cwndUsage = new CwndUsage();
  /** RACK loss detection (RFC 8985 §6), or null: RFC 6675 / NewReno alone. */
  rack: Rack | null = null;
  /** The RACK reorder timer (RFC 8985 §6.3), an absolute time or Infinity. */
  reoTimerAt = Infinity;
  /** Proportional Rate Reduction (RFC 6937), with RACK. */
  readonly prr = new Prr();
  /** Undo of spurious reductions (RFC 3708, RFC 4015), with RACK. */
  readonly undo = new Undo();
  /** F-RTO (RFC 5682), with RACK; `frtoEnabled` is config `frto` (Linux tcp_frto). */
  readonly frto = new Frto();
  frtoEnabled = true;
  /** Delivery rate estimation (rate-sample.ts), fed by RACK's segment records. */
  readonly rate = new DeliveryRate();

  /** Told of every change of phase and of undos, with the cause and its RFC (--explain). */
  onChange: ((phase: RecoveryPhase, cause: string) => void) | null = null;

  constructor(
    private readonly cc: CongestionControl,
    private readonly counters: Counters = { inc() {} },
  ) {}

  private setPhase(phase: RecoveryPhase, cause: string): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.onChange?.(phase, cause);
  }

  /** SACK was agreed and RACK is configured: RACK detects losses from now on. */
  useRack(): void {
    this.rack ??= new Rack(this.rate);
  }

  /** Outstanding bytes the window should be compared with. */
  inFlight(sndUna: number, sndNxt: number, mss: number): number {
    if (this.phase === 'loss' || (this.sackOk && this.phase === 'recovery')) return this.pipe(sndUna, sndNxt, mss);
    return seqSub(sndNxt, sndUna);
  }

  /** How many bytes the congestion window allows in flight right now. */
  window(mss: number): number {
    if (this.phase === 'open') return this.cc.cwnd + Math.min(this.dupAcks, DUP_THRESH - 1) * mss; // RFC 3042
    if (this.phase === 'recovery' && !this.sackOk) return Math.max(mss, this.cc.cwnd + this.inflation);
    if (this.phase === 'recovery' && this.rack !== null && this.cc.onRateSample === undefined) return this.prr.window; // RFC 6937
    return this.cc.cwnd;
  }

  /**
   * Process one ACK. `acked` is how far SND.UNA moved (sequence space),
   * `sack` the SACK blocks it carried. Returns true when this ACK started
   * fast recovery (a fast retransmit follows).
   */
  onAck(
    p: {
      sndUna: number;
      sndNxt: number;
      /** Data bytes outstanding (FlightSize: without our FIN), before this ACK. */
      flightSize: number;
      acked: number;
      dataAcked: number;
      duplicate: boolean;
      mss: number;
      now: number;
      rtt?: number;
      /** SACKed bytes on the scoreboard before this ACK's blocks were taken (default: no new blocks). */
      sackedBefore?: number;
      /** SRTT (RACK's reordering window is at most one). */
      srtt?: number;
      /** Unsent data waits and the peer's window has room for it (F-RTO step 2.b). */
      newDataReady?: boolean;
      /**
       * Data from here on was never retransmitted (the old SND.UNA or the end
       * of the highest retransmission, whichever is higher): without SACK, an
       * ACK beyond it delivered originals (F-RTO, Linux FLAG_ORIG_SACK_ACKED).
       */
      onceSentFrom?: number;
    },
    counters: Counters,
  ): boolean {
    if (this.rack !== null) return this.onAckRack(this.rack, p, counters);
    const { sndUna, sndNxt, mss, now } = p;
    if (p.acked > 0) {
      // Without SACK each duplicate ACK reported a segment delivered; the ACK
      // that ends them counts only the rest, at least one segment (Linux tcp_remove_reno_sacks).
      const counted = this.sackOk ? 0 : Math.min(this.dupAcks * mss, Math.max(0, p.dataAcked - mss));
      this.dupAcks = 0;
      const sackedBefore = p.sackedBefore ?? this.scoreboard.sackedBytes;
      this.scoreboard.ackTo(sndUna);
      if (seqLt(this.highRxt, sndUna)) this.highRxt = sndUna;
      if (this.phase === 'recovery') {
        if (seqGe(sndUna, this.recoveryPoint)) {
          this.setPhase('open', EXIT_RECOVERY);
          this.inflation = 0;
          this.cc.onRecoveryExit(now);
        } else if (!this.sackOk) {
          // RFC 6582 step 5, partial ACK: resend the next hole, deflate by what
          // was acknowledged, add back one SMSS if at least that much was.
          this.retransmitHead = true;
          this.inflation -= p.acked;
          if (p.acked >= mss) this.inflation += mss;
          counters.inc('tcp_partial_acks');
        }
        return false;
      }
      this.grow(p, sackedBefore, false, counted);
      if (this.phase === 'loss') this.frtoAck(p, this.origAcked(p), now, counters); // RFC 5682 §2 steps 2-3
      if (this.phase === 'loss' && seqGe(sndUna, this.recoveryPoint)) this.setPhase('open', EXIT_LOSS);
      // RFC 6675 §5 (2.b): a cumulative ACK that also SACKs can show the next
      // segment lost; recovery starts without waiting for duplicates.
      if (this.phase === 'open' && this.sackOk && seqLt(sndUna, sndNxt) && this.isLost(sndUna, mss)) {
        this.enterRecovery(sndUna, sndNxt, p.flightSize - p.acked, mss, now, SACK_LOSS);
        counters.inc('tcp_fast_retransmits');
        return true;
      }
      return false;
    }
    if (!p.duplicate) return false;
    this.dupAcks++;
    counters.inc('tcp_dup_acks');
    if (this.phase === 'loss') this.frtoAck(p, false, now, counters); // RFC 5682 §2 step 3.a
    if (this.phase === 'open') {
      if (this.dupAcks >= this.reordering || (this.sackOk && this.isLost(sndUna, mss))) {
        this.enterRecovery(sndUna, sndNxt, p.flightSize, mss, now, this.sackOk ? SACK_LOSS : DUPACKS);
        counters.inc('tcp_fast_retransmits');
        return true;
      }
      if (this.dupAcks < DUP_THRESH) counters.inc('tcp_limited_transmit_allowed');
    } else if (this.phase === 'recovery' && !this.sackOk) {
      // RFC 6582 step 4: each further duplicate ACK means a segment left the network.
      this.inflation += mss;
    }
    return false;
  }

  /**
   * The window grows by what this ACK newly delivered, each byte once
   * (Linux's acked_sacked): acknowledged cumulatively or SACKed for the
   * first time; bytes SACKed by earlier ACKs are no news. Only an ACK that
   * moves SND.UNA grows it, unless `sackAlone` (Linux tcp_may_raise_cwnd);
   * `counted` bytes of it were reported by duplicate ACKs already.
   */
  private grow(p: { dataAcked: number; flightSize: number; now: number; rtt?: number; sndUna: number; sndNxt: number }, sackedBefore: number, sackAlone = false, counted = 0): void {
    if (p.dataAcked <= 0 && !sackAlone) return;
    const delivered = p.dataAcked - counted + this.scoreboard.sackedBytes - sackedBefore;
    if (delivered > 0 && !this.cwndHeld) this.cc.onAck(delivered, this.cwndUsage.limited(this.cc.cwnd, this.cc.ssthresh), p.now, p.rtt, p);
  }

  /**
   * RACK's part of an ACK (RFC 8985 §6.2 steps 1-4), called once the
   * scoreboard took its blocks and before onAck: the segments it delivered
   * update RACK, a D-SACK widens the reordering window.
   */
  rackAck(ack: number, sndNxt: number, blocks: ReadonlyArray<readonly [number, number]> | undefined, tsEcr: number | undefined, ts: Timestamps, mss: number, now: number): void {
    const rack = this.rack;
    if (rack === null) return;
    // A block counts with the range it merged into (blocks of earlier ACKs);
    // in sequence order, the order the segments were sent (§6.2 step 3).
    const merged = blocks
      ?.map((b): SackedBlock => {
        const r = this.scoreboard.rangeAround(b[0]) ?? b;
        return [b[0], b[1], r[0], r[1]];
      })
      .sort((x, y) => seqSub(x[0], y[0]));
    rack.onAck(ack, merged, now);
    // Linux tcp_sacktag_write_queue: not in the loss phase unless it may still be undone.
    if (rack.sackReordLow !== null && (this.phase !== 'loss' || this.undo.marker !== -1)) {
      this.raiseReordering(this.scoreboard.highestSacked(ack), rack.sackReordLow, mss, this.counters);
    }
    const dsack = blocks !== undefined && isDsack(blocks, ack) ? blocks[0]! : null;
    rack.onDsack(ack, sndNxt, dsack !== null);
    this.undo.onAck(dsack, mss, tsEcr, ts);
  }

  /** onAck with RACK: the recovery phases as before, losses from RACK_detect_loss (RFC 8985 §6.2 step 5). */
  private onAckRack(rack: Rack, p: Parameters<LossRecovery['onAck']>[0], counters: Counters): boolean {
    const { sndUna, sndNxt, now } = p;
    if (p.acked > 0) {
      this.dupAcks = 0;
      const sackedBefore = p.sackedBefore ?? this.scoreboard.sackedBytes;
      this.scoreboard.ackTo(sndUna);
      if (seqLt(this.highRxt, sndUna)) this.highRxt = sndUna;
      if (this.phase !== 'recovery') this.grow(p, sackedBefore);
      if (this.phase === 'loss' && !this.undo.echoBeforeRtx) this.frtoAck(p, this.origSacked(rack), now, counters); // Eifel first, as Linux
      if (this.phase === 'recovery' && seqLt(sndUna, this.recoveryPoint) && this.tryUndoPartial(rack, now, counters)) {
        return false; // Linux: no more losses marked or retransmissions on this ACK
      }
      if (this.phase !== 'open' && seqGe(sndUna, this.recoveryPoint)) {
        const episode = this.phase;
        if (episode === 'recovery') this.cc.onRecoveryExit(now);
        this.setPhase('open', episode === 'loss' ? EXIT_LOSS : EXIT_RECOVERY);
        rack.recoveryEnded();
        this.tryUndo(episode, now, counters); // Linux tcp_try_undo_recovery
      } else if (this.phase === 'loss' && this.undo.echoBeforeRtx) {
        this.tryUndo('loss', now, counters); // Eifel: the timeout was spurious (Linux tcp_try_undo_loss)
      }
    } else {
      if (p.duplicate) {
        this.dupAcks++;
        counters.inc('tcp_dup_acks');
        if (this.phase === 'open' && this.dupAcks < DUP_THRESH) counters.inc('tcp_limited_transmit_allowed');
      }
      // Linux tcp_may_raise_cwnd: once the path is known to reorder, a SACK alone grows cwnd too.
      if (this.phase !== 'recovery' && this.reordering > DUP_THRESH) this.grow(p, p.sackedBefore ?? this.scoreboard.sackedBytes, true);
      if (this.phase === 'loss') this.frtoAck(p, this.origSacked(rack), now, counters); // a SACK of data sent once counts too
    }
    // The last D-SACKs come after recovery ended (Linux tcp_try_undo_dsack).
    if (this.phase === 'open' && this.undo.allDsacked) this.tryUndo('recovery', now, counters);
    const newlyLost = rack.advanced ? this.rackDetect(rack, now, p.srtt ?? 0, counters) : 0;
    let started = false;
    if (this.phase === 'open' && rack.hasLost && seqLt(sndUna, sndNxt)) {
      this.enterRecovery(sndUna, sndNxt, p.flightSize - p.acked, p.mss, now, RACK_LOSS);
      counters.inc('tcp_fast_retransmits');
      started = true;
    }
    if (this.phase === 'recovery') {
      // RFC 6937: what this ACK delivered, ACKed or SACKed for the first time (Linux newly_acked_sacked).
      const delivered = p.dataAcked + this.scoreboard.sackedBytes - (p.sackedBefore ?? this.scoreboard.sackedBytes);
      this.prr.onAck(delivered, rack.pipe(), this.cc.ssthresh, p.mss, p.acked > 0, newlyLost > 0);
    }
    // One delivery-rate sample per ACK, in every phase (BBR sets cwnd from it).
    const rs = this.rate.generate(rack.minRtt === Infinity ? 0 : rack.minRtt);
    this.cc.onRateSample?.(rs, { now, inFlight: rack.pipe(), cwndLimited: this.cwndUsage.limited(this.cc.cwnd, this.cc.ssthresh), srtt: p.srtt ?? 0, rate: this.rate });
    return started;
  }

  /** RACK: the ACK delivered a segment sent only once, before step 2.b (Linux FLAG_ORIG_SACK_ACKED: end_seq not after high_seq). */
  private origSacked(rack: Rack): boolean {
    return rack.origDeliveredEnd !== null && seqLe(rack.origDeliveredEnd, this.recoveryPoint);
  }

  /** Without SACK: the cumulative ACK covers bytes sent only once, below the recovery point (RFC 5682 §2 step 3.b). */
  private origAcked(p: { sndUna: number; onceSentFrom?: number }): boolean {
    const from = p.onceSentFrom;
    return from !== undefined && seqGt(p.sndUna, from) && seqLt(from, this.recoveryPoint);
  }

  /** F-RTO's part of an ACK in the loss phase (RFC 5682 §2 / §4 steps 2 and 3, Linux tcp_process_loss). */
  private frtoAck(p: Parameters<LossRecovery['onAck']>[0], origDelivered: boolean, now: number, counters: Counters): void {
    if (!this.frto.active) return;
    const verdict = this.frto.onAck({
      sndUna: p.sndUna,
      sndNxt: p.sndNxt,
      recover: this.recoveryPoint,
      advanced: p.acked > 0,
      origDelivered,
      sackedOrDup: p.duplicate || this.scoreboard.sackedBytes > (p.sackedBefore ?? this.scoreboard.sackedBytes),
      newDataReady: p.newDataReady ?? false,
    });
    if (verdict === 'spurious') {
      this.tryUndo('loss', now, counters, true);
    } else if (verdict === 'newData') {
      this.recoveryPoint = p.sndNxt; // Linux high_seq = snd_nxt: the loss phase now covers the new data too
      this.onChange?.('loss', FRTO_NEW);
    }
  }

  /**
   * The episode's reduction was spurious (undo.ts): cwnd and ssthresh come
   * back; after a timeout the segments it marked lost are not (Linux
   * tcp_undo_cwnd_reduction with unmark_loss) and sending resumes in the open state.
   */
  private tryUndo(episode: RecoveryPhase, now: number, counters: Counters, frto = false): void {
    if (frto ? this.undo.marker === -1 : !this.undo.spurious) return;
    if (this.cc.undo === undefined) return;
    if (frto) counters.inc('tcp_frto_spurious');
    else counters.inc(this.undo.echoBeforeRtx ? 'tcp_undo_by_timestamp' : 'tcp_undo_by_dsack');
    counters.inc(episode === 'loss' ? 'tcp_undo_loss' : 'tcp_undo_recovery');
    this.onChange?.(episode === 'loss' ? 'open' : this.phase, frto ? UNDO_FRTO : this.undo.echoBeforeRtx ? UNDO_TS : UNDO_DSACK);
    this.cc.undo(this.undo.priorCwnd, this.undo.priorSsthresh, now);
    this.undo.end();
    if (episode === 'loss') {
      this.frto.end();
      this.rack?.unmarkLost();
      this.setPhase('open', UNDO_LOSS);
    }
  }

  /**
   * Linux tcp_try_undo_partial: a partial ACK in fast recovery echoes a
   * timestamp older than the episode's first retransmission (Eifel, RFC
   * 3522): a delayed original filled the hole, the path reorders more than
   * was thought. With retransmissions still in flight this ACK marks no more
   * losses (returns true); with none, the reduction is undone and recovery
   * ends at once instead of at the recovery point.
   */
  private tryUndoPartial(rack: Rack, now: number, counters: Counters): boolean {
    if (this.undo.marker === -1 || !this.undo.echoBeforeRtx || this.cc.undo === undefined) return false;
    if (rack.retransOut) return true;
    counters.inc('tcp_undo_partial');
    this.cc.onRecoveryExit(now);
    this.cc.undo(this.undo.priorCwnd, this.undo.priorSsthresh, now);
    this.undo.end();
    rack.unmarkLost(); // Linux tcp_undo_cwnd_reduction(sk, true)
    rack.recoveryEnded();
    this.setPhase('open', UNDO_PARTIAL); // Linux tcp_try_keep_open
    return false;
  }

  /** RFC 8985 §6.2 step 5 and the reorder timer (§6.3). */
  private rackDetect(rack: Rack, now: number, srtt: number, counters: Counters): number {
    const r = rack.detectLoss(now, rack.reoWnd(this.phase !== 'open', this.reordering, srtt));
    if (r.lost > 0) counters.inc('tcp_rack_lost', r.lost);
    if (r.lostRetrans > 0) counters.inc('tcp_rack_lost_retransmits', r.lostRetrans);
    this.reoTimerAt = r.timeout > 0 ? now + r.timeout : Infinity;
    return r.lost;
  }

  /**
   * RFC 8985 §6.3: the reorder timer fired: detect again (the segments it
   * waited for are now old enough); returns true when this starts recovery.
   */
  onReorderTimer(p: { sndUna: number; sndNxt: number; flightSize: number; mss: number; now: number; srtt: number }, counters: Counters): boolean {
    this.reoTimerAt = Infinity;
    const rack = this.rack;
    if (rack === null) return false;
    counters.inc('tcp_rack_reorder_timeouts');
    this.rackDetect(rack, p.now, p.srtt, counters);
    if (this.phase !== 'open' || !rack.hasLost || !seqLt(p.sndUna, p.sndNxt)) return false;
    this.enterRecovery(p.sndUna, p.sndNxt, p.flightSize, p.mss, p.now, RACK_TIMER);
    counters.inc('tcp_fast_retransmits');
    return true;
  }

  /** New data [seq, seq+len) went out (RACK remembers when). */
  sent(seq: number, len: number, mss: number, now: number): void {
    if (this.rack === null) return;
    this.rack.sent(seq, len, mss, now);
    this.prrSent(len);
  }

  private prrSent(len: number): void {
    if (this.phase !== 'recovery' || this.rack === null) return;
    this.prr.sent(len);
    this.counters.inc('tcp_prr_sends');
  }

  /** RFC 6675 §5 step 4 / RFC 6582 step 2. */
  private enterRecovery(sndUna: number, sndNxt: number, flightSize: number, mss: number, now: number, cause: string): void {
    this.setPhase('recovery', cause);
    this.recoveryPoint = sndNxt;
    this.highRxt = sndUna;
    const priorCwnd = this.cc.cwnd;
    // Without SACK too: a timeout within this recovery runs F-RTO, which undoes to this window (Linux tcp_init_undo).
    if ((this.rack !== null || !this.sackOk) && !this.cwndHeld) this.undo.start(sndUna, priorCwnd, this.cc.ssthresh);
    // RFC 5681 §3.2 step 2: segments sent by limited transmit do not count,
    // so FlightSize is capped by cwnd (Linux halves cwnd itself).
    // Not twice in one window: an ECN reduction of this window stands (Linux tcp_enter_recovery).
    if (!this.cwndHeld) this.cc.onCongestionEvent(Math.min(flightSize, this.cc.cwnd), now);
    // cwnd = ssthresh + 3*SMSS without SACK: the three segments that left the network.
    if (!this.sackOk) this.inflation = DUP_THRESH * mss;
    if (this.rack !== null) this.prr.start(priorCwnd, this.rack.pipe(), mss); // RFC 6937
    // RFC 6675 §5 (4.3) / RFC 6582 step 2: the first lost segment goes at once, whatever pipe says.
    this.retransmitHead = true;
  }

  /** RFC 6298 §5.5-5.6 with RFC 5681 §3.1: the retransmission timer expired. */
  onTimeout(sndUna: number, sndNxt: number, flightSize: number, now: number, repeated = false): void {
    // A new episode remembers the window; a timeout within one keeps the first (Linux tcp_enter_loss).
    // F-RTO runs SACK-enhanced with RACK (§4), basic without SACK (§2); not with SACK but RACK off.
    const frto = this.rack !== null || !this.sackOk;
    if (frto && this.phase === 'open') this.undo.start(sndUna, this.cc.cwnd, this.cc.ssthresh);
    this.frto.start(this.frtoEnabled && frto, this.phase === 'open', repeated); // RFC 5682 §2 / §4 step 1
    this.cc.onTimeout(flightSize, now);
    this.enterLoss(sndUna, sndNxt, now, true);
    // RFC 6675 §5.1 relaxes RFC 2018 §8: the scoreboard may be kept after a
    // timeout, and Linux keeps it, so what the peer already holds is not sent
    // again. A receiver that did drop SACKed data is caught by checkReneging.
  }

  /**
   * Everything unSACKed in flight counts as lost and is resent as the window
   * allows. After a timeout, and when the path MTU fell (RFC 1191): then the
   * segments were too large, not congested, and cwnd stays as it is (Linux
   * tcp_simple_retransmit).
   */
  enterLoss(sndUna: number, sndNxt: number, now = 0, timeout = false): void {
    // RACK: what the timer says is lost (Linux tcp_timeout_mark_lost), or all of it when the MTU fell.
    this.rack?.markLostOnTimeout(now, !timeout);
    this.reoTimerAt = Infinity;
    if (!timeout) this.frto.end();
    this.setPhase('loss', timeout ? TIMEOUT : MTU_FELL);
    this.recoveryPoint = sndNxt;
    this.highRxt = sndUna;
    this.dupAcks = 0;
    this.inflation = 0;
    this.retransmitHead = false;
  }

  /**
   * SACK reneging (RFC 2018 §8): a new cumulative ACK that stops at data the
   * receiver SACKed means it dropped that data (Linux prunes its
   * out-of-order queue under memory pressure). Its marks are then wrong, and
   * kept across a timeout (see onTimeout) they would keep those bytes from
   * ever being resent: forget them all, as Linux (tcp_check_sack_reneging)
   * does. Called before the ACK's own blocks are taken.
   */
  checkReneging(ack: number, counters: Counters): boolean {
    if (!this.scoreboard.isSacked(ack)) return false;
    this.scoreboard.clear();
    this.rack?.clearSacked();
    counters.inc('tcp_sack_reneging');
    return true;
  }

  /** RFC 6675 §4 IsLost(SeqNum); in the loss phase everything unSACKed below the recovery point is. */
  isLost(seq: number, mss: number): boolean {
    if (this.rack !== null) return this.rack.isLost(seq);
    if (this.phase === 'loss' && seqLt(seq, this.recoveryPoint)) return true;
    if (!this.sackOk) return false;
    const above = this.scoreboard.sackedAbove(seq);
    return above.ranges >= this.reordering || above.bytes > (this.reordering - 1) * mss;
  }

  /**
   * Called with a new cumulative ACK before its SACK blocks are taken. If it
   * fills the hole below data that was already SACKed, and that hole was never
   * retransmitted, the segment was late, not lost: its distance to the
   * highest SACKed byte is the path's reordering degree, and a DupThresh at
   * least that large avoids needless retransmissions from now on.
   */
  learnReordering(sndUna: number, ack: number, mss: number, counters: Counters): void {
    if (this.phase !== 'open' || this.scoreboard.isEmpty || seqLt(sndUna, this.highRxt)) return;
    if (!seqGt(ack, this.scoreboard.nextSackedAfter(sndUna, ack))) return; // the hole is still open
    this.raiseReordering(this.scoreboard.highestSacked(sndUna), sndUna, mss, counters);
  }

  /**
   * Data from `low` on arrived after data up to `fack` (the highest SACKed
   * byte): the path reorders by that many segments; DupThresh only grows
   * (Linux tcp_check_sack_reordering).
   */
  private raiseReordering(fack: number, low: number, mss: number, counters: Counters): void {
    const degree = Math.ceil(seqSub(fack, low) / mss);
    if (degree > this.reordering) {
      this.reordering = Math.min(MAX_REORDERING, degree);
      counters.inc('tcp_reordering_detected');
    }
  }

  /**
   * RFC 6675 §4 SetPipe: bytes still believed in the network, counted per
   * octet over the unSACKed gaps: one for every octet not deemed lost, one
   * more for every octet retransmitted (below HighRxt). Linear in the number
   * of SACKed ranges, so a peer cannot make it quadratic.
   */
  pipe(sndUna: number, sndNxt: number, mss: number): number {
    if (this.rack !== null) return this.rack.pipe();
    // Everything below `lostBelow` (and unSACKed) is lost.
    let lostBelow = sndUna;
    if (this.phase === 'loss') lostBelow = seqMin(this.recoveryPoint, sndNxt);
    else if (this.sackOk) lostBelow = this.scoreboard.lostBoundary(mss, this.reordering, sndUna);
    if (seqLt(lostBelow, sndUna)) lostBelow = sndUna;
    let pipe = 0;
    const highRxt = this.highRxt;
    this.scoreboard.forEachGap(sndUna, sndNxt, (x, y) => {
      if (seqLt(lostBelow, y)) pipe += seqSub(y, seqMax(x, lostBelow));
      if (seqLt(x, highRxt)) pipe += seqSub(seqMin(y, highRxt), x);
    });
    // Without SACK a duplicate ACK in the loss phase reports one segment sent
    // past the recovery point (F-RTO's new data) delivered (Linux tcp_add_reno_sack in tcp_process_loss).
    if (this.phase === 'loss' && !this.sackOk && this.dupAcks > 0 && seqGt(sndNxt, this.recoveryPoint)) {
      pipe -= Math.min(this.dupAcks * mss, seqSub(sndNxt, this.recoveryPoint));
    }
    return pipe;
  }

  /**
   * RFC 6675 §4 NextSeg rule (1): the first unSACKed, not yet retransmitted
   * segment that is lost. With `rescue`, rule (3): such a segment even if not
   * yet deemed lost (used when no new data can go out).
   */
  nextRetransmission(sndUna: number, sndNxt: number, mss: number, rescue: boolean): Retransmission | null {
    if (this.phase === 'open') return null;
    if (this.phase === 'recovery' && !this.sackOk) return null; // NewReno resends only the head
    if (this.frto.sendNew) return null; // RFC 5682 §4 step 2.b: new data instead
    if (this.rack !== null) {
      // RACK: the first segment marked lost and not resent since (a lost retransmission too);
      // no rescue retransmission (Linux has none: the tail is the probe's and RACK's).
      const l = rescue ? null : this.rack.nextLost(sndUna);
      if (l === null) return null;
      let s = this.scoreboard.skipSacked(l.start);
      if (!seqLt(s, l.end)) s = l.start;
      const end = seqMin(seqMin(seqAdd(s, mss), l.end), this.scoreboard.nextSackedAfter(s, l.end));
      return { seq: s, len: seqSub(end, s) };
    }
    const s = this.scoreboard.skipSacked(seqMax(this.highRxt, sndUna));
    const limit = this.phase === 'loss' ? seqMin(this.recoveryPoint, sndNxt) : this.scoreboard.highestSacked(sndUna);
    if (!seqLt(s, limit)) return null;
    if (!rescue && !this.isLost(s, mss)) return null;
    const end = seqMin(seqAdd(s, mss), this.scoreboard.nextSackedAfter(s, limit));
    return { seq: s, len: seqSub(end, s) };
  }

  /**
   * The segment that goes at once when recovery starts (RFC 6675 §5 (4.3),
   * RFC 6582 step 2): the one at SND.UNA up to the next SACKed range, or
   * with RACK the first one it marked lost and not yet resent, or none:
   * recovery can start again while every lost segment's retransmission is
   * still in flight (they keep their lost marks), and a copy of SND.UNA
   * then is needless, and worse: the ACK of the copy before it, taken for
   * the new one's, moves RACK.xmit_ts ahead and the whole flight is marked
   * lost (Linux tcp_xmit_retransmit_queue skips such segments too).
   */
  headRetransmission(sndUna: number, sndNxt: number, mss: number): Retransmission | null {
    if (this.rack !== null) return this.nextRetransmission(sndUna, sndNxt, mss, false);
    const end = this.scoreboard.nextSackedAfter(sndUna, sndNxt);
    return seqLt(sndUna, end) ? { seq: sndUna, len: Math.min(mss, seqSub(end, sndUna)) } : null;
  }

  /** A retransmission of [seq, seq+len) went out. */
  retransmitted(seq: number, len: number, now = 0): void {
    this.rack?.retransmitted(seq, len, now);
    this.undo.retransmitted(now);
    this.prrSent(len);
    const end = seqAdd(seq, len);
    if (seqGt(end, this.highRxt)) this.highRxt = end;
  }

  reset(): void {
    this.phase = 'open';
    this.frto.end();
    this.dupAcks = 0;
    this.inflation = 0;
    this.retransmitHead = false;
    this.scoreboard.clear();
    this.rack?.clear();
    this.reoTimerAt = Infinity;
  }
}

