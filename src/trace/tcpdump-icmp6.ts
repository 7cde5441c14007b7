/**
 * ICMPv6 in tcpdump's words without -v (print-icmp6.c icmp6_print, 4.99):
 * "ICMP6, echo request, id 4660, seq 1, length 64". Written into the line as
 * it goes, so what was printed before a truncation stays, as on tcpdump's
 * stdout. Unknown types and destination-unreachable codes get tcpdump's hex
 * dump on continuation lines ("\n\t0x0000:  ..."). Not reproduced: router
 * renumbering, node information and RPL details (named only).
 */
import { ip6ToString } from '../wire/ipv6.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import { parseQuote6 } from '../wire/icmp6.js';
import { Line, Truncated, View } from './tcpdump-bytes.js';

// print-icmp6.c icmp6_type_values.
const TYPE_NAMES = new Map<number, string>([
  [1, 'destination unreachable'], [2, 'packet too big'], [3, 'time exceeded in-transit'], [4, 'parameter problem'],
  [128, 'echo request'], [129, 'echo reply'], [130, 'multicast listener query'], [131, 'multicast listener report'],
  [132, 'multicast listener done'], [133, 'router solicitation'], [134, 'router advertisement'],
  [135, 'neighbor solicitation'], [136, 'neighbor advertisement'], [137, 'redirect'], [138, 'router renumbering'],
  [141, 'inverse neighbor solicitation'], [142, 'inverse neighbor advertisement'], [143, 'multicast listener report v2'],
  [144, 'ha discovery request'], [145, 'ha discovery reply'], [146, 'mobile router solicitation'],
  [147, 'mobile router advertisement'], [139, 'who-are-you request'], [140, 'who-are-you reply'],
  [201, 'mtrace message'], [200, 'mtrace response'], [155, 'RPL'],
]);
const UNREACH_NAMES = ['unreachable route', ' unreachable prohibited', 'beyond scope', 'unreachable address', 'unreachable port'];
const PARAMPROB_NAMES = ['erroneous', 'next header', 'option', 'incomplete header chain'];

/** An IPv6 address from the captured bytes, or "[|icmp6]". */
function addr(v: View, off: number): string {
  if (!v.has(off, 16)) throw new Truncated(v.proto);
  return ip6ToString(v.b, off);
}

/** Append the ICMPv6 part; `b` is the message as captured, `length` what the IPv6 header claims. */
export function formatIcmp6(o: Line, b: Buffer, length: number): void {
  if (length === 0) {
    o.text += 'ICMP6, length 0 (invalid)';
    return;
  }
  const v = new View(b, 'icmp6');
  const type = v.u8(0);
  o.text += `ICMP6, ${TYPE_NAMES.get(type) ?? `unknown icmp6 type (${type})`}`;
  const code = v.u8(1);
  // The quoted packet of an error starts after the 8-byte header.
  const OIP = 8;
  switch (type) {
    case 1:
      o.text += `, ${UNREACH_NAMES[code] ?? `unknown unreach code (${code})`}`;
      if (code === 0 || code === 1 || code === 3) o.text += ` ${addr(v, OIP + 24)}`;
      else if (code === 2) o.text += ` ${addr(v, OIP + 24)}, source address ${addr(v, OIP + 8)}`;
      else if (code === 4) o.text += portUnreachable(v);
      else {
        o.text += hexDump(b, length); // and no length
        return;
      }
      break;
    case 2:
      o.text += `, mtu ${v.u32(4)}`;
      break;
    case 3:
      if (code === 0) o.text += ` for ${addr(v, OIP + 24)}`;
      else if (code === 1) o.text += ' (reassembly)';
      else o.text += `, unknown code (${code})`;
      break;
    case 4:
      if (!v.has(OIP + 24, 16)) throw new Truncated('icmp6');
      o.text += code < PARAMPROB_NAMES.length ? `, ${PARAMPROB_NAMES[code]} - octet ${v.u32(4)}` : `, code-#${code}`;
      break;
    case 128:
    case 129:
      o.text += `, id ${v.u16(4)}, seq ${v.u16(6)}`;
      break;
    case 130:
      if (length === 24) o.text += mld(v);
      else if (length >= 28) o.text += ` v2${mldv2Query(v, length)}`;
      else o.text += ` unknown-version (len ${length}) `;
      break;
    case 131:
    case 132:
      o.text += mld(v);
      break;
    case 135:
      o.text += `, who has ${addr(v, 8)}`;
      break;
    case 136:
      o.text += `, tgt is ${addr(v, 8)}`;
      break;
    case 137:
      o.text += `, ${addr(v, 24)}`;
      o.text += ` to ${addr(v, 8)}`;
      break;
    case 143:
      o.text += length < 8 ? ` [invalid len ${length}]` : `, ${v.u16(6)} group record(s)`;
      break;
    case 144:
    case 146:
      o.text += `, id 0x${v.u16(4).toString(16).padStart(4, '0')}`;
      break;
    case 133:
    case 134:
    case 141:
    case 142:
    case 145:
    case 147:
      break; // details only with -v
    case 138:
    case 139:
    case 140:
    case 155:
      break; // router renumbering, node information, RPL: not reproduced
    default:
      o.text += `, length ${length}${hexDump(b, length)}`;
      return;
  }
  o.text += `, length ${length}`;
}

/** util-print.c print_unknown_data(bp, "\n\t", length): 16 bytes a line, in 16-bit groups. */
function hexDump(b: Buffer, length: number): string {
  const n = Math.min(length, b.length);
  let s = '';
  const byte = (i: number): string => b[i]!.toString(16).padStart(2, '0');
  let i = 0;
  for (; i + 1 < n; i += 2) {
    if (i % 16 === 0) s += `\n\t0x${i.toString(16).padStart(4, '0')}: `;
    s += ` ${byte(i)}${byte(i + 1)}`;
  }
  if (i < n) {
    if (i % 16 === 0) s += `\n\t0x${i.toString(16).padStart(4, '0')}: `;
    s += ` ${byte(i)}`;
  }
  return s;
}

/** print-icmp6.c get_upperlayer through the quoted packet's extension headers. */
function portUnreachable(v: View): string {
  const q = parseQuote6(v.b.subarray(8));
  if (q === undefined || q.dstPort === undefined || q.protocol === undefined) throw new Truncated('icmp6');
  const proto = q.protocol === IPPROTO_TCP ? 'tcp port' : q.protocol === IPPROTO_UDP ? 'udp port' : null;
  return proto !== null ? `, ${q.dst} ${proto} ${q.dstPort}` : `, ${q.dst} protocol ${q.protocol} port ${q.dstPort} unreachable`;
}

function mld(v: View): string {
  if (!v.has(0, 24)) return '';
  return `max resp delay: ${v.u16(4)} addr: ${addr(v, 8)}`;
}

function mldv2Query(v: View, length: number): string {
  let s = ` [gaddr ${addr(v, 8)}`;
  const nsrcs = v.u16(26);
  if (nsrcs > 0) s += length < 28 + nsrcs * 16 ? ' [invalid number of sources]' : `, ${nsrcs} source(s)`;
  return `${s}]`;
}
