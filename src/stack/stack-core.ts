/**
 * The connections' side of the host, which Stack (stack.ts: validation,
 * demultiplexing, listeners, RSTs) extends: the connection table, what a
 * connection produced sent out (plain ACKs coalesced per receive batch), its
 * events taken care of and handed to its owner, one timer entry per
 * connection, the references that keep the process alive, and close().
 */
import type { Link } from '../link/link.js';
import { RealClock, type Clock } from './clock.js';
import { Counters } from './counters.js';
import { ipToNumber, IPPROTO_TCP, type IPv4Fields } from '../wire/ipv4.js';
import { writeTcpPacket, writeTcpPacket6, TCP_RST, type TcpFields } from '../wire/tcp.js';
import { ip6ToBytes, ip6ToString } from '../wire/ipv6.js';
import type { ConnEvent, OutSegment } from '../tcp/connection.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../tcp/config.js';
import { ECN_ECT0 } from '../tcp/ecn.js';
import type { TcpState } from '../tcp/state.js';
import { EndpointTable, type TcpEndpoint, type Listener } from './endpoint.js';
import { AckCoalescer } from './ack-coalescer.js';
import { joinPacket } from '../link/link.js';

export type StateObserver = (ep: TcpEndpoint, from: TcpState, to: TcpState, cause: string) => void;
/** A connection's congestion control changed its own state (ConnEvent 'cc'). */
export type CcObserver = (ep: TcpEndpoint, cause: string) => void;
export type RecoveryObserver = (ep: TcpEndpoint, phase: 'open' | 'recovery' | 'loss', cause: string) => void;
/** Called after every input a connection processed (segment, timer, user call),
 * to read its TCB (cwnd, ssthresh, RCV.WND, RTO) for the pictures. */
export type TcbObserver = (ep: TcpEndpoint, now: number) => void;

export interface StackOptions {
  link: Link;
  /** Our IPv4 address. */
  addr: string;
  /** Our IPv6 address (text); absent: IPv6 is off and IPv6 packets are dropped (ipv6_ignored). */
  addr6?: string;
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
  /** Connections in TIME_WAIT at most (Linux tcp_max_tw_buckets); beyond, a
   * connection that would enter TIME_WAIT is forgotten at once. */
  maxTimeWait?: number;
  /** Orphans with data or FIN in flight at most (Linux tcp_max_orphans);
   * beyond, a socket closed with data in flight is reset. */
  maxOrphans?: number;
  /** Local ports of active opens, [low, high] (Linux ip_local_port_range,
   * default 32768-60999). Shards of one device (src/shard/) get disjoint
   * ranges, so that a local port names the shard that owns its connection. */
  ephemeralPorts?: readonly [number, number];
}

/** Linux's tcp_max_tw_buckets and tcp_max_orphans on a machine with a few GiB or more. */
export const MAX_TIME_WAIT = 131_072;
export const MAX_ORPHANS = 131_072;

export abstract class StackCore {
  readonly counters = new Counters();
  readonly clock: Clock;
  readonly addr: string;
  /** addr as a 32-bit number. */
  protected readonly addrIp: number;
  /** Our IPv6 address in ip6ToString's text, or null when IPv6 is off. */
  readonly addr6: string | null;
  /** addr6's 16 bytes (zeros when IPv6 is off). */
  protected readonly addr6Bytes: Buffer;
  /** The settings of IPv6 connections: tcpConfig with MSS = MTU - 60 (RFC 8200 §8.3). */
  readonly tcpConfig6: TcpConfig;
  readonly link: Link;
  /** The link completes TCP checksums and cuts super-segments (Link.offload). */
  private readonly offload: boolean;
  readonly ttl: number;
  /** Reused for every header we send: the link copies what it keeps. */
  private readonly txHeader = Buffer.alloc(20 + 60);
  /** The fields of the segment being sent (transmitSegment) and its IPv4 header (sendTcp):
   * filled in per segment, not made per segment. */
  private readonly txTcp: TcpFields = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, options: undefined, tsVal: undefined, tsEcr: undefined, sack: undefined };
  private readonly txIpv4: IPv4Fields = { src: 0, dst: 0, protocol: IPPROTO_TCP, ttl: 64, id: 0, dontFragment: true, tos: 0 };
  /** Views of txHeader by length, made once: a header is 40..80 bytes. */
  private readonly txViews: Buffer[] = [];
  /** The same for IPv6: 40-byte fixed header, TCP header up to 60. */
  private readonly txHeader6 = Buffer.alloc(40 + 60);
  private readonly txViews6: Buffer[] = [];
  private ipId = 0;
  /** now() for the batch being processed, or -1 outside one. */
  private batchNow = -1;
  private readonly cTcpOut = this.counters.slot('tcp_out');
  private readonly cIpOut = this.counters.slot('ip_out');
  /** The connection the previous packet went to: bulk flows send runs of packets to one. */
  protected lastEp: TcpEndpoint | null = null;
  private readonly acks = new AckCoalescer<TcpEndpoint>((ep, seg) => this.transmitSegment(ep, seg));
  protected closed = false;
  readonly tcpConfig: TcpConfig;
  protected readonly endpoints = new EndpointTable();
  /** Shards (src/shard/balance.ts): a connection left the table. */
  endpointRemoved: ((ep: TcpEndpoint) => void) | null = null;
  protected readonly listeners = new Map<number, Listener>();
  private readonly stateObservers: StateObserver[] = [];
  private readonly ccObservers: CcObserver[] = [];
  private readonly recoveryObservers: RecoveryObserver[] = [];
  /** Null unless tracing: one check per flush when off. */
  private tcbObserver: TcbObserver | null = null;
  /** Events for owners, as (endpoint, event) pairs, delivered on the next tick. */
  private deliveries: Array<TcpEndpoint | ConnEvent> = [];
  private deliveryScheduled = false;
  private readonly deliverNow = (): void => this.deliver();
  private readonly defer: (fn: () => void) => void;
  /** Things that keep the process alive, like Node's ref'd handles. */
  private refs = 0;
  /** Connections in TIME_WAIT and orphans in flight, against their bounds. */
  private timeWaitCount = 0;
  private orphanCount = 0;
  private readonly maxTimeWait: number;
  private readonly maxOrphans: number;
  private stackRef = false;

  constructor(opts: StackOptions) {
    this.link = opts.link;
    this.addr = opts.addr;
    this.addrIp = ipToNumber(opts.addr);
    const a6 = opts.addr6 === undefined ? null : ip6ToBytes(opts.addr6);
    if (opts.addr6 !== undefined && a6 === null) throw new TypeError(`not an IPv6 address: ${opts.addr6}`);
    this.addr6Bytes = a6 ?? Buffer.alloc(16);
    this.addr6 = a6 === null ? null : ip6ToString(a6, 0);
    this.clock = opts.clock ?? new RealClock();
    this.ttl = opts.ttl ?? 64;
    this.offload = this.link.offload === true;
    // With offload a data segment may be as large as an IPv4 packet allows
    // (TSO); the device cuts it into MSS-sized pieces where it must.
    const gsoMax = this.offload ? 65535 - 20 - 60 : 0;
    this.tcpConfig = { ...DEFAULT_TCP_CONFIG, mss: this.link.mtu - 40, gsoMax, ...opts.tcp };
    this.tcpConfig6 = { ...this.tcpConfig, mss: Math.min(this.tcpConfig.mss, this.link.mtu - 60), ipv6: true };
    this.defer = opts.defer ?? process.nextTick;
    this.maxTimeWait = opts.maxTimeWait ?? MAX_TIME_WAIT;
    this.maxOrphans = opts.maxOrphans ?? MAX_ORPHANS;
    // The stack itself does not keep the process alive; its sockets, servers
    // and unfinished orphans do (holdRef), or stack.ref().
    this.link.unref?.();
  }

  /** The receive path (Stack): loopback() hands our packets to ourselves back to it. */
  abstract receiveBatch(packets: Buffer[], trusted?: Uint8Array, loopback?: boolean): void;

  /** The clock, read once per receive batch: the packets of a batch arrived
   * together, and one reading serves them all at the timers' granularity. */
  now(): number {
    return this.batchNow >= 0 ? this.batchNow : this.clock.now();
  }

  get mtu(): number {
    return this.link.mtu;
  }

  /** A receive batch begins: the clock is read once, plain ACKs are held
   * (ack-coalescer.ts). Returns the merge count so far, for endBatch. */
  protected beginBatch(): number {
    const merged = this.acks.merged;
    this.acks.begin();
    this.batchNow = this.clock.now();
    return merged;
  }

  /** The batch is processed: the newest held ACK of each connection leaves. */
  protected endBatch(merged: number): void {
    this.batchNow = -1;
    this.acks.end((ep) => ep.removed);
    if (this.acks.merged > merged) this.counters.inc('tcp_acks_coalesced', this.acks.merged - merged);
  }

  /** Every connection the stack knows, TIME_WAIT included (for netstat). */
  connections(): IterableIterator<TcpEndpoint> {
    return this.endpoints.values();
  }

  /** How many connections() there are. */
  get connectionCount(): number {
    return this.endpoints.size;
  }

  listening(): IterableIterator<Listener> {
    return this.listeners.values();
  }

  observeState(o: StateObserver): void {
    this.stateObservers.push(o);
  }

  observeCc(o: CcObserver): void {
    this.ccObservers.push(o);
  }

  /** Loss recovery's phase changes and undos (tcp/recovery.ts), for --explain. */
  observeRecovery(o: RecoveryObserver): void {
    this.recoveryObservers.push(o);
  }

  /** Read every connection's TCB after each input it processed (one observer; null: off). */
  observeTcb(o: TcbObserver | null): void {
    this.tcbObserver = o;
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
        // What was queued when each loop began; what those add waits for the
        // next turn. Indexed loops and dropFirst: no array or iterator per flush.
        if (c.out.length > 0) {
          const n = c.out.length;
          for (let i = 0; i < n; i++) this.sendSegment(ep, c.out[i]!);
          dropFirst(c.out, n);
        }
        if (c.events.length > 0) {
          const n = c.events.length;
          for (let i = 0; i < n; i++) this.dispatch(ep, c.events[i]!);
          dropFirst(c.events, n);
        }
      }
    } finally {
      ep.flushing = false;
    }
    if (this.tcbObserver !== null) this.tcbObserver(ep, this.now());
    this.reschedule(ep);
    if (this.deliveries.length > 0 && !this.deliveryScheduled) {
      this.deliveryScheduled = true;
      this.defer(this.deliverNow);
    }
  }

  private dispatch(ep: TcpEndpoint, ev: ConnEvent): void {
    if (ev.type === 'cc') {
      for (const o of this.ccObservers) o(ep, ev.cause);
      return; // for observers only, not the owner
    }
    if (ev.type === 'recovery') {
      // Observers only (--explain); owners never see it.
      for (const o of this.recoveryObservers) o(ep, ev.phase, ev.cause);
      return;
    }
    if (ev.type === 'state') {
      for (const o of this.stateObservers) o(ep, ev.from, ev.to, ev.cause);
      if (ev.to === 'TIME_WAIT' && !ep.inTimeWait) this.enterTimeWait(ep);
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
    if (this.refs > 0) {
      this.link.ref?.();
      this.clock.ref?.();
    } else {
      this.link.unref?.();
      this.clock.unref?.();
    }
  }

  /** EndpointOwner: the handler let go; an orphan with data or FIN in flight keeps the process alive. */
  orphaned(ep: TcpEndpoint): void {
    const s = ep.conn.state;
    if (!ep.holdsRef && !ep.removed && s !== 'FIN_WAIT_2' && s !== 'TIME_WAIT' && s !== 'CLOSED') {
      if (this.orphanCount >= this.maxOrphans) {
        // Linux tcp_close -> tcp_check_oom: too many orphans, this one is reset.
        this.counters.inc('tcp_orphan_overflow');
        ep.conn.abort(this.now(), 'too many orphans: RST (Linux tcp_max_orphans)');
        return;
      }
      ep.holdsRef = true;
      this.orphanCount++;
      this.holdRef();
    }
  }

  private releaseOrphan(ep: TcpEndpoint): void {
    if (!ep.holdsRef) return;
    ep.holdsRef = false;
    this.orphanCount--;
    this.releaseRef();
  }

  /**
   * TIME_WAIT holds a whole TCB for 2*MSL, and a peer that makes us close
   * first (a request the server answers and closes) can fill memory with
   * them: past maxTimeWait the connection is forgotten at once, as Linux
   * does ("time wait bucket table overflow", TCPTimeWaitOverflow).
   */
  private enterTimeWait(ep: TcpEndpoint): void {
    if (this.timeWaitCount >= this.maxTimeWait) {
      this.counters.inc('tcp_tw_overflow');
      ep.conn.skipTimeWait(this.now());
      return;
    }
    this.timeWaitCount++;
    ep.inTimeWait = true;
  }

  protected removeEndpoint(ep: TcpEndpoint): void {
    if (ep.removed) return;
    ep.removed = true;
    this.releaseOrphan(ep);
    if (ep.inTimeWait) this.timeWaitCount--;
    if (this.lastEp === ep) this.lastEp = null;
    if (ep.listener !== null) {
      ep.listener.pending--;
      ep.listener = null;
    }
    this.endpoints.remove(ep);
    if (ep.timer !== null) this.clock.cancel(ep.timer);
    ep.timer = null;
    ep.timerAt = Infinity;
    this.endpointRemoved?.(ep);
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
    // One TcpFields for every segment (written out before the next one is built).
    const tcp = this.txTcp;
    tcp.srcPort = ep.localPort;
    tcp.dstPort = ep.remotePort;
    tcp.seq = seg.seq;
    tcp.ack = seg.ack;
    tcp.flags = seg.flags;
    tcp.window = seg.window;
    tcp.tsVal = seg.tsVal;
    tcp.tsEcr = seg.tsEcr;
    tcp.sack = seg.sack;
    // The list only when there are no fixed fields (reading it builds it: options.ts).
    tcp.options = seg.tsVal === undefined && seg.sack === undefined ? seg.options : undefined;
    if (ep.v6) {
      // RFC 3168 §5 via the traffic class's ECN bits (RFC 8200 §7).
      return this.sendTcp6(ep.remote6!, tcp, seg.payload, seg.gsoSize, ep.local6!, seg.ect === true ? ECN_ECT0 : 0, ep.flowLabel);
    }
    // IP_TOS's bits above ECN's (Linux keeps a TCP socket's ECN bits its own).
    const tos = (ep.conn.cfg.tos & ~3) | (seg.ect === true ? ECN_ECT0 : 0);
    this.sendTcp(ep.remoteIp, tcp, seg.payload, seg.gsoSize, ep.localIp, tos, ep.conn.cfg.pmtuDiscovery);
  }

  /** Build and send one TCP segment from `src` (our address) to `dst`, both
   * as 32-bit numbers. With offload the device completes the checksum and
   * cuts a super-segment (gsoSize > 0) into segments of gsoSize bytes.
   * `tos`: the IPv4 TOS byte (ECT(0) for an ECN connection's new data);
   * `df`: Don't Fragment (clear for IP_MTU_DISCOVER's IP_PMTUDISC_DONT). */
  sendTcp(dst: number, tcp: TcpFields, payload?: Buffer, gsoSize = 0, src = this.addrIp, tos = 0, df = true): void {
    if (this.closed) return;
    const local = dst === this.addrIp || isLoopbackIp(dst);
    const ipf = this.txIpv4;
    ipf.src = src;
    ipf.dst = dst;
    ipf.ttl = this.ttl;
    ipf.id = this.nextIpId();
    ipf.tos = tos;
    ipf.dontFragment = df;
    const n = writeTcpPacket(this.txHeader, ipf, tcp, payload, this.offload && !local);
    this.counters.add(this.cTcpOut);
    this.counters.add(this.cIpOut);
    const header = (this.txViews[n] ??= this.txHeader.subarray(0, n));
    if (local) return this.loopback(joinPacket(header, payload));
    if (gsoSize > 0) this.counters.inc('tcp_gso_out');
    this.link.send(header, payload, gsoSize);
  }

  /**
   * sendTcp over IPv6, from `src` to `dst` (16 bytes each): `tc` the traffic
   * class (its ECN bits), `flowLabel` the connection's (RFC 6437). With
   * offload the device completes the checksum and cuts super-segments as for
   * IPv4; the link tells the two apart by the version nibble.
   */
  sendTcp6(dst: Uint8Array, tcp: TcpFields, payload?: Buffer, gsoSize = 0, src: Uint8Array = this.addr6Bytes, tc = 0, flowLabel = 0): void {
    if (this.closed) return;
    const local = this.isLocal6(dst, 0);
    const n = writeTcpPacket6(this.txHeader6, { src, dst, hopLimit: this.ttl, trafficClass: tc, flowLabel }, tcp, payload, this.offload && !local);
    this.counters.add(this.cTcpOut);
    this.counters.inc('ip6_out');
    const header = (this.txViews6[n] ??= this.txHeader6.subarray(0, n));
    if (local) return this.loopback(joinPacket(header, payload));
    if (gsoSize > 0) this.counters.inc('tcp_gso_out');
    this.link.send(header, payload, gsoSize);
  }

  /** Whether the IPv6 address at p[off] is ours or ::1 (a packet to it stays in the stack). */
  protected isLocal6(p: Uint8Array, off: number): boolean {
    return isLoopback6(p, off) || (this.addr6 !== null && equal16(p, off, this.addr6Bytes));
  }

  /** Send a complete IPv6 packet we built elsewhere (ICMPv6): to ourselves through loopback. */
  sendRaw6(packet: Buffer): void {
    if (this.closed) return;
    this.counters.inc('ip6_out');
    if (packet.length >= 40 && this.isLocal6(packet, 24)) return this.loopback(packet);
    this.link.send(packet);
  }

  /**
   * Packets to ourselves (127.0.0.0/8, ::1 or our own addresses) never touch the
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

  protected nextIpId(): number {
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
    this.onShutdown();
    this.link.close();
  }

  /** What a subclass holds beyond connections (timers of its own) is let go here. */
  protected onShutdown(): void {}

  protected closing: Promise<void> | null = null;
}

/** ::1 (RFC 4291 §2.5.3) at p[off]. */
export function isLoopback6(p: Uint8Array, off: number): boolean {
  for (let i = 0; i < 15; i++) if (p[off + i] !== 0) return false;
  return p[off + 15] === 1;
}

/** The 16 bytes at p[off] equal `a`. */
export function equal16(p: Uint8Array, off: number, a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (p[off + i] !== a[i]) return false;
  return true;
}

/** 127.0.0.0/8, the loopback net: never seen on a link (RFC 1122 §3.2.1.3 (g)). */
export function isLoopbackIp(addr: number): boolean {
  return addr >>> 24 === 127;
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

/** Remove the first `n` items in place. Popping them all keeps V8's backing
 * store for the next pushes, where splice(0) and `length = 0` allocate a new
 * one (about 150 bytes per flush, that is per received segment). */
function dropFirst<T>(a: T[], n: number): void {
  if (n < a.length) {
    a.splice(0, n);
    return;
  }
  while (a.length > 0) a.pop();
}
