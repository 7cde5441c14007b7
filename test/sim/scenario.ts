/**
 * Seeded random scenarios for the deterministic simulation (GUIDE §Principles 7,
 * issue #4 point 5): two NetStacks over an in-memory link through a fault
 * injector, in virtual time. One seed fixes everything: the network faults,
 * how many connections, how much data each way, the write chunk sizes, the
 * reader pauses and who closes first. `runScenario(seed)` replays a run
 * exactly, so a failing seed is a bug report:
 *
 *   node dist/scripts/soak.js --seed 1234
 *
 * The driver is like harness.ts (virtual time moves only when the Node event
 * loop is idle) but owns its loop so it can check invariants after every
 * virtual-time step and record a transcript of every packet for the
 * determinism check.
 */
import { createHash, type Hash } from 'node:crypto';
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { FaultLink, type FaultCounters } from '../../src/link/fault.js';
import { TapLink } from '../../src/link/tap.js';
import { Prng } from '../../src/link/prng.js';
import { NetStack } from '../../src/socket/net-stack.js';
import { Socket } from '../../src/socket/socket.js';
import type { Stack } from '../../src/stack/stack.js';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import { seqGt, seqSub } from '../../src/wire/seq.js';
import { joinPacket } from '../../src/link/link.js';
import { TcpdumpFormatter } from '../../src/trace/tcpdump.js';
import { describeParams, drawParams, type ConnPlan, type ScenarioParams } from './scenario-params.js';

export { drawParams, describeParams, HARD_SCENARIOS } from './scenario-params.js';
export type { CloseOrder, ConnPlan, ScenarioFaults, ScenarioParams } from './scenario-params.js';

export const A_ADDR = '10.0.0.1';
export const B_ADDR = '10.0.0.2';
const SERVER_PORT = 5001;
const MTU = 1500;
const MB = 1024 * 1024;

export interface ScenarioOptions {
  /**
   * Virtual-time bound for the whole run (default 3600 s). The tighter check
   * is `stallMs`: no byte delivered and no connection state change for that
   * long means stuck (1800 s: the retransmission timer backs off to its
   * 120 s maximum, and at 20 % loss each way plus corruption a round trip
   * fails ~45 % of the time, so eight maximum-RTO tries in a row (seed 8253)
   * happen now and then in a sweep of thousands of seeds with nothing wrong).
   */
  limitMs?: number;
  /** MSL for the stacks (TIME_WAIT lasts 2 MSL; default 1 s). */
  msl?: number;
  /** Wall-clock bound in ms (a diagnostic for runaway runs; default 120 s). */
  wallLimitMs?: number;
  /** Lines describing the run as it happens (state changes, faults, completion). */
  trace?: (line: string) => void;
  /** Packets (in and out at both stacks) after which a run counts as a storm (default 100k + 50 per 536 bytes of data). */
  maxPackets?: number;
  /** With `trace`: also one tcpdump line per packet sent or received by either stack. */
  tracePackets?: boolean;
  /** Let the stacks pick ephemeral ports themselves (shows the Math.random nondeterminism). */
  ephemeralPorts?: boolean;
}

export interface Result {
  seed: number;
  name?: string;
  ok: boolean;
  reason?: string;
  params: ScenarioParams;
  /** SHA-256 of every packet in and out of both stacks with its virtual time. */
  transcript: string;
  packets: number;
  /** Virtual ms from the start until everything was closed (or the failure). */
  virtualMs: number;
  /** Virtual-time steps the driver took. */
  steps: number;
  wallMs: number;
  bytes: number;
  faults: FaultCounters;
  counters: { a: Record<string, number>; b: Record<string, number> };
}

// ----------------------------------------------------------------- the data

let block: Buffer | null = null;

/** 2 MiB of seeded random bytes; every direction of every connection is a different slice. */
function dataBlock(): Buffer {
  if (block !== null) return block;
  const r = new Prng(0x5eed);
  const b = Buffer.allocUnsafe(2 * MB);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(r.next() * 0x1_0000_0000), i);
  block = b;
  return b;
}

// ------------------------------------------------------------------ one side

/** What one side of one connection has seen. */
class Side {
  sock: Socket | null = null;
  received = 0;
  writeDone = false;
  gotEnd = false;
  closed = false;
  endCalled = false;
  error: string | null = null;
  mismatch: string | null = null;

  constructor(
    readonly name: string,
    /** What this side must receive (a slice of the pristine block, never handed to the stack). */
    readonly expect: Buffer,
  ) {}

  get receivedAll(): boolean {
    return this.received === this.expect.length;
  }

  get complete(): boolean {
    return this.closed && this.gotEnd && this.receivedAll && this.error === null && this.mismatch === null;
  }

  /** Check a received chunk against what was sent at that offset. */
  onData(d: Buffer): void {
    const at = this.received;
    this.received += d.length;
    if (this.mismatch !== null) return;
    if (this.received > this.expect.length) {
      this.mismatch = `${this.name} received ${this.received} bytes, more than the ${this.expect.length} sent`;
      return;
    }
    const want = this.expect.subarray(at, at + d.length);
    if (!want.equals(d)) {
      let i = 0;
      while (i < d.length && d[i] === want[i]) i++;
      this.mismatch = `${this.name} byte ${at + i} differs (got ${d[i]}, sent ${want[i]}) in a chunk of ${d.length} at ${at}`;
    }
  }

  describe(): string {
    const s = this.sock;
    const st = s === null ? 'no socket' : `${s.tcpState}${s.destroyed ? ',destroyed' : ''}${s.isPaused() ? ',paused' : ''}`;
    return `${this.name}[${st} rcvd ${this.received}/${this.expect.length} wrote ${this.writeDone ? 'all' : 'some'}${this.gotEnd ? ' end' : ''}${this.endCalled ? ' ended' : ''}${this.closed ? ' close' : ''}${this.error ? ` err ${this.error}` : ''}]`;
  }
}

/** Write `data` in random chunks with backpressure, then call `done`. */
function startWriter(sock: Socket, data: Buffer, chunkMax: number, r: Prng, done: () => void): void {
  let off = 0;
  const pump = (): void => {
    while (off < data.length) {
      const n = Math.min(data.length - off, 1 + r.int(chunkMax));
      const ok = sock.write(data.subarray(off, off + n));
      off += n;
      if (!ok) {
        sock.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

// ------------------------------------------------------------------ the run

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Run the scenario a seed draws. Never throws: failures are in the result. */
export function runScenario(seed: number, opts: ScenarioOptions = {}): Promise<Result> {
  return runParams(drawParams(seed), opts);
}

/** Run given parameters (a drawn seed or a fixed hard case). */
export async function runParams(p: ScenarioParams, opts: ScenarioOptions = {}): Promise<Result> {
  const wallStart = performance.now();
  const limitMs = p.limitMs ?? opts.limitMs ?? 3_600_000;
  const stallMs = 1_800_000;
  const wallLimit = opts.wallLimitMs ?? 120_000;
  const trace = opts.trace;
  const clock = new VirtualClock(1_000_000);
  const t0 = clock.now();
  const [la, lb] = createMemoryPair({ clock, latencyMs: 1, mtu: MTU });
  const fault = new FaultLink(la, p.faults, clock);
  const tapA = new TapLink(fault);
  const tapB = new TapLink(lb);
  const hash: Hash = createHash('sha256');
  const vt = (): string => `${((clock.now() - t0) / 1000).toFixed(3)}s`;
  let packets = 0;
  let failure: string | null = null;
  const fail = (why: string): void => {
    if (failure === null) failure = why;
  };
  const dump = trace !== undefined && opts.tracePackets ? new TcpdumpFormatter() : null;
  const record = (side: string) => (dir: string, header: Buffer, payload?: Buffer): void => {
    packets++;
    hash.update(`${side}${dir}${clock.now()} `);
    hash.update(header);
    if (payload !== undefined) hash.update(payload);
    const len = header.length + (payload?.length ?? 0);
    if (len > MTU) fail(`${side} ${dir} packet of ${len} bytes exceeds the MTU ${MTU}`);
    if (dump !== null) trace?.(`${vt()} ${side}${dir === 'out' ? ' >' : ' <'} ${dump.format(joinPacket(header, payload))}`);
  };
  tapA.observe(record('A'));
  tapB.observe(record('B'));
  const tcp = { msl: opts.msl ?? 1000, rcvBuf: p.rcvBuf, sndBuf: p.sndBuf, noDelay: p.noDelay, windowScaling: p.windowScaling, ecn: p.ecn ? ('on' as const) : ('passive' as const), rack: p.rack ?? true, cc: p.cc ?? 'cubic' };
  const isnKey = Buffer.alloc(16, 7);
  const a = new NetStack({ link: tapA, addr: A_ADDR, clock, tcp, isnKey });
  const b = new NetStack({ link: tapB, addr: B_ADDR, clock, tcp, isnKey });
  if (trace !== undefined) {
    a.observeState((ep, from, to, cause) => trace(`${vt()} A :${ep.localPort} ${from} > ${to}  ${cause}`));
    b.observeState((ep, from, to, cause) => trace(`${vt()} B :${ep.localPort}<-${ep.remotePort} ${from} > ${to}  ${cause}`));
  }

  const data = dataBlock();
  const maxChunk = Math.max(1, ...p.conns.map((c) => Math.max(c.chunkMaxA, c.chunkMaxB)));
  interface Conn {
    plan: ConnPlan;
    a: Side;
    b: Side;
    maybeEnd: () => void;
  }
  const conns: Conn[] = [];
  const byPort = new Map<number, Conn>();

  for (const [i, plan] of p.conns.entries()) {
    // Fresh copies go to the stack; the block itself stays pristine for comparison.
    const ab = data.subarray(plan.offAB, plan.offAB + plan.bytesAB);
    const ba = data.subarray(plan.offBA, plan.offBA + plan.bytesBA);
    const sa = new Side(`conn${i} A`, ba);
    const sb = new Side(`conn${i} B`, ab);
    const endSide = (s: Side): void => {
      if (s.sock === null || s.endCalled || s.sock.writableEnded || s.sock.destroyed) return;
      s.endCalled = true;
      trace?.(`${vt()} ${s.name} end()`);
      s.sock.end();
    };
    // Without allowHalfOpen a side may end only when it has all the peer's
    // data: the peer's socket ends itself on our FIN and cannot write after it.
    const mayEnd = (s: Side): boolean => s.writeDone && (p.allowHalfOpen || s.receivedAll);
    const maybeEnd = (): void => {
      switch (plan.close) {
        case 'a-first':
          if (mayEnd(sa)) endSide(sa);
          if (p.allowHalfOpen && sb.writeDone && sb.gotEnd) endSide(sb);
          break;
        case 'b-first':
          if (mayEnd(sb)) endSide(sb);
          if (p.allowHalfOpen && sa.writeDone && sa.gotEnd) endSide(sa);
          break;
        case 'together':
          if (mayEnd(sa) && mayEnd(sb)) {
            endSide(sa);
            endSide(sb);
          }
          break;
        case 'independent':
          if (mayEnd(sa)) endSide(sa);
          if (mayEnd(sb)) endSide(sb);
          break;
      }
    };
    const c: Conn = { plan, a: sa, b: sb, maybeEnd };
    conns.push(c);
    byPort.set(plan.localPort, c);
  }

  /** Reader and lifecycle listeners shared by both sides. */
  const attach = (s: Side, sock: Socket, c: Conn, pausePct: number, r: Prng): void => {
    s.sock = sock;
    sock.on('data', (d: Buffer) => {
      s.onData(d);
      if (s.mismatch !== null) fail(s.mismatch);
      if (s.receivedAll) c.maybeEnd();
      if (pausePct > 0 && r.chance(pausePct) && !sock.isPaused()) {
        sock.pause();
        clock.at(clock.now() + 1 + r.int(c.plan.pauseMaxMs), () => sock.resume());
      }
    });
    sock.on('end', () => {
      s.gotEnd = true;
      trace?.(`${vt()} ${s.name} 'end' after ${s.received} bytes`);
      if (!s.receivedAll) fail(`${s.name} got 'end' after ${s.received} of ${s.expect.length} bytes`);
      c.maybeEnd();
    });
    sock.on('close', () => {
      s.closed = true;
      trace?.(`${vt()} ${s.name} 'close'`);
    });
    sock.on('error', (e: Error & { code?: string }) => {
      s.error = e.code ?? e.message;
      fail(`${s.name} error ${e.code ?? ''} ${e.message}`);
    });
  };

  const server = b.createServer({ allowHalfOpen: p.allowHalfOpen, noDelay: p.noDelay }, (sock) => {
    const c = byPort.get(sock.remotePort!);
    if (c === undefined) {
      fail(`server accepted an unknown connection from port ${sock.remotePort}`);
      return;
    }
    if (c.b.sock !== null) {
      fail(`server accepted conn from port ${sock.remotePort} twice`);
      return;
    }
    const r = new Prng(c.plan.rngB);
    attach(c.b, sock, c, c.plan.pauseB, r);
    startWriter(sock, Buffer.from(c.a.expect), c.plan.chunkMaxB, r, () => {
      c.b.writeDone = true;
      c.maybeEnd();
    });
  });
  server.on('error', (e: Error) => fail(`server error ${e.message}`));
  server.listen(SERVER_PORT);

  for (const c of conns) {
    clock.at(clock.now() + c.plan.startAt, () => {
      const r = new Prng(c.plan.rngA);
      let sock: Socket;
      try {
        sock = a.connect({
          port: SERVER_PORT,
          host: B_ADDR,
          localPort: opts.ephemeralPorts ? undefined : c.plan.localPort,
          allowHalfOpen: p.allowHalfOpen,
          noDelay: p.noDelay,
        });
      } catch (err) {
        fail(`connect threw ${(err as Error).message}`);
        return;
      }
      if (opts.ephemeralPorts) {
        byPort.delete(c.plan.localPort);
        byPort.set(sock.localPort!, c);
      }
      attach(c.a, sock, c, c.plan.pauseA, r);
      const write = (): void =>
        startWriter(sock, Buffer.from(c.b.expect), c.plan.chunkMaxA, r, () => {
          c.a.writeDone = true;
          c.maybeEnd();
        });
      if (c.plan.writeEarly) write();
      else sock.once('connect', write);
    });
  }

  // Invariants of every live connection, checked from outside after every step.
  const checkEndpoint = (stack: Stack, name: string, ep: TcpEndpoint): string | null => {
    const c = ep.conn;
    const where = `${name} :${ep.localPort}<->${ep.remotePort} ${c.state} [${tcbSnapshot(c)}]`;
    let inv = c.checkInvariants();
    // With timestamps a full segment carries effMss = SND.MSS - 12 bytes and the
    // congestion control counts in effMss, so its loss window (1 SMSS, RFC 5681
    // §3.1) is effMss; checkInvariants (tcb.ts) compares with SND.MSS instead.
    const smss = 'effMss' in c && typeof c.effMss === 'number' ? c.effMss : c.sndMss;
    if (inv === 'cwnd < 1 MSS' && c.cc.cwnd >= smss) inv = null;
    if (inv !== null) return `${where}: checkInvariants: ${inv}`;
    if (c.cc.cwnd < smss) return `${where}: cwnd ${c.cc.cwnd} < 1 SMSS ${smss}`;
    if (seqGt(c.sndUna, c.sndNxt)) return `${where}: SND.UNA > SND.NXT`;
    if (c.sendQueue.length > c.cfg.sndBuf + maxChunk) return `${where}: send buffer ${c.sendQueue.length} > sndBuf ${c.cfg.sndBuf} + one write ${maxChunk}`;
    // The scaled window edge may round up by less than one unit of 2^wscale (as checkInvariants allows).
    const rcvCap = c.recvBuffer.capacity + (1 << c.rcvWscale) - 1;
    if (c.recvBuffer.used > rcvCap) return `${where}: receive buffer ${c.recvBuffer.used} > its capacity ${c.recvBuffer.capacity}`;
    if (c.cfg.rcvBuf > 0 && c.recvBuffer.capacity !== c.cfg.rcvBuf) return `${where}: a fixed rcvBuf ${c.cfg.rcvBuf} was autotuned to ${c.recvBuffer.capacity}`;
    // SND.MAX (highest sequence sent) where the sender keeps one, else SND.NXT.
    const sndMax = 'sndMax' in c && typeof c.sndMax === 'number' ? c.sndMax : c.sndNxt;
    const flight = seqSub(sndMax, c.sndUna);
    if (flight < 0 || flight > c.sendQueue.length + 2) return `${where}: ${flight} in flight but ${c.sendQueue.length} queued (+SYN+FIN)`;
    const h = ep.handler;
    if (h instanceof Socket) {
      // Every byte the peer sent in order is either read by the socket or waiting in the buffer.
      if (c.state !== 'SYN_SENT' && c.state !== 'CLOSED' && c.state !== 'LISTEN') {
        const inOrder = seqSub(c.rcvNxt, c.irs) - 1 - (c.peerFinReceived ? 1 : 0);
        if (h.bytesRead + c.readable !== inOrder) return `${where}: read ${h.bytesRead} + readable ${c.readable} != RCV.NXT-IRS-1 ${inOrder}`;
      }
      // Every byte written is either acknowledged or still in the send queue.
      const una = seqSub(c.sndUna, c.iss);
      const finAcked = c.state === 'FIN_WAIT_2' || c.state === 'TIME_WAIT';
      const acked = Math.max(0, una - 1) - (finAcked ? 1 : 0);
      if (acked + c.sendQueue.length !== h.bytesWritten) return `${where}: acked ${acked} + queued ${c.sendQueue.length} != written ${h.bytesWritten}`;
    }
    if (stack.counters.get('stack_internal_error') > 0) return `${name}: stack_internal_error counted`;
    return null;
  };
  const checkAll = (): void => {
    for (const [stack, name] of [[a, 'A'], [b, 'B']] as const) {
      if (stack.counters.get('stack_internal_error') > 0) return fail(`${name}: stack_internal_error counted`);
      for (const ep of stack.connections()) {
        if (ep.removed) continue;
        const why = checkEndpoint(stack, name, ep);
        if (why !== null) return fail(`${vt()} ${why}`);
      }
    }
  };
  const count = (s: Stack): number => {
    let n = 0;
    for (const _ of s.connections()) n++;
    return n;
  };
  const allDone = (): boolean => conns.every((c) => c.a.complete && c.b.complete) && count(a) === 0 && count(b) === 0;

  // A run that sends far more packets than its data needs is in a storm (an
  // ACK war, duplicated without end): stop it rather than burn wall time.
  const totalBytes = p.conns.reduce((n, c) => n + c.bytesAB + c.bytesBA, 0);
  const maxPackets = opts.maxPackets ?? 100_000 + 50 * Math.ceil(totalBytes / 536);
  const deadline = t0 + limitMs;
  let steps = 0;
  let lastProgress = '';
  let lastProgressAt = clock.now();
  for (;;) {
    await turn();
    await turn();
    checkAll();
    if (failure !== null) break;
    if (allDone()) break;
    // Progress: bytes delivered to the applications or a change of any connection's state.
    const progress = conns.map((c) => c.a.describe() + c.b.describe()).join('|');
    if (progress !== lastProgress) {
      lastProgress = progress;
      lastProgressAt = clock.now();
    } else if (clock.now() - lastProgressAt > stallMs) {
      fail(`${vt()} stuck: no progress for ${stallMs / 1000} virtual s`);
      break;
    }
    const next = clock.nextTime();
    if (next === Infinity) {
      fail(`${vt()} deadlock: nothing scheduled but not finished`);
      break;
    }
    if (next > deadline) {
      fail(`not finished within ${limitMs / 1000} virtual s`);
      break;
    }
    if (packets > maxPackets) {
      fail(`${vt()} packet storm: ${packets} packets for ${totalBytes} bytes (limit ${maxPackets})`);
      break;
    }
    if ((steps & 1023) === 0 && performance.now() - wallStart > wallLimit) {
      fail(`${vt()} not finished within ${wallLimit / 1000} s of wall-clock time (${steps} steps)`);
      break;
    }
    clock.advanceTo(next);
    steps++;
  }
  const virtualMs = clock.now() - t0;

  // Checks after the run: what every run must show.
  if (failure === null) {
    const badSum = (s: Stack): number =>
      ['ip_bad_checksum', 'tcp_bad_checksum', 'ip_bad_version', 'ipv6_ignored', 'ip_bad_header_length', 'ip_bad_total_length', 'ip_truncated',
        'tcp_bad_header_length', 'tcp_truncated', 'tcp_bad_option', 'ip_not_for_us', 'ip_fragment', 'ip_unknown_protocol', 'udp_no_socket']
        .reduce((n, k) => n + s.counters.get(k), 0);
    const bad = badSum(a) + badSum(b);
    const fc = fault.counters;
    if (fc.corrupted === 0 && bad > 0) fail(`${bad} packets dropped as malformed but none was corrupted`);
    if (bad > fc.corrupted * 2) fail(`${bad} packets dropped as malformed, more than ${fc.corrupted} corrupted (+duplicates)`);
    for (const [s, name] of [[a, 'A'], [b, 'B']] as const) {
      // Both sides respect the windows they are offered, and never ACK what was not sent.
      for (const k of ['tcp_trimmed_beyond_window', 'tcp_ack_of_unsent', 'stack_internal_error']) {
        if (s.counters.get(k) > 0) fail(`${name}: counter ${k} = ${s.counters.get(k)}`);
      }
    }
  }
  if (failure !== null) {
    const states = conns.map((c) => `${c.a.describe()} ${c.b.describe()}`).join('; ');
    failure = `${failure} | ${states} | live A=${count(a)} B=${count(b)}`;
  }
  server.close();
  void a.close({ linger: 0 });
  void b.close({ linger: 0 });
  const result: Result = {
    seed: p.seed,
    name: p.name,
    ok: failure === null,
    reason: failure ?? undefined,
    params: p,
    transcript: hash.digest('hex'),
    packets,
    virtualMs,
    steps,
    wallMs: Math.round(performance.now() - wallStart),
    bytes: totalBytes,
    faults: { ...fault.counters },
    counters: { a: a.counters.snapshot(), b: b.counters.snapshot() },
  };
  if (result.name === undefined) delete result.name;
  if (result.reason === undefined) delete result.reason;
  return result;
}

// ------------------------------------------------------------------ reports

/** The TCB variables a failure report needs, relative to ISS and IRS. */
function tcbSnapshot(c: TcpEndpoint['conn']): string {
  const sndMax = 'sndMax' in c && typeof c.sndMax === 'number' ? ` max ${seqSub(c.sndMax, c.iss)}` : '';
  return (
    `snd una ${seqSub(c.sndUna, c.iss)} nxt ${seqSub(c.sndNxt, c.iss)}${sndMax} wnd ${c.sndWnd} mss ${c.sndMss} ` +
    `cwnd ${c.cc.cwnd} ssthresh ${c.cc.ssthresh} queue ${c.sendQueue.length}; rcv nxt ${seqSub(c.rcvNxt, c.irs)} used ${c.recvBuffer.used}`
  );
}

/** The command that replays a result. */
export function replayLine(r: Pick<Result, 'seed' | 'name'>): string {
  return r.name !== undefined ? `node dist/scripts/soak.js --hard ${r.name}` : `node dist/scripts/soak.js --seed ${r.seed}`;
}

/** A failure as the sweep and the soak print it. */
export function describeFailure(r: Result): string {
  return `FAIL ${r.name ?? `seed ${r.seed}`}: ${r.reason}\n  params: ${describeParams(r.params)}\n  replay: ${replayLine(r)}`;
}
