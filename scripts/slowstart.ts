/**
 * Slow start measured in virtual time: a bulk transfer A -> B over the
 * in-memory link, and A's cwnd at the end of each round trip.
 *
 *   node dist/scripts/slowstart.js [--latency 20] [--rate 0] [--rtts 8] [--cc cubic|newreno]
 *
 * --rate (bit/s) spreads a window over time through the fault link's
 * bottleneck, so the receiver sees segments one by one (delayed ACKs, one per
 * two segments); without it a window arrives as one batch and the ACK
 * coalescer answers it with one stretch ACK.
 */
import { parseArgs } from 'node:util';
import { simPair } from '../test/sim/harness.js';
import type { Connection } from '../src/tcp/connection.js';
import type { NetStack } from '../src/socket/net-stack.js';

const { values: args } = parseArgs({
  options: {
    latency: { type: 'string', default: '20' },
    rate: { type: 'string', default: '0' },
    rtts: { type: 'string', default: '8' },
    cc: { type: 'string', default: 'cubic' },
  },
});
const latencyMs = Number(args.latency);
const rate = Number(args.rate);
const rtts = Number(args.rtts);
const cc = args.cc === 'newreno' ? 'newreno' : 'cubic';

/** Room for the whole slow start: a receive window that never limits. */
const tcp = { rcvBuf: 16 * 1024 * 1024, sndBuf: 16 * 1024 * 1024, cc } as const;
const sim = simPair({ latencyMs, tcp, faults: rate > 0 ? { rate, queueBytes: 64 * 1024 * 1024 } : undefined });

function connOf(stack: NetStack): Connection | undefined {
  for (const ep of stack.connections()) return ep.conn;
  return undefined;
}

sim.b.createServer((s) => s.on('data', () => {})).listen(80);
const c = sim.a.connect(80, '10.0.0.2');
let established = false;
c.on('connect', () => {
  established = true;
  c.write(Buffer.alloc(64 * 1024 * 1024));
});
await sim.until(() => established, 10_000);
const conn = connOf(sim.a)!;
const mss = conn.effMss;
const rtt = 2 * latencyMs;
const rows: string[] = [];
const inB = sim.b.counters.get('tcp_in');
const outB = sim.b.counters.get('tcp_out');
let prev = conn.cc.cwnd;
rows.push(`rtt 0: cwnd ${(prev / mss).toFixed(1)} segments`);
for (let i = 1; i <= rtts; i++) {
  await sim.wait(rtt);
  const cwnd = conn.cc.cwnd;
  rows.push(`rtt ${i}: cwnd ${(cwnd / mss).toFixed(1)} segments (x${(cwnd / prev).toFixed(2)})`);
  prev = cwnd;
}
console.log(`${cc}, latency ${latencyMs} ms, rate ${rate > 0 ? `${rate} bit/s` : 'unlimited'}`);
for (const r of rows) console.log(r);
const data = sim.b.counters.get('tcp_in') - inB;
const acks = sim.b.counters.get('tcp_out') - outB;
console.log(`the receiver got ${data} segments and sent ${acks} ACKs (${(data / Math.max(1, acks)).toFixed(2)} segments per ACK)`);
c.destroy();
await sim.wait(1);
process.exit(0);
