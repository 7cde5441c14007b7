/**
 * TCP header codec: RFC 9293 §3.1 (header), §3.2 (options: EOL, NOP, MSS),
 * RFC 7323 (window scale, timestamps), RFC 2018 (SACK-permitted, SACK).
 * Stateless; malformed input comes back as a drop-reason string, never a throw.
 */
import { foldChecksum, smallChecksum, sumBytes } from './checksum.js';
import { IPPROTO_TCP, word, writeIPv4HeaderFor, type IPv4Fields, type IPv4Packet } from './ipv4.js';
import { IPV6_HEADER_LENGTH, pseudoHeaderSum6, writeIPv6Header, type IPv6Fields } from './ipv6.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; mss: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackOK' }
  | { kind: 'sack'; blocks: Array<[number, number]> }
  | { kind: 'ts'; val: number; ecr: number }
  | { kind: 'unknown'; code: number; data: Buffer };

export interface TcpOptions {
  mss?: number;
  /** Shift count as sent; RFC 7323 §2.3 says treat > 14 as 14 (the TCB does). */
  wscale?: number;
  sackPermitted: boolean;
  /** SACK blocks [left, right) as sent (RFC 2018 §3). */
  sack?: Array<[number, number]>;
  tsVal?: number;
  tsEcr?: number;
  /** Every option in wire order, for tracing; empty from the stack's
   * receive path, which reads the fields above only (readTcp). */
  list: TcpOption[];
}

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Data offset * 4: 20..60. */
  headerLength: number;
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
  options: TcpOptions;
  /** View of the data (no copy). */
  payload: Buffer;
  /** The ECN field of the IP header that carried it (RFC 3168 §5: 0 Not-ECT,
   * 1 ECT(1), 2 ECT(0), 3 CE); the decoders leave 0, the stack sets it. */
  ecn?: number;
}

export type TcpDropReason = 'tcp_truncated' | 'tcp_bad_header_length' | 'tcp_bad_option' | 'tcp_bad_checksum';

/**
 * Decode the TCP segment carried by `ip`. With verifyChecksum (the default) the
 * checksum over pseudo-header, header and data must be correct (RFC 9293 §3.1).
 */
export function decodeTcp(ip: IPv4Packet, verifyChecksum = true): TcpSegment | TcpDropReason {
  return readTcp(ip.payload, 0, ip.payload.length, ip.srcAddr, ip.dstAddr, verifyChecksum, true);
}

/** The payload of a segment without data: one shared empty Buffer, no view made. */
const NO_PAYLOAD = Buffer.alloc(0);

/** The receive path's options list: always empty, shared (frozen). */
const NO_LIST: TcpOption[] = Object.freeze([]) as unknown as TcpOption[];

/**
 * decodeTcp for the segment at p[start, end) between the IPv4 addresses
 * srcAddr and dstAddr (32-bit numbers): the receive path reads it in place in
 * the link's buffer. A view of the data is made only when there is data, and
 * the options' `list` only when asked for (`withList`, for tracing).
 */
export function readTcp(
  p: Buffer, start: number, end: number, srcAddr: number, dstAddr: number, verifyChecksum: boolean, withList = false, into?: TcpSegment,
): TcpSegment | TcpDropReason {
  const len = end - start;
  if (len < 20) return 'tcp_truncated';
  const headerLength = (p[start + 12]! >> 4) * 4;
  if (headerLength < 20 || headerLength > len) return 'tcp_bad_header_length';
  if (verifyChecksum) {
    // The pseudo-header: source, destination, zero, protocol, TCP length.
    const pseudo = (srcAddr >>> 16) + (srcAddr & 0xffff) + (dstAddr >>> 16) + (dstAddr & 0xffff) + IPPROTO_TCP + len;
    if ((len < 64 ? smallChecksum(p, start, end, pseudo) : foldChecksum(sumBytes(p, start, end, pseudo))) !== 0) return 'tcp_bad_checksum';
  }
  const options = into === undefined ? newTcpOptions(withList ? [] : NO_LIST) : clearTcpOptions(into.options);
  if (headerLength > 20 && !parseOptions(p, start + 20, start + headerLength, options)) return 'tcp_bad_option';
  const seg = into ?? ({ options } as TcpSegment);
  seg.srcPort = (p[start]! << 8) | p[start + 1]!;
  seg.dstPort = (p[start + 2]! << 8) | p[start + 3]!;
  seg.seq = word(p, start + 4);
  seg.ack = word(p, start + 8);
  seg.headerLength = headerLength;
  seg.flags = p[start + 13]!;
  seg.window = (p[start + 14]! << 8) | p[start + 15]!;
  seg.checksum = (p[start + 16]! << 8) | p[start + 17]!;
  seg.urgent = (p[start + 18]! << 8) | p[start + 19]!;
  seg.payload = headerLength < len ? p.subarray(start + headerLength, end) : NO_PAYLOAD;
  seg.ecn = 0;
  return seg;
}

/** Options with every field present (one shape for every segment). */
function newTcpOptions(list: TcpOption[]): TcpOptions {
  return { mss: undefined, wscale: undefined, sackPermitted: false, sack: undefined, tsVal: undefined, tsEcr: undefined, list };
}

function clearTcpOptions(o: TcpOptions): TcpOptions {
  o.mss = undefined;
  o.wscale = undefined;
  o.sackPermitted = false;
  o.sack = undefined;
  o.tsVal = undefined;
  o.tsEcr = undefined;
  return o;
}

/**
 * A segment for the receive path to read every packet into (readTcp's
 * `into`): one object per stack instead of two per packet. Whatever readTcp
 * returns then lives until the next packet: use it, keep nothing of it but
 * the payload (a view of its own) and SACK blocks (an array of their own).
 */
export function rxTcpSegment(): TcpSegment {
  return {
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, headerLength: 20, flags: 0, window: 0, checksum: 0, urgent: 0,
    options: newTcpOptions(NO_LIST), payload: NO_PAYLOAD, ecn: 0,
  };
}

/**
 * readTcp for a segment carried by IPv6: `addrSum` is the unfolded sum of the
 * packet's source and destination addresses (sumBytes over its bytes 8..40),
 * which the pseudo-header of RFC 8200 §8.1 adds where IPv4's has its two
 * 32-bit addresses; the rest of the pseudo-header is the same sum.
 */
export function readTcp6(p: Buffer, start: number, end: number, addrSum: number, verifyChecksum: boolean, into?: TcpSegment): TcpSegment | TcpDropReason {
  return readTcp(p, start, end, addrSum, 0, verifyChecksum, false, into);
}

/**
 * Parse options in p[start, end) into `out`. RFC 9293 §3.2: EOL ends the list;
 * NOP is one byte; every other kind has a length byte counting kind and length.
 * A length below 2 or running past the header cannot be skipped safely, and a
 * known kind with the wrong length is malformed (RFC 9293 §3.2 MUST-7 lets us
 * drop rather than guess). Unknown kinds are skipped by their length (MUST-6).
 */
function parseOptions(p: Buffer, start: number, end: number, out: TcpOptions): boolean {
  const list = out.list === NO_LIST ? null : out.list;
  let i = start;
  while (i < end) {
    const kind = p[i]!;
    if (kind === TCPOPT_EOL) {
      list?.push({ kind: 'eol' });
      break;
    }
    if (kind === TCPOPT_NOP) {
      list?.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = p[i + 1]!;
    if (len < 2 || i + len > end) return false;
    switch (kind) {
      case TCPOPT_MSS: {
        if (len !== 4) return false;
        const mss = (p[i + 2]! << 8) | p[i + 3]!;
        out.mss = mss;
        list?.push({ kind: 'mss', mss });
        break;
      }
      case TCPOPT_WSCALE: {
        if (len !== 3) return false;
        const shift = p[i + 2]!;
        out.wscale = shift;
        list?.push({ kind: 'wscale', shift });
        break;
      }
      case TCPOPT_SACK_PERMITTED:
        if (len !== 2) return false;
        out.sackPermitted = true;
        list?.push({ kind: 'sackOK' });
        break;
      case TCPOPT_SACK: {
        if (len < 10 || (len - 2) % 8 !== 0) return false;
        const blocks: Array<[number, number]> = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([word(p, j), word(p, j + 4)]);
        out.sack = blocks;
        list?.push({ kind: 'sack', blocks });
        break;
      }
      case TCPOPT_TIMESTAMP: {
        if (len !== 10) return false;
        const val = word(p, i + 2);
        const ecr = word(p, i + 6);
        out.tsVal = val;
        out.tsEcr = ecr;
        list?.push({ kind: 'ts', val, ecr });
        break;
      }
      default:
        list?.push({ kind: 'unknown', code: kind, data: p.subarray(i + 2, i + len) });
    }
    i += len;
  }
  return true;
}

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent?: number;
  /** Written in this order, then padded with zeros (EOL) to a multiple of 4.
   * Linux aligns with NOPs in front of options; callers put `nop` entries in. */
  options?: TcpOption[];
  /** The send path's options as plain fields, no list built per segment:
   * after `options`, in Linux's layout, nop,nop,TS (RFC 7323) when tsVal is
   * a number, then nop,nop,SACK (RFC 2018) when `sack` has blocks. */
  tsVal?: number;
  tsEcr?: number;
  sack?: ReadonlyArray<readonly [number, number]>;
}

/** Bytes one option takes on the wire as writeTcpPacket writes it. */
export function tcpOptionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sackOK':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'ts':
      return 10;
    case 'unknown':
      return 2 + o.data.length;
  }
}

/** Bytes the options take on the wire, padded to a multiple of 4. */
export function tcpOptionsLength(options?: TcpOption[]): number {
  if (options === undefined) return 0;
  let n = 0;
  for (const o of options) n += tcpOptionLength(o);
  return (n + 3) & ~3;
}

/** Bytes of the fixed option fields (TcpFields.tsVal, sack): 12 and 4 + 8 per block, multiples of 4. */
function fixedOptionsLength(tcp: TcpFields): number {
  return (tcp.tsVal !== undefined ? 12 : 0) + (tcp.sack !== undefined && tcp.sack.length > 0 ? 4 + 8 * tcp.sack.length : 0);
}

/** nop,nop,TS then nop,nop,SACK from the fixed fields at out[i]. */
function writeFixedOptions(out: Buffer, i: number, tcp: TcpFields): void {
  if (tcp.tsVal !== undefined) {
    out[i] = TCPOPT_NOP;
    out[i + 1] = TCPOPT_NOP;
    out[i + 2] = TCPOPT_TIMESTAMP;
    out[i + 3] = 10;
    put32(out, i + 4, tcp.tsVal);
    put32(out, i + 8, tcp.tsEcr ?? 0);
    i += 12;
  }
  const sack = tcp.sack;
  if (sack !== undefined && sack.length > 0) {
    out[i] = TCPOPT_NOP;
    out[i + 1] = TCPOPT_NOP;
    out[i + 2] = TCPOPT_SACK;
    out[i + 3] = 2 + 8 * sack.length;
    i += 4;
    for (let b = 0; b < sack.length; b++) {
      put32(out, i, sack[b]![0]);
      put32(out, i + 4, sack[b]![1]);
      i += 8;
    }
  }
}

function writeOptions(out: Buffer, offset: number, options: TcpOption[], padded: number): void {
  let i = offset;
  for (const o of options) {
    switch (o.kind) {
      case 'eol':
        out[i++] = TCPOPT_EOL;
        break;
      case 'nop':
        out[i++] = TCPOPT_NOP;
        break;
      case 'mss':
        out[i] = TCPOPT_MSS;
        out[i + 1] = 4;
        put16(out, i + 2, o.mss);
        i += 4;
        break;
      case 'wscale':
        out[i] = TCPOPT_WSCALE;
        out[i + 1] = 3;
        out[i + 2] = o.shift & 0xff;
        i += 3;
        break;
      case 'sackOK':
        out[i] = TCPOPT_SACK_PERMITTED;
        out[i + 1] = 2;
        i += 2;
        break;
      case 'sack':
        out[i] = TCPOPT_SACK;
        out[i + 1] = 2 + 8 * o.blocks.length;
        i += 2;
        for (let b = 0; b < o.blocks.length; b++) {
          const block = o.blocks[b]!;
          put32(out, i, block[0]);
          put32(out, i + 4, block[1]);
          i += 8;
        }
        break;
      case 'ts':
        out[i] = TCPOPT_TIMESTAMP;
        out[i + 1] = 10;
        put32(out, i + 2, o.val);
        put32(out, i + 6, o.ecr);
        i += 10;
        break;
      case 'unknown':
        out[i] = o.code & 0xff;
        out[i + 1] = 2 + o.data.length;
        o.data.copy(out, i + 2);
        i += 2 + o.data.length;
        break;
    }
  }
  for (const end = offset + padded; i < end; i++) out[i] = 0;
}

/** Big-endian stores without Buffer's argument checks (the send path writes
 * every header; the callers own the sizes). */
function put16(out: Buffer, i: number, v: number): void {
  out[i] = (v >>> 8) & 0xff;
  out[i + 1] = v & 0xff;
}

function put32(out: Buffer, i: number, v: number): void {
  out[i] = (v >>> 24) & 0xff;
  out[i + 1] = (v >>> 16) & 0xff;
  out[i + 2] = (v >>> 8) & 0xff;
  out[i + 3] = v & 0xff;
}

/**
 * Write IPv4 header (20 bytes, protocol forced to TCP) and TCP header into `out`
 * from offset 0, with both checksums. The payload is only read for the checksum,
 * not copied: it follows the header on the wire via writev. Returns the header
 * byte count. Throws RangeError if the options exceed 40 bytes (a caller bug).
 *
 * `partialChecksum` (checksum offload): the TCP checksum field gets only the
 * folded, uncomplemented pseudo-header sum, which is what a device completing
 * the checksum expects there (Linux: __tcp_v4_send_check for CHECKSUM_PARTIAL).
 */
export function writeTcpPacket(out: Buffer, ip: IPv4Fields, tcp: TcpFields, payload?: Buffer, partialChecksum = false): number {
  const thl = tcpHeaderLength(tcp);
  const plen = payload === undefined ? 0 : payload.length;
  writeIPv4HeaderFor(out, 0, ip, IPPROTO_TCP, thl + plen);
  // Pseudo-header: bytes 12..20 of the IP header are exactly src and dst.
  return 20 + writeTcpAt(out, 20, thl, tcp, payload, sumBytes(out, 12, 20, IPPROTO_TCP + thl + plen), partialChecksum);
}

/** TCP header length for `tcp`'s options; throws RangeError past 40 bytes of options (a caller bug). */
function tcpHeaderLength(tcp: TcpFields): number {
  const optLen = tcpOptionsLength(tcp.options) + fixedOptionsLength(tcp);
  if (optLen > 40) throw new RangeError(`TCP options take ${optLen} bytes, at most 40 fit`);
  return 20 + optLen;
}

/**
 * writeTcpPacket over IPv6 (RFC 8200): the 40-byte fixed header, no extension
 * headers, then TCP at offset 40; the checksum over the §8.1 pseudo-header
 * (or only that sum, `partialChecksum`, as Linux's __tcp_v6_send_check).
 */
export function writeTcpPacket6(out: Buffer, ip: IPv6Fields, tcp: TcpFields, payload?: Buffer, partialChecksum = false): number {
  const thl = tcpHeaderLength(tcp);
  const plen = payload === undefined ? 0 : payload.length;
  writeIPv6Header(out, 0, ip, IPPROTO_TCP, thl + plen);
  return IPV6_HEADER_LENGTH + writeTcpAt(out, IPV6_HEADER_LENGTH, thl, tcp, payload, pseudoHeaderSum6(out, IPPROTO_TCP, thl + plen), partialChecksum);
}

/** The TCP header at out[t], its checksum from `sum` (the pseudo-header's). Returns its length. */
function writeTcpAt(out: Buffer, t: number, thl: number, tcp: TcpFields, payload: Buffer | undefined, sum: number, partialChecksum: boolean): number {
  const optLen = thl - 20;
  const plen = payload === undefined ? 0 : payload.length;
  put16(out, t, tcp.srcPort);
  put16(out, t + 2, tcp.dstPort);
  put32(out, t + 4, tcp.seq);
  put32(out, t + 8, tcp.ack);
  out[t + 12] = (thl / 4) << 4;
  out[t + 13] = tcp.flags & 0xff;
  put16(out, t + 14, tcp.window);
  out[t + 16] = 0;
  out[t + 17] = 0;
  put16(out, t + 18, tcp.urgent ?? 0);
  const listLen = optLen > 0 && tcp.options !== undefined ? tcpOptionsLength(tcp.options) : 0;
  if (listLen > 0) writeOptions(out, t + 20, tcp.options!, listLen);
  if (optLen > listLen) writeFixedOptions(out, t + 20 + listLen, tcp);
  if (partialChecksum) {
    const c = ~foldChecksum(sum) & 0xffff;
    out[t + 16] = c >>> 8;
    out[t + 17] = c & 0xff;
    return thl;
  }
  sum = sumBytes(out, t, t + thl, sum);
  if (payload !== undefined) sum = sumBytes(payload, 0, plen, sum);
  const c = foldChecksum(sum);
  out[t + 16] = c >>> 8;
  out[t + 17] = c & 0xff;
  return thl;
}

/**
 * Recompute the TCP checksum of a whole IPv4 packet in place after its bytes
 * were edited (fuzzers, tests): over the segment from the end of the IPv4
 * header to the total length, both clamped to the buffer, with the
 * pseudo-header for that length. Does nothing when no TCP checksum field fits.
 */
export function setTcpChecksum(packet: Buffer): void {
  if (packet.length < 20) return;
  const hl = Math.max(20, (packet[0]! & 0x0f) * 4);
  const end = Math.min(packet.length, (packet[2]! << 8) | packet[3]!);
  if (end < hl + 18) return;
  packet[hl + 16] = 0;
  packet[hl + 17] = 0;
  const c = foldChecksum(sumBytes(packet, hl, end, sumBytes(packet, 12, 20, IPPROTO_TCP + end - hl)));
  packet[hl + 16] = c >>> 8;
  packet[hl + 17] = c & 0xff;
}

/** One Buffer with IPv4 header, TCP header and payload (tests, rare replies). */
export function buildTcpPacket(ip: IPv4Fields, tcp: TcpFields, payload?: Buffer): Buffer {
  const plen = payload === undefined ? 0 : payload.length;
  const out = Buffer.alloc(20 + tcpHeaderLength(tcp) + plen);
  const n = writeTcpPacket(out, ip, tcp, payload);
  if (payload !== undefined) payload.copy(out, n);
  return out;
}
