/**
 * IPv4 header codec (RFC 791 §3.1).
 *
 * Two decoders share one validation (checkIPv4):
 *  - readIPv4, the stack's receive path: the few fields it needs straight from
 *    the bytes into one reused IPv4Datagram, addresses as 32-bit numbers, the
 *    datagram's place in its buffer as offsets (often the TUN link's receive
 *    pool). No Buffer view, no string, no object per packet: under a flood
 *    every packet goes through here (scripts/bench/rxcost.ts).
 *  - decodeIPv4, for tracing and tests: every field, the addresses as dotted
 *    strings and views of header and payload. It reads the fixed fields with
 *    the `ip-packet` package, the reference codec the hot path is checked
 *    against (test/unit/wire/fuzz.test.ts); wrapped, because ip-packet throws
 *    on header options (IHL > 5) and on non-IPv4 and checks nothing.
 * Encoding writes the 20 bytes directly into the caller's buffer (ip-packet's
 * encoder copies the payload, which the send path must not do, GUIDE
 * §Principles 5).
 */
import ipPacket from 'ip-packet';
import { internetChecksum, smallChecksum } from './checksum.js';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export interface IPv4Packet {
  /** IHL * 4: 20..60. */
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In 8-byte units, as on the wire. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  /** src and dst as 32-bit numbers. */
  srcAddr: number;
  dstAddr: number;
  /** View of the header including options (no copy). */
  header: Buffer;
  /** View of the bytes after the header up to totalLength (no copy). */
  payload: Buffer;
}

export type IPv4DropReason =
  | 'ip_truncated'
  | 'ip_bad_version'
  | 'ip_bad_header_length'
  | 'ip_bad_total_length'
  | 'ip_bad_checksum'
  | 'ip_fragment';

// ip-packet decodes only IHL 5; for longer headers it reads a patched copy of
// the fixed part. One scratch buffer: decoding is synchronous.
const scratch = Buffer.alloc(20);

export interface IPv4DecodeOptions {
  /** Default true. Tracing shows packets with a bad checksum too. */
  verifyChecksum?: boolean;
  /** Default false. Tracing shows fragments too (the stack reassembles them first). */
  allowFragments?: boolean;
}

/**
 * The validation both decoders share, of the datagram at buf[start, end):
 * its header length, or why it is dropped. Bytes after totalLength (link
 * padding) are ignored. Fragments are refused unless `allowFragments`: the
 * stack takes them to its reassembly (stack/ip-reassembly.ts).
 */
function checkIPv4(buf: Uint8Array, start: number, end: number, verifyChecksum: boolean, allowFragments: boolean): number | IPv4DropReason {
  const len = end - start;
  if (len < 1) return 'ip_truncated';
  const vihl = buf[start]!;
  if (vihl >> 4 !== 4) return 'ip_bad_version';
  if (len < 20) return 'ip_truncated';
  const headerLength = (vihl & 0x0f) * 4;
  if (headerLength < 20) return 'ip_bad_header_length';
  if (headerLength > len) return 'ip_truncated';
  const totalLength = (buf[start + 2]! << 8) | buf[start + 3]!;
  if (totalLength < headerLength || totalLength > len) return 'ip_bad_total_length';
  // A header that includes its own correct checksum sums to zero (RFC 1071 §1).
  if (verifyChecksum && smallChecksum(buf, start, start + headerLength, 0) !== 0) return 'ip_bad_checksum';
  const frag = (buf[start + 6]! << 8) | buf[start + 7]!;
  if ((frag & 0x3fff) !== 0 && !allowFragments) return 'ip_fragment'; // MF or offset != 0
  return headerLength;
}

/** The big-endian 32-bit word at buf[i], as an unsigned number (no bounds check: i + 3 < length). */
export function word(buf: Uint8Array, i: number): number {
  return ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
}

const EMPTY = Buffer.alloc(0);

/**
 * A received IPv4 datagram as the receive path needs it, read in place by
 * readIPv4. One object serves every packet, overwritten by the next one: use
 * it while the packet is processed, keep nothing. The dotted addresses are
 * made only when asked for, through a small cache (a flood from one host
 * asks for the same one again and again).
 */
export class IPv4Datagram {
  /** The buffer the datagram lies in, and where: header at `start`, payload
   * from `payloadStart` to `end` (start + totalLength). */
  buf: Buffer = EMPTY;
  start = 0;
  payloadStart = 0;
  end = 0;
  protocol = 0;
  /** Type of service byte: DSCP and the ECN field (RFC 3168 §5, low two bits). */
  tos = 0;
  srcAddr = 0;
  dstAddr = 0;
  /** Fragment fields (RFC 791 §3.1), read by readIPv4 when it lets fragments through. */
  id = 0;
  moreFragments = false;
  /** In bytes (the wire's 8-byte units times 8). */
  fragOffset = 0;
  /** Not IPv6 (the stack's RxDatagram, which an IPv6 packet fills too). */
  readonly v6 = false;
  readonly src6 = null;
  readonly dst6 = null;

  get src(): string {
    return cachedIp(this.srcAddr);
  }

  get dst(): string {
    return cachedIp(this.dstAddr);
  }
}

/**
 * The receive path's decoder: validate the datagram at buf[start, end) like
 * decodeIPv4 (checksum verified; fragments refused unless `allowFragments`,
 * the stack's reassembly) and read it into `out`.
 * Null when it is good, else the drop reason. Never throws.
 */
export function readIPv4(buf: Buffer, start: number, end: number, out: IPv4Datagram, allowFragments = false): IPv4DropReason | null {
  const headerLength = checkIPv4(buf, start, end, true, allowFragments);
  if (typeof headerLength === 'string') return headerLength;
  const frag = (buf[start + 6]! << 8) | buf[start + 7]!;
  out.id = (buf[start + 4]! << 8) | buf[start + 5]!;
  out.moreFragments = (frag & 0x2000) !== 0;
  out.fragOffset = (frag & 0x1fff) * 8;
  out.buf = buf;
  out.start = start;
  out.payloadStart = start + headerLength;
  out.end = start + ((buf[start + 2]! << 8) | buf[start + 3]!);
  out.protocol = buf[start + 9]!;
  out.tos = buf[start + 1]!;
  out.srcAddr = word(buf, start + 12);
  out.dstAddr = word(buf, start + 16);
  return null;
}

/**
 * Validate and decode one IPv4 datagram with every field (tracing, tests;
 * the stack uses readIPv4). Never throws.
 */
export function decodeIPv4(buf: Buffer, opts?: IPv4DecodeOptions): IPv4Packet | IPv4DropReason {
  const headerLength = checkIPv4(buf, 0, buf.length, opts?.verifyChecksum !== false, opts?.allowFragments === true);
  if (typeof headerLength === 'string') return headerLength;
  const totalLength = (buf[2]! << 8) | buf[3]!;
  let fixed: Buffer = buf;
  if (headerLength > 20) {
    buf.copy(scratch, 0, 0, 20);
    scratch[0] = 0x45;
    fixed = scratch;
  }
  const d = ipPacket.decode({ buffer: fixed, start: 0, end: 20 });
  return {
    headerLength,
    tos: (d.dscp << 2) | d.ecn,
    totalLength,
    id: d.identification,
    dontFragment: (d.flags & 2) !== 0,
    moreFragments: (d.flags & 1) !== 0,
    fragmentOffset: d.fragmentOffset,
    ttl: d.ttl,
    protocol: d.protocol,
    checksum: d.checksum,
    src: d.sourceIp,
    dst: d.destinationIp,
    srcAddr: word(buf, 12),
    dstAddr: word(buf, 16),
    header: buf.subarray(0, headerLength),
    payload: buf.subarray(headerLength, totalLength),
  };
}

export interface IPv4Fields {
  /** Dotted quads, or their 32-bit numbers (the stack's send path: nothing to parse). */
  src: string | number;
  dst: string | number;
  protocol: number;
  /** Default 64, Linux's net.ipv4.ip_default_ttl. */
  ttl?: number;
  /** Default 0. */
  id?: number;
  tos?: number;
  /** Default true: Linux sets DF on TCP (path MTU discovery, RFC 1191). */
  dontFragment?: boolean;
}

/** Write a 20-byte IPv4 header (no options) with its checksum at out[offset].
 * Returns 20. Throws only on a malformed address string (a caller bug). */
export function writeIPv4Header(out: Buffer, offset: number, f: IPv4Fields, payloadLength: number): number {
  writeIPv4HeaderFor(out, offset, f, f.protocol, payloadLength);
  return 20;
}

/** writeIPv4Header with the protocol given separately (TCP and ICMP builders). */
export function writeIPv4HeaderFor(
  out: Buffer, offset: number, f: IPv4Fields, protocol: number, payloadLength: number,
): void {
  const total = 20 + payloadLength;
  const id = f.id ?? 0;
  out[offset] = 0x45;
  out[offset + 1] = (f.tos ?? 0) & 0xff;
  out[offset + 2] = (total >>> 8) & 0xff;
  out[offset + 3] = total & 0xff;
  out[offset + 4] = (id >>> 8) & 0xff;
  out[offset + 5] = id & 0xff;
  out[offset + 6] = f.dontFragment === false ? 0 : 0x40;
  out[offset + 7] = 0;
  out[offset + 8] = (f.ttl ?? 64) & 0xff;
  out[offset + 9] = protocol & 0xff;
  out[offset + 10] = 0;
  out[offset + 11] = 0;
  writeIp(out, offset + 12, f.src);
  writeIp(out, offset + 16, f.dst);
  const sum = internetChecksum(out, offset, offset + 20);
  out[offset + 10] = sum >>> 8;
  out[offset + 11] = sum & 0xff;
}

/**
 * Cut our own datagram `packet` (its header without options: ours have none)
 * into fragments of at most `mtu` bytes (RFC 791 §3.2 "Fragmentation"): each
 * carries a copy of the header with identification `id`, DF clear, its offset
 * in 8-byte units, MF on all but the last, and a fresh checksum; the data of
 * all but the last is a multiple of 8 bytes. A packet that fits is returned as
 * it is. Throws RangeError when `mtu` leaves no room for 8 bytes of data (a
 * caller bug: links have at least RFC 791's 68).
 */
export function fragmentIPv4(packet: Buffer, mtu: number, id: number): Buffer[] {
  if (packet.length <= mtu) return [packet];
  const hl = (packet[0]! & 0x0f) * 4;
  const per = (mtu - hl) & ~7;
  if (per < 8) throw new RangeError(`MTU ${mtu} cannot carry fragments`);
  const out: Buffer[] = [];
  for (let off = 0; hl + off < packet.length; off += per) {
    const len = Math.min(per, packet.length - hl - off);
    const last = hl + off + len === packet.length;
    const f = Buffer.allocUnsafe(hl + len);
    packet.copy(f, 0, 0, hl);
    packet.copy(f, hl, hl + off, hl + off + len);
    f.writeUInt16BE(hl + len, 2);
    f.writeUInt16BE(id & 0xffff, 4);
    f.writeUInt16BE((last ? 0 : 0x2000) | (off >>> 3), 6);
    f[10] = 0;
    f[11] = 0;
    const sum = internetChecksum(f, 0, hl);
    f[10] = sum >>> 8;
    f[11] = sum & 0xff;
    out.push(f);
  }
  return out;
}

/**
 * Recompute the header checksum of an IPv4 packet in place, over IHL * 4
 * bytes as far as the buffer holds them (for tools that edit packets: fuzzers,
 * tests). Does nothing to a buffer too short to hold a checksum.
 */
export function setIPv4Checksum(packet: Buffer): void {
  if (packet.length < 20) return;
  const hl = Math.min(packet.length, Math.max(20, (packet[0]! & 0x0f) * 4));
  packet[10] = 0;
  packet[11] = 0;
  const sum = internetChecksum(packet, 0, hl);
  packet[10] = sum >>> 8;
  packet[11] = sum & 0xff;
}

/** Parse a dotted quad into a uint32, or -1 if it is not one. No allocation. */
function parseIp(ip: string): number {
  let n = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* . */) {
      if (octet < 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = -1;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + (c - 48);
      if (octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (octet < 0 || dots !== 3) return -1;
  return n * 256 + octet;
}

function writeIp(out: Buffer, offset: number, ip: string | number): void {
  const n = typeof ip === 'number' ? ip : ipToNumber(ip);
  out[offset] = n >>> 24;
  out[offset + 1] = (n >>> 16) & 0xff;
  out[offset + 2] = (n >>> 8) & 0xff;
  out[offset + 3] = n & 0xff;
}

/** "10.0.0.1" → 0x0a000001. Throws TypeError on anything but a dotted quad. */
export function ipToNumber(ip: string): number {
  const n = parseIp(ip);
  if (n < 0) throw new TypeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

/** "10.0.0.1" → <Buffer 0a 00 00 01>. Throws TypeError like ipToNumber. */
export function ipToBytes(ip: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  writeIp(out, 0, ip);
  return out;
}

/** Direct-mapped cache of numberToIp: recent addresses without a new string each time. */
const IP_CACHE_SIZE = 256;
const ipCacheKeys = new Float64Array(IP_CACHE_SIZE).fill(-1);
const ipCacheStrings: string[] = new Array<string>(IP_CACHE_SIZE).fill('');

/** numberToIp through the cache. */
export function cachedIp(n: number): string {
  const i = (n ^ (n >>> 8) ^ (n >>> 16) ^ (n >>> 24)) & (IP_CACHE_SIZE - 1);
  if (ipCacheKeys[i] === n) return ipCacheStrings[i]!;
  const s = numberToIp(n);
  ipCacheKeys[i] = n;
  ipCacheStrings[i] = s;
  return s;
}

/** 0x0a000001 → "10.0.0.1". */
export function numberToIp(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** The four bytes at buf[offset] as a dotted quad. */
export function bytesToIp(buf: Uint8Array, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Whether a string is a dotted-quad IPv4 address. */
export function isIPv4(ip: string): boolean {
  return parseIp(ip) >= 0;
}
