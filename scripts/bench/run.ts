/**
 * `npm run bench`: tuntcp next to Linux and slirp4netns, in one run.
 *
 *   node --expose-gc dist/scripts/bench/run.js [--mb 300] [--repeat 3] [--only tun,cli,veth,slirp,inproc,ownership,connrate,memory]
 *        [--conns 10000,100000] [--seconds 5] [--json [FILE]]
 *
 *  tun       bulk Linux <-> tuntcp through TUN, MTU 1500 and 65520, without and with offload
 *            (every bulk row is the median of --repeat runs, interleaved with the other paths)
 *  cli       `tuntcp connect HOST PORT < file` and `cat file | tuntcp connect`, MTU 1500 (cli.ts)
 *  veth      the same transfers Linux <-> Linux over veth (and iperf3, when installed)
 *  slirp     the same transfers through slirp4netns, when installed
 *  inproc    tuntcp <-> tuntcp in this process over the in-memory link
 *  ownership who owns a written Buffer: copy (tuntcp) against callback at the ACK (ownership.ts)
 *  connrate  kernel clients: connect, request, reply, close, per second; then the same against node:net (Linux)
 *  memory    RSS and heap per idle established connection; the larger counts only if they fit
 *  mq        8 parallel flows Linux -> tuntcp with --queues 1 and 2 (and one flow each), mq.ts
 *  loss      10 MiB over 20 ms with 1 % loss each way: tuntcp and Linux, cubic and bbr (loss.ts);
 *            recovery time after one dropped segment, tuntcp and Linux cubic (recovery.ts)
 *
 * Prints a table with the targets of the issue; --json FILE also writes the
 * report there, --json alone writes it to stdout (and the table to stderr).
 * Needs root: it re-executes itself under `unshare --net`, and every
 * further namespace is held by a child that dies with it. No traffic leaves
 * the namespaces it creates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { tuntcpRows } from './bulk.js';
import { cliRow } from './cli.js';
import { connRate } from './connrate.js';
import { inprocRow } from './inproc.js';
import { copyCost, ownershipRows } from './ownership.js';
import { doesNotFit, memoryRowInChild } from './memory.js';
import { firstLine, installed, reexecInPrivateNetns } from './proc.js';
import { medianRows, type BenchReport, type BulkRow, type ConnRateResult, type InprocRow, type Machine, type MemoryRow } from './results.js';
import { slirpRows } from './slirp.js';
import { renderTable } from './table.js';
import { targets } from './targets.js';
import { lossRows } from './loss-section.js';
import { iperfRows, startVeth, vethRows } from './veth.js';
import { sh } from '../../test/kernel/netem.js';
import { medianMq, mqRow, startMqRig, warmMq, type MqRig, type MqRow } from './mq.js';

const SECTIONS = ['tun', 'cli', 'veth', 'slirp', 'inproc', 'ownership', 'connrate', 'memory', 'mq', 'loss'] as const;
const MTUS = [1500, 65520];
/** In-process transfers stop at this size or time, whichever comes first. */
const INPROC_BYTES = 2 ** 30;
const INPROC_SECONDS = 3;

interface Options {
  mb: number;
  repeat: number;
  only: Set<string>;
  conns: number[];
  seconds: number;
  /** undefined: no JSON; '': JSON to stdout; else a file. */
  json: string | undefined;
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\nusage: npm run bench -- [--mb N] [--repeat N] [--only ${SECTIONS.join(',')}] [--conns 10000,100000] [--seconds S] [--json [FILE]]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { mb: 300, repeat: 3, only: new Set(SECTIONS), conns: [10_000, 100_000], seconds: 5, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--mb') o.mb = Number(value());
    else if (a === '--seconds') o.seconds = Number(value());
    else if (a === '--repeat') o.repeat = Number(value());
    else if (a === '--only') o.only = new Set(value().split(',').filter(Boolean));
    else if (a === '--conns') o.conns = value().split(',').map(Number);
    else if (a === '--json') o.json = argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') ? argv[++i]! : '';
    else if (a === '--help' || a === '-h') usage('help');
    else usage(`unknown option ${a}`);
  }
  if (!(o.mb > 0)) usage('--mb must be a positive number');
  if (!(o.seconds > 0)) usage('--seconds must be a positive number');
  if (!(Number.isInteger(o.repeat) && o.repeat > 0)) usage('--repeat must be a positive integer');
  if (!o.conns.every((n) => Number.isInteger(n) && n > 0)) usage('--conns takes positive integers, e.g. 10000,100000');
  for (const s of o.only) if (!(SECTIONS as readonly string[]).includes(s)) usage(`--only: unknown section ${s}`);
  return o;
}

function machine(): Machine {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? '',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    python: firstLine('python3', ['--version']),
    slirp4netns: installed('slirp4netns') ? firstLine('slirp4netns', ['--version']).replace(/^slirp4netns version /, '') : '',
    iperf3: installed('iperf3') ? (/iperf ([\d.]+)/.exec(firstLine('iperf3', ['--version']))?.[1] ?? '?') : '',
    linuxCongestionControl: readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim(),
  };
}

/** What every section gets: the options, progress output, and a way to fail or skip without ending the run. */
interface Run {
  o: Options;
  log(line: string): void;
  /** One line under "skipped" (printed once, however often it comes). */
  skip(line: string): void;
  /** Run one step; a failure becomes a skip line and the run goes on. */
  step<T>(label: string, f: () => Promise<T>): Promise<T | undefined>;
}

/** Bulk rows of every path, every run (medianRows() makes one row of each group). */
async function bulkSection(run: Run): Promise<BulkRow[]> {
  const { o, log, skip, step } = run;
  const bytes = Math.round(o.mb * 2 ** 20);
  const rows: BulkRow[] = [];
  const add = (got: BulkRow[] | undefined): void => {
    for (const r of got ?? []) {
      rows.push(r);
      log(`  ${r.path} ${r.direction} MTU ${r.mtu}: ${r.error !== undefined ? `ERROR ${r.error}` : `${r.gbitPerSec.toFixed(2)} Gbit/s`}`);
    }
  };
  const slirpOk = o.only.has('slirp') && installed('slirp4netns');
  const iperfOk = o.only.has('veth') && installed('iperf3');
  if (o.only.has('slirp') && !slirpOk) skip('slirp4netns rows: slirp4netns is not installed (e.g. apt install slirp4netns)');
  if (o.only.has('veth') && !iperfOk) skip('veth iperf3 rows: iperf3 is not installed (e.g. apt install iperf3)');
  if (o.only.has('tun')) {
    // JIT warm-up, not reported: the first transfer would otherwise pay for compiling the hot paths.
    log('warm-up: tuntcp through TUN, 32 MiB each way');
    await step('warm-up', () => tuntcpRows(Math.min(bytes, 32 * 2 ** 20), MTUS[0]!, false, 'tbwarm0'));
  }
  const veth = o.only.has('veth') ? await step('veth', startVeth) : undefined;
  try {
    // Round by round and MTU by MTU, so the rows compared with each other run close together
    // in time and a disturbance hits one run of each rather than every run of one.
    for (let round = 1; round <= o.repeat; round++) {
      for (const [i, mtu] of MTUS.entries()) {
        const what = (path: string): string => `round ${round}/${o.repeat}: ${path}, MTU ${mtu}`;
        if (o.only.has('tun')) {
          log(what('tuntcp through TUN'));
          add(await step(`tuntcp MTU ${mtu}`, () => tuntcpRows(bytes, mtu, true, `tboff${i}`)));
          add(await step(`tuntcp --no-offload MTU ${mtu}`, () => tuntcpRows(bytes, mtu, false, `tbulk${i}`)));
        }
        if (o.only.has('cli') && mtu === 1500) {
          log(what('tuntcp connect (the CLI)'));
          add(await step('tuntcp connect < file', async () => [await cliRow(bytes, mtu, false, 'tbcli0')]));
          add(await step('cat | tuntcp connect', async () => [await cliRow(bytes, mtu, true, 'tbcli1')]));
        }
        if (slirpOk) {
          log(what('slirp4netns'));
          add(await step(`slirp4netns MTU ${mtu}`, () => slirpRows(bytes, mtu)));
        }
        if (veth !== undefined) {
          log(what('Linux <-> Linux over veth'));
          add(await step(`veth MTU ${mtu}`, () => vethRows(veth, bytes, mtu)));
          if (iperfOk) add(await step(`veth iperf3 MTU ${mtu}`, () => iperfRows(veth, bytes, mtu)));
        }
      }
    }
  } finally {
    veth?.close();
  }
  return rows;
}

async function inprocSection({ log, step }: Run): Promise<InprocRow[]> {
  const rows: InprocRow[] = [];
  for (const mtu of MTUS) for (const offload of [false, true]) {
    const what = `MTU ${mtu}${offload ? ' +offload' : ''}`;
    log(`in-process tuntcp <-> tuntcp, ${what}`);
    const r = await step(`in-process ${what}`, () => inprocRow(mtu, offload, INPROC_BYTES, INPROC_SECONDS));
    if (r === undefined) continue;
    rows.push(r);
    log(`  ${r.gbitPerSec.toFixed(2)} Gbit/s${r.error !== undefined ? ` ERROR ${r.error}` : ''}`);
  }
  return rows;
}

async function ownershipSection({ o, log, step }: Run): Promise<BenchReport['ownership']> {
  log('write ownership: copy against callback at the ACK');
  const rows = await step('ownership', () => ownershipRows(Math.round(Math.min(o.mb, 200) * 2 ** 20)));
  return rows === undefined ? null : { rows, copyCpuPerGB: copyCost() };
}

async function connrateSection({ o, log, step }: Run, linux = false): Promise<ConnRateResult | null> {
  const who = linux ? 'Linux (node:net over loopback)' : 'tuntcp';
  log(`connection rate, ${who}, ${o.seconds} s`);
  // 2 processes x 32 in flight: the fastest of the mixes tried on 2 cores (1-4 processes, 16-64 each).
  const r = await step(`connection rate, ${who}`, () => connRate({ seconds: o.seconds, processes: 2, concurrency: 32, linux }));
  if (r !== undefined) log(`  ${r.connectionsPerSec.toFixed(0)} connections/s`);
  return r ?? null;
}

async function memorySection({ o, log, skip, step }: Run): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const [i, n] of o.conns.entries()) {
    const prev = rows[rows.length - 1];
    // The first count always runs; larger ones only if the previous run says they fit.
    const why = i === 0 ? null : prev === undefined ? 'the smaller run failed' : doesNotFit(n, prev);
    if (why !== null) {
      skip(`memory with ${n.toLocaleString('en-US')} connections: ${why}`);
      continue;
    }
    log(`memory, ${n} idle connections`);
    const r = await step(`memory ${n}`, () => memoryRowInChild(n, i));
    if (r === undefined) continue;
    rows.push(r);
    log(`  heap ${(r.heapBytesPerConn / 1024).toFixed(2)} KiB, RSS ${(r.rssBytesPerConn / 1024).toFixed(2)} KiB per connection`);
  }
  return rows;
}

/** --queues: 8 flows and 1 flow, 1 and 2 queues, round by round (medianMq keeps the median run); one
 * warmed-up rig per queue count serves all its rows (mq.ts). */
async function mqSection({ o, log, step }: Run): Promise<MqRow[]> {
  const rows: MqRow[] = [];
  const bytes = Math.round(o.mb * 2 ** 20);
  const rigs = new Map<number, MqRig>();
  try {
    for (const [queues, net] of [[1, 56], [2, 57]] as const) {
      log(`warm-up: --queues ${queues}, 8 flows then 1, ${o.mb} MiB each`);
      const rig = await step(`--queues ${queues}`, () => startMqRig(queues, 1500, `tmq${queues}`, net));
      if (rig === undefined) continue;
      rigs.set(queues, rig);
      await step(`--queues ${queues} warm-up`, () => warmMq(rig, bytes));
    }
    for (let round = 1; round <= o.repeat; round++) {
      for (const [flows, queues] of [[8, 1], [8, 2], [1, 1], [1, 2]] as const) {
        const rig = rigs.get(queues);
        if (rig === undefined) continue;
        log(`round ${round}/${o.repeat}: ${flows} flow${flows > 1 ? 's' : ''} Linux -> tuntcp, --queues ${queues}`);
        const r = await step(`--queues ${queues}, ${flows} flows`, () => mqRow(rig, flows, bytes));
        if (r === undefined) continue;
        rows.push(r);
        const per = r.threadCpuPerGB === undefined ? '' : ` (stack threads ${r.threadCpuPerGB.map((c) => c.toFixed(2)).join('+')}, rest ${r.restCpuPerGB?.toFixed(2)})`;
        log(`  ${r.error !== undefined ? `ERROR ${r.error}` : `${r.gbitPerSec.toFixed(2)} Gbit/s, ${r.cpuPerGB?.toFixed(2)} CPU s/GB${per}, flows per shard ${r.flowsPerShard.join('+')}, forwarded ${r.forwarded ?? '-'}`}`);
      }
    }
  } finally {
    for (const rig of rigs.values()) await rig.stop();
  }
  return medianMq(rows);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  sh('ip', ['link', 'set', 'lo', 'up']);
  const skipped: string[] = [];
  const warnings: string[] = [];
  // The stack reports a bug of its own (an exception on a received packet) as a process warning.
  process.on('warning', (w) => warnings.push(w.message.split('\n')[0]!));
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const run: Run = {
    o,
    log,
    skip: (line) => {
      if (skipped.includes(line)) return;
      skipped.push(line);
      log(`skipped: ${line}`);
    },
    step: async (label, f) => {
      try {
        return await f();
      } catch (err) {
        run.skip(`${label}: failed: ${(err as Error).message.split('\n')[0]}`);
        return undefined;
      }
    },
  };
  if (!installed('python3')) {
    // Every kernel-side peer is a Python program; only the in-process rows can run.
    const need = ['tun', 'cli', 'veth', 'slirp', 'connrate', 'memory', 'mq', 'loss'].filter((x) => o.only.delete(x));
    if (need.length > 0) run.skip(`${need.join(', ')}: python3 is not installed (the kernel-side peers are Python programs)`);
  }
  const bulk = o.only.has('tun') || o.only.has('cli') || o.only.has('veth') || o.only.has('slirp') ? await bulkSection(run) : [];
  const inproc = o.only.has('inproc') ? await inprocSection(run) : [];
  const ownership = o.only.has('ownership') ? await ownershipSection(run) : null;
  const connrate = o.only.has('connrate') ? await connrateSection(run) : null;
  const connrateLinux = o.only.has('connrate') ? await connrateSection(run, true) : null;
  const memory = o.only.has('memory') ? await memorySection(run) : [];
  const mq = o.only.has('mq') ? await mqSection(run) : [];
  if (o.only.has('loss')) log('loss: 10 MiB, 20 ms, 1 % loss each way');
  const loss = o.only.has('loss') ? await run.step('loss', () => lossRows(10)) : undefined;

  const partial: Omit<BenchReport, 'targets'> = {
    date: new Date().toISOString(),
    machine: machine(),
    options: { mb: o.mb, repeat: o.repeat, only: [...o.only], conns: o.conns },
    bulk: medianRows(bulk), inproc, ownership, connrate, connrateLinux, memory, mq, loss, skipped, warnings,
  };
  const report: BenchReport = { ...partial, targets: targets(partial) };
  const table = renderTable(report);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (o.json === '') {
    process.stderr.write(`\n${table}\n`);
    process.stdout.write(json);
  } else {
    process.stdout.write(`\n${table}\n`);
    if (o.json !== undefined) writeFileSync(o.json, json);
  }
}

reexecInPrivateNetns(import.meta.url, 'bench');
await main();
// Peers and namespace holders are tied to us; nothing else should keep us.
process.exit(0);
