/**
 * A passive state tracker: the RFC 9293 states of both ends of a
 * conversation deduced from its segments alone, as a capture shows them
 * (`tuntcp report`, and the kernel's side of a live run). Every mark it makes
 * is `inferred`: a capture cannot show a listener, a segment lost after the
 * capture point, or the end of TIME_WAIT.
 *
 * Each side's machine moves on what it sends (SYN, FIN, RST) and on what it
 * receives (SYN,ACK, the ACK of its SYN or FIN, an in-order FIN, RST), at the
 * time the segment was captured (or received, when that is known). A
 * segment marked dropped is sent but never received.
 */
import { seqAdd, seqGe, seqGt, seqLe } from '../wire/seq.js';
import type { TcpState } from '../tcp/state.js';
import type { Conversation, SsReading, StateMark } from './conversation.js';

interface SideState {
  state: TcpState;
  /** Our SYN's and FIN's sequence numbers, once sent. */
  iss: number | null;
  fin: number | null;
  /** Next in-order sequence number expected from the other side, once known. */
  rcvNxt: number | null;
  /** The other side's FIN is at this sequence number (received out of order, held). */
  heldFin: number | null;
}

const INFERRED = ' (inferred from the segments)';

/** The flag of the segment a change is sent with, or null for a change by receiving. */
export function sentWith(to: StateMark['to'], cause: string): 'syn' | 'fin' | 'rst' | null {
  if (to === 'SYN_SENT' || to === 'SYN_RECEIVED') return 'syn';
  if (to === 'FIN_WAIT_1' || to === 'LAST_ACK') return 'fin';
  if (to === 'CLOSED' && /^(user abort|RST sent)/.test(cause)) return 'rst';
  return null;
}


/**
 * The states of the sides of `conv` from its segments: both sides, or only
 * the right one (`rightOnly`, when the left side's TCB gave its own marks).
 */
export function trackStates(conv: Conversation, rightOnly = false): StateMark[] {
  const marks: StateMark[] = [];
  const segs = conv.segs;
  // Which side opened: the passive side starts in LISTEN if it ever answers a SYN with SYN,ACK.
  const firstSyn = segs.find((s) => s.syn && !s.ackFlag);
  const sides: [SideState, SideState] = [fresh(), fresh()];
  if (firstSyn !== undefined) {
    const passive = firstSyn.fromLeft ? 1 : 0;
    if (segs.some((s) => s.syn && s.ackFlag && s.fromLeft === (passive === 0))) sides[passive]!.state = 'LISTEN';
  }
  /** Side `ix` has everything up to a FIN it holds: the FIN is processed (RFC 9293 §3.10.7.4 eighth). */
  const finArrives = (ix: number, t: number): void => {
    const rx = sides[ix]!;
    if (rx.heldFin === null || rx.rcvNxt === null || !seqGe(rx.rcvNxt, rx.heldFin)) return;
    rx.rcvNxt = seqAdd(rx.heldFin, 1);
    rx.heldFin = null;
    if (rx.state === 'ESTABLISHED' || rx.state === 'SYN_RECEIVED') move(ix, t, 'CLOSE_WAIT', 'rcv FIN: the peer closed its side (RFC 9293 §3.10.7.4 eighth)');
    else if (rx.state === 'FIN_WAIT_1') move(ix, t, 'CLOSING', 'rcv FIN before the ACK of ours: simultaneous close (RFC 9293 §3.10.7.4 eighth)');
    else if (rx.state === 'FIN_WAIT_2') move(ix, t, 'TIME_WAIT', 'rcv FIN in FIN_WAIT_2: TIME_WAIT (RFC 9293 §3.10.7.4 eighth)');
  };
  let cur = 0; // the segment being read
  const move = (ix: number, t: number, to: TcpState, cause: string): void => {
    const side = sides[ix]!;
    if (side.state === to) return;
    const mark: StateMark = { t, left: ix === 0, from: side.state, to, cause: cause + INFERRED, inferred: true };
    const flag = sentWith(to, cause);
    if (flag !== null && segs[cur]![flag] && segs[cur]!.fromLeft === (ix === 0)) mark.seg = cur;
    if (!(rightOnly && ix === 0)) marks.push(mark);
    side.state = to;
  };
  for (; cur < segs.length; cur++) {
    const s = segs[cur]!;
    const me = s.fromLeft ? 0 : 1;
    const peer = 1 - me;
    const tx = sides[me]!;
    // The sender. What it acknowledges it has received: a FIN held behind a
    // hole (filled by data the capture never showed in order) is in.
    if (s.ackFlag && !s.rst && tx.rcvNxt !== null && seqGt(s.ack, tx.rcvNxt)) {
      tx.rcvNxt = s.ack;
      finArrives(me, s.t);
    }
    if (s.rst) move(me, s.t, 'CLOSED', 'RST sent (RFC 9293 §3.10.7)');
    else {
      if (s.syn && !s.ackFlag && (tx.state === 'CLOSED' || tx.state === 'LISTEN')) {
        tx.iss = s.seq;
        move(me, s.t, 'SYN_SENT', 'user connect: SYN sent (RFC 9293 §3.10.1)');
      } else if (s.syn && s.ackFlag && (tx.state === 'LISTEN' || tx.state === 'CLOSED' || tx.state === 'SYN_SENT')) {
        tx.iss = s.seq;
        const cause = tx.state === 'SYN_SENT' ? 'rcv SYN while in SYN_SENT: simultaneous open, SYN,ACK sent (RFC 9293 §3.10.7.3)' : 'rcv SYN on a listening port: SYN,ACK sent (RFC 9293 §3.10.7.2)';
        move(me, s.t, 'SYN_RECEIVED', cause);
      }
      if (s.fin && tx.fin === null) {
        tx.fin = seqAdd(s.seq, s.len + (s.syn ? 1 : 0));
        if (tx.state === 'ESTABLISHED' || tx.state === 'SYN_RECEIVED') move(me, s.t, 'FIN_WAIT_1', 'user close: FIN sent (RFC 9293 §3.10.4)');
        else if (tx.state === 'CLOSE_WAIT') move(me, s.t, 'LAST_ACK', 'user close in CLOSE_WAIT: FIN sent (RFC 9293 §3.10.4)');
      }
    }
    if (s.dropped) continue;
    // The receiver.
    const rx = sides[peer]!;
    const t = s.tArrive ?? s.t;
    if (s.rst) {
      if (rx.state !== 'LISTEN' && rx.state !== 'CLOSED' && rx.state !== 'TIME_WAIT') move(peer, t, 'CLOSED', `rcv RST in ${rx.state} (RFC 9293 §3.10.7.4)`);
      continue;
    }
    if (s.syn) rx.rcvNxt = seqAdd(s.seq, 1);
    // Data and FIN in order move RCV.NXT; a FIN out of order waits for the gap.
    if (rx.rcvNxt !== null && seqLe(s.seq, rx.rcvNxt)) {
      const end = seqAdd(s.seq, s.len + (s.syn ? 1 : 0));
      if (seqGt(end, rx.rcvNxt)) rx.rcvNxt = end;
    }
    if (s.fin) rx.heldFin = seqAdd(s.seq, s.len + (s.syn ? 1 : 0));
    const acksSyn = s.ackFlag && rx.iss !== null && seqGt(s.ack, rx.iss);
    const acksFin = s.ackFlag && rx.fin !== null && seqGt(s.ack, rx.fin);
    if (s.syn && s.ackFlag && rx.state === 'SYN_SENT' && acksSyn) move(peer, t, 'ESTABLISHED', 'rcv SYN,ACK that acknowledges our SYN: ACK sent (RFC 9293 §3.10.7.3)');
    else if (rx.state === 'SYN_RECEIVED' && acksSyn && !s.syn) move(peer, t, 'ESTABLISHED', 'rcv ACK of our SYN,ACK: handshake complete (RFC 9293 §3.10.7.4)');
    if (acksFin) {
      if (rx.state === 'FIN_WAIT_1') move(peer, t, 'FIN_WAIT_2', 'rcv ACK of our FIN (RFC 9293 §3.10.7.4)');
      else if (rx.state === 'CLOSING') move(peer, t, 'TIME_WAIT', 'rcv ACK of our FIN in CLOSING (RFC 9293 §3.10.7.4)');
      else if (rx.state === 'LAST_ACK') move(peer, t, 'CLOSED', 'rcv ACK of our FIN in LAST_ACK (RFC 9293 §3.10.7.4)');
    }
    finArrives(peer, t);
  }
  return marks;
}

function fresh(): SideState {
  return { state: 'CLOSED', iss: null, fin: null, rcvNxt: null, heldFin: null };
}

/**
 * Inferred marks that `ss` confirmed: a reading of the same side's socket
 * taken wholly while the mark's state should hold, showing that state,
 * makes the mark read (not inferred). Readings are conservative: one that
 * straddles a change confirms nothing.
 */
export function confirmWithSs(marks: StateMark[], readings: readonly SsReading[]): void {
  for (const left of [true, false]) {
    const side = marks.filter((m) => m.left === left).sort((a, b) => a.t - b.t);
    const seen = readings.filter((r) => (r.left ?? false) === left);
    side.forEach((m, i) => {
      const until = side[i + 1]?.t ?? Infinity;
      if (m.inferred && seen.some((r) => r.state === m.to && r.t0 >= m.t && r.t1 < until)) {
        m.inferred = false;
        m.cause = m.cause.replace(INFERRED, ' (seen with ss)');
      }
    });
  }
}

/** A conversation's marks for drawing: its own (TCB) ones plus the tracker's, by time. */
export function allStates(conv: Conversation): StateMark[] {
  const haveLeft = conv.states.some((m) => m.left);
  const marks = [...conv.states, ...trackStates(conv, haveLeft)];
  if (conv.ss.length > 0) confirmWithSs(marks, conv.ss);
  return marks.sort((a, b) => a.t - b.t || Number(b.left) - Number(a.left));
}
