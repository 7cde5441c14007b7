/**
 * The IPv6 half of the host (RFC 8200, RFC 4443), which Stack extends: an
 * IPv6 packet is checked (fixed header, destination ours, source not a
 * martian), its extension headers walked (wire/ipv6.ts walkIPv6 gives one
 * verdict), fragments reassembled (ip6-reassembly.ts, one timer), and its
 * upper layer served: TCP goes to the same demultiplexing as IPv4 (Stack's
 * tcpInput, with an RxDatagram of either family), ICMPv6 echo is answered
 * (fragmented at the source when larger than the MTU, like Linux), ICMPv6
 * errors quoting TCP reach the connection they name, UDP gets port
 * unreachable and unknown next headers a parameter problem (code 1). The
 * ICMP errors of both families share one rate limiter (icmp-out.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  fragmentIPv6, ip6ToString, isMulticast6, IPPROTO_ICMPV6, IPPROTO_NONE, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, PARAMPROB_NEXTHEADER,
  upperLayerChecksum6, walkIPv6,
} from '../wire/ipv6.js';
import {
  buildEcho6Reply, decodeIcmp6, ICMP6_DST_UNREACH, ICMP6_ECHO_REQUEST, ICMP6_PACKET_TOO_BIG, ICMP6_PARAM_PROB, ICMP6_TIME_EXCEEDED,
  ICMP6_TIME_EXCEED_REASSEMBLY, ICMP6_UNREACH_PORT, isIcmp6Error, type Icmp6Message,
} from '../wire/icmp6.js';
import { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_PARAM_PROBLEM, ICMP_PKT_FILTERED, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED, type IcmpErrno, type IcmpTcpError } from '../wire/icmp.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { sumBytes } from '../wire/checksum.js';
import { readTcp6, rxTcpSegment, type TcpSegment } from '../wire/tcp.js';
import { Ip6Reassembler } from './ip6-reassembly.js';
import { IcmpErrorSender } from './icmp-out.js';
import { sipHash24, sipKey, type SipKey } from './siphash.js';
import type { Timer } from './clock.js';
import type { TcpEndpoint } from './endpoint.js';
import { equal16, isLoopback6, StackCore, type StackOptions } from './stack-core.js';

/** What the TCP demultiplexing needs of a received datagram, either family. */
export interface RxDatagram {
  readonly v6: boolean;
  /** IPv4: the addresses as 32-bit numbers; IPv6: -1 (never an IPv4 address). */
  readonly srcAddr: number;
  readonly dstAddr: number;
  /** Text (IPv6: ip6ToString's, the connection table's key). */
  readonly src: string;
  readonly dst: string;
  /** IPv6: the addresses' 16 bytes; IPv4: null. */
  readonly src6: Uint8Array | null;
  readonly dst6: Uint8Array | null;
}

/**
 * The IPv6 packet being received: its addresses copied out (16 bytes each)
 * and their text, made again only when they differ from the previous
 * packet's (a flow's packets come in runs; the destination is nearly always ours).
 */
class IPv6Rx implements RxDatagram {
  readonly v6 = true;
  readonly srcAddr = -1;
  readonly dstAddr = -1;
  readonly src6 = Buffer.alloc(16);
  readonly dst6 = Buffer.alloc(16);
  src = '::';
  dst = '::';

  read(p: Uint8Array, start: number): void {
    if (!equal16(p, start + 8, this.src6)) {
      this.src6.set(p.subarray(start + 8, start + 24));
      this.src = ip6ToString(this.src6, 0);
    }
    if (!equal16(p, start + 24, this.dst6)) {
      this.dst6.set(p.subarray(start + 24, start + 40));
      this.dst = ip6ToString(this.dst6, 0);
    }
  }
}

/**
 * An ICMPv6 error as a connection understands ICMP errors (path-errors.ts):
 * the IPv4 type and code that mean the same, and Linux's errno
 * (icmpv6_err_convert). Packet too big is "fragmentation needed" with the MTU.
 */
const UNREACH6: ReadonlyArray<readonly [number, IcmpErrno]> = [
  [ICMP_NET_UNREACH, 'ENETUNREACH'], // 0 no route to destination
  [ICMP_PKT_FILTERED, 'EACCES'], // 1 communication administratively prohibited
  [ICMP_HOST_UNREACH, 'EHOSTUNREACH'], // 2 beyond scope of source address
  [ICMP_HOST_UNREACH, 'EHOSTUNREACH'], // 3 address unreachable
  [ICMP_PORT_UNREACH, 'ECONNREFUSED'], // 4 port unreachable
  [ICMP_PKT_FILTERED, 'EACCES'], // 5 source address failed ingress/egress policy
  [ICMP_PKT_FILTERED, 'EACCES'], // 6 reject route to destination
];

export function icmp6TcpError(msg: Icmp6Message): IcmpTcpError | null {
  const q = msg.quoted;
  if (q === undefined || q.protocol !== IPPROTO_TCP || q.seq === undefined) return null;
  switch (msg.type) {
    case ICMP6_DST_UNREACH: {
      const [code, errno] = UNREACH6[msg.code] ?? [ICMP_HOST_UNREACH, 'EPROTO'];
      return { type: ICMP_DEST_UNREACH, code, seq: q.seq, errno };
    }
    case ICMP6_PACKET_TOO_BIG:
      return { type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, seq: q.seq, errno: 'EMSGSIZE', mtu: msg.mtu ?? 0 };
    case ICMP6_TIME_EXCEEDED:
      return { type: ICMP_TIME_EXCEEDED, code: 0, seq: q.seq, errno: 'EHOSTUNREACH' };
    case ICMP6_PARAM_PROB:
      return { type: ICMP_PARAM_PROBLEM, code: 0, seq: q.seq, errno: 'EPROTO' };
    default:
      return null;
  }
}

export abstract class StackIp6 extends StackCore {
  private readonly rxIp6 = new IPv6Rx();
  /** The TCP segment being received, either family (wire/tcp.ts rxTcpSegment: read in place per packet). */
  protected readonly rxSeg = rxTcpSegment();
  /** The ICMP errors we send, both families, rate limited together. */
  readonly icmpErrors = new IcmpErrorSender(this.counters, (p) => this.sendRaw(p), () => this.nextIpId());
  /** IPv6 fragments being put back together (RFC 8200 §4.5), and the one timer for their timeouts. */
  readonly reassembly6 = new Ip6Reassembler(this.counters);
  private reassembly6Timer: Timer | null = null;
  /** Identification of the fragments we send (RFC 8200 §4.5; RFC 7739: not predictable from outside). */
  private fragId6: number;
  /** Keys the flow labels (RFC 6437 §3: a hash of the 4-tuple with a secret). */
  private readonly flowKey: SipKey;
  private readonly flowWords = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  /** The whole packet being received, as it came (or reassembled), for strayTcp. */
  protected rxRaw: Buffer | null = null;
  protected rxStart = 0;
  protected rxEnd = 0;
  /** Whether the link vouched for rxRaw's TCP checksum (offload). */
  protected rxTrusted = false;
  /**
   * Shards of a multi-queue device (src/shard/): called with a packet about
   * a TCP port of ours that matches no connection and no listener here (a
   * segment, before it is answered with a RST; or an ICMP error quoting
   * one), with that local port, the whole packet and whether the link
   * vouched for its checksum. True when another shard takes it (the kernel
   * steered it to our queue, but that shard's port range holds the port);
   * the packet must be copied.
   */
  strayTcp: ((localPort: number, packet: Buffer, trusted: boolean, icmpError: boolean) => boolean) | null = null;
  /**
   * Shards (src/shard/balance.ts): called with a segment for a listening
   * port that matches no connection here (a SYN, or a segment of a
   * connection whose SYN this shard handed on), the remote address's text,
   * the ports, whether it is a SYN without ACK, the whole packet and whether
   * the link vouched for it. True when another shard takes it; the packet
   * must be copied.
   */
  passiveTcp: ((remote: string, remotePort: number, localPort: number, syn: boolean, packet: Buffer, trusted: boolean) => boolean) | null = null;

  constructor(opts: StackOptions) {
    super(opts);
    this.icmpErrors.sendPacket6 = (p) => this.sendRaw6(p);
    // From the ISN key when given, so that simulations replay.
    const seed = opts.isnKey !== undefined ? createHash('sha256').update('flowlabel').update(opts.isnKey).digest() : randomBytes(16);
    this.flowKey = sipKey(seed);
    this.fragId6 = createHash('sha256').update('fragid').update(seed).digest().readUInt32BE(0);
  }

  /** TCP demultiplexing (Stack), for a segment of either family. */
  protected abstract tcpInput(ip: RxDatagram, seg: TcpSegment): void;

  /** A validated-by-lookup ICMP error for a connection (Stack): `minMtu` the family's smallest path MTU. */
  protected abstract tcpErrorInput(ep: TcpEndpoint, err: IcmpTcpError, minMtu: number): void;

  /** The connection an ICMP error quotes, by its 4-tuple as we sent it (Stack's table). */
  protected abstract findEndpoint6(remote: string, remotePort: number, localPort: number): TcpEndpoint | undefined;

  protected drop(reason: string): void {
    this.counters.inc(reason);
    this.counters.inc('dropped');
  }

  /**
   * Linux auto_flowlabels: one label per connection from a keyed hash of its
   * 4-tuple, never 0 (RFC 6437 §3: "uniformly distributed", stable for the flow).
   */
  flowLabel(local6: Uint8Array, localPort: number, remote6: Uint8Array, remotePort: number): number {
    const w = this.flowWords;
    for (let i = 0; i < 4; i++) {
      w[i] = ((local6[4 * i]! << 24) | (local6[4 * i + 1]! << 16) | (local6[4 * i + 2]! << 8) | local6[4 * i + 3]!) >>> 0;
      w[4 + i] = ((remote6[4 * i]! << 24) | (remote6[4 * i + 1]! << 16) | (remote6[4 * i + 2]! << 8) | remote6[4 * i + 3]!) >>> 0;
    }
    w[8] = ((localPort << 16) | remotePort) >>> 0;
    const h = sipHash24(this.flowKey, w, 9);
    return (h ^ (h >>> 12)) & 0xfffff || 1;
  }

  /** The IPv6 packet buf[start, end) (version 6 seen); addr6 is set. */
  protected receive6(buf: Buffer, start: number, end: number, trusted: boolean, loopback: boolean): void {
    this.counters.inc('ip6_in');
    this.rxRaw = loopback ? null : buf; // a packet to ourselves is never another shard's
    this.rxStart = start;
    this.rxEnd = end;
    this.rxTrusted = trusted;
    if (end - start < IPV6_HEADER_LENGTH) return this.drop('ip6_truncated');
    const plen = (buf[start + 4]! << 8) | buf[start + 5]!;
    if (IPV6_HEADER_LENGTH + plen > end - start) return this.drop('ip6_bad_payload_length');
    // Link padding after the payload is not part of the packet (RFC 8200 §3).
    const p = buf.subarray(start, start + IPV6_HEADER_LENGTH + plen);
    // The kernel's own router and neighbour solicitations, MLD reports: multicast, not for us to answer.
    if (isMulticast6(p, 24)) return this.drop('ip6_multicast_ignored');
    if (!this.isLocal6(p, 24) || (!loopback && isLoopback6(p, 24))) return this.drop('ip6_not_for_us');
    if (this.martianSource6(p, loopback)) return this.drop('ip6_martian_source');
    if (plen === 0 && p[6] === 0) return this.drop('ip6_jumbogram'); // RFC 2675: no link of ours carries one
    const v = walkIPv6(p);
    switch (v.action) {
      case 'drop':
        return this.drop(v.reason);
      case 'param_problem':
        this.icmpErrors.send6(p, ICMP6_PARAM_PROB, v.code, v.pointer, 'icmp6_out_param_prob', this.now(), p.subarray(24, 40));
        return this.drop(v.reason);
      case 'reassemble': {
        const r = this.reassembly6.input(p, v.fragment, v.dataStart, this.now());
        this.armReassembly6Timer();
        if (r.kind === 'drop') return this.counters.inc('dropped'); // counted by the reassembler
        if (r.kind === 'complete') this.receive6(r.packet, 0, r.packet.length, false, loopback);
        return;
      }
      case 'deliver':
        break;
    }
    const upper = v.upperStart;
    switch (v.protocol) {
      case IPPROTO_TCP: {
        const seg = readTcp6(p, upper, p.length, sumBytes(p, 8, 40), !trusted, this.rxSeg);
        if (typeof seg === 'string') return this.drop(seg);
        seg.ecn = (p[1]! >> 4) & 3; // RFC 8200 §7: the traffic class's low two bits are ECN (RFC 3168)
        this.counters.inc('tcp_in');
        if (trusted && seg.payload.length > this.tcpConfig6.mss) this.counters.inc('tcp_gso_in'); // a super-segment (offload)
        const ip = this.rxIp6;
        ip.read(p, 0);
        return this.tcpInput(ip, seg);
      }
      case IPPROTO_ICMPV6:
        if (this.forgedIcmp6Error(p, upper)) return;
        return this.icmp6Input(p, upper);
      case IPPROTO_UDP:
        // No UDP sockets: every port is closed (RFC 4443 §3.1 code 4, as Linux).
        this.icmpErrors.send6(p, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT, 0, 'icmp6_out_port_unreach', this.now(), p.subarray(24, 40));
        return this.drop('udp_no_socket');
      case IPPROTO_NONE:
        return this.drop('ip6_no_next_header'); // RFC 8200 §4.7: nothing follows, ignore
      default:
        // RFC 8200 §4: an unrecognized Next Header: parameter problem code 1 pointing at it (Linux ip6_protocol_deliver_rcu).
        this.icmpErrors.send6(p, ICMP6_PARAM_PROB, PARAMPROB_NEXTHEADER, v.nextHeaderPointer, 'icmp6_out_param_prob', this.now(), p.subarray(24, 40));
        return this.drop('ip6_unknown_protocol');
    }
  }

  /**
   * Sources no packet from the link may carry (Linux ipv6_rcv and the TCP
   * input checks): multicast (RFC 4291 §2.7), the unspecified address (no
   * reply could reach it), loopback (RFC 4291 §2.5.3) and our own address
   * from outside.
   */
  private martianSource6(p: Uint8Array, loopback: boolean): boolean {
    if (isMulticast6(p, 8)) return true;
    let zero = true;
    for (let i = 8; i < 24; i++) if (p[i] !== 0) zero = false;
    if (zero) return true;
    return !loopback && (isLoopback6(p, 8) || equal16(p, 8, this.addr6Bytes));
  }

  /**
   * A flood of ICMPv6 errors naming no connection of ours (a forged "packet
   * too big" at full rate) is dropped here on numbers, before the decoder
   * builds the quote's address text, as Stack.forgedIcmpError does for
   * IPv4. True when the packet was dropped; the slow path checks the rest.
   */
  private forgedIcmp6Error(p: Buffer, upper: number): boolean {
    const q = upper + 8; // the invoking packet (RFC 4443 §3)
    if (p.length < q + 44 || !isIcmp6Error(p[upper]!) || p[q]! >> 4 !== 6 || p[q + 6] !== IPPROTO_TCP) return false;
    if (upperLayerChecksum6(p, upper, p.length, IPPROTO_ICMPV6) !== 0) return this.dropIcmp6('icmp6_bad_checksum', false);
    // It must quote a segment we sent: from our address (or ::1), from a port an IPv6 connection uses.
    if (!equal16(p, q + 8, this.addr6Bytes) && !isLoopback6(p, q + 8)) return this.dropIcmp6('icmp6_tcp_not_ours', true);
    const localPort = p.readUInt16BE(q + 40);
    if (!this.endpoints.usesPort6(localPort)) return this.offerStray(localPort, true) || this.dropIcmp6('icmp6_tcp_no_connection', true);
    return false;
  }

  /** Hand the segment being received, for a listening port, to another shard (passiveTcp); true when one took it. */
  protected offerPassive(remote: string, remotePort: number, localPort: number, syn: boolean): boolean {
    if (this.passiveTcp === null || this.rxRaw === null) return false;
    if (!this.passiveTcp(remote, remotePort, localPort, syn, this.rxRaw.subarray(this.rxStart, this.rxEnd), this.rxTrusted)) return false;
    this.counters.inc('shard_forwarded_passive');
    return true;
  }

  /** Hand the packet being received to another shard (strayTcp); true when one took it. */
  protected offerStray(localPort: number, icmpError: boolean): boolean {
    if (this.strayTcp === null || this.rxRaw === null) return false;
    if (!this.strayTcp(localPort, this.rxRaw.subarray(this.rxStart, this.rxEnd), this.rxTrusted, icmpError)) return false;
    this.counters.inc('shard_forwarded');
    return true;
  }

  private dropIcmp6(reason: string, counted: boolean): true {
    if (counted) this.counters.inc('icmp6_in'); // as icmp6Input counts what passes its checksum
    this.drop(reason);
    return true;
  }

  /** ICMPv6 is rare: the full decoder. */
  private icmp6Input(p: Buffer, upper: number): void {
    const msg = decodeIcmp6(p, upper, p.length);
    if (typeof msg === 'string') return this.drop(msg);
    this.counters.inc('icmp6_in');
    if (msg.type === ICMP6_ECHO_REQUEST && msg.code === 0) {
      this.counters.inc('icmp6_echo_replied');
      const reply = buildEcho6Reply(p, msg);
      if (reply.length <= this.link.mtu) return this.sendRaw6(reply);
      // RFC 8200 §4.5, §5: a source fragments its own packets larger than the path takes (Linux ip6_fragment).
      this.counters.inc('ip6_frag_ok');
      this.fragId6 = (this.fragId6 + 1) >>> 0;
      for (const f of fragmentIPv6(reply, this.link.mtu, this.fragId6)) {
        this.counters.inc('ip6_frag_creates');
        this.sendRaw6(f);
      }
      return;
    }
    if (!isIcmp6Error(msg.type)) return this.drop('icmp6_ignored'); // neighbour discovery, MLD, replies
    const err = icmp6TcpError(msg);
    if (err === null) return this.drop('icmp6_ignored');
    const q = msg.quoted!;
    // The quote is a packet we sent: from our address (or ::1), to the connection's peer.
    if (q.srcPort === undefined || q.dstPort === undefined || (q.src !== this.addr6 && q.src !== '::1')) return this.drop('icmp6_tcp_not_ours');
    const ep = this.findEndpoint6(q.dst, q.dstPort, q.srcPort);
    if (ep === undefined) return void (this.offerStray(q.srcPort, true) || this.drop('icmp6_tcp_no_connection'));
    this.tcpErrorInput(ep, err, IPV6_MIN_MTU);
  }

  /** One clock timer for the datagrams under reassembly (deadlines only grow, as in Stack's IPv4 one). */
  private armReassembly6Timer(): void {
    const at = this.reassembly6.nextDeadline();
    if (this.reassembly6Timer !== null || at === undefined) return;
    this.reassembly6Timer = this.clock.at(at, () => {
      this.reassembly6Timer = null;
      if (this.closed) return;
      const now = this.clock.now();
      // RFC 8200 §4.5: time exceeded, code 1, quoting the first fragment, if it came.
      for (const { first } of this.reassembly6.expire(now)) {
        if (first !== null) this.icmpErrors.send6(first, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY, 0, 'icmp6_out_time_exceeded', now, first.subarray(24, 40));
      }
      this.armReassembly6Timer();
    });
  }

  protected override onShutdown(): void {
    if (this.reassembly6Timer !== null) this.clock.cancel(this.reassembly6Timer);
    this.reassembly6Timer = null;
  }
}
