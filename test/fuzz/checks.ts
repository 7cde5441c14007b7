/**
 * What must hold in the victim after every packet the fuzzer injects, and in
 * both stacks after every step of virtual time. Each check returns null or a
 * sentence saying what is wrong.
 */
import type { Stack } from '../../src/stack/stack.js';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import type { Connection } from '../../src/tcp/connection.js';
import { seqGe, seqGt, seqLt, seqSub } from '../../src/wire/seq.js';
import { canReceive } from '../../src/tcp/state.js';
import { ip6ToBytes, isMulticast6, isV4Mapped6 } from '../../src/wire/ipv6.js';
import { App } from './world.js';
import { rcvEdge } from './tcb-view.js';

const SYNCHRONIZED = new Set(['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT']);
/** Connections the victim may hold at once: the plan, the SYN queues and the fuzz-made ones the server keeps. */
export const MAX_ENDPOINTS = 200;
/** Timers pending on the shared clock (connections, packets in flight on the link). */
export const MAX_TIMERS = 200_000;

interface Seen {
  state: string;
  rcvNxt: number;
  sndUna: number;
  sndNxt: number;
  edge: number;
}

export function where(ep: TcpEndpoint): string {
  const c = ep.conn;
  return (
    `${ep.remoteAddr}:${ep.remotePort}>:${ep.localPort} ${c.state} [snd una ${c.sndUna} nxt ${c.sndNxt} wnd ${c.sndWnd} ` +
    `queue ${c.sendQueue.length} cwnd ${c.cc.cwnd}; rcv nxt ${c.rcvNxt} edge ${rcvEdge(c)} used ${c.recvBuffer.used}]`
  );
}

export class StackChecker {
  private readonly seen = new Map<TcpEndpoint, Seen>();
  /** Largest number of out-of-order pieces and SACK scoreboard ranges seen in one connection. */
  maxOooPieces = 0;
  maxSackRanges = 0;

  constructor(
    readonly stack: Stack,
    readonly name: string,
  ) {}

  /** Cheap checks of every connection: after every packet. */
  quick(): string | null {
    const internal = this.stack.counters.get('stack_internal_error');
    if (internal > 0) return `${this.name}: stack_internal_error = ${internal}`;
    for (const ep of this.stack.connections()) {
      if (ep.removed) continue;
      const why = this.endpoint(ep);
      if (why !== null) return `${this.name} ${where(ep)}: ${why}`;
    }
    return null;
  }

  private endpoint(ep: TcpEndpoint): string | null {
    const c = ep.conn;
    const inv = c.checkInvariants();
    if (inv !== null) return `checkInvariants: ${inv}`;
    if (c.state === 'CLOSED') return 'a CLOSED TCB is still in the table';
    const d = c.nextDeadline();
    if (Number.isNaN(d)) return 'next deadline is NaN';
    if (d < ep.timerAt) return `deadline ${d} but the timer is armed for ${ep.timerAt}`;
    if (c.sendQueue.length > c.cfg.sndBuf + 64 * 1024) return `send queue ${c.sendQueue.length} > sndBuf ${c.cfg.sndBuf} + one write`;
    const sync = SYNCHRONIZED.has(c.state);
    const app = ep.handler instanceof App ? ep.handler : null;
    if (sync && app !== null) {
      // Every byte RCV.NXT moved over was read by the application or waits in the buffer.
      const inOrder = seqSub(c.rcvNxt, c.irs) - 1 - (c.peerFinReceived ? 1 : 0);
      if (app.rxBytes + c.readable !== inOrder) return `read ${app.rxBytes} + readable ${c.readable} != RCV.NXT - IRS - 1 = ${inOrder}`;
      // Every byte written is acknowledged or still queued.
      const finAcked = c.state === 'FIN_WAIT_2' || c.state === 'TIME_WAIT';
      const acked = seqSub(c.sndUna, c.iss) - 1 - (finAcked ? 1 : 0);
      if (acked + c.sendQueue.length !== app.txBytes) return `acked ${acked} + queued ${c.sendQueue.length} != written ${app.txBytes}`;
    }
    const before = this.seen.get(ep);
    if (before === undefined && ep.remoteAddr.includes(':') && martianPeer6(ep.remoteAddr)) return `a connection with the martian ${ep.remoteAddr}`;
    const now: Seen = { state: c.state, rcvNxt: c.rcvNxt, sndUna: c.sndUna, sndNxt: c.sndNxt, edge: rcvEdge(c) };
    this.seen.set(ep, now);
    if (before !== undefined && sync && SYNCHRONIZED.has(before.state)) {
      if (seqLt(now.rcvNxt, before.rcvNxt)) return `RCV.NXT moved back ${before.rcvNxt} -> ${now.rcvNxt}`;
      if (seqLt(now.sndUna, before.sndUna)) return `SND.UNA moved back ${before.sndUna} -> ${now.sndUna}`;
      if (seqLt(now.sndNxt, before.sndNxt)) return `SND.NXT moved back ${before.sndNxt} -> ${now.sndNxt}`;
      // RFC 9293 §3.8.6: the right edge of the advertised window never moves left.
      if (seqLt(now.edge, before.edge)) return `window edge moved left ${before.edge} -> ${now.edge}`;
    }
    return null;
  }

  /** Costlier checks (they copy lists): every few packets and after every time step. */
  thorough(): string | null {
    let n = 0;
    for (const ep of this.stack.connections()) {
      if (ep.removed) continue;
      n++;
      const why = this.bounds(ep.conn);
      if (why !== null) return `${this.name} ${where(ep)}: ${why}`;
    }
    if (n > MAX_ENDPOINTS) return `${this.name}: ${n} connections held (bound ${MAX_ENDPOINTS})`;
    for (const l of this.stack.listening()) {
      let pending = 0;
      for (const ep of this.stack.connections()) if (ep.listener === l && !ep.removed) pending++;
      if (pending !== l.pending) return `${this.name}: listener :${l.port} counts ${l.pending} pending, ${pending} in the table`;
      if (l.pending > l.backlog) return `${this.name}: listener :${l.port} has ${l.pending} pending > backlog ${l.backlog}`;
    }
    for (const ep of [...this.seen.keys()]) if (ep.removed) this.seen.delete(ep);
    return null;
  }

  private bounds(c: Connection): string | null {
    const ooo = c.recvBuffer.outOfOrderRanges();
    if (ooo.length > this.maxOooPieces) this.maxOooPieces = ooo.length;
    const edge = rcvEdge(c);
    // Once the FIN was taken in order nothing more is received; pieces held
    // beyond it are left over (Linux purges them in tcp_fin; we only count them).
    if (canReceive(c.state)) for (const [a, b] of ooo) {
      // reassembly.ts: everything held lies inside the window we advertised.
      if (!seqGt(a, c.rcvNxt) || seqGt(b, edge) || seqLt(b, a)) return `out-of-order piece [${a}, ${b}) outside (RCV.NXT, edge]`;
    }
    const sack = c.recovery.scoreboard.toArray();
    if (sack.length > this.maxSackRanges) this.maxSackRanges = sack.length;
    for (const [a, b] of sack) {
      if (seqLt(a, c.sndUna) || seqGt(b, c.sndNxt) || !seqLt(a, b)) return `SACKed range [${a}, ${b}) outside [SND.UNA, SND.NXT]`;
    }
    if (!seqGe(c.rcvNxt, c.irs) && c.state !== 'SYN_SENT') return 'RCV.NXT below IRS';
    return null;
  }
}

/** No IPv6 connection may have a peer at these (RFC 4291: multicast, unspecified, loopback from a link, IPv4-mapped). */
function martianPeer6(addr: string): boolean {
  const b = ip6ToBytes(addr);
  if (b === null) return true;
  const zeros = b.subarray(0, 15).every((x) => x === 0);
  return isMulticast6(b, 0) || isV4Mapped6(b, 0) || (zeros && (b[15] === 0 || b[15] === 1));
}
