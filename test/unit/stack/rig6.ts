// IPv6 packets for the stack tests: TCP, ICMPv6 and raw ones from the peer
// (fd00::1) to us (fd00::2), and their decoding.
import { decodeIPv6Header, IPPROTO_ICMPV6, type IPv6Header } from '../../../src/wire/ipv6.js';
import { buildIcmp6Packet, decodeIcmp6, type Icmp6Message } from '../../../src/wire/icmp6.js';
import { sumBytes } from '../../../src/wire/checksum.js';
import { readTcp6, tcpOptionsLength, writeTcpPacket6, type TcpFields, type TcpSegment } from '../../../src/wire/tcp.js';
import { rig, type Rig } from './rig.js';
import type { StackOptions } from '../../../src/stack/stack.js';

export const US6 = 'fd00::2';
export const PEER6 = 'fd00::1';

/** A stack with IPv6 on (addr6 US6). */
export function rig6(opts: Partial<StackOptions> = {}, settleMs = 10): Rig {
  return rig({ addr6: US6, ...opts }, settleMs);
}

/** A TCP segment over IPv6 from the peer, port 40312, to us, port 80. */
export function tcp6(fields: Partial<TcpFields> & { flags: number }, payload?: Buffer, opts: { src?: string; dst?: string; tc?: number } = {}): Buffer {
  const f: TcpFields = { srcPort: 40312, dstPort: 80, seq: 0, ack: 0, window: 64240, ...fields };
  const plen = payload?.length ?? 0;
  const out = Buffer.alloc(40 + 20 + tcpOptionsLength(f.options) + plen);
  const n = writeTcpPacket6(out, { src: opts.src ?? PEER6, dst: opts.dst ?? US6, trafficClass: opts.tc ?? 0 }, f, payload);
  payload?.copy(out, n);
  return out;
}

export function asTcp6(p: Buffer): { ip: IPv6Header; seg: TcpSegment } {
  const ip = decodeIPv6Header(p);
  if (typeof ip === 'string') throw new Error(ip);
  if (ip.nextHeader !== 6) throw new Error(`next header ${ip.nextHeader}, not TCP`);
  const seg = readTcp6(p, 40, 40 + ip.payloadLength, sumBytes(p, 8, 40), true);
  if (typeof seg === 'string') throw new Error(seg);
  return { ip, seg };
}

export function icmp6(type: number, code: number, rest: number, data: Buffer, src = PEER6, dst = US6): Buffer {
  return buildIcmp6Packet({ src, dst }, type, code, rest, data);
}

export function asIcmp6(p: Buffer): { ip: IPv6Header; msg: Icmp6Message } {
  const ip = decodeIPv6Header(p);
  if (typeof ip === 'string') throw new Error(ip);
  if (ip.nextHeader !== IPPROTO_ICMPV6) throw new Error(`next header ${ip.nextHeader}, not ICMPv6`);
  const msg = decodeIcmp6(p, 40);
  if (typeof msg === 'string') throw new Error(msg);
  return { ip, msg };
}
