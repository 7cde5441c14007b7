/**
 * The interface between the sender and a congestion control algorithm
 * (RFC 5681 terms). The sender owns loss detection and recovery (fast
 * retransmit, SACK, RTO); the algorithm only decides the window: how it grows
 * on ACKs and how far it falls on each kind of congestion signal. One
 * algorithm per file: newreno.ts (RFC 5681/6582), cubic.ts (RFC 9438),
 * bbr.ts (draft-ietf-ccwg-bbr).
 */
import type { DeliveryRate, RateSample } from '../rate-sample.js';

export interface CongestionControl {
  readonly name: 'newreno' | 'cubic' | 'bbr';
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow start threshold in bytes. */
  readonly ssthresh: number;
  /** The sender learned its MSS (after the handshake). */
  setMss(mss: number): void;
  /**
   * New data was cumulatively acknowledged outside loss recovery.
   * `acked` bytes; `cwndLimited` when the sender used its window
   * (cwnd-usage.ts, Linux tcp_is_cwnd_limited): otherwise cwnd must not grow
   * (RFC 7661 §4.3); `rtt` the latest RTT sample in ms if this ACK gave one.
   */
  onAck(acked: number, cwndLimited: boolean, now: number, rtt?: number, seq?: AckSeq): void;
  /**
   * Loss detected by duplicate ACKs or SACK: entering fast recovery (RFC 5681
   * §3.2 step 2, RFC 6675 §5, RFC 9438 §4.6). Sets ssthresh and cwnd.
   */
  onCongestionEvent(inFlight: number, now: number): void;
  /** Fast recovery ended (RFC 6582 §3.2 step 3): cwnd deflates to ssthresh. */
  onRecoveryExit(now: number): void;
  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4; cwnd = 1 SMSS). */
  onTimeout(inFlight: number, now: number): void;
  /** Sending resumes after an idle period longer than one RTO (RFC 5681 §4.1). */
  onIdleRestart(now: number): void;
  /**
   * A reduction proved spurious (tcp/undo.ts): cwnd and ssthresh go back
   * to at least what they were before it (Linux undo_cwnd). Optional: an
   * algorithm without it is never undone.
   */
  undo?(priorCwnd: number, priorSsthresh: number, now: number): void;
  /**
   * Model-based control (BBR): one delivery-rate sample per ACK
   * (rate-sample.ts), in recovery too; the algorithm then sets cwnd itself,
   * so PRR does not apply (Linux's cong_control hook). Optional: CUBIC and
   * NewReno do without.
   */
  onRateSample?(rs: RateSample, c: RateContext): void;
  /**
   * cwnd also caps the segments in flight at cwnd/MSS, whatever their size, as
   * Linux's cwnd counts packets (tcp_cwnd_test). BBR sets it: its model is in
   * bytes, and tiny segments would otherwise fill a byte window by thousands.
   */
  readonly cwndInPackets?: boolean;
  /** Windows of segments the send buffer holds (Linux ca_ops->sndbuf_expand; absent: 2). */
  readonly sndBufWindows?: number;
  /** Its own pacing rate in bytes per ms (BBR; 0: none yet); absent: pacing.ts derives one from cwnd if configured. */
  readonly pacingRate?: number;
}

/** What an algorithm sees beside the rate sample. */
export interface RateContext {
  now: number;
  /** Bytes in flight after the ACK (RFC 6675 pipe). */
  inFlight: number;
  /** The sender used its window (cwnd-usage.ts). */
  cwndLimited: boolean;
  srtt: number;
  /** The connection's delivery counters (C.delivered), and app-limited marking. */
  rate: DeliveryRate;
}

/** Where the ACK leaves the sequence space: rounds are counted by it (RFC 9406 §4.2 windowEnd). */
export interface AckSeq {
  sndUna: number;
  sndNxt: number;
}

/** Where an algorithm reports what it did: counters (netstat -s) and notes (--explain). */
export interface CongestionObserver {
  inc(name: string): void;
  /** A change of the algorithm's own state worth explaining, with its cause and RFC rule. */
  note(cause: string): void;
}

export const NO_OBSERVER: CongestionObserver = { inc() {}, note() {} };

/** RFC 5681 §3.1 initial window; Linux uses 10 segments (RFC 6928), or the route's initcwnd. */
export function initialWindow(mss: number, segments = 10): number {
  return segments * mss;
}
