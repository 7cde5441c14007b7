/**
 * --queues: N parallel flows Linux -> tuntcp through one TUN device, with
 * today's single stack (--queues 1: the stack in this process) and with a
 * multi-queue device whose queues each have a worker thread and a stack
 * shard (src/shard/). Aggregate goodput is all bytes over the first byte
 * to the last one, at the receivers; CPU is this whole process (every
 * thread: process.cpuUsage), its TUN reads and writes with the kernel work
 * they do in its context included, per GB received. The senders are the
 * Python peers of peer.ts, one process per flow.
 */
import { startStack } from '../../src/cli/start-stack.js';
import { startShards } from '../../src/shard/shards.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { epochMs, tallyNow, tallySink, type Tally } from './mq-app.js';
import { startPeer } from './peer.js';
import { ownCpuSeconds, sleep } from './proc.js';
import type { Target } from './results.js';

const ADDR = '10.56.0.2';
const LINUX = '10.56.0.1';
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
  /** Load average (1 min) when the row started: other work on the machine. */
  load: number;
  error?: string;
}

/** `flows` senders of `bytes` in all, to a sink on `queues` queues (1: today's stack, no workers). */
export async function mqRow(flows: number, queues: number, bytes: number, mtu: number, dev: string): Promise<MqRow> {
  const args = stackArgs({ tun: dev, addr: ADDR, peer: `${LINUX}/24`, mtu, msl: 1, offload: true });
  const load = (await import('node:os')).loadavg()[0]!;
  let tallies: () => Promise<Tally[]>;
  let stop: () => Promise<void>;
  if (queues === 1) {
    const r = startStack(args);
    const k = tallySink();
    r.stack.createServer(k.handler).listen(PORT);
    tallies = () => Promise.resolve([tallyNow(k.tally)]);
    stop = async () => r.shutdown();
  } else {
    const got = new Map<number, Tally>();
    const set = await startShards(args, queues, { app: new URL('./mq-app.js', import.meta.url), onMessage: (i, t) => got.set(i, t as Tally) });
    tallies = async () => {
      got.clear();
      for (let i = 0; i < queues; i++) set.post(i, 'tally');
      const end = Date.now() + 5000;
      while (got.size < queues && Date.now() < end) await sleep(5);
      return [...got.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    };
    stop = () => set.stop(0);
  }
  try {
    const each = Math.floor(bytes / flows);
    const before = await tallies();
    const cpu0 = process.cpuUsage();
    const peers = await Promise.all(
      Array.from({ length: flows }, () => startPeer({ role: 'send', mode: 'connect', host: ADDR, port: PORT, bytes: each })),
    );
    const results = await Promise.all(peers.map((p) => p.result));
    // The senders are done when the last byte is acknowledged: give the FINs a moment to arrive.
    const t0 = epochMs();
    let ts = await tallies();
    while (ts.reduce((n, t) => n + t.ended, 0) < flows && epochMs() - t0 < 5000) {
      await sleep(20);
      ts = await tallies();
    }
    const cpu = ownCpuSeconds(cpu0);
    const got = ts.reduce((n, t) => n + t.bytes, 0);
    const first = Math.min(...ts.filter((t) => t.bytes > 0).map((t) => t.first));
    const last = Math.max(...ts.map((t) => t.last));
    const seconds = (last - first) / 1000;
    const row: MqRow = {
      flows, queues, mtu, bytes: got, seconds,
      gbitPerSec: seconds > 0 ? (got * 8) / seconds / 1e9 : 0,
      cpuPerGB: got > 0 ? cpu / (got / 1e9) : null,
      flowsPerShard: ts.map((t) => t.flows),
      busiestCpuPerGB: got > 0 && before.length === ts.length ? Math.max(...ts.map((t, i) => t.threadCpu - before[i]!.threadCpu)) / (got / 1e9) : null,
      load,
    };
    const failed = results.findIndex((r) => r === null);
    if (failed >= 0) row.error = peers[failed]!.error();
    else if (got !== each * flows) row.error = `got ${got} of ${each * flows} bytes`;
    return row;
  } finally {
    await stop();
  }
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
  const head = ['flows', 'queues', 'MTU', 'Gbit/s', 'CPU s/GB', 'busiest thread', 'flows per shard', 'load', ''];
  const fix2 = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  const cells = rows.map((r) => [
    String(r.flows), String(r.queues), String(r.mtu), r.error !== undefined ? '-' : r.gbitPerSec.toFixed(2),
    fix2(r.cpuPerGB), fix2(r.busiestCpuPerGB), r.flowsPerShard.join('+'), r.load.toFixed(1), r.error ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padStart(widths[i]!)).join('  ').trimEnd();
  return [
    '--queues: parallel flows Linux -> tuntcp, offload on (median run)',
    line(head),
    ...cells.map(line),
    '  Gbit/s: all flows together, first byte to last at the receivers; CPU s/GB: the whole tuntcp process, every',
    '  thread, per GB received; busiest thread: CPU s/GB of the stack thread that worked most (with --queues 1 the',
    '  only one), which bounds the goodput once each thread has a core; load: the 1-minute load average as the row',
    '  started (other work on the machine: with more runnable threads than cores, goodput says little).',
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
