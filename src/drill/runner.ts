/**
 * Runs one packetdrill script against a fresh tuntcp Stack in virtual time.
 *
 * The model is packetdrill's: the stack under test is 192.168.0.1, the
 * remote end 192.0.2.1. `<` packets are built and handed to the stack at
 * their time; `>` packets are what the stack must have sent by then, checked
 * as packetdrill checks them (run_packet.c: fields the script leaves out are
 * not checked, options exactly unless `<...>`, TS val not checked, the time
 * within the tolerance). Sequence numbers are relative on both sides: ours
 * from the ISS of our first SYN, the remote's from an ISN we choose (near
 * 2^32, so every script also crosses the wrap). The link offloads like
 * packetdrill's TUN device: a super-segment may match several script
 * packets and several segments one, cut on MSS boundaries.
 *
 * Everything is synchronous: the stack's deferred events run on the virtual
 * clock, so a script of minutes runs in milliseconds and always the same way.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseScript } from './parser.js';
import { DrillSkip, DrillSyntaxError, type DrillEvent, type DrillScript, type OptionSpec, type PacketSpec, type SyscallSpec } from './ast.js';
import { readCommand, type SysctlEffect } from './sysctl.js';
import { BadFd, Syscalls, ValueMismatch, LOCAL_PORT, REMOTE_PORT, type CallResult } from './syscalls.js';
import { PyAssertion, PyBlock } from './python.js';
import { tcpInfoField } from './tcp-info.js';
import { DrillLink, type OutPacket } from './link.js';
import { renderOut, packetFlags, flagsOf } from './render.js';
import { VirtualClock } from '../stack/clock.js';
import { Stack } from '../stack/stack.js';
import { buildTcpPacket, writeTcpPacket6, TCP_ACK, TCP_CWR, TCP_FIN, TCP_PSH, TCP_SYN, type TcpOption } from '../wire/tcp.js';
import { IPPROTO_TCP } from '../wire/ipv4.js';
import { seqAdd, seqSub } from '../wire/seq.js';
import type { TcpConfig } from '../tcp/config.js';
import type { TcpEndpoint } from '../stack/endpoint.js';
import { TcpdumpFormatter } from '../trace/tcpdump.js';
import { explainTransition } from '../trace/explain.js';
import type { PacketObserver } from '../link/tap.js';

export const LOCAL_ADDR = '192.168.0.1';
export const REMOTE_ADDR = '192.0.2.1';
/** packetdrill's IPv6 defaults (--ip_version=ipv6). */
export const LOCAL_ADDR6 = 'fd3d:fa7b:d17d::1';
export const REMOTE_ADDR6 = '2001:db8::1';
/** The remote end's ISN: its byte 256 crosses 2^32. */
const REMOTE_ISN = 0xffffff00;
const DEFAULT_TOLERANCE_US = 4000;
/** How long past its time we wait for a packet before saying it never came (packetdrill: 2 s). */
const LATE_US = 2_000_000;
/** A blocking call that a script never lets finish is given up after this much virtual time. */
const BLOCK_LIMIT_US = 600_000_000;

export interface DrillResult {
  path: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  line?: number;
  message?: string;
  /** --verbose: tcpdump lines, calls and state changes, in order. */
  log: string[];
}

export interface DrillOptions {
  verbose?: boolean;
  /** Called with the stack when the script creates it, and a tap that shows
   * every packet in and out (for --ladder: src/cli/pictures.ts records them). */
  onStack?: (stack: Stack, tap: { observe(o: PacketObserver): void }) => void;
}

/** Linux's defaults where tuntcp's differ (the script's sysctls go on top). */
const LINUX_BASE: Partial<TcpConfig> = { mtuProbing: false, ecn: 'passive' };

class Failure extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  line: number;
  call: SyscallSpec;
  fn: () => CallResult | null;
  endUs: number;
}

export function runDrillFile(path: string, opts: DrillOptions = {}): DrillResult {
  const log: string[] = [];
  let script: DrillScript;
  try {
    script = parseScript(readFileSync(path, 'utf8'));
  } catch (e) {
    if (e instanceof DrillSyntaxError) return { path, status: 'FAIL', line: e.line, message: `syntax: ${e.message}`, log };
    if (e instanceof DrillSkip) return { path, status: 'SKIP', message: e.message, log };
    throw e;
  }
  try {
    new Run(script, dirname(path), opts, log).run();
    return { path, status: 'PASS', log };
  } catch (e) {
    if (e instanceof DrillSkip) return { path, status: 'SKIP', message: e.message, log };
    if (e instanceof Failure) return { path, status: 'FAIL', line: e.line, message: e.message, log };
    throw e;
  }
}

class Run {
  readonly clock = new VirtualClock(0);
  private stackObj: Stack | null = null;
  /** Watchers of every packet in and out (DrillOptions.onStack). */
  private readonly observers: PacketObserver[] = [];
  private readonly link: DrillLink;
  private readonly sysctl: SysctlEffect = { tcp: { ...LINUX_BASE }, ignored: [] };
  private readonly calls: Syscalls;
  private readonly py: PyBlock;
  private readonly toleranceUs: number;
  private readonly fmt = new TcpdumpFormatter();
  private line = 0;
  private lastUs = 0;
  private pending: Pending | null = null;
  // The connection under test, in packetdrill's relative numbering.
  private localIss: number | undefined;
  private localPort = LOCAL_PORT;
  private remotePort = REMOTE_PORT;
  private nextRemotePort = 40000;
  private tsOffset: number | undefined;
  /** packetdrill's socket under test is a listener (listen() since the last socket() or child). */
  private listenerUnderTest = true;
  /** --ip_version=ipv6: the script's packets are IPv6 (ipv4-mapped-ipv6 is IPv4 on the wire). */
  private readonly v6: boolean;
  private readonly localAddr: string;
  private readonly remoteAddr: string;

  constructor(
    private readonly script: DrillScript,
    private readonly dir: string,
    private readonly opts: DrillOptions,
    private readonly log: string[],
  ) {
    const o = script.options;
    const ipv = o.get('ip_version') ?? 'ipv4';
    if (!['ipv4', 'ipv6', 'ipv4-mapped-ipv6'].includes(ipv)) throw new DrillSkip(`--ip_version=${ipv} is not supported`);
    this.v6 = ipv === 'ipv6';
    this.localAddr = o.get('local_ip') ?? (this.v6 ? LOCAL_ADDR6 : LOCAL_ADDR);
    this.remoteAddr = o.get('remote_ip') ?? (this.v6 ? REMOTE_ADDR6 : REMOTE_ADDR);
    if (this.localAddr.includes(':') !== this.v6 || this.remoteAddr.includes(':') !== this.v6) throw new DrillSkip(`--local_ip/--remote_ip of the other family than --ip_version=${ipv}`);
    for (const name of o.keys()) {
      if (!['tolerance_usecs', 'ip_version', 'tcp_ts_tick_usecs', 'strict_segments', 'mtu', 'tolerance_percent', 'local_ip', 'remote_ip'].includes(name)) {
        throw new DrillSkip(`option --${name} is not supported`);
      }
    }
    this.toleranceUs = Number(o.get('tolerance_usecs') ?? DEFAULT_TOLERANCE_US);
    const mtu = Number(o.get('mtu') ?? 1500);
    this.link = new DrillLink(mtu, this.clock);
    this.calls = new Syscalls(() => this.stack(), this.remoteAddr);
    this.py = new PyBlock((n) => this.tcpInfo(n), (s) => this.note(`print: ${s}`));
  }

  private stack(): Stack {
    if (this.stackObj !== null) return this.stackObj;
    const clock = this.clock;
    const stack = new Stack({
      link: this.link,
      addr: this.v6 ? LOCAL_ADDR : this.localAddr,
      ...(this.v6 ? { addr6: this.localAddr } : {}),
      clock,
      tcp: this.sysctl.tcp,
      isnKey: Buffer.alloc(16, 0x5a),
      synCookies: this.sysctl.synCookies,
      defer: (fn) => clock.at(clock.now(), fn),
      rstRateLimit: 0,
    });
    stack.observeState((ep, from, to, cause) => {
      if (this.opts.verbose) this.note(explainTransition(`${ep.localPort}<->${ep.remotePort}`, from, to, cause));
    });
    this.link.onSend = (p) => {
      if (this.opts.verbose) this.note(`> ${this.fmt.format(p.raw)}`);
      for (const o of this.observers) o('out', p.raw);
    };
    this.stackObj = stack;
    this.opts.onStack?.(stack, { observe: (o) => this.observers.push(o) });
    return stack;
  }

  private note(s: string): void {
    this.log.push(`${(this.clock.now() / 1000).toFixed(6)} ${s}`);
  }

  run(): void {
    for (const ev of this.script.events) {
      this.line = ev.line;
      this.event(ev);
    }
    this.line = this.script.events.at(-1)?.line ?? 0;
    if (this.pending !== null) this.finishPending();
  }

  private nowUs(): number {
    return Math.round(this.clock.now() * 1000);
  }

  private event(ev: DrillEvent): void {
    const t = ev.time;
    const base = this.lastUs;
    let at = t.kind === 'abs' || t.kind === 'absRange' ? t.us : t.kind === 'any' ? this.nowUs() : base + t.us;
    let end = t.endUs === undefined ? at : t.kind === 'relRange' ? base + t.endUs : t.endUs;
    if (t.kind === 'any') end = Infinity;
    const a = ev.action;
    switch (a.type) {
      case 'command':
        readCommand(this.sysctl, a.command, this.dir);
        if (this.stackObj !== null) Object.assign(this.stackObj.tcpConfig, this.sysctl.tcp);
        if (this.sysctl.routeMtu !== undefined && this.stackObj !== null) {
          for (const ep of this.stackObj.connections()) ep.conn.routeChanged(this.sysctl.routeMtu);
        }
        delete this.sysctl.routeMtu;
        if (this.opts.verbose) for (const i of this.sysctl.ignored.splice(0)) this.note(`ignored: ${i}`);
        break;
      case 'packet':
        if (a.packet.dir === '<') {
          this.advance(at);
          this.inject(a.packet);
        } else {
          at = this.expect(a.packet, at, end);
        }
        break;
      case 'syscall':
        this.advance(at);
        this.syscall(a.call, at, t.kind === 'rel' && a.call.endUs !== undefined ? base + a.call.endUs : a.call.endUs);
        break;
      case 'code':
        this.advance(at);
        this.code(a.code);
        break;
    }
    this.lastUs = t.kind === 'any' ? this.nowUs() : at;
  }

  // ------------------------------------------------------------ time

  /** Let virtual time run to `us`, firing every timer on the way. */
  private advance(us: number): void {
    const target = us / 1000;
    for (;;) {
      const next = this.clock.nextTime();
      if (next > target) break;
      this.clock.advanceTo(next);
      this.checkPending();
    }
    this.clock.advanceTo(Math.max(target, this.clock.now()));
    this.checkPending();
  }

  /** Run what is due now (deferred events after a packet or call). */
  private settle(): void {
    this.clock.advanceTo(this.clock.now());
  }

  /** One more timer, if there is one before `limitUs`; false if none. */
  private step(limitUs: number): boolean {
    const next = this.clock.nextTime();
    if (next === Infinity || next * 1000 > limitUs) return false;
    this.clock.advanceTo(next);
    this.checkPending();
    return true;
  }

  private timeOk(actualUs: number, startUs: number, endUs: number): boolean {
    return actualUs >= startUs - this.toleranceUs && actualUs <= endUs + this.toleranceUs;
  }

  private fail(msg: string, line = this.line): never {
    throw new Failure(line, msg);
  }

  // ------------------------------------------------------------ packets in

  private inject(p: PacketSpec): void {
    const stack = this.stack();
    const flags = packetFlags(p.flags);
    if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && this.calls.listening()) this.maybeNewConnection();
    const options: TcpOption[] = [];
    for (const o of p.options ?? []) options.push(this.inboundOption(o));
    const ack = flags & TCP_ACK ? (this.localIss === undefined ? p.ack ?? 0 : seqAdd(this.localIss, p.ack ?? 0)) : 0;
    const ecn = { noecn: 0, ect1: 1, ect0: 2, ce: 3, ect01: 2 }[p.ecn ?? 'noecn'];
    const tcp = { srcPort: this.remotePort, dstPort: this.localPort, seq: seqAdd(REMOTE_ISN, p.seq), ack, flags, window: p.win ?? 0, options };
    let packet: Buffer;
    if (this.v6) {
      const header = Buffer.alloc(40 + 60);
      const payload = Buffer.alloc(p.len);
      // The header's checksum covers the payload; the payload itself goes beside it (writev's shape).
      packet = Buffer.concat([header.subarray(0, writeTcpPacket6(header, { src: this.remoteAddr, dst: this.localAddr, trafficClass: ecn }, tcp, payload)), payload]);
    } else {
      packet = buildTcpPacket({ src: this.remoteAddr, dst: this.localAddr, protocol: IPPROTO_TCP, tos: ecn }, tcp, Buffer.alloc(p.len));
    }
    if (this.opts.verbose) this.note(`< ${this.fmt.format(packet)}`);
    for (const o of this.observers) o('in', packet);
    stack.receiveBatch([packet]);
    this.settle();
    this.checkPending();
  }

  /** A SYN from the remote for a listener: a new connection (new remote
   * port, new numbering) unless it repeats the current one's. */
  private maybeNewConnection(): void {
    const ep = this.currentEndpoint();
    if (ep !== undefined && (ep.conn.state === 'SYN_RECEIVED' || ep.conn.state === 'TIME_WAIT')) return;
    // packetdrill makes a new child only while the socket under test listens (run_packet.c
    // handle_listen_for_script_packet): a SYN into a live connection is for that connection.
    if (ep !== undefined && !this.listenerUnderTest && ep.conn.state !== 'CLOSED') return;
    this.listenerUnderTest = false;
    const unused = this.localIss === undefined && ep === undefined && this.remotePort !== REMOTE_PORT;
    if (!unused) this.remotePort = this.nextRemotePort++;
    this.localPort = LOCAL_PORT;
    this.localIss = undefined;
    this.tsOffset = undefined;
  }

  private currentEndpoint(): TcpEndpoint | undefined {
    if (this.stackObj === null) return undefined;
    for (const ep of this.stackObj.connections()) if (ep.remotePort === this.remotePort && ep.localPort === this.localPort) return ep;
    return undefined;
  }

  private inboundOption(o: OptionSpec): TcpOption {
    switch (o.kind) {
      case 'mss': return { kind: 'mss', mss: o.value };
      case 'wscale': return { kind: 'wscale', shift: o.value };
      case 'ts': return { kind: 'ts', val: o.val, ecr: o.ecr === 0 || this.tsOffset === undefined ? o.ecr : (o.ecr + this.tsOffset) >>> 0 };
      case 'sack': {
        const iss = this.localIss ?? 0;
        return { kind: 'sack', blocks: o.blocks.map(([l, r]) => [seqAdd(iss, l), seqAdd(iss, r)]) };
      }
      default: return { kind: o.kind };
    }
  }

  // ------------------------------------------------------------ packets out

  /** The next packet the stack sent must be `p`, at [at, end]. Returns its time. */
  private expect(p: PacketSpec, at: number, end: number): number {
    this.stack();
    const deadline = (end === Infinity ? at + BLOCK_LIMIT_US : end) + LATE_US;
    while (this.link.out.length === 0 && this.step(deadline));
    let got = this.link.out.shift();
    if (got === undefined) this.fail(`expected ${p.text} at ${sec(at)}, nothing was sent`);
    if (this.localIss === undefined && got.seg.flags & TCP_SYN) {
      this.localIss = got.seg.seq;
      this.localPort = got.seg.srcPort;
      this.remotePort = got.seg.dstPort;
    }
    got = this.fitLength(got, p, deadline);
    const actual = renderOut(got, this.localIss ?? 0, REMOTE_ISN);
    const why = this.mismatch(p, got);
    const when = Math.round(got.at * 1000);
    if (why !== null) this.fail(`expected: ${p.text} at ${sec(at)}; actual: ${actual} at ${sec(when)} (${why})`);
    if (end !== Infinity && !this.timeOk(when, at, end)) {
      this.fail(`expected: ${p.text} at ${sec(at)}${end !== at ? `~${sec(end)}` : ''}; actual: ${actual} at ${sec(when)} (outside the ${this.toleranceUs} us tolerance)`);
    }
    return end === Infinity || end !== at ? when : at;
  }

  /**
   * Offload: cut a super-segment on an MSS boundary where the script expects
   * less, or join back-to-back segments where it expects one larger (as
   * packetdrill joins what a TSO-less device sent).
   */
  private fitLength(got: OutPacket, p: PacketSpec, deadline: number): OutPacket {
    const len = got.seg.payload.length;
    if (p.len > 0 && len > p.len && got.gso > 0 && p.len % got.gso === 0) {
      const rest: OutPacket = { ...got, seg: { ...got.seg, seq: seqAdd(got.seg.seq, p.len), payload: got.seg.payload.subarray(p.len) } };
      this.link.out.unshift(rest);
      // The piece keeps PSH only if it is itself more than one segment: Linux
      // sends it as a TSO packet of its own, and forces PSH on those (sender.ts).
      const psh = p.len > got.gso ? got.seg.flags & TCP_PSH : 0;
      return { ...got, seg: { ...got.seg, flags: (got.seg.flags & ~(TCP_PSH | TCP_FIN)) | psh, payload: got.seg.payload.subarray(0, p.len) } };
    }
    let merged = got;
    while (p.len > merged.seg.payload.length && !(merged.seg.flags & (TCP_SYN | TCP_FIN)) && merged.seg.payload.length > 0) {
      while (this.link.out.length === 0 && this.step(deadline));
      const next = this.link.out[0];
      if (next === undefined || next.seg.seq !== seqAdd(merged.seg.seq, merged.seg.payload.length) || next.seg.flags & TCP_SYN) break;
      if (next.seg.payload.length + merged.seg.payload.length > p.len) break;
      this.link.out.shift();
      const payload = Buffer.concat([merged.seg.payload, next.seg.payload]);
      // packetdrill's aggregate_packets: the last packet's header, but the first's seq and CWR.
      const flags = (next.seg.flags & ~TCP_CWR) | (merged.seg.flags & TCP_CWR);
      merged = { ...merged, seg: { ...merged.seg, flags, payload, ack: next.seg.ack, window: next.seg.window } };
    }
    return merged;
  }

  /** Why `got` is not `p`, or null when it is (run_packet.c verify_tcp and options). */
  private mismatch(p: PacketSpec, got: OutPacket): string | null {
    const s = got.seg;
    if (flagsOf(s.flags) !== flagsOf(packetFlags(p.flags))) return 'flags';
    if (seqSub(s.seq, this.localIss ?? 0) >>> 0 !== p.seq >>> 0) return 'seq';
    if (s.payload.length !== p.len) return 'length';
    if (packetFlags(p.flags) & TCP_ACK && seqSub(s.ack, REMOTE_ISN) >>> 0 !== (p.ack ?? 0) >>> 0) return 'ack';
    if (p.win !== undefined && s.window !== p.win) return 'window';
    if (p.ecn !== undefined) {
      const want = { noecn: [0], ect0: [2], ect1: [1], ce: [3], ect01: [1, 2] }[p.ecn];
      if (!want.includes(got.ecn)) return 'ECN field';
    }
    if (p.options === null) return null;
    const list = s.options.list;
    if (list.length !== p.options.length) return 'options';
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!;
      const w = p.options[i]!;
      if (a.kind !== w.kind) return 'options';
      if (a.kind === 'mss' && w.kind === 'mss' && a.mss !== w.value) return 'mss option';
      if (a.kind === 'wscale' && w.kind === 'wscale' && a.shift !== w.value) return 'wscale option';
      if (a.kind === 'ts' && w.kind === 'ts' && this.tsOffset === undefined) this.tsOffset = (a.val - w.val) >>> 0;
      if (a.kind === 'sack' && w.kind === 'sack') {
        const blocks = a.blocks.map(([l, r]) => `${seqSub(l, REMOTE_ISN) >>> 0}:${seqSub(r, REMOTE_ISN) >>> 0}`).join(' ');
        if (blocks !== w.blocks.map(([l, r]) => `${l}:${r}`).join(' ')) return 'sack blocks';
      }
    }
    return null;
  }

  // ------------------------------------------------------------ calls

  private syscall(call: SyscallSpec, at: number, endUs: number | undefined): void {
    if (this.pending !== null) this.finishPending();
    if (this.opts.verbose) this.note(`${call.text.replace(/\s*=[^=]*$/, '')}`);
    let fn: () => CallResult | null;
    let r: CallResult | null;
    try {
      fn = this.calls.start(call.name, call.args, call.ret);
      r = fn();
    } catch (e) {
      this.callError(e, call);
    }
    this.settle();
    if (r !== null) {
      if (call.name === 'socket' || call.name === 'listen') this.listenerUnderTest = call.name === 'listen' && r.ret === 0;
      this.checkResult(call, r, this.line);
      if (endUs !== undefined && !this.timeOk(this.nowUs(), endUs, endUs)) {
        this.fail(`${call.name}() returned at ${sec(this.nowUs())}, expected at ${sec(endUs)}`);
      }
      return;
    }
    this.pending = { line: this.line, call, fn, endUs: endUs ?? at };
    if (endUs === undefined) this.finishPending();
  }

  private callError(e: unknown, call: SyscallSpec): never {
    if (e instanceof ValueMismatch) this.fail(`${call.text}: ${e.message}`);
    if (e instanceof BadFd) this.fail(`${call.text}: no such file descriptor`);
    throw e;
  }

  /** The blocked call must finish now: let time run until it does. */
  private finishPending(): void {
    const limit = this.nowUs() + BLOCK_LIMIT_US;
    while (this.pending !== null) {
      if (!this.step(limit)) {
        const p = this.pending;
        this.fail(`${p.call.text}: still blocked, nothing left that could wake it`, p.line);
      }
    }
  }

  private checkPending(): void {
    const p = this.pending;
    if (p === null) return;
    let r: CallResult | null;
    try {
      r = p.fn();
    } catch (e) {
      this.callError(e, p.call);
    }
    if (r === null) return;
    this.pending = null;
    this.settle();
    this.checkResult(p.call, r, p.line);
    const now = this.nowUs();
    if (!this.timeOk(now, p.endUs, p.endUs)) {
      this.fail(`${p.call.name}() returned at ${sec(now)}, expected at ${sec(p.endUs)}`, p.line);
    }
  }

  private checkResult(call: SyscallSpec, r: CallResult, line: number): void {
    const want = call.ret;
    const got = r.errno === undefined ? `${r.ret}` : `${r.ret} ${r.errno}`;
    if (want.t === 'ellipsis') return;
    const wantText = want.t === 'int' ? `${want.v}${call.errno ? ` ${call.errno}` : ''}` : '?';
    if (want.t !== 'int') throw new DrillSkip(`line ${line}: result ${want.t} is not supported`);
    if (want.v !== r.ret || (call.errno !== undefined && call.errno !== r.errno)) {
      this.fail(`${call.text}: expected ${wantText}, got ${got}`, line);
    }
    if (this.opts.verbose) this.note(`${call.name}() returned ${got}`);
  }

  // ------------------------------------------------------------ %{ }%

  /** The connection %{ }% reads: the newest socket with one, as packetdrill reads the socket under test. */
  private tcpInfo(name: string): number | undefined {
    let ep: TcpEndpoint | undefined;
    for (const s of this.calls.sockets.values()) if (s.ep !== undefined) ep = s.ep;
    if (ep === undefined) return undefined;
    return tcpInfoField(ep.conn, name, this.clock.now());
  }

  private code(src: string): void {
    try {
      this.py.run(src);
    } catch (e) {
      if (e instanceof PyAssertion) this.fail(`%{ }%: ${e.message}`);
      if (e instanceof SyntaxError) this.fail(`%{ }%: ${e.message}`);
      throw e;
    }
  }
}

function sec(us: number): string {
  return (us / 1e6).toFixed(6).replace(/0{1,3}$/, '');
}

