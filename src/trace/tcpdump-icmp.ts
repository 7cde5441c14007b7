/**
 * ICMP in tcpdump's words without -v (print-icmp.c icmp_print): type and code
 * as text, the quoted destination for errors, "length" = ICMP message length.
 */
import { decodeIcmp, type IcmpMessage } from '../wire/icmp.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { View } from './tcpdump-bytes.js';

// print-icmp.c icmp2str.
const ICMP_NAMES = new Map<number, string>([
  [0, 'echo reply'], [4, 'source quench'], [8, 'echo request'], [10, 'router solicitation'],
  [13, 'time stamp request'], [14, 'time stamp reply'], [15, 'information request'], [16, 'information reply'],
  [17, 'address mask request'],
]);

const UNREACH_TEXT: Array<string | null> = [
  'net %s unreachable', 'host %s unreachable', null, null, null, '%s unreachable - source route failed',
  'net %s unreachable - unknown', 'host %s unreachable - unknown', '%s unreachable - source host isolated',
  'net %s unreachable - admin prohibited', 'host %s unreachable - admin prohibited',
  'net %s unreachable - tos prohibited', 'host %s unreachable - tos prohibited',
  'host %s unreachable - admin prohibited filter', 'host %s unreachable - host precedence violation',
  'host %s unreachable - precedence cutoff',
];

/** ms since midnight UTC as hh:mm:ss.mmm (print-icmp.c icmp_tstamp_print). */
function icmpTime(t: number): string {
  const ms = t % 1000;
  let sec = Math.floor(t / 1000);
  let min = Math.floor(sec / 60);
  sec -= min * 60;
  const hrs = Math.floor(min / 60);
  min -= hrs * 60;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(hrs)}:${p(min)}:${p(sec)}.${p(ms, 3)}`;
}

/** The ICMP part of the line; `length` is the IP payload length claimed. */
export function formatIcmp(payload: Buffer, length: number): string {
  const v = new View(payload, 'icmp');
  const m: IcmpMessage | string = decodeIcmp(payload, false);
  const type = typeof m === 'string' ? v.u8(0) : m.type;
  const code = typeof m === 'string' ? v.u8(1) : m.code;
  let s: string;
  switch (type) {
    case 0:
    case 8:
      s = `echo ${type === 8 ? 'request' : 'reply'}, id ${v.u16(4)}, seq ${v.u16(6)}`;
      break;
    case 3:
      s = unreach(v, code);
      break;
    case 5: {
      const what = ['redirect %s to net %s', 'redirect %s to host %s', 'redirect-tos %s to net %s', 'redirect-tos %s to host %s'][code]
        ?? `redirect-#${code} %s to %s`;
      s = what.replace('%s', v.ip(24)).replace('%s', v.ip(4));
      break;
    }
    case 9:
      s = routerAdvert(v);
      break;
    case 11:
      v.u32(24); // tcpdump checks the quoted destination is there
      s = code === 0 ? 'time exceeded in-transit' : code === 1 ? 'ip reassembly time exceeded' : `time exceeded-#${code}`;
      break;
    case 12:
      s = code !== 0 ? `parameter problem - code ${code}` : `parameter problem - octet ${v.u8(4)}`;
      break;
    case 18:
      s = `address mask is 0x${v.u32(8).toString(16).padStart(8, '0')}`;
      break;
    case 13:
      s = `time stamp query id ${v.u16(4)} seq ${v.u16(6)}`;
      break;
    case 14:
      v.u32(16);
      s = `time stamp reply id ${v.u16(4)} seq ${v.u16(6)}: org ${icmpTime(v.u32(8))}` +
        `, recv ${icmpTime(v.u32(12))}, xmit ${icmpTime(v.u32(16))}`;
      break;
    default:
      s = ICMP_NAMES.get(type) ?? `type-#${type}`;
  }
  return `ICMP ${s}, length ${length}`;
}

function unreach(v: View, code: number): string {
  const text = UNREACH_TEXT[code];
  if (text !== undefined && text !== null) return text.replace('%s', v.ip(24));
  switch (code) {
    case 2:
      return `${v.ip(24)} protocol ${v.u8(17)} unreachable`;
    case 3: {
      v.u8(17);
      const hl = (v.u8(8) & 0x0f) * 4;
      const dport = v.u16(8 + hl + 2);
      const proto = v.u8(17);
      const dst = v.ip(24);
      if (proto === IPPROTO_TCP) return `${dst} tcp port ${dport} unreachable`;
      if (proto === IPPROTO_UDP) return `${dst} udp port ${dport} unreachable`;
      return `${dst} protocol ${proto} port ${dport} unreachable`;
    }
    case 4: {
      const mtu = v.u16(6);
      return mtu !== 0 ? `${v.ip(24)} unreachable - need to frag (mtu ${mtu})` : `${v.ip(24)} unreachable - need to frag`;
    }
    default:
      return `${v.ip(24)} unreachable - #${code}`;
  }
}

function routerAdvert(v: View): string {
  v.u32(4);
  let s = 'router advertisement lifetime ';
  const life = v.u16(6);
  const p2 = (n: number) => String(n).padStart(2, '0');
  if (life < 60) s += `${life}`;
  else if (life < 3600) s += `${Math.floor(life / 60)}:${p2(life % 60)}`;
  else s += `${Math.floor(life / 3600)}:${p2(Math.floor((life % 3600) / 60))}:${p2(life % 60)}`;
  let num = v.u8(4);
  s += ` ${num}:`;
  const size = v.u8(5);
  if (size !== 2) return `${s} [size ${size}]`;
  for (let off = 8; num > 0; num--, off += 8) {
    v.u32(off + 4);
    s += ` {${v.ip(off)} ${v.u32(off + 4)}}`;
  }
  return s;
}
