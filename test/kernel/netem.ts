/**
 * Impaired paths between Linux and tuntcp without tc netem (this kernel has
 * none): random loss from nftables `numgen random`, a bottleneck from tbf,
 * delay from the stack's own fault injector or from a TUN relay.
 *
 * Where a packet is dropped matters. A drop in the sending host's own output
 * path (an nftables `output` hook, a qdisc on its egress) is reported back to
 * the sending TCP as a local error (EPERM / NET_XMIT_DROP), which Linux
 * handles as local congestion, not as loss on the wire. Worse, the output
 * hook sees GSO super-packets of up to 64 KB, so "5 % of packets" would be
 * 5 % of bursts. Measured on a veth with 10 MB and 5 % drops: in the output
 * hook with GSO on, 5 skbs dropped and 0 retransmissions; with one segment
 * per skb, 388 drops, 298 retransmissions, 1.6 s; the same 5 % at the
 * receiver's input hook: 396 drops, 501 retransmissions, 16 RTOs, 3.8 s.
 * Drops here therefore happen where no sender can notice them: in the
 * `forward` hook of a router between Linux and tuntcp, or in the `input`
 * hook of the receiving namespace, with GSO limited to one segment per skb
 * (`ip link set DEV gso_max_segs 1`) on the veth the Linux sender uses.
 *
 * The bottleneck is a tbf on each of the router's egress devices, so it is a
 * network bottleneck for both senders alike (a tbf on the sender's own
 * device would push back on a Linux sender through its socket instead; an
 * ifb for the other direction works here too, with a `u32 match u32 0 0`
 * filter since this kernel has no matchall classifier, but is not needed).
 *
 * The router lives in an anonymous network namespace held open by a child
 * process (`setpriv --pdeathsig KILL unshare --net sleep infinity`): it
 * vanishes, with every device in it, when this process exits, however it
 * exits (SIGKILL included), and no traffic can reach any namespace we did
 * not create.
 *
 *   this process's netns                    router netns (held)
 *   node:net / python peers  10.56.N.1 --veth-- 10.56.N.2
 *                                               forward: nft loss, tbf on egress
 *                                               10.55.N.1 --TUN-- tuntcp 10.55.N.2
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { holdNetns } from '../../src/cli/netns.js';
import { readFileSync } from 'node:fs';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import type { StackArgs } from '../../src/cli/options.js';
import type { NetStack } from '../../src/socket/net-stack.js';
import { TunLink } from '../../src/link/tun.js';
import { TapLink, type PacketObserver } from '../../src/link/tap.js';
import { FaultLink, type FaultCounters, type FaultOptions } from '../../src/link/fault.js';
import { RealClock } from '../../src/stack/clock.js';
import { stackArgs } from './lab.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a command in this process's namespace; throws with its stderr on failure. */
export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/**
 * spawn(), with the child killed when this process dies (SIGKILL included):
 * a peer left waiting in accept() or recv() would otherwise outlive us and
 * keep its namespace alive.
 */
export function spawnTied(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args], opts);
}

/** Run a command to completion without blocking the event loop. */
export function runAsync(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTied(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const live = new Set<HeldNetns>();
process.on('exit', () => {
  for (const ns of live) ns.close();
});

/**
 * An anonymous network namespace that lives as long as a `sleep` child that
 * gets SIGKILL when we die. Commands run in it through `nsenter`.
 */
export class HeldNetns {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  static async create(): Promise<HeldNetns> {
    const held = await holdNetns();
    const ns = new HeldNetns(held.child, held.pid);
    live.add(ns);
    ns.run('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Run a command inside the namespace, synchronously; throws with stderr on failure. */
  run(cmd: string, args: string[], input?: string): string {
    return sh('nsenter', ['-t', String(this.pid), '-n', cmd, ...args], input);
  }

  /** Run a command inside the namespace without blocking the event loop (needed when this process is on the path). */
  runAsync(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return runAsync('nsenter', ['-t', String(this.pid), '-n', cmd, ...args], timeoutMs);
  }

  /** Start a long-running command inside the namespace. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawnTied('nsenter', ['-t', String(this.pid), '-n', cmd, ...args], opts);
  }

  /** Write a sysctl under /proc/sys of this namespace (no procps needed). */
  sysctl(path: string, value: string): void {
    this.run('tee', [`/proc/sys/${path.replaceAll('.', '/')}`], value);
  }

  /** The namespace's /proc/net/snmp TCP counters. */
  tcpCounters(): TcpSnmp {
    return parseSnmp(this.run('cat', ['/proc/net/snmp']));
  }

  close(): void {
    if (!live.delete(this)) return;
    try {
      this.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface TcpSnmp {
  OutSegs: number;
  RetransSegs: number;
  InSegs: number;
}

/** The Tcp: line pair of /proc/net/snmp. */
export function parseSnmp(text: string): TcpSnmp {
  const lines = text.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  const get = (k: string): number => values[names.indexOf(k)] ?? NaN;
  return { OutSegs: get('OutSegs'), RetransSegs: get('RetransSegs'), InSegs: get('InSegs') };
}

/** TCP counters of this process's own namespace. */
export function ownTcpCounters(): TcpSnmp {
  return parseSnmp(readFileSync('/proc/net/snmp', 'utf8'));
}

export interface NftDrop {
  /** Hook: `forward` in a router, `input` in a receiving host. */
  hook: 'forward' | 'input';
  iif: string;
  oif?: string;
  /** Percent, may be fractional (resolution 0.01 %). */
  percent: number;
  /** Drop every (100 / percent)-th matching packet instead of random ones: the same losses for every sender. */
  periodic?: boolean;
}

/**
 * Random loss with nftables: one table `tuntcp_loss`, one counted rule per
 * entry. Returns a function reading the drop counters in the same order.
 */
export function nftLoss(run: (cmd: string, args: string[], input?: string) => string, drops: NftDrop[]): () => number[] {
  const chains = new Map<string, string[]>();
  for (const [i, d] of drops.entries()) {
    const match = `iifname "${d.iif}"${d.oif !== undefined ? ` oifname "${d.oif}"` : ''}`;
    // `numgen inc` counts the packets that reached it, so the match above picks what is counted.
    const pick = d.periodic === true ? `numgen inc mod ${Math.round(100 / d.percent)} 0` : `numgen random mod 10000 < ${Math.round(d.percent * 100)}`;
    const rule = `${match} ${pick} counter drop comment "drop${i}"`;
    chains.set(d.hook, [...(chains.get(d.hook) ?? []), rule]);
  }
  let text = 'table inet tuntcp_loss {\n';
  for (const [hook, rules] of chains) {
    text += `  chain ${hook} {\n    type filter hook ${hook} priority 0; policy accept;\n`;
    for (const r of rules) text += `    ${r}\n`;
    text += '  }\n';
  }
  text += '}\n';
  run('nft', ['-f', '-'], text);
  return () => {
    const out = run('nft', ['list', 'table', 'inet', 'tuntcp_loss']);
    return drops.map((_d, i) => Number(new RegExp(`counter packets (\\d+) bytes \\d+ drop comment "drop${i}"`).exec(out)?.[1] ?? NaN));
  };
}

/**
 * Route attribute that picks the Linux congestion control for every socket
 * (active or accepted) using the route. Needed because a namespace other
 * than the initial one may not set a restricted algorithm as its default
 * (EPERM), and hosts differ in their default (Debian: cubic; some: bbr,
 * which shrugs off random loss and would hide the other side's recovery).
 */
export function congctl(algorithm: string): string[] {
  return ['congctl', algorithm];
}

/** A tbf bottleneck on the egress of `dev`, as the brief of issue 4 asks: 32 kbit burst, 50 ms of queue. */
export function tbf(run: (cmd: string, args: string[]) => string, dev: string, rateMbit: number): void {
  run('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '32kbit', 'latency', '50ms']);
}

/** Round-trip time from `ping` output (avg of `rtt min/avg/max/mdev`), or NaN. */
export function pingAvg(out: string): number {
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(out);
  return m === null ? NaN : Number(m[1]);
}

export interface RouterLabOptions {
  /** Small integer, distinct per lab alive at the same time: names and subnets derive from it. */
  id: number;
  /** Percent of packets the router drops in each direction. */
  loss?: number;
  /** Every (100 / loss)-th packet instead of random ones (NftDrop.periodic). */
  periodicLoss?: boolean;
  /** tbf bottleneck in each direction, Mbit/s. */
  rateMbit?: number;
  /** Extra stack options (its own fault injector: delay, reorder, ...). */
  stack?: Partial<StackArgs>;
  /** Congestion control of our (Linux) sockets toward the stack, set on the route (default
   * cubic); it overrides a socket's own TCP_CONGESTION. null leaves the choice to the sockets. */
  congestionControl?: string | null;
  /** IPv6 too: the router forwards between fd00:56:N::/64 (Linux side) and the stack's prefix. */
  ipv6?: boolean;
}

export interface RouterLab {
  running: RunningStack;
  stack: NetStack;
  /** tuntcp's address. */
  stackAddr: string;
  /** Our (Linux) address, on the veth to the router. */
  linuxAddr: string;
  /** With `ipv6`: tuntcp's IPv6 address and ours (else ''). */
  stackAddr6: string;
  linuxAddr6: string;
  router: HeldNetns;
  /** Packets the router dropped so far: toward tuntcp, toward Linux. */
  drops(): { toStack: number; toLinux: number };
  /** Queue statistics of the tbf bottlenecks (`tc -s qdisc`), for diagnosis. */
  qdiscStats(): string;
  close(): void;
}

/**
 * tuntcp behind a router namespace: Linux (this namespace) -- veth -- router
 * -- TUN -- tuntcp. Loss and bottleneck are the router's; the stack can add
 * its own faults on top (delay for RTT).
 */
export async function startRouterLab(o: RouterLabOptions): Promise<RouterLab> {
  const n = o.id;
  const tun = `tl${n}`;
  const va = `tl${n}a`;
  const vr = `tl${n}r`;
  const stackAddr = `10.55.${n}.2`;
  const linuxAddr = `10.56.${n}.1`;
  const routerLinux = `10.56.${n}.2`;
  // Offload off unless asked for: the router's nftables drops happen before
  // GSO would cut a super-segment, so "5 %" would be 5 % of 64 KiB bursts.
  const running = startStack(stackArgs({ tun, addr: stackAddr, peer: `10.55.${n}.1/24`, msl: 1, offload: false, ...o.stack }));
  let router: HeldNetns | null = null;
  try {
    router = await HeldNetns.create();
    const R = router;
    const pid = String(R.pid);
    // The TUN fd stays ours; only the kernel side of the device moves.
    sh('ip', ['link', 'set', 'dev', tun, 'netns', pid]);
    R.run('ip', ['addr', 'add', `10.55.${n}.1/24`, 'dev', tun]);
    R.run('ip', ['link', 'set', 'dev', tun, 'up']);
    sh('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vr, 'netns', pid]);
    // One segment per skb, so each drop is one packet (and tbf sees packets, not 64 KB bursts).
    sh('ip', ['link', 'set', 'dev', va, 'gso_max_segs', '1']);
    sh('ip', ['addr', 'add', `${linuxAddr}/24`, 'dev', va]);
    sh('ip', ['link', 'set', 'dev', va, 'up']);
    const cc = o.congestionControl === undefined ? 'cubic' : o.congestionControl;
    sh('ip', ['route', 'replace', `10.55.${n}.0/24`, 'via', routerLinux, ...(cc === null ? [] : congctl(cc))]);
    R.run('ip', ['link', 'set', 'dev', vr, 'gso_max_segs', '1']);
    R.run('ip', ['addr', 'add', `${routerLinux}/24`, 'dev', vr]);
    R.run('ip', ['link', 'set', 'dev', vr, 'up']);
    R.sysctl('net.ipv4.ip_forward', '1');
    const six = o.ipv6 === true ? running.ipv6 : null;
    if (o.ipv6 === true && six === null) throw new Error('router lab: the stack has no IPv6');
    if (six !== null) {
      // The device lost its addresses in the move; nodad everywhere: no 1 s wait for DAD.
      R.run('ip', ['-6', 'addr', 'add', six.peer6, 'dev', tun, 'nodad']);
      sh('ip', ['-6', 'addr', 'add', `fd00:56:${n}::1/64`, 'dev', va, 'nodad']);
      R.run('ip', ['-6', 'addr', 'add', `fd00:56:${n}::2/64`, 'dev', vr, 'nodad']);
      const prefix = six.peer6.replace(/::1\/64$/, '::/64');
      sh('ip', ['-6', 'route', 'replace', prefix, 'via', `fd00:56:${n}::2`, ...(cc === null ? [] : congctl(cc))]);
      R.sysctl('net.ipv6.conf.all.forwarding', '1');
      // The veths' link-local addresses go through DAD (about 2 s); until then
      // neither side resolves the other and a SYN would be lost to it.
      for (let i = 0; i < 100; i++) {
        if (sh('ip', ['-6', 'addr', 'show', 'tentative']) === '' && R.run('ip', ['-6', 'addr', 'show', 'tentative']) === '') break;
        await sleep(50);
      }
    }
    let readDrops = (): number[] => [0, 0];
    if (o.loss !== undefined && o.loss > 0) {
      readDrops = nftLoss((c, a, i) => R.run(c, a, i), [
        { hook: 'forward', iif: vr, oif: tun, percent: o.loss, periodic: o.periodicLoss },
        { hook: 'forward', iif: tun, oif: vr, percent: o.loss, periodic: o.periodicLoss },
      ]);
    }
    if (o.rateMbit !== undefined && o.rateMbit > 0) {
      tbf((c, a) => R.run(c, a), tun, o.rateMbit);
      tbf((c, a) => R.run(c, a), vr, o.rateMbit);
    }
    let closed = false;
    return {
      running,
      stack: running.stack,
      stackAddr,
      linuxAddr,
      stackAddr6: six?.addr6 ?? '',
      linuxAddr6: six === null ? '' : `fd00:56:${n}::1`,
      router: R,
      drops: () => {
        const [toStack, toLinux] = readDrops();
        return { toStack: toStack ?? NaN, toLinux: toLinux ?? NaN };
      },
      qdiscStats: () => {
        try {
          return R.run('tc', ['-s', 'qdisc', 'show', 'dev', tun]) + R.run('tc', ['-s', 'qdisc', 'show', 'dev', vr]);
        } catch (err) {
          return String(err);
        }
      },
      close: () => {
        if (closed) return;
        closed = true;
        try {
          running.shutdown();
        } finally {
          // The veth end here goes with the router namespace, the route with it.
          R.close();
        }
      },
    };
  } catch (err) {
    running.shutdown();
    router?.close();
    throw err;
  }
}

export interface TunRelayOptions {
  /** Device names, also the prefix of nothing else. */
  devA: string;
  devB: string;
  /** Addresses (no prefix) of the two hosts, in one /24. */
  addrA: string;
  addrB: string;
  mtu?: number;
  /** Faults applied by this process in each direction (delay: one way, so RTT = 2 * delay). */
  faults: FaultOptions;
  /** Sees every packet at A's device, as A does: 'out' when A sent it, 'in' as A receives it. */
  observeA?: PacketObserver;
}

export interface TunRelay {
  counters: FaultCounters;
  close(): void;
}

/**
 * A delay line between two Linux namespaces, built from two TUN devices and
 * this process: what A sends out of its device, B receives from its own,
 * after the fault injector. This is how Linux <-> Linux gets a real RTT
 * without netem. The packets are not changed, only held back (or dropped,
 * duplicated, reordered, as `faults` says).
 */
export function startTunRelay(a: HeldNetns, b: HeldNetns, o: TunRelayOptions): TunRelay {
  const mtu = o.mtu ?? 1500;
  const ta = TunLink.open({ name: o.devA, mtu });
  const tb = TunLink.open({ name: o.devB, mtu });
  // A tap between A's device and the injector sees A's packets at A's own times.
  let la: TunLink | TapLink = ta;
  if (o.observeA !== undefined) {
    const tap = new TapLink(ta);
    const observe = o.observeA;
    tap.observe((dir, header, payload) => observe(dir === 'in' ? 'out' : 'in', header, payload));
    la = tap;
  }
  const fa = new FaultLink(la, o.faults, new RealClock());
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    fa.close();
    tb.close();
  };
  try {
    for (const [ns, dev, addr] of [[a, o.devA, o.addrA], [b, o.devB, o.addrB]] as const) {
      sh('ip', ['link', 'set', 'dev', dev, 'netns', String(ns.pid)]);
      ns.run('ip', ['addr', 'add', `${addr}/24`, 'dev', dev]);
      ns.run('ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), 'up']);
    }
    // A -> B: out of A's device, through the injector's receive side, into B's device.
    fa.onReceive = (packets) => {
      for (const p of packets) tb.send(p);
    };
    // B -> A: through the injector's send side into A's device.
    tb.onReceive = (packets) => {
      for (const p of packets) fa.send(p);
    };
  } catch (err) {
    close();
    throw err;
  }
  return { counters: fa.counters, close };
}
