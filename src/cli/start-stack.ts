/**
 * Builds a running stack from the common CLI options: the TUN device and its
 * kernel-side setup, the optional fault injector, the observer tap with pcap
 * and trace output, and a clean shutdown that removes the device on
 * SIGINT/SIGTERM.
 */
import type { Link } from '../link/link.js';
import { TunLink } from '../link/tun.js';
import { configureTun, deleteTun, routeDevice } from '../link/netdev.js';
import { FaultLink, hasFaults } from '../link/fault.js';
import { TapLink } from '../link/tap.js';
import { joinPacket } from '../link/link.js';
import { RealClock } from '../stack/clock.js';
import { NetStack } from '../socket/net-stack.js';
import type { Counters } from '../stack/counters.js';
import { PcapWriter } from '../trace/pcap.js';
import { TcpdumpFormatter } from '../trace/tcpdump.js';
import { formatClock } from '../trace/time.js';
import { openControlSocket } from '../trace/control.js';
import { explainCc, explainRecovery, explainTransition } from '../trace/explain.js';
import { offloadWanted, txThreadWanted, type StackArgs } from './options.js';
import { planIPv6, type IPv6Plan } from './addr6.js';
import { IPV6_MIN_MTU } from '../wire/ipv6.js';
import { readFileSync } from 'node:fs';
import { shardPorts } from '../shard/ports.js';

/**
 * This host's net.ipv4.tcp_rmem, so that tuntcp's SYN carries the window and
 * window scale Linux's does here (tcp_select_initial_window); undefined when
 * it cannot be read (then Linux's defaults, 4096 131072 6291456).
 */
const rmemOf = (): { tcpRmem?: [number, number, number] } => {
  const r = hostTcpRmem();
  return r === undefined ? {} : { tcpRmem: r };
};

export function hostTcpRmem(): [number, number, number] | undefined {
  try {
    const v = readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/).map(Number);
    return v.length === 3 && v.every((n) => Number.isInteger(n) && n > 0) ? [v[0]!, v[1]!, v[2]!] : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes of trace output waiting for its reader before lines are dropped. */
const TRACE_BACKLOG = 4 * 1024 * 1024;

export interface RunningStack {
  stack: NetStack;
  tap: TapLink;
  /** The IPv6 addresses in use (the stack's; the kernel side's with its
   * prefix), or null when IPv6 is off. */
  ipv6: IPv6Plan | null;
  /** Close everything now and remove the device; connections still
   * unfinished are reset. Safe to call twice. */
  shutdown(): void;
  /** Close as process exit closes a program's sockets (FIN, or RST when
   * data is unread), give those segments up to `lingerMs` to leave and be
   * acknowledged, then shutdown(). */
  stop(lingerMs?: number): Promise<void>;
}

/** One shard of a multi-queue device (src/shard/): which queue, of how many, and the key all shards share. */
export interface ShardPlace {
  index: number;
  count: number;
  isnKey: Buffer;
}

/**
 * With `shard`, the device exists already (src/shard/shards.ts made and
 * configured it): this attaches one more queue to it, and shutdown leaves the
 * device to the main thread.
 */
export function startStack(a: StackArgs, shard?: ShardPlace): RunningStack {
  if (a.offload === true && hasFaults(a)) {
    throw Object.assign(new Error('offload cannot be combined with fault injection'), { code: 'EINVAL' });
  }
  const ipv6 = ipv6Wanted(a);
  const tun = TunLink.open({ name: a.tun, mtu: a.mtu, offload: offloadWanted(a), multiQueue: shard !== undefined, exclusive: shard === undefined, txThread: txThreadWanted(a, shard?.count ?? 1) });
  const removeTun = (): void => {
    if (shard === undefined) deleteTun(tun.name);
  };
  let pcap: PcapWriter | null = null;
  try {
    if (shard === undefined) configureTun({ name: tun.name, peer: a.peer, addr: a.addr, mtu: a.mtu, addr6: ipv6?.addr6, peer6: ipv6?.peer6 });
    const via = shard === undefined ? routeDevice(a.addr) : null;
    if (via !== null && via !== tun.name) {
      const where = via === 'local' ? 'is an address of this host' : `is routed through ${via}`;
      process.stderr.write(
        `tuntcp: warning: ${a.addr} ${where}, not through ${tun.name}: the kernel will not reach this stack (--peer ${a.peer} overlaps another interface; pick another --addr/--peer)\n`,
      );
    }
    const via6 = ipv6 === null || shard !== undefined ? null : routeDevice(ipv6.addr6);
    if (ipv6 !== null && via6 !== null && via6 !== tun.name) {
      const where = via6 === 'local' ? 'is an address of this host' : `is routed through ${via6}`;
      process.stderr.write(
        `tuntcp: warning: ${ipv6.addr6} ${where}, not through ${tun.name}: the kernel will not reach this stack over IPv6 (--peer6 ${ipv6.peer6} overlaps another interface; pick another --addr6/--peer6)\n`,
      );
    }
    const clock = new RealClock();
    let link: Link = tun;
    if (hasFaults(a)) {
      link = new FaultLink(
        tun,
        { loss: a.loss, duplicate: a.duplicate, reorder: a.reorder, corrupt: a.corrupt, ce: a.ce ?? 0, delay: a.delay, jitter: a.jitter, rate: a.rate * 1e6, seed: a.seed },
        clock,
      );
    }
    const tap = new TapLink(link);
    if (a.pcap !== undefined) {
      const writer = new PcapWriter(a.pcap);
      pcap = writer;
      tap.observe((_dir, header, payload) => writer.write(payload ? [header, payload] : header));
    }
    // Trace output goes to stdout as fast as the reader takes it; a reader
    // that stops (`| less` left alone) must not make us queue every line in
    // memory: past TRACE_BACKLOG bytes lines are dropped and counted, as
    // tcpdump drops packets when its buffer is full.
    let counters: Counters | null = null; // the stack's, once it exists
    let broken = false; // the reader is gone (`| head` had its lines)
    const print = (line: string): void => {
      if (broken) return;
      if (process.stdout.writableLength > TRACE_BACKLOG) counters?.inc('trace_lines_dropped');
      else process.stdout.write(line);
    };
    if (a.trace || a.explain) process.stdout.on('error', () => (broken = true));
    // Lines of a shard say which queue they came through, as tcpdump -i any names the interface.
    const q = shard === undefined ? '' : ` q${shard.index}`;
    if (a.trace) {
      const fmt = new TcpdumpFormatter({ absolute: a.absolute });
      tap.observe((_dir, header, payload) => {
        print(`${formatClock(new Date())}${q} ${fmt.format(joinPacket(header, payload))}\n`);
      });
    }
    const sharding = shard === undefined ? {} : { isnKey: shard.isnKey, ephemeralPorts: shardPorts(shard.index, shard.count) };
    const stack = new NetStack({ link: tap, addr: a.addr, addr6: ipv6?.addr6, clock, ...sharding, tcp: { msl: a.msl * 1000, cc: a.cc, ecn: ecnMode(a.ecn), mtuProbing: a.mtuProbing ?? true, pacing: a.pacing ?? false, ...rmemOf() } });
    counters = stack.counters;
    const control = openControlSocket(stack, { program: shard === undefined ? 'tuntcp' : `tuntcp:q${shard.index}` }); // for `tuntcp netstat`
    if (a.explain) {
      stack.observeState((ep, from, to, cause) => {
        print(`${formatClock(new Date())}${q} * ${explainTransition(`tuntcp :${ep.localPort}`, from, to, cause, a.lang)}\n`);
      });
      stack.observeCc((ep, cause) => print(`${formatClock(new Date())}${q} * ${explainCc(`tuntcp :${ep.localPort}`, cause, a.lang)}\n`));
      stack.observeRecovery((ep, phase, cause) => {
        print(`${formatClock(new Date())}${q} * ${explainRecovery(`tuntcp :${ep.localPort}`, phase, cause, a.lang)}\n`);
      });
    }
    let done = false;
    const shutdown = (): void => {
      if (done) return;
      done = true;
      control.close();
      void stack.close({ linger: 0 });
      pcap?.close();
      removeTun();
    };
    const stop = async (lingerMs = 1000): Promise<void> => {
      if (!done) await stack.close({ linger: lingerMs });
      shutdown();
    };
    return { stack, tap, ipv6, shutdown, stop };
  } catch (err) {
    tun.close();
    pcap?.close();
    removeTun();
    throw err;
  }
}

/** The IPv6 plan of checked arguments; below IPv6's minimum MTU, off with a
 * warning (Linux itself turns IPv6 off on such a device). */
export function ipv6Wanted(a: StackArgs): IPv6Plan | null {
  const plan = planIPv6(a);
  if (typeof plan === 'string') throw Object.assign(new Error(plan), { code: 'EINVAL' });
  if (plan !== null && a.mtu < IPV6_MIN_MTU) {
    process.stderr.write(`tuntcp: warning: --mtu ${a.mtu} is below IPv6's minimum of ${IPV6_MIN_MTU}: IPv6 is off, IPv4 only\n`);
    return null;
  }
  return plan;
}

/** What `ready` lines add for IPv6: ' addr6=... peer6=...', or '' when off. */
export function ipv6Words(r: RunningStack): string {
  return r.ipv6 === null ? '' : ` addr6=${r.ipv6.addr6} peer6=${r.ipv6.peer6}`;
}

/** --ecn asks (Linux tcp_ecn=1), --no-ecn refuses (0), neither accepts only (2). */
function ecnMode(ecn: boolean | undefined): 'on' | 'off' | 'passive' {
  return ecn === undefined ? 'passive' : ecn ? 'on' : 'off';
}

/** Signals that end a command: Ctrl-C, kill, and the hangup OpenSSH sends a ProxyCommand. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * On SIGINT, SIGTERM or SIGHUP: close every connection as process exit
 * would (FIN, or RST when data is unread), give those segments up to
 * `lingerMs` to be acknowledged, remove the device, call `afterStop`, and
 * exit 0. A second signal stops at once.
 */
export function runUntilSignal(r: RunningStack, lingerMs = 1000, afterStop?: () => void): void {
  r.stack.ref(); // a host that only answers ping has no socket to keep it alive
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) {
      r.shutdown();
      process.exit(code);
    }
    stopping = true;
    void r
      .stop(lingerMs)
      .then(() => afterStop?.()) // e.g. the pictures of the run (--ladder)
      // The trace still queued for a pipe is written, for at most a second
      // (process.exit drops it; a reader that stopped must not keep us).
      .then(() => Promise.race([flushed(process.stdout), new Promise<void>((res) => setTimeout(res, 1000))]))
      .then(() => process.exit(code));
  };
  for (const sig of STOP_SIGNALS) process.on(sig, () => stop(0));
  // The trace's reader went away (`tuntcp up --trace | head`): stop as a
  // process killed by SIGPIPE stops, quietly and with 128+13, but with FINs.
  process.stdout.on('error', () => stop(141));
}

/** Resolves once `out` has handed every queued byte to the kernel (or failed). */
export function flushed(out: NodeJS.WriteStream): Promise<void> {
  if (out.writableLength === 0 || out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    out.write('', () => resolve());
    out.once('error', () => resolve());
  });
}
