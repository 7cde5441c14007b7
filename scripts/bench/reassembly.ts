/**
 * What a peer can make our receive path pay: one Connection (sans-IO, no
 * stack, no link) fed segments the way the stack would hand them over.
 *
 *   node --expose-gc dist/scripts/bench/reassembly.js [--ofo 20000,40000] [--inorder 262144] [--rcvbuf BYTES]
 *
 *  ofo      N one-byte segments, each above a one-byte hole (seq 2, 4, 6, ...
 *           relative to the peer's ISN), SACK and timestamps on, default
 *           256 KiB receive buffer: the CPU they cost (every one is ACKed at
 *           once with SACK blocks), and what was kept
 *  inorder  N one-byte segments in order while the application reads
 *           nothing: the memory the receive buffer then holds (heap +
 *           ArrayBuffers after a full GC, less the same without them)
 */
import { Connection } from '../../src/tcp/connection.js';
import { DEFAULT_TCP_CONFIG } from '../../src/tcp/config.js';
import { TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment } from '../../src/wire/tcp.js';
import { seqAdd } from '../../src/wire/seq.js';

const ISS = 0xfffffff0;
const IRS = 0xffffff00;

class Counts {
  readonly map = new Map<string, number>();
  inc(name: string, by = 1): void {
    this.map.set(name, (this.map.get(name) ?? 0) + by);
  }
  get(name: string): number {
    return this.map.get(name) ?? 0;
  }
}

function segment(seq: number, ack: number, flags: number, payload: Buffer, tsVal: number, extra: TcpOption[] = [], syn = false): TcpSegment {
  const ts: TcpOption = { kind: 'ts', val: tsVal, ecr: 0 };
  return {
    srcPort: 40000,
    dstPort: 8080,
    seq,
    ack,
    headerLength: 32,
    flags,
    window: 65535,
    checksum: 0,
    urgent: 0,
    options: syn
      ? { mss: 1460, wscale: 7, sackPermitted: true, tsVal, tsEcr: 0, list: [...extra, ts] }
      : { sackPermitted: false, tsVal, tsEcr: 0, list: [ts] },
    payload,
  };
}

/** An established connection (active open, SACK, timestamps, wscale), and its counters. */
/** A fixed receive buffer (no autotuning), as this bench has always measured with. */
const BENCH_RCVBUF = 256 * 1024;

function open(rcvBuf: number): { conn: Connection; counts: Counts } {
  const counts = new Counts();
  const conn = new Connection({ ...DEFAULT_TCP_CONFIG, rcvBuf }, ISS, 0, counts);
  conn.connect(0);
  conn.segmentArrives(segment(IRS, seqAdd(ISS, 1), TCP_SYN | TCP_ACK, Buffer.alloc(0), 1, [], true), 1);
  conn.out.length = 0;
  conn.events.length = 0;
  return { conn, counts };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** N one-byte segments above one-byte holes. */
export function outOfOrder(n: number, rcvBuf = BENCH_RCVBUF): { n: number; cpuS: number; used: number; dropped: number; acks: number; bytes: number } {
  const { conn, counts } = open(rcvBuf);
  const one = Buffer.from([0x55]);
  const ack = seqAdd(ISS, 1);
  let acks = 0;
  const before = retained();
  const cpu0 = process.cpuUsage();
  for (let k = 1; k <= n; k++) {
    conn.segmentArrives(segment(seqAdd(IRS, 2 * k), ack, TCP_ACK, one, 2 + k), 2 + k);
    acks += conn.out.length;
    conn.out.length = 0; // the stack sends them
    conn.events.length = 0;
  }
  const cpuS = cpuSeconds(cpu0);
  const bytes = retained() - before;
  return { n, cpuS, used: conn.recvBuffer.used, dropped: counts.get('tcp_ofo_dropped') + counts.get('tcp_rcvbuf_full'), acks, bytes };
}

function retained(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** N one-byte segments in order, never read: bytes of memory the receive buffer holds. */
export function inOrderUnread(n: number, rcvBuf = BENCH_RCVBUF): { n: number; bytes: number; held: number } {
  const { conn } = open(rcvBuf);
  const ack = seqAdd(ISS, 1);
  const pkt = Buffer.alloc(1);
  const before = retained();
  for (let k = 0; k < n; k++) {
    pkt[0] = k & 0xff; // the link reuses its packet memory: the receiver must copy
    conn.segmentArrives(segment(seqAdd(IRS, 1 + k), ack, TCP_ACK, pkt, 2 + k), 2 + k);
    conn.out.length = 0;
    conn.events.length = 0;
  }
  const bytes = retained() - before;
  const held = conn.recvBuffer.readable;
  // Keep the connection alive until after the measurement.
  if (conn.read(n + 10).reduce((s, b) => s + b.length, 0) !== held) throw new Error('lost bytes');
  return { n, bytes, held };
}

function main(argv: string[]): void {
  let ofo = [20_000, 40_000];
  let inorder = [256 * 1024];
  let rcvBuf = BENCH_RCVBUF;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const list = (): number[] => (argv[++i] ?? '').split(',').map(Number).filter((n) => n > 0);
    if (a === '--ofo') ofo = list();
    else if (a === '--inorder') inorder = list();
    else if (a === '--rcvbuf') rcvBuf = Number(argv[++i]);
    else {
      process.stderr.write('usage: node --expose-gc dist/scripts/bench/reassembly.js [--ofo 20000,40000] [--inorder 262144] [--rcvbuf BYTES]\n');
      process.exit(2);
    }
  }
  console.log(`receive buffer ${rcvBuf} bytes`);
  for (const n of ofo) {
    const r = outOfOrder(n, rcvBuf);
    const mem = Number.isNaN(r.bytes) ? '' : `, ${(r.bytes / 1024).toFixed(0)} KiB retained (${(r.bytes / r.used).toFixed(0)} per byte kept)`;
    console.log(`ofo     ${String(n).padStart(7)} one-byte segments above holes: ${r.cpuS.toFixed(3)} s CPU, ${((r.cpuS / n) * 1e6).toFixed(1)} µs each; kept ${r.used} bytes${mem}, dropped ${r.dropped}, ${r.acks} ACKs`);
  }
  for (const n of inorder) {
    const r = inOrderUnread(n, rcvBuf);
    const mem = Number.isNaN(r.bytes) ? 'run with --expose-gc to measure' : `${(r.bytes / 1048576).toFixed(1)} MiB retained (${(r.bytes / r.held).toFixed(0)} bytes per byte held)`;
    console.log(`inorder ${String(n).padStart(7)} one-byte segments, never read: ${r.held} bytes held, ${mem}`);
  }
}

main(process.argv.slice(2));
