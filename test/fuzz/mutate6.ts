/**
 * The fuzzer's IPv6 packets (mutate.ts draws them): TCP segments over IPv6
 * (the same structure-aware TCP mutations, encoded by wire/tcp.ts's
 * writeTcpPacket6), extension-header chains in front of them (hop-by-hop and
 * destination options with unknown options of each RFC 8200 §4.2 action
 * class, routing headers of every type, atomic and real fragment headers,
 * long chains, lengths past the packet), datagrams cut into fragments
 * (overlapping, tiny, out of order, duplicated, never completed), ICMPv6
 * errors quoting the victim's live IPv6 connections (packet too big with
 * MTUs 0..65535, every destination unreachable code, parameter problems),
 * payload-length lies, and multicast and martian addresses.
 *
 * Fragments come as a train: the first one is returned, the rest wait in
 * `queue` and go out as the next packets (so a batch may hold them all).
 */
import type { Prng } from '../../src/link/prng.js';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import {
  IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_ROUTING, IPV6_HEADER_LENGTH,
  pseudoHeaderSum6, writeIPv6Header,
} from '../../src/wire/ipv6.js';
import { buildIcmp6Packet, ICMP6_DST_UNREACH, ICMP6_ECHO_REQUEST, ICMP6_PACKET_TOO_BIG, ICMP6_PARAM_PROB, ICMP6_TIME_EXCEEDED } from '../../src/wire/icmp6.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { sumBytes, foldChecksum } from '../../src/wire/checksum.js';
import { tcpOptionsLength, writeTcpPacket6, type TcpFields } from '../../src/wire/tcp.js';
import { PEER_ADDR6, VICTIM_ADDR6 } from './world.js';

/** What mutate.ts lends: its PRNG helpers and coverage counts. */
export interface Draw {
  rng: Prng;
  note(k: string): void;
  pick<T>(a: readonly T[]): T;
  chance(p: number): boolean;
  u32(): number;
}

/** Addresses that must never be taken for a peer or for us (RFC 4291, RFC 4443 §2.4, Linux ipv6_rcv). */
const MARTIAN_SOURCES: Array<[string, string]> = [
  ['unspecified', '::'], ['loopback', '::1'], ['multicast', 'ff02::1'], ['v4-mapped', '::ffff:10.0.0.1'],
  ['own', VICTIM_ADDR6], ['link-local', 'fe80::1'], ['solicited-multicast', 'ff02::1:ff00:2'],
];
const OTHER_DESTINATIONS: Array<[string, string]> = [
  ['all-nodes', 'ff02::1'], ['solicited-node', 'ff02::1:ff00:2'], ['node-local-mc', 'ff01::1'], ['other-host', 'fd00::3'],
  ['loopback', '::1'], ['unspecified', '::'], ['v4-mapped', '::ffff:10.0.0.2'], ['global-mc', 'ff0e::1'],
];

/** One extension header's bytes (its first byte, the next header, filled in by `chain`). */
interface Ext {
  type: number;
  bytes: Buffer;
}

export class Ipv6Mutator {
  /** Fragments of a train, sent as the next packets. */
  readonly queue: Array<{ packet: Buffer; how: string }> = [];
  private fragId = 1;

  constructor(private readonly d: Draw) {}

  /** An IPv6 packet carrying TCP `tcp` with `payload` from `src` (to a multicast or other address sometimes). */
  encodeTcp(src: string, dst: string, tcp: TcpFields, payload: Buffer, hopLimit = 64, trafficClass = 0): Buffer {
    const { d } = this;
    if (d.chance(0.03)) {
      const [name, a] = d.pick(OTHER_DESTINATIONS);
      d.note(`ip6-dst:${name}`);
      dst = a;
    }
    if (d.chance(0.02)) src = this.source();
    const packet = Buffer.alloc(IPV6_HEADER_LENGTH + 20 + tcpOptionsLength(tcp.options) + payload.length);
    const n = writeTcpPacket6(packet, { src, dst, hopLimit, trafficClass, flowLabel: d.chance(0.3) ? d.rng.int(1 << 20) : 0 }, tcp, payload);
    payload.copy(packet, n);
    return packet;
  }

  /** Extension headers, fragments, length lies: each sometimes. */
  dress(packet: Buffer, how: string): { packet: Buffer; how: string } {
    const { d } = this;
    const r = d.rng.next();
    if (r < 0.1) {
      const [p, h] = this.withChain(packet);
      packet = p;
      how += ` ${h}`;
    }
    if (r >= 0.1 && r < 0.16) return this.fragments(packet, how);
    if (r >= 0.16 && r < 0.163) return this.fragmentFlood(packet, how);
    return { packet: this.damage(packet), how };
  }

  /** Not TCP to a connection: echo, errors, chains, fragments of other things, martians. */
  other(eps6: readonly TcpEndpoint[]): { packet: Buffer; how: string } {
    const { d } = this;
    const r = d.rng.int(8);
    if (r <= 2 && eps6.length > 0) return this.icmpErrorFor(d.pick(eps6));
    if (r === 3) {
      d.note('ip6:echo');
      const data = Buffer.alloc(d.pick([0, 8, 56, 1232, 1400, 3000]), 0xa5);
      const p = buildIcmp6Packet({ src: this.source(), dst: VICTIM_ADDR6 }, ICMP6_ECHO_REQUEST, 0, d.u32(), data);
      return this.dress(p, 'icmp6 echo');
    }
    if (r === 4) {
      // An upper layer we do not serve (UDP, none, unknown) behind a chain.
      const proto = d.pick([IPPROTO_UDP, IPPROTO_NONE, 41, 47, 132, 253, d.rng.int(256)]);
      d.note(`ip6:protocol-${proto === IPPROTO_UDP ? 'udp' : proto === IPPROTO_NONE ? 'none' : 'other'}`);
      const p = Buffer.alloc(IPV6_HEADER_LENGTH + 8 + d.rng.int(64), 0x33);
      writeIPv6Header(p, 0, { src: this.source(), dst: VICTIM_ADDR6 }, proto, p.length - IPV6_HEADER_LENGTH);
      return this.dress(p, `ip6 protocol ${proto}`);
    }
    if (r === 5) {
      // A chain alone: only extension headers, ending in No Next Header or cut short.
      d.note('ip6:chain-only');
      const p = Buffer.alloc(IPV6_HEADER_LENGTH);
      writeIPv6Header(p, 0, { src: this.source(), dst: VICTIM_ADDR6 }, IPPROTO_NONE, 0);
      const [q, h] = this.withChain(p);
      return { packet: this.damage(q), how: `ip6 chain only ${h}` };
    }
    // Noise that starts like IPv6.
    d.note('ip6:noise');
    const p = Buffer.alloc(d.rng.int(120));
    for (let i = 0; i < p.length; i++) p[i] = d.rng.int(256);
    if (p.length > 0) p[0] = 0x60 | (p[0]! & 15);
    if (p.length >= 40 && d.chance(0.5)) p.writeUInt16BE(p.length - 40, 4);
    if (p.length >= 40 && d.chance(0.5)) writeIPv6Header(p, 0, { src: PEER_ADDR6, dst: VICTIM_ADDR6 }, p[6]!, p.length - 40);
    return { packet: p, how: 'ip6 noise' };
  }

  /** The peer mostly; a martian source sometimes. */
  private source(): string {
    if (!this.d.chance(0.1)) return PEER_ADDR6;
    const [name, a] = this.d.pick(MARTIAN_SOURCES);
    this.d.note(`ip6-src:${name}`);
    return a;
  }

  /**
   * An ICMPv6 error quoting a segment the victim could have sent on `ep`'s
   * 4-tuple (RFC 4443 §2.4: as much of the invoking packet as fits), its
   * sequence number at the edges of SND.UNA..SND.NXT.
   */
  icmpErrorFor(ep: TcpEndpoint): { packet: Buffer; how: string } {
    const { d } = this;
    const c = ep.conn;
    const seqs: Array<[string, number]> = [
      ['una', c.sndUna], ['una-1', c.sndUna - 1], ['nxt', c.sndNxt], ['nxt+1', c.sndNxt + 1],
      ['mid', c.sndUna + ((c.sndNxt - c.sndUna) >>> 1)], ['random', d.u32()],
    ];
    const [seqName, seq] = d.pick(seqs);
    const kinds: Array<[string, number, number]> = [
      ['ptb', ICMP6_PACKET_TOO_BIG, 0], ['ptb-code', ICMP6_PACKET_TOO_BIG, d.rng.int(256)],
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((code): [string, number, number] => [`unreach-${code}`, ICMP6_DST_UNREACH, code]),
      ['unreach-random', ICMP6_DST_UNREACH, d.rng.int(256)], ['time-exceeded', ICMP6_TIME_EXCEEDED, d.rng.int(2)],
      ['param-header', ICMP6_PARAM_PROB, 0], ['param-nexthdr', ICMP6_PARAM_PROB, 1], ['param-option', ICMP6_PARAM_PROB, 2],
      ['param-chain', ICMP6_PARAM_PROB, 3], ['unknown-error', 100 + d.rng.int(28), 0],
    ];
    const [kind, type, code] = d.chance(0.4) ? kinds[0]! : d.pick(kinds);
    const mtu = d.pick([0, 1, 68, 576, 1279, 1280, 1281, 1400, 1499, 1500, 1501, 9000, 65535, 65536, 2 ** 32 - 1, d.rng.int(65536)]);
    const rest = type === ICMP6_PACKET_TOO_BIG ? mtu : type === ICMP6_PARAM_PROB ? d.pick([0, 4, 6, 40, 42, 65535, d.u32()]) : d.u32();
    d.note(`icmp6-err:${kind}`);
    d.note(`icmp6-err:seq-${seqName}`);
    const tcp = Buffer.alloc(d.chance(0.5) ? 8 : 20);
    tcp.writeUInt16BE(ep.localPort, 0);
    tcp.writeUInt16BE(ep.remotePort, 2);
    tcp.writeUInt32BE(seq >>> 0, 4);
    if (tcp.length === 20) tcp[12] = 0x50;
    // The quoted packet: sometimes cut inside the IPv6 header, sometimes claiming more than it holds.
    const quoted = Buffer.alloc(IPV6_HEADER_LENGTH + tcp.length);
    const remote = ep.remoteAddr.includes(':') ? ep.remoteAddr : PEER_ADDR6;
    writeIPv6Header(quoted, 0, { src: VICTIM_ADDR6, dst: remote }, IPPROTO_TCP, d.pick([tcp.length, 1440, 20]));
    tcp.copy(quoted, IPV6_HEADER_LENGTH);
    const cut = d.chance(0.1) ? d.rng.int(quoted.length) : quoted.length;
    if (cut < quoted.length) d.note('icmp6-err:quote-cut');
    const src = d.chance(0.8) ? remote : this.source();
    const packet = buildIcmp6Packet({ src, dst: VICTIM_ADDR6 }, type, code, rest >>> 0, quoted.subarray(0, cut));
    return this.dress(packet, `icmp6 ${kind} seq ${seqName} rest ${rest} for :${ep.localPort}>${ep.remotePort}`);
  }

  /** Insert extension headers between the fixed header and what it carried. */
  private withChain(packet: Buffer): [Buffer, string] {
    const { d } = this;
    const exts: Ext[] = [];
    const names: string[] = [];
    const n = d.chance(0.1) ? 10 + d.rng.int(90) : 1 + d.rng.int(3);
    if (n > 8) d.note('ip6-ext:long-chain');
    for (let i = 0; i < n; i++) {
      const [name, e] = this.extension(i === 0);
      exts.push(e);
      names.push(name);
    }
    let total = 0;
    for (const e of exts) total += e.bytes.length;
    if (IPV6_HEADER_LENGTH + total + packet.length > 65535 + IPV6_HEADER_LENGTH) return [packet, ''];
    const out = Buffer.alloc(packet.length + total);
    packet.copy(out, 0, 0, IPV6_HEADER_LENGTH);
    let at = IPV6_HEADER_LENGTH;
    let prevNh = 6; // the fixed header's Next Header field
    for (const e of exts) {
      out[prevNh] = e.type;
      prevNh = at;
      e.bytes.copy(out, at);
      at += e.bytes.length;
    }
    out[prevNh] = packet[6]!;
    packet.copy(out, at, IPV6_HEADER_LENGTH);
    out.writeUInt16BE(Math.min(65535, out.length - IPV6_HEADER_LENGTH), 4);
    this.fixUpperChecksum(out);
    if (d.chance(0.1)) {
      // A header length byte that claims more (or less) than is there.
      const lenAt = IPV6_HEADER_LENGTH + 1 + (exts.length > 1 ? exts[0]!.bytes.length : 0);
      if (lenAt < out.length) out[lenAt] = d.pick([0, 1, 2, 255, d.rng.int(256)]);
      d.note('ip6-ext:bad-length');
      names.push('bad-len');
    }
    return [out, names.join(',')];
  }

  /** One extension header of a random kind; `first` allows hop-by-hop where it belongs. */
  private extension(first: boolean): [string, Ext] {
    const { d } = this;
    const r = d.rng.int(first ? 5 : 4);
    if (r === 4 || (!first && d.chance(0.05))) {
      d.note(first ? 'ip6-ext:hbh' : 'ip6-ext:hbh-not-first');
      return ['hbh', { type: IPPROTO_HOPOPTS, bytes: this.options(true) }];
    }
    if (r <= 1) {
      d.note('ip6-ext:dstopts');
      return ['dst', { type: IPPROTO_DSTOPTS, bytes: this.options(false) }];
    }
    if (r === 2) {
      // RFC 8200 §4.4: type 0 (deprecated), 2 (mobility), 3 (RPL), 4 (SRH), others; Segments Left 0 or not.
      const type = d.pick([0, 2, 3, 4, 253, d.rng.int(256)]);
      const left = d.chance(0.6) ? 0 : d.pick([1, 2, 255]);
      const units = d.pick([0, 2, 4]);
      const b = Buffer.alloc(8 * (units + 1));
      b[1] = units;
      b[2] = type;
      b[3] = left;
      d.note(`ip6-ext:routing-${type <= 4 ? type : 'other'}-${left === 0 ? 'left0' : 'left'}`);
      return ['rt', { type: IPPROTO_ROUTING, bytes: b }];
    }
    // A fragment header in the chain: atomic (RFC 6946) mostly, else a one-fragment datagram.
    const b = Buffer.alloc(8);
    const atomic = d.chance(0.7);
    b.writeUInt16BE(atomic ? 0 : d.pick([1, 8, 9, 0xfff8, 0xfff9]), 2);
    b.writeUInt32BE(d.u32(), 4);
    d.note(atomic ? 'ip6-ext:atomic-fragment' : 'ip6-ext:fragment-header');
    return ['frag', { type: IPPROTO_FRAGMENT, bytes: b }];
  }

  /** A hop-by-hop or destination options header: padding, known options, unknown ones of each action class. */
  private options(hbh: boolean): Buffer {
    const { d } = this;
    const body: number[] = [];
    for (let i = 1 + d.rng.int(3); i > 0; i--) {
      const k = d.rng.int(hbh ? 8 : 6);
      switch (k) {
        case 0:
          body.push(0);
          d.note('ip6-opt:pad1');
          break;
        case 1: {
          const n = d.pick([0, 1, 4, 5, 6]);
          body.push(1, n, ...new Array<number>(n).fill(d.chance(0.1) ? 1 : 0));
          d.note(n > 5 ? 'ip6-opt:padn-long' : 'ip6-opt:padn');
          break;
        }
        case 2:
        case 3:
        case 4: {
          // RFC 8200 §4.2: the two high bits say skip, discard, discard + ICMP, discard + ICMP unless multicast.
          const cls = d.rng.int(4);
          const type = (cls << 6) | d.pick([0x1e, 0x3e, 0x11, 0x0a]);
          const n = d.rng.int(6);
          body.push(type, n, ...new Array<number>(n).fill(0x42));
          d.note(`ip6-opt:unknown-${['skip', 'discard', 'icmp', 'icmp-unless-mc'][cls]}`);
          break;
        }
        case 5:
          // An option whose length runs past its header.
          body.push(0x1e, 200);
          d.note('ip6-opt:too-long');
          break;
        case 6:
          body.push(0x05, 2, 0, 0);
          d.note('ip6-opt:router-alert');
          break;
        default:
          body.push(0xc2, 4, 0, 1, 0, 0);
          d.note('ip6-opt:jumbo');
      }
    }
    // Round up to a multiple of 8 with PadN (or Pad1s, sometimes too many of them).
    const len = Math.ceil((body.length + 2) / 8) * 8;
    const pad = len - 2 - body.length;
    if (pad === 1) body.push(0);
    else if (pad > 1) body.push(1, pad - 2, ...new Array<number>(pad - 2).fill(0));
    const b = Buffer.alloc(len);
    b[1] = len / 8 - 1;
    Buffer.from(body).copy(b, 2);
    return b;
  }

  /**
   * Cut the fragmentable part (all after the fixed header) into pieces and
   * send them as a train: in order, reversed, shuffled, overlapping, with a
   * duplicate, tiny (8 bytes), or with a piece missing (never completed).
   */
  private fragments(packet: Buffer, how: string): { packet: Buffer; how: string } {
    const { d } = this;
    const plen = packet.length - IPV6_HEADER_LENGTH;
    const id = d.chance(0.8) ? this.fragId++ : d.pick([0, 1, 0xffffffff]);
    const step = d.pick([8, 16, 24, 64, 512, 1232, Math.max(8, (plen >> 1) & ~7)]);
    const pieces: Array<[number, number]> = [];
    for (let at = 0; at < plen; at += step) pieces.push([at, Math.min(plen, at + step)]);
    if (pieces.length === 0) pieces.push([0, 0]);
    const mode = d.pick(['in-order', 'reversed', 'shuffled', 'overlap', 'duplicate', 'missing', 'odd-length', 'past-64k']);
    d.note(`ip6-frag:${mode}`);
    if (step === 8) d.note('ip6-frag:tiny');
    if (mode === 'reversed') pieces.reverse();
    else if (mode === 'shuffled') for (let i = pieces.length - 1; i > 0; i--) {
      const j = d.rng.int(i + 1);
      [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
    } else if (mode === 'overlap' && pieces.length > 0) {
      const [a, b] = d.pick(pieces);
      pieces.push([Math.max(0, a - 8), Math.min(plen, b + 8)]);
    } else if (mode === 'duplicate') pieces.push(d.pick(pieces));
    else if (mode === 'missing' && pieces.length > 1) pieces.splice(d.rng.int(pieces.length), 1);
    const frags = pieces.map(([a, b], i) => {
      let end = b;
      if (mode === 'odd-length' && i === 0 && b < plen) end = b - 3;
      const f = this.fragment(packet, id, a, end, end < plen);
      if (mode === 'past-64k' && i === pieces.length - 1) f.writeUInt16BE(0xfff8 | (f[43]! & 1), 42);
      return f;
    });
    for (const f of frags.slice(1)) this.queue.push({ packet: this.damage(f), how: `${how} fragment (${mode})` });
    return { packet: frags[0]!, how: `${how} fragment 1/${frags.length} (${mode})` };
  }

  /**
   * Many datagrams begun and never finished (a first fragment each, new ids):
   * the reassembler's queue, memory and fragment bounds and its one timer.
   */
  private fragmentFlood(packet: Buffer, how: string): { packet: Buffer; how: string } {
    const { d } = this;
    const n = 100 + d.rng.int(1100);
    const len = Math.max(8, Math.min(1232, (packet.length - IPV6_HEADER_LENGTH) & ~7));
    d.note('ip6-frag:flood');
    const first = this.fragment(packet, this.fragId++, 0, len, true);
    for (let i = 1; i < n; i++) {
      const f = Buffer.from(first);
      f.writeUInt32BE(this.fragId++ >>> 0, 44);
      this.queue.push({ packet: f, how: `${how} fragment flood ${i + 1}/${n}` });
    }
    return { packet: first, how: `${how} fragment flood 1/${n}` };
  }

  private fragment(packet: Buffer, id: number, a: number, b: number, more: boolean): Buffer {
    const f = Buffer.alloc(IPV6_HEADER_LENGTH + 8 + (b - a));
    packet.copy(f, 0, 0, IPV6_HEADER_LENGTH);
    f.writeUInt16BE(8 + b - a, 4);
    f[6] = IPPROTO_FRAGMENT;
    f[40] = packet[6]!;
    f.writeUInt16BE((a & 0xfff8) | (more ? 1 : 0), 42);
    f.writeUInt32BE(id >>> 0, 44);
    packet.copy(f, 48, IPV6_HEADER_LENGTH + a, IPV6_HEADER_LENGTH + b);
    return f;
  }

  /** Byte-level damage: payload-length lies, version, hop limit, truncation, bit flips. */
  private damage(p: Buffer): Buffer {
    const { d } = this;
    if (p.length < IPV6_HEADER_LENGTH) return p;
    if (d.chance(0.04)) {
      const plen = p.length - IPV6_HEADER_LENGTH;
      const [name, v] = d.pick<[string, number]>([
        ['zero', 0], ['short', Math.max(0, plen - 1 - d.rng.int(20))], ['long', plen + 1 + d.rng.int(20)], ['max', 65535], ['small', 7],
      ]);
      p.writeUInt16BE(v & 0xffff, 4);
      d.note(`ip6-plen:${name}`);
    }
    if (d.chance(0.02)) {
      p[0] = (d.pick([4, 0, 7, 15]) << 4) | (p[0]! & 15);
      d.note('ip6:version');
    }
    if (d.chance(0.02)) {
      p[7] = d.pick([0, 1, 255]);
      d.note('ip6:hop-limit');
    }
    if (d.chance(0.03)) {
      const out = Buffer.from(p.subarray(0, d.rng.int(p.length + 1)));
      d.note('ip6:trunc');
      if (out.length >= 6 && d.chance(0.5)) out.writeUInt16BE(Math.max(0, out.length - IPV6_HEADER_LENGTH), 4);
      return out;
    }
    if (d.chance(0.01)) {
      p[IPV6_HEADER_LENGTH + d.rng.int(Math.max(1, p.length - IPV6_HEADER_LENGTH)) - (p.length === IPV6_HEADER_LENGTH ? 1 : 0)]! ^= 1 << d.rng.int(8);
      d.note('ip6:bit-flip');
    }
    return p;
  }

  /** After headers moved: the TCP or ICMPv6 checksum of the packet's upper layer (no chain walk: the last header inserted). */
  private fixUpperChecksum(p: Buffer): void {
    let nh = p[6]!;
    let off = IPV6_HEADER_LENGTH;
    for (let guard = 0; guard < 200 && off + 8 <= p.length; guard++) {
      if (nh !== IPPROTO_HOPOPTS && nh !== IPPROTO_DSTOPTS && nh !== IPPROTO_ROUTING && nh !== IPPROTO_FRAGMENT) break;
      const len = nh === IPPROTO_FRAGMENT ? 8 : (p[off + 1]! + 1) * 8;
      nh = p[off]!;
      off += len;
    }
    setUpperChecksum6(p, off, nh);
  }
}

/** Recompute the TCP or ICMPv6 checksum of the upper layer at p[start..] (RFC 8200 §8.1). */
export function setUpperChecksum6(p: Buffer, start: number, protocol: number): void {
  const at = protocol === IPPROTO_TCP ? start + 16 : protocol === IPPROTO_ICMPV6 ? start + 2 : -1;
  if (at < 0 || at + 2 > p.length) return;
  p[at] = 0;
  p[at + 1] = 0;
  const c = foldChecksum(sumBytes(p, start, p.length, pseudoHeaderSum6(p, protocol, p.length - start)));
  p[at] = c >>> 8;
  p[at + 1] = c & 0xff;
}
