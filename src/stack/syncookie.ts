/**
 * SYN cookies (RFC 4987 §3.6), as Linux sends them with tcp_syncookies=1:
 * when a listener's SYN queue is full, a SYN is answered with a SYN,ACK whose
 * ISN encodes what the connection will need, and nothing is kept. An ACK that
 * matches no connection but carries a valid cookie (SEG.ACK - 1) then builds
 * the connection straight into ESTABLISHED (Connection.acceptCookie).
 *
 * The cookie, our ISN, all mod 2^32, with s the SYN's SEG.SEQ:
 *
 *    ISN = B + (T << 24) + ((M + i) mod 2^24)
 *    B   = SipHash(key; local address, remote address, ports, s)
 *    T   = the cookie clock, in ticks of 60 s (Linux's period)
 *    M   = SipHash(key; local address, remote address, ports, s, T)
 *    i   = index of the SYN's MSS in MSS_TABLE (0..3)
 *
 * B hides the clock and ties the ISN to the 4-tuple and to s; M, keyed with
 * the clock, is a 24-bit check that also carries the MSS index. An ACK is
 * checked with c = SEG.ACK - 1 and s = SEG.SEQ - 1: the top 8 bits of c - B
 * must be the current tick or the one before (a cookie lives 60 to 120 s,
 * Linux's MAX_SYNCOOKIE_AGE of 2), and c - B - M must leave a 24-bit rest
 * below 4: the MSS index. A guessed ACK passes with probability about
 * 2/256 * 4/2^24 = 2^-29, and it is only tried while the listener has sent
 * cookies within those two minutes (Linux's tcp_synq_no_recent_overflow).
 *
 * Window scale and SACK-permitted can only ride on timestamps: when the SYN
 * carries TSopt, the low 6 bits of our SYN,ACK's TSval hold the peer's shift
 * (bits 0-3, 15 = no window scaling), SACK-permitted (bit 4) and ECN (bit 5:
 * the SYN asked and we accepted, RFC 3168 §6.1.1), and the ACK's TSecr
 * brings them back (Linux's cookie_init_timestamp / cookie_timestamp_decode,
 * cookie_ecn_ok). Without timestamps the cookie SYN,ACK offers none of them
 * and the connection has none, as on Linux.
 */
import type { IPv4Packet } from '../wire/ipv4.js';

/** The addresses of a datagram as 32-bit numbers (an IPv4Packet or the stack's
 * IPv4Datagram), or for IPv6 their 16 bytes each (RFC 6528 over all of them). */
type Addresses = Pick<IPv4Packet, 'srcAddr' | 'dstAddr'> & { src6?: Uint8Array | null; dst6?: Uint8Array | null };
import { seqAdd, seqGt } from '../wire/seq.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN, type TcpFields, type TcpOptions, type TcpSegment } from '../wire/tcp.js';
import { DEFAULT_PEER_MSS, ourMss, rcvWscaleFor, type TcpConfig } from '../tcp/config.js';
import { ourSynWindow, synOptions } from '../tcp/options.js';
import { tsOffsetFor, tsValue } from '../tcp/timestamps.js';
import { sipHash24, sipKey, word32, type SipKey } from './siphash.js';

/** The MSS values a cookie can say (Linux's msstab): the largest not above the SYN's MSS. */
export const MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];
/** Ticks of the cookie clock, ms. */
export const COOKIE_PERIOD = 60_000;
/** A cookie is good in the tick it was made in and the next (Linux MAX_SYNCOOKIE_AGE). */
export const COOKIE_AGE = 2;
/** How long after its last cookie a listener still checks ACKs for one. */
export const COOKIE_VALID = COOKIE_AGE * COOKIE_PERIOD;

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Low bits of the cookie TSval: the peer's window shift (15: none), then SACK-permitted. */
const TS_BITS = 6;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 0x10;
const TS_ECN = 0x20;

export class SynCookies {
  private readonly key: SipKey;
  /** The hash input, reused: addresses, ports, s, tick. */
  private readonly words = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  /** Words blind() filled: 4 for IPv4, 10 for IPv6. */
  private n = 4;

  constructor(key: Buffer) {
    this.key = sipKey(key);
  }

  /** The cookie ISN for the SYN `syn` in `ip`. */
  make(now: number, ip: Addresses, syn: TcpSegment): number {
    const mss = syn.options.mss ?? DEFAULT_PEER_MSS;
    let i = MSS_TABLE.length - 1;
    while (i > 0 && mss < MSS_TABLE[i]!) i--;
    const tick = Math.floor(now / COOKIE_PERIOD) >>> 0;
    const b = this.blind(ip, syn, syn.seq);
    return (b + (tick << COOKIE_BITS) + ((this.check(tick) + i) & COOKIE_MASK)) >>> 0;
  }

  /** The MSS the cookie in the ACK `ack` in `ip` stands for, or 0 when it is not one of ours from the last two ticks. */
  validate(now: number, ip: Addresses, ack: TcpSegment): number {
    const c = seqAdd(ack.ack, -1);
    const rest = (c - this.blind(ip, ack, seqAdd(ack.seq, -1))) >>> 0;
    const tick = Math.floor(now / COOKIE_PERIOD) >>> 0;
    const age = (tick - (rest >>> COOKIE_BITS)) & 0xff;
    if (age >= COOKIE_AGE) return 0;
    const i = (rest - this.check((tick - age) >>> 0)) & COOKIE_MASK;
    return i < MSS_TABLE.length ? MSS_TABLE[i]! : 0;
  }

  /** B: the 4-tuple (from the IP header, no parsing) and s; leaves them in `words` for check(). */
  private blind(ip: Addresses, seg: TcpSegment, s: number): number {
    const w = this.words;
    let i = 0;
    if (ip.src6 != null && ip.dst6 != null) {
      for (let k = 0; k < 16; k += 4) w[i++] = word32(ip.dst6, k); // our address
      for (let k = 0; k < 16; k += 4) w[i++] = word32(ip.src6, k); // the peer's
    } else {
      w[i++] = ip.dstAddr; // our address
      w[i++] = ip.srcAddr; // the peer's
    }
    w[i++] = ((seg.dstPort << 16) | seg.srcPort) >>> 0;
    w[i++] = s >>> 0;
    this.n = i;
    return sipHash24(this.key, w, i);
  }

  /** M for the tuple blind() just took. */
  private check(tick: number): number {
    this.words[this.n] = tick;
    return sipHash24(this.key, this.words, this.n + 1);
  }
}

/**
 * The TSval of a cookie SYN,ACK: `tsNow` with its low 6 bits replaced by the
 * SYN's options, moved back one step of 64 if that put it ahead of `tsNow`
 * (our later TSvals must not be older than it).
 */
export function cookieTsVal(tsNow: number, peerWscale: number | undefined, sackOk: boolean, ecnOk = false): number {
  const bits = (peerWscale === undefined ? TS_WSCALE_NONE : Math.min(peerWscale, 14)) | (sackOk ? TS_SACK : 0) | (ecnOk ? TS_ECN : 0);
  const v = (((tsNow >>> TS_BITS) << TS_BITS) | bits) >>> 0;
  return seqGt(v, tsNow) ? (v - (1 << TS_BITS)) >>> 0 : v;
}

/**
 * The SYN,ACK answering `syn` with the cookie `isn`: what Connection.acceptSyn
 * sends (our MSS, the unscaled window), but window scaling and SACK only with
 * timestamps, which carry them (Linux clears the other options of a cookie SYN
 * without TSopt).
 */
export function cookieSynAck(cfg: TcpConfig, syn: TcpSegment, isn: number, now: number): TcpFields {
  const o = syn.options;
  const tsOk = cfg.timestamps && o.tsVal !== undefined;
  const sackOk = tsOk && cfg.sack && o.sackPermitted;
  const peerWscale = tsOk && cfg.windowScaling ? o.wscale : undefined;
  // RFC 3168 §6.1.1, as Connection.acceptSyn decides it (ecn.ts), if TSopt can carry it.
  const ecnOk = tsOk && cfg.ecn !== 'off' && (syn.flags & (TCP_ECE | TCP_CWR)) === (TCP_ECE | TCP_CWR) && (syn.ecn ?? 0) === 0;
  const options = synOptions({
    mss: ourMss(cfg),
    sackPermitted: sackOk,
    ts: tsOk ? { val: cookieTsVal(tsValue(now, tsOffsetFor(isn)), peerWscale, sackOk, ecnOk), ecr: o.tsVal! } : undefined,
    wscale: peerWscale !== undefined ? rcvWscaleFor(cfg) : undefined,
  });
  const flags = TCP_SYN | TCP_ACK | (ecnOk ? TCP_ECE : 0);
  return { srcPort: syn.dstPort, dstPort: syn.srcPort, seq: isn, ack: seqAdd(syn.seq, 1), flags, window: ourSynWindow(cfg, true, tsOk), options };
}

/**
 * The options of the SYN as a valid cookie ACK brings them back: the MSS from
 * the cookie, window shift and SACK-permitted from the TSecr, TSval for
 * TS.Recent. Null when they ask for something `cfg` has off (Linux refuses
 * such a cookie too). Without TSopt on the ACK: no timestamps, no scaling, no SACK.
 */
export function cookieSynOptions(ack: TcpSegment, mss: number, cfg: TcpConfig): TcpOptions | null {
  const o = ack.options;
  const syn: TcpOptions = { mss, sackPermitted: false, list: [] };
  if (o.tsVal === undefined || o.tsEcr === undefined) return syn;
  if (!cfg.timestamps) return null;
  syn.tsVal = o.tsVal;
  syn.sackPermitted = (o.tsEcr & TS_SACK) !== 0;
  if (syn.sackPermitted && !cfg.sack) return null;
  const shift = o.tsEcr & TS_WSCALE_NONE;
  if (shift !== TS_WSCALE_NONE) {
    if (!cfg.windowScaling) return null;
    syn.wscale = shift;
  }
  return syn;
}

/** The cookie's SYN,ACK granted ECN (its TSval bit 5, echoed in the ACK's
 * TSecr) and we still accept it (Linux cookie_ecn_ok). */
export function cookieEcnOk(ack: TcpSegment, cfg: TcpConfig): boolean {
  const o = ack.options;
  return o.tsVal !== undefined && o.tsEcr !== undefined && (o.tsEcr & TS_ECN) !== 0 && cfg.ecn !== 'off';
}
