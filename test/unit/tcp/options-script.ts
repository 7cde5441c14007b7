// Shared by the SACK, timestamp and recovery tests: script.ts extended with
// injected segments that carry sackOK, TS and SACK options, rendering of our
// segments with their options (SACK blocks relative to the peer's ISN), the
// peer's TS clock, and an active open with SACK and timestamps on both sides.
// Not a .test.ts file, so importing it runs no tests.
import * as assert from 'uvu/assert';
import type { OutSegment } from '../../../src/tcp/connection.js';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { tcpOptionsLength, type TcpOption, type TcpOptions, type TcpSegment } from '../../../src/wire/tcp.js';
import { seqSub } from '../../../src/wire/seq.js';
import { IRS, P, Script, U, renderOut, renderSpec, type InSpec, type OutSpec } from './script.js';

export interface In extends InSpec {
  sackOK?: boolean;
  /** [TSval, TSecr] */
  ts?: readonly [number, number];
  /** SACK blocks, absolute sequence numbers (use U()). */
  sack?: ReadonlyArray<readonly [number, number]>;
}

export const NOP: TcpOption = { kind: 'nop' };

/** The options of `spec` in Linux's layout (SYN: mss,sackOK,TS,nop,wscale; else nop,nop,TS,nop,nop,sack). */
export function withOptions(s: TcpSegment, spec: In): TcpSegment {
  const list: TcpOption[] = [];
  const o: TcpOptions = { sackPermitted: spec.sackOK === true, list };
  const ts: TcpOption | undefined = spec.ts ? { kind: 'ts', val: spec.ts[0] >>> 0, ecr: spec.ts[1] >>> 0 } : undefined;
  if (spec.mss !== undefined) {
    o.mss = spec.mss;
    list.push({ kind: 'mss', mss: spec.mss });
  }
  if (spec.f.includes('S')) {
    if (spec.sackOK && ts) list.push({ kind: 'sackOK' }, ts);
    else if (ts) list.push(NOP, NOP, ts);
    else if (spec.sackOK) list.push(NOP, NOP, { kind: 'sackOK' });
    if (spec.wscale !== undefined) list.push(NOP, { kind: 'wscale', shift: spec.wscale });
  } else {
    if (ts) list.push(NOP, NOP, ts);
    if (spec.sack && spec.sack.length > 0) list.push(NOP, NOP, { kind: 'sack', blocks: spec.sack.map(([l, r]) => [l >>> 0, r >>> 0]) });
  }
  if (spec.wscale !== undefined) o.wscale = spec.wscale;
  if (spec.ts) {
    o.tsVal = spec.ts[0] >>> 0;
    o.tsEcr = spec.ts[1] >>> 0;
  }
  if (spec.sack && spec.sack.length > 0) o.sack = spec.sack.map(([l, r]) => [l >>> 0, r >>> 0]);
  return { ...s, options: o, headerLength: 20 + tcpOptionsLength(list) };
}

/** Script.recv with the options script.ts cannot express (wraps segmentArrives for one call). */
export function recv(t: Script, at: number, spec: In): void {
  const conn = t.conn;
  const original = conn.segmentArrives;
  conn.segmentArrives = (s: TcpSegment, now: number): void => original.call(conn, withOptions(s, spec), now);
  try {
    t.recv(at, spec);
  } finally {
    conn.segmentArrives = original;
  }
}

/** Script.acceptSyn with options. */
export function acceptSyn(t: Script, at: number, spec: In): void {
  const conn = t.conn;
  const original = conn.acceptSyn;
  conn.acceptSyn = (s: TcpSegment, now: number): void => original.call(conn, withOptions(s, spec), now);
  try {
    t.acceptSyn(at, spec);
  } finally {
    conn.acceptSyn = original;
  }
}

export function optText(o: TcpOption): string {
  switch (o.kind) {
    case 'mss': return `mss ${o.mss}`;
    case 'wscale': return `wscale ${o.shift}`;
    case 'ts': return `TS val ${o.val} ecr ${o.ecr}`;
    // Our SACK blocks describe the peer's data: relative to its ISN.
    case 'sack': return `sack ${o.blocks.map(([l, r]) => `${seqSub(l, IRS)}:${seqSub(r, IRS)}`).join(' ')}`;
    case 'unknown': return `opt${o.code}`;
    default: return o.kind;
  }
}

export function withOpts(base: string, options: TcpOption[] | undefined): string {
  return options && options.length > 0 ? `${base} <${options.map(optText).join(',')}>` : base;
}

export function render(s: OutSegment): string {
  const { options, ...rest } = s;
  return withOpts(renderOut(rest), options);
}

export function renderWant(e: OutSpec): string {
  const { opts, ...rest } = e;
  return withOpts(renderSpec(rest), opts);
}

/** Exactly these segments since the last check (options in order). */
export function expect(t: Script, ...want: OutSpec[]): void {
  assert.equal(t.takeOut().map(render), want.map(renderWant), `segments sent by ${t.now}`);
}

/** nop,nop,TS val ecr */
export const TS = (val: number, ecr: number): TcpOption[] => [NOP, NOP, { kind: 'ts', val: val >>> 0, ecr: ecr >>> 0 }];
/** ...then nop,nop,sack with blocks given relative to the peer's ISN. */
export const SACK = (...blocks: Array<[number, number]>): TcpOption[] => [NOP, NOP, { kind: 'sack', blocks: blocks.map(([l, r]): [number, number] => [P(l), P(r)]) }];

/** The peer's TS clock: wraps 2^32 at t = 256 ms. */
export const PT = (ms: number): number => (0xffffff00 + ms) >>> 0;

export const CFG: Partial<TcpConfig> = { mss: 1012, rcvBuf: 4000, sndBuf: 64 * 1024, sack: true, timestamps: true, cc: 'newreno' };

/** Our TS offset X: the TSval of a SYN sent at time 0 (the offset depends only on the ISS, the same in every Script). */
export function ourTsOffset(): number {
  const t = new Script(CFG);
  t.connect(0);
  for (const o of t.takeOut()[0]?.options ?? []) if (o.kind === 'ts') return o.val;
  throw new Error('no TS option in our SYN');
}
export const X = ourTsOffset();
/** Our TSval at time t. */
export const TV = (ms: number): number => (X + ms) >>> 0;

/** Active open with SACK and TS on both sides, MSS 1012: ESTABLISHED at 100, TS.Recent = PT(100), RTO 300. */
export function open(cfg: Partial<TcpConfig> = CFG, peer: { sack?: boolean; ts?: boolean } = {}): Script {
  const t = new Script(cfg);
  t.connect(0);
  t.takeOut();
  const spec: In = { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1012, sackOK: peer.sack ?? true };
  if (peer.ts ?? true) spec.ts = [PT(100), TV(0)];
  recv(t, 100, spec);
  t.takeOut();
  assert.is(t.state, 'ESTABLISHED', 'setup: handshake');
  t.clearEvents();
  return t;
}

/** A peer ACK of our data with timestamps: cumulative `ack` and SACK blocks relative to our ISS, TSval PT(at), TSecr `ecr`. */
export function tsSackAck(t: Script, at: number, ack: number, ecr: number, ...blocks: Array<[number, number]>): void {
  recv(t, at, { f: '.', seq: P(1), ack: U(ack), win: 65535, ts: [PT(at), ecr], sack: blocks.map(([a, b]): [number, number] => [U(a), U(b)]) });
}

/** One of our data segments [from, from+len) sent at `at`, echoing `ecr` (the peer's last TSval). */
export function D(at: number, from: number, ecr = PT(at), f = '.', len = 1000): OutSpec {
  return { f, seq: U(from), ack: P(1), win: 4000, len, opts: TS(TV(at), ecr) };
}

/** The first flight at 0.200: `n` segments of 1000 bytes (the last with PSH if it ends the queue). */
export function firstFlight(n: number, lastPsh: boolean): OutSpec[] {
  return Array.from({ length: n }, (_, i) => D(200, 1 + 1000 * i, PT(100), lastPsh && i === n - 1 ? 'P.' : '.'));
}
