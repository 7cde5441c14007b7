/**
 * Goodput and retransmissions on a path with 1 % random loss each way and a
 * 20 ms round trip, for tuntcp and for Linux on the same kind of path:
 *
 *   (a) tuntcp -> tuntcp in simulation: two NetStacks over an in-memory link
 *       (10 ms each way) with the fault injector dropping 1 % each way, in
 *       virtual time (goodput is bytes per virtual second);
 *   (b) Linux -> tuntcp and tuntcp -> Linux through TUN: a router namespace
 *       drops 1 % each way with nftables, the stack's fault injector adds
 *       10 ms each way;
 *   (c) Linux -> Linux: two namespaces joined (1) by a veth pair, where
 *       nothing can add delay without netem, so the RTT is what it is (the
 *       measured value is printed), and (2) by a TUN relay in this process
 *       that delays 10 ms each way; nftables drops 1 % each way in both.
 *
 * Retransmissions: tuntcp's `tcp_retransmitted_segments`, Linux's
 * RetransSegs from /proc/net/snmp of the sending namespace. RTTs are
 * measured with ping over the same path (so they include the loss-free
 * pings only). Kernel peers are Python processes.
 *
 * (d) recovery: the time from the send of one dropped segment to the ACK
 *     that covers it, with nothing else lost, tuntcp -> Linux and Linux ->
 *     Linux on the same 20 ms paths (recovery.ts; the median of 3 runs).
 *
 *   node dist/scripts/bench/loss.js [--mb 20] [--json] [--only sim,tun,linux,recovery] [--cc cubic,bbr] [--counters] [--periodic]
 *
 * (--only relay: of (c), the TUN relay alone.)
 *
 * --cc names the congestion controls of both sides: each Linux sender and
 * each tuntcp sender (connect({ cc })) runs once with each (`npm run bench`
 * runs this with --mb 10 for its loss section). --counters prints, on stderr,
 * the counters each sender changed (tuntcp's netstat -s names, Linux's TcpExt);
 * --periodic drops every 100th packet each way instead of random ones.
 *
 * Needs root; re-executes itself under `unshare --net`. The extra namespaces
 * are anonymous and held by child processes that die with this one.
 */
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { FaultLink } from '../../src/link/fault.js';
import { NetStack } from '../../src/socket/net-stack.js';
import { HeldNetns, nftLoss, ownTcpCounters, pingAvg, runAsync, sh, startRouterLab, startTunRelay, type TcpSnmp } from '../../test/kernel/netem.js';
import { pump, sink } from './flow.js';
import { startPeer, type Peer } from './peer.js';
import { PERIODIC_SUFFIX } from './loss-section.js';
import { linuxRecovery, medianRecovery, NTH, tuntcpRecovery, type Recovery } from './recovery.js';
import { reexecInPrivateNetns } from './proc.js';

const LOSS = 1;
const ONE_WAY_MS = 10;
/** Wall-clock limit for one transfer. */
const LIMIT_S = 240;
/** --counters: print what each sender counted (stderr), to see where the retransmissions come from. */
const SHOW_COUNTERS = process.argv.includes('--counters');
/**
 * --periodic: drop every 100th packet each way instead of a random 1 %, so
 * that every sender sees the same losses (random runs differ by their luck:
 * 62 or 96 drops of ~7300 segments, and goodput goes with 1/sqrt(drops)).
 */
const PERIODIC = process.argv.includes('--periodic');

/** The TcpExt counters of /proc/net/netstat (Linux's nstat names: TCPLossProbes, TCPDSACKUndo, ...). */
function tcpExt(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

/** The counters that changed between two snapshots, one line. */
function changed(before: Record<string, number>, after: Record<string, number>): string {
  return Object.entries(after)
    .filter(([k, v]) => v !== (before[k] ?? 0))
    .map(([k, v]) => `${k}=${v - (before[k] ?? 0)}`)
    .join(' ');
}

interface Row {
  path: string;
  /** Measured (ping) or, in simulation, configured round-trip time in ms. */
  rttMs: number;
  rttNote: string;
  lossPercent: number;
  bytes: number;
  seconds: number;
  mbitPerSec: number;
  /** Segments the sender retransmitted. */
  retransmits: number;
  /** Segments the sender sent (data and ACKs), for the ratio. */
  segmentsOut: number;
  /** Packets the loss rules dropped: toward the receiver, toward the sender. */
  drops: [number, number];
  timeNote: string;
  /** Recovery rows (d): the median run's recovery and detection times, ms, and every run's recovery time. */
  recoveryMs?: number;
  detectMs?: number;
  runsMs?: number[];
  error?: string;
}

/** The Python peers of peer.ts, here or in `ns`, with this bench's time limit. */
function pyReceiver(ns: HeldNetns | null, host: string, port: number): Promise<Peer> {
  return startPeer({ role: 'recv', mode: 'listen', host, port, bytes: 0, ns, limitS: LIMIT_S + 10 });
}

/** Resolves with the sender's exit code. */
async function pySender(ns: HeldNetns | null, host: string, port: number, bytes: number, cc: string): Promise<number | null> {
  return (await startPeer({ role: 'send', mode: 'connect', host, port, bytes, cc, ns, limitS: LIMIT_S })).exitCode;
}

/** Average RTT by ping; asynchronous, because this process forwards the packets (stack or relay). */
async function ping(ns: HeldNetns | null, host: string): Promise<number> {
  const args = ['-c', '20', '-i', '0.05', '-q', '-W', '1', host];
  const r = ns === null ? await runAsync('ping', args) : await ns.runAsync('ping', args);
  // ping exits 1 when some replies were lost; its summary still holds the RTT.
  return pingAvg(r.stdout);
}

function mkRow(p: Omit<Row, 'mbitPerSec'>): Row {
  return { ...p, mbitPerSec: p.seconds > 0 ? (p.bytes * 8) / p.seconds / 1e6 : 0 };
}

// ---------------------------------------------------------------------------
// (a) simulation

async function simRow(bytes: number, cc: 'cubic' | 'newreno' | 'bbr'): Promise<Row> {
  const clock = new VirtualClock(1_000_000);
  const [la, lb] = createMemoryPair({ clock, latencyMs: ONE_WAY_MS, mtu: 1500 });
  // One injector on A's side drops 1 % of what A sends and 1 % of what A receives.
  const fault = new FaultLink(la, { loss: LOSS, seed: 42 }, clock);
  const isnKey = Buffer.alloc(16, 7);
  const a = new NetStack({ link: fault, addr: '10.0.0.1', clock, isnKey });
  const b = new NetStack({ link: lb, addr: '10.0.0.2', clock, isnKey });
  const k = sink(() => clock.now());
  b.createServer(k.handler).listen(5001);
  void pump(a.connect({ port: 5001, host: '10.0.0.2', cc }), bytes);
  // The harness loop of test/sim: stream callbacks run, then time jumps to the next timer.
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const wall0 = performance.now();
  const limit = clock.now() + 3_600_000;
  while (!k.ended) {
    await turn();
    await turn();
    const next = clock.nextTime();
    if (next > limit || (performance.now() - wall0) / 1000 > LIMIT_S) break;
    clock.advanceTo(next);
  }
  const wall = (performance.now() - wall0) / 1000;
  const row = mkRow({
    path: `tuntcp (${cc}) -> tuntcp (sim)`,
    rttMs: 2 * ONE_WAY_MS,
    rttNote: 'configured',
    lossPercent: LOSS,
    bytes: k.bytes,
    seconds: k.secs(),
    retransmits: a.counters.get('tcp_retransmitted_segments'),
    segmentsOut: a.counters.get('tcp_out'),
    drops: [NaN, NaN],
    timeNote: `virtual (${wall.toFixed(1)} s wall)`,
  });
  // The injector counts both directions together.
  row.drops = [fault.counters.lost, NaN];
  if (!k.ended) row.error = `incomplete: ${k.bytes} of ${bytes} bytes`;
  void a.close({ linger: 0 });
  void b.close({ linger: 0 });
  return row;
}

// ---------------------------------------------------------------------------
// (b) Linux <-> tuntcp through TUN and a lossy router

async function tunRows(bytes: number, ccs: string[]): Promise<Row[]> {
  // The Python sender picks its congestion control per socket, so the route does not.
  const lab = await startRouterLab({ id: 5, loss: LOSS, periodicLoss: PERIODIC, stack: { delay: ONE_WAY_MS }, congestionControl: null });
  const rows: Row[] = [];
  try {
    const rtt = await ping(null, lab.stackAddr);
    const base = { rttMs: rtt, rttNote: 'ping', lossPercent: LOSS, timeNote: 'wall' };

    // Linux -> tuntcp: Python sends from this namespace, the stack counts.
    for (const [i, cc] of ccs.entries()) {
      const port = 5001 + 10 * i;
      const k = sink();
      const server = lab.stack.createServer(k.handler);
      server.listen(port);
      const snmp0: TcpSnmp = ownTcpCounters();
      const d0 = lab.drops();
      const code = await pySender(null, lab.stackAddr, port, bytes, cc);
      server.close();
      const snmp1 = ownTcpCounters();
      const d1 = lab.drops();
      const row = mkRow({
        ...base,
        path: `Linux (${cc}) -> tuntcp (TUN)`,
        bytes: k.bytes,
        seconds: k.secs(),
        retransmits: snmp1.RetransSegs - snmp0.RetransSegs,
        segmentsOut: snmp1.OutSegs - snmp0.OutSegs,
        drops: [d1.toStack - d0.toStack, d1.toLinux - d0.toLinux],
      });
      if (code !== 0 || k.bytes !== bytes) row.error = `sender exit ${code}, ${k.bytes} of ${bytes} bytes`;
      rows.push(row);
    }

    // tuntcp -> Linux: the stack sends with each congestion control, Python counts.
    for (const [i, cc] of ccs.filter(isTuntcpCc).entries()) {
      const rx = await pyReceiver(null, lab.linuxAddr, 5002 + 10 * i);
      const r0 = lab.stack.counters.get('tcp_retransmitted_segments');
      const o0 = lab.stack.counters.get('tcp_out');
      const d0 = lab.drops();
      const c0 = lab.stack.counters.snapshot();
      const s = lab.stack.connect({ port: 5002 + 10 * i, host: lab.linuxAddr, cc });
      void pump(s, bytes);
      const res = await rx.result;
      s.destroy();
      const d1 = lab.drops();
      if (SHOW_COUNTERS) console.error(`tuntcp (${cc}) sender: ${changed(c0, lab.stack.counters.snapshot())}`);
      const row = mkRow({
        ...base,
        path: `tuntcp (${cc}) -> Linux (TUN)`,
        bytes: res?.bytes ?? 0,
        seconds: res?.secs ?? 0,
        retransmits: lab.stack.counters.get('tcp_retransmitted_segments') - r0,
        segmentsOut: lab.stack.counters.get('tcp_out') - o0,
        drops: [d1.toLinux - d0.toLinux, d1.toStack - d0.toStack],
      });
      if (res === null || res.bytes !== bytes) row.error = `receiver got ${res?.bytes ?? 0} of ${bytes} bytes`;
      rows.push(row);
    }
  } finally {
    lab.close();
  }
  return rows;
}

// ---------------------------------------------------------------------------
// (c) Linux -> Linux

async function linuxRow(kind: 'veth' | 'relay', bytes: number, cc: string): Promise<Row> {
  const A = await HeldNetns.create();
  let B: HeldNetns | null = null;
  let relay: { close(): void } | null = null;
  try {
    B = await HeldNetns.create();
    const devA = kind === 'veth' ? 'lv0a' : 'lr0a';
    const devB = kind === 'veth' ? 'lv0b' : 'lr0b';
    const addrA = '10.60.0.1';
    const addrB = '10.60.0.2';
    if (kind === 'veth') {
      sh('ip', ['link', 'add', devA, 'netns', String(A.pid), 'type', 'veth', 'peer', 'name', devB, 'netns', String(B.pid)]);
      for (const [ns, dev, addr] of [[A, devA, addrA], [B, devB, addrB]] as const) {
        // One segment per skb: a drop is one packet, not a 64 KB GSO burst.
        ns.run('ip', ['link', 'set', 'dev', dev, 'gso_max_segs', '1']);
        ns.run('ip', ['addr', 'add', `${addr}/24`, 'dev', dev]);
        ns.run('ip', ['link', 'set', 'dev', dev, 'up']);
      }
    } else {
      relay = startTunRelay(A, B, { devA, devB, addrA, addrB, faults: { delay: ONE_WAY_MS } });
    }
    // Loss at each receiver's input: the sender cannot tell it from a lossy wire.
    const dropsB = nftLoss((c, a, i) => B!.run(c, a, i), [{ hook: 'input', iif: devB, percent: LOSS, periodic: PERIODIC }]);
    const dropsA = nftLoss((c, a, i) => A.run(c, a, i), [{ hook: 'input', iif: devA, percent: LOSS, periodic: PERIODIC }]);
    const rtt = await ping(A, addrB);
    const rx = await pyReceiver(B, addrB, 5003);
    const before = A.tcpCounters();
    const ext0 = tcpExt(A.run('cat', ['/proc/net/netstat']));
    const db0 = dropsB()[0]!;
    const da0 = dropsA()[0]!;
    const code = await pySender(A, addrB, 5003, bytes, cc);
    const res = await rx.result;
    const after = A.tcpCounters();
    if (SHOW_COUNTERS) console.error(`Linux (${cc}) sender, ${kind}: ${changed(ext0, tcpExt(A.run('cat', ['/proc/net/netstat'])))}`);
    const row = mkRow({
      path: `Linux (${cc}) -> Linux (${kind === 'veth' ? 'veth' : 'TUN relay'})`,
      rttMs: rtt,
      rttNote: 'ping',
      lossPercent: LOSS,
      bytes: res?.bytes ?? 0,
      seconds: res?.secs ?? 0,
      retransmits: after.RetransSegs - before.RetransSegs,
      segmentsOut: after.OutSegs - before.OutSegs,
      drops: [dropsB()[0]! - db0, dropsA()[0]! - da0],
      timeNote: 'wall',
    });
    if (code !== 0 || res === null || res.bytes !== bytes) row.error = `sender exit ${code}, receiver got ${res?.bytes ?? 0} of ${bytes} bytes`;
    return row;
  } finally {
    relay?.close();
    A.close();
    B?.close();
  }
}

// ---------------------------------------------------------------------------
// (d) recovery time after a single loss

const RECOVERY_RUNS = 3;

async function recoveryRow(who: 'tuntcp' | 'linux', cc: string): Promise<Row> {
  const m = await medianRecovery(RECOVERY_RUNS, (i) => (who === 'tuntcp' && isTuntcpCc(cc) ? tuntcpRecovery(cc, 5200 + i) : linuxRecovery(cc, 5300 + i)));
  const row: Row = {
    path: who === 'tuntcp' ? `tuntcp (${cc}) -> Linux (TUN), one loss` : `Linux (${cc}) -> Linux (TUN relay), one loss`,
    rttMs: 2 * ONE_WAY_MS,
    rttNote: 'configured',
    lossPercent: 0,
    bytes: 0,
    seconds: m.recoveryMs / 1000,
    mbitPerSec: 0,
    retransmits: m.retransmits,
    segmentsOut: NaN,
    drops: [1, 0],
    timeNote: `recovery (segment ${NTH})`,
    recoveryMs: m.recoveryMs,
    detectMs: m.detectMs,
    runsMs: m.runsMs,
  };
  if (m.error !== undefined) row.error = m.error;
  return row;
}

function recoveryLine(r: Row): string {
  return `${r.path.padEnd(44)} recovery ${fmt(r.recoveryMs ?? NaN, 1)} ms (retransmitted after ${fmt(r.detectMs ?? NaN, 1)} ms; runs ${(r.runsMs ?? []).map((x) => x.toFixed(1)).join(', ')})  retransmits ${fmt(r.retransmits, 0)}` +
    (r.error !== undefined ? `   ERROR: ${r.error}` : '');
}

// ---------------------------------------------------------------------------

function isTuntcpCc(cc: string): cc is 'cubic' | 'newreno' | 'bbr' {
  return cc === 'cubic' || cc === 'newreno' || cc === 'bbr';
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mbArg = argv.indexOf('--mb');
  const mb = mbArg >= 0 ? Number(argv[mbArg + 1]) : 20;
  if (!(mb > 0)) throw new Error('--mb must be a positive number');
  const onlyArg = argv.indexOf('--only');
  const only = new Set(onlyArg >= 0 ? (argv[onlyArg + 1] ?? '').split(',') : ['sim', 'tun', 'linux', 'recovery']);
  const json = argv.includes('--json');
  const ccArg = argv.indexOf('--cc');
  // The Linux sender's congestion control (per socket, TCP_CONGESTION); both by default
  // because hosts differ (Debian: cubic; this lab machine: bbr).
  const ccs = (ccArg >= 0 ? (argv[ccArg + 1] ?? '') : 'cubic,bbr').split(',').filter(Boolean);
  const bytes = Math.round(mb * 1024 * 1024);
  sh('ip', ['link', 'set', 'lo', 'up']);

  const rows: Row[] = [];
  const attempt = async (label: string, f: () => Promise<Row[]>): Promise<void> => {
    try {
      rows.push(...(await f()));
    } catch (err) {
      rows.push({
        path: label, rttMs: NaN, rttNote: '', lossPercent: LOSS, bytes: 0, seconds: 0, mbitPerSec: 0,
        retransmits: NaN, segmentsOut: NaN, drops: [NaN, NaN], timeNote: '', error: (err as Error).message,
      });
    }
  };
  if (only.has('sim')) for (const cc of ccs.filter(isTuntcpCc)) await attempt(`tuntcp (${cc}) -> tuntcp (sim)`, async () => [await simRow(bytes, cc)]);
  if (only.has('tun')) await attempt('Linux <-> tuntcp (TUN)', () => tunRows(bytes, ccs));
  if (only.has('linux') || only.has('relay')) {
    for (const cc of ccs) {
      if (only.has('linux')) await attempt(`Linux (${cc}) -> Linux (veth)`, async () => [await linuxRow('veth', bytes, cc)]);
      await attempt(`Linux (${cc}) -> Linux (TUN relay)`, async () => [await linuxRow('relay', bytes, cc)]);
    }
  }
  if (only.has('recovery')) {
    for (const cc of ccs) {
      if (isTuntcpCc(cc)) await attempt(`tuntcp (${cc}) -> Linux (TUN), one loss`, async () => [await recoveryRow('tuntcp', cc)]);
      await attempt(`Linux (${cc}) -> Linux (TUN relay), one loss`, async () => [await recoveryRow('linux', cc)]);
    }
  }

  if (PERIODIC) for (const r of rows) if (r.recoveryMs === undefined) r.path += PERIODIC_SUFFIX;

  if (json) {
    console.log(JSON.stringify({ lossPercentEachWay: LOSS, oneWayDelayMs: ONE_WAY_MS, mib: mb, rows }, null, 2));
    return;
  }
  console.log(`one-way bulk transfer, ${mb} MiB, ${LOSS} % ${PERIODIC ? 'periodic' : 'random'} loss each way, target RTT ${2 * ONE_WAY_MS} ms`);
  console.log('path                                  RTT ms         Mbit/s   seconds          retransmits  (% of segs out)   dropped fwd/rev');
  const width = Math.max(37, ...rows.map((r) => r.path.length + 1));
  for (const r of rows) {
    if (r.recoveryMs !== undefined) {
      console.log(recoveryLine(r));
      continue;
    }
    const rtx = `${fmt(r.retransmits, 0)} (${fmt((100 * r.retransmits) / r.segmentsOut, 2)} %)`;
    const drops = `${fmt(r.drops[0], 0)}/${fmt(r.drops[1], 0)}`;
    console.log(
      `${r.path.padEnd(width)} ${`${fmt(r.rttMs, 2)} ${r.rttNote}`.padEnd(14)} ${fmt(r.mbitPerSec, 1).padStart(6)}   ${`${fmt(r.seconds, 2)} ${r.timeNote}`.padEnd(24)} ${rtx.padEnd(22)} ${drops}` +
        (r.error !== undefined ? `   ERROR: ${r.error}` : ''),
    );
  }
  console.log('sim: drops are both directions together; RTT by ping includes the stacks\' processing.');
}

reexecInPrivateNetns(import.meta.url, 'loss');
await main();
process.exit(0);
