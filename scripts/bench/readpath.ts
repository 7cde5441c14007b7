/**
 * Read-path benchmark: how many packets per second the TUN addon delivers to
 * JavaScript under a flood from the kernel side, and what CPU it costs.
 *
 *   node dist/scripts/bench/readpath.js [--seconds 2] [--size 64] [--senders 1]
 *                                       [--batch 256] [--stall 4] [--views] [--json]
 *
 * Needs root. It re-executes itself under `unshare --net`, so the TUN device,
 * its addresses and the flood exist only in a private network namespace that
 * vanishes with the process. The flood is N child processes sending UDP
 * datagrams (connected node:dgram sockets) to an address routed through the
 * TUN device; this process only receives and counts, so process.cpuUsage()
 * is the cost of the read path: kernel read(2) + the addon + the JS call per
 * batch; the packets are taken in place from the pool (onReceivePool, as the
 * stack takes them), or with --views as an array of Buffer views (onReceive).
 *
 * Two windows are measured back to back:
 *  - free: the reader idles between packets, so it usually finds one or two
 *    queued per wakeup (on two cores it keeps up with the sender);
 *  - stalled: every 2*S ms the event loop is blocked for S ms without using
 *    CPU (Atomics.wait), like a stack busy with other work; the backlog then
 *    arrives in large batches, which shows what batching saves per packet.
 *    The device queue is raised to 4096 so the backlog fits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { TunLink } from '../../src/link/tun.js';
import { configureTun } from '../../src/link/netdev.js';
import { reexecInPrivateNetns } from './proc.js';

const DEV = 'tbench0';
const PEER = '10.55.0.1';
const ADDR = '10.55.0.2';
const PORT = 9;

interface Options {
  seconds: number;
  size: number;
  senders: number;
  batch: number;
  stall: number;
  views: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 2, size: 64, senders: 1, batch: 256, stall: 4, views: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (lo: number, hi: number): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < lo || v > hi) fail(`${a} needs a number in ${lo}..${hi}`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--views') o.views = true;
    else if (a === '--seconds') o.seconds = num(0.5, 30);
    else if (a === '--size') o.size = Math.floor(num(0, 1400));
    else if (a === '--senders') o.senders = Math.floor(num(1, 8));
    else if (a === '--batch') o.batch = Math.floor(num(1, 4096));
    else if (a === '--stall') o.stall = num(0, 100);
    else fail(`unknown option ${a} (options: --seconds S --size BYTES --senders N --batch N --stall MS --views --json)`);
  }
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`readpath: ${msg}\n`);
  process.exit(2);
}

/** Flood source, run as a separate node process in the same namespace. */
const SENDER = `
import { createSocket } from 'node:dgram';
const [addr, port, size, ms] = process.argv.slice(1);
const s = createSocket('udp4');
s.on('error', () => {});
const buf = Buffer.alloc(Number(size), 0x61);
let sent = 0;
s.connect(Number(port), addr, () => {
  const end = Date.now() + Number(ms);
  const burst = () => {
    for (let i = 0; i < 128; i++) s.send(buf);
    sent += 128;
    if (Date.now() < end) setImmediate(burst);
    else s.close(() => process.stdout.write(String(sent)));
  };
  burst();
});
`;

function kernelTx(): { packets: number; dropped: number } {
  const out = execFileSync('ip', ['-s', '-j', 'link', 'show', 'dev', DEV], { encoding: 'utf8' });
  const j = JSON.parse(out) as Array<{ stats64?: { tx?: { packets?: number; dropped?: number } } }>;
  const tx = j[0]?.stats64?.tx;
  return { packets: tx?.packets ?? 0, dropped: tx?.dropped ?? 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Window {
  scenario: 'free' | 'stalled';
  seconds: number;
  deliveredPps: number;
  batchesPerSec: number;
  avgBatch: number;
  cpuPercent: number;
  userPercent: number;
  systemPercent: number;
  cpuMicrosPerPacket: number;
  userMicrosPerPacket: number;
  kernelTxPps: number;
  kernelDroppedPps: number;
}

interface Result {
  payloadBytes: number;
  senders: number;
  maxBatch: number;
  stallMs: number;
  views: boolean;
  windows: Window[];
}

/** Measure one window of `ms` while the flood runs. */
async function measure(link: TunLink, scenario: Window['scenario'], ms: number): Promise<Window> {
  const p0 = link.rxPackets, b0 = link.rxBatches, k0 = kernelTx();
  const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
  await sleep(ms);
  const c1 = process.cpuUsage(c0), t1 = process.hrtime.bigint();
  const p1 = link.rxPackets, b1 = link.rxBatches, k1 = kernelTx();
  const secs = Number(t1 - t0) / 1e9;
  const packets = p1 - p0, batches = b1 - b0;
  const cpuUs = c1.user + c1.system;
  return {
    scenario,
    seconds: round(secs, 3),
    deliveredPps: Math.round(packets / secs),
    batchesPerSec: Math.round(batches / secs),
    avgBatch: round(batches > 0 ? packets / batches : 0, 1),
    cpuPercent: round((cpuUs / 1e6 / secs) * 100, 1),
    userPercent: round((c1.user / 1e6 / secs) * 100, 1),
    systemPercent: round((c1.system / 1e6 / secs) * 100, 1),
    cpuMicrosPerPacket: round(packets > 0 ? cpuUs / packets : 0, 3),
    userMicrosPerPacket: round(packets > 0 ? c1.user / packets : 0, 3),
    kernelTxPps: Math.round((k1.packets - k0.packets) / secs),
    kernelDroppedPps: Math.round((k1.dropped - k0.dropped) / secs),
  };
}

async function run(o: Options): Promise<Result> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const link = TunLink.open({ name: DEV, mtu: 1500, maxBatch: o.batch });
  const children: ChildProcess[] = [];
  let stallTimer: NodeJS.Timeout | null = null;
  try {
    configureTun({ name: DEV, peer: `${PEER}/24`, addr: ADDR, mtu: 1500 });
    let sink = 0;
    // Touch each packet as a parser would (version nibble), nothing more.
    if (o.views) {
      link.onReceive = (packets) => {
        for (let i = 0; i < packets.length; i++) sink += packets[i]![0]! >> 4;
      };
    } else {
      link.onReceivePool = (pool, ranges, count) => {
        for (let i = 0; i < count; i++) sink += pool[ranges[2 * i]!]! >> 4;
      };
    }
    const warmupMs = 500;
    const windowMs = o.seconds * 1000;
    const totalMs = warmupMs + windowMs * (o.stall > 0 ? 2 : 1) + 300;
    for (let i = 0; i < o.senders; i++) {
      children.push(spawn(process.execPath, ['--input-type=module', '-e', SENDER, ADDR, String(PORT), String(o.size), String(totalMs)], {
        stdio: ['ignore', 'ignore', 'inherit'],
      }));
    }
    await sleep(warmupMs);
    const windows = [await measure(link, 'free', windowMs)];
    if (o.stall > 0) {
      const cell = new Int32Array(new SharedArrayBuffer(4));
      stallTimer = setInterval(() => Atomics.wait(cell, 0, 0, o.stall), 2 * o.stall);
      await sleep(o.stall * 2);
      windows.push(await measure(link, 'stalled', windowMs));
    }
    if (sink < 0) console.log(sink); // keep the touch loop from being optimised away
    return { payloadBytes: o.size, senders: o.senders, maxBatch: o.batch, stallMs: o.stall, views: o.views, windows };
  } finally {
    if (stallTimer !== null) clearInterval(stallTimer);
    for (const c of children) c.kill('SIGKILL');
    link.close();
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function table(r: Result): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const head = ['window', 'pkts/s to JS', 'pkts/wakeup', 'CPU %', 'user %', 'sys %', 'µs CPU/pkt', 'µs user/pkt', 'kernel drop/s'];
  const rows = r.windows.map((w) => [
    w.scenario === 'free' ? 'free' : `stalled ${r.stallMs}/${2 * r.stallMs} ms`,
    n(w.deliveredPps), String(w.avgBatch), w.cpuPercent.toFixed(1), w.userPercent.toFixed(1), w.systemPercent.toFixed(1),
    w.cpuMicrosPerPacket.toFixed(3), w.userMicrosPerPacket.toFixed(3), n(w.kernelDroppedPps),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `tuntcp read path (TUN -> JS): ${r.payloadBytes} B UDP payload, ${r.senders} sender process(es), maxBatch ${r.maxBatch}, ${r.views ? 'Buffer views' : 'in place'}, ${r.windows[0]!.seconds} s per window`,
    line(head),
    ...rows.map(line),
    `CPU is this process only (process.cpuUsage): read(2) in the kernel + addon${r.views ? ' + Buffer views' : ''} + a 1-byte touch.`,
  ].join('\n');
}

reexecInPrivateNetns(import.meta.url, 'readpath');
const opts = parseArgs(process.argv.slice(2));
try {
  const r = await run(opts);
  console.log(opts.json ? JSON.stringify(r) : table(r));
} catch (err) {
  const e = err as { code?: string; message?: string };
  fail(`${e.code ?? 'ERROR'} ${e.message ?? String(err)}`);
}
