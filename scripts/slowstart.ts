/**
 * Slow start measured in virtual time: a bulk transfer A -> B over the
 * in-memory link, and A's cwnd at the end of each round trip.
 *
 *   node dist/scripts/slowstart.js [--latency 20] [--rate 0] [--rtts 8] [--cc cubic|newreno]
 *
 * --rate (bit/s) spreads a window over time through the fault link's
 * bottleneck, so the receiver sees segments one by one (delayed ACKs, one per
 * two segments).
 */
import { parseArgs } from 'node:util';
import { measureSlowStart } from '../test/sim/slow-start.js';

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
const cc = args.cc === 'newreno' ? 'newreno' : 'cubic';
const run = await measureSlowStart({ latencyMs, rate, rtts: Number(args.rtts), cc });

console.log(`${cc}, latency ${latencyMs} ms, rate ${rate > 0 ? `${rate} bit/s` : 'unlimited'}`);
run.cwnd.forEach((w, i) => {
  const growth = i > 0 ? ` (x${(w / run.cwnd[i - 1]!).toFixed(2)})` : '';
  console.log(`rtt ${i}: cwnd ${w.toFixed(1)} segments${growth}`);
});
console.log(`the receiver got ${run.received} segments and sent ${run.acks} ACKs (${(run.received / Math.max(1, run.acks)).toFixed(2)} segments per ACK)`);
