/**
 * IPv6 extension headers in tcpdump's words without -v: the hop-by-hop option
 * checks of print-ip6opts.c ip6_opt_process and the routing header of
 * print-rt6.c rt6_print (4.99).
 */
import { ip6ToString } from '../wire/ipv6.js';
import { Line, Truncated, View } from './tcpdump-bytes.js';

const PAD1 = 0;
const PADN = 1;
const ROUTER_ALERT = 0x05;
const JUMBO = 0xc2;
const HOME_ADDRESS = 0xc9;

/** Walk the options at b (the header after its two fixed bytes); false where
 * tcpdump gives up ("[|hbhopt]"), after the note it prints for some. */
export function formatIp6Options(o: Line, b: Buffer): boolean {
  const len = b.length;
  let optlen = 0;
  for (let i = 0; i < len; i += optlen) {
    const type = b[i]!;
    if (type === PAD1) optlen = 1;
    else if (i + 1 < len) optlen = b[i + 1]! + 2;
    else return false;
    if (i + optlen > len) return false;
    switch (type) {
      case PAD1:
        break;
      case PADN:
        if (len - i < 2) {
          o.text += '(padn: trunc)';
          return false;
        }
        break;
      case ROUTER_ALERT:
        if (len - i < 4) {
          o.text += '(rtalert: trunc)';
          return false;
        }
        if (b[i + 1] !== 2) {
          o.text += `(rtalert: invalid len ${b[i + 1]})`;
          return false;
        }
        break;
      case JUMBO:
        if (len - i < 6) {
          o.text += '(jumbo: trunc)';
          return false;
        }
        if (b[i + 1] !== 4) {
          o.text += `(jumbo: invalid len ${b[i + 1]})`;
          return false;
        }
        break;
      case HOME_ADDRESS:
        if (len - i < 18) {
          o.text += '(homeaddr: trunc)';
          return false;
        }
        if (b[i + 1]! < 16) {
          o.text += `(homeaddr: invalid len ${b[i + 1]})`;
          return false;
        }
        break;
      default:
        if (len - i < 2) {
          o.text += `(type ${type}: trunc)`;
          return false;
        }
    }
  }
  return true;
}

/** The routing header: "RT6 (len=2, type=0 [Deprecated], segleft=0, [0]2001:db8::2) ".
 * Returns its length, or -1 where tcpdump stops ("(invalid)"). */
export function formatRt6(o: Line, v: View): number {
  o.text += 'RT6';
  const len = v.u8(1);
  o.text += ` (len=${len}`;
  const type = v.u8(2);
  o.text += `, type=${type}`;
  if (type === 0) o.text += ' [Deprecated]';
  o.text += `, segleft=${v.u8(3)}`;
  if (type === 0 || type === 2) {
    const rsv = v.u32(4);
    if (rsv !== 0) o.text += `, rsv=0x${rsv.toString(16)}`;
  } else if (type === 4) {
    o.text += `, last-entry=${v.u8(4)}`;
    const flags = v.u8(5);
    if (flags !== 0) o.text += `, flags=0x${flags.toString(16)}`;
    o.text += `, tag=${v.u16(6).toString(16)}`;
  } else {
    o.text += ' (unknown type) (invalid)';
    return -1;
  }
  if (len % 2 === 1) {
    o.text += ` (invalid length ${len}) (invalid)`;
    return -1;
  }
  for (let i = 0; i < len / 2; i++) {
    const at = 8 + 16 * i;
    if (!v.has(at, 16)) throw new Truncated(v.proto);
    o.text += `, [${i}]${ip6ToString(v.b, at)}`;
  }
  o.text += ') ';
  return (len + 1) * 8;
}
