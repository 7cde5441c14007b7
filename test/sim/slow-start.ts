/**
 * Slow start measured in virtual time: a bulk transfer A -> B over the
 * in-memory link, and A's cwnd (in segments) at the end of each round trip
 * after the handshake. Used by scripts/slowstart.ts and slowstart.test.ts.
 *
 * `rate` (bit/s) spreads a window over time through the fault link's
 * bottleneck, so the receiver sees the segments one by one.
 */
import { simPair } from './harness.js';
import type { NetStack } from '../../src/socket/net-stack.js';
import type { Connection } from '../../src/tcp/connection.js';

export interface SlowStartRun {
  /** cwnd in segments at the handshake and after each RTT. */
  cwnd: number[];
  /** Segments the receiver got and ACKs it sent meanwhile. */
  received: number;
  acks: number;
}

function connOf(stack: NetStack): Connection | undefined {
  for (const ep of stack.connections()) return ep.conn;
  return undefined;
}

export async function measureSlowStart(o: { latencyMs: number; rate: number; rtts: number; cc: 'cubic' | 'newreno' }): Promise<SlowStartRun> {
  // A receive window and send buffer that never limit the first RTTs.
  const tcp = { rcvBuf: 16 * 1024 * 1024, sndBuf: 16 * 1024 * 1024, cc: o.cc };
  const sim = simPair({ latencyMs: o.latencyMs, tcp, faults: o.rate > 0 ? { rate: o.rate, queueBytes: 64 * 1024 * 1024 } : undefined });
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
  const inB = sim.b.counters.get('tcp_in');
  const outB = sim.b.counters.get('tcp_out');
  const cwnd = [conn.cc.cwnd / mss];
  for (let i = 1; i <= o.rtts; i++) {
    await sim.wait(2 * o.latencyMs);
    cwnd.push(conn.cc.cwnd / mss);
  }
  const run = { cwnd, received: sim.b.counters.get('tcp_in') - inB, acks: sim.b.counters.get('tcp_out') - outB };
  c.destroy();
  await sim.wait(1);
  sim.a.close();
  sim.b.close();
  return run;
}
