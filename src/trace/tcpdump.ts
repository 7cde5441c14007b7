/**
 * One line per packet exactly as `tcpdump -nn` (4.99) prints it after the
 * timestamp, e.g. `IP 10.55.0.1.40312 > 10.55.0.2.80: Flags [S], seq 117557845,
 * win 64240, options [mss 1460,sackOK,TS val 1654376461 ecr 0,nop,wscale 7], length 0`.
 * `absolute: true` is `tcpdump -S`.
 *
 * Fields come from the src/wire decoders, run leniently (bad checksums and
 * fragments are shown, not dropped). What the decoders refuse is rendered the
 * way tcpdump renders it ("bad-hlen 16", "[bad opt]", " [|tcp]"), reading the
 * raw bytes as tcpdump's print-ip.c / print-tcp.c / print-icmp.c do. IPv6
 * follows print-ip6.c: extension headers (HBH, DSTOPT, RT6, frag) in its
 * words, then TCP/UDP (ports alone after extension headers) or ICMP6. Like
 * tcpdump, the formatter keeps per-connection state for relative sequence
 * numbers, so feed it every packet in order. It never throws.
 *
 * Not reproduced: application decoders tcpdump picks by well-known port other
 * than HTTP's first line (DNS on 53, SMTP on 25, syslog on 514, ...), payload
 * protocols other than TCP, UDP and ICMP (IGMP, GRE, SCTP, ...), -v output,
 * MPTCP option details, IPv6 mobility/AH/ESP headers (shown as ip-proto-N).
 */
import { bytesToIp, decodeIPv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, type IPv4Packet } from '../wire/ipv4.js';
import { IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_ROUTING, ip6ToString } from '../wire/ipv6.js';
import { readTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TCP_URG } from '../wire/tcp.js';
import { Line, Truncated, View } from './tcpdump-bytes.js';
import { EARLIER_PORTS, HTTP_PORTS, httpLine } from './tcpdump-http.js';
import { formatIcmp } from './tcpdump-icmp.js';
import { formatIcmp6 } from './tcpdump-icmp6.js';
import { formatIp6Options, formatRt6 } from './tcpdump-ip6ext.js';
import { formatTcpOptions } from './tcpdump-options.js';

export interface TcpdumpOptions {
  /** Absolute sequence numbers, like `tcpdump -S`. Default false. */
  absolute?: boolean;
}

/** What the TCP and UDP printers need of the IP layer under them. */
interface Carrier {
  src: string;
  dst: string;
  /** The transport header and what follows, as captured (up to the IP length). */
  payload: Buffer;
  /** The transport header follows the IP header directly: print-tcp.c and
   * print-udp.c then print addresses with the ports, else the ports alone. */
  direct: boolean;
  fragmented: boolean;
  /** The addresses as hex of one width (8 digits for IPv4, 32 for IPv6):
   * keys of the relative-sequence table, compared as tcpdump memcmp()s them. */
  srcKey: string;
  dstKey: string;
}

function ip4Carrier(ip: IPv4Packet): Carrier {
  const h = ip.header;
  const key = (off: number): string => (h.length >= off + 4 ? h.readUInt32BE(off) : 0).toString(16).padStart(8, '0');
  return { src: ip.src, dst: ip.dst, payload: ip.payload, direct: true, fragmented: ip.moreFragments, srcKey: key(12), dstKey: key(16) };
}

/** Initial sequence numbers of one connection, as in print-tcp.c's tcp_seq_hash. */
interface SeqBase {
  seq: number;
  ack: number;
}

/** The relative-sequence table is capped so a flood of tuples cannot grow it
 * without bound (GUIDE §Principles 4); the oldest entry goes first. */
const MAX_CONNECTIONS = 65536;

const IPPROTO_DCCP = 33;
const IPPROTO_SCTP = 132;

// print-tcp.c tcp_flag_values, in its order.
const FLAG_LETTERS: Array<[number, string]> = [
  [0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W'],
];

export class TcpdumpFormatter {
  private readonly absolute: boolean;
  private readonly conns = new Map<string, SeqBase>();
  private readonly o = new Line();
  /** Unexpected exceptions caught by format(); stays 0 unless there is a bug. */
  internalErrors = 0;

  constructor(opts: TcpdumpOptions = {}) {
    this.absolute = opts.absolute === true;
  }

  /** Forget relative-sequence state (a new capture). */
  reset(): void {
    this.conns.clear();
  }

  /** The tcpdump -nn line for one raw IPv4 (or IPv6) packet, without timestamp. */
  format(packet: Buffer): string {
    this.o.text = '';
    try {
      this.ipN(packet);
    } catch (err) {
      if (err instanceof Truncated) {
        this.o.text += ` [|${err.proto}]${err.suffix}`;
      } else {
        this.internalErrors++;
        this.o.text += ' [|internal error]';
      }
    }
    return this.o.text;
  }

  // print-ip.c ipN_print: dispatch on the version nibble.
  private ipN(b: Buffer): void {
    if (b.length < 1) {
      this.o.text += 'truncated-ip 0';
      return;
    }
    const v = b[0]! >> 4;
    if (v === 4) this.ip4(b);
    else if (v === 6) this.ip6(b);
    else this.o.text += `unknown ip ${v}`;
  }

  private ip4(b: Buffer): void {
    this.o.text += 'IP ';
    const d = decodeIPv4(b, { verifyChecksum: false, allowFragments: true });
    if (typeof d !== 'string') {
      this.ip4Payload(d, d.totalLength - d.headerLength);
      return;
    }
    // What the decoder refused, in print-ip.c's order and words.
    if (b.length < 20) throw new Truncated('ip');
    const hl = (b[0]! & 0x0f) * 4;
    if (hl < 20) {
      this.o.text += `bad-hlen ${hl}`;
      return;
    }
    const total = b.readUInt16BE(2);
    if (b.length < total) this.o.text += `truncated-ip - ${total - b.length} bytes missing! `;
    if (total < hl) {
      this.o.text += `bad-len ${total}`;
      return;
    }
    // Longer than captured: go on with what is there, as tcpdump does.
    const frag = b.readUInt16BE(6);
    const lenient: IPv4Packet = {
      headerLength: hl, tos: b[1]!, totalLength: total, id: b.readUInt16BE(4), dontFragment: (frag & 0x4000) !== 0,
      moreFragments: (frag & 0x2000) !== 0, fragmentOffset: frag & 0x1fff, ttl: b[8]!, protocol: b[9]!,
      checksum: b.readUInt16BE(10), src: bytesToIp(b, 12), dst: bytesToIp(b, 16), srcAddr: b.readUInt32BE(12), dstAddr: b.readUInt32BE(16),
      header: b.subarray(0, Math.min(hl, b.length)), payload: b.subarray(Math.min(hl, b.length), total),
    };
    this.ip4Payload(lenient, total - hl);
  }

  /** `length` is what the IP header claims, which may exceed the bytes present. */
  private ip4Payload(ip: IPv4Packet, length: number): void {
    if (ip.fragmentOffset !== 0) {
      this.o.text += `${ip.src} > ${ip.dst}: ip-proto-${ip.protocol}`;
      return;
    }
    const p = ip.protocol;
    if (p !== IPPROTO_TCP && p !== IPPROTO_UDP && p !== IPPROTO_SCTP && p !== IPPROTO_DCCP) {
      this.o.text += `${ip.src} > ${ip.dst}: `;
    }
    if (ip.header.length < ip.headerLength) {
      this.o.text += ` [remaining caplen(${ip.header.length}) < header length(${ip.headerLength})]`;
      throw new Truncated('ip');
    }
    switch (p) {
      case IPPROTO_TCP:
        this.tcp(ip4Carrier(ip), length);
        break;
      case IPPROTO_UDP:
        this.udp(ip4Carrier(ip), length);
        break;
      case IPPROTO_ICMP:
        this.o.text += formatIcmp(ip.payload, length);
        break;
      case IPPROTO_SCTP:
      case IPPROTO_DCCP:
        // tcpdump decodes these itself; we only summarize.
        this.o.text += `${ip.src} > ${ip.dst}: ip-proto-${p} ${length}`;
        break;
      default:
        this.o.text += ` ip-proto-${p} ${length}`;
    }
  }

  // ---- TCP (print-tcp.c tcp_print) ----

  private tcp(ip: Carrier, length: number): void {
    const v = new View(ip.payload, 'tcp');
    if (!v.has(2, 2)) {
      this.o.text += `${ip.src} > ${ip.dst}:`;
      throw new Truncated('tcp');
    }
    const sport = v.u16(0);
    const dport = v.u16(2);
    this.o.text += ip.direct ? `${ip.src}.${sport} > ${ip.dst}.${dport}: ` : `${sport} > ${dport}: `;
    if (!v.has(0, 20)) throw new Truncated('tcp');
    const seg = readTcp(ip.payload, 0, ip.payload.length, 0, 0, false, true);
    // Fixed fields from the decoder when it accepts the segment, else raw.
    const hlen = typeof seg === 'string' ? (v.u8(12) >> 4) * 4 : seg.headerLength;
    if (hlen < 20) {
      this.o.text += ` tcp ${(length - hlen) >>> 0} [bad hdr length ${hlen} - too short, < 20]`;
      return;
    }
    let seq = typeof seg === 'string' ? v.u32(4) : seg.seq;
    let ack = typeof seg === 'string' ? v.u32(8) : seg.ack;
    const flags = typeof seg === 'string' ? v.u8(13) : seg.flags;
    const win = typeof seg === 'string' ? v.u16(14) : seg.window;
    const urp = typeof seg === 'string' ? v.u16(18) : seg.urgent;

    let letters = '';
    for (const [bit, ch] of FLAG_LETTERS) if (flags & bit) letters += ch;
    this.o.text += `Flags [${letters === '' ? 'none' : letters}]`;

    let rev = false;
    let thseq = 0;
    let thack = 0;
    if (!this.absolute && (flags & TCP_ACK) !== 0) {
      const r = this.relative(ip, sport, dport, seq, ack, (flags & TCP_SYN) !== 0);
      rev = r.rev;
      seq = r.seq;
      ack = r.ack;
      thseq = r.base.seq;
      thack = r.base.ack;
    }
    if (hlen > length) {
      this.o.text += ` [bad hdr length ${hlen} - too long, > ${length}]`;
      return;
    }
    const dataLen = length - hlen;
    if (dataLen > 0 || (flags & (TCP_SYN | TCP_FIN | TCP_RST)) !== 0) {
      this.o.text += `, seq ${seq}`;
      if (dataLen > 0) this.o.text += `:${(seq + dataLen) >>> 0}`;
    }
    if (flags & TCP_ACK) this.o.text += `, ack ${ack}`;
    this.o.text += `, win ${win}`;
    if (flags & TCP_URG) this.o.text += `, urg ${urp}`;
    if (hlen > 20) {
      this.o.text += ', options [';
      const sackBase = rev ? thseq : thack;
      // The MD5 signature printer first checks the whole segment was captured.
      const md5Note = v.b.length < length ? 'snaplen too short, ' : 'shared secret not supplied with -M, ';
      const list = typeof seg === 'string' ? null : seg.options.list;
      if (!formatTcpOptions(this.o, list, v, hlen, sackBase, md5Note)) return; // "[bad opt]" ends the line
      this.o.text += ']';
    }
    this.o.text += `, length ${dataLen}`;
    if (dataLen > 0 && v.b.length < hlen) {
      this.o.text += ` [remaining caplen(${v.b.length}) < header length(${hlen})]`;
      throw new Truncated('tcp');
    }
    if (dataLen > 0 && (HTTP_PORTS.has(sport) || HTTP_PORTS.has(dport)) && !EARLIER_PORTS.has(sport) && !EARLIER_PORTS.has(dport)) {
      this.o.text += ': HTTP';
      const line = httpLine(new View(v.b.subarray(hlen), 'http'), dataLen);
      if (line !== null) {
        this.o.text += `: ${line.text}`;
        if (line.truncated) throw new Truncated('http');
      }
    }
  }

  /** print-tcp.c's relative sequence numbers: one entry per connection, keyed
   * in a fixed direction; a SYN or the first ACK-bearing segment sets it. */
  private relative(
    ip: Carrier, sport: number, dport: number, seq: number, ack: number, syn: boolean,
  ): { rev: boolean; seq: number; ack: number; base: SeqBase } {
    const src = ip.srcKey;
    const dst = ip.dstKey;
    const rev = sport > dport || (sport === dport && src > dst);
    const key = rev ? `${dst}:${src}:${dport}:${sport}` : `${src}:${dst}:${sport}:${dport}`;
    let base = this.conns.get(key);
    if (base === undefined || syn) {
      base = rev ? { ack: seq, seq: (ack - 1) >>> 0 } : { seq, ack: (ack - 1) >>> 0 };
      this.conns.delete(key);
      this.conns.set(key, base);
      if (this.conns.size > MAX_CONNECTIONS) {
        const oldest = this.conns.keys().next();
        if (oldest.done !== true) this.conns.delete(oldest.value);
      }
      return { rev, seq, ack, base };
    }
    return rev
      ? { rev, seq: (seq - base.ack) >>> 0, ack: (ack - base.seq) >>> 0, base }
      : { rev, seq: (seq - base.seq) >>> 0, ack: (ack - base.ack) >>> 0, base };
  }

  // ---- UDP (print-udp.c udp_print) ----

  private udp(ip: Carrier, length: number): void {
    const v = new View(ip.payload, 'udp');
    if (!v.has(2, 2)) {
      // print-udp.c udpipaddr_print without ports: nothing after extension headers.
      if (ip.direct) this.o.text += `${ip.src} > ${ip.dst}: `;
      throw new Truncated('udp');
    }
    const ports = ip.direct ? `${ip.src}.${v.u16(0)} > ${ip.dst}.${v.u16(2)}: ` : `${v.u16(0)} > ${v.u16(2)}: `;
    if (length < 8) {
      this.o.text += `${ports}truncated-udp ${length}`;
      return;
    }
    if (!v.has(4, 2)) {
      this.o.text += ports;
      throw new Truncated('udp');
    }
    let ulen = v.u16(4);
    if (ulen < 8) {
      this.o.text += `${ports}truncated-udplength ${ulen}`;
      return;
    }
    ulen -= 8;
    let len = length - 8;
    if (ulen < len) len = ulen;
    this.o.text += ports;
    if (v.b.length < 8) throw new Truncated('udp');
    const fragmented = ip.fragmented;
    this.o.text += ulen > len && !fragmented ? `UDP, bad length ${ulen} > ${len}` : `UDP, length ${ulen}`;
  }

  // ---- IPv6 (print-ip6.c ip6_print) ----

  private ip6(b: Buffer): void {
    if (b.length < 40) throw new Truncated('ip6');
    this.o.text += 'IP6 ';
    const plen = b.readUInt16BE(4);
    // Payload Length 0 is a jumbogram's: tcpdump takes the captured length then.
    let len = plen !== 0 ? plen + 40 : b.length + 40;
    if (plen !== 0 && b.length < len) this.o.text += `truncated-ip6 - ${len - b.length} bytes missing!`;
    const p = b.subarray(0, Math.min(len, b.length)); // nd_push_snaplen
    const src = ip6ToString(p, 8);
    const dst = ip6ToString(p, 24);
    let nh = p[6]!;
    let ph = 255;
    let cp = 0;
    let advance = 40;
    let foundExt = false;
    let foundHbh = false;
    let fragmented = false;
    while (cp < p.length && advance > 0) {
      if (len < advance) throw new Truncated('ip6');
      cp += advance;
      len -= advance;
      if (cp === 40 && nh !== IPPROTO_TCP && nh !== IPPROTO_UDP && nh !== IPPROTO_DCCP && nh !== IPPROTO_SCTP) {
        this.o.text += `${src} > ${dst}: `;
      }
      const v = new View(p.subarray(cp), 'ip6');
      switch (nh) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_DSTOPTS: {
          const hbh = nh === IPPROTO_HOPOPTS;
          if (hbh && foundHbh) {
            this.o.text += '[The Hop-by-Hop Options header was already found] (invalid)';
            return;
          }
          if (hbh && ph !== 255) {
            this.o.text += "[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)";
            return;
          }
          const proto = hbh ? 'hbhopt' : 'dstopt';
          if (!v.has(1, 1)) throw new Truncated(proto);
          advance = (v.u8(1) + 1) * 8;
          if (!v.has(0, advance)) throw new Truncated(proto);
          this.o.text += hbh ? 'HBH ' : 'DSTOPT ';
          // Without -v only the hop-by-hop options are checked (print-ip6opts.c).
          if (hbh && !formatIp6Options(this.o, v.b.subarray(2, advance))) throw new Truncated(proto);
          if (hbh && plen === 0) {
            this.o.text += '[No valid Jumbo Payload Hop-by-Hop option found] (invalid)';
            return;
          }
          foundExt = true;
          foundHbh ||= hbh;
          nh = v.u8(0);
          break;
        }
        case IPPROTO_FRAGMENT: {
          const fv = new View(v.b, 'frag6');
          const off = fv.u16(2) & 0xfff8;
          // print-frag6.c prints this size_t: a jumbogram's (Payload Length 0) wraps.
          const size = 40 + plen - cp - 8;
          this.o.text += `frag (${off}|${size >= 0 ? size : (2n ** 64n + BigInt(size)).toString()})`;
          // print-frag6.c: a later fragment is not decoded further.
          if (off !== 0) return;
          this.o.text += ' ';
          advance = 8;
          if (p.length <= cp + advance) return;
          foundExt = true;
          nh = v.u8(0);
          fragmented = true;
          break;
        }
        case IPPROTO_ROUTING:
          v.u8(0);
          advance = formatRt6(this.o, new View(v.b, 'rt6'));
          if (advance < 0) return;
          foundExt = true;
          nh = v.u8(0);
          break;
        default:
          if (plen === 0) {
            if (foundExt) throw new Truncated('ip6');
            len = 0;
          }
          this.ip6Payload(p, cp, len, nh, fragmented, src, dst);
          return;
      }
      ph = nh;
    }
  }

  /** print-ip-demux.c for an IPv6 upper layer at p[cp..], `length` bytes claimed. */
  private ip6Payload(p: Buffer, cp: number, length: number, nh: number, fragmented: boolean, src: string, dst: string): void {
    const payload = p.subarray(cp);
    const key = (off: number): string => p.toString('hex', off, off + 16);
    const carrier: Carrier = { src, dst, payload, direct: cp === 40, fragmented, srcKey: key(8), dstKey: key(24) };
    switch (nh) {
      case IPPROTO_TCP:
        this.tcp(carrier, length);
        break;
      case IPPROTO_UDP:
        this.udp(carrier, length);
        break;
      case IPPROTO_ICMPV6:
        formatIcmp6(this.o, payload, length);
        break;
      case IPPROTO_NONE:
        this.o.text += 'no next header';
        break;
      case IPPROTO_SCTP:
      case IPPROTO_DCCP:
        // tcpdump decodes these itself; we only summarize.
        this.o.text += `${src} > ${dst}: ip-proto-${nh} ${length}`;
        break;
      default:
        this.o.text += ` ip-proto-${nh} ${length}`;
    }
  }
}
