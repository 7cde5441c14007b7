/**
 * A/B of the TUN writer thread (TunOpenOptions.txThread): the tuntcp bulk
 * rows (bulk.ts) with the thread off and on, interleaved, at MTU 1500 and
 * 65520, with and without offload, in a private network namespace.
 *   node dist/scripts/bench/txthread.js [--mb 200] [--repeat 3] [--mtu 1500,65520] [--offload both|on|off]
 * Besides goodput and the process's CPU s/GB it prints the CPU s/GB of the
 * JavaScript thread alone (it bounds goodput when each thread has a core)
 * and of the writer thread, from /proc/self/task; the 1-minute load average
 * says how busy the machine was.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startStack } from '../../src/cli/start-stack.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { receive, send } from './bulk.js';
import { reexecInPrivateNetns } from './proc.js';
import type { BulkRow } from './results.js';

reexecInPrivateNetns(import.meta.url, 'bench:txthread');

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const bytes = Number(arg('--mb', '200')) * 2 ** 20;
const repeat = Number(arg('--repeat', '3'));
const mtus = arg('--mtu', '1500,65520').split(',').map(Number);
const offloads = { both: [false, true], on: [true], off: [false] }[arg('--offload', 'both')] ?? [false, true];
const TICK = 100; // USER_HZ: /proc times are in 1/100 s

/** CPU seconds of this process's threads by name ('main': the JavaScript thread). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const name = Number(tid) === process.pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / TICK);
  }
  return out;
}

interface Run { gbit: number; cpu: number; js: number; tx: number }
const runs = new Map<string, Run[]>();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f2 = (x: number): string => x.toFixed(2).padStart(6);
let dev = 0;
for (let round = 1; round <= repeat; round++) {
  for (const mtu of mtus) {
    for (const offload of offloads) {
      for (const tx of [false, true]) {
        const r = startStack(stackArgs({ tun: `ttx${dev++}`, addr: '10.55.0.2', peer: '10.55.0.1/24', mtu, msl: 1, offload, txThread: tx }));
        try {
          for (const dir of [receive, send]) {
            const load = loadavg()[0]!.toFixed(1);
            const t0 = threadCpu();
            const row: BulkRow = await dir(r, offload ? 'tuntcp' : 'tuntcp --no-offload', bytes, mtu);
            const t1 = threadCpu();
            const gb = row.bytes / 1e9;
            const js = ((t1.get('main') ?? 0) - (t0.get('main') ?? 0)) / gb;
            const txs = ((t1.get('tuntcp-tx') ?? 0) - (t0.get('tuntcp-tx') ?? 0)) / gb;
            const key = `${row.path.padEnd(20)} ${row.direction.padEnd(8)} ${String(mtu).padStart(5)} tx-thread ${tx ? 'on ' : 'off'}`;
            const cpu = row.stackCpuPerGB ?? NaN;
            process.stdout.write(`round ${round}: ${key} ${f2(row.gbitPerSec)} Gbit/s ${f2(cpu)} CPU s/GB (JS ${f2(js)}, writer ${f2(txs)})  load ${load}${row.error !== undefined ? `  ${row.error}` : ''}\n`);
            if (row.error === undefined) runs.set(key, [...(runs.get(key) ?? []), { gbit: row.gbitPerSec, cpu, js, tx: txs }]);
          }
        } finally {
          r.shutdown();
        }
      }
    }
  }
}
process.stdout.write('\nmedians (Gbit/s, CPU s/GB of the process, of the JavaScript thread, of the writer thread)\n');
for (const [key, rs] of runs) {
  process.stdout.write(`${key} ${f2(median(rs.map((r) => r.gbit)))} Gbit/s ${f2(median(rs.map((r) => r.cpu)))} CPU s/GB (JS ${f2(median(rs.map((r) => r.js)))}, writer ${f2(median(rs.map((r) => r.tx)))})  ${rs.length} runs\n`);
}
