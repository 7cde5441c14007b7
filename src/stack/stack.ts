/**
 * The host: owns one link, validates and demultiplexes every packet, answers
 * ICMP echo, and answers TCP segments that match no connection with a RST
 * (RFC 9293 §3.10.7.1), at most 200 a second. Listeners keep a bounded SYN
 * queue and answer with SYN cookies when it is full (syncookie.ts). Every
 * packet that is not used is dropped and counted under a named reason;
 * nothing a peer sends can throw out of here.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Link } from '../link/link.js';
import { RealClock, type Clock } from './clock.js';
import { Counters } from './counters.js';
import { decodeIPv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, type IPv4Fields, type IPv4Packet } from '../wire/ipv4.js';
import { decodeTcp, writeTcpPacket, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpFields, type TcpSegment } from '../wire/tcp.js';
import { decodeIcmp, buildEchoReply, ICMP_ECHO_REQUEST } from '../wire/icmp.js';
import { seqAdd, seqGt } from '../wire/seq.js';
import { Connection, type ConnEvent, type OutSegment } from '../tcp/connection.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../tcp/config.js';
import type { TcpState } from '../tcp/state.js';
import { IsnGenerator } from './isn.js';
import { TcpEndpoint, endpointKey, type Listener } from './endpoint.js';
import { AckCoalescer } from './ack-coalescer.js';
import { joinPacket } from '../link/link.js';
import { COOKIE_VALID, SynCookies, cookieSynAck, cookieSynOptions } from './syncookie.js';
import { TokenBucket } from './rate-limit.js';

/** Linux's default ip_local_port_range. */
const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;

export type StateObserver = (ep: TcpEndpoint, from: TcpState, to: TcpState, cause: string) => void;

export class StackError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StackOptions {
  link: Link;
  /** Our IPv4 address. */
  addr: string;
  clock?: Clock;
  /** TTL of packets we originate (Linux default 64). */
  ttl?: number;
  /** TCP settings for every connection (MSS defaults to MTU - 40). */
  tcp?: Partial<TcpConfig>;
  /** Key for RFC 6528 ISNs and SYN cookies (random when absent; fixed in tests for replay). */
  isnKey?: Buffer;
  /** How owners' events are put off until the packet or call is processed
   * (default process.nextTick). A harness that drives a VirtualClock
   * synchronously passes `(fn) => clock.at(clock.now(), fn)`. */
  defer?: (fn: () => void) => void;
  /** Answer SYNs with SYN cookies when a listener's SYN queue is full (Linux
   * tcp_syncookies=1, the default); false: drop them (tcp_listen_overflow). */
  synCookies?: boolean;
  /** RSTs per second for segments that match no connection (FreeBSD's
   * badport_bandlim: 200); 0 or Infinity: no limit. */
  rstRateLimit?: number;
}

export class Stack {
  readonly counters = new Counters();
  readonly clock: Clock;
  readonly addr: string;
  readonly link: Link;
  /** The link completes TCP checksums and cuts super-segments (Link.offload). */
  private readonly offload: boolean;
  readonly ttl: number;
  /** Reused for every header we send: the link copies what it keeps. */
  private readonly txHeader = Buffer.alloc(20 + 60);
  /** Views of txHeader by length, made once: a header is 40..80 bytes. */
  private readonly txViews: Buffer[] = [];
  private ipId = 0;
  /** now() for the batch being processed, or -1 outside one. */
  private batchNow = -1;
  /** The connection the previous packet went to: bulk flows send runs of packets to one. */
  private lastEp: TcpEndpoint | null = null;
  private readonly acks = new AckCoalescer<TcpEndpoint>((ep, seg) => this.transmitSegment(ep, seg));
  private closed = false;
  private reportedInternalError = false;
  /**
   * Called after each received packet has been processed, with the error it
   * raised (a bug of ours, also counted as stack_internal_error) or
   * undefined. For fuzzers that check invariants packet by packet; it must
   * not throw.
   */
  afterReceive: ((packet: Buffer, err: unknown) => void) | null = null;
  readonly tcpConfig: TcpConfig;
  private readonly isnGen: IsnGenerator;
  /** Null when SYN cookies are off. */
  private readonly cookies: SynCookies | null;
  private readonly rstLimit: TokenBucket;
  private readonly endpoints = new Map<string, TcpEndpoint>();
  private readonly listeners = new Map<number, Listener>();
  private readonly stateObservers: StateObserver[] = [];
  private nextEphemeral: number;
  /** Events for owners, as (endpoint, event) pairs, delivered on the next tick. */
  private deliveries: Array<TcpEndpoint | ConnEvent> = [];
  private deliveryScheduled = false;
  private readonly deliverNow = (): void => this.deliver();
  private readonly defer: (fn: () => void) => void;
  /** Things that keep the process alive, like Node's ref'd handles. */
  private refs = 0;
  private stackRef = false;

  constructor(opts: StackOptions) {
    this.link = opts.link;
    this.addr = opts.addr;
    this.clock = opts.clock ?? new RealClock();
    this.ttl = opts.ttl ?? 64;
    this.offload = this.link.offload === true;
    // With offload a data segment may be as large as an IPv4 packet allows
    // (TSO); the device cuts it into MSS-sized pieces where it must.
    const gsoMax = this.offload ? 65535 - 20 - 60 : 0;
    this.tcpConfig = { ...DEFAULT_TCP_CONFIG, mss: this.link.mtu - 40, gsoMax, ...opts.tcp };
    this.isnGen = new IsnGenerator(opts.isnKey);
    // The cookie key: its own, derived from a given ISN key so that simulations replay.
    const cookieKey = opts.isnKey !== undefined ? createHash('sha256').update('syncookie').update(opts.isnKey).digest() : randomBytes(16);
    this.cookies = opts.synCookies === false ? null : new SynCookies(cookieKey);
    this.rstLimit = new TokenBucket(opts.rstRateLimit ?? 200);
    // Random like Linux, but derived from a given ISN key so simulations replay exactly.
    const r = opts.isnKey !== undefined && opts.isnKey.length >= 4 ? opts.isnKey.readUInt32BE(0) / 2 ** 32 : Math.random();
    this.nextEphemeral = EPHEMERAL_LOW + Math.floor(r * (EPHEMERAL_HIGH - EPHEMERAL_LOW));
    this.defer = opts.defer ?? process.nextTick;
    this.link.onReceive = (packets, trusted) => this.receiveBatch(packets, trusted);
    // The stack itself does not keep the process alive; its sockets, servers
    // and unfinished orphans do (holdRef), or stack.ref().
    this.link.unref?.();
  }

  /** The clock, read once per receive batch: the packets of a batch arrived
   * together, and one reading serves them all at the timers' granularity. */
  now(): number {
    return this.batchNow >= 0 ? this.batchNow : this.clock.now();
  }

  get mtu(): number {
    return this.link.mtu;
  }

  /** Entry point for every batch the link delivers. */
  receiveBatch(packets: Buffer[], trusted?: Uint8Array, loopback = false): void {
    if (this.closed) return;
    const merged = this.acks.merged;
    this.acks.begin();
    this.batchNow = this.clock.now();
    for (let i = 0; i < packets.length; i++) {
      let error: unknown;
      try {
        this.receive(packets[i]!, trusted !== undefined && trusted[i] === 1, loopback);
      } catch (err) {
        // A bug of ours, never the peer's fault: count it, report it once, go on.
        error = err;
        this.counters.inc('stack_internal_error');
        if (!this.reportedInternalError && this.afterReceive === null) {
          this.reportedInternalError = true;
          process.emitWarning(`tuntcp: internal error on a received packet: ${(err as Error).stack ?? String(err)}`);
        }
      }
      this.afterReceive?.(packets[i]!, error);
    }
    this.batchNow = -1;
    this.acks.end((ep) => ep.removed);
    if (this.acks.merged > merged) this.counters.inc('tcp_acks_coalesced', this.acks.merged - merged);
  }

  /** `trusted`: the link vouches for the TCP checksum (Link.offload).
   * `loopback`: a packet we sent to ourselves (see loopback()). */
  private receive(packet: Buffer, trusted: boolean, loopback: boolean): void {
    this.counters.inc('ip_in');
    // The kernel sends IPv6 (router solicitations) on any new link: not ours to parse.
    if (packet.length > 0 && packet[0]! >> 4 === 6) return this.drop('ipv6_ignored');
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string') return this.drop(ip);
    if (!loopback && isLoopbackNet(ip.src)) return this.drop('ip_martian_source'); // RFC 1122 §3.2.1.3 (g)
    if (ip.dst !== this.addr && !(loopback && isLoopbackNet(ip.dst))) return this.drop('ip_not_for_us');
    switch (ip.protocol) {
      case IPPROTO_TCP: {
        const seg = decodeTcp(ip, !trusted);
        if (typeof seg === 'string') return this.drop(seg);
        this.counters.inc('tcp_in');
        if (trusted && seg.payload.length > this.tcpConfig.mss) this.counters.inc('tcp_gso_in'); // a super-segment (offload)
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

  /** TCP demultiplexing: a connection, else a listener, else a reset. */
  private tcpInput(ip: IPv4Packet, seg: TcpSegment): void {
    let ep = this.lastEp;
    if (ep === null || ep.remotePort !== seg.srcPort || ep.localPort !== seg.dstPort || ep.remoteAddr !== ip.src) {
      ep = this.endpoints.get(endpointKey(ip.src, seg.srcPort, seg.dstPort)) ?? null;
      this.lastEp = ep;
    }
    if (ep !== null) {
      // A new SYN for a 4-tuple in TIME_WAIT with a higher sequence number
      // opens a new connection (RFC 9293 §3.6.1 note; Linux does the same).
      const c = ep.conn;
      const listener = c.state === 'TIME_WAIT' ? this.listeners.get(seg.dstPort) : undefined;
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
    const listener = this.listeners.get(seg.dstPort);
    if (listener !== undefined) return this.listenInput(ip, seg, listener);
    this.sendResetFor(ip, seg);
  }

  /** RFC 9293 §3.10.7.2: LISTEN state. */
  private listenInput(ip: IPv4Packet, seg: TcpSegment, l: Listener, iss?: number): void {
    if (seg.flags & TCP_RST) return this.drop('tcp_rst_to_listener');
    if (seg.flags & TCP_ACK) {
      // An ACK may complete a handshake we answered with a SYN cookie (RFC 4987 §3.6).
      const cookieTime = this.cookies !== null && !(seg.flags & TCP_SYN) && this.now() - l.cookieSentAt < COOKIE_VALID;
      return cookieTime ? this.cookieAckInput(ip, seg, l) : this.sendResetFor(ip, seg);
    }
    if (!(seg.flags & TCP_SYN)) return this.drop('tcp_no_syn_to_listener');
    const now = this.now();
    const cfg = l.tcp ? { ...this.tcpConfig, ...l.tcp } : this.tcpConfig;
    if (l.pending >= l.backlog) {
      if (this.cookies === null) return this.drop('tcp_listen_overflow');
      // The SYN queue is full: answer with a cookie and keep nothing (Linux tcp_syncookies=1).
      l.cookieSentAt = now;
      this.counters.inc('tcp_syncookies_sent');
      const isn = this.cookies.make(now, ip, seg);
      this.sendTcp(ip.src, { srcPort: l.port, dstPort: seg.srcPort, ...cookieSynAck(cfg, seg, isn, now) }, undefined, 0, ip.dst);
      return;
    }
    const conn = new Connection(cfg, iss ?? this.isnGen.isn(now, ip.dst, l.port, ip.src, seg.srcPort), now, this.counters);
    const ep = this.addPassive(conn, ip, seg, l);
    conn.acceptSyn(seg, now);
    this.flush(ep);
  }

  /** An ACK for a listener with no connection, while it sends cookies: build the connection or reset. */
  private cookieAckInput(ip: IPv4Packet, seg: TcpSegment, l: Listener): void {
    const now = this.now();
    const cfg = l.tcp ? { ...this.tcpConfig, ...l.tcp } : this.tcpConfig;
    const mss = this.cookies!.validate(now, ip, seg);
    const syn = mss > 0 ? cookieSynOptions(seg, mss, cfg) : null;
    if (syn === null) {
      this.counters.inc('tcp_syncookies_failed');
      return this.sendResetFor(ip, seg);
    }
    this.counters.inc('tcp_syncookies_recv');
    const conn = new Connection(cfg, seqAdd(seg.ack, -1), now, this.counters);
    const ep = this.addPassive(conn, ip, seg, l);
    conn.acceptCookie(seg, syn, now);
    this.flush(ep);
  }

  /** Enter a passive connection in the table, counted in the listener's queue
   * until its 'established' event hands it over (dispatch). */
  private addPassive(conn: Connection, ip: IPv4Packet, seg: TcpSegment, l: Listener): TcpEndpoint {
    const ep = new TcpEndpoint(this, conn, ip.dst, l.port, ip.src, seg.srcPort);
    ep.listener = l;
    l.pending++;
    this.endpoints.set(ep.key, ep);
    this.lastEp = null; // never a stale connection for this 4-tuple
    this.counters.inc('tcp_passive_opens');
    return ep;
  }

  /** Start listening on `port` (0 picks an ephemeral port). */
  openListener(port: number, backlog: number, onConnection: (ep: TcpEndpoint) => void, tcp?: Partial<TcpConfig>): Listener {
    this.checkOpen('listen');
    if (port === 0) port = this.pickEphemeralPort(null);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StackError('ERR_SOCKET_BAD_PORT', `port ${port} is out of range`);
    if (this.listeners.has(port)) throw new StackError('EADDRINUSE', `listen EADDRINUSE: address already in use ${this.addr}:${port}`);
    const l: Listener = { port, backlog: Math.max(1, backlog), pending: 0, cookieSentAt: -Infinity, onConnection, tcp };
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
    const port = localPort ?? this.pickEphemeralPort(remoteAddr, remotePort);
    if (this.endpoints.has(endpointKey(remoteAddr, remotePort, port))) {
      throw new StackError('EADDRINUSE', `connect EADDRINUSE ${this.addr}:${port}`);
    }
    const now = this.now();
    const cfg = tcp ? { ...this.tcpConfig, ...tcp } : this.tcpConfig;
    // Like Linux: a connection to 127.x comes from 127.0.0.1, and stays inside the stack.
    const local = isLoopbackNet(remoteAddr) ? '127.0.0.1' : this.addr;
    const conn = new Connection(cfg, this.isnGen.isn(now, local, port, remoteAddr, remotePort), now, this.counters);
    const ep = new TcpEndpoint(this, conn, local, port, remoteAddr, remotePort);
    this.endpoints.set(ep.key, ep);
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
  private pickEphemeralPort(remoteAddr: string | null, remotePort = 0): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_LOW + ((this.nextEphemeral - EPHEMERAL_LOW + i) % span);
      if (this.listeners.has(port)) continue;
      if (remoteAddr === null ? this.portInUse(port) : this.endpoints.has(endpointKey(remoteAddr, remotePort, port))) continue;
      this.nextEphemeral = port + 1 > EPHEMERAL_HIGH ? EPHEMERAL_LOW : port + 1;
      return port;
    }
    throw new StackError('EADDRNOTAVAIL', 'connect EADDRNOTAVAIL: no free local port');
  }

  private portInUse(port: number): boolean {
    for (const ep of this.endpoints.values()) if (ep.localPort === port) return true;
    return false;
  }

  /** Every connection the stack knows, TIME_WAIT included (for netstat). */
  connections(): IterableIterator<TcpEndpoint> {
    return this.endpoints.values();
  }

  listening(): IterableIterator<Listener> {
    return this.listeners.values();
  }

  observeState(o: StateObserver): void {
    this.stateObservers.push(o);
  }

  /**
   * Send what a connection produced, do the stack's own part of its events
   * (listeners, the connection table), re-arm its timer, and queue the
   * events for its owner. Owners (user code) run on the next tick, after the
   * packet or call has been processed completely: a handler that throws
   * reaches the process as an uncaught exception, like a throwing listener
   * on a net.Socket, and can neither corrupt the stack nor lose its events.
   */
  flush(ep: TcpEndpoint): void {
    if (ep.flushing) return;
    ep.flushing = true;
    const c = ep.conn;
    try {
      while (c.out.length > 0 || c.events.length > 0) {
        if (c.out.length > 0) {
          const segs = c.out.splice(0);
          for (const seg of segs) this.sendSegment(ep, seg);
        }
        if (c.events.length > 0) {
          const evs = c.events.splice(0);
          for (const ev of evs) this.dispatch(ep, ev);
        }
      }
    } finally {
      ep.flushing = false;
    }
    this.reschedule(ep);
    if (this.deliveries.length > 0 && !this.deliveryScheduled) {
      this.deliveryScheduled = true;
      this.defer(this.deliverNow);
    }
  }

  private dispatch(ep: TcpEndpoint, ev: ConnEvent): void {
    if (ev.type === 'state') {
      for (const o of this.stateObservers) o(ep, ev.from, ev.to, ev.cause);
      if (ep.holdsRef && (ev.to === 'FIN_WAIT_2' || ev.to === 'TIME_WAIT' || ev.to === 'CLOSED')) this.releaseOrphan(ep);
    } else if (ev.type === 'established' && ep.listener !== null) {
      const l = ep.listener;
      ep.listener = null;
      l.pending--;
      if (this.listeners.get(l.port) === l) ep.acceptBy = l;
      else ep.conn.abort(this.now()); // the server closed meanwhile: refuse like Linux
    } else if (ev.type === 'closed') {
      this.removeEndpoint(ep);
    }
    if (ep.handler !== null || ep.acceptBy !== null) this.deliveries.push(ep, ev);
  }

  /** Hand queued events to their owners, in order. */
  private deliver(): void {
    this.deliveryScheduled = false;
    while (this.deliveries.length > 0) {
      const batch = this.deliveries;
      this.deliveries = [];
      let i = 0;
      try {
        for (; i < batch.length; i += 2) {
          const ep = batch[i] as TcpEndpoint;
          const ev = batch[i + 1] as ConnEvent;
          if (ev.type === 'established' && ep.acceptBy !== null) {
            const l = ep.acceptBy;
            ep.acceptBy = null;
            if (this.listeners.get(l.port) === l) l.onConnection(ep);
            else if (!ep.removed) ep.abort();
          }
          ep.handler?.onEvent(ev);
        }
      } finally {
        if (i < batch.length) {
          // A handler threw: the rest still goes out, on the next tick.
          this.deliveries = batch.slice(i + 2).concat(this.deliveries);
          if (this.deliveries.length > 0 && !this.deliveryScheduled) {
            this.deliveryScheduled = true;
            this.defer(this.deliverNow);
          }
        }
      }
    }
  }

  // ------------------------------------------------------------ keep-alive

  /** A socket, server or orphan that keeps the process alive (Node's ref'd handle). */
  holdRef(): void {
    if (++this.refs === 1) this.updateRef();
  }

  releaseRef(): void {
    if (--this.refs === 0) this.updateRef();
  }

  /** Keep the process alive while the stack is open, even with no sockets (a host that only answers ping). */
  ref(): this {
    if (!this.stackRef) {
      this.stackRef = true;
      this.holdRef();
    }
    return this;
  }

  unref(): this {
    if (this.stackRef) {
      this.stackRef = false;
      this.releaseRef();
    }
    return this;
  }

  private updateRef(): void {
    if (this.closed) return;
    if (this.refs > 0) this.link.ref?.();
    else this.link.unref?.();
  }

  /** EndpointOwner: the handler let go; an orphan with data or FIN in flight keeps the process alive. */
  orphaned(ep: TcpEndpoint): void {
    const s = ep.conn.state;
    if (!ep.holdsRef && !ep.removed && s !== 'FIN_WAIT_2' && s !== 'TIME_WAIT' && s !== 'CLOSED') {
      ep.holdsRef = true;
      this.holdRef();
    }
  }

  private releaseOrphan(ep: TcpEndpoint): void {
    if (!ep.holdsRef) return;
    ep.holdsRef = false;
    this.releaseRef();
  }

  private removeEndpoint(ep: TcpEndpoint): void {
    if (ep.removed) return;
    ep.removed = true;
    this.releaseOrphan(ep);
    if (this.lastEp === ep) this.lastEp = null;
    if (ep.listener !== null) {
      ep.listener.pending--;
      ep.listener = null;
    }
    if (this.endpoints.get(ep.key) === ep) this.endpoints.delete(ep.key);
    if (ep.timer !== null) this.clock.cancel(ep.timer);
    ep.timer = null;
    ep.timerAt = Infinity;
  }

  /** One heap entry per connection, moved only when its deadline comes earlier. */
  private reschedule(ep: TcpEndpoint): void {
    if (ep.removed) return;
    const d = ep.conn.nextDeadline();
    if (d >= ep.timerAt) return; // the armed timer fires first and re-arms
    if (ep.timer !== null) this.clock.cancel(ep.timer);
    ep.timerAt = d;
    ep.timer = this.clock.at(d, () => {
      ep.timer = null;
      ep.timerAt = Infinity;
      if (ep.removed) return;
      ep.conn.onTimer(this.now());
      this.flush(ep);
    });
  }

  private sendSegment(ep: TcpEndpoint, seg: OutSegment): void {
    this.acks.offer(ep, seg);
  }

  private transmitSegment(ep: TcpEndpoint, seg: OutSegment): void {
    if (seg.flags & TCP_RST) this.counters.inc('tcp_rst_sent');
    this.sendTcp(
      ep.remoteAddr,
      { srcPort: ep.localPort, dstPort: ep.remotePort, seq: seg.seq, ack: seg.ack, flags: seg.flags, window: seg.window, options: seg.options },
      seg.payload,
      seg.gsoSize,
      ep.localAddr,
    );
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
    // Rate-limited like FreeBSD's badport_bandlim: a flood of stray segments
    // gets few answers. Not a RST to ourselves (loopback): it never leaves
    // the host, and a local client connecting to a closed port must be
    // refused at once, not after its SYN's first retransmission.
    const toSelf = ip.src === this.addr || isLoopbackNet(ip.src);
    if (!toSelf && !this.rstLimit.take(this.now())) return this.counters.inc('tcp_rst_ratelimited');
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
    this.sendTcp(ip.src, tcp, undefined, 0, ip.dst);
  }

  /** Build and send one TCP segment from `src` (our address) to `dst`. With
   * offload the device completes the checksum and cuts a super-segment
   * (gsoSize > 0) into segments of gsoSize bytes. */
  sendTcp(dst: string, tcp: TcpFields, payload?: Buffer, gsoSize = 0, src = this.addr): void {
    if (this.closed) return;
    const local = dst === this.addr || isLoopbackNet(dst);
    const ipf: IPv4Fields = { src, dst, protocol: IPPROTO_TCP, ttl: this.ttl, id: this.nextIpId(), dontFragment: true };
    const n = writeTcpPacket(this.txHeader, ipf, tcp, payload, this.offload && !local);
    this.counters.inc('tcp_out');
    this.counters.inc('ip_out');
    const header = (this.txViews[n] ??= this.txHeader.subarray(0, n));
    if (local) return this.loopback(joinPacket(header, payload));
    if (gsoSize > 0) this.counters.inc('tcp_gso_out');
    this.link.send(header, payload, gsoSize);
  }

  /**
   * Packets to ourselves (127.0.0.0/8 or our own address) never touch the
   * link, as on Linux's lo: they come back in as one batch a moment later,
   * through the same receive path. So connect({ host: 'localhost' }) reaches
   * the stack's own listeners, like node:net on a host.
   */
  private loopback(packet: Buffer): void {
    this.counters.inc('ip_loopback');
    this.loopQueue.push(packet);
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    this.clock.at(this.clock.now(), () => {
      this.loopScheduled = false;
      const batch = this.loopQueue;
      this.loopQueue = [];
      this.receiveBatch(batch, undefined, true);
    });
  }

  private loopQueue: Buffer[] = [];
  private loopScheduled = false;

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

  /**
   * Stop, as a host's sockets stop when their process exits: listeners go
   * away, every connection is closed like close(2) (FIN after its queued
   * data, RST if received data is unread), and for up to `linger` ms the
   * connections finish their exchange (both FINs through). Whatever is
   * still unfinished then is reset, so no peer is left half-open, and the
   * link closes. `linger: 0` resets unfinished connections at once (like
   * SO_LINGER 0) and closes the link before returning. Resolves once the
   * link is closed; calling again returns the same promise.
   */
  close(opts: { linger?: number } = {}): Promise<void> {
    if (this.closing !== null) return this.closing;
    const linger = Math.max(0, opts.linger ?? 1000);
    this.listeners.clear();
    this.releaseAll(linger > 0);
    if (linger === 0 || !this.hasUnfinished()) {
      this.shutdown();
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.holdRef(); // the wait keeps the process alive
    const deadline = this.clock.now() + linger;
    this.closing = new Promise<void>((resolve) => {
      const check = (): void => {
        const now = this.clock.now();
        if (now < deadline && this.hasUnfinished()) {
          this.clock.at(Math.min(deadline, now + 10), check);
          return;
        }
        this.shutdown();
        resolve();
      };
      check();
    });
    return this.closing;
  }

  /** Close(2) every connection that still has an owner or none yet (SYN_RECEIVED). */
  protected releaseAll(graceful: boolean): void {
    for (const ep of [...this.endpoints.values()]) {
      if (ep.conn.orphaned) continue;
      if (graceful) ep.release();
      else ep.abort();
    }
  }

  /** Whether any connection is still unfinished (see unfinished()). */
  private hasUnfinished(): boolean {
    for (const ep of this.endpoints.values()) if (unfinished(ep)) return true;
    return false;
  }

  /** Reset what is unfinished, forget everything, close the link. */
  private shutdown(): void {
    if (this.closed) return;
    for (const ep of [...this.endpoints.values()]) {
      if (unfinished(ep)) ep.abort();
      this.removeEndpoint(ep);
    }
    this.closed = true;
    this.link.close();
  }

  private closing: Promise<void> | null = null;
}

/** 127.0.0.0/8, the loopback net: never seen on a link (RFC 1122 §3.2.1.3 (g)). */
function isLoopbackNet(addr: string): boolean {
  return addr.startsWith('127.');
}

/**
 * Not through yet: our FIN unacknowledged, or the peer's not seen. An orphan
 * in FIN_WAIT_2 counts: Linux would keep it and RST the peer's next data,
 * which nobody can once this stack is gone, so it is reset at the end.
 */
function unfinished(ep: TcpEndpoint): boolean {
  const s = ep.conn.state;
  return s !== 'TIME_WAIT' && s !== 'CLOSED';
}

/** SEG.LEN: payload octets plus one for SYN and one for FIN (RFC 9293 §3.4). */
export function segmentLength(seg: TcpSegment): number {
  return seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
}
