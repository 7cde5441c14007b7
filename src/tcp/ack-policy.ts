/**
 * When the receiver acknowledges, decided as Linux does where RFC 9293
 * §3.8.6.3, RFC 5681 §4.2 and RFC 1122 §4.2.3.2 leave room:
 *
 *  - rcv_mss: the size of the segments the peer really sends, learned from
 *    in-order data (Linux tcp_measure_rcv_mss), so "an ACK for every second
 *    full-sized segment" holds for a peer that sends less than our MSS.
 *  - delayed ACK: an ACK at once when more than one rcv_mss is unacknowledged
 *    (Linux __tcp_ack_snd_check: RCV.NXT - rcv_wup > rcv_mss), else within
 *    the delayed-ACK timeout.
 *  - quick ACKs: at the first data of a connection, after an idle gap longer
 *    than the RTO, and after a duplicate or out-of-window data segment (the
 *    peer retransmitted: our ACK was lost or late), every data segment is
 *    ACKed at once, for up to rcv_wnd / (2 rcv_mss) ACKs and at most 16
 *    (tcp_incr_quickack, tcp_enter_quickack_mode, TCP_MAX_QUICKACKS): a
 *    slow-starting sender is not kept waiting for the timer.
 *  - pingpong (interactive) mode: once we send data within the delayed-ACK
 *    timeout of data arriving, ACKs ride on the replies instead of leaving at
 *    once (tcp_event_data_sent, inet_csk_in_pingpong_mode); a delayed-ACK
 *    timeout or a quick-ACK event ends it.
 *  - out-of-window ACKs: the duplicate ACK answering an unacceptable or
 *    PAWS-rejected segment without data (or with SYN) leaves at most once
 *    per 500 ms (tcp_oow_rate_limited, sysctl tcp_invalid_ratelimit), so
 *    two confused ends cannot ping-pong ACKs forever and a flood of bogus
 *    ACKs is not answered one for one.
 *
 * Not modelled: Linux's adaptive delayed-ACK timeout (ato; ours is fixed at
 * cfg.delayedAck, Linux's minimum), the ACK that tcp_cleanup_rbuf sends when
 * the application reads a small pushed segment, and SACK compression.
 */
import { TCP_FIN, TCP_PSH, TCP_SYN, TCP_URG } from '../wire/tcp.js';
import { DEFAULT_PEER_MSS } from './config.js';

/** Smallest MSS Linux believes (TCP_MIN_MSS). */
const MIN_MSS = 88;
/** Bare TCP header: what a segment carries beside its payload and options. */
const TCP_HEADER = 20;
/** Flags that mark the last segment of a write, or no data segment at all (Linux TCP_REMNANT). */
const REMNANT = TCP_FIN | TCP_URG | TCP_SYN | TCP_PSH;
/** Replies that make a connection interactive (Linux sysctl tcp_pingpong_thresh). */
const PINGPONG_THRESH = 1;

export class AckPolicy {
  /** Estimated size of the peer's full-sized segments (Linux icsk_ack.rcv_mss). */
  rcvMss = DEFAULT_PEER_MSS;
  /** Payload of the last segment that looked full-sized but was below rcvMss (Linux last_seg_size). */
  private lastSegSize = 0;
  /** Data segments still to be ACKed at once (Linux icsk_ack.quick). */
  quick = 0;
  /** Replies sent soon after data arrived (Linux icsk_ack.pingpong). */
  pingpong = 0;
  /** Received data or a FIN is waiting for its ACK (Linux ICSK_ACK_SCHED). */
  scheduled = false;
  /** When in-order data last arrived; null before the first (Linux lrcvtime, ato = 0). */
  private lastDataAt: number | null = null;
  /** When the last rate-limited out-of-window ACK left (Linux last_oow_ack_time). */
  private lastOowAckAt = -Infinity;

  /** @param maxQuick most quick ACKs at a time (TCP_MAX_QUICKACKS = 16). */
  constructor(private readonly maxQuick: number) {}

  /**
   * Linux tcp_initialize_rcv_mss, once the handshake gave both MSS values:
   * better to guess low (an ACK too many) than high (ACKs too rare), so at
   * most 536 until segments show more.
   */
  initRcvMss(advMss: number, sndMss: number, rcvWnd: number): void {
    this.rcvMss = Math.max(MIN_MSS, Math.min(advMss, sndMss, rcvWnd >> 1, DEFAULT_PEER_MSS));
  }

  /**
   * Linux tcp_measure_rcv_mss. A segment at least as large as the estimate
   * raises it (to at most `advMss`, what we offered; a super-segment from an
   * offloading link counts as that). A smaller one lowers it only if it
   * looks full-sized (at least 536 bytes with the header, or at least 88
   * without PSH/FIN/URG/SYN, which end a write) and the one before it had
   * the same size: SACK blocks make single segments vary.
   * `fixedHeader` is the header every segment carries (20, or 32 with
   * timestamps), `headerLen` this segment's.
   */
  private measure(len: number, headerLen: number, flags: number, advMss: number, fixedHeader: number): void {
    const lss = this.lastSegSize;
    this.lastSegSize = 0;
    if (len >= this.rcvMss) {
      this.rcvMss = Math.min(len, advMss);
      return;
    }
    const whole = len + headerLen;
    if (whole >= DEFAULT_PEER_MSS + TCP_HEADER || (whole >= MIN_MSS + TCP_HEADER && !(flags & REMNANT))) {
      const size = whole - fixedHeader;
      this.lastSegSize = size;
      if (size === lss) this.rcvMss = size;
    }
  }

  /**
   * Linux tcp_event_data_recv: in-order data arrived. The first data of the
   * connection, and data after a silence longer than the RTO (the sender
   * restarts from a small window), start quick ACKs.
   */
  onData(len: number, headerLen: number, flags: number, advMss: number, fixedHeader: number, rcvWnd: number, rto: number, now: number): void {
    this.scheduled = true;
    this.measure(len, headerLen, flags, advMss, fixedHeader);
    if (this.lastDataAt === null || now - this.lastDataAt > rto) this.incrQuick(rcvWnd);
    this.lastDataAt = now;
  }

  /** When in-order data last arrived, or null (TCP_INFO tcpi_last_data_recv). */
  get lastDataTime(): number | null {
    return this.lastDataAt;
  }

  /** Linux tcp_incr_quickack: enough quick ACKs for half the window, at least 2 if it is tiny, at most maxQuick. */
  private incrQuick(rcvWnd: number, max = this.maxQuick): void {
    let n = Math.floor(rcvWnd / (2 * this.rcvMss));
    if (n === 0) n = 2;
    n = Math.min(n, max);
    if (n > this.quick) this.quick = n;
  }

  /** Linux tcp_enter_quickack_mode: the peer retransmitted or probes; ACK every segment for a while. */
  enterQuickAck(rcvWnd: number, max = this.maxQuick): void {
    this.incrQuick(rcvWnd, max);
    this.pingpong = 0;
  }

  /** Linux tcp_in_quickack_mode. */
  get inQuickAck(): boolean {
    return this.quick > 0 && this.pingpong < PINGPONG_THRESH;
  }

  /** Linux tcp_event_ack_sent / tcp_dec_quickack_mode: an ACK left (alone or on data). */
  ackSent(): void {
    if (this.scheduled && this.quick > 0) this.quick--;
    this.scheduled = false;
  }

  /** Linux tcp_event_data_sent: data sent within the delayed-ACK timeout of data received is a reply. */
  dataSent(now: number, ato: number): void {
    if (this.lastDataAt !== null && now - this.lastDataAt < ato && this.pingpong < 255) this.pingpong++;
  }

  /** Linux tcp_delack_timer_handler: the delayed ACK had to wait for the timer, so no reply is coming. */
  delayedAckFired(): void {
    if (this.pingpong >= PINGPONG_THRESH) this.pingpong = 0;
  }

  /**
   * Linux tcp_oow_rate_limited: true when the duplicate ACK for an
   * out-of-window (or PAWS-rejected) segment must be skipped. Segments with
   * data and without SYN are always answered: they are not part of an ACK loop.
   */
  oowRateLimited(segLen: number, syn: boolean, interval: number, now: number): boolean {
    if (segLen > 0 && !syn) return false;
    const elapsed = now - this.lastOowAckAt;
    if (elapsed >= 0 && elapsed < interval) return true;
    this.lastOowAckAt = now;
    return false;
  }
}
