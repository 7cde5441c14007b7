/**
 * Receive-path microbenchmark: CPU per received packet in JavaScript, from
 * Stack.receiveBatch to the reply handed to the link, for the packets a flood
 * brings and for real traffic.
 *
 *   npm run -s build && npm run -s bench:rxcost -- [--ms 1500] [--rounds 5] [--only ack,closed,syn,oow,data]
 *
 * A Stack on a VirtualClock behind a link that drops what it is given (the
 * write into a TUN device is not counted), fed batches of 256 packets in one
 * pool as the TUN link delivers them (deliver() below); time stands still, as
 * within one poll wakeup.
 *  ack     ACKs from random source ports to a listening port (no connection,
 *          no cookies sent: a RST, rate-limited, as under `hping3 -A --flood`)
 *  closed  the same to a port nobody listens on
 *  syn     SYNs from random addresses and ports to a listener whose SYN queue
 *          is full (cookies), as `hping3 -S --rand-source --flood`
 *  oow     out-of-window ACKs on an established connection (a dup ACK per 500 ms)
 *  data    in-order 1448-byte segments with timestamps on an established
 *          connection whose owner reads everything after each batch of 32
 *          (the real traffic; a batch must fit in the receive window)
 * Each case runs --rounds times for --ms of CPU in all; the median µs per
 * packet is printed. RXCOST_DEBUG=1 prints each case's counters to stderr
 * (to check that the packets went where they should).
 */
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import { deliver, makeRig, parseCaseArgs, pooled, runDeferred, xorshift, type Batch, type Rig } from './rig.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { buildTcpPacket, setTcpChecksum, TCP_ACK, TCP_SYN, type TcpOption } from '../../src/wire/tcp.js';

const US = '10.55.0.2';
const PEER = '10.55.0.1';
const BATCH = 256;
/** Data segments per batch: what fits in the receive window the stack opens. */
const DATA_BATCH = 32;
const CASES = ['ack', 'closed', 'syn', 'oow', 'data'] as const;
type Case = (typeof CASES)[number];

function pkt(srcPort: number, dstPort: number, seq: number, ack: number, flags: number, options?: TcpOption[], payload?: Buffer, src = PEER): Buffer {
  return buildTcpPacket({ src, dst: US, protocol: IPPROTO_TCP, ttl: 64 }, { srcPort, dstPort, seq, ack, flags, window: 502, options }, payload);
}

/** Handshake PEER:port -> US:7 with timestamps; returns the endpoint and the next sequence numbers. */
function establish(r: Rig, port: number): { ep: TcpEndpoint; seq: number; ack: number } {
  let ep: TcpEndpoint | null = null;
  r.stack.openListener(7, 511, (e) => {
    ep = e;
  });
  const iss = 0xfffff000;
  const ts = (val: number): TcpOption[] => [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val, ecr: 0 }];
  r.stack.receiveBatch([
    pkt(port, 7, iss, 0, TCP_SYN, [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: 1, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }]),
  ]);
  const synAck = r.link.last;
  const ourIss = synAck.readUInt32BE(24);
  const seq = (iss + 1) >>> 0;
  const ack = (ourIss + 1) >>> 0;
  r.stack.receiveBatch([pkt(port, 7, seq, ack, TCP_ACK, ts(2))]);
  runDeferred(r);
  if (ep === null) throw new Error('rxcost: the handshake did not complete');
  return { ep, seq, ack };
}

/** One case: returns a function that processes one batch, and a prepare step run untimed before it. */
function setup(c: Case): { r: Rig; prepare: () => void; batch: () => Batch; after: () => void } {
  const r = makeRig(US);
  const rnd = xorshift(12345);
  const randomPorts = (dst: number, flags: number, options?: TcpOption[], randomSource = false): Batch[] => {
    const batches: Batch[] = [];
    for (let b = 0; b < 16; b++) {
      const ps: Buffer[] = [];
      for (let i = 0; i < BATCH; i++) {
        const src = randomSource ? `${1 + (rnd() % 223)}.${rnd() % 256}.${rnd() % 256}.${1 + (rnd() % 254)}` : PEER;
        ps.push(pkt(1024 + (rnd() % 64000), dst, rnd(), rnd(), flags, options, undefined, src));
      }
      batches.push(pooled(ps));
    }
    return batches;
  };
  let n = 0;
  const none = (): void => {};
  switch (c) {
    case 'ack':
    case 'closed': {
      if (c === 'ack') r.stack.openListener(7, 511, () => {});
      const batches = randomPorts(7, TCP_ACK);
      return { r, prepare: none, batch: () => batches[n++ % batches.length]!, after: none };
    }
    case 'syn': {
      r.stack.openListener(7, 1, () => {});
      r.stack.receiveBatch([pkt(999, 7, 1, 0, TCP_SYN)]); // the one slot of the SYN queue
      const opts: TcpOption[] = [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: 7, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }];
      const batches = randomPorts(7, TCP_SYN, opts, true);
      return { r, prepare: none, batch: () => batches[n++ % batches.length]!, after: none };
    }
    case 'oow': {
      const { seq, ack } = establish(r, 40000);
      const ps: Buffer[] = [];
      for (let i = 0; i < BATCH; i++) ps.push(pkt(40000, 7, (seq + 0x40000000 + i * 1000) >>> 0, ack, TCP_ACK, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: 3, ecr: 0 }]));
      const b = pooled(ps);
      return { r, prepare: none, batch: () => b, after: none };
    }
    case 'data': {
      const conn = establish(r, 40000);
      const ep = conn.ep;
      let seq = conn.seq;
      let tsVal = 3;
      const payload = Buffer.alloc(1448, 0x61);
      const ps: Buffer[] = [];
      for (let i = 0; i < DATA_BATCH; i++) ps.push(pkt(40000, 7, 0, conn.ack, TCP_ACK, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: 0, ecr: 0 }], payload));
      const b = pooled(ps);
      // Rewrite sequence numbers and TSvals of the ring before each batch (untimed).
      const prepare = (): void => {
        for (const p of b.views) {
          p.writeUInt32BE(seq, 24);
          p.writeUInt32BE(tsVal, 20 + 20 + 4);
          setTcpChecksum(p);
          seq = (seq + 1448) >>> 0;
        }
        tsVal++;
        r.clock.advance(1);
      };
      const after = (): void => {
        ep.read();
        runDeferred(r);
      };
      return { r, prepare, batch: () => b, after };
    }
  }
}

function measure(c: Case, ms: number): number {
  const s = setup(c);
  // Warm up, then time only receiveBatch (and the owner's read for data).
  for (let i = 0; i < 200; i++) {
    s.prepare();
    deliver(s.r.stack, s.batch());
    s.after();
  }
  let packets = 0;
  let spent = 0n;
  const budget = BigInt(Math.round(ms * 1e6));
  while (spent < budget) {
    s.prepare();
    const b = s.batch();
    const t0 = process.hrtime.bigint();
    deliver(s.r.stack, b);
    s.after();
    spent += process.hrtime.bigint() - t0;
    packets += b.count;
  }
  if (process.env.RXCOST_DEBUG) console.error(c, s.r.stack.counters.snapshot());
  const errors = s.r.stack.counters.get('stack_internal_error');
  if (errors > 0) throw new Error(`rxcost: ${c}: ${errors} internal errors`);
  return Number(spent) / 1000 / packets;
}

function main(): void {
  const o = parseCaseArgs('rxcost', process.argv.slice(2), CASES);
  for (const c of o.only) {
    const runs: number[] = [];
    for (let i = 0; i < o.rounds; i++) runs.push(measure(c, o.ms / o.rounds));
    runs.sort((a, b) => a - b);
    const med = runs[Math.floor(runs.length / 2)]!;
    process.stdout.write(`${c.padEnd(7)} ${med.toFixed(3)} µs/packet  (runs ${runs.map((x) => x.toFixed(3)).join(' ')})\n`);
  }
}

main();
