/**
 * Hot-path microbenchmark: JavaScript time and heap allocation per segment on
 * the paths every byte of a bulk transfer takes (issue 15).
 *
 *   npm run -s build && npm run -s bench:hotpath -- [--ms 1500] [--rounds 5] [--only rx-data,rx-ack,tx,demux4,demux6]
 *
 *  rx-data  in-order 1448-byte segments with timestamps arriving on an
 *           established connection (batches of 32 from one pool, as the TUN
 *           link delivers them; the owner reads after each batch; the one
 *           coalesced ACK per batch is included)
 *  rx-ack   pure ACKs, each acknowledging one 1448-byte segment in flight,
 *           nothing left to send (per ACK)
 *  tx       one write of 32 segments' worth with the window open: send
 *           queue, segmentation, options, headers and checksums, handed to
 *           the link (per segment)
 *  demux4   old duplicate ACKs spread over 64 IPv4 connections: readIPv4,
 *           readTcp, the connection lookup and a TCB that ignores them
 *  demux6   the same over IPv6
 *
 * A Stack on a VirtualClock behind a link that drops what it is given. Time:
 * the median step (a step is one batch or one write) of each of --rounds
 * rounds, then the median of those: a step that was preempted by another
 * process does not count, so a loaded machine reads about as an idle one.
 * Heap: the growth of heapUsed in the steps of about 4000 segments after a
 * full collection, with no collection in between (--min-semi-space-size
 * keeps the scavenger out; a round that saw one is measured again), in bytes
 * per segment, and the ArrayBuffer memory (slabs, copies) the same way.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { buildTcpPacket, setTcpChecksum, TCP_ACK, TCP_SYN, writeTcpPacket6, type TcpFields, type TcpOption } from '../../src/wire/tcp.js';
import { deliver, makeRig, parseCaseArgs, pooled, runDeferred, type Rig } from './rig.js';

const US = '10.55.0.2';
const PEER = '10.55.0.1';
const US6 = 'fd00:55::2';
const PEER6 = 'fd00:55::1';
const SEG = 1448;
const PER_BATCH = 32;
const CONNS = 64;
const CASES = ['rx-data', 'rx-ack', 'tx', 'demux4', 'demux6'] as const;
type Case = (typeof CASES)[number];

const tsOpt = (val: number, ecr: number): TcpOption[] => [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val, ecr }];
const SYN_OPTS: TcpOption[] = [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: 1, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }];

/** A TCP packet from the peer (either family) to us. */
function pkt(v6: boolean, tcp: TcpFields, payload?: Buffer): Buffer {
  if (!v6) return buildTcpPacket({ src: PEER, dst: US, protocol: IPPROTO_TCP, ttl: 64 }, tcp, payload);
  const out = Buffer.alloc(40 + 60 + (payload?.length ?? 0));
  const n = writeTcpPacket6(out, { src: PEER6, dst: US6 }, tcp, payload);
  if (payload !== undefined) payload.copy(out, n);
  return out.subarray(0, n + (payload?.length ?? 0));
}

interface Conn {
  ep: TcpEndpoint;
  port: number;
  /** The peer's next sequence number, and ours (what it acknowledges). */
  seq: number;
  ack: number;
}

/** Handshakes from the peer's `ports` to our port 7, with timestamps and window scale 7. */
function establish(r: Rig, v6: boolean, ports: number[]): Conn[] {
  const eps: TcpEndpoint[] = [];
  if (!r.stack.listening().next().value) r.stack.openListener(7, 1024, (e) => eps.push(e));
  const out: Conn[] = [];
  for (const port of ports) {
    const iss = 0xfffff000;
    r.stack.receiveBatch([pkt(v6, { srcPort: port, dstPort: 7, seq: iss, ack: 0, flags: TCP_SYN, window: 65535, options: SYN_OPTS })]);
    const ourIss = r.link.last.readUInt32BE((v6 ? 40 : 20) + 4);
    const seq = (iss + 1) >>> 0;
    const ack = (ourIss + 1) >>> 0;
    r.stack.receiveBatch([pkt(v6, { srcPort: port, dstPort: 7, seq, ack, flags: TCP_ACK, window: 65535, options: tsOpt(2, 0) })]);
    runDeferred(r);
    const ep = eps.shift();
    if (ep === undefined) throw new Error('hotpath: a handshake did not complete');
    out.push({ ep, port, seq, ack });
  }
  return out;
}

/** One case: `step` does one timed unit of work and returns how many segments it was;
 * `prepare` and `after` run untimed before and after it. */
interface Bench {
  prepare: () => void;
  step: () => number;
  after?: () => void;
  r: Rig;
}

function setup(c: Case): Bench {
  const r = makeRig(US, US6);
  switch (c) {
    case 'rx-data': {
      const [conn] = establish(r, false, [40000]);
      let seq = conn!.seq;
      let tsVal = 3;
      const payload = Buffer.alloc(SEG, 0x61);
      const ps: Buffer[] = [];
      for (let i = 0; i < PER_BATCH; i++) ps.push(pkt(false, { srcPort: 40000, dstPort: 7, seq: 0, ack: conn!.ack, flags: TCP_ACK, window: 65535, options: tsOpt(0, 0) }, payload));
      const b = pooled(ps);
      return {
        r,
        prepare: () => {
          for (const p of b.views) {
            p.writeUInt32BE(seq, 24);
            p.writeUInt32BE(tsVal, 20 + 20 + 4);
            setTcpChecksum(p);
            seq = (seq + SEG) >>> 0;
          }
          tsVal++;
          r.clock.advance(1);
        },
        step: () => {
          deliver(r.stack, b);
          conn!.ep.read();
          runDeferred(r);
          return PER_BATCH;
        },
      };
    }
    case 'tx':
    case 'rx-ack': {
      // One rig does both: a write of 32 segments (tx), then an ACK for each (rx-ack).
      const [conn] = establish(r, false, [40000]);
      const ep = conn!.ep;
      const data = Buffer.alloc(SEG * PER_BATCH, 0x62);
      const ps: Buffer[] = [];
      for (let i = 0; i < PER_BATCH; i++) ps.push(pkt(false, { srcPort: 40000, dstPort: 7, seq: conn!.seq, ack: 0, flags: TCP_ACK, window: 65535, options: tsOpt(0, 0) }));
      const acks = pooled(ps);
      let tsVal = 3;
      const sendAll = (): number => {
        const before = r.link.sent;
        ep.write(data);
        runDeferred(r);
        return r.link.sent - before;
      };
      const ackAll = (): void => {
        deliver(r.stack, acks);
        runDeferred(r);
      };
      const prepareAcks = (): void => {
        const una = ep.conn.sndUna;
        const ecr = r.link.last.readUInt32BE(20 + 20 + 8);
        acks.views.forEach((p, i) => {
          p.writeUInt32BE((una + (i + 1) * SEG) >>> 0, 28);
          p.writeUInt32BE(tsVal, 20 + 20 + 4);
          p.writeUInt32BE(ecr, 20 + 20 + 8);
          setTcpChecksum(p);
        });
        tsVal++;
      };
      // Slow start opens cwnd past one write before anything is timed.
      for (let i = 0; i < 50; i++) {
        r.clock.advance(1);
        sendAll();
        r.clock.advance(1);
        prepareAcks();
        ackAll();
      }
      if (sendAll() !== PER_BATCH || ep.conn.sendQueue.length !== SEG * PER_BATCH) throw new Error(`hotpath: cwnd ${ep.conn.cc.cwnd} holds back a write of ${PER_BATCH} segments`);
      prepareAcks();
      ackAll();
      if (ep.conn.sendQueue.length !== 0) throw new Error('hotpath: ACKs did not empty the send queue');
      if (c === 'tx') {
        return {
          r,
          prepare: () => r.clock.advance(1),
          step: sendAll,
          after: () => {
            prepareAcks();
            ackAll();
          },
        };
      }
      return {
        r,
        prepare: () => {
          r.clock.advance(1);
          sendAll();
          r.clock.advance(1);
          prepareAcks();
        },
        step: () => {
          ackAll();
          return PER_BATCH;
        },
      };
    }
    case 'demux4':
    case 'demux6': {
      const v6 = c === 'demux6';
      const ports = Array.from({ length: CONNS }, (_, i) => 41000 + i);
      const conns = establish(r, v6, ports);
      // Each packet to the next connection: the one-entry cache (lastEp) misses every time.
      const ps: Buffer[] = [];
      for (let k = 0; k < 256; k++) {
        const cn = conns[k % CONNS]!;
        ps.push(pkt(v6, { srcPort: cn.port, dstPort: 7, seq: cn.seq, ack: cn.ack, flags: TCP_ACK, window: 65535, options: tsOpt(2, 0) }));
      }
      const b = pooled(ps);
      return {
        r,
        prepare: () => {},
        step: () => {
          deliver(r.stack, b);
          return b.count;
        },
      };
    }
  }
}

/** Collections seen by the observer (delivered asynchronously). */
let gcSeen: Array<{ start: number; kind: number }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcSeen.push({ start: e.startTime, kind: (e as unknown as { detail: { kind: number } }).detail.kind });
}).observe({ entryTypes: ['gc'] });
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * µs per segment of each step, for `ms` of timed steps; the median step
 * says what a step costs when the process is not preempted in it (on a
 * loaded machine a few steps take the time of other processes too).
 */
function timeSteps(b: Bench, ms: number): number[] {
  const out: number[] = [];
  let spent = 0n;
  const budget = BigInt(Math.round(ms * 1e6));
  while (spent < budget) {
    b.prepare();
    const t0 = process.hrtime.bigint();
    const n = b.step();
    const dt = process.hrtime.bigint() - t0;
    spent += dt;
    out.push(Number(dt) / 1000 / n);
    b.after?.();
  }
  return out;
}

/** Heap and ArrayBuffer bytes allocated per segment in the steps of about `target` segments, or null if a collection ran meanwhile. */
async function allocRound(b: Bench, target: number): Promise<{ heap: number; ext: number } | null> {
  gc!();
  await tick();
  const t0 = performance.now();
  // What reading memoryUsage() twice allocates itself, taken off each step.
  const c0 = process.memoryUsage().heapUsed;
  const c1 = process.memoryUsage().heapUsed;
  const self = c1 - c0;
  let segs = 0;
  let heap = 0;
  let ext = 0;
  while (segs < target) {
    b.prepare();
    const m0 = process.memoryUsage();
    segs += b.step();
    const m1 = process.memoryUsage();
    heap += m1.heapUsed - m0.heapUsed - self;
    ext += m1.arrayBuffers - m0.arrayBuffers;
    b.after?.();
  }
  const t1 = performance.now();
  await tick();
  await tick();
  const during = gcSeen.filter((g) => g.start >= t0 && g.start <= t1);
  gcSeen = [];
  if (during.length > 0) return null;
  return { heap: heap / segs, ext: ext / segs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (gc === undefined) {
    process.stderr.write('hotpath: run with node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 (npm run bench:hotpath)\n');
    process.exit(2);
  }
  const o = parseCaseArgs('hotpath', process.argv.slice(2), CASES);
  process.stdout.write(`case      µs/segment  heap B/segment  ArrayBuffer B/segment\n`);
  for (const c of o.only) {
    const b = setup(c);
    for (let i = 0; i < 500; i++) {
      b.prepare();
      b.step();
      b.after?.();
    }
    const us: number[] = [];
    for (let i = 0; i < o.rounds; i++) us.push(median(timeSteps(b, o.ms / o.rounds)));
    const heaps: number[] = [];
    const exts: number[] = [];
    for (let tries = 0; heaps.length < 3 && tries < 12; tries++) {
      const a = await allocRound(b, 4096);
      if (a === null) continue;
      heaps.push(a.heap);
      exts.push(a.ext);
    }
    const errors = b.r.stack.counters.get('stack_internal_error');
    if (errors > 0) throw new Error(`hotpath: ${c}: ${errors} internal errors`);
    if (process.env.HOTPATH_DEBUG) console.error(c, b.r.stack.counters.snapshot());
    const heap = heaps.length > 0 ? median(heaps).toFixed(0) : 'n/a (GC)';
    const ext = exts.length > 0 ? median(exts).toFixed(0) : 'n/a';
    process.stdout.write(`${c.padEnd(9)} ${median(us).toFixed(3).padStart(10)}  ${heap.padStart(14)}  ${ext.padStart(21)}   (µs runs ${us.map((x) => x.toFixed(3)).join(' ')})\n`);
  }
}

await main();
