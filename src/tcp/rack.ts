/**
 * RACK, time-based loss detection (RFC 8985 §6), as Linux's tcp_recovery.c
 * does it (tcp_recovery=1, the default). Each segment remembers when it was
 * last sent; an ACK that delivers a segment (cumulatively or by SACK) tells
 * that everything sent sufficiently before it should have arrived too: a
 * segment sent RACK.rtt + RACK.reo_wnd before the most recently delivered
 * one and still not delivered is lost. What is not yet old enough gets the
 * reorder timer (a deadline; sender.ts reports it, nothing here runs timers).
 *
 * This is also the per-segment scoreboard of RACK mode (Linux's skb flags):
 * SACKed, lost (awaiting retransmission) and retransmitted-in-flight per
 * segment, so a lost retransmission can be found and sent again, and pipe
 * (RFC 6675 §4) is Linux's packets_in_flight in bytes:
 * out - SACKed - lost + retransmitted. The byte ranges reported by the peer
 * stay in sack.ts; a segment counts as SACKed only when a block covers it
 * whole (Linux splits at MSS multiples only; ours are at most one MSS).
 *
 * Cost: segments are at most one MSS and only those in flight are kept
 * (bounded by the send buffer); detection walks them in sequence order and
 * stops at the first original transmission sent after RACK.xmit_ts, and runs
 * only when an ACK delivered something (RACK.advanced) or the timer fired.
 */
import { seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from '../wire/seq.js';
import { DeliveryRate, type RateStamp } from './rate-sample.js';

/**
 * One segment as sent (RFC 8985 §6.1: Segment.xmit_ts, end_seq, retransmitted, lost),
 * with its delivery-rate stamp (rate-sample.ts).
 */
interface SentSegment extends RateStamp {
  start: number;
  end: number;
  /** Time of the latest (re)transmission. */
  xmitTs: number;
  /** Sent more than once (RFC 8985 Segment.retransmitted). */
  retransmitted: boolean;
  /** Deemed lost and not yet retransmitted since (Linux TCPCB_LOST without SACKED_RETRANS). */
  lost: boolean;
  /** A retransmission of it is in flight (Linux TCPCB_SACKED_RETRANS). */
  rtxOut: boolean;
  sacked: boolean;
}

/** RFC 8985 §6.2 step 4: reo_wnd_persist, recoveries a grown window outlives. */
const REO_WND_PERSIST = 16;

/** A SACK block [left, right) and the SACKed range [lo, hi) it now belongs to. */
export type SackedBlock = readonly [left: number, right: number, lo: number, hi: number];

export class Rack {
  /** Delivery rate estimation: every segment sent, delivered or lost here is told to it. */
  constructor(readonly rate = new DeliveryRate()) {}

  /** Segments in flight, in sequence order, from index `head` on. */
  private segs: SentSegment[] = [];
  private head = 0;
  /** Bytes (sequence space) of the kept segments, and of those SACKed, lost, retransmitted in flight. */
  private outBytes = 0;
  private sackedBytes = 0;
  private lostBytes = 0;
  private rtxBytes = 0;
  /** The same marks counted in segments (Linux lost_out, retrans_out; packets_out is segs.length - head). */
  private lostSegs = 0;
  private rtxSegs = 0;
  /** RACK.segs_sacked. */
  segsSacked = 0;

  /** RACK.xmit_ts, RACK.end_seq: the most recently sent segment that was delivered. */
  xmitTs = -Infinity;
  endSeq = 0;
  /** RACK.rtt: the RTT of that segment. */
  rtt = 0;
  /** RACK.min_RTT (Linux tcp_min_rtt; here over the connection's life). */
  minRtt = Infinity;
  /** RACK.fack: the highest end_seq delivered. */
  fack = 0;
  private fackSet = false;
  /** RACK.reord: the peer was seen to deliver out of order. */
  reord = false;
  /** How often an ACK showed reordering: once for its cumulative part, once for its SACK blocks
   * (Linux reord_seen, counted per tcp_check_sack_reordering call; TCP_INFO tcpi_reord_seen). */
  reordSeen = 0;
  private reordThisPart = false;
  /** The lowest start of a segment sent once that the last ACK's SACK blocks delivered below
   * RACK.fack, or null (Linux tcp_sacktag_one state->reord; recovery.ts learns the degree from it). */
  sackReordLow: number | null = null;
  private inSackPart = false;
  /** RACK.reo_wnd_mult, reo_wnd_persist, dsack_round (-1: none). */
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound = -1;
  /** Send time of the latest never-retransmitted segment the last ACK delivered, and that ACK's time. */
  private caXmitTs = -Infinity;
  private caNow = 0;

  /**
   * The RTT sample congestion control gets from the last ACK (Linux ca_rtt_us:
   * the most recently sent segment it delivered that was sent once), from the
   * send times kept here, so with or without timestamps every ACK has one;
   * undefined when it delivered only retransmissions.
   */
  get caRtt(): number | undefined {
    return this.caXmitTs === -Infinity ? undefined : this.caNow - this.caXmitTs;
  }

  /** Something was delivered since the last detection (Linux rack.advanced). */
  advanced = false;
  /**
   * The lowest end of a segment sent only once that the last ACK delivered,
   * or null (F-RTO, frto.ts: Linux FLAG_ORIG_SACK_ACKED compares it with high_seq).
   */
  origDeliveredEnd: number | null = null;

  /** Bytes in flight by the per-segment marks (RFC 6675 pipe, Linux packets_in_flight). */
  pipe(): number {
    return this.outBytes - this.sackedBytes - this.lostBytes + this.rtxBytes;
  }

  /**
   * Segments in flight (Linux tcp_packets_in_flight: packets_out - sacked_out -
   * lost_out + retrans_out), for a window counted in packets as Linux's is.
   */
  pipePackets(): number {
    return this.segs.length - this.head - this.segsSacked - this.lostSegs + this.rtxSegs;
  }

  get hasLost(): boolean {
    return this.lostBytes > 0;
  }

  /** A retransmission is in flight, neither acknowledged nor SACKed (Linux tp->retrans_out). */
  get retransOut(): boolean {
    return this.rtxBytes > 0;
  }

  /** Segments marked lost and not since SACKed (Linux lost_out, TCP_INFO tcpi_lost): linear, for reports only. */
  lostCount(): number {
    let n = 0;
    for (let i = this.head; i < this.segs.length; i++) if (this.segs[i]!.lost) n++;
    return n;
  }

  /** Segments whose retransmission is in flight (Linux retrans_out, tcpi_retrans): linear, for reports only. */
  retransCount(): number {
    let n = 0;
    for (let i = this.head; i < this.segs.length; i++) if (this.segs[i]!.rtxOut) n++;
    return n;
  }

  /** New data [start, start+len) went out at `now` (FIN included in len): one entry per MSS. */
  sent(start: number, len: number, mss: number, now: number): void {
    const last = this.segs.length > this.head ? this.segs[this.segs.length - 1]! : null;
    if (last !== null && seqLt(start, last.end)) return; // never: new data is at SND.NXT
    let s = start;
    let left = len;
    while (left > 0) {
      const n = Math.min(left, mss);
      const e: SentSegment = { start: s, end: (s + n) >>> 0, xmitTs: now, retransmitted: false, lost: false, rtxOut: false, sacked: false, rsDelivered: 0, rsDeliveredTime: 0, rsFirstSendTime: 0, rsAppLimited: false, rsTxInFlight: 0, rsLost: 0 };
      const flightEmpty = this.outBytes === 0;
      this.segs.push(e);
      this.outBytes += n;
      this.rate.stamp(e, now, flightEmpty, this.pipe());
      s = (s + n) >>> 0;
      left -= n;
    }
  }

  /** [start, start+len) was sent again at `now`. */
  retransmitted(start: number, len: number, now: number): void {
    const end = (start + len) >>> 0;
    for (let i = this.indexAfter(start); i < this.segs.length; i++) {
      let e = this.segs[i]!;
      if (!seqLt(e.start, end)) break;
      if (seqLt(end, e.end)) e = this.split(i, end); // a shorter resend (a smaller MSS, a SACKed edge)
      if (e.sacked) continue;
      e.xmitTs = now;
      e.retransmitted = true;
      if (!e.rtxOut) {
        e.rtxOut = true;
        this.rtxBytes += seqSub(e.end, e.start);
        this.rtxSegs++;
      }
      this.rate.stamp(e, now, false, this.pipe());
    }
  }

  /** Cut segment i at `at`; returns the first part (the second keeps the marks too). */
  private split(i: number, at: number): SentSegment {
    const e = this.segs[i]!;
    const tail: SentSegment = { ...e, start: at };
    e.end = at;
    this.segs.splice(i + 1, 0, tail);
    // The tail is one more segment with the same marks.
    if (e.sacked) this.segsSacked++;
    if (e.lost) this.lostSegs++;
    if (e.rtxOut) this.rtxSegs++;
    return e;
  }

  /** First index whose segment ends after `seq` (binary search). */
  private indexAfter(seq: number): number {
    let lo = this.head;
    let hi = this.segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqLe(this.segs[mid]!.end, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether the segment holding `seq` is marked lost. */
  isLost(seq: number): boolean {
    const i = this.indexAfter(seq);
    const e = this.segs[i];
    return e !== undefined && seqLe(e.start, seq) && e.lost;
  }

  /**
   * One ACK (RFC 8985 §6.2 steps 1-3): the cumulative `ack`, its SACK
   * `blocks` in sequence order (already checked to lie within [SND.UNA,
   * SND.NXT]), each with the scoreboard range it merged into. Every
   * segment newly delivered updates RACK.
   */
  onAck(ack: number, blocks: ReadonlyArray<SackedBlock> | undefined, now: number): void {
    this.origDeliveredEnd = null;
    this.sackReordLow = null;
    this.inSackPart = false;
    this.caXmitTs = -Infinity;
    this.caNow = now;
    // Cumulatively acknowledged segments leave; those not SACKed before were delivered now.
    while (this.head < this.segs.length) {
      const e = this.segs[this.head]!;
      if (!seqLt(e.start, ack)) break;
      if (seqLt(ack, e.end)) {
        // Partly acknowledged: keep the rest (its marks stay).
        const cut = seqSub(ack, e.start);
        this.dropBytes(e, cut);
        e.start = ack;
        if (!e.sacked) this.delivered(e, cut, now);
        break;
      }
      if (!e.sacked) this.delivered(e, seqSub(e.end, e.start), now);
      this.dropBytes(e, seqSub(e.end, e.start));
      if (e.sacked) this.segsSacked--;
      if (e.lost) this.lostSegs--;
      if (e.rtxOut) this.rtxSegs--;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.segs.length) {
      this.segs = this.segs.slice(this.head);
      this.head = 0;
    }
    this.countReordering();
    if (blocks === undefined) return;
    this.inSackPart = true;
    for (const [left, right, lo, hi] of blocks) {
      if (!seqLt(left, right) || seqLe(right, ack)) continue;
      // A segment this ACK newly covers overlaps its block (the range around
      // it was SACKed before): only those are looked at, not the whole range,
      // so an ACK costs the block's segments however long the SACKed run is.
      for (let i = this.indexAfter(left); i < this.segs.length; i++) {
        const e = this.segs[i]!;
        if (!seqLt(e.start, right)) break;
        if (e.sacked || seqLt(e.start, lo) || seqGt(e.end, hi)) continue;
        e.sacked = true;
        this.segsSacked++;
        const len = seqSub(e.end, e.start);
        this.sackedBytes += len;
        if (e.lost) {
          this.lostBytes -= len;
          this.lostSegs--;
        }
        if (e.rtxOut) {
          this.rtxBytes -= len;
          this.rtxSegs--;
        }
        e.lost = e.rtxOut = false;
        this.delivered(e, len, now);
      }
    }
    this.countReordering();
  }

  private countReordering(): void {
    if (this.reordThisPart) this.reordSeen++;
    this.reordThisPart = false;
  }

  /** `n` bytes of segment `e` were cumulatively acknowledged. */
  private dropBytes(e: SentSegment, n: number): void {
    this.outBytes -= n;
    if (e.sacked) this.sackedBytes -= n;
    if (e.lost) this.lostBytes -= n;
    if (e.rtxOut) this.rtxBytes -= n;
  }

  /**
   * RFC 8985 §6.2 steps 2 and 3 for one newly delivered segment.
   * A retransmitted segment delivered sooner than min_RTT was the original's
   * ACK and says nothing of the retransmission. The RFC also drops it when
   * the ACK echoes a TSval older than the retransmission; Linux does not,
   * and rightly: an RFC 7323 receiver echoes the TSval of the segment that
   * last advanced RCV.NXT, so while a hole stays open every SACKed
   * retransmission would be refused and RACK could not see a lost one.
   * RACK.rtt is the RTT of the segment that becomes RACK.xmit_ts (§6.1:
   * "the most recently sent segment that has been delivered"): the RFC gets
   * that by walking in send order, we walk in sequence order, and a segment
   * sent long ago and acknowledged only now would otherwise leave a stale,
   * huge RACK.rtt. `bytes` of it were delivered (rate-sample.ts counts them).
   */
  private delivered(e: SentSegment, bytes: number, now: number): void {
    if (!e.retransmitted && e.xmitTs > this.caXmitTs) this.caXmitTs = e.xmitTs;
    this.rate.onDelivered(e, bytes, e.xmitTs, e.retransmitted, now);
    if (!e.retransmitted && (this.origDeliveredEnd === null || seqLt(e.end, this.origDeliveredEnd))) this.origDeliveredEnd = e.end;
    const rtt = now - e.xmitTs;
    if (e.retransmitted && rtt < this.minRtt) return;
    this.advanced = true;
    if (rtt < this.minRtt) this.minRtt = rtt; // Step 1
    if (this.sentAfter(e.xmitTs, e.end, this.xmitTs, this.endSeq)) {
      this.xmitTs = e.xmitTs;
      this.endSeq = e.end;
      this.rtt = rtt;
    }
    // Step 3: a segment delivered below RACK.fack that was sent once arrived out of order.
    if (!this.fackSet || seqGt(e.end, this.fack)) {
      this.fack = e.end;
      this.fackSet = true;
    } else if (seqLt(e.end, this.fack) && !e.retransmitted) {
      this.reord = true;
      this.reordThisPart = true;
      if (this.inSackPart && (this.sackReordLow === null || seqLt(e.start, this.sackReordLow))) this.sackReordLow = e.start;
    }
  }

  /** RFC 8985 RACK_sent_after(t1, seq1, t2, seq2). */
  private sentAfter(t1: number, seq1: number, t2: number, seq2: number): boolean {
    return t1 > t2 || (t1 === t2 && seqGt(seq1, seq2));
  }

  /**
   * RFC 8985 §6.2 step 4, the D-SACK part: one step more of reordering
   * window per round trip that brought a D-SACK; the step count returns to
   * 1 after REO_WND_PERSIST recoveries without one.
   */
  onDsack(sndUna: number, sndNxt: number, dsack: boolean): void {
    if (this.dsackRound !== -1 && seqGe(sndUna, this.dsackRound)) this.dsackRound = -1;
    if (this.dsackRound === -1 && dsack) {
      this.dsackRound = sndNxt;
      this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /** RFC 8985 §6.2 step 4: fast or RTO recovery ended. */
  recoveryEnded(): void {
    if (--this.reoWndPersist <= 0) this.reoWndMult = 1;
  }

  /**
   * RFC 8985 §6.2 step 4: RACK.reo_wnd. Without reordering seen, none in
   * recovery or once DupThresh segments are SACKed (so RACK covers the
   * classic three duplicate ACKs); else min_RTT/4 per step, at most SRTT.
   */
  reoWnd(inRecovery: boolean, dupThresh: number, srtt: number): number {
    if (!this.reord && (inRecovery || this.segsSacked >= dupThresh)) return 0;
    const minRtt = this.minRtt === Infinity ? srtt : this.minRtt;
    return Math.min((this.reoWndMult * minRtt) / 4, srtt);
  }

  /**
   * RFC 8985 §6.2 step 5, RACK_detect_loss: mark lost every segment sent
   * before RACK.xmit_ts whose time (RACK.rtt + reo_wnd) has passed; a lost
   * retransmission is marked lost again. Returns the segments newly marked and
   * how long until the next one could be (0: none), for the reorder timer.
   */
  detectLoss(now: number, reoWnd: number): { lost: number; lostRetrans: number; timeout: number } {
    this.advanced = false;
    let lost = 0;
    let lostRetrans = 0;
    let timeout = 0;
    for (let i = this.head; i < this.segs.length; i++) {
      const e = this.segs[i]!;
      if (e.sacked || (e.lost && !e.rtxOut)) continue;
      if (!this.sentAfter(this.xmitTs, this.endSeq, e.xmitTs, e.end)) {
        // Originals are in sending order, and every later segment was (re)sent after this one.
        if (!e.retransmitted) break;
        continue;
      }
      const remaining = e.xmitTs + this.rtt + reoWnd - now;
      if (remaining > 0) {
        timeout = Math.max(timeout, remaining);
        continue;
      }
      const len = seqSub(e.end, e.start);
      if (e.rtxOut) {
        e.rtxOut = false;
        this.rtxBytes -= len;
        this.rtxSegs--;
        lostRetrans++;
      }
      if (!e.lost) {
        e.lost = true;
        this.lostBytes += len;
        this.lostSegs++;
      }
      this.rate.onLost(len);
      lost++;
    }
    return { lost, lostRetrans, timeout };
  }

  /**
   * The retransmission timer fired (Linux tcp_timeout_mark_lost): the first
   * segment and every segment sent at least RACK.rtt ago is lost; those sent
   * more recently may still arrive. `all`: every unSACKed one (the path MTU fell).
   */
  markLostOnTimeout(now: number, all: boolean): void {
    let first = true;
    for (let i = this.head; i < this.segs.length; i++) {
      const e = this.segs[i]!;
      if (e.sacked) continue;
      const len = seqSub(e.end, e.start);
      if (all || first || e.xmitTs + this.rtt <= now) {
        if (e.rtxOut) {
          this.rtxBytes -= len;
          this.rtxSegs--;
        }
        if (!e.lost) {
          this.lostBytes += len;
          this.lostSegs++;
          this.rate.onLost(len);
        }
        e.lost = true;
        e.rtxOut = false;
      }
      first = false;
    }
  }

  /** The first lost segment not yet retransmitted, from `from` on: [start, end), or null. */
  nextLost(from: number): { start: number; end: number } | null {
    if (this.lostBytes === 0) return null;
    for (let i = this.indexAfter(from); i < this.segs.length; i++) {
      const e = this.segs[i]!;
      if (e.lost && !e.rtxOut && !e.sacked) return { start: seqMax(e.start, from), end: e.end };
    }
    return null;
  }

  /** A timeout proved spurious: no segment counts as lost any more (retransmissions in flight stay). */
  unmarkLost(): void {
    for (let i = this.head; i < this.segs.length; i++) this.segs[i]!.lost = false;
    this.lostBytes = 0;
    this.lostSegs = 0;
  }

  /** The receiver reneged (RFC 2018 §8): no segment counts as SACKed any more. */
  clearSacked(): void {
    for (let i = this.head; i < this.segs.length; i++) this.segs[i]!.sacked = false;
    this.sackedBytes = 0;
    this.segsSacked = 0;
  }

  clear(): void {
    this.segs = [];
    this.head = 0;
    this.outBytes = this.sackedBytes = this.lostBytes = this.rtxBytes = 0;
    this.segsSacked = this.lostSegs = this.rtxSegs = 0;
  }

  /** For tests: the segments as [start, end, flags] with flags from 'S' (SACKed), 'L' (lost), 'R' (retransmission in flight). */
  toArray(): Array<[number, number, string]> {
    return this.segs.slice(this.head).map((e) => [e.start, e.end, `${e.sacked ? 'S' : ''}${e.lost ? 'L' : ''}${e.rtxOut ? 'R' : ''}`]);
  }
}
