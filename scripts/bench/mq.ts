/**
 * --queues: N parallel flows Linux -> tuntcp through one TUN device, with
 * today's single stack (--queues 1: the stack in this process) and with a
 * multi-queue device whose queues each have a worker thread and a stack
 * shard (src/shard/). Aggregate goodput is all bytes over the first byte
 * to the last one, at the receivers; CPU is this whole process (every
 * thread: process.cpuUsage), its TUN reads and writes with the kernel work
 * they do in its context included, per GB received. The senders are the
 * Python peers of peer.ts, one process per flow.
 *
 * Each queue count has one rig (a stack, or a shard set) that serves every
 * row and is warmed up before the first (warmMq): a shard is a V8 isolate of
 * its own that compiles the whole stack afresh, and a cold one spends more
 * CPU in TurboFan (on V8's background threads) than in TCP for the first
 * few hundred MB: measured cold, --queues 2 paid that twice against a
 * --queues 1 stack the bench's earlier sections had warmed.
 */
import { startStack } from '../../src/cli/start-stack.js';
import { startShards } from '../../src/shard/shards.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { epochMs, tallySink, type Tally } from './mq-app.js';
import { startPeer } from './peer.js';
import { ownCpuSeconds, sleep } from './proc.js';
import type { Target } from './results.js';

const PORT = 5001;
/** The goal: 8 flows on 2 queues against 1 queue, on 2 cores. */
const SPEEDUP = 1.6;

export interface MqRow {
  flows: number;
  queues: number;
  mtu: number;
  bytes: number;
  seconds: number;
  gbitPerSec: number;
  cpuPerGB: number | null;
  /** Flows each shard received (one entry per queue). */
  flowsPerShard: number[];
  /** CPU seconds per GB of the busiest stack thread (the one thread with --queues 1): the
   * critical path, which sets the goodput when every thread has a core of its own. */
  busiestCpuPerGB: number | null;
  /** CPU s/GB of each stack thread, by queue (absent in reports from before it). */
  threadCpuPerGB?: number[];
  /** CPU s/GB of the rest of the process: V8's background threads (TurboFan, GC) and,
   * with shards, the main thread (the bench itself, and strays it relays). */
  restCpuPerGB?: number | null;
  /** Packets one shard relayed to another through the main thread (shard_forwarded_in: SYNs handed
   * to the shard with fewer connections and their flow's first segments, strays); 0 with --queues 1. */
  forwarded?: number;
  /** Load average (1 min) when the row started: other work on the machine. */
  load: number;
  error?: string;
}

/** A stack (--queues 1: in this process, as the CLI runs it) or a shard set, for every row of its queue count. */
export interface MqRig {
  queues: number;
  mtu: number;
  addr: string;
  /** Every stack's tally; with `reset`, zeroed first (as of the row's start). */
  tallies(reset?: boolean): Promise<Tally[]>;
  stop(): Promise<void>;
}

/** The rig for `queues` on device `dev`, at 10.`net`.0.2 (the kernel side .1). */
export async function startMqRig(queues: number, mtu: number, dev: string, net: number): Promise<MqRig> {
  const addr = `10.${net}.0.2`;
  const args = stackArgs({ tun: dev, addr, peer: `10.${net}.0.1/24`, mtu, msl: 1, offload: true });
  if (queues === 1) {
    const r = startStack(args);
    const k = tallySink(r.stack.counters);
    r.stack.createServer(k.handler).listen(PORT);
    return {
      queues, mtu, addr,
      tallies: (reset) => {
        if (reset === true) k.reset();
        return Promise.resolve([k.now()]);
      },
      stop: async () => r.shutdown(),
    };
  }
  const got = new Map<number, Tally>();
  const set = await startShards(args, queues, { app: new URL('./mq-app.js', import.meta.url), onMessage: (i, t) => got.set(i, t as Tally) });
  return {
    queues, mtu, addr,
    tallies: async (reset) => {
      got.clear();
      for (let i = 0; i < queues; i++) set.post(i, reset === true ? 'reset' : 'tally');
      const end = Date.now() + 5000;
      while (got.size < queues && Date.now() < end) await sleep(5);
      return [...got.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    },
    stop: () => set.stop(0),
  };
}

/** Warm-up: 8 flows, then 1, of `bytes` each time, not measured (see the top of this file). */
export async function warmMq(rig: MqRig, bytes: number): Promise<void> {
  for (const flows of [8, 1]) {
    const r = await mqRow(rig, flows, bytes);
    if (r.error !== undefined) throw new Error(`warm-up, ${flows} flows, --queues ${rig.queues}: ${r.error}`);
  }
}

/** `flows` senders of `bytes` in all, to the sink on `rig`. */
export async function mqRow(rig: MqRig, flows: number, bytes: number): Promise<MqRow> {
  const load = (await import('node:os')).loadavg()[0]!;
  const each = Math.floor(bytes / flows);
  const before = await rig.tallies(true);
  const cpu0 = process.cpuUsage();
  const peers = await Promise.all(
    Array.from({ length: flows }, () => startPeer({ role: 'send', mode: 'connect', host: rig.addr, port: PORT, bytes: each })),
  );
  const results = await Promise.all(peers.map((p) => p.result));
  // The senders are done when the last byte is acknowledged: give the FINs a moment to arrive.
  const t0 = epochMs();
  let ts = await rig.tallies();
  while (ts.reduce((n, t) => n + t.ended, 0) < flows && epochMs() - t0 < 5000) {
    await sleep(20);
    ts = await rig.tallies();
  }
  const cpu = ownCpuSeconds(cpu0);
  const got = ts.reduce((n, t) => n + t.bytes, 0);
  const first = Math.min(...ts.filter((t) => t.bytes > 0).map((t) => t.first));
  const last = Math.max(...ts.map((t) => t.last));
  const seconds = (last - first) / 1000;
  const gb = got / 1e9;
  const threads = got > 0 && before.length === ts.length ? ts.map((t, i) => (t.threadCpu - before[i]!.threadCpu) / gb) : null;
  const row: MqRow = {
    flows, queues: rig.queues, mtu: rig.mtu, bytes: got, seconds,
    gbitPerSec: seconds > 0 ? (got * 8) / seconds / 1e9 : 0,
    cpuPerGB: got > 0 ? cpu / gb : null,
    flowsPerShard: ts.map((t) => t.flows),
    busiestCpuPerGB: threads === null ? null : Math.max(...threads),
    load,
  };
  if (threads !== null) {
    row.threadCpuPerGB = threads;
    row.restCpuPerGB = Math.max(0, row.cpuPerGB! - threads.reduce((a, b) => a + b, 0));
  }
  if (before.length === ts.length) row.forwarded = ts.reduce((n, t, i) => n + t.forwarded - before[i]!.forwarded, 0);
  const failed = results.findIndex((r) => r === null);
  if (failed >= 0) row.error = peers[failed]!.error();
  else if (got !== each * flows) row.error = `got ${got} of ${each * flows} bytes`;
  return row;
}

/** The median run (by goodput) of each flows x queues group. */
export function medianMq(rows: MqRow[]): MqRow[] {
  const groups = new Map<string, MqRow[]>();
  for (const r of rows) groups.set(`${r.flows}|${r.queues}`, [...(groups.get(`${r.flows}|${r.queues}`) ?? []), r]);
  return [...groups.values()].map((g) => {
    const ok = g.filter((r) => r.error === undefined).sort((a, b) => a.gbitPerSec - b.gbitPerSec);
    return ok.length === 0 ? g[g.length - 1]! : ok[Math.floor((ok.length - 1) / 2)]!;
  });
}

export function mqBlock(rows: MqRow[]): string[] {
  const head = ['flows', 'queues', 'MTU', 'Gbit/s', 'CPU s/GB', 'busiest thread', 'stack threads', 'rest', 'forwarded', 'flows per shard', 'load', ''];
  const fix2 = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  const cells = rows.map((r) => [
    String(r.flows), String(r.queues), String(r.mtu), r.error !== undefined ? '-' : r.gbitPerSec.toFixed(2),
    fix2(r.cpuPerGB), fix2(r.busiestCpuPerGB), r.threadCpuPerGB?.map(fix2).join('+') ?? '-', fix2(r.restCpuPerGB ?? null),
    r.forwarded === undefined ? '-' : String(r.forwarded), r.flowsPerShard.join('+'), r.load.toFixed(1), r.error ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padStart(widths[i]!)).join('  ').trimEnd();
  return [
    '--queues: parallel flows Linux -> tuntcp, offload on (median run)',
    line(head),
    ...cells.map(line),
    '  Gbit/s: all flows together, first byte to last at the receivers; CPU s/GB: the whole tuntcp process, every',
    '  thread, per GB received; busiest thread: CPU s/GB of the stack thread that worked most (with --queues 1 the',
    '  only one), which bounds the goodput once each thread has a core; stack threads: each one\'s CPU s/GB, by queue;',
    '  rest: the other threads (V8\'s compiler and GC; with shards the main thread, which relays packets); forwarded:',
    '  packets relayed from the shard the kernel picked to the one that owns the flow (a SYN handed to the shard with',
    '  fewer connections, and the segments of its flow the kernel sends before it learns the way); load: the 1-minute load',
    '  average as the row started (other work on the machine: with more runnable threads than cores, goodput says',
    '  little). Each queue count keeps one stack or shard set for all its rows, warmed up first (a cold V8 isolate',
    '  compiles for the first few hundred MB).',
  ];
}

export function mqTargets(rows: MqRow[]): Target[] {
  const one = rows.find((r) => r.flows === 8 && r.queues === 1 && r.error === undefined);
  const two = rows.find((r) => r.flows === 8 && r.queues === 2 && r.error === undefined);
  if (rows.length === 0) return [];
  const name = '8 flows, --queues 2 vs --queues 1';
  if (one === undefined || two === undefined) return [{ name, goal: `>= ${SPEEDUP}x`, measured: 'a row failed', value: null, met: null }];
  const ratio = two.gbitPerSec / one.gbitPerSec;
  const measured = `${ratio.toFixed(2)}x (${two.gbitPerSec.toFixed(2)} / ${one.gbitPerSec.toFixed(2)} Gbit/s)`;
  const out: Target[] = [{ name, goal: `>= ${SPEEDUP}x`, measured, value: ratio, met: ratio >= SPEEDUP }];
  // Load-independent: how much shorter the critical path got (busiest thread's CPU per GB).
  if (one.busiestCpuPerGB !== null && two.busiestCpuPerGB !== null && two.busiestCpuPerGB > 0) {
    const crit = one.busiestCpuPerGB / two.busiestCpuPerGB;
    out.push({
      name: `${name}, busiest thread's CPU s/GB (a core each)`, goal: `>= ${SPEEDUP}x`,
      measured: `${crit.toFixed(2)}x (${one.busiestCpuPerGB.toFixed(2)} / ${two.busiestCpuPerGB.toFixed(2)})`, value: crit, met: crit >= SPEEDUP,
    });
  }
  return out;
}
