/**
 * TCP options in tcpdump's words (print-tcp.c, the option loop of tcp_print).
 * Options the wire decoder accepted are printed from its list; options it
 * refused are walked byte by byte the way tcpdump walks them, with its "[len N]"
 * and "[bad opt]" markers, since that is what a tcpdump user sees.
 */
import type { TcpOption } from '../wire/tcp.js';
import { hex, Line, Truncated, View } from './tcpdump-bytes.js';

// print-tcp.c tcp_option_values.
const OPTION_NAMES = new Map<number, string>([
  [0, 'eol'], [1, 'nop'], [2, 'mss'], [3, 'wscale'], [4, 'sackOK'], [5, 'sack'], [6, 'echo'], [7, 'echoreply'],
  [8, 'TS'], [11, 'cc'], [12, 'ccnew'], [13, ''], [19, 'md5'], [20, 'scps'], [28, 'uto'], [29, 'tcp-ao'],
  [30, 'mptcp'], [34, 'tfo'], [254, 'exp'],
]);

/**
 * Append the option list (without the brackets) for a header of `hlen` bytes.
 * `list` is the decoder's, or null when it refused them. `sackBase` makes SACK
 * blocks relative like the sequence numbers. Returns false when tcpdump would
 * stop at "[bad opt]" and end the line there.
 */
export function formatTcpOptions(
  o: Line, list: TcpOption[] | null, v: View, hlen: number, sackBase: number, md5Note: string,
): boolean {
  const text = list === null ? null : fromList(list, sackBase, md5Note);
  if (text === null) return raw(o, v, hlen, sackBase, md5Note);
  o.text += text;
  return true;
}

/** Options as decoded by src/wire/tcp.ts, in tcpdump's words. Null when an
 * option needs tcpdump's byte-level quirks (a length it does not expect). */
function fromList(list: TcpOption[], sackBase: number, md5Note: string): string | null {
  const parts: string[] = [];
  for (const o of list) {
    switch (o.kind) {
      case 'eol':
        parts.push('eol');
        break;
      case 'nop':
        parts.push('nop');
        break;
      case 'mss':
        parts.push(`mss ${o.mss}`);
        break;
      case 'wscale':
        parts.push(`wscale ${o.shift}`);
        break;
      case 'sackOK':
        parts.push('sackOK');
        break;
      case 'sack':
        parts.push(`sack ${o.blocks.length} ${o.blocks.map(([l, r]) => `{${(l - sackBase) >>> 0}:${(r - sackBase) >>> 0}}`).join('')}`);
        break;
      case 'ts':
        parts.push(`TS val ${o.val} ecr ${o.ecr}`);
        break;
      case 'unknown': {
        const s = otherOption(o.code, o.data, md5Note);
        if (s === null) return null;
        parts.push(s);
      }
    }
  }
  return parts.join(',');
}

/** Kinds the wire decoder does not know, printed as print-tcp.c does when the
 * length is the one it expects. */
function otherOption(code: number, d: Buffer, md5Note: string): string | null {
  const name = OPTION_NAMES.get(code) ?? `unknown-${code}`;
  switch (code) {
    case 6: case 7: case 11: case 12: case 13: // echo, echoreply, cc, ccnew, ccecho
      return d.length === 4 ? `${name} ${d.readUInt32BE(0)}` : null;
    case 19: // TCP MD5 signature (RFC 2385); tcpdump has no -M secret here
      return d.length === 16 ? `${name} ${md5Note}can't check - ${hex(d)}` : null;
    case 20:
      return d.length === 2 ? `${name} cap ${hex(d, 0, 1)} id ${d[1]}` : null;
    case 28: { // user timeout (RFC 5482): granularity bit, then minutes or seconds
      if (d.length !== 2) return null;
      const u = d.readUInt16BE(0);
      return `${name} 0x${u.toString(16)} ${u & 1 ? (u >> 1) * 60 : u >> 1}`;
    }
    case 29: // TCP-AO (RFC 5925 §2.2)
      if (d.length < 2) return `${name} (invalid)`;
      return `${name} keyid ${d[0]} rnextkeyid ${d[1]}${d.length > 2 ? ` mac 0x${hex(d, 2)}` : ''}`;
    case 30:
      return null; // MPTCP: tcpdump decodes subtypes; the raw path prints a summary
    case 34:
      return `${name} ${fastOpen(d)}`;
    case 254: { // RFC 6994 shared experimental option
      if (d.length < 2) return null;
      const magic = d.readUInt16BE(0);
      return magic === 0xf989 ? `${name}-tfo${fastOpen(d.subarray(2))}` : `${name}-${hex(d, 0, 2)}`;
    }
    default:
      return d.length > 0 ? `${name} 0x${hex(d)}` : name;
  }
}

/**
 * print-tcp.c's option loop over the raw bytes, for options the decoder
 * refused. Returns false after "[bad opt]" (the line ends there).
 */
function raw(o: Line, v: View, hlenTotal: number, sackBase: number, md5Note: string): boolean {
  let hlen = hlenTotal - 20;
  let cp = 20;
  let first = true;
  while (hlen > 0) {
    if (!first) o.text += ',';
    const opt = v.u8(cp++);
    let len: number;
    if (opt === 0 || opt === 1) {
      len = 1;
    } else {
      len = v.u8(cp++);
      if (len < 2 || len > hlen) return badOpt(o, first);
      hlen--;
    }
    hlen--;
    let datalen = 0;
    o.text += OPTION_NAMES.get(opt) ?? `unknown-${opt}`;
    // LENCHECK: the data must be within the option space and captured.
    const lencheck = (n: number): boolean => {
      if (n > hlen) return false;
      if (!v.has(cp, n)) throw new Truncated('tcp', first ? '' : '>');
      return true;
    };
    switch (opt) {
      case 0: case 1: case 4:
        break;
      case 2:
        datalen = 2;
        if (!lencheck(2)) return badOpt(o, first);
        o.text += ` ${v.u16(cp)}`;
        break;
      case 3:
        datalen = 1;
        if (!lencheck(1)) return badOpt(o, first);
        o.text += ` ${v.u8(cp)}`;
        break;
      case 5:
        datalen = len - 2;
        if (datalen % 8 !== 0) {
          o.text += ' invalid sack';
        } else {
          o.text += ` ${datalen / 8} `;
          for (let i = 0; i < datalen; i += 8) {
            if (!lencheck(i + 8)) return badOpt(o, first);
            o.text += `{${(v.u32(cp + i) - sackBase) >>> 0}:${(v.u32(cp + i + 4) - sackBase) >>> 0}}`;
          }
        }
        break;
      case 6: case 7: case 11: case 12: case 13:
        datalen = 4;
        if (!lencheck(4)) return badOpt(o, first);
        o.text += ` ${v.u32(cp)}`;
        break;
      case 8:
        datalen = 8;
        if (!lencheck(8)) return badOpt(o, first);
        o.text += ` val ${v.u32(cp)} ecr ${v.u32(cp + 4)}`;
        break;
      case 19:
        datalen = 16;
        if (!lencheck(16)) return badOpt(o, first);
        o.text += ` ${md5Note}can't check - ${hex(v.b, cp, cp + 16)}`;
        break;
      case 20:
        datalen = 2;
        if (!lencheck(2)) return badOpt(o, first);
        o.text += ` cap ${hex(v.b, cp, cp + 1)} id ${v.u8(cp + 1)}`;
        break;
      case 28: {
        datalen = 2;
        if (!lencheck(2)) return badOpt(o, first);
        const u = v.u16(cp);
        o.text += ` 0x${u.toString(16)} ${u & 1 ? (u >> 1) * 60 : u >> 1}`;
        break;
      }
      case 29:
        datalen = len - 2;
        if (datalen < 2) {
          o.text += ' (invalid)';
        } else {
          if (!lencheck(2)) return badOpt(o, first);
          o.text += ` keyid ${v.u8(cp)} rnextkeyid ${v.u8(cp + 1)}`;
          if (datalen > 2) {
            if (!lencheck(datalen)) return badOpt(o, first);
            o.text += ` mac 0x${hex(v.b, cp + 2, cp + datalen)}`;
          }
        }
        break;
      case 34:
        datalen = len - 2;
        if (!lencheck(datalen)) return badOpt(o, first);
        o.text += ` ${fastOpen(v.b.subarray(cp, cp + datalen))}`;
        break;
      case 254: {
        datalen = len - 2;
        if (!lencheck(datalen) || datalen < 2) return badOpt(o, first);
        const magic = v.u16(cp);
        o.text += magic === 0xf989 ? `-tfo${fastOpen(v.b.subarray(cp + 2, cp + datalen))}` : `-${hex(v.b, cp, cp + 2)}`;
        break;
      }
      default: // including MPTCP (30), whose details we do not decode
        datalen = len - 2;
        if (datalen > 0) o.text += ' 0x';
        for (let i = 0; i < datalen; i++) {
          if (!lencheck(i + 1)) return badOpt(o, first);
          o.text += hex(v.b, cp + i, cp + i + 1);
        }
    }
    cp += datalen;
    hlen -= datalen;
    // tcpdump flags a length that differs from what it consumed.
    const used = datalen + (opt === 0 || opt === 1 ? 1 : 2);
    if (used !== len) o.text += `[len ${len}]`;
    first = false;
    if (opt === 0) break;
  }
  return true;
}

function badOpt(o: Line, first: boolean): false {
  o.text += first ? '[bad opt]' : '[bad opt]]';
  return false;
}

/** print-tcp.c print_tcp_fastopen_option (RFC 7413 §4.1.1). */
function fastOpen(d: Buffer): string {
  if (d.length === 0) return ' cookiereq';
  if (d.length % 2 !== 0 || d.length < 4 || d.length > 16) return ' (invalid)';
  return ` cookie ${hex(d)}`;
}
