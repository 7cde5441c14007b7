/**
 * The host: owns one link, validates and demultiplexes every packet, answers
 * ICMP echo, and answers TCP segments that match no connection with a RST
 * (RFC 9293 §3.10.7.1). Every packet that is not used is dropped and counted
 * under a named reason; nothing a peer sends can throw out of here.
 */
import type { Link } from '../link/link.js';
import { RealClock, type Clock } from './clock.js';
import { Counters } from './counters.js';
import { decodeIPv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, type IPv4Fields, type IPv4Packet } from '../wire/ipv4.js';
import { decodeTcp, writeTcpPacket, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpFields, type TcpSegment } from '../wire/tcp.js';
import { decodeIcmp, buildEchoReply, ICMP_ECHO_REQUEST } from '../wire/icmp.js';
import { seqAdd } from '../wire/seq.js';

export interface StackOptions {
  link: Link;
  /** Our IPv4 address. */
  addr: string;
  clock?: Clock;
  /** TTL of packets we originate (Linux default 64). */
  ttl?: number;
}

export class Stack {
  readonly counters = new Counters();
  readonly clock: Clock;
  readonly addr: string;
  readonly link: Link;
  readonly ttl: number;
  /** Reused for every header we send: the link copies what it keeps. */
  private readonly txHeader = Buffer.alloc(20 + 60);
  private ipId = 0;
  private closed = false;
  private reportedInternalError = false;

  constructor(opts: StackOptions) {
    this.link = opts.link;
    this.addr = opts.addr;
    this.clock = opts.clock ?? new RealClock();
    this.ttl = opts.ttl ?? 64;
    this.link.onReceive = (packets) => this.receiveBatch(packets);
  }

  get mtu(): number {
    return this.link.mtu;
  }

  /** Entry point for every batch the link delivers. */
  receiveBatch(packets: Buffer[]): void {
    if (this.closed) return;
    for (const p of packets) {
      try {
        this.receive(p);
      } catch (err) {
        // A bug of ours, never the peer's fault: count it, report it once, go on.
        this.counters.inc('stack_internal_error');
        if (!this.reportedInternalError) {
          this.reportedInternalError = true;
          process.emitWarning(`tuntcp: internal error on a received packet: ${(err as Error).stack ?? String(err)}`);
        }
      }
    }
  }

  private receive(packet: Buffer): void {
    this.counters.inc('ip_in');
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string') return this.drop(ip);
    if (ip.dst !== this.addr) return this.drop('ip_not_for_us');
    switch (ip.protocol) {
      case IPPROTO_TCP: {
        const seg = decodeTcp(ip);
        if (typeof seg === 'string') return this.drop(seg);
        this.counters.inc('tcp_in');
        return this.tcpInput(ip, seg);
      }
      case IPPROTO_ICMP:
        return this.icmpInput(ip);
      case IPPROTO_UDP:
        return this.drop('udp_no_socket');
      default:
        return this.drop('ip_unknown_protocol');
    }
  }

  private drop(reason: string): void {
    this.counters.inc(reason);
    this.counters.inc('dropped');
  }

  private icmpInput(ip: IPv4Packet): void {
    const msg = decodeIcmp(ip.payload);
    if (typeof msg === 'string') return this.drop(msg);
    this.counters.inc('icmp_in');
    if (msg.type === ICMP_ECHO_REQUEST && msg.code === 0) {
      this.counters.inc('icmp_echo_replied');
      this.sendRaw(buildEchoReply(ip, msg));
      return;
    }
    this.drop('icmp_ignored');
  }

  /** TCP demultiplexing. Without a matching connection or listener the
   * segment gets a reset. */
  protected tcpInput(ip: IPv4Packet, seg: TcpSegment): void {
    this.sendResetFor(ip, seg);
  }

  /**
   * RFC 9293 §3.10.7.1 (state CLOSED, no TCB): an incoming RST is discarded;
   * otherwise, if ACK is on: <SEQ=SEG.ACK><CTL=RST>;
   * if ACK is off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
   */
  sendResetFor(ip: IPv4Packet, seg: TcpSegment): void {
    if (seg.flags & TCP_RST) {
      this.counters.inc('tcp_rst_received');
      return this.drop('tcp_rst_no_connection');
    }
    const tcp: TcpFields =
      seg.flags & TCP_ACK
        ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TCP_RST, window: 0 }
        : {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: 0,
            ack: seqAdd(seg.seq, segmentLength(seg)),
            flags: TCP_RST | TCP_ACK,
            window: 0,
          };
    this.counters.inc('tcp_rst_sent');
    this.sendTcp(ip.src, tcp);
  }

  /** Build and send one TCP segment from our address to `dst`. */
  sendTcp(dst: string, tcp: TcpFields, payload?: Buffer): void {
    if (this.closed) return;
    const ipf: IPv4Fields = { src: this.addr, dst, protocol: IPPROTO_TCP, ttl: this.ttl, id: this.nextIpId(), dontFragment: true };
    const n = writeTcpPacket(this.txHeader, ipf, tcp, payload);
    this.counters.inc('tcp_out');
    this.counters.inc('ip_out');
    this.link.send(this.txHeader.subarray(0, n), payload);
  }

  /** Send a complete IPv4 packet we built elsewhere. */
  sendRaw(packet: Buffer): void {
    if (this.closed) return;
    this.counters.inc('ip_out');
    this.link.send(packet);
  }

  private nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.close();
  }
}

/** SEG.LEN: payload octets plus one for SYN and one for FIN (RFC 9293 §3.4). */
export function segmentLength(seg: TcpSegment): number {
  return seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
}
