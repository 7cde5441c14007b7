/**
 * ICMP codec (RFC 792): echo request/reply, and the error messages that quote
 * the offending datagram (destination unreachable, time exceeded, ...).
 */
import { internetChecksum } from './checksum.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, bytesToIp, writeIPv4HeaderFor, type IPv4Fields, type IPv4Packet } from './ipv4.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;

/** Destination unreachable codes used by the stack (RFC 792, RFC 1191). */
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;

export interface IcmpQuote {
  src: string;
  dst: string;
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  /** TCP only: the quoted segment's sequence number (RFC 5927 checks it). */
  seq?: number;
}

export interface IcmpMessage {
  type: number;
  code: number;
  checksum: number;
  /** Echo only, else 0. */
  id: number;
  /** Echo only, else 0. */
  seq: number;
  /** The 4 bytes after the checksum as a uint32 (id/seq, pointer, next-hop MTU...). */
  rest: number;
  /** View of everything after the 8-byte header (no copy). */
  data: Buffer;
  /** Error messages: the quoted IP header and first 8 bytes, as far as present. */
  quoted?: IcmpQuote;
}

export type IcmpDropReason = 'icmp_truncated' | 'icmp_bad_checksum';

/** Types whose data is "Internet Header + 64 bits of Original Data Datagram": the error messages. */
export function quotesDatagram(type: number): boolean {
  return (
    type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED || type === ICMP_PARAM_PROBLEM
  );
}

/** Decode an ICMP message (the IPv4 payload). Never throws. */
export function decodeIcmp(payload: Buffer, verifyChecksum = true): IcmpMessage | IcmpDropReason {
  if (payload.length < 8) return 'icmp_truncated';
  // RFC 792: the checksum covers the whole ICMP message.
  if (verifyChecksum && internetChecksum(payload, 0, payload.length) !== 0) return 'icmp_bad_checksum';
  const type = payload[0]!;
  const echo = type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY;
  const msg: IcmpMessage = {
    type,
    code: payload[1]!,
    checksum: (payload[2]! << 8) | payload[3]!,
    id: echo ? (payload[4]! << 8) | payload[5]! : 0,
    seq: echo ? (payload[6]! << 8) | payload[7]! : 0,
    rest: payload.readUInt32BE(4),
    data: payload.subarray(8),
  };
  if (quotesDatagram(type)) {
    const q = parseQuote(msg.data);
    if (q !== undefined) msg.quoted = q;
  }
  return msg;
}

/** The quoted datagram is often cut short; take whatever fields are there. */
function parseQuote(d: Buffer): IcmpQuote | undefined {
  if (d.length < 20 || d[0]! >> 4 !== 4) return undefined;
  const ihl = (d[0]! & 0x0f) * 4;
  const q: IcmpQuote = { src: bytesToIp(d, 12), dst: bytesToIp(d, 16), protocol: d[9]! };
  if (ihl < 20) return q;
  if ((q.protocol === IPPROTO_TCP || q.protocol === IPPROTO_UDP) && d.length >= ihl + 4) {
    q.srcPort = (d[ihl]! << 8) | d[ihl + 1]!;
    q.dstPort = (d[ihl + 2]! << 8) | d[ihl + 3]!;
  }
  if (q.protocol === IPPROTO_TCP && d.length >= ihl + 8) q.seq = d.readUInt32BE(ihl + 4);
  return q;
}

// ---------------------------------------------------------------- ICMP errors in
// (RFC 1122 §4.2.3.9, RFC 5927): what an error quoting one of our TCP
// segments means to the connection, as Linux reads it (icmp_err_convert).

/** Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PKT_FILTERED = 13;

/**
 * The errno each destination-unreachable code 0..15 stands for (Linux
 * icmp_err_convert; "administratively prohibited", 13, is EHOSTUNREACH there).
 */
const UNREACH_ERRNO: readonly IcmpErrno[] = [
  'ENETUNREACH', // 0 net unreachable
  'EHOSTUNREACH', // 1 host unreachable
  'ENOPROTOOPT', // 2 protocol unreachable
  'ECONNREFUSED', // 3 port unreachable
  'EMSGSIZE', // 4 fragmentation needed and DF set
  'EOPNOTSUPP', // 5 source route failed
  'ENETUNREACH', // 6 destination network unknown
  'EHOSTDOWN', // 7 destination host unknown
  'ENONET', // 8 source host isolated
  'ENETUNREACH', // 9 network administratively prohibited
  'EHOSTUNREACH', // 10 host administratively prohibited
  'ENETUNREACH', // 11 network unreachable for TOS
  'EHOSTUNREACH', // 12 host unreachable for TOS
  'EHOSTUNREACH', // 13 communication administratively prohibited
  'EHOSTUNREACH', // 14 host precedence violation
  'EHOSTUNREACH', // 15 precedence cutoff in effect
];

export type IcmpErrno = 'ENETUNREACH' | 'EHOSTUNREACH' | 'ENOPROTOOPT' | 'ECONNREFUSED' | 'EMSGSIZE' | 'EOPNOTSUPP' | 'EHOSTDOWN' | 'ENONET' | 'EPROTO'
  | 'EACCES';

/** An ICMP error quoting a TCP segment of ours, as the connection gets it. */
export interface IcmpTcpError {
  type: number;
  code: number;
  /** The quoted segment's sequence number (RFC 5927 §4.1 checks it). */
  seq: number;
  /** The errno it reports (Linux's mapping). */
  errno: IcmpErrno;
  /** Fragmentation needed: the next-hop MTU (RFC 1191 §4), 0 if the router gave none. */
  mtu?: number;
}

/**
 * Read an ICMP error about TCP: its meaning, or null for what TCP ignores
 * (source quench, RFC 6633; redirects; echo and other queries; codes Linux
 * does not know). The quote must reach the sequence number (RFC 792 gives 8
 * bytes of the original datagram).
 */
export function icmpTcpError(msg: IcmpMessage): IcmpTcpError | null {
  const q = msg.quoted;
  if (q === undefined || q.protocol !== IPPROTO_TCP || q.seq === undefined) return null;
  const e = { type: msg.type, code: msg.code, seq: q.seq };
  switch (msg.type) {
    case ICMP_DEST_UNREACH: {
      const errno = UNREACH_ERRNO[msg.code];
      if (errno === undefined) return null;
      const err: IcmpTcpError = { ...e, errno };
      if (msg.code === ICMP_FRAG_NEEDED) err.mtu = msg.rest & 0xffff; // RFC 1191 §4: low 16 bits
      return err;
    }
    case ICMP_TIME_EXCEEDED:
      return { ...e, errno: 'EHOSTUNREACH' };
    case ICMP_PARAM_PROBLEM:
      return { ...e, errno: 'EPROTO' };
    default:
      return null;
  }
}

/**
 * Full IPv4 packet answering an echo request (RFC 792 "Echo or Echo Reply
 * Message"): addresses swapped, same identifier, sequence number and data, TOS
 * copied as Linux does. DF with id 0: an atomic datagram (RFC 6864 §4).
 */
export function buildEchoReply(request: IPv4Packet, msg: IcmpMessage): Buffer {
  return buildIcmpPacket(
    { src: request.dst, dst: request.src, protocol: IPPROTO_ICMP, tos: request.tos },
    ICMP_ECHO_REPLY, 0, msg.rest, msg.data,
  );
}

/** Full IPv4 packet carrying one ICMP message (protocol forced to ICMP). */
export function buildIcmpPacket(ip: IPv4Fields, type: number, code: number, rest: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(28 + data.length);
  writeIPv4HeaderFor(out, 0, ip, IPPROTO_ICMP, 8 + data.length);
  out[20] = type & 0xff;
  out[21] = code & 0xff;
  out[22] = 0;
  out[23] = 0;
  out.writeUInt32BE(rest >>> 0, 24);
  data.copy(out, 28);
  const c = internetChecksum(out, 20, out.length);
  out[22] = c >>> 8;
  out[23] = c & 0xff;
  return out;
}

// ---- ICMP errors we send (RFC 1122 §3.2.2): builders for stack/icmp-out.ts ----

/** Time exceeded: fragment reassembly time exceeded (RFC 792). */
export const ICMP_EXC_FRAGTIME = 1;
/** Linux's bound on an ICMP error, 576 bytes in all: as much of the offending
 * datagram as fits (RFC 1812 §4.3.2.3; RFC 1122 §3.2.2 asks for its header and 8 bytes at least). */
export const ICMP_ERROR_MAX = 576;

/**
 * Full IPv4 packet carrying an ICMP error about `offending` (its IP header and
 * data as received), from `src` to `dst`, as Linux's icmp_send builds it: TOS
 * the offending datagram's TOS bits with precedence "internetwork control"
 * (0xc0), DF clear, identification `id`, TTL 64, the quote cut to fit 576 bytes.
 */
export function buildIcmpError(src: number, dst: number, type: number, code: number, offending: Buffer, id: number): Buffer {
  const quote = offending.subarray(0, ICMP_ERROR_MAX - 28);
  const tos = ((offending[1] ?? 0) & 0x1e) | 0xc0;
  return buildIcmpPacket({ src, dst, protocol: IPPROTO_ICMP, tos, id, dontFragment: false }, type, code, 0, quote);
}
