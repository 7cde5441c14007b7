/**
 * The ICMP errors this host sends (RFC 1122 §3.2.2): port unreachable for UDP
 * (no UDP socket exists), protocol unreachable, reassembly time exceeded.
 *
 * Never about (RFC 1122 §3.2.2): an ICMP error, a datagram to a broadcast or
 * multicast address, a fragment other than the first, a datagram whose source
 * is not a single host. Counted as icmp_error_suppressed.
 *
 * Rate limited as Linux does (RFC 1122 §3.2.2 "SHOULD"), so that a flood of
 * stray datagrams cannot turn the host into a reflector:
 *  - per destination (Linux's icmp_ratelimit, 1000 ms a token, inetpeer's
 *    XRLIM_BURST_FACTOR 6): one a second after a burst of 6;
 *  - in all (icmp_msgs_per_sec 1000, icmp_msgs_burst 50).
 * The per-destination table is bounded (MAX_PEERS, oldest entry forgotten
 * first, Map order); the global bucket bounds what forgetting can cost.
 * Linux does not limit ICMP to loopback; neither do we.
 *
 * ICMPv6 errors (RFC 4443 §2.4) go through the same limits, keyed by the
 * destination's 16 bytes (Linux icmpv6_xrlim_allow: the same per-peer
 * ratelimit, and icmp_global_allow shared by both families); when one may be
 * sent is wire/icmp6.ts's mayAnswerWithError.
 */
import { buildIcmpError, quotesDatagram } from '../wire/icmp.js';
import { IPPROTO_ICMP, word } from '../wire/ipv4.js';
import { buildIcmp6Error, mayAnswerWithError } from '../wire/icmp6.js';
import type { Counters } from './counters.js';
import { TokenBucket } from './rate-limit.js';
import { isLoopback6, isLoopbackIp } from './stack-core.js';

export interface IcmpRateOptions {
  /** Per destination, tokens a second (Linux: 1000 / icmp_ratelimit ms). Infinity: no limit. */
  perDestPerSecond?: number;
  perDestBurst?: number;
  /** Linux's icmp_msgs_per_sec and icmp_msgs_burst. */
  globalPerSecond?: number;
  globalBurst?: number;
  /** Destinations remembered at most. */
  maxPeers?: number;
}

export const MAX_PEERS = 4096;

/** Not a single host (RFC 1122 §3.2.2): this net (0/8), multicast, reserved, broadcast. */
function notAHost(addr: number): boolean {
  const first = addr >>> 24;
  return first === 0 || first >= 224;
}

export class IcmpErrorSender {
  private readonly global: TokenBucket;
  /** IPv4 destinations as numbers, IPv6 ones as 16-character latin1 strings. */
  private readonly peers = new Map<number | string, TokenBucket>();
  private readonly perDestPerSecond: number;
  private readonly perDestBurst: number;
  private readonly maxPeers: number;

  constructor(
    private readonly counters: Counters,
    private readonly sendPacket: (packet: Buffer) => void,
    private readonly nextId: () => number,
    opts: IcmpRateOptions = {},
  ) {
    this.global = new TokenBucket(opts.globalPerSecond ?? 1000, opts.globalBurst ?? 50);
    this.perDestPerSecond = opts.perDestPerSecond ?? 1;
    this.perDestBurst = opts.perDestBurst ?? 6;
    this.maxPeers = opts.maxPeers ?? MAX_PEERS;
  }

  /** Destinations with a bucket. */
  get peerCount(): number {
    return this.peers.size;
  }

  /**
   * Send ICMP `type`/`code` about `offending` (a whole IPv4 datagram as
   * received, or its first fragment) back to its source, if RFC 1122 and the
   * rate limits allow. `counter` names what was sent (icmp_out_port_unreach...).
   */
  send(offending: Buffer, type: number, code: number, counter: string, now: number): void {
    if (this.suppressed(offending)) {
      this.counters.inc('icmp_error_suppressed');
      return;
    }
    const to = word(offending, 12);
    const from = word(offending, 16);
    if (!isLoopbackIp(to) && !this.allow(to, now)) return;
    this.counters.inc(counter);
    this.counters.inc('icmp_out_errors');
    this.sendPacket(buildIcmpError(from, to, type, code, offending, this.nextId()));
  }

  /**
   * The ICMPv6 error `type`/`code` (`rest`: the pointer or MTU) about
   * `invoking`, a whole IPv6 packet as received, from `from` (our address it
   * was sent to), if RFC 4443 §2.4(e) and the rate limits allow.
   */
  send6(invoking: Buffer, type: number, code: number, rest: number, counter: string, now: number, from: Uint8Array): void {
    if (!mayAnswerWithError(invoking, type, code, rest)) {
      this.counters.inc('icmp6_error_suppressed');
      return;
    }
    if (!isLoopback6(invoking, 8) && !this.allow(invoking.toString('latin1', 8, 24), now)) return;
    this.counters.inc(counter);
    this.counters.inc('icmp6_out_errors');
    this.sendPacket6(buildIcmp6Error(Buffer.from(from), invoking, type, code, rest));
  }

  /** Where IPv6 errors go (the stack's sendRaw6); set by the stack. */
  sendPacket6: (packet: Buffer) => void = () => {};

  private suppressed(d: Buffer): boolean {
    if (d.length < 20) return true;
    if ((((d[6]! << 8) | d[7]!) & 0x1fff) !== 0) return true; // not the first fragment
    if (notAHost(word(d, 12)) || notAHost(word(d, 16))) return true;
    if (d[9] === IPPROTO_ICMP) {
      const hl = (d[0]! & 0x0f) * 4;
      if (d.length <= hl || quotesDatagram(d[hl]!)) return true; // never an error about an error
    }
    return false;
  }

  private allow(to: number | string, now: number): boolean {
    let b = this.peers.get(to);
    if (b === undefined) {
      if (this.peers.size >= this.maxPeers) {
        for (const k of this.peers.keys()) {
          this.peers.delete(k);
          break;
        }
      }
      b = new TokenBucket(this.perDestPerSecond, this.perDestBurst);
      this.peers.set(to, b);
    }
    if (!b.take(now)) {
      this.counters.inc('icmp_out_ratelimit_host');
      return false;
    }
    if (!this.global.take(now)) {
      this.counters.inc('icmp_out_ratelimit_global');
      return false;
    }
    return true;
  }
}
