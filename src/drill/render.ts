/**
 * Packets in packetdrill's notation: flags as letters ("S.", "P.", "F."),
 * relative `seq:end(len)`, `ack`, `win`, `<options>`.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpOption } from '../wire/tcp.js';
import { seqSub } from '../wire/seq.js';
import type { OutPacket } from './link.js';

// packetdrill's order of flag letters (packet_to_string.c).
const FLAGS: Array<[string, number]> = [
  ['F', TCP_FIN], ['S', TCP_SYN], ['R', TCP_RST], ['P', TCP_PSH], ['.', TCP_ACK], ['U', TCP_URG], ['E', TCP_ECE], ['W', TCP_CWR],
];

/** Flag letters to bits ('A' is also accepted for ACK). */
export function packetFlags(s: string): number {
  let f = 0;
  for (const c of s) f |= c === 'A' ? TCP_ACK : FLAGS.find(([ch]) => ch === c)?.[1] ?? 0;
  return f;
}

export function flagsOf(bits: number): string {
  return FLAGS.filter(([, b]) => bits & b).map(([c]) => c).join('');
}

function option(o: TcpOption, remoteIsn: number): string {
  switch (o.kind) {
    case 'mss': return `mss ${o.mss}`;
    case 'wscale': return `wscale ${o.shift}`;
    case 'ts': return `TS val ${o.val} ecr ${o.ecr}`;
    case 'sack': return `sack ${o.blocks.map(([l, r]) => `${seqSub(l, remoteIsn) >>> 0}:${seqSub(r, remoteIsn) >>> 0}`).join(' ')}`;
    case 'unknown': return `opt${o.code}`;
    default: return o.kind;
  }
}

/** One of the stack's packets as a script would write it. */
export function renderOut(p: OutPacket, localIss: number, remoteIsn: number): string {
  const s = p.seg;
  const seq = seqSub(s.seq, localIss) >>> 0;
  const len = s.payload.length;
  const ecn = ['', '[ect1] ', '[ect0] ', '[ce] '][p.ecn];
  let out = `> ${ecn}${flagsOf(s.flags)} ${seq}:${(seq + len) >>> 0}(${len})`;
  if (s.flags & TCP_ACK) out += ` ack ${seqSub(s.ack, remoteIsn) >>> 0}`;
  out += ` win ${s.window}`;
  if (s.options.list.length > 0) out += ` <${s.options.list.map((o) => option(o, remoteIsn)).join(',')}>`;
  return out;
}
