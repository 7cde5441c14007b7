// The stack's bounds on what a peer can make it hold: connections in
// TIME_WAIT (Linux tcp_max_tw_buckets) and orphans with data in flight
// (Linux tcp_max_orphans).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { NetStack } from '../../src/socket/net-stack.js';
import type { Socket } from '../../src/socket/socket.js';
import { runUntil } from './harness.js';

function pair(limits: { maxTimeWait?: number; maxOrphans?: number }) {
  const clock = new VirtualClock(1_000_000);
  const [la, lb] = createMemoryPair({ clock, latencyMs: 1, mtu: 1500 });
  const isnKey = Buffer.alloc(16, 7);
  const a = new NetStack({ link: la, addr: '10.0.0.1', clock, isnKey });
  const b = new NetStack({ link: lb, addr: '10.0.0.2', clock, isnKey, ...limits });
  return { clock, a, b, until: (p: () => boolean, ms = 60_000) => runUntil(clock, p, ms) };
}

const states = (s: NetStack): string[] => [...s.connections()].map((ep) => ep.conn.state);

test('TIME_WAIT past maxTimeWait: the connection is forgotten at once and counted (tcp_tw_overflow)', async () => {
  const sim = pair({ maxTimeWait: 2 });
  // B serves and closes first, so B's side ends in TIME_WAIT (an HTTP/1.0 server).
  sim.b.createServer((s) => s.end('bye')).listen(80);
  for (let i = 0; i < 5; i++) {
    const c = sim.a.connect({ port: 80, host: '10.0.0.2' });
    c.resume();
    let closed = false;
    c.on('end', () => c.end());
    c.on('close', () => (closed = true));
    assert.ok(await sim.until(() => closed, 5000), `connection ${i} closed`);
    await sim.until(() => false, 100);
  }
  assert.equal(states(sim.b).filter((s) => s === 'TIME_WAIT').length, 2);
  assert.is(sim.b.counters.get('tcp_tw_overflow'), 3);
  // The bound frees up as TIME_WAIT ends: the next one waits again.
  await sim.until(() => false, 61_000);
  assert.equal(states(sim.b), []);
  const c = sim.a.connect({ port: 80, host: '10.0.0.2' });
  c.resume();
  c.on('end', () => c.end());
  assert.ok(await sim.until(() => states(sim.b).includes('TIME_WAIT'), 5000));
  assert.is(sim.b.counters.get('tcp_tw_overflow'), 3);
});

test('orphans past maxOrphans: a socket closed with data in flight is reset (tcp_orphan_overflow)', async () => {
  const sim = pair({ maxOrphans: 1 });
  // A accepts but never reads: B's data stays in flight once A's window closes.
  const held: Socket[] = [];
  let reset = 0;
  sim.a.createServer((s) => {
    s.pause();
    s.on('error', (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' && reset++);
    held.push(s);
  }).listen(9000);
  const big = Buffer.alloc(2_000_000, 1);
  const socks = [0, 1].map(() => sim.b.connect({ port: 9000, host: '10.0.0.1' }));
  for (const s of socks) s.on('error', () => {});
  assert.ok(await sim.until(() => held.length === 2, 5000));
  for (const s of socks) s.write(big);
  await sim.until(() => false, 2000);
  for (const s of socks) s.destroy();
  await sim.until(() => false, 100);
  assert.is(sim.b.counters.get('tcp_orphan_overflow'), 1);
  // One orphan lives on (its data and FIN still queued), the other was reset.
  assert.equal(states(sim.b), ['ESTABLISHED']);
  await sim.until(() => reset === 1, 1000);
  assert.is(reset, 1);
});

test.run();
