/**
 * What the fuzzer reads from a live TCB beyond its public fields, and the
 * oracle that says which segments RFC 9293, RFC 5961 and RFC 7323 allow to
 * change a synchronized connection at all.
 */
import type { Connection } from '../../src/tcp/connection.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from '../../src/wire/tcp.js';
import { seqGt, seqInWindow, seqLt, seqSub } from '../../src/wire/seq.js';

/** RCV.NXT + RCV.WND as last advertised: the TCB keeps it protected (tcb.ts rcvAdvEdge). */
export function rcvEdge(c: Connection): number {
  return (c as unknown as { rcvAdvEdge: number }).rcvAdvEdge;
}

/** RCV.WND as the acceptability test uses it. */
export function rcvWnd(c: Connection): number {
  return Math.max(0, seqSub(rcvEdge(c), c.rcvNxt));
}

/**
 * Whether RFC 9293 §3.10.7.4 with RFC 5961 and RFC 7323 §5.3 lets `seg`
 * change a synchronized connection `c` (anything beyond an ACK in reply):
 *  - PAWS (RFC 7323 §5.3 R1) drops a non-RST segment with an old TSval;
 *  - an unacceptable segment is dropped (the four cases; with a zero window
 *    only an ACK at exactly RCV.NXT is looked at);
 *  - a RST counts only at exactly RCV.NXT (RFC 5961 §3.2); anything else gets
 *    a challenge ACK at most;
 *  - a SYN gets a challenge ACK (RFC 5961 §4.2);
 *  - without ACK the segment is dropped;
 *  - an ACK above SND.NXT or below SND.UNA - MAX.SND.WND is dropped (RFC 5961 §5.2).
 * Everything else may legitimately change the connection. This is written
 * from the RFCs, not from connection.ts, so the two check each other.
 */
export function rfcMayAffect(seg: TcpSegment, c: Connection): boolean {
  const rst = (seg.flags & TCP_RST) !== 0;
  const syn = (seg.flags & TCP_SYN) !== 0;
  if (!rst && c.ts.enabled && seg.options.tsVal !== undefined && seqLt(seg.options.tsVal, c.ts.recent)) return false;
  const wnd = rcvWnd(c);
  const segLen = seg.payload.length + (syn ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
  let acceptable: boolean;
  if (segLen === 0) acceptable = wnd === 0 ? seg.seq === c.rcvNxt : seqInWindow(seg.seq, c.rcvNxt, wnd);
  else acceptable = wnd > 0 && (seqInWindow(seg.seq, c.rcvNxt, wnd) || seqInWindow((seg.seq + segLen - 1) >>> 0, c.rcvNxt, wnd));
  // Linux tcp_sequence (arrival.ts): an old segment ending exactly at RCV.WUP
  // with an ACK in SND.UNA..SND.NXT refreshes TS.Recent.
  const rcvWup = (c as unknown as { rcvWup: number }).rcvWup;
  const ack = seg.ack;
  const endsAtWup = segLen > 0 && !syn && !rst && ((seg.seq + segLen) >>> 0) === rcvWup;
  if (endsAtWup && (seg.flags & TCP_ACK) !== 0 && !seqLt(ack, c.sndUna) && !seqGt(ack, c.sndNxt)) return true;
  if (!acceptable && !(wnd === 0 && seg.seq === c.rcvNxt && !syn && !rst)) return false;
  if (rst) return seg.seq === c.rcvNxt;
  if (syn) return false;
  if (!(seg.flags & TCP_ACK)) return false;
  if (seqGt(seg.ack, c.sndNxt)) return false;
  if (seqLt(seg.ack, (c.sndUna - Math.max(c.maxSndWnd, 1)) >>> 0)) return false;
  return true;
}

/** The parts of a TCB that a segment the RFCs say to ignore must leave alone. */
export interface GuardSnapshot {
  state: string;
  rcvNxt: number;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  sndWl1: number;
  sndWl2: number;
  rcvUsed: number;
  sacked: number;
  phase: string;
  dupAcks: number;
  tsRecent: number;
}

export function guardSnapshot(c: Connection): GuardSnapshot {
  return {
    state: c.state,
    rcvNxt: c.rcvNxt,
    sndUna: c.sndUna,
    sndNxt: c.sndNxt,
    sndWnd: c.sndWnd,
    sndWl1: c.sndWl1,
    sndWl2: c.sndWl2,
    rcvUsed: c.recvBuffer.used,
    sacked: c.recovery.scoreboard.sackedBytes,
    phase: c.recovery.phase,
    dupAcks: c.recovery.dupAcks,
    tsRecent: c.ts.recent,
  };
}

/**
 * What changed between two snapshots, or null. TS.Recent may move forward
 * (RFC 7323 §5.3 R3 updates it before the RST, SYN and ACK checks) as long as
 * it stays at or behind the peer's own clock `peerTsNow`; beyond that the
 * peer's next segments would all fail PAWS.
 */
export function guardDiff(a: GuardSnapshot, b: GuardSnapshot, peerTsNow: number | null): string | null {
  const out: string[] = [];
  for (const k of Object.keys(a) as Array<keyof GuardSnapshot>) {
    if (a[k] === b[k]) continue;
    if (k === 'tsRecent' && (peerTsNow === null || !seqGt(b.tsRecent, peerTsNow))) continue;
    out.push(k === 'tsRecent' ? `TS.Recent ${a.tsRecent} -> ${b.tsRecent} (the peer's clock is at ${peerTsNow})` : `${k} ${a[k]} -> ${b[k]}`);
  }
  return out.length > 0 ? out.join(', ') : null;
}
