// ECN end to end in virtual time: two stacks, A asking for ECN and B
// accepting it (Linux's default), over a fault link that marks CE on ECN-capable
// packets (`ce`) instead of dropping them. Every byte of an echo arrives, the
// senders' windows shrink on the echoed marks, and nothing is retransmitted:
// marks are not losses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair } from './harness.js';
import type { FaultOptions } from '../../src/link/fault.js';
import type { NetStack } from '../../src/socket/net-stack.js';
import type { TcpConfig } from '../../src/tcp/config.js';

const sha = (bufs: Buffer[]): string => {
  const h = createHash('sha256');
  for (const b of bufs) h.update(b);
  return h.digest('hex');
};

interface EchoResult {
  intact: boolean;
  /** Largest cwnd A's connection had, in bytes. */
  maxCwnd: number;
  a: NetStack;
  b: NetStack;
  marked: number;
}

/** A sends `bytes` to B's echo server and reads them back. */
async function echo(bytes: number, faults: FaultOptions, tcpA: Partial<TcpConfig>): Promise<EchoResult> {
  const sim = simPair({ faults, tcp: tcpA, tcpB: {}, latencyMs: 5 });
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 131 + (i >> 9)) & 0xff;
  sim.b.createServer((s) => s.pipe(s)).listen(7);
  const got: Buffer[] = [];
  let ended = false;
  const c = sim.a.connect({ port: 7, host: '10.0.0.2' });
  c.on('data', (d: Buffer) => got.push(d));
  c.on('end', () => (ended = true));
  c.end(data);
  let maxCwnd = 0;
  await sim.until(() => {
    for (const ep of sim.a.connections()) maxCwnd = Math.max(maxCwnd, ep.conn.cc.cwnd);
    return ended;
  }, 600_000);
  const link = sim.a.link as unknown as { counters: { ceMarked: number } };
  return { intact: ended && sha(got) === sha([data]), maxCwnd, a: sim.a, b: sim.b, marked: link.counters.ceMarked };
}

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: 1 MiB echoed with 2 % CE marks: windows shrink, every byte arrives, nothing resent`, async () => {
    const r = await echo(1 << 20, { ce: 2, delay: 10, seed }, { ecn: 'on' });
    assert.ok(r.intact, 'the echo is intact');
    assert.ok(r.marked > 0, 'packets were marked');
    // Both directions carry ECT data: both senders react.
    for (const [name, s] of [['A', r.a], ['B', r.b]] as const) {
      const c = s.counters;
      assert.ok(c.get('tcp_ecn_cwnd_reductions') > 0, `${name} reduced its window`);
      assert.ok(c.get('tcp_ecn_cwnd_reductions') <= c.get('tcp_ecn_ece_received'), `${name}: at most one reduction per ECE`);
      assert.is(c.get('tcp_retransmitted_segments'), 0, `${name}: a mark is not a loss`);
    }
  });
}

test('the same marks without ECN negotiated touch nothing: no ECT, no marks, the window grows unchecked', async () => {
  const withEcn = await echo(1 << 20, { ce: 2, delay: 10, seed: 1 }, { ecn: 'on' });
  const without = await echo(1 << 20, { ce: 2, delay: 10, seed: 1 }, {});
  assert.ok(without.intact);
  assert.is(without.marked, 0, 'Not-ECT packets are never marked');
  assert.is(without.a.counters.get('tcp_ecn_cwnd_reductions'), 0);
  assert.ok(withEcn.maxCwnd < without.maxCwnd, `cwnd reacts to the marks: ${withEcn.maxCwnd} < ${without.maxCwnd}`);
});

test('socket options: connect({ ecn: true }) asks, createServer({ ecn: false }) refuses, the default accepts', async () => {
  for (const [server, client, want] of [[{}, { ecn: true }, true], [{ ecn: false }, { ecn: true }, false], [{}, {}, false]] as const) {
    const sim = simPair();
    let accepted: boolean | null = null;
    sim.b.createServer(server, (s) => {
      for (const ep of sim.b.connections()) accepted = ep.conn.ecn.ok;
      s.end();
    }).listen(9);
    const c = sim.a.connect({ port: 9, host: '10.0.0.2', ...client });
    c.resume();
    let asked: boolean | null = null;
    c.on('connect', () => {
      for (const ep of sim.a.connections()) asked = ep.conn.ecn.ok;
    });
    await sim.until(() => accepted !== null && asked !== null, 10_000);
    assert.is(accepted, want, `server ${JSON.stringify(server)} client ${JSON.stringify(client)}`);
    assert.is(asked, want);
    c.destroy();
  }
});

test.run();
