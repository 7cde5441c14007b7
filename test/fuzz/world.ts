/**
 * The fuzzer's world: a victim stack and a legitimate peer stack joined by an
 * in-memory link in virtual time, with the victim's connections driven into
 * many states by real traffic from the peer (ESTABLISHED with data both ways,
 * a zero window either way, out-of-order data held, CLOSE_WAIT, FIN_WAIT_1/2,
 * CLOSING, LAST_ACK, TIME_WAIT, SYN_SENT, SYN_RECEIVED) before the fuzzer
 * (fuzzer.ts) injects packets into the victim's receive path.
 *
 * Applications sit directly on the endpoints (no node:stream Socket), so
 * everything is synchronous and replays exactly from the seed. States that
 * need a silent peer come from a filter on the victim's link: a blackholed
 * peer port never hears from the victim again, and a "hole" drops one peer
 * segment (and its retransmissions) so the data after it stays out of order.
 * Both stacks have an IPv6 address too, and three planned connections
 * (bulk6, close-wait6, client6) run over IPv6.
 */
import { createHash, type Hash } from 'node:crypto';
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { TapLink } from '../../src/link/tap.js';
import { Prng } from '../../src/link/prng.js';
import type { Link } from '../../src/link/link.js';
import { NetStack } from '../../src/socket/net-stack.js';
import type { Stack } from '../../src/stack/stack.js';
import type { EndpointHandler, TcpEndpoint } from '../../src/stack/endpoint.js';
import type { ConnEvent } from '../../src/tcp/connection.js';
import type { TcpConfig } from '../../src/tcp/config.js';
import type { TcpState } from '../../src/tcp/state.js';

export const PEER_ADDR = '10.0.0.1';
export const VICTIM_ADDR = '10.0.0.2';
/** The same hosts over IPv6 (ULA, RFC 4193): some planned connections use these. */
export const PEER_ADDR6 = 'fd00::1';
export const VICTIM_ADDR6 = 'fd00::2';
/** Victim listeners: a plain one, one with a tiny SYN queue, one with a small receive buffer. */
export const LISTEN_PORTS = [80, 81, 82] as const;
/** Peer listener the victim connects to; nothing listens on SYN_SENT_PORT (its SYN is blackholed). */
const PEER_LISTEN_PORT = 9000;
const SYN_SENT_PORT = 9001;
/** Fuzz-made connections the victim's server keeps before it aborts the oldest. */
const MAX_STRANGERS = 32;

export type Role =
  | 'guarded' | 'bulk' | 'zero-window-peer' | 'zero-window-victim' | 'out-of-order' | 'close-wait' | 'fin-wait-2'
  | 'time-wait' | 'fin-wait-1' | 'last-ack' | 'closing' | 'syn-received' | 'client' | 'syn-sent'
  | 'bulk6' | 'close-wait6' | 'client6';

/** The state each planned connection of the victim should be in when fuzzing starts. */
export const ROLE_STATE: Record<Role, TcpState> = {
  guarded: 'ESTABLISHED', bulk: 'ESTABLISHED', 'zero-window-peer': 'ESTABLISHED', 'zero-window-victim': 'ESTABLISHED',
  'out-of-order': 'ESTABLISHED', 'close-wait': 'CLOSE_WAIT', 'fin-wait-2': 'FIN_WAIT_2', 'time-wait': 'TIME_WAIT',
  'fin-wait-1': 'FIN_WAIT_1', 'last-ack': 'LAST_ACK', closing: 'CLOSING', 'syn-received': 'SYN_RECEIVED',
  client: 'ESTABLISHED', 'syn-sent': 'SYN_SENT', bulk6: 'ESTABLISHED', 'close-wait6': 'CLOSE_WAIT', client6: 'ESTABLISHED',
};

/** Roles whose peer side opens the connection, in port order from PEER_PORT_BASE. */
const PASSIVE_ROLES: Role[] = [
  'guarded', 'bulk', 'zero-window-peer', 'zero-window-victim', 'out-of-order', 'close-wait', 'fin-wait-2',
  'time-wait', 'fin-wait-1', 'last-ack', 'closing', 'syn-received', 'syn-received', 'bulk6', 'close-wait6',
];
/** Passive roles the peer opens over IPv6. */
const IPV6_ROLES = new Set<Role>(['bulk6', 'close-wait6', 'client6']);
/** The peer's address for a role's connection. */
export const peerAddrOf = (role: Role): string => (IPV6_ROLES.has(role) ? PEER_ADDR6 : PEER_ADDR);
const PEER_PORT_BASE = 40000;

/** One side's application: reads (or not), writes a seeded pattern, hashes what it moves. */
export class App implements EndpointHandler {
  rxBytes = 0;
  txBytes = 0;
  ended = false;
  closed = false;
  error: string | null = null;
  reading = true;
  closeOnEnd = false;
  private readonly rxHash: Hash | null;
  private readonly txHash: Hash | null;

  constructor(
    readonly ep: TcpEndpoint,
    readonly role: Role | 'stranger',
    private readonly pattern: Buffer,
    hashing: boolean,
  ) {
    ep.handler = this;
    this.rxHash = hashing ? createHash('sha256') : null;
    this.txHash = hashing ? createHash('sha256') : null;
  }

  onEvent(ev: ConnEvent): void {
    switch (ev.type) {
      case 'readable':
        if (this.reading) this.drain();
        break;
      case 'end':
        this.ended = true;
        if (this.reading) this.drain();
        if (this.closeOnEnd) this.ep.close();
        break;
      case 'error':
        this.error = ev.code;
        break;
      case 'closed':
        this.closed = true;
        break;
      default:
        break;
    }
  }

  drain(): void {
    for (const b of this.ep.read()) {
      this.rxBytes += b.length;
      this.rxHash?.update(b);
    }
  }

  /** Write `n` bytes of the pattern from `at`; false when the send buffer is full or the TCB is gone. */
  write(n: number, at: number): boolean {
    if (this.closed) return false;
    const start = at % (this.pattern.length - n);
    const chunk = this.pattern.subarray(start, start + n);
    this.txHash?.update(chunk);
    this.txBytes += n;
    return this.ep.write(chunk);
  }

  get queued(): number {
    return this.ep.conn.bufferedToSend;
  }

  digests(): { rx: string; tx: string } {
    return { rx: this.rxHash?.digest('hex') ?? '', tx: this.txHash?.digest('hex') ?? '' };
  }
}

/** A wrapper around the victim's link: blackholed peer ports and one held hole. */
export class FilterLink implements Link {
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  /** Peer ports that never hear from the victim again (a peer gone silent). */
  readonly blackholed = new Set<number>();
  /** One peer segment (peer port, first sequence number) dropped every time it is sent. */
  hole: { port: number; seq: number } | null = null;
  /** Packets the victim sent through here, and per peer port (to name the talkers of a storm). */
  sent = 0;
  private readonly byPort = new Map<number, number>();

  constructor(private readonly inner: Link) {
    inner.onReceive = (packets, trusted) => {
      const h = this.hole;
      this.onReceive?.(h === null ? packets : packets.filter((p) => !isHole(p, h)), trusted);
    };
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  get offload(): boolean {
    return this.inner.offload === true;
  }

  send(header: Buffer, payload?: Buffer, gsoSize?: number): void {
    // The stack's own headers have no IP options or extension headers: the TCP destination port is at 22 (IPv6: 42).
    const port = header[0]! >> 4 === 6 ? (header[6] === 6 ? header.readUInt16BE(42) : -1) : header[9] === 6 ? header.readUInt16BE(22) : -1;
    if (this.blackholed.size > 0 && this.blackholed.has(port)) return;
    this.sent++;
    this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
    this.inner.send(header, payload, gsoSize);
  }

  /** The peer ports the victim sent most packets to since the last call. */
  topTalkers(): string {
    const top = [...this.byPort].sort((a, b) => b[1] - a[1]).slice(0, 3);
    this.byPort.clear();
    return top.map(([port, n]) => `${n} to port ${port}`).join(', ');
  }

  close(): void {
    this.inner.close();
  }
}

function isHole(p: Buffer, h: { port: number; seq: number }): boolean {
  if (p.length < 40 || p[9] !== 6) return false;
  const ihl = (p[0]! & 15) * 4;
  if (p.length < ihl + 20) return false;
  const payload = p.readUInt16BE(2) - ihl - (p[ihl + 12]! >> 4) * 4;
  return p.readUInt16BE(ihl) === h.port && p.readUInt32BE(ihl + 4) === h.seq && payload > 0;
}

export interface Planned {
  role: Role;
  /** The victim's side. */
  victim: App;
  /** The peer's side (absent while it is not established on the peer). */
  peer: App | null;
}

export interface WorldOptions {
  /** ISNs just below 2^32 so sequence numbers wrap inside the fuzzed windows. */
  wrapIsns?: boolean;
}

/** Recorded peer segments per 4-tuple (peer port > victim port), the mutation corpus. */
export type Corpus = Map<string, Buffer[]>;
const CORPUS_PER_TUPLE = 8;

export class World {
  readonly clock = new VirtualClock(1_000_000);
  readonly victim: NetStack;
  readonly peer: NetStack;
  readonly filter: FilterLink;
  readonly tap: TapLink;
  readonly planned: Planned[] = [];
  readonly strangers: App[] = [];
  readonly corpus: Corpus = new Map();
  readonly pattern: Buffer;
  private readonly peerApps = new Map<number, App>();
  private writes = 0;

  constructor(
    private readonly rng: Prng,
    opts: WorldOptions = {},
  ) {
    this.pattern = Buffer.alloc(64 * 1024);
    for (let i = 0; i < this.pattern.length; i += 4) this.pattern.writeUInt32BE((rng.next() * 2 ** 32) >>> 0, i);
    const [lp, lv] = createMemoryPair({ clock: this.clock, latencyMs: 1, mtu: 1500 });
    this.filter = new FilterLink(lv);
    this.tap = new TapLink(this.filter);
    this.tap.observe((dir, header) => {
      if (dir === 'in') this.record(header);
    });
    const key = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) key[i] = rng.int(256);
    const cc = rng.chance(50) ? 'cubic' : 'newreno';
    // Everything here runs synchronously on the virtual clock: owners' events too.
    const defer = (fn: () => void): void => void this.clock.at(this.clock.now(), fn);
    this.victim = new NetStack({ link: this.tap, addr: VICTIM_ADDR, addr6: VICTIM_ADDR6, clock: this.clock, isnKey: key, tcp: { cc }, defer });
    this.peer = new NetStack({ link: lp, addr: PEER_ADDR, addr6: PEER_ADDR6, clock: this.clock, isnKey: key, defer });
    if (opts.wrapIsns === true) {
      for (const s of [this.victim, this.peer]) wrapIsns(s, rng.int(2 ** 16));
    }
    this.build();
  }

  /** The victim's endpoint of a planned role (the first one if there are several). */
  planOf(role: Role): Planned | undefined {
    return this.planned.find((p) => p.role === role);
  }

  get guarded(): Planned {
    return this.planOf('guarded')!;
  }

  private record(packet: Buffer): void {
    // IPv6: the peer's own packets carry no extension headers, TCP sits at 40.
    const v6 = packet.length >= 60 && packet[0]! >> 4 === 6 && packet[6] === 6;
    if (!v6 && (packet.length < 40 || packet[9] !== 6 || packet[0]! >> 4 !== 4)) return;
    const ihl = v6 ? 40 : (packet[0]! & 15) * 4;
    const k = `${packet.readUInt16BE(ihl)}>${packet.readUInt16BE(ihl + 2)}`;
    let list = this.corpus.get(k);
    if (list === undefined) this.corpus.set(k, (list = []));
    if (list.length >= CORPUS_PER_TUPLE) list.splice(this.rng.int(list.length), 1);
    list.push(Buffer.from(packet)); // the link may reuse its buffer
  }

  private build(): void {
    const { victim, peer, rng } = this;
    const byPeerPort = new Map<number, Role>();
    const onVictimConn = (ep: TcpEndpoint): void => {
      const byPort = byPeerPort.get(ep.remotePort);
      const role = byPort !== undefined && ep.remoteAddr === peerAddrOf(byPort) ? byPort : undefined;
      if (role === undefined) return this.stranger(ep);
      const app = new App(ep, role, this.pattern, role === 'guarded');
      app.reading = role !== 'zero-window-victim';
      this.planned.push({ role, victim: app, peer: this.peerApps.get(ep.remotePort) ?? null });
    };
    victim.openListener(80, 16, onVictimConn);
    victim.openListener(81, 2, onVictimConn);
    victim.openListener(82, 4, onVictimConn, { rcvBuf: 16 * 1024 });
    peer.openListener(PEER_LISTEN_PORT, 16, (ep) => {
      const role = ep.remoteAddr === VICTIM_ADDR6 ? 'client6' : 'client';
      const app = new App(ep, role, this.pattern, false);
      const p = this.planned.find((x) => x.role === role);
      if (p !== undefined) p.peer = app;
    });

    // The peer opens the passive roles, guarded first.
    PASSIVE_ROLES.forEach((role, i) => {
      const port = PEER_PORT_BASE + i;
      byPeerPort.set(port, role);
      const tcp = randomOptions(rng);
      if (role === 'zero-window-peer') tcp.rcvBuf = 8 * 1024;
      if (role === 'syn-received') this.filter.blackholed.add(port);
      const ep = peer.openConnection(IPV6_ROLES.has(role) ? VICTIM_ADDR6 : VICTIM_ADDR, role === 'zero-window-victim' ? 82 : 80, port, tcp);
      const app = new App(ep, role, this.pattern, role === 'guarded');
      app.reading = role !== 'zero-window-peer';
      app.closeOnEnd = role === 'time-wait';
      this.peerApps.set(port, app);
    });
    // The victim opens three: one completes over each family, one keeps sending SYNs into a blackhole.
    const client = victim.openConnection(PEER_ADDR, PEER_LISTEN_PORT);
    this.planned.push({ role: 'client', victim: new App(client, 'client', this.pattern, false), peer: null });
    const client6 = victim.openConnection(PEER_ADDR6, PEER_LISTEN_PORT);
    this.planned.push({ role: 'client6', victim: new App(client6, 'client6', this.pattern, false), peer: null });
    this.filter.blackholed.add(SYN_SENT_PORT);
    const synSent = victim.openConnection(PEER_ADDR, SYN_SENT_PORT);
    this.planned.push({ role: 'syn-sent', victim: new App(synSent, 'syn-sent', this.pattern, false), peer: null });
    this.clock.advance(20);

    // SYN_RECEIVED endpoints never reach the listener's callback: find them in the table.
    for (const ep of victim.connections()) {
      if (ep.conn.state === 'SYN_RECEIVED' && byPeerPort.get(ep.remotePort) === 'syn-received') {
        this.planned.push({ role: 'syn-received', victim: new App(ep, 'syn-received', this.pattern, false), peer: null });
      }
    }
    const p = (role: Role): Planned | undefined => this.planOf(role);
    const write = (app: App | null | undefined, n: number): void => {
      if (app) app.write(n, this.writes++ * 7919);
    };
    for (const role of ['guarded', 'bulk', 'client', 'bulk6', 'client6'] as const) {
      write(p(role)?.victim, 16 * 1024);
      write(p(role)?.peer, 16 * 1024);
    }
    write(p('zero-window-peer')?.victim, 48 * 1024);
    write(p('zero-window-victim')?.peer, 48 * 1024);
    p('client')?.victim.ep.setKeepAlive(5_000);
    const ooo = p('out-of-order')?.peer;
    if (ooo) {
      this.filter.hole = { port: ooo.ep.localPort, seq: ooo.ep.conn.sndNxt };
      write(ooo, 6000);
    }
    write(p('close-wait')?.peer, 2000);
    p('close-wait')?.peer?.ep.close();
    write(p('close-wait6')?.peer, 2000);
    p('close-wait6')?.peer?.ep.close();
    write(p('fin-wait-2')?.victim, 1000);
    p('fin-wait-2')?.victim.ep.close();
    p('time-wait')?.victim.ep.close();
    const fw1 = p('fin-wait-1');
    if (fw1) this.filter.blackholed.add(fw1.victim.ep.remotePort);
    write(fw1?.victim, 4000);
    fw1?.victim.ep.close();
    p('last-ack')?.peer?.ep.close();
    const closing = p('closing');
    if (closing) this.filter.blackholed.add(closing.victim.ep.remotePort);
    closing?.victim.ep.close();
    this.clock.advance(1);
    closing?.peer?.ep.close();
    this.clock.advance(30);
    const la = p('last-ack');
    if (la) {
      this.filter.blackholed.add(la.victim.ep.remotePort);
      la.victim.ep.close();
    }
    this.clock.advance(30);
  }

  /** A connection a fuzzed handshake made: the server reads it and closes at the end. */
  private stranger(ep: TcpEndpoint): void {
    const app = new App(ep, 'stranger', this.pattern, false);
    app.closeOnEnd = true;
    this.strangers.push(app);
    if (this.strangers.length > MAX_STRANGERS) this.strangers.shift()!.ep.abort();
  }

  /** The legitimate applications go on: data both ways where their roles send it. */
  pump(): void {
    const n = 256 + this.rng.int(4 * 1024);
    const at = this.writes++ * 7919;
    for (const p of this.planned) {
      if (p.victim.closed) continue;
      switch (p.role) {
        case 'guarded':
        case 'bulk':
        case 'client':
        case 'bulk6':
        case 'client6':
          if (p.victim.queued < 64 * 1024) p.victim.write(n, at);
          if (p.peer !== null && !p.peer.closed && p.peer.queued < 64 * 1024) p.peer.write(n, at + 1);
          break;
        case 'close-wait':
        case 'close-wait6':
          if (p.victim.queued < 8 * 1024) p.victim.write(n >> 3, at);
          break;
        case 'fin-wait-2':
          if (p.peer !== null && !p.peer.closed && p.peer.queued < 8 * 1024) p.peer.write(n >> 3, at);
          break;
        default:
          break;
      }
    }
  }

  /**
   * Liveness after fuzzing: both applications of the guarded connection send
   * their last bytes and close; within `limitMs` of virtual time each must
   * have read exactly what the other wrote (SHA-256) and seen its FIN.
   * Returns null or what went wrong.
   */
  finishGuarded(limitMs: number): string | null {
    const g = this.guarded;
    const v = g.victim;
    const pr = g.peer;
    if (pr === null) return 'guarded connection never established on the peer';
    v.write(1000, 1);
    pr.write(1000, 2);
    v.ep.close();
    pr.ep.close();
    const done = (): boolean => (v.ended && pr.ended) || v.error !== null || pr.error !== null;
    this.clock.run(limitMs, done);
    if (v.error !== null || pr.error !== null) return `guarded connection failed: victim ${v.error ?? 'ok'}, peer ${pr.error ?? 'ok'}`;
    if (!done()) {
      return (
        `guarded transfer not finished after ${limitMs} ms: victim ${v.ep.conn.state} read ${v.rxBytes}/${pr.txBytes}, ` +
        `peer ${pr.ep.conn.state} read ${pr.rxBytes}/${v.txBytes}`
      );
    }
    v.drain();
    pr.drain();
    if (v.rxBytes !== pr.txBytes || pr.rxBytes !== v.txBytes) {
      return `guarded byte counts differ: victim read ${v.rxBytes} of ${pr.txBytes}, peer read ${pr.rxBytes} of ${v.txBytes}`;
    }
    const dv = v.digests();
    const dp = pr.digests();
    if (dv.rx !== dp.tx) return `guarded data corrupted peer -> victim: sha256 ${dv.rx.slice(0, 16)} != ${dp.tx.slice(0, 16)}`;
    if (dp.rx !== dv.tx) return `guarded data corrupted victim -> peer: sha256 ${dp.rx.slice(0, 16)} != ${dv.tx.slice(0, 16)}`;
    return null;
  }
}

/** Each option on or off at random, so the victim runs with every combination. */
function randomOptions(rng: Prng): Partial<TcpConfig> {
  // The peer asks for ECN on half of them (the victim accepts, as Linux's tcp_ecn=2).
  return { timestamps: rng.chance(75), sack: rng.chance(75), windowScaling: rng.chance(75), ecn: rng.chance(50) ? 'on' : 'passive' };
}

/**
 * Make a stack's ISNs lie within 2^16 + a few bytes below 2^32, so the first
 * few dozen kilobytes of every connection cross the wrap (the exact-segment
 * tests do the same). The stack keeps its generator private; this is a test's
 * lever, replacing it on one instance.
 */
function wrapIsns(s: Stack, base: number): void {
  const gen = { isn: (_now: number, _la: string, lp: number, _ra: string, rp: number): number => (2 ** 32 - 1 - ((base + lp * 31 + rp) % 60_000)) >>> 0 };
  (s as unknown as { isnGen: typeof gen }).isnGen = gen;
}

export type { Stack };
