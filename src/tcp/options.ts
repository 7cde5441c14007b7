/**
 * The options we put on segments, in the byte layout Linux uses so that
 * traces line up with the kernel's under tcpdump.
 *   SYN:  mss, sackOK, TS, nop, wscale   (NOPs fill in for what is off)
 *   else: nop, nop, TS   then   nop, nop, sack blocks
 */
import type { TcpOption } from '../wire/tcp.js';
import type { OutSegment } from './tcb.js';
import { initialRcvBuf, ourMss, type TcpConfig } from './config.js';

export interface SynOptionSet {
  mss: number;
  sackPermitted: boolean;
  ts?: { val: number; ecr: number };
  wscale?: number;
}

export function synOptions(o: SynOptionSet): TcpOption[] {
  const list: TcpOption[] = [{ kind: 'mss', mss: o.mss }];
  if (o.sackPermitted && o.ts) list.push({ kind: 'sackOK' }, { kind: 'ts', val: o.ts.val, ecr: o.ts.ecr });
  else if (o.ts) list.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: o.ts.val, ecr: o.ts.ecr });
  else if (o.sackPermitted) list.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOK' });
  if (o.wscale !== undefined) list.push({ kind: 'nop' }, { kind: 'wscale', shift: o.wscale });
  return list;
}

/**
 * The window field of our SYN or SYN,ACK, as Linux's tcp_select_initial_window:
 * the buffer rounded down to a multiple of the MSS (`mss`: for a SYN the MSS we
 * offer, for a SYN,ACK less 12 when timestamps are on), at most 65535 as a SYN's
 * window is never scaled (RFC 7323 §2.2). Linux with tcp_rmem[1] = 131072 and
 * MSS 1460: 64240 in the SYN, 65160 in a SYN,ACK with timestamps.
 */
export function synWindow(rcvBuf: number, mss: number): number {
  const space = mss > 0 && rcvBuf > mss ? rcvBuf - (rcvBuf % mss) : rcvBuf;
  return Math.min(65535, space);
}

/** Our SYN's window (`synAck` false) or SYN,ACK's (`tsOn`: timestamps agreed), from the configured buffer. */
export function ourSynWindow(cfg: Pick<TcpConfig, 'rcvBuf' | 'tcpRmem' | 'mss' | 'advMss'>, synAck: boolean, tsOn: boolean): number {
  return synWindow(initialRcvBuf(cfg), ourMss(cfg) - (synAck && tsOn ? 12 : 0));
}

/** Bytes of option space a list of SACK blocks takes (with its two NOPs). */
export function sackOptionBytes(blocks: number): number {
  return blocks > 0 ? 4 + 8 * blocks : 0;
}

/** Options of a non-SYN segment, or undefined when there are none. */
export function segmentOptions(ts: { val: number; ecr: number } | undefined, sack: Array<[number, number]> | undefined): TcpOption[] | undefined {
  if (ts === undefined && (sack === undefined || sack.length === 0)) return undefined;
  const list: TcpOption[] = [];
  if (ts) list.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: ts.val, ecr: ts.ecr });
  if (sack && sack.length > 0) list.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: sack });
  return list;
}

/**
 * A segment of an established connection (Tcb.emitSegment) with its options
 * as plain fields: the stack writes nop,nop,TS and nop,nop,SACK straight
 * from them (wire/tcp.ts TcpFields), so no list and no option objects are
 * made per segment. `options` builds the list for whoever reads it (tests,
 * tracing of the TCB's output).
 */
export class FixedOptionsSegment implements OutSegment {
  constructor(
    public seq: number,
    public ack: number,
    public flags: number,
    public window: number,
    public tsVal: number | undefined,
    public tsEcr: number | undefined,
    public sack: Array<[number, number]> | undefined,
    public payload: Buffer | undefined,
    public gsoSize: number,
    public ect: boolean,
  ) {}

  get options(): TcpOption[] | undefined {
    return segmentOptions(this.tsVal === undefined ? undefined : { val: this.tsVal, ecr: this.tsEcr ?? 0 }, this.sack);
  }
}
