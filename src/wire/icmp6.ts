/**
 * ICMPv6 codec (RFC 4443): echo request/reply, destination unreachable,
 * packet too big, time exceeded, parameter problem. The checksum covers the
 * IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1), so decoding and building
 * work on whole IPv6 packets. Never throws on input.
 */
import { IPPROTO_TCP, IPPROTO_UDP } from './ipv4.js';
import {
  buildIPv6Packet, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_ROUTING, IPV6_HEADER_LENGTH,
  IPV6_MIN_MTU, ip6ToString, isMulticast6, PARAMPROB_OPTION, upperLayerChecksum6, type IPv6Fields,
} from './ipv6.js';

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

/** Destination unreachable codes (RFC 4443 §3.1). */
export const ICMP6_UNREACH_NOROUTE = 0;
export const ICMP6_UNREACH_ADMIN = 1;
export const ICMP6_UNREACH_BEYONDSCOPE = 2;
export const ICMP6_UNREACH_ADDR = 3;
export const ICMP6_UNREACH_PORT = 4;
/** Time exceeded codes (RFC 4443 §3.3). */
export const ICMP6_TIME_EXCEED_TRANSIT = 0;
export const ICMP6_TIME_EXCEED_REASSEMBLY = 1;

/** What an error message quotes of the packet that caused it, as far as present. */
export interface Icmp6Quote {
  src: string;
  dst: string;
  /** The upper-layer protocol after the extension headers, when they could be walked. */
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP only: the quoted sequence number (RFC 5927 validation). */
  seq?: number;
}

export interface Icmp6Message {
  type: number;
  code: number;
  checksum: number;
  /** The 4 bytes after the checksum (id/seq, MTU, pointer, unused). */
  rest: number;
  /** Echo only, else 0. */
  id: number;
  seq: number;
  /** Packet too big: the next-hop MTU. */
  mtu?: number;
  /** Parameter problem: offset of the error in the invoking packet. */
  pointer?: number;
  /** Everything after the 8-byte header (a view). */
  data: Buffer;
  quoted?: Icmp6Quote;
}

export type Icmp6DropReason = 'icmp6_truncated' | 'icmp6_bad_checksum';

/** Error types are 0..127 (RFC 4443 §2.1). */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}

/**
 * Decode the ICMPv6 message at packet[start, end) of an IPv6 packet (the
 * addresses of its fixed header make the pseudo-header). `end` defaults to
 * the end of the payload the fixed header announces.
 */
export function decodeIcmp6(packet: Buffer, start: number, end?: number, verifyChecksum = true): Icmp6Message | Icmp6DropReason {
  if (packet.length < IPV6_HEADER_LENGTH) return 'icmp6_truncated';
  const stop = Math.min(packet.length, end ?? IPV6_HEADER_LENGTH + packet.readUInt16BE(4));
  if (start < IPV6_HEADER_LENGTH || stop - start < 8) return 'icmp6_truncated';
  if (verifyChecksum && upperLayerChecksum6(packet, start, stop, IPPROTO_ICMPV6) !== 0) return 'icmp6_bad_checksum';
  const type = packet[start]!;
  const rest = packet.readUInt32BE(start + 4);
  const echo = type === ICMP6_ECHO_REQUEST || type === ICMP6_ECHO_REPLY;
  const msg: Icmp6Message = {
    type,
    code: packet[start + 1]!,
    checksum: packet.readUInt16BE(start + 2),
    rest,
    id: echo ? rest >>> 16 : 0,
    seq: echo ? rest & 0xffff : 0,
    data: packet.subarray(start + 8, stop),
  };
  if (type === ICMP6_PACKET_TOO_BIG) msg.mtu = rest;
  if (type === ICMP6_PARAM_PROB) msg.pointer = rest;
  if (isIcmp6Error(type)) {
    const q = parseQuote6(msg.data);
    if (q !== undefined) msg.quoted = q;
  }
  return msg;
}

/** The invoking packet, often cut short: its addresses, then through its
 * extension headers (as tcpdump's get_upperlayer) to the ports and sequence. */
export function parseQuote6(d: Buffer): Icmp6Quote | undefined {
  if (d.length < IPV6_HEADER_LENGTH || d[0]! >> 4 !== 6) return undefined;
  const q: Icmp6Quote = { src: ip6ToString(d, 8), dst: ip6ToString(d, 24) };
  let nh = d[6]!;
  let off = IPV6_HEADER_LENGTH;
  while (off < d.length) {
    if (nh === IPPROTO_HOPOPTS || nh === IPPROTO_DSTOPTS || nh === IPPROTO_ROUTING) {
      if (off + 2 > d.length) return q;
      nh = d[off]!;
      off += (d[off + 1]! + 1) * 8;
    } else if (nh === IPPROTO_FRAGMENT) {
      // Only a first fragment quotes the upper-layer header.
      if (off + 4 > d.length || (d.readUInt16BE(off + 2) & 0xfff8) !== 0) return q;
      nh = d[off]!;
      off += 8;
    } else {
      break;
    }
  }
  if (off > d.length || isExtensionHeader(nh)) return q;
  q.protocol = nh;
  if ((nh === IPPROTO_TCP || nh === IPPROTO_UDP) && off + 4 <= d.length) {
    q.srcPort = d.readUInt16BE(off);
    q.dstPort = d.readUInt16BE(off + 2);
  }
  if (nh === IPPROTO_TCP && off + 8 <= d.length) q.seq = d.readUInt32BE(off + 4);
  return q;
}

function isExtensionHeader(nh: number): boolean {
  return nh === IPPROTO_HOPOPTS || nh === IPPROTO_DSTOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_FRAGMENT;
}

/** One IPv6 packet carrying one ICMPv6 message, checksum filled in. */
export function buildIcmp6Packet(ip: IPv6Fields, type: number, code: number, rest: number, data: Uint8Array): Buffer {
  const msg = Buffer.alloc(8 + data.length);
  msg[0] = type & 0xff;
  msg[1] = code & 0xff;
  msg.writeUInt32BE(rest >>> 0, 4);
  msg.set(data, 8);
  return buildIPv6Packet(ip, IPPROTO_ICMPV6, msg, { upperStart: 0, at: 2, protocol: IPPROTO_ICMPV6 });
}

/**
 * The echo reply to `request` (RFC 4443 §4.2): same identifier, sequence and
 * data; traffic class copied, as Linux's icmpv6_echo_reply does. Its source is
 * the request's destination unless that was multicast: then the caller gives
 * the unicast address to answer from (`src`).
 */
export function buildEcho6Reply(request: Buffer, msg: Icmp6Message, src?: string): Buffer {
  const tc = ((request[0]! & 0x0f) << 4) | (request[1]! >> 4);
  return buildIcmp6Packet(
    { src: src ?? request.subarray(24, 40), dst: request.subarray(8, 24), trafficClass: tc },
    ICMP6_ECHO_REPLY, 0, msg.rest, msg.data,
  );
}

/**
 * May an error of this type/code answer `invoking`? RFC 4443 §2.4(e), as
 * Linux's icmp6_send and is_ineligible decide: never about an ICMPv6 error;
 * not about a packet to a multicast address, except packet too big and the
 * parameter problem (code 2) for an unrecognized option of type 10xxxxxx
 * (RFC 8200 §4.2), whose type byte `pointer` points at; never to an
 * unspecified or multicast source. A chain we cannot walk to its end is
 * eligible, as in Linux (ipv6_skip_exthdr failing).
 */
export function mayAnswerWithError(invoking: Buffer, type: number, code: number, pointer = 0): boolean {
  if (invoking.length < IPV6_HEADER_LENGTH) return false;
  const src = invoking.subarray(8, 24);
  if (isMulticast6(src, 0) || src.every((b) => b === 0)) return false;
  if (isMulticast6(invoking, 24)) {
    const option = invoking[pointer];
    const allowed = type === ICMP6_PACKET_TOO_BIG ||
      (type === ICMP6_PARAM_PROB && code === PARAMPROB_OPTION && option !== undefined && option >> 6 === 2);
    if (!allowed) return false;
  }
  // §2.4(e.1): not in response to an ICMPv6 error message.
  let nh = invoking[6]!;
  let off = IPV6_HEADER_LENGTH;
  while (isExtensionHeader(nh)) {
    if (off + 8 > invoking.length) return true;
    // A later fragment holds no ICMPv6 header to look at.
    if (nh === IPPROTO_FRAGMENT && (invoking.readUInt16BE(off + 2) & 0xfff8) !== 0) return true;
    const len = nh === IPPROTO_FRAGMENT ? 8 : (invoking[off + 1]! + 1) * 8;
    nh = invoking[off]!;
    off += len;
  }
  if (nh === IPPROTO_ICMPV6) return off < invoking.length && !isIcmp6Error(invoking[off]!);
  return true;
}

/**
 * An ICMPv6 error about `invoking` (RFC 4443 §2.4(c)): as much of it as fits
 * without the error packet exceeding the minimum MTU, 1280 bytes. `rest` is
 * the MTU (packet too big), the pointer (parameter problem) or 0.
 */
export function buildIcmp6Error(src: string | Uint8Array, invoking: Buffer, type: number, code: number, rest = 0): Buffer {
  const room = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - 8;
  const quote = invoking.subarray(0, Math.min(invoking.length, room));
  return buildIcmp6Packet({ src, dst: invoking.subarray(8, 24) }, type, code, rest, quote);
}
