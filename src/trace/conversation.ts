/**
 * The data behind the pictures (ladder.ts, svg-ladder.ts, seqgraph.ts,
 * html-report.ts): TCP segments grouped into conversations by 4-tuple, each
 * segment with its tcpdump line, and what a run knows beyond a capture:
 * tuntcp's state changes with their cause, the kernel's states read with
 * `ss`, cwnd/ssthresh/window/RTO samples. Pure: packets and times go in (a
 * live run's tap or a pcap file), conversations come out.
 *
 * The "left" side of a conversation is tuntcp in a live run (the address
 * given as `local`), else the side that sent the first SYN (the client).
 */
import { decodeIPv4, IPPROTO_TCP } from '../wire/ipv4.js';
import { decodeTcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import { seqAdd, seqGt, seqLe, seqSub } from '../wire/seq.js';
import type { TcpState } from '../tcp/state.js';
import { TcpdumpFormatter } from './tcpdump.js';

export interface LadderSeg {
  /** When it was sent (or captured), ms since the run's first packet. */
  t: number;
  /** When the other side received it, when known (ms); null: unknown. */
  tArrive: number | null;
  /** Sent by the left side (tuntcp, or the client of a capture). */
  fromLeft: boolean;
  /** tcpdump's flag letters: 'S', 'S.', 'P.', 'F.', 'R.', '.'. */
  flags: string;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  ackFlag: boolean;
  /** Absolute sequence and acknowledgment numbers. */
  seq: number;
  ack: number;
  /** Payload bytes. */
  len: number;
  /** The window field as sent (before scaling). */
  win: number;
  /** The window scale this segment's SYN offered, if it is a SYN with one. */
  wscale: number | null;
  /** SACK blocks, absolute [left, right). */
  sack: Array<[number, number]>;
  /** tcpdump -nn line without the timestamp. */
  line: string;
  /** The line without `IP a.p > b.p: ` and without options: flags, seq/ack, win, length. */
  summary: string;
  /** Carries sequence space already sent before (data, SYN or FIN again). */
  retrans: boolean;
  /** Dropped on purpose before it reached the wire (demo), or by a fault. */
  dropped: boolean;
}

export interface StateMark {
  /** ms, on the time axis of the segments. */
  t: number;
  left: boolean;
  from: TcpState;
  to: TcpState;
  /** The cause as the connection gives it, with its RFC rule in parentheses. */
  cause: string;
  /** Not from the side's own TCB or from `ss`: deduced from the segments (state-tracker.ts). */
  inferred: boolean;
  /** The segment sent with this change (the SYN of SYN_SENT, the FIN of
   * FIN_WAIT_1, ...): drawn just after it. Absent: a change by receiving. */
  seg?: number;
  /** A change by receiving, recorded live: the last segment recorded before it
   * (its place among segments of the same instant). Absent: placed by time. */
  afterSeg?: number;
}

/** One reading of the stack's congestion and window state (the TCB observer). */
export interface CcSample {
  t: number;
  cwnd: number;
  ssthresh: number;
  /** The receive window we advertise (RCV.WND). */
  rcvWnd: number;
  /** The retransmission timeout, ms, with backoff. */
  rto: number;
}

/** One reading of `ss` for a 4-tuple: `state` held somewhere in [t0, t1]. */
export interface SsReading {
  t0: number;
  t1: number;
  state: TcpState;
  /** The socket `ss` saw was the left side's (compare's kernel client); else the right's. */
  left?: boolean;
}

export interface Side {
  addr: string;
  port: number;
  /** 'tuntcp', 'peer', 'client', 'server', 'kernel client' ... */
  name: string;
}

export interface Conversation {
  left: Side;
  right: Side;
  segs: LadderSeg[];
  /** Left side's marks from its TCB (live run); the tracker adds inferred ones. */
  states: StateMark[];
  cc: CcSample[];
  /** Either side's states as `ss` showed them (live runs in a lab). */
  ss: SsReading[];
}

const FLAG_LETTERS: Array<[number, string]> = [
  [TCP_FIN, 'F'], [TCP_SYN, 'S'], [TCP_RST, 'R'], [TCP_PSH, 'P'], [TCP_ACK, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W'],
];

/** Conversations kept at most: a capture of a scan must not grow without bound. */
const MAX_CONVERSATIONS = 4096;
/** Segments kept in all (about 100 MB at most); later ones are counted in `omitted`. */
export const MAX_SEGMENTS = 200_000;

interface Track {
  conv: Conversation;
  /** Highest sequence number sent so far, per direction (left, right), or null. */
  top: [number | null, number | null];
}

/**
 * Collects packets into conversations. Feed every packet in capture order;
 * non-TCP packets are ignored (counted in `ignored`).
 */
export class ConversationSet {
  private readonly fmt = new TcpdumpFormatter();
  private readonly byKey = new Map<string, Track>();
  private readonly local: string | null;
  private readonly names: [string, string];
  /** The time of the first packet, in the caller's unit (ms). */
  private t0: number | null;
  ignored = 0;
  /** Segments not kept: past MAX_SEGMENTS or MAX_CONVERSATIONS. */
  omitted = 0;
  /** Segments kept. */
  kept = 0;

  /**
   * `local`: the address drawn on the left (tuntcp); `names`: the two
   * columns' names; `t0`: the time that is 0 on the axis (default: the
   * first packet's).
   */
  constructor(opts: { local?: string; names?: [string, string]; t0?: number } = {}) {
    this.local = opts.local ?? null;
    this.names = opts.names ?? (this.local !== null ? ['tuntcp', 'peer'] : ['client', 'server']);
    this.t0 = opts.t0 ?? null;
  }

  /** All conversations, in the order of their first packet. */
  conversations(): Conversation[] {
    return [...this.byKey.values()].map((t) => t.conv);
  }

  /** The time axis position of absolute time `tMs`. */
  rel(tMs: number): number {
    if (this.t0 === null) this.t0 = tMs;
    return tMs - this.t0;
  }

  /** One IPv4 packet at time `tMs` (ms). */
  packet(packet: Buffer, tMs: number, dropped = false): LadderSeg | null {
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string' || ip.protocol !== IPPROTO_TCP || ip.fragmentOffset !== 0) {
      this.ignored++;
      return null;
    }
    const seg = decodeTcp(ip, false);
    if (typeof seg === 'string') {
      this.ignored++;
      return null;
    }
    if (this.kept >= MAX_SEGMENTS) {
      this.omitted++;
      return null;
    }
    const line = this.fmt.format(packet);
    const t = this.rel(tMs);
    const a = `${ip.src}:${seg.srcPort}`;
    const b = `${ip.dst}:${seg.dstPort}`;
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    let track = this.byKey.get(key);
    if (track === undefined) {
      if (this.byKey.size >= MAX_CONVERSATIONS) {
        this.omitted++;
        return null;
      }
      // tuntcp on the left in a live run; else whoever sent this first
      // packet, unless it is a SYN,ACK (then the SYN's sender was missed).
      const synAck = (seg.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
      const srcLeft = this.local !== null ? ip.src === this.local : !synAck;
      const src: Side = { addr: ip.src, port: seg.srcPort, name: '' };
      const dst: Side = { addr: ip.dst, port: seg.dstPort, name: '' };
      const [left, right] = srcLeft ? [src, dst] : [dst, src];
      left.name = this.names[0];
      right.name = this.names[1];
      track = { conv: { left, right, segs: [], states: [], cc: [], ss: [] }, top: [null, null] };
      this.byKey.set(key, track);
    }
    const conv = track.conv;
    this.kept++;
    const fromLeft = ip.src === conv.left.addr && seg.srcPort === conv.left.port;
    let flags = '';
    for (const [bit, letter] of FLAG_LETTERS) if (seg.flags & bit) flags += letter;
    const syn = (seg.flags & TCP_SYN) !== 0;
    const fin = (seg.flags & TCP_FIN) !== 0;
    // The length on the wire, from the IP header: a capture may be cut short.
    const len = Math.max(0, ip.totalLength - ip.headerLength - seg.headerLength);
    const segLen = len + (syn ? 1 : 0) + (fin ? 1 : 0);
    const dirIx = fromLeft ? 0 : 1;
    const top = track.top[dirIx];
    const end = seqAdd(seg.seq, segLen);
    const retrans = segLen > 0 && top !== null && seqLe(end, top) && !(seg.flags & TCP_RST);
    if (segLen > 0 && (top === null || seqGt(end, top))) track.top[dirIx] = end;
    const s: LadderSeg = {
      t,
      tArrive: null,
      fromLeft,
      flags,
      syn,
      fin,
      rst: (seg.flags & TCP_RST) !== 0,
      ackFlag: (seg.flags & TCP_ACK) !== 0,
      seq: seg.seq,
      ack: seg.ack,
      len,
      win: seg.window,
      wscale: syn ? (seg.options.wscale ?? null) : null,
      sack: seg.options.sack ?? [],
      line,
      summary: summaryOf(line),
      retrans,
      dropped,
    };
    conv.segs.push(s);
    return s;
  }

  /** The conversation of a 4-tuple seen from `localAddr`, or undefined. */
  /** `ss` saw the socket `local`-`remote` in `state` between t0 and t1 (ms, this set's clock); false if no conversation has it. */
  ssReading(localAddr: string, localPort: number, remoteAddr: string, remotePort: number, state: TcpState, t0: number, t1: number): boolean {
    const c = this.find(localAddr, localPort, remoteAddr, remotePort);
    if (c === undefined) return false;
    const left = c.left.addr === localAddr && c.left.port === localPort;
    c.ss.push({ t0: this.rel(t0), t1: this.rel(t1), state, left });
    return true;
  }

  find(localAddr: string, localPort: number, remoteAddr: string, remotePort: number): Conversation | undefined {
    const a = `${localAddr}:${localPort}`;
    const b = `${remoteAddr}:${remotePort}`;
    return this.byKey.get(a < b ? `${a}-${b}` : `${b}-${a}`)?.conv;
  }
}

/** `Flags [S.], seq 0, ack 1, win 65160, length 0` from a whole tcpdump line (options and TS left out). */
export function summaryOf(line: string): string {
  const body = line.replace(/^IP6? [^:]*: /, '');
  const sack = /(sack \d+ (\{[^}]*\})+)/.exec(body)?.[1];
  const short = body.replace(/, options \[[^\]]*\]/, '').replace(/^Flags /, '');
  return sack === undefined ? short : short.replace(/, length/, `, ${sack}, length`);
}

/** Bytes of sequence space between the first SYN and `seq` in the direction `fromLeft`, for graphs. */
export function isnOf(conv: Conversation, fromLeft: boolean): number | null {
  const syn = conv.segs.find((s) => s.fromLeft === fromLeft && s.syn);
  if (syn !== undefined) return syn.seq;
  const any = conv.segs.find((s) => s.fromLeft === fromLeft);
  return any === undefined ? null : seqAdd(any.seq, -1);
}

/** The window scale for `fromLeft`'s window fields: both SYNs must carry one (RFC 7323 §2.2). */
export function wscaleOf(conv: Conversation, fromLeft: boolean): number {
  const mine = conv.segs.find((s) => s.fromLeft === fromLeft && s.syn);
  const theirs = conv.segs.find((s) => s.fromLeft !== fromLeft && s.syn);
  if (mine?.wscale == null || theirs?.wscale == null) return 0;
  return Math.min(14, mine.wscale);
}

/** Payload bytes each way: [left to right, right to left]. */
export function bytesEachWay(conv: Conversation): [number, number] {
  let l = 0;
  let r = 0;
  for (const s of conv.segs) if (!s.retrans) (s.fromLeft ? (l += s.len) : (r += s.len));
  return [l, r];
}

/** Sequence distance, for callers that should not import wire/. */
export const seqDistance = seqSub;
