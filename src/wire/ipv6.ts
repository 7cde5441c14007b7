/**
 * IPv6 (RFC 8200): the fixed header (§3), the extension-header chain (§4),
 * the upper-layer pseudo-header checksum (§8.1) and address text (RFC 5952,
 * written the way tcpdump's addrtostr6 writes it).
 *
 * walkIPv6 never throws on what a peer sends: it returns what the receiver
 * must do with the packet (deliver its upper layer, reassemble it, drop it
 * with a counter name, or drop it and answer with an ICMPv6 parameter
 * problem), deciding as Linux's ipv6_rcv / ip6_parse_tlv / ipv6_rthdr_rcv /
 * ipv6_frag_rcv do where the RFC leaves room. Not wired into the stack yet.
 */
import { foldChecksum, sumBytes } from './checksum.js';
import { IPPROTO_TCP, IPPROTO_UDP } from './ipv4.js';

export const IPV6_HEADER_LENGTH = 40;
/** RFC 8200 §5: every link carries 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;

// Next Header values (IANA "Assigned Internet Protocol Numbers").
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

/** ICMPv6 parameter problem codes (RFC 4443 §3.4, RFC 7112 §6). */
export const PARAMPROB_HEADER = 0;
export const PARAMPROB_NEXTHEADER = 1;
export const PARAMPROB_OPTION = 2;
export const PARAMPROB_INCOMPLETE_CHAIN = 3;

/** Linux net.ipv6.conf.all.max_{hbh,dst}_opts_number: non-padding options per header. */
export const MAX_OPTIONS_PER_HEADER = 8;

export interface IPv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export type IPv6DropReason = 'ip6_truncated' | 'ip6_bad_version' | 'ip6_bad_payload_length' | 'ip6_jumbogram';

/**
 * The fixed header of the packet at buf[0..]. The payload is buf[40, 40 +
 * payloadLength); bytes after it (link padding) are not part of the packet.
 * A payload length of zero with a hop-by-hop header announces a jumbogram
 * (RFC 2675), which no link of ours can carry: refused.
 */
export function decodeIPv6Header(buf: Uint8Array): IPv6Header | IPv6DropReason {
  if (buf.length < 1) return 'ip6_truncated';
  if (buf[0]! >> 4 !== 6) return 'ip6_bad_version';
  if (buf.length < IPV6_HEADER_LENGTH) return 'ip6_truncated';
  const payloadLength = (buf[4]! << 8) | buf[5]!;
  if (IPV6_HEADER_LENGTH + payloadLength > buf.length) return 'ip6_bad_payload_length';
  if (payloadLength === 0 && buf[6] === IPPROTO_HOPOPTS) return 'ip6_jumbogram';
  return {
    trafficClass: ((buf[0]! & 0x0f) << 4) | (buf[1]! >> 4),
    flowLabel: ((buf[1]! & 0x0f) << 16) | (buf[2]! << 8) | buf[3]!,
    payloadLength,
    nextHeader: buf[6]!,
    hopLimit: buf[7]!,
    src: ip6ToString(buf, 8),
    dst: ip6ToString(buf, 24),
  };
}

export interface IPv6Fields {
  /** Text form, or the 16 bytes. */
  src: string | Uint8Array;
  dst: string | Uint8Array;
  /** Default 64, Linux's net.ipv6.conf.all.hop_limit. */
  hopLimit?: number;
  trafficClass?: number;
  /** RFC 6437: 20 bits, 0 = none. */
  flowLabel?: number;
}

/** Write the 40-byte fixed header at out[offset]. Throws only on a malformed
 * address string (a caller bug). Returns 40. */
export function writeIPv6Header(out: Uint8Array, offset: number, f: IPv6Fields, nextHeader: number, payloadLength: number): number {
  const tc = (f.trafficClass ?? 0) & 0xff;
  const fl = (f.flowLabel ?? 0) & 0xfffff;
  out[offset] = 0x60 | (tc >> 4);
  out[offset + 1] = ((tc & 0x0f) << 4) | (fl >> 16);
  out[offset + 2] = (fl >> 8) & 0xff;
  out[offset + 3] = fl & 0xff;
  out[offset + 4] = (payloadLength >>> 8) & 0xff;
  out[offset + 5] = payloadLength & 0xff;
  out[offset + 6] = nextHeader & 0xff;
  out[offset + 7] = (f.hopLimit ?? 64) & 0xff;
  out.set(addrBytes(f.src), offset + 8);
  out.set(addrBytes(f.dst), offset + 24);
  return IPV6_HEADER_LENGTH;
}

function addrBytes(a: string | Uint8Array): Uint8Array {
  if (typeof a !== 'string') return a.subarray(0, 16);
  const b = ip6ToBytes(a);
  if (b === null) throw new TypeError(`not an IPv6 address: ${a}`);
  return b;
}

/**
 * One packet: fixed header, then `payload` (extension headers and upper
 * layer as the caller laid them out). With `checksum`, the upper layer's
 * checksum field (`at` bytes into it) is filled in, computed over
 * payload[upperStart..] with the pseudo-header of RFC 8200 §8.1 for
 * `protocol`.
 */
export function buildIPv6Packet(
  f: IPv6Fields, nextHeader: number, payload: Uint8Array, checksum?: { upperStart: number; at: number; protocol: number },
): Buffer {
  const out = Buffer.alloc(IPV6_HEADER_LENGTH + payload.length);
  writeIPv6Header(out, 0, f, nextHeader, payload.length);
  out.set(payload, IPV6_HEADER_LENGTH);
  if (checksum !== undefined) {
    const start = IPV6_HEADER_LENGTH + checksum.upperStart;
    const at = start + checksum.at;
    out[at] = 0;
    out[at + 1] = 0;
    const c = upperLayerChecksum6(out, start, out.length, checksum.protocol);
    out[at] = c >>> 8;
    out[at + 1] = c & 0xff;
  }
  return out;
}

// ---- The pseudo-header checksum (RFC 8200 §8.1) ----

/**
 * Sum of the IPv6 pseudo-header: source and destination (the final
 * destination: we never forward, so the one in the fixed header), the 32-bit
 * upper-layer packet length, three zero bytes and the Next Header value of
 * the upper-layer protocol (not that of an extension header).
 */
export function pseudoHeaderSum6(packet: Uint8Array, protocol: number, upperLength: number): number {
  return sumBytes(packet, 8, 40, (upperLength >>> 16) + (upperLength & 0xffff) + (protocol & 0xff));
}

/** The checksum of the upper-layer packet at packet[start, end) (its own field
 * zeroed: the value to store; intact: 0 when correct). Unlike UDP over IPv4,
 * a zero UDP checksum is not "none" in IPv6 (RFC 8200 §8.1). */
export function upperLayerChecksum6(packet: Uint8Array, start: number, end: number, protocol: number): number {
  return foldChecksum(sumBytes(packet, start, end, pseudoHeaderSum6(packet, protocol, end - start)));
}

// ---- Extension headers (RFC 8200 §4) ----

export interface Ip6FragmentInfo {
  /** Offset of the Fragment header from the start of the packet. */
  headerOffset: number;
  /** Offset of the Next Header field that names the Fragment header (in the
   * per-fragment headers; reassembly writes `nextHeader` there). */
  nextHeaderPointer: number;
  /** The Next Header of the fragment header: the fragmentable part's first header. */
  nextHeader: number;
  /** Fragment Offset in bytes. */
  offset: number;
  more: boolean;
  id: number;
}

/** What the receiver does with a packet (one object per verdict, no throw). */
export type Ip6Verdict =
  /** Give payload[upperStart, end) to `protocol` (TCP, UDP, ICMPv6, NONE or one
   * we do not know: the stack then answers with a parameter problem code 1
   * pointing at `nextHeaderPointer`, as Linux does for an unknown protocol). */
  | { action: 'deliver'; protocol: number; upperStart: number; nextHeaderPointer: number; atomicFragment: boolean }
  /** A fragment (RFC 8200 §4.5) for the reassembly queue. */
  | { action: 'reassemble'; fragment: Ip6FragmentInfo; dataStart: number }
  /** Silently discarded; `reason` is the counter. */
  | { action: 'drop'; reason: string }
  /** Discarded, and an ICMPv6 parameter problem goes back to the source. */
  | { action: 'param_problem'; reason: string; code: number; pointer: number };

const drop = (reason: string): Ip6Verdict => ({ action: 'drop', reason });
const problem = (reason: string, code: number, pointer: number): Ip6Verdict => ({ action: 'param_problem', reason, code, pointer });

/** RFC 8200 §4.2: the action for an unrecognized option, from its two high bits. */
export type UnknownOptionAction = 'skip' | 'discard' | 'discard_icmp' | 'discard_icmp_unless_multicast';

export function unknownOptionAction(type: number): UnknownOptionAction {
  switch (type >> 6) {
    case 0:
      return 'skip';
    case 1:
      return 'discard';
    case 2:
      return 'discard_icmp';
    default:
      return 'discard_icmp_unless_multicast';
  }
}

const OPT_PAD1 = 0;
const OPT_PADN = 1;
const OPT_JUMBO = 0xc2;
const OPT_ROUTER_ALERT = 0x05;

/**
 * The options of a hop-by-hop or destination options header at p[start, end)
 * (after its two fixed bytes). Linux's ip6_parse_tlv: padding must be at most
 * 7 bytes in a row and PadN all zeros (RFC 4942 §2.1.9.5), an option must fit,
 * at most MAX_OPTIONS_PER_HEADER others; else drop without ICMP.
 */
function walkOptions(p: Uint8Array, start: number, end: number, hbh: boolean): Ip6Verdict | null {
  let i = start;
  let padlen = 0;
  let count = 0;
  while (i < end) {
    const type = p[i]!;
    if (type === OPT_PAD1) {
      if (++padlen > 7) return drop('ip6_bad_padding');
      i++;
      continue;
    }
    if (i + 2 > end) return drop('ip6_bad_option_length');
    const optlen = p[i + 1]! + 2;
    if (i + optlen > end) return drop('ip6_bad_option_length');
    if (type === OPT_PADN) {
      padlen += optlen;
      if (padlen > 7) return drop('ip6_bad_padding');
      for (let k = i + 2; k < i + optlen; k++) if (p[k] !== 0) return drop('ip6_bad_padding');
      i += optlen;
      continue;
    }
    padlen = 0;
    if (++count > MAX_OPTIONS_PER_HEADER) return drop('ip6_too_many_options');
    if (hbh && type === OPT_ROUTER_ALERT) {
      // RFC 2711: understood; nothing for a host to do with it.
    } else if (hbh && type === OPT_JUMBO) {
      // RFC 2675 §3: a Jumbo Payload option with a non-zero Payload Length
      // (decodeIPv6Header refused the zero one) is a problem at the option.
      return problem('ip6_bad_jumbo', PARAMPROB_HEADER, i);
    } else {
      switch (unknownOptionAction(type)) {
        case 'skip':
          break;
        case 'discard':
          return drop('ip6_unknown_option');
        case 'discard_icmp':
          return problem('ip6_unknown_option', PARAMPROB_OPTION, i);
        case 'discard_icmp_unless_multicast':
          // RFC 8200 §4.2: "only if the packet's Destination Address was not a multicast address".
          return isMulticast6(p, 24) ? drop('ip6_unknown_option') : problem('ip6_unknown_option', PARAMPROB_OPTION, i);
      }
    }
    i += optlen;
  }
  return null;
}

/** ff00::/8 (RFC 4291 §2.7), the address at p[off]. */
export function isMulticast6(p: Uint8Array, off: number): boolean {
  return p[off] === 0xff;
}

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2), an IPv4 address inside a node's dual stack; the address at p[off]. */
export function isV4Mapped6(p: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (p[off + i] !== 0) return false;
  return p[off + 10] === 0xff && p[off + 11] === 0xff;
}

/** Bytes of upper-layer header a first fragment must hold (RFC 7112; Linux ipv6_frag_thdr_truncated). */
function upperHeaderMinimum(protocol: number): number {
  if (protocol === IPPROTO_TCP) return 20;
  if (protocol === IPPROTO_UDP || protocol === IPPROTO_ICMPV6) return 8;
  return 0;
}

/**
 * Walk the extension headers of a packet whose fixed header decodeIPv6Header
 * accepted (`p` may be longer: only p[0, 40 + payloadLength) is read), in the
 * order RFC 8200 §4.1 gives them, and say what to do with it. Pointers in a
 * parameter problem are offsets from the start of the packet (RFC 4443 §3.4).
 * Headers we do not know are upper layers to the walker; the caller knows
 * which protocols it serves.
 */
export function walkIPv6(p: Uint8Array): Ip6Verdict {
  if (p.length < IPV6_HEADER_LENGTH) return drop('ip6_truncated');
  const end = Math.min(p.length, IPV6_HEADER_LENGTH + ((p[4]! << 8) | p[5]!));
  let nh = p[6]!;
  let nhPointer = 6;
  let off = IPV6_HEADER_LENGTH;
  let atomic = false;
  let firstFragment: Ip6FragmentInfo | null = null;
  // A header cut short: in a first fragment that is RFC 7112's incomplete
  // chain (Linux answers it with code 3, pointer 0), else a silent drop.
  const truncated = (): Ip6Verdict =>
    firstFragment !== null ? problem('ip6_incomplete_chain', PARAMPROB_INCOMPLETE_CHAIN, 0) : drop('ip6_truncated_ext_header');
  // Every header is at least 8 bytes, so the loop runs at most payload/8 times.
  for (;;) {
    switch (nh) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_DSTOPTS: {
        // RFC 8200 §4.3: hop-by-hop only right after the fixed header.
        if (nh === IPPROTO_HOPOPTS && off !== IPV6_HEADER_LENGTH) {
          return problem('ip6_hbh_not_first', PARAMPROB_NEXTHEADER, nhPointer);
        }
        if (off + 8 > end) return truncated();
        const len = (p[off + 1]! + 1) * 8;
        if (off + len > end) return truncated();
        const v = walkOptions(p, off + 2, off + len, nh === IPPROTO_HOPOPTS);
        if (v !== null) return v;
        break;
      }
      case IPPROTO_ROUTING: {
        if (off + 8 > end) return truncated();
        const len = (p[off + 1]! + 1) * 8;
        if (off + len > end) return truncated();
        // Linux ipv6_rthdr_rcv: never for a multicast destination.
        if (isMulticast6(p, 24)) return drop('ip6_rthdr_multicast');
        // Segment routing (type 4, RFC 8754) and RPL (type 3, RFC 6554):
        // Linux drops them whatever Segments Left says unless seg6_enabled /
        // rpl_seg_enabled, both off by default; we support neither.
        if (p[off + 2] === 3 || p[off + 2] === 4) return drop('ip6_rthdr_disabled');
        // RFC 8200 §4.4: Segments Left 0 is ignored whatever the type; else a
        // host that forwards nothing treats every type as unrecognized (type 0
        // is deprecated by RFC 5095 anyway): problem at the Routing Type.
        if (p[off + 3] !== 0) return problem('ip6_rthdr_segments_left', PARAMPROB_HEADER, off + 2);
        break;
      }
      case IPPROTO_FRAGMENT: {
        if (off + 8 > end) return truncated();
        const offlg = (p[off + 2]! << 8) | p[off + 3]!;
        const frag: Ip6FragmentInfo = {
          headerOffset: off,
          nextHeaderPointer: nhPointer,
          nextHeader: p[off]!,
          offset: offlg & 0xfff8,
          more: (offlg & 1) !== 0,
          id: ((p[off + 4]! << 24) | (p[off + 5]! << 16) | (p[off + 6]! << 8) | p[off + 7]!) >>> 0,
        };
        const dataStart = off + 8;
        // RFC 6946 §4: an atomic fragment (offset 0, M 0) is processed on its
        // own, as if it had no fragment header; it never meets a queue.
        if (frag.offset === 0 && !frag.more) {
          atomic = true;
          break;
        }
        if (firstFragment !== null) return drop('ip6_nested_fragment');
        const dataLength = end - dataStart;
        // RFC 8200 §4.5: fragments but the last hold a multiple of 8 bytes;
        // the pointer is the Payload Length field.
        if (frag.more && (dataLength & 7) !== 0) return problem('ip6_fragment_bad_length', PARAMPROB_HEADER, 4);
        // ... and no fragment may end past 65535: the pointer is the Fragment Offset field.
        if (frag.offset + dataLength > 65535) return problem('ip6_fragment_too_long', PARAMPROB_HEADER, off + 2);
        if (frag.offset !== 0) return { action: 'reassemble', fragment: frag, dataStart };
        // RFC 7112: the first fragment must hold the whole header chain; walk on to check it.
        firstFragment = frag;
        break;
      }
      default: {
        if (firstFragment !== null) {
          if (off + upperHeaderMinimum(nh) > end) return truncated();
          return { action: 'reassemble', fragment: firstFragment, dataStart: firstFragment.headerOffset + 8 };
        }
        return { action: 'deliver', protocol: nh, upperStart: off, nextHeaderPointer: nhPointer, atomicFragment: atomic };
      }
    }
    // The next header's type is the first byte of this one (all four kinds);
    // each case checked that the whole header is inside the packet.
    const len = nh === IPPROTO_FRAGMENT ? 8 : (p[off + 1]! + 1) * 8;
    nhPointer = off;
    nh = p[off]!;
    off += len;
  }
}

// ---- Address text ----

/** The 16 bytes of an IPv6 address in text form (RFC 4291 §2.2, with an
 * embedded dotted quad), or null when it is not one. Zone ids are refused. */
export function ip6ToBytes(s: string): Buffer | null {
  if (s.length < 2 || s.length > 45) return null;
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const quad = text.slice(lastColon + 1).split('.');
    if (quad.length !== 4) return null;
    for (const q of quad) {
      // No leading zeros, as inet_pton (an octal-looking "010" is refused).
      if (!/^(0|[1-9]\d{0,2})$/.test(q) || Number(q) > 255) return null;
      tail.push(Number(q));
    }
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || rest === null) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const words = [...head, ...new Array<number>(missing).fill(0), ...rest];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i]!, i * 2);
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/**
 * The text of the address at b[off, off + 16): the longest run of two or more
 * zero words (the first of equals) as "::", lower-case hex without leading
 * zeros, and the last 32 bits dotted for IPv4-compatible (::a.b.c.d) and
 * IPv4-mapped (::ffff:a.b.c.d) addresses: exactly tcpdump's addrtostr6.
 */
export function ip6ToString(b: Uint8Array, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      s += `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
      return s;
    }
    s += w[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) s += ':';
  return s;
}

// ---- Fragmentation at the source (RFC 8200 §4.5) ----

/**
 * Cut a packet of ours that exceeds `mtu` into fragments: the unfragmentable
 * part is the fixed header alone (we send no extension headers), each
 * fragment carries it with a Fragment header (id `id`) and a multiple of 8
 * bytes of the rest but the last. `mtu` below 1280 counts as 1280 (§5).
 */
export function fragmentIPv6(packet: Buffer, mtu: number, id: number): Buffer[] {
  const end = Math.min(packet.length, IPV6_HEADER_LENGTH + ((packet[4]! << 8) | packet[5]!));
  const room = (Math.max(mtu, IPV6_MIN_MTU) - IPV6_HEADER_LENGTH - 8) & ~7;
  const out: Buffer[] = [];
  for (let at = IPV6_HEADER_LENGTH; at < end; at += room) {
    const len = Math.min(room, end - at);
    const f = Buffer.alloc(IPV6_HEADER_LENGTH + 8 + len);
    packet.copy(f, 0, 0, IPV6_HEADER_LENGTH);
    f[4] = (8 + len) >>> 8;
    f[5] = (8 + len) & 0xff;
    f[6] = IPPROTO_FRAGMENT;
    f[40] = packet[6]!; // the fragmentable part's first header
    const offset = at - IPV6_HEADER_LENGTH;
    f.writeUInt16BE(offset | (at + len < end ? 1 : 0), 42);
    f.writeUInt32BE(id >>> 0, 44);
    packet.copy(f, 48, at, at + len);
    out.push(f);
  }
  return out;
}
