// A tiny packetdrill for the sans-IO Connection: inject a segment at a virtual
// time, then assert the EXACT segments that came out and the exact state
// changes. Segments are written and printed in packetdrill/tcpdump notation:
//
//   flags  seq:end(len)  ack N  win N  <options>
//
// with flags F S R P and '.' for ACK ("S." is SYN,ACK; "P." is PSH,ACK). As in
// packetdrill, sequence numbers are RELATIVE: our segments count from our ISS,
// the peer's from its ISN. The absolute values sit right below 2^32, so every
// test also exercises sequence-number wraparound.
import * as assert from 'uvu/assert';
import { Connection, type ConnEvent, type OutSegment } from '../../../src/tcp/connection.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../../../src/tcp/config.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpOption, type TcpSegment } from '../../../src/wire/tcp.js';
import { seqAdd, seqSub } from '../../../src/wire/seq.js';
import { Counters } from '../../../src/stack/counters.js';
import type { IcmpErrno, IcmpTcpError } from '../../../src/wire/icmp.js';
import type { IcmpVerdict } from '../../../src/tcp/path-errors.js';

/** Our ISS: our data crosses 2^32 after 15 bytes. */
export const ISS = 0xfffffff0;
/** The peer's ISN: its data crosses 2^32 after 255 bytes. */
export const IRS = 0xffffff00;

/** Our sequence space, relative to ISS (U(1) is the first data byte). */
export const U = (n: number): number => seqAdd(ISS, n);
/** The peer's sequence space, relative to its ISN. */
export const P = (n: number): number => seqAdd(IRS, n);

// ------------------------------------------------------------------ payloads

/** Byte k of a data stream (k = 0 is the first byte after the SYN). */
function streamByte(k: number, salt: number): number {
  return (k * 31 + salt + (k >>> 8)) & 0xff;
}

/** The peer's stream bytes [from, to): what its data segments carry. */
export function peerBytes(from: number, to: number): Buffer {
  const b = Buffer.alloc(to - from);
  for (let i = 0; i < b.length; i++) b[i] = streamByte(from + i, 7);
  return b;
}

/** Our stream bytes [from, to): what Script.write() queues. */
export function ourBytes(from: number, to: number): Buffer {
  const b = Buffer.alloc(to - from);
  for (let i = 0; i < b.length; i++) b[i] = streamByte(from + i, 101);
  return b;
}

// ---------------------------------------------------------------- notation

const FLAG_CHARS: Array<[string, number]> = [
  ['F', TCP_FIN], ['S', TCP_SYN], ['R', TCP_RST], ['P', TCP_PSH], ['U', TCP_URG], ['.', TCP_ACK], ['E', TCP_ECE], ['W', TCP_CWR],
];

export function parseFlags(f: string): number {
  let flags = 0;
  for (const c of f) {
    const e = FLAG_CHARS.find(([ch]) => ch === c);
    if (!e) throw new Error(`bad flag character ${c} in "${f}"`);
    flags |= e[1];
  }
  return flags;
}

export function flagString(flags: number): string {
  return FLAG_CHARS.filter(([, bit]) => flags & bit).map(([ch]) => ch).join('');
}

function optString(o: TcpOption): string {
  switch (o.kind) {
    case 'mss': return `mss ${o.mss}`;
    case 'wscale': return `wscale ${o.shift}`;
    case 'sackOK': return 'sackOK';
    case 'ts': return `TS val ${o.val} ecr ${o.ecr}`;
    case 'sack': return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(' ')}`;
    case 'unknown': return `opt${o.code}`;
    default: return o.kind;
  }
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

/** One of our outgoing segments in packetdrill notation, relative numbers. */
export function renderOut(s: OutSegment): string {
  const len = s.payload?.length ?? 0;
  if (!isU32(s.seq) || !isU32(s.ack)) return `BAD-NUMBERS seq=${s.seq} ack=${s.ack}`;
  const seq = seqSub(s.seq, ISS);
  let line = `${flagString(s.flags) || '-'} ${seq}:${seq + len}(${len})`;
  if (s.flags & TCP_ACK) line += ` ack ${seqSub(s.ack, IRS)}`;
  else if (s.ack !== 0) line += ` ack-field-without-ACK ${s.ack}`;
  line += ` win ${s.window}`;
  if (s.options && s.options.length > 0) line += ` <${s.options.map(optString).join(',')}>`;
  if (s.ect) line += ' ect';
  if (len > 0) {
    // Our payload must be exactly our stream's bytes at that sequence number.
    const off = seqSub(s.seq, U(1));
    if (off < 0 || !s.payload!.equals(ourBytes(off, off + len))) line += ' WRONG-BYTES';
  }
  return line;
}

// ---------------------------------------------------------------- segments

export interface InSpec {
  /** Flags in packetdrill notation: 'S', 'S.', '.', 'P.', 'F.', 'R', 'R.' ... */
  f: string;
  seq: number;
  ack?: number;
  win?: number;
  /** Payload length; the bytes are the peer's stream at `seq` (see peerBytes). */
  len?: number;
  /** Explicit payload instead of `len`. */
  payload?: Buffer;
  mss?: number;
  wscale?: number;
  /** The IP header's ECN field: 0 Not-ECT (default), 1 ECT(1), 2 ECT(0), 3 CE. */
  ecn?: number;
}

/** Build a TcpSegment as the wire decoder would hand it to the connection. */
export function seg(spec: InSpec): TcpSegment {
  const list: TcpOption[] = [];
  if (spec.mss !== undefined) list.push({ kind: 'mss', mss: spec.mss });
  if (spec.wscale !== undefined) list.push({ kind: 'nop' }, { kind: 'wscale', shift: spec.wscale });
  const optBytes = list.reduce((n, o) => n + (o.kind === 'nop' ? 1 : o.kind === 'mss' ? 4 : 3), 0);
  let payload = spec.payload ?? Buffer.alloc(0);
  if (spec.len !== undefined) {
    const off = seqSub(spec.seq, P(1)) + (spec.f.includes('S') ? 1 : 0);
    payload = peerBytes(off, off + spec.len);
  }
  const options: TcpSegment['options'] = { sackPermitted: false, list };
  if (spec.mss !== undefined) options.mss = spec.mss;
  if (spec.wscale !== undefined) options.wscale = spec.wscale;
  return {
    srcPort: 40000,
    dstPort: 8080,
    seq: spec.seq >>> 0,
    ack: (spec.ack ?? 0) >>> 0,
    headerLength: 20 + Math.ceil(optBytes / 4) * 4,
    flags: parseFlags(spec.f),
    window: spec.win ?? 65535,
    checksum: 0,
    urgent: 0,
    options,
    payload,
    ecn: spec.ecn ?? 0,
  };
}

export interface OutSpec {
  f: string;
  seq: number;
  /** Absent for segments without ACK (then the field must be 0). */
  ack?: number;
  win: number;
  len?: number;
  opts?: TcpOption[];
  /** Sent ECN-capable: ECT(0) in the IP header. */
  ect?: boolean;
}

export function renderSpec(e: OutSpec): string {
  const o: OutSegment = { seq: e.seq >>> 0, ack: (e.ack ?? 0) >>> 0, flags: parseFlags(e.f), window: e.win, ect: e.ect };
  if (e.opts) o.options = e.opts;
  if (e.len) {
    const off = seqSub(o.seq, U(1));
    o.payload = ourBytes(off, off + e.len);
  }
  return renderOut(o);
}

/** Option lists as we send them in a SYN (Linux layout: mss, nop, wscale). */
export const synOpts = (mss: number, wscale?: number): TcpOption[] =>
  wscale === undefined ? [{ kind: 'mss', mss }] : [{ kind: 'mss', mss }, { kind: 'nop' }, { kind: 'wscale', shift: wscale }];

// ------------------------------------------------------------------ script

function eventString(e: ConnEvent): string {
  switch (e.type) {
    case 'state': return `${e.from}->${e.to}`;
    case 'error': return `error ${e.code}`;
    default: return e.type;
  }
}

export class Script {
  readonly conn: Connection;
  readonly cfg: TcpConfig;
  /** The connection's counters (drop reasons, events, rate limits). */
  readonly counters = new Counters();
  now = 0;
  /** Segments sent and not yet checked with expect(). */
  private pending: OutSegment[] = [];
  private stateEvents: string[] = [];
  private otherEvents: string[] = [];
  private recoveryEvents: string[] = [];
  /** Bytes of our stream handed to write() so far. */
  written = 0;

  constructor(cfg: Partial<TcpConfig> = {}, iss = ISS) {
    // The base RFC 9293 behaviour; SACK and timestamps have tests of their own.
    this.cfg = { ...DEFAULT_TCP_CONFIG, sack: false, timestamps: false, ...cfg };
    this.conn = new Connection(this.cfg, iss, 0, this.counters);
  }

  get state(): string {
    return this.conn.state;
  }

  /** Run one input at virtual time `at`; drain out/events; check invariants. */
  private step(at: number, what: string, f: () => void): void {
    if (this.pending.length > 0) {
      assert.unreachable(`before "${what}" at ${at}: unchecked output ${JSON.stringify(this.pending.map(renderOut))}`);
    }
    assert.ok(at >= this.now, `time goes backwards: ${at} < ${this.now}`);
    this.now = at;
    f();
    this.pending.push(...this.conn.out.splice(0));
    for (const e of this.conn.events.splice(0)) {
      if (e.type === 'recovery') this.recoveryEvents.push(`${e.phase}: ${e.cause}`);
      else (e.type === 'state' ? this.stateEvents : this.otherEvents).push(eventString(e));
    }
    assert.is(this.conn.checkInvariants(), null, `invariant broken after "${what}" at ${at}`);
  }

  // User calls.
  connect(at: number): void {
    this.step(at, 'connect', () => this.conn.connect(at));
  }
  acceptSyn(at: number, spec: InSpec): void {
    this.step(at, 'acceptSyn', () => this.conn.acceptSyn(seg(spec), at));
  }
  /** Queue the next `n` bytes of our stream; returns write()'s result. */
  write(at: number, n: number): boolean {
    let ok = false;
    const data = ourBytes(this.written, this.written + n);
    this.written += n;
    this.step(at, `write ${n}`, () => { ok = this.conn.write(data, at); });
    return ok;
  }
  /** read() and join the buffers. */
  read(at: number, max?: number): Buffer {
    let got: Buffer[] = [];
    this.step(at, 'read', () => { got = this.conn.read(at, max); });
    return Buffer.concat(got);
  }
  close(at: number): void {
    this.step(at, 'close', () => this.conn.close(at));
  }
  abort(at: number): void {
    this.step(at, 'abort', () => this.conn.abort(at));
  }
  /** The application closed its socket (close(2)): Connection.orphan. */
  orphan(at: number): void {
    this.step(at, 'orphan', () => this.conn.orphan(at));
  }
  setNoDelay(at: number, on: boolean): void {
    this.step(at, 'setNoDelay', () => this.conn.setNoDelay(on, at));
  }
  setKeepAlive(at: number, idle: number): void {
    this.step(at, 'setKeepAlive', () => this.conn.setKeepAlive(idle, at));
  }

  /** A segment from the peer arrives. */
  recv(at: number, spec: InSpec): void {
    this.step(at, `recv ${spec.f}`, () => this.conn.segmentArrives(seg(spec), at));
  }

  /** An ICMP error quoting our segment at `seq` arrives (the stack has matched the 4-tuple); returns the verdict. */
  icmp(at: number, e: { type: number; code: number; seq: number; errno?: IcmpErrno; mtu?: number }): IcmpVerdict {
    let v: IcmpVerdict = 'dropped';
    const err: IcmpTcpError = { errno: 'EHOSTUNREACH', ...e, seq: e.seq >>> 0 };
    this.step(at, `icmp ${e.type}/${e.code}`, () => { v = this.conn.icmpError(err, at); });
    return v;
  }
  /** The stack lowered (or raised) the path MTU to the peer. */
  pathMtu(at: number, mtu: number): void {
    this.step(at, `path MTU ${mtu}`, () => this.conn.pathMtuChanged(mtu, at));
  }

  /** Fire the timer at `at` (the stack calls onTimer at nextDeadline()). */
  timer(at: number): void {
    this.step(at, 'timer', () => this.conn.onTimer(at));
  }

  /** Fire the timer at exactly nextDeadline(), after checking it is `at`. */
  timerAt(at: number): void {
    assert.is(this.conn.nextDeadline(), at, 'nextDeadline()');
    this.timer(at);
  }

  // Assertions.

  /** Exactly these segments were sent since the last expect(), in this order. */
  expect(...specs: OutSpec[]): void {
    const got = this.pending.splice(0).map(renderOut);
    assert.equal(got, specs.map(renderSpec), `segments sent by ${this.now}`);
  }

  /** The raw segments sent since the last expect() (for special checks). */
  takeOut(): OutSegment[] {
    return this.pending.splice(0);
  }

  /** Exactly these state changes ("FROM->TO") since the last call. */
  transitions(...want: string[]): void {
    assert.equal(this.stateEvents.splice(0), want, `state changes by ${this.now}`);
  }

  /** Exactly these other events (established, readable, end, drain, error CODE, closed) since the last call. */
  events(...want: string[]): void {
    assert.equal(this.otherEvents.splice(0), want, `events by ${this.now}`);
  }

  /** Loss recovery's changes since the last call ('phase: cause'). */
  recoveries(): string[] {
    return this.recoveryEvents.splice(0);
  }

  /** Forget events (e.g. after a setup phase). */
  clearEvents(): void {
    this.stateEvents.length = 0;
    this.otherEvents.length = 0;
  }
}

// ------------------------------------------------------------------- setups

export interface PeerOpts {
  /** The peer's window field in its SYN,ACK (and later segments by default). */
  win?: number;
  /** MSS option in the peer's SYN; null = no MSS option. */
  mss?: number | null;
  /** Window-scale option in the peer's SYN; undefined = none. */
  wscale?: number;
}

/** Small numbers for data tests: MSS 1000 both ways, 4000-byte receive buffer (shift 0). */
export const SMALL: Partial<TcpConfig> = { mss: 1000, rcvBuf: 4000, sndBuf: 64 * 1024 };

/**
 * Active open to ESTABLISHED:
 *   0.000 > S  0:0(0) <mss ...>
 *   0.100 < S. 0:0(0) ack 1 win ... <mss 1000>
 *   0.100 > .  1:1(0) ack 1
 * RTT sample 100 ms, so RTO = 100 + 4*50 = 300 ms afterwards.
 */
export function established(cfg: Partial<TcpConfig> = SMALL, peer: PeerOpts = {}): Script {
  const t = new Script(cfg);
  t.connect(0);
  t.takeOut();
  const spec: InSpec = { f: 'S.', seq: P(0), ack: U(1), win: peer.win ?? 65535 };
  if (peer.mss !== null) spec.mss = peer.mss ?? 1000;
  if (peer.wscale !== undefined) spec.wscale = peer.wscale;
  t.recv(100, spec);
  t.takeOut();
  assert.is(t.state, 'ESTABLISHED', 'setup: handshake');
  t.clearEvents();
  return t;
}

/** Passive open to ESTABLISHED: SYN at 0, our SYN,ACK, the peer's ACK at 100. */
export function accepted(cfg: Partial<TcpConfig> = SMALL, peer: PeerOpts = {}): Script {
  const t = new Script(cfg);
  const spec: InSpec = { f: 'S', seq: P(0), win: peer.win ?? 65535 };
  if (peer.mss !== null) spec.mss = peer.mss ?? 1000;
  if (peer.wscale !== undefined) spec.wscale = peer.wscale;
  t.acceptSyn(0, spec);
  t.takeOut();
  t.recv(100, { f: '.', seq: P(1), ack: U(1), win: peer.win ?? 65535 });
  t.takeOut();
  assert.is(t.state, 'ESTABLISHED', 'setup: handshake');
  t.clearEvents();
  return t;
}

// ------------------------------------------- the closing states, from established()
// Each returns with RCV.NXT and SND.NXT as noted and no unchecked output.

/** We close first: FIN sent, FIN_WAIT_1. SND.NXT = 2, RCV.NXT = 1. */
export function finWait1(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = established(cfg);
  t.close(200);
  // 0.200 > F. 1:1(0) ack 1 win 4000
  t.expect({ f: 'F.', seq: U(1), ack: P(1), win: 4000 });
  t.clearEvents();
  return t;
}

/** Our FIN acknowledged: FIN_WAIT_2. SND.NXT = 2, RCV.NXT = 1. */
export function finWait2(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = finWait1(cfg);
  // 0.300 < . 1:1(0) ack 2 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(2) });
  t.expect();
  assert.is(t.state, 'FIN_WAIT_2', 'setup');
  t.clearEvents();
  return t;
}

/** Both FINs crossed: CLOSING. SND.NXT = 2, RCV.NXT = 2. */
export function closing(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = finWait1(cfg);
  // 0.300 < F. 1:1(0) ack 1 win 65535
  t.recv(300, { f: 'F.', seq: P(1), ack: U(1) });
  // 0.300 > . 2:2(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  assert.is(t.state, 'CLOSING', 'setup');
  t.clearEvents();
  return t;
}

/** The peer closed first: CLOSE_WAIT. SND.NXT = 1, RCV.NXT = 2. */
export function closeWait(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = established(cfg);
  // 0.200 < F. 1:1(0) ack 1 win 65535
  t.recv(200, { f: 'F.', seq: P(1), ack: U(1) });
  // 0.200 > . 1:1(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(2), win: 4000 });
  assert.is(t.state, 'CLOSE_WAIT', 'setup');
  t.clearEvents();
  return t;
}

/** Then we close: LAST_ACK. SND.NXT = 2, RCV.NXT = 2. */
export function lastAck(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = closeWait(cfg);
  t.close(300);
  // 0.300 > F. 1:1(0) ack 2 win 4000
  t.expect({ f: 'F.', seq: U(1), ack: P(2), win: 4000 });
  assert.is(t.state, 'LAST_ACK', 'setup');
  t.clearEvents();
  return t;
}

/** FIN_WAIT_2, then the peer's FIN at 0.400: TIME_WAIT until 0.400 + 2*MSL. SND.NXT = 2, RCV.NXT = 2. */
export function timeWait(cfg: Partial<TcpConfig> = SMALL): Script {
  const t = finWait2(cfg);
  // 0.400 < F. 1:1(0) ack 2 win 65535
  t.recv(400, { f: 'F.', seq: P(1), ack: U(2) });
  // 0.400 > . 2:2(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  assert.is(t.state, 'TIME_WAIT', 'setup');
  t.clearEvents();
  return t;
}
