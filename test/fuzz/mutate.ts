/**
 * Structure-aware packet mutations for the fuzzer. A TCP packet starts from a
 * real segment the peer sent on that 4-tuple (recorded by the world's tap) or
 * from the TCB's own variables, and its fields are then replaced by values
 * that matter to TCP: every flag combination, sequence and acknowledgment
 * numbers at and around the window edges and across the wrap, every option
 * kind with good and bad lengths, SACK blocks inside, outside and reversed,
 * timestamps older and newer than TS.Recent. It is built with the stack's own
 * encoder (wire/tcp.ts), and some packets are then damaged at the byte level:
 * data offset, IPv4 header fields and options, fragments, truncation at every
 * layer, bit flips. ICMP errors quote the victim's own segments of live
 * connections, with sequence numbers at the edges of SND.UNA..SND.NXT and
 * next-hop MTUs from 0 to 65535, so they reach RFC 5927's checks and the
 * path MTU code. Checksums are recomputed most of the time so that the
 * damage reaches TCP, but not always. A share of the packets are IPv6
 * (mutate6.ts): the same TCP mutations to the IPv6 connections and listeners,
 * and what only IPv6 has (extension headers, its fragments, ICMPv6).
 *
 * Every choice is drawn from one seeded PRNG, and counted in `seen` so a run
 * can show what it covered.
 */
import { Prng } from '../../src/link/prng.js';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import type { Connection } from '../../src/tcp/connection.js';
import { decodeIPv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, setIPv4Checksum, writeIPv4Header } from '../../src/wire/ipv4.js';
import { buildIcmpPacket, ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST } from '../../src/wire/icmp.js';
import {
  buildTcpPacket, decodeTcp, setTcpChecksum, tcpOptionLength, tcpOptionsLength,
  TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG,
  readTcp6, type TcpFields, type TcpOption, type TcpSegment,
} from '../../src/wire/tcp.js';
import { ip6ToString } from '../../src/wire/ipv6.js';
import { seqSub } from '../../src/wire/seq.js';
import { LISTEN_PORTS, PEER_ADDR, PEER_ADDR6, VICTIM_ADDR, VICTIM_ADDR6, type World } from './world.js';
import { Ipv6Mutator, setUpperChecksum6 } from './mutate6.js';
import { rcvEdge, rcvWnd } from './tcb-view.js';

export interface Injected {
  packet: Buffer;
  /** What the generator did, for the failure report. */
  how: string;
  /** Meant to be accepted (a flood of pieces or SACK blocks): not defused on planned connections. */
  keep?: boolean;
}

/** A TCP packet before it becomes bytes: the encoder's fields, and what it cannot say. */
interface Spec extends TcpFields {
  src: string;
  dst: string;
  urgent: number;
  options: TcpOption[];
  /** Option index -> length byte to write over the encoder's (bad lengths). */
  lenPatch: Map<number, number>;
  payload: Buffer;
  ttl: number;
  tos: number;
  dontFragment: boolean;
}

const U32 = 2 ** 32;
const INTERESTING_FLAGS = [
  TCP_SYN, TCP_SYN | TCP_ACK, TCP_RST, TCP_RST | TCP_ACK, TCP_FIN | TCP_ACK, TCP_SYN | TCP_FIN, TCP_RST | TCP_SYN,
  TCP_FIN, TCP_ACK, TCP_PSH | TCP_ACK, TCP_URG | TCP_ACK, TCP_ECE | TCP_CWR | TCP_ACK, TCP_SYN | TCP_ECE | TCP_CWR,
  TCP_FIN | TCP_PSH | TCP_URG, 0, 0xff, TCP_RST | TCP_FIN, TCP_SYN | TCP_RST | TCP_ACK,
];
/** Option kinds the stack does not know (MD5, user timeout, TCP-AO, MPTCP, Fast Open, experiments, ...). */
const UNKNOWN_KINDS = [6, 7, 9, 10, 11, 12, 13, 14, 15, 19, 27, 28, 29, 30, 34, 69, 253, 254, 255];
/** Sequence numbers tried, named for the coverage counts (values in Mutator.seqEdge, same order). */
const SEQ_EDGES = [
  'seq:rcv.nxt-1', 'seq:rcv.nxt', 'seq:rcv.nxt+1', 'seq:rcv.nxt+wnd-1', 'seq:rcv.nxt+wnd', 'seq:rcv.nxt+wnd+1',
  'seq:fits-at-edge', 'seq:1-beyond-edge', 'seq:old', 'seq:overlap-1', 'seq:overlap-half', 'seq:irs', 'seq:irs+1',
  'seq:wrap', 'seq:wrap-1', 'seq:zero', 'seq:max', 'seq:mid-window', 'seq:far', 'seq:edge', 'seq:small-delta', 'seq:rcv.nxt',
  // Only when an out-of-order piece [a, b) was picked:
  'seq:ooo-start', 'seq:ooo-start-1', 'seq:ooo-end', 'seq:ooo-end-len', 'seq:ooo-inside',
];
/** Acknowledgment numbers tried (values in Mutator.ackEdge, same order). */
const ACK_EDGES = [
  'ack:snd.una-1', 'ack:snd.una', 'ack:snd.una+1', 'ack:snd.nxt-1', 'ack:snd.nxt', 'ack:snd.nxt+1', 'ack:una-maxwnd',
  'ack:una-maxwnd-1', 'ack:una-maxwnd+1', 'ack:iss', 'ack:iss+1', 'ack:mid-flight', 'ack:wrap', 'ack:wrap-back',
  'ack:zero', 'ack:max', 'ack:nxt+64k', 'ack:snd.una', 'ack:snd.nxt',
];
/** Source ports of the fuzzer's own "clients": few, so later packets hit the connections earlier ones made. */
const STRANGER_PORTS = 16;
const STRANGER_PORT_BASE = 50000;
/** Window-sized payloads stop here: larger ones only cost checksum time. */
const MAX_PAYLOAD = 20_000;

export class Mutator {
  /** How often each kind of choice was made (coverage). */
  readonly seen = new Map<string, number>();
  /** TCP packets built, by their flag byte. */
  readonly flagsSeen = new Uint32Array(256);
  private readonly pattern: Buffer;
  /** Share of connection packets that are sprinkles or SACK floods (flood epochs: many). */
  floodRate = 0.09;
  /** Connections that get a good part of all packets in flood epochs: sprinkles, SACK floods. */
  focusPieces: TcpEndpoint | null = null;
  focusSack: TcpEndpoint | null = null;
  /** Recorded packets decoded once (they never change). */
  private readonly decoded = new WeakMap<Buffer, Spec | null>();
  private readonly v6: Ipv6Mutator;

  constructor(
    private readonly rng: Prng,
    private readonly world: World,
  ) {
    this.pattern = world.pattern;
    this.v6 = new Ipv6Mutator({
      rng, note: (k) => this.note(k), pick: (a) => this.pick(a), chance: (p) => this.chance(p), u32: () => this.u32(),
    });
  }

  private note(k: string): void {
    this.seen.set(k, (this.seen.get(k) ?? 0) + 1);
  }

  private pick<T>(a: readonly T[]): T {
    return a[this.rng.int(a.length)]!;
  }

  private chance(p: number): boolean {
    return this.rng.next() < p;
  }

  private u32(): number {
    return (this.rng.next() * U32) >>> 0;
  }

  /** One packet for the victim; `eps` are its live endpoints, `planned` those the world made on purpose. */
  next(eps: readonly TcpEndpoint[], planned: readonly TcpEndpoint[]): Injected {
    // The rest of a train of IPv6 fragments first.
    const queued = this.v6.queue.shift();
    if (queued !== undefined) return queued;
    if (this.chance(0.12)) return this.ipv6(eps);
    const r = this.rng.next();
    if (r < 0.15 && this.focusPieces !== null && !this.focusPieces.removed) return this.forConnection(this.focusPieces, 'focus', 'sprinkle');
    if (r < 0.3 && this.focusSack !== null && !this.focusSack.removed) return this.forConnection(this.focusSack, 'focus', 'sack');
    if (r < 0.4 && planned.length > 0) return this.forConnection(this.pick(planned));
    if (r < 0.68 && eps.length > 0) return this.forConnection(this.pick(eps));
    if (r < 0.78) return this.forListener(eps);
    if (r < 0.8) return this.forClosedPort();
    if (r < 0.82 && eps.length > 0) return this.icmpErrorFor(this.pick(eps));
    if (r < 0.9) return this.replay();
    return this.other();
  }

  /** An IPv6 packet: to an IPv6 connection, a listener or a closed port, or not TCP. */
  private ipv6(eps: readonly TcpEndpoint[]): Injected {
    const eps6 = eps.filter((e) => e.remoteAddr.includes(':'));
    const r = this.rng.next();
    if (r < 0.45 && eps6.length > 0) {
      this.note('target:conn6');
      return this.forConnection(this.pick(eps6), 'conn6');
    }
    if (r < 0.6) return this.forListener(eps, true);
    if (r < 0.65) return this.forClosedPort(true);
    return this.v6.other(eps6);
  }

  /** Packets for the 4-tuple of one endpoint (what `forConnection` starts from). */
  forConnection(ep: TcpEndpoint, why = 'conn', mode?: 'sprinkle' | 'sack'): Injected {
    const c = ep.conn;
    const base = this.baseFor(ep);
    const s: Spec = base ?? this.synthesize(ep);
    // The corpus is keyed by ports alone: the addresses (and family) are the endpoint's.
    s.src = ep.remoteAddr;
    s.dst = ep.localAddr;
    this.note(`target:${c.state}`);
    const name = `${why} ${c.state} :${ep.remotePort}>${ep.localPort}${base ? '' : ' (synth)'}`;
    const r = mode === 'sprinkle' ? 0 : mode === 'sack' ? 0.9 : this.rng.next() / this.floodRate;
    if (r < 0.65) return { ...this.finish(this.sprinkle(s, c), `${name} sprinkle`), keep: true };
    if (r < 1) return { ...this.finish(this.sackFlood(s, c), `${name} sack flood`), keep: true };
    return this.finish(this.mutateTcp(s, c), name);
  }

  /**
   * A small piece of data somewhere inside the window, with everything else
   * right: many of them make the receiver hold many out-of-order pieces
   * (reassembly.ts must stay bounded and fast).
   */
  private sprinkle(s: Spec, c: Connection): Spec {
    this.note('mode:sprinkle');
    const wnd = rcvWnd(c);
    const len = 1 + this.rng.int(this.chance(0.5) ? 4 : 64);
    s.seq = (c.rcvNxt + 1 + this.rng.int(Math.max(1, wnd - len))) >>> 0;
    s.ack = c.sndUna;
    s.flags = TCP_ACK | (this.chance(0.3) ? TCP_PSH : 0) | (this.chance(0.05) ? TCP_FIN : 0);
    const at = this.rng.int(this.pattern.length - len);
    s.payload = this.pattern.subarray(at, at + len);
    s.options = c.ts.enabled ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: c.ts.recent, ecr: c.ts.value(this.world.clock.now()) }] : [];
    return s;
  }

  /**
   * An ACK at SND.UNA whose SACK blocks cover one byte here and there of the
   * data in flight: many of them fragment the sender's scoreboard (sack.ts).
   */
  private sackFlood(s: Spec, c: Connection): Spec {
    this.note('mode:sack-flood');
    const flight = Math.max(1, seqSub(c.sndNxt, c.sndUna));
    const n = c.ts.enabled ? 3 : 4;
    const blocks: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const a = (c.sndUna + 1 + this.rng.int(flight)) >>> 0;
      blocks.push([a, (a + 1 + this.rng.int(3)) >>> 0]);
    }
    s.seq = c.rcvNxt;
    s.ack = c.sndUna;
    s.flags = TCP_ACK;
    s.payload = Buffer.alloc(0);
    s.options = [
      ...(c.ts.enabled ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: c.ts.recent, ecr: c.ts.value(this.world.clock.now()) }] as TcpOption[] : []),
      { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks },
    ];
    return s;
  }

  /** A recorded peer segment on this 4-tuple, decoded. */
  private baseFor(ep: TcpEndpoint): Spec | null {
    if (ep.remoteAddr !== PEER_ADDR && ep.remoteAddr !== PEER_ADDR6) return null;
    const list = this.world.corpus.get(`${ep.remotePort}>${ep.localPort}`);
    if (list === undefined || list.length === 0) return null;
    return this.specOf(this.pick(list));
  }

  private specOf(packet: Buffer): Spec | null {
    let t = this.decoded.get(packet);
    if (t === undefined) this.decoded.set(packet, (t = this.decode(packet)));
    return t === null ? null : { ...t, options: [...t.options], lenPatch: new Map() };
  }

  private decode(packet: Buffer): Spec | null {
    if (packet[0]! >> 4 === 6) {
      // The peer's IPv6 segments: no extension headers, TCP at 40.
      const t = readTcp6(packet, 40, packet.length, 0, false);
      if (typeof t === 'string') return null;
      return {
        src: ip6ToString(packet, 8), dst: ip6ToString(packet, 24), srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack,
        flags: t.flags, window: t.window, urgent: t.urgent, options: [...t.options.list], lenPatch: new Map(), payload: t.payload,
        ttl: packet[7]!, tos: ((packet[0]! & 15) << 4) | (packet[1]! >> 4), dontFragment: true,
      };
    }
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string') return null;
    const t = decodeTcp(ip, false);
    if (typeof t === 'string') return null;
    return {
      src: ip.src, dst: ip.dst, srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack, flags: t.flags,
      window: t.window, urgent: t.urgent, options: [...t.options.list], lenPatch: new Map(), payload: t.payload,
      ttl: ip.ttl, tos: ip.tos, dontFragment: ip.dontFragment,
    };
  }

  /** Only the TCB's variables to start from (a 4-tuple the peer never spoke on). */
  private synthesize(ep: TcpEndpoint): Spec {
    const c = ep.conn;
    const options: TcpOption[] = c.ts.enabled ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: c.ts.recent, ecr: c.ts.value(this.world.clock.now()) }] : [];
    return {
      src: ep.remoteAddr, dst: ep.localAddr, srcPort: ep.remotePort, dstPort: ep.localPort, seq: c.rcvNxt, ack: c.sndNxt,
      flags: TCP_ACK, window: 1000, urgent: 0, options, lenPatch: new Map(), payload: Buffer.alloc(0),
      ttl: 64, tos: 0, dontFragment: true,
    };
  }

  /** Replace fields with values that matter to `c` (or to no one, without a TCB). */
  private mutateTcp(s: Spec, c: Connection | null): Spec {
    // Flags: all 256 combinations, the interesting ones more often.
    const f = this.rng.next();
    if (f < 0.35) s.flags = this.rng.int(256);
    else if (f < 0.6) s.flags = this.pick(INTERESTING_FLAGS);
    else if (f < 0.75) s.flags ^= 1 << this.rng.int(8);
    // The payload first: the edges depend on its length.
    const p = this.rng.next();
    const wnd = c !== null ? rcvWnd(c) : 65535;
    let len = s.payload.length;
    if (p < 0.4) len = s.payload.length;
    else if (p < 0.65) len = 0;
    else if (p < 0.8) len = 1 + this.rng.int(1500);
    else if (p < 0.86) len = 1;
    else if (p < 0.9) len = Math.min(wnd, MAX_PAYLOAD);
    else if (p < 0.94) len = Math.min(wnd + 1, MAX_PAYLOAD);
    else if (p < 0.99) len = 1461;
    else len = 1500 + this.rng.int(60_000);
    if (len !== s.payload.length) {
      const at = this.rng.int(this.pattern.length - Math.min(len, this.pattern.length - 1));
      s.payload = len <= this.pattern.length - at ? this.pattern.subarray(at, at + len) : Buffer.alloc(len, 0x5a);
      this.note(`payload:${len === 0 ? 'empty' : len === 1 ? '1' : len > 1500 ? 'huge' : 'some'}`);
    }
    if (c !== null) {
      if (this.chance(0.65)) s.seq = this.seqEdge(c, s.payload.length);
      else if (this.chance(0.1)) s.seq = this.u32();
      if (this.chance(0.65)) s.ack = this.ackEdge(c);
      else if (this.chance(0.1)) s.ack = this.u32();
    } else {
      if (this.chance(0.5)) s.seq = this.u32();
      if (this.chance(0.5)) s.ack = this.chance(0.3) ? 0 : this.u32();
    }
    if (this.chance(0.3)) s.window = this.pick([0, 1, 2, 65535, this.rng.int(65536), (s.window + 1) & 0xffff, (s.window - 1) & 0xffff]);
    if (this.chance(0.1)) s.urgent = this.pick([0, 1, s.payload.length, s.payload.length + 1, 65535, this.rng.int(65536)]);
    const o = this.rng.next();
    if (o < 0.3) this.revalue(s, c);
    else if (o < 0.65) this.generateOptions(s, c);
    else if (o < 0.8) s.options = [];
    else this.linuxOptions(s, c);
    if (this.chance(0.03)) {
      s.ttl = this.pick([0, 1, 255]);
      this.note('ip:ttl');
    }
    if (this.chance(0.03)) {
      s.tos = this.rng.int(256);
      this.note('ip:tos');
    }
    if (this.chance(0.05)) s.dontFragment = false;
    return s;
  }

  private seqEdge(c: Connection, len: number): number {
    const nxt = c.rcvNxt;
    const wnd = rcvWnd(c);
    // Around the out-of-order pieces held, sometimes: overlaps, adjacencies, fills.
    const ranges = this.chance(0.15) ? c.recvBuffer.outOfOrderRanges() : [];
    const [a, b] = ranges.length > 0 ? this.pick(ranges) : [nxt, nxt];
    const i = this.rng.int(ranges.length > 0 ? SEQ_EDGES.length : SEQ_EDGES.length - 5);
    this.note(SEQ_EDGES[i]!);
    const v = [
      nxt - 1, nxt, nxt + 1, nxt + wnd - 1, nxt + wnd, nxt + wnd + 1, nxt + wnd - len, nxt + wnd - len + 1,
      nxt - len - 1, nxt - len + 1, nxt - (len >> 1), c.irs, c.irs + 1, nxt + 2 ** 31, nxt + 2 ** 31 - 1, 0, U32 - 1,
      nxt + (wnd >> 1), nxt + 65536 + this.rng.int(1 << 20), rcvEdge(c), nxt + this.rng.int(7) - 3, nxt,
      a, a - 1, b, b - len, a + 1,
    ][i]!;
    return v >>> 0;
  }

  private ackEdge(c: Connection): number {
    const una = c.sndUna;
    const nxt = c.sndNxt;
    const max = Math.max(c.maxSndWnd, 1);
    const i = this.rng.int(ACK_EDGES.length);
    this.note(ACK_EDGES[i]!);
    const v = [
      una - 1, una, una + 1, nxt - 1, nxt, nxt + 1, una - max, una - max - 1, una - max + 1, c.iss, c.iss + 1,
      una + (seqSub(nxt, una) >> 1), nxt + 2 ** 31, una - 2 ** 31, 0, U32 - 1, nxt + 65536, una, nxt,
    ][i]!;
    return v >>> 0;
  }

  /** Keep the recorded option layout, with new values in the timestamps and SACK blocks. */
  private revalue(s: Spec, c: Connection | null): void {
    this.note('opt:recorded');
    s.options = s.options.map((o) => {
      if (o.kind === 'ts' && this.chance(0.6)) return this.tsOption(c);
      if (o.kind === 'sack' && this.chance(0.6)) return { kind: 'sack', blocks: this.sackBlocks(c, o.blocks.length) };
      return o;
    });
  }

  /** Linux's layout (nop nop TS, nop nop SACK) with edge values: the options that matter most. */
  private linuxOptions(s: Spec, c: Connection | null): void {
    this.note('opt:linux');
    const list: TcpOption[] = [];
    if (this.chance(0.8)) list.push({ kind: 'nop' }, { kind: 'nop' }, this.tsOption(c));
    if (this.chance(0.4)) list.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: this.sackBlocks(c, 1 + this.rng.int(list.length > 0 ? 3 : 4)) });
    s.options = list;
  }

  private tsOption(c: Connection | null): TcpOption {
    const recent = c?.ts.recent ?? this.u32();
    const ours = c !== null ? c.ts.value(this.world.clock.now()) : this.u32();
    const vals: Array<[string, number]> = [
      ['recent-1', recent - 1], ['recent', recent], ['recent+1', recent + 1], ['recent+2^31-1', recent + 2 ** 31 - 1],
      ['recent+2^31', recent + 2 ** 31], ['zero', 0], ['random', this.u32()], ['recent+1000', recent + 1000],
    ];
    const ecrs: Array<[string, number]> = [
      ['zero', 0], ['ours', ours], ['ours+1', ours + 1], ['ours-1', ours - 1], ['ours-100000', ours - 100_000],
      ['ours+2^31', ours + 2 ** 31], ['random', this.u32()],
    ];
    const [vn, val] = this.pick(vals);
    const [en, ecr] = this.pick(ecrs);
    this.note(`tsval:${vn}`);
    this.note(`tsecr:${en}`);
    return { kind: 'ts', val: val >>> 0, ecr: ecr >>> 0 };
  }

  private sackBlocks(c: Connection | null, n: number): Array<[number, number]> {
    const una = c?.sndUna ?? this.u32();
    const nxt = c?.sndNxt ?? una + 10_000;
    const flight = Math.max(1, seqSub(nxt, una));
    const out: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const a = una + this.rng.int(flight);
      const b = a + 1 + this.rng.int(Math.max(1, nxt - a));
      const kinds: Array<[string, [number, number]]> = [
        ['inside', [a, Math.min(b, una + flight)]], ['reversed', [b, a]], ['below', [una - 3000, una - 1000]],
        ['above', [nxt + 1, nxt + 3000]], ['huge', [una, una + 2 ** 31 - 1]], ['all', [una, nxt]],
        ['beyond', [una - 1, nxt + 1]], ['one-byte', [a, a + 1]], ['empty', [a, a]], ['random', [this.u32(), this.u32()]],
        ['spaced', [una + 2 * i + 1, una + 2 * i + 2]],
      ];
      const [name, [l, r]] = this.pick(kinds);
      this.note(`sack:${name}`);
      out.push([l >>> 0, r >>> 0]);
    }
    this.note(`sack-blocks:${n}`);
    return out;
  }

  /** A list of option atoms, each kind with good and bad lengths and values. */
  private generateOptions(s: Spec, c: Connection | null): void {
    const list: TcpOption[] = [];
    const patch = new Map<number, number>();
    const atoms = 1 + this.rng.int(5);
    for (let i = 0; i < atoms; i++) {
      const atom = this.optionAtom(c, patch, list.length);
      if (tcpOptionsLength([...list, ...atom]) > 40) break;
      list.push(...atom);
    }
    // A length byte that runs past the header, or is too small to step over (0 or 1).
    if (this.chance(0.12) && list.length > 0) {
      const i = this.rng.int(list.length);
      const o = list[i]!;
      if (o.kind !== 'nop' && o.kind !== 'eol') {
        let at = 0;
        for (let j = 0; j < i; j++) at += tcpOptionLength(list[j]!);
        const room = tcpOptionsLength(list) - at;
        patch.set(i, this.pick([0, 1, room + 1, room + 2, 255, tcpOptionLength(o) + 1]));
        this.note('opt:len-past-or-tiny');
      }
    }
    s.options = list;
    s.lenPatch = patch;
  }

  private optionAtom(c: Connection | null, patch: Map<number, number>, index: number): TcpOption[] {
    const bad = this.chance(0.25);
    const raw = (code: number, n: number): TcpOption => ({ kind: 'unknown', code, data: Buffer.alloc(n, this.rng.int(256)) });
    switch (this.rng.int(10)) {
      case 0:
        this.note(bad ? 'opt:mss-badlen' : 'opt:mss');
        return [bad ? raw(2, this.pick([0, 1, 3, 4, 8])) : { kind: 'mss', mss: this.pick([0, 1, 64, 536, 1460, 65535, this.rng.int(65536)]) }];
      case 1:
        this.note(bad ? 'opt:wscale-badlen' : 'opt:wscale');
        return [bad ? raw(3, this.pick([0, 2, 3])) : { kind: 'wscale', shift: this.pick([0, 1, 7, 14, 15, 16, 255]) }];
      case 2:
        this.note(bad ? 'opt:sackok-badlen' : 'opt:sackok');
        return [bad ? raw(4, 1 + this.rng.int(3)) : { kind: 'sackOK' }];
      case 3: {
        if (bad) {
          this.note('opt:sack-badlen');
          return [raw(5, this.pick([0, 1, 7, 9, 12, 15]))];
        }
        const n = this.rng.int(6);
        if (n === 0) {
          this.note('opt:sack-0');
          return [raw(5, 0)];
        }
        if (n === 5) {
          // Five blocks take 42 bytes: four written, the length claiming five (past the header).
          this.note('opt:sack-5');
          patch.set(index, 42);
          return [{ kind: 'sack', blocks: this.sackBlocks(c, 4) }];
        }
        this.note(`opt:sack-${n}`);
        return [{ kind: 'sack', blocks: this.sackBlocks(c, n) }];
      }
      case 4:
        this.note(bad ? 'opt:ts-badlen' : 'opt:ts');
        return [bad ? raw(8, this.pick([0, 1, 6, 7, 9, 12])) : this.tsOption(c)];
      case 5:
        this.note('opt:eol');
        return [{ kind: 'eol' }];
      case 6: {
        this.note('opt:nop-run');
        return Array.from({ length: 1 + this.rng.int(bad ? 40 : 4) }, () => ({ kind: 'nop' }) as TcpOption);
      }
      case 7:
        this.note('opt:unknown');
        return [raw(this.pick(UNKNOWN_KINDS), this.rng.int(bad ? 38 : 8))];
      case 8: {
        this.note('opt:syn-set');
        return [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, this.tsOption(c), { kind: 'nop' }, { kind: 'wscale', shift: this.rng.int(16) }];
      }
      default:
        this.note('opt:random-kind');
        return [raw(this.rng.int(256), this.rng.int(12))];
    }
  }

  /** New connections: SYNs (mostly) and everything else to the listening ports. */
  private forListener(eps: readonly TcpEndpoint[], v6 = false): Injected {
    const srcPort = STRANGER_PORT_BASE + this.rng.int(STRANGER_PORTS);
    const dstPort = this.chance(0.95) ? this.pick(LISTEN_PORTS) : this.rng.int(65536);
    const spoofed = this.chance(0.2);
    const host = 3 + this.rng.int(250);
    // Over IPv6 some spoofed sources are IPv4-mapped (::ffff:10.0.0.x): no connection may come of them.
    const mapped = v6 && spoofed && this.chance(0.3);
    if (mapped) this.note('ip6-src:v4-mapped-syn');
    const src = v6 ? (spoofed ? (mapped ? `::ffff:10.0.0.${host}` : `fd00::${host.toString(16)}`) : PEER_ADDR6) : spoofed ? `10.0.0.${host}` : PEER_ADDR;
    // A stranger port already used: that 4-tuple has a connection now, so fuzz it as one.
    const ep = eps.find((e) => e.remotePort === srcPort && e.localPort === dstPort && e.remoteAddr === src);
    if (ep !== undefined && this.chance(0.8)) return this.forConnection(ep, 'stranger');
    this.note(v6 ? 'target:listener6' : 'target:listener');
    const s: Spec = {
      src, dst: v6 ? VICTIM_ADDR6 : VICTIM_ADDR, srcPort, dstPort, seq: this.u32(), ack: 0, flags: TCP_SYN, window: 64240, urgent: 0,
      options: [], lenPatch: new Map(), payload: Buffer.alloc(0), ttl: 64, tos: 0, dontFragment: true,
    };
    this.mutateTcp(s, null);
    if (this.chance(0.6)) s.flags = this.chance(0.8) ? TCP_SYN : s.flags | TCP_SYN;
    if (s.flags & TCP_SYN && this.chance(0.5)) {
      s.options = [{ kind: 'mss', mss: this.pick([0, 1, 88, 536, 1460, 65535]) }, { kind: 'sackOK' }, this.tsOption(null), { kind: 'nop' }, { kind: 'wscale', shift: this.pick([0, 7, 14, 15, 255]) }];
      if (this.chance(0.3)) s.options = s.options.filter(() => this.chance(0.5));
    }
    return this.finish(s, `listener ${src}:${srcPort}>${dstPort}`);
  }

  private forClosedPort(v6 = false): Injected {
    this.note(v6 ? 'target:closed-port6' : 'target:closed-port');
    const s: Spec = {
      src: v6 ? PEER_ADDR6 : PEER_ADDR, dst: v6 ? VICTIM_ADDR6 : VICTIM_ADDR, srcPort: 1 + this.rng.int(65535), dstPort: 1000 + this.rng.int(8000), seq: this.u32(), ack: this.u32(),
      flags: this.rng.int(256), window: this.rng.int(65536), urgent: 0, options: [], lenPatch: new Map(), payload: Buffer.alloc(0),
      ttl: 64, tos: 0, dontFragment: true,
    };
    this.mutateTcp(s, null);
    return this.finish(s, `closed port :${s.srcPort}>${s.dstPort}`);
  }

  /** A real packet again: exactly as it was (an old duplicate), or with its numbers nudged. */
  private replay(): Injected {
    const keys = [...this.world.corpus.keys()];
    if (keys.length === 0) return this.other();
    const list = this.world.corpus.get(this.pick(keys))!;
    const packet = Buffer.from(this.pick(list));
    if (this.chance(0.6)) {
      this.note('replay:exact');
      return { packet, how: 'replay exact' };
    }
    this.note('replay:nudged');
    const v6 = packet[0]! >> 4 === 6;
    const ihl = v6 ? 40 : (packet[0]! & 15) * 4;
    const field = ihl + (this.chance(0.5) ? 4 : 8);
    packet.writeUInt32BE((packet.readUInt32BE(field) + this.rng.int(3001) - 1500) >>> 0, field);
    if (v6) setUpperChecksum6(packet, 40, IPPROTO_TCP);
    else setTcpChecksum(packet);
    return { packet, how: 'replay nudged' };
  }

  /**
   * An ICMP error quoting a segment the victim could have sent on `ep`'s
   * 4-tuple: most of them pass RFC 5927's 4-tuple check, and their quoted
   * sequence number sits at or near the edges of SND.UNA..SND.NXT.
   */
  icmpErrorFor(ep: TcpEndpoint): Injected {
    if (ep.remoteAddr.includes(':')) return this.v6.icmpErrorFor(ep);
    const c = ep.conn;
    const seqs: Array<[string, number]> = [
      ['una', c.sndUna], ['una-1', c.sndUna - 1], ['nxt', c.sndNxt], ['nxt-1', c.sndNxt - 1], ['nxt+1', c.sndNxt + 1],
      ['mid', c.sndUna + ((c.sndNxt - c.sndUna) >>> 1)], ['iss', c.iss], ['random', this.u32()],
    ];
    const [seqName, seq] = this.pick(seqs);
    const kinds: Array<[string, number, number]> = [
      ['frag-needed', ICMP_DEST_UNREACH, 4], ['net-unreach', ICMP_DEST_UNREACH, 0], ['host-unreach', ICMP_DEST_UNREACH, 1],
      ['prot-unreach', ICMP_DEST_UNREACH, 2], ['port-unreach', ICMP_DEST_UNREACH, 3], ['admin-prohib', ICMP_DEST_UNREACH, 13],
      ['code-random', ICMP_DEST_UNREACH, this.rng.int(256)], ['time-exceeded', 11, 0], ['param-problem', 12, 0], ['source-quench', 4, 0],
    ];
    const [kind, type, code] = this.chance(0.5) ? kinds[0]! : this.pick(kinds);
    const mtu = this.pick([0, 1, 67, 68, 296, 552, 576, 1000, 1280, 1499, 1500, 1501, 9000, 65535, this.rng.int(65536)]);
    this.note(`icmp-err:${kind}`);
    this.note(`icmp-err:seq-${seqName}`);
    // The quoted datagram: IPv4 header, then the TCP ports, sequence number and (sometimes) the rest.
    const tcp = Buffer.alloc(this.chance(0.5) ? 8 : 20);
    tcp.writeUInt16BE(ep.localPort, 0);
    tcp.writeUInt16BE(ep.remotePort, 2);
    tcp.writeUInt32BE(seq >>> 0, 4);
    const quoted = Buffer.alloc(20 + tcp.length);
    writeIPv4Header(quoted, 0, { src: VICTIM_ADDR, dst: ep.remoteAddr, protocol: IPPROTO_TCP, id: this.rng.int(65536), dontFragment: true }, this.pick([tcp.length, 1460, 40]));
    tcp.copy(quoted, 20);
    const ip = { src: this.chance(0.7) ? ep.remoteAddr : '10.0.0.1', dst: VICTIM_ADDR, protocol: IPPROTO_ICMP, id: this.rng.int(65536) };
    const packet = buildIcmpPacket(ip, type, code, kind === 'frag-needed' ? mtu : this.u32(), quoted);
    return { packet: this.damage(packet), how: `icmp ${kind} seq ${seqName} mtu ${mtu} for :${ep.localPort}>${ep.remotePort}` };
  }

  /** Not TCP, or not a packet at all. */
  private other(): Injected {
    const r = this.rng.int(9);
    const ip = { src: PEER_ADDR, dst: VICTIM_ADDR, protocol: IPPROTO_ICMP, id: this.rng.int(65536) };
    let packet: Buffer;
    let how: string;
    switch (r) {
      case 0:
      case 1:
        packet = buildIcmpPacket(ip, ICMP_ECHO_REQUEST, 0, this.u32(), this.pattern.subarray(0, this.rng.int(1400)));
        how = 'icmp echo';
        break;
      case 2: {
        // An ICMP error quoting a real segment of a live connection (the stack ignores these).
        const keys = [...this.world.corpus.keys()];
        const quoted = keys.length > 0 ? this.pick(this.world.corpus.get(this.pick(keys))!) : Buffer.alloc(28);
        packet = buildIcmpPacket(ip, this.pick([ICMP_DEST_UNREACH, 4, 5, 11, 12]), this.rng.int(16), this.u32(), quoted.subarray(0, this.pick([8, 28, 40, quoted.length])));
        how = 'icmp error';
        break;
      }
      case 3:
        packet = buildIcmpPacket(ip, this.rng.int(256), this.rng.int(256), this.u32(), this.pattern.subarray(0, this.rng.int(64)));
        how = 'icmp random';
        break;
      case 4:
      case 5: {
        const proto = r === 4 ? IPPROTO_UDP : this.pick([0, 2, 17, 41, 47, 50, 132, 255, this.rng.int(256)]);
        const data = this.pattern.subarray(0, 8 + this.rng.int(200));
        packet = Buffer.alloc(20 + data.length);
        writeIPv4Header(packet, 0, { ...ip, protocol: proto }, data.length);
        data.copy(packet, 20);
        how = `protocol ${proto}`;
        break;
      }
      case 6:
        packet = Buffer.from(this.pattern.subarray(0, 40 + this.rng.int(60)));
        packet[0] = 0x60;
        how = 'ipv6';
        break;
      default:
        packet = Buffer.from(this.pattern.subarray(this.rng.int(1000), 1000 + this.rng.int(200)));
        if (this.chance(0.6)) packet[0] = 0x45;
        if (this.chance(0.5) && packet.length >= 20) {
          packet.writeUInt16BE(packet.length, 2);
          setIPv4Checksum(packet);
        }
        how = 'noise';
    }
    this.note(`other:${how.startsWith('protocol') ? (r === 4 ? 'udp' : 'protocol') : how}`);
    return { packet: this.damage(packet), how };
  }

  /** Encode, then maybe damage it at the byte level. */
  private finish(s: Spec, how: string): Injected {
    if (s.dst.includes(':')) return this.finish6(s, how);
    if (s.dst === VICTIM_ADDR && this.chance(0.02)) s.dst = this.pick(['10.0.0.3', '255.255.255.255', '0.0.0.0']);
    let packet = buildTcpPacket(
      { src: s.src, dst: s.dst, protocol: IPPROTO_TCP, ttl: s.ttl, tos: s.tos, id: this.rng.int(65536), dontFragment: s.dontFragment },
      s,
      s.payload,
    );
    this.flagsSeen[s.flags & 0xff]!++;
    if (s.lenPatch.size > 0) {
      let at = 40;
      s.options.forEach((o, i) => {
        const v = s.lenPatch.get(i);
        if (v !== undefined) packet[at + 1] = v;
        at += tcpOptionLength(o);
      });
      setTcpChecksum(packet);
    }
    packet = this.damage(packet);
    return { packet, how: `${how} ${describe(s)}` };
  }

  /** finish over IPv6: the same encoding and length patches; mutate6.ts's damage, headers and fragments. */
  private finish6(s: Spec, how: string): Injected {
    const packet = this.v6.encodeTcp(s.src, s.dst, s, s.payload, s.ttl, s.tos);
    this.flagsSeen[s.flags & 0xff]!++;
    if (s.lenPatch.size > 0) {
      let at = 60;
      s.options.forEach((o, i) => {
        const v = s.lenPatch.get(i);
        if (v !== undefined) packet[at + 1] = v;
        at += tcpOptionLength(o);
      });
      setUpperChecksum6(packet, 40, IPPROTO_TCP);
    }
    if (this.chance(0.04)) {
      packet[52] = (this.rng.int(16) << 4) | (packet[52]! & 0x0f);
      setUpperChecksum6(packet, 40, IPPROTO_TCP);
      this.note('mut6:data-offset');
    }
    return this.v6.dress(packet, `${how} ${describe(s)}`);
  }

  /** Byte-level damage: data offset, IPv4 header fields and options, truncation, bit flips, checksums. */
  private damage(packet: Buffer): Buffer {
    let touched = false;
    const tcp = packet.length >= 40 && packet[9] === IPPROTO_TCP;
    if (tcp && this.chance(0.04)) {
      // Data offset 0..15 (too small, too large, not matching the options), sometimes the reserved bits.
      packet[32] = (this.rng.int(16) << 4) | (this.chance(0.3) ? this.rng.int(16) : packet[32]! & 0x0f);
      touched = true;
      this.note('mut:data-offset');
    }
    if (packet.length >= 20 && this.chance(0.03)) {
      packet = this.ipOptions(packet);
      touched = true;
    }
    if (packet.length >= 20 && this.chance(0.05)) {
      this.ipField(packet);
      touched = true;
    }
    if (this.chance(0.04)) {
      packet = this.truncate(packet);
      touched = true;
    }
    if (this.chance(0.02)) {
      for (let i = 1 + this.rng.int(4); i > 0 && packet.length > 0; i--) packet[this.rng.int(packet.length)]! ^= 1 << this.rng.int(8);
      touched = true;
      this.note('mut:bit-flip');
    }
    // Checksums: right most of the time so the damage reaches TCP, but not always.
    const c = this.rng.next();
    if (touched && c < 0.9) {
      setIPv4Checksum(packet);
      if (packet.length >= 20 && packet[9] === IPPROTO_TCP) setTcpChecksum(packet);
    } else if (c > 0.99 && packet.length >= 40) {
      const at = this.chance(0.5) ? 10 : 36; // the IPv4 or the TCP checksum
      packet[at] = packet[at]! ^ (1 + this.rng.int(255));
      this.note('mut:bad-checksum');
    }
    return packet;
  }

  /** IPv4 options between the IP and TCP headers (record route, timestamps, router alert, NOPs, bad lengths). */
  private ipOptions(packet: Buffer): Buffer {
    const kinds: Array<[string, number[]]> = [
      ['nop-eol', [1, 1, 1, 0]], ['router-alert', [148, 4, 0, 0]], ['record-route', [7, 7, 4, 0, 0, 0, 0, 0]],
      ['timestamp', [68, 8, 5, 0, 0, 0, 0, 0]], ['bad-len', [7, 0, 0, 0]], ['too-long', [131, 40, 0, 0]],
      ['security', [130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ];
    const [name, bytes] = this.pick(kinds);
    this.note(`ip-opt:${name}`);
    const opts = Buffer.from(bytes);
    const out = Buffer.alloc(packet.length + opts.length);
    packet.copy(out, 0, 0, 20);
    opts.copy(out, 20);
    packet.copy(out, 20 + opts.length, 20);
    out[0] = 0x40 | ((20 + opts.length) >> 2);
    out.writeUInt16BE(Math.min(65535, packet.readUInt16BE(2) + opts.length), 2);
    return out;
  }

  private ipField(p: Buffer): void {
    const fields: Array<[string, () => void]> = [
      ['ttl-0', () => (p[8] = 0)],
      ['fragment-mf', () => (p[6] = 0x20)],
      ['fragment-offset', () => p.writeUInt16BE(1 + this.rng.int(0x1fff), 6)],
      ['evil-bit', () => (p[6] = p[6]! | 0x80)],
      ['protocol', () => (p[9] = this.pick([IPPROTO_ICMP, IPPROTO_UDP, 0, 41, 255]))],
      ['version', () => (p[0] = (this.pick([0, 5, 6, 15]) << 4) | (p[0]! & 15))],
      ['ihl', () => (p[0] = 0x40 | this.rng.int(16))],
      ['total-length', () => p.writeUInt16BE(this.pick([0, 19, 20, 39, 40, p.length - 1, p.length + 1, 65535]) & 0xffff, 2)],
      ['src-own', () => p.set([10, 0, 0, 2], 12)],
      ['src-broadcast', () => p.set([255, 255, 255, 255], 12)],
      ['src-zero', () => p.set([0, 0, 0, 0], 12)],
      ['tos', () => (p[1] = this.rng.int(256))],
    ];
    const [name, fn] = this.pick(fields);
    this.note(`ip:${name}`);
    fn();
  }

  /** Cut the packet in the IPv4 header, the TCP header or options, or the payload; fix the length or not. */
  private truncate(p: Buffer): Buffer {
    const ihl = Math.max(20, (p[0]! & 15) * 4);
    const where = this.rng.int(3);
    const cut = where === 0 ? this.rng.int(Math.min(p.length, ihl) + 1)
      : where === 1 ? Math.min(p.length, ihl + this.rng.int(61))
        : this.rng.int(p.length + 1);
    this.note(`trunc:${['ip', 'tcp-header', 'anywhere'][where]}`);
    const out = Buffer.from(p.subarray(0, cut));
    if (out.length >= 4 && this.chance(0.7)) out.writeUInt16BE(out.length, 2);
    return out;
  }
}

const FLAG_LETTERS = 'FSRP.UEW';

function describe(s: Spec): string {
  let f = '';
  for (let i = 0; i < 8; i++) if (s.flags & (1 << i)) f += FLAG_LETTERS[i];
  return `[${f || 'none'}] seq ${s.seq} ack ${s.ack} win ${s.window} len ${s.payload.length}`;
}

/** The decoded TCP segment of a packet as the victim's stack will see it (`trusted`: its checksum unverified, as offload delivers it), or null. */
export function decodeForVictim(packet: Buffer, trusted = false): { src: string; seg: TcpSegment } | null {
  const ip = decodeIPv4(packet);
  if (typeof ip === 'string' || ip.dst !== VICTIM_ADDR || ip.protocol !== IPPROTO_TCP) return null;
  const seg = decodeTcp(ip, !trusted);
  return typeof seg === 'string' ? null : { src: ip.src, seg };
}
