/**
 * The host: owns one link, validates and demultiplexes every packet, answers
 * ICMP echo, and answers TCP segments that match no connection with a RST
 * (RFC 9293 §3.10.7.1), at most 200 a second. Listeners keep a bounded SYN
 * queue and answer with SYN cookies when it is full (syncookie.ts). Every
 * packet that is not used is dropped and counted under a named reason;
 * nothing a peer sends can throw out of here. What connections produce, their
 * events, timers and close() are stack-core.ts, which this extends.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeIPv4, fragmentIPv4, ipToNumber, readIPv4, IPv4Datagram, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { ip6ToBytes, ip6ToString, isV4Mapped6 } from '../wire/ipv6.js';
import { readTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpFields, type TcpSegment } from '../wire/tcp.js';
import { decodeIcmp, buildEchoReply, icmpTcpError, quotesDatagram, ICMP_ECHO_REQUEST, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, ICMP_PROT_UNREACH, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, type IcmpQuote, type IcmpTcpError } from '../wire/icmp.js';
import { internetChecksum } from '../wire/checksum.js';
import { seqAdd, seqGt } from '../wire/seq.js';
import { Connection } from '../tcp/connection.js';
import type { TcpConfig } from '../tcp/config.js';
import { IsnGenerator } from './isn.js';
import { TcpEndpoint, type Listener } from './endpoint.js';
import { COOKIE_VALID, SynCookies, cookieEcnOk, cookieSynAck, cookieSynOptions } from './syncookie.js';
import { TokenBucket } from './rate-limit.js';
import { IpReassembly } from './ip-reassembly.js';
import type { Timer } from './clock.js';
import { isLoopback6, isLoopbackIp, type StackOptions } from './stack-core.js';
import { StackIp6, type RxDatagram } from './stack-ip6.js';
import { MIN_PMTU, PmtuCache, type PmtuKey } from './pmtu.js';

export type { StackOptions, StateObserver, CcObserver, RecoveryObserver, TcbObserver } from './stack-core.js';

/** Linux's default ip_local_port_range. */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;

export class StackError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Stack extends StackIp6 {
  /** The datagram being received, read in place (readIPv4 overwrites it per packet). */
  private readonly rxIp = new IPv4Datagram();
  /** Slots of the counters every packet touches (Counters.add: no lookup). */
  private readonly cIpIn = this.counters.slot('ip_in');
  private readonly cTcpIn = this.counters.slot('tcp_in');
  private readonly cRstRatelimited = this.counters.slot('tcp_rst_ratelimited');
  private reportedInternalError = false;
  /**
   * Called after each received packet has been processed, with the error it
   * raised (a bug of ours, also counted as stack_internal_error) or
   * undefined. For fuzzers that check invariants packet by packet; it must
   * not throw.
   */
  afterReceive: ((packet: Buffer, err: unknown) => void) | null = null;
  /** Local ports of active opens (StackOptions.ephemeralPorts). */
  private readonly ephemeralLow: number;
  private readonly ephemeralHigh: number;
  private readonly isnGen: IsnGenerator;
  /** Null when SYN cookies are off. */
  private readonly cookies: SynCookies | null;
  private readonly rstLimit: TokenBucket;
  private nextEphemeral: number;
  /** IPv4 fragments being put back together (RFC 1122 §3.3.2), and the one timer for their timeouts. */
  readonly reassembly = new IpReassembly(this.counters);
  private reassemblyTimer: Timer | null = null;
  /** Path MTUs that validated "fragmentation needed" errors reported (RFC 1191). */
  readonly pmtu = new PmtuCache();
  /** Fires when the oldest PMTU entry expires. */
  private pmtuTimer: Timer | null = null;

  constructor(opts: StackOptions) {
    super(opts);
    this.isnGen = new IsnGenerator(opts.isnKey);
    // The cookie key: its own, derived from a given ISN key so that simulations replay.
    const cookieKey = opts.isnKey !== undefined ? createHash('sha256').update('syncookie').update(opts.isnKey).digest() : randomBytes(16);
    this.cookies = opts.synCookies === false ? null : new SynCookies(cookieKey);
    this.rstLimit = new TokenBucket(opts.rstRateLimit ?? 200);
    // Random like Linux, but derived from a given ISN key so simulations replay exactly.
    const r = opts.isnKey !== undefined && opts.isnKey.length >= 4 ? opts.isnKey.readUInt32BE(0) / 2 ** 32 : Math.random();
    [this.ephemeralLow, this.ephemeralHigh] = opts.ephemeralPorts ?? [EPHEMERAL_LOW, EPHEMERAL_HIGH];
    this.nextEphemeral = this.ephemeralLow + Math.floor(r * (this.ephemeralHigh - this.ephemeralLow));
    this.link.onReceive = (packets, trusted) => this.receiveBatch(packets, trusted);
    if ('onReceivePool' in this.link) this.link.onReceivePool = (pool, ranges, count, trusted) => this.receivePool(pool, ranges, count, trusted);
  }

  /** Entry point for every batch the link delivers as Buffers. */
  receiveBatch(packets: Buffer[], trusted?: Uint8Array, loopback = false): void {
    if (this.closed) return;
    const merged = this.beginBatch();
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      this.receiveOne(p, 0, p.length, trusted !== undefined && trusted[i] === 1, loopback);
    }
    this.endBatch(merged);
  }

  /**
   * Entry point for a batch in one buffer (Link.onReceivePool, the TUN link):
   * packet i is pool[ranges[2i], ranges[2i + 1]). No view is made per packet.
   */
  receivePool(pool: Buffer, ranges: Uint32Array, count: number, trusted?: Uint8Array): void {
    if (this.closed) return;
    const merged = this.beginBatch();
    for (let i = 0; i < count; i++) this.receiveOne(pool, ranges[2 * i]!, ranges[2 * i + 1]!, trusted !== undefined && trusted[i] === 1, false);
    this.endBatch(merged);
  }

  private receiveOne(buf: Buffer, start: number, end: number, trusted: boolean, loopback: boolean): void {
    let error: unknown;
    try {
      this.receive(buf, start, end, trusted, loopback);
    } catch (err) {
      // A bug of ours, never the peer's fault: count it, report it once, go on.
      error = err;
      this.counters.inc('stack_internal_error');
      if (!this.reportedInternalError && this.afterReceive === null) {
        this.reportedInternalError = true;
        process.emitWarning(`tuntcp: internal error on a received packet: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (this.afterReceive !== null) this.afterReceive(start === 0 && end === buf.length ? buf : buf.subarray(start, end), error);
  }

  /** The packet buf[start, end). `trusted`: the link vouches for the TCP
   * checksum (Link.offload). `loopback`: a packet we sent to ourselves (see loopback()). */
  private receive(buf: Buffer, start: number, end: number, trusted: boolean, loopback: boolean): void {
    this.counters.add(this.cIpIn);
    this.rxRaw = loopback ? null : buf; // a packet to ourselves is never another shard's
    this.rxStart = start;
    this.rxEnd = end;
    this.rxTrusted = trusted;
    if (end > start && buf[start]! >> 4 === 6) {
      // IPv6 off: the kernel's router solicitations on a new link are not ours to parse.
      if (this.addr6 === null) return this.drop('ipv6_ignored');
      return this.receive6(buf, start, end, trusted, loopback);
    }
    const ip = this.rxIp;
    const bad = readIPv4(buf, start, end, ip, true);
    if (bad !== null) return this.drop(bad);
    if (!loopback && this.martianSource(ip.srcAddr)) return this.drop('ip_martian_source');
    if (ip.dstAddr !== this.addrIp && !(loopback && isLoopbackIp(ip.dstAddr))) return this.drop('ip_not_for_us');
    if (ip.moreFragments || ip.fragOffset !== 0) {
      // RFC 1122 §3.3.2: a host MUST reassemble. The whole datagram goes on as if it had come in one piece.
      const whole = this.reassembly.add(ip, this.now());
      this.armReassemblyTimer();
      if (whole === null) return;
      if (readIPv4(whole, 0, whole.length, ip) !== null) return this.drop('ip_reasm_bad'); // cannot happen: we built it
      trusted = false;
      this.rxRaw = whole;
      this.rxStart = 0;
      this.rxEnd = whole.length;
      this.rxTrusted = false;
    }
    const b = ip.buf;
    switch (ip.protocol) {
      case IPPROTO_TCP: {
        const seg = readTcp(b, ip.payloadStart, ip.end, ip.srcAddr, ip.dstAddr, !trusted, false, this.rxSeg);
        if (typeof seg === 'string') return this.drop(seg);
        seg.ecn = ip.tos & 3; // RFC 3168 §5: the IP header's ECN field, for the connection
        this.counters.add(this.cTcpIn);
        if (trusted && seg.payload.length > this.tcpConfig.mss) this.counters.inc('tcp_gso_in'); // a super-segment (offload)
        return this.tcpInput(ip, seg);
      }
      case IPPROTO_ICMP:
        if (this.forgedIcmpError(b, ip)) return;
        return this.icmpInput(b.subarray(ip.start, ip.end));
      case IPPROTO_UDP:
        // No UDP sockets: every port is closed (RFC 1122 §4.1.3.1 SHOULD send port unreachable).
        this.icmpErrors.send(b.subarray(ip.start, ip.end), ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 'icmp_out_port_unreach', this.now());
        return this.drop('udp_no_socket');
      default:
        // RFC 1122 §3.2.2.1: protocol unreachable for a transport we do not have.
        this.icmpErrors.send(b.subarray(ip.start, ip.end), ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 'icmp_out_prot_unreach', this.now());
        return this.drop('ip_unknown_protocol');
    }
  }

  /**
   * One clock timer for every datagram under reassembly. Deadlines only grow
   * (all get the same lifetime), so a timer armed for an older datagram is
   * never late for a newer one; when it fires early (its datagram completed
   * or was evicted meanwhile) it expires nothing and is armed again.
   */
  private armReassemblyTimer(): void {
    if (this.reassemblyTimer !== null || this.reassembly.pending === 0) return;
    this.reassemblyTimer = this.clock.at(this.reassembly.nextDeadline(), () => {
      this.reassemblyTimer = null;
      if (this.closed) return;
      const now = this.clock.now();
      // RFC 792, RFC 1122 §3.3.2: time exceeded (code 1) when the first fragment had come.
      for (const first of this.reassembly.expire(now)) {
        this.icmpErrors.send(first, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 'icmp_out_time_exceeded', now);
      }
      this.armReassemblyTimer();
    });
  }

  protected override onShutdown(): void {
    super.onShutdown();
    if (this.reassemblyTimer !== null) this.clock.cancel(this.reassemblyTimer);
    this.reassemblyTimer = null;
    if (this.pmtuTimer !== null) this.clock.cancel(this.pmtuTimer);
    this.pmtuTimer = null;
  }

  /**
   * A source address no packet from the link may carry (RFC 1122 §3.2.1.3,
   * §3.2.2.6; Linux's martian check): this net (0/8), loopback (127/8),
   * multicast and above (224/3, broadcast), and our own address, which would
   * make us answer ourselves (the LAND attack).
   */
  private martianSource(src: number): boolean {
    if (src === this.addrIp) return true;
    const first = src >>> 24;
    return first === 0 || first === 127 || first >= 224;
  }

  /**
   * A flood of ICMP errors that name no connection of ours (forged, or
   * hping3 --icmp -C 3) must cost no more than a flood of stray ACKs: the
   * quoted header is checked in place, on numbers, and such an error is
   * dropped before any decoding. True when it was dropped.
   */
  private forgedIcmpError(b: Buffer, ip: IPv4Datagram): boolean {
    const s = ip.payloadStart;
    const e = ip.end;
    if (e - s < 8 || !quotesDatagram(b[s]!)) return false;
    const q = s + 8; // the quoted IPv4 header (RFC 792)
    if (e - q < 20 || b[q]! >> 4 !== 4 || b[q + 9] !== IPPROTO_TCP) return false; // not about TCP: the slow path says so
    if (internetChecksum(b, s, e) !== 0) return this.dropIcmp('icmp_bad_checksum', false);
    const ihl = (b[q]! & 0x0f) * 4;
    if (ihl < 20 || e - q < ihl + 4 || b.readUInt32BE(q + 12) !== this.addrIp) return this.dropIcmp('icmp_tcp_not_ours', true);
    const t = q + ihl;
    const localPort = (b[t]! << 8) | b[t + 1]!;
    const remotePort = (b[t + 2]! << 8) | b[t + 3]!;
    if (this.endpoints.get(b.readUInt32BE(q + 16), remotePort, localPort) === undefined) {
      return this.offerStray(localPort, true) || this.dropIcmp('icmp_tcp_no_connection', true);
    }
    return false;
  }

  private dropIcmp(reason: string, counted: boolean): true {
    if (counted) this.counters.inc('icmp_in'); // as icmpInput counts what passes its checksum
    this.drop(reason);
    return true;
  }

  /** ICMP is rare: the full decoder, views and all. */
  private icmpInput(packet: Buffer): void {
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string') return this.drop(ip);
    const msg = decodeIcmp(ip.payload);
    if (typeof msg === 'string') return this.drop(msg);
    this.counters.inc('icmp_in');
    if (msg.type === ICMP_ECHO_REQUEST && msg.code === 0) {
      this.counters.inc('icmp_echo_replied');
      const reply = buildEchoReply(ip, msg);
      if (reply.length <= this.link.mtu) return this.sendRaw(reply);
      // Too big for the link: an echo reply may be fragmented (RFC 791 §3.2), DF clear.
      this.counters.inc('ip_frag_ok'); // Linux's FragOKs (datagrams), FragCreates (fragments)
      for (const f of fragmentIPv4(reply, this.link.mtu, this.nextIpId())) {
        this.counters.inc('ip_frag_creates');
        this.sendRaw(f);
      }
      return;
    }
    const err = icmpTcpError(msg);
    if (err !== null) return this.icmpTcpErrorInput(msg.quoted!, err);
    this.drop('icmp_ignored');
  }

  /**
   * An ICMP error quoting a TCP segment (RFC 1122 §4.2.3.9): the connection
   * it names validates it (RFC 5927) and acts; a validated "fragmentation
   * needed" lowers the path MTU of every connection to that destination.
   */
  private icmpTcpErrorInput(q: IcmpQuote, err: IcmpTcpError): void {
    if (q.srcPort === undefined || q.dstPort === undefined || q.src !== this.addr) return this.drop('icmp_tcp_not_ours');
    const ep = this.endpoints.get(ipToNumber(q.dst), q.dstPort, q.srcPort);
    if (ep === undefined) return void (this.offerStray(q.srcPort, true) || this.drop('icmp_tcp_no_connection'));
    this.tcpErrorInput(ep, err, MIN_PMTU);
  }

  /** The connection validates the error (RFC 5927) and acts; a path MTU error lowers the cache entry of its peer. */
  protected tcpErrorInput(ep: TcpEndpoint, err: IcmpTcpError, minMtu: number): void {
    const now = this.now();
    const verdict = ep.conn.icmpError(err, now);
    this.flush(ep);
    if (verdict === 'dropped') return this.counters.inc('dropped');
    if (verdict !== 'path-mtu') return;
    const key = ep.pathKey;
    const mtu = this.pmtu.lower(key, err.mtu ?? 0, this.mtu, now, minMtu);
    if (mtu === 0) return this.counters.inc('icmp_frag_needed_not_lower');
    this.counters.inc(ep.v6 ? 'ip6_pmtu_lowered' : 'ip_pmtu_lowered');
    this.setPathMtu(key, mtu, now);
    if (this.pmtuTimer === null) this.armPmtuTimer();
  }

  protected findEndpoint6(remote: string, remotePort: number, localPort: number): TcpEndpoint | undefined {
    return this.endpoints.get6(remote, remotePort, localPort);
  }

  /** Tell every connection to `key` (pmtu.ts) its path MTU. */
  private setPathMtu(key: PmtuKey, mtu: number, now: number): void {
    for (const ep of this.endpoints.values()) {
      if (ep.pathKey !== key) continue;
      ep.conn.pathMtuChanged(mtu, now);
      this.flush(ep);
    }
  }

  /** RFC 1191 §6.3: an expired estimate goes back to the link MTU. */
  private armPmtuTimer(): void {
    const at = this.pmtu.nextExpiry();
    this.pmtuTimer = at === Infinity ? null : this.clock.at(at, () => {
      if (this.closed) return;
      const now = this.now();
      for (const dst of this.pmtu.expire(now)) this.setPathMtu(dst, this.mtu, now);
      this.armPmtuTimer();
    });
  }

  /** TCP demultiplexing, both families: a connection, else a listener, else a reset. */
  protected tcpInput(ip: RxDatagram, seg: TcpSegment): void {
    let ep = this.lastEp;
    if (ep === null || ep.remotePort !== seg.srcPort || ep.localPort !== seg.dstPort || ep.remoteIp !== ip.srcAddr || (ip.v6 && ep.remoteAddr !== ip.src)) {
      ep = (ip.v6 ? this.endpoints.get6(ip.src, seg.srcPort, seg.dstPort) : this.endpoints.get(ip.srcAddr, seg.srcPort, seg.dstPort)) ?? null;
      this.lastEp = ep;
    }
    if (ep !== null) {
      // A new SYN for a 4-tuple in TIME_WAIT with a higher sequence number
      // opens a new connection (RFC 9293 §3.6.1 note; Linux does the same).
      const c = ep.conn;
      const listener = c.state === 'TIME_WAIT' ? this.listenerFor(ip, seg.dstPort) : undefined;
      if (listener !== undefined && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && seqGt(seg.seq, c.rcvNxt)) {
        this.counters.inc('tcp_time_wait_reused');
        this.removeEndpoint(ep);
        this.listenInput(ip, seg, listener, seqAdd(c.sndNxt, 65535 + 2));
        return;
      }
      c.segmentArrives(seg, this.now());
      this.flush(ep);
      return;
    }
    const listener = this.listenerFor(ip, seg.dstPort);
    if (listener !== undefined) {
      // Shards: a SYN may go to a shard with fewer connections, and that one's segments after it (balance.ts).
      if (this.passiveTcp !== null && this.offerPassive(ip.src, seg.srcPort, seg.dstPort, (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN)) return;
      return this.listenInput(ip, seg, listener);
    }
    if (this.offerStray(seg.dstPort, false)) {
      // A SYN,ACK is the usual one: Linux's tun picks its queue before it learns our SYN's (shards.ts).
      if (seg.flags & TCP_SYN) this.counters.inc('shard_forwarded_syn');
      return;
    }
    this.sendResetFor(ip, seg);
  }

  /** The listener on `port` that takes connections to ip.dst (its family and address). */
  private listenerFor(ip: RxDatagram, port: number): Listener | undefined {
    const l = this.listeners.get(port);
    if (l === undefined || l.family === (ip.v6 ? 4 : 6)) return undefined;
    return l.address === null || l.address === ip.dst ? l : undefined;
  }

  /** The settings of a connection of `ip`'s family (MSS from the MTU less 40 or 60). */
  private baseConfig(v6: boolean): TcpConfig {
    return v6 ? this.tcpConfig6 : this.tcpConfig;
  }

  /** A TCP segment of no connection (RST, cookie SYN,ACK) back to where `ip` came from. */
  private replyTcp(ip: RxDatagram, tcp: TcpFields): void {
    if (!ip.v6) return this.sendTcp(ip.srcAddr, tcp, undefined, 0, ip.dstAddr);
    this.sendTcp6(ip.src6!, tcp, undefined, 0, ip.dst6!, 0, this.flowLabel(ip.dst6!, tcp.srcPort, ip.src6!, tcp.dstPort));
  }

  /** A connection's table entry; over IPv6 with its flow label (RFC 6437). */
  private newEndpoint(conn: Connection, localAddr: string, localPort: number, remoteAddr: string, remotePort: number): TcpEndpoint {
    const ep = new TcpEndpoint(this, conn, localAddr, localPort, remoteAddr, remotePort);
    if (ep.v6) ep.flowLabel = this.flowLabel(ep.local6!, localPort, ep.remote6!, remotePort);
    return ep;
  }

  /** RFC 9293 §3.10.7.2: LISTEN state. */
  private listenInput(ip: RxDatagram, seg: TcpSegment, l: Listener, iss?: number): void {
    if (seg.flags & TCP_RST) return this.drop('tcp_rst_to_listener');
    if (seg.flags & TCP_ACK) {
      // An ACK may complete a handshake we answered with a SYN cookie (RFC 4987 §3.6).
      const cookieTime = this.cookies !== null && !(seg.flags & TCP_SYN) && this.now() - l.cookieSentAt < COOKIE_VALID;
      return cookieTime ? this.cookieAckInput(ip, seg, l) : this.sendResetFor(ip, seg);
    }
    if (!(seg.flags & TCP_SYN)) return this.drop('tcp_no_syn_to_listener');
    // A SYN from an IPv4-mapped source would make a connection that
    // applications take for an IPv4 peer (::ffff:127.0.0.1): Linux
    // tcp_v6_conn_request drops it silently (draft-itojun-v6ops-v4mapped-harmful).
    if (ip.v6 && isV4Mapped6(ip.src6!, 0)) return this.drop('tcp_v4mapped_source');
    const now = this.now();
    const cfg = l.tcp ? { ...this.baseConfig(ip.v6), ...l.tcp } : this.baseConfig(ip.v6);
    if (l.pending >= l.backlog) {
      if (this.cookies === null) return this.drop('tcp_listen_overflow');
      // The SYN queue is full: answer with a cookie and keep nothing (Linux tcp_syncookies=1).
      l.cookieSentAt = now;
      this.counters.inc('tcp_syncookies_sent');
      const isn = this.cookies.make(now, ip, seg);
      this.replyTcp(ip, cookieSynAck(cfg, seg, isn, now));
      return;
    }
    const conn = new Connection(cfg, iss ?? this.isnGen.isn(now, ip.dst, l.port, ip.src, seg.srcPort), now, this.counters);
    conn.pathMtu = this.pmtu.get(ip.v6 ? ip.src : ip.srcAddr, now) ?? Infinity;
    const ep = this.addPassive(conn, ip, seg, l);
    conn.acceptSyn(seg, now);
    this.flush(ep);
  }

  /** An ACK for a listener with no connection, while it sends cookies: build the connection or reset. */
  private cookieAckInput(ip: RxDatagram, seg: TcpSegment, l: Listener): void {
    const now = this.now();
    const cfg = l.tcp ? { ...this.baseConfig(ip.v6), ...l.tcp } : this.baseConfig(ip.v6);
    const mss = this.cookies!.validate(now, ip, seg);
    const syn = mss > 0 ? cookieSynOptions(seg, mss, cfg) : null;
    if (syn === null) {
      this.counters.inc('tcp_syncookies_failed');
      return this.sendResetFor(ip, seg);
    }
    this.counters.inc('tcp_syncookies_recv');
    const conn = new Connection(cfg, seqAdd(seg.ack, -1), now, this.counters);
    const ep = this.addPassive(conn, ip, seg, l);
    conn.acceptCookie(seg, syn, now, cookieEcnOk(seg, cfg));
    this.flush(ep);
  }

  /** Enter a passive connection in the table, counted in the listener's queue
   * until its 'established' event hands it over (dispatch). */
  private addPassive(conn: Connection, ip: RxDatagram, seg: TcpSegment, l: Listener): TcpEndpoint {
    const ep = this.newEndpoint(conn, ip.dst, l.port, ip.src, seg.srcPort);
    ep.listener = l;
    l.pending++;
    this.endpoints.add(ep);
    this.lastEp = null; // never a stale connection for this 4-tuple
    this.counters.inc('tcp_passive_opens');
    return ep;
  }

  /** Start listening on `port` (0 picks an ephemeral port); `bind`: which
   * connections it takes (Listener.family, .address; default both families, any address). */
  openListener(
    port: number, backlog: number, onConnection: (ep: TcpEndpoint) => void, tcp?: Partial<TcpConfig>,
    bind: { family?: 0 | 4 | 6; address?: string | null } = {},
  ): Listener {
    this.checkOpen('listen');
    if (port === 0) port = this.pickEphemeralPort(null);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StackError('ERR_SOCKET_BAD_PORT', `port ${port} is out of range`);
    if (this.listeners.has(port)) throw new StackError('EADDRINUSE', `listen EADDRINUSE: address already in use ${this.addr}:${port}`);
    const l: Listener = {
      port, backlog: Math.max(1, backlog), pending: 0, cookieSentAt: -Infinity, onConnection, tcp, family: bind.family ?? 0, address: bind.address ?? null,
    };
    this.listeners.set(port, l);
    return l;
  }

  closeListener(l: Listener): void {
    if (this.listeners.get(l.port) === l) this.listeners.delete(l.port);
  }

  /** Active open to remoteAddr:remotePort from an ephemeral (or given) local port. */
  openConnection(remoteAddr: string, remotePort: number, localPort?: number, tcp?: Partial<TcpConfig>): TcpEndpoint {
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new StackError('ERR_SOCKET_BAD_PORT', `port ${remotePort} is out of range`);
    }
    this.checkOpen('connect');
    let remote: number | string;
    let local: string;
    const bytes6 = remoteAddr.includes(':') ? ip6ToBytes(remoteAddr) : null;
    if (bytes6 !== null) {
      // IPv6 off: no route to any IPv6 address (Linux without one: ENETUNREACH).
      if (this.addr6 === null) throw new StackError('ENETUNREACH', `connect ENETUNREACH ${remoteAddr}:${remotePort}`);
      remote = remoteAddr = ip6ToString(bytes6, 0); // the table's text
      local = isLoopback6(bytes6, 0) ? '::1' : this.addr6;
    } else {
      remote = ipToNumber(remoteAddr);
      // Like Linux: a connection to 127.x comes from 127.0.0.1, and stays inside the stack.
      local = isLoopbackIp(remote) ? '127.0.0.1' : this.addr;
    }
    const port = localPort ?? this.pickEphemeralPort(remote, remotePort);
    if (this.tupleInUse(remote, remotePort, port)) {
      throw new StackError('EADDRINUSE', `connect EADDRINUSE ${local}:${port}`);
    }
    const now = this.now();
    const cfg = tcp ? { ...this.baseConfig(bytes6 !== null), ...tcp } : this.baseConfig(bytes6 !== null);
    const conn = new Connection(cfg, this.isnGen.isn(now, local, port, remoteAddr, remotePort), now, this.counters);
    conn.pathMtu = this.pmtu.get(remote, now) ?? Infinity;
    const ep = this.newEndpoint(conn, local, port, remoteAddr, remotePort);
    this.endpoints.add(ep);
    this.lastEp = null; // never a stale connection for this 4-tuple
    this.counters.inc('tcp_active_opens');
    conn.connect(now);
    this.flush(ep);
    return ep;
  }

  /**
   * Once close() was called nothing new may start: a listener would never
   * hear anything, and a connection (say, a reconnect from a 'close'
   * handler) would retry its SYN into a closed link for minutes, or be
   * reset at the end of the linger time.
   */
  private checkOpen(syscall: string): void {
    if (this.closing !== null) throw new StackError('ENETDOWN', `${syscall} ENETDOWN: the stack is closed`);
  }

  /**
   * An ephemeral port whose 4-tuple is unused, TIME_WAIT included (entries
   * stay in the table until 2MSL has passed), and that is not listening.
   */
  private pickEphemeralPort(remote: number | string | null, remotePort = 0): number {
    const low = this.ephemeralLow;
    const span = this.ephemeralHigh - low + 1;
    for (let i = 0; i < span; i++) {
      const port = low + ((this.nextEphemeral - low + i) % span);
      if (this.listeners.has(port)) continue;
      if (remote === null ? this.endpoints.usesPort(port) : this.tupleInUse(remote, remotePort, port)) continue;
      this.nextEphemeral = port + 1 > this.ephemeralHigh ? low : port + 1;
      return port;
    }
    throw new StackError('EADDRNOTAVAIL', 'connect EADDRNOTAVAIL: no free local port');
  }

  /** A connection holds this 4-tuple (the remote address as text, TcpEndpoint.remoteAddr). */
  hasConnection(remote: string, remotePort: number, localPort: number): boolean {
    return this.tupleInUse(remote.includes(':') ? remote : ipToNumber(remote), remotePort, localPort);
  }

  /** A connection holds this 4-tuple (remote: an IPv4 number or IPv6 text); ports are per family, as in Linux. */
  private tupleInUse(remote: number | string, remotePort: number, localPort: number): boolean {
    if (typeof remote === 'string') return this.endpoints.get6(remote, remotePort, localPort) !== undefined;
    return this.endpoints.has(remote, remotePort, localPort);
  }

  /**
   * RFC 9293 §3.10.7.1 (state CLOSED, no TCB): an incoming RST is discarded;
   * otherwise, if ACK is on: <SEQ=SEG.ACK><CTL=RST>;
   * if ACK is off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
   */
  sendResetFor(ip: RxDatagram, seg: TcpSegment): void {
    if (seg.flags & TCP_RST) {
      this.counters.inc('tcp_rst_received');
      return this.drop('tcp_rst_no_connection');
    }
    // Rate-limited like FreeBSD's badport_bandlim: a flood of stray segments
    // gets few answers. Not a RST to ourselves (loopback): it never leaves
    // the host, and a local client connecting to a closed port must be
    // refused at once, not after its SYN's first retransmission.
    const toSelf = ip.v6 ? this.isLocal6(ip.src6!, 0) : ip.srcAddr === this.addrIp || isLoopbackIp(ip.srcAddr);
    if (!toSelf && !this.rstLimit.take(this.now())) return this.counters.add(this.cRstRatelimited);
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
    this.replyTcp(ip, tcp);
  }
}

/** SEG.LEN: payload octets plus one for SYN and one for FIN (RFC 9293 §3.4). */
export function segmentLength(seg: TcpSegment): number {
  return seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
}
