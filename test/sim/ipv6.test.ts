// Two stacks talking IPv6 in virtual time: both directions through the
// socket API, a lossy transfer, an MTU drop answered with packet too big,
// offload, and node:net's family selection for names with both families.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, A_ADDR6, B_ADDR, B_ADDR6, type SimOptions } from './harness.js';
import { PathMtuLink } from './path-mtu-link.js';
import { Prng } from '../../src/link/prng.js';
import type { Socket } from '../../src/socket/socket.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function randomData(bytes: number, seed = 3): Buffer {
  const r = new Prng(seed);
  const data = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < data.length; i++) data[i] = r.int(256);
  return data;
}

/** A uploads `bytes` to B's port 9 over IPv6; B counts what arrives. */
async function upload6(bytes: number, limitMs: number, extra: SimOptions = {}) {
  const sim = simPair({ latencyMs: 10, ipv6: true, ...extra });
  const data = randomData(bytes);
  const got: Buffer[] = [];
  let ended = false;
  let server: Socket | null = null;
  sim.b.createServer((s) => {
    server = s;
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => { ended = true; });
  }).listen(9);
  const t0 = sim.clock.now();
  const c = sim.a.connect(9, B_ADDR6).end(data);
  const done = await sim.until(() => ended, limitMs);
  const n = got.reduce((k, b) => k + b.length, 0);
  return { sim, c, server: server as Socket | null, done, n, ms: sim.clock.now() - t0, intact: sha(Buffer.concat(got)) === sha(data) };
}

test('IPv6 both ways through the socket API: families, addresses, data echoed intact', async () => {
  const sim = simPair({ ipv6: true });
  for (const st of [sim.a, sim.b]) {
    st.createServer((s) => s.pipe(s)).listen(7);
  }
  const data = randomData(100_000);
  const results: Array<{ got: Buffer; s: Socket }> = [];
  for (const [from, to] of [[sim.a, B_ADDR6], [sim.b, A_ADDR6]] as const) {
    const parts: Buffer[] = [];
    const s = from.connect(7, to);
    s.on('data', (d: Buffer) => parts.push(d));
    s.end(data);
    const r = { got: Buffer.alloc(0), s };
    s.on('end', () => { r.got = Buffer.concat(parts); });
    results.push(r);
  }
  assert.ok(await sim.until(() => results.every((r) => r.got.length === data.length), 30_000));
  const [ab, ba] = results;
  assert.equal([ab!.s.remoteAddress, ab!.s.remoteFamily, ab!.s.localAddress, ab!.s.address().family], [B_ADDR6, 'IPv6', A_ADDR6, 'IPv6']);
  assert.equal([ba!.s.remoteAddress, ba!.s.remoteFamily, ba!.s.localAddress], [A_ADDR6, 'IPv6', B_ADDR6]);
  for (const r of results) assert.ok(r.got.equals(data));
  assert.is(sim.a.counters.get('ipv6_ignored'), 0);
});

test('a listener takes both families by default; address() says "::" as node:net', async () => {
  const sim = simPair({ ipv6: true });
  const families: string[] = [];
  const srv = sim.b.createServer((s) => { families.push(s.remoteFamily!); s.end(); }).listen(80);
  sim.a.connect(80, B_ADDR6).resume();
  sim.a.connect(80, B_ADDR).resume();
  assert.ok(await sim.until(() => families.length === 2, 10_000));
  assert.equal(families.sort(), ['IPv4', 'IPv6']);
  assert.equal(srv.address(), { address: '::', family: 'IPv6', port: 80 });
  const v4 = sim.b.createServer().listen(81, '0.0.0.0');
  const refused: string[] = [];
  sim.a.connect(81, B_ADDR6).on('error', (e: Error & { code?: string }) => refused.push(e.code!));
  assert.ok(await sim.until(() => refused.length === 1, 10_000));
  assert.equal(refused, ['ECONNREFUSED']);
  assert.is(v4.address()!.family, 'IPv4');
});

test('1 MB over IPv6 with 2 % loss, several seeds: intact', async () => {
  for (const seed of [1, 2, 3]) {
    const { done, n, ms, intact, sim } = await upload6(1 << 20, 300_000, { faults: { loss: 2, seed } });
    assert.ok(done && intact, `seed ${seed}: ${n} bytes by ${ms} ms, intact ${intact}`);
    assert.ok(sim.a.counters.get('tcp_retransmitted_segments') > 0, 'losses were repaired');
    for (const ep of sim.a.connections()) assert.is(ep.conn.cfg.ipv6, true);
  }
});

test('the path MTU drops to 1300 mid-transfer: packet too big shrinks SND.MSS to 1300 - 60 and 2 MB arrive intact', async () => {
  let router: PathMtuLink | null = null;
  const { sim, done, n, ms, intact } = await upload6(2 << 20, 60_000, {
    wrapA: (link, clock) => (router = new PathMtuLink(link, { mtu: 1300, icmp: true, at: clock.now() + 80 }, clock)),
  });
  assert.ok(done, `finished: ${n} bytes by ${ms} ms`);
  assert.ok(intact);
  const r = router as unknown as PathMtuLink;
  assert.ok(r.dropped > 0 && r.icmpSent > 0);
  const c = sim.a.counters;
  assert.is(c.get('ip6_pmtu_lowered'), 1);
  assert.is(c.get('tcp_rto_expired'), 0, 'no timeout: resent at once');
  for (const ep of sim.a.connections()) assert.is(ep.conn.sndMss, 1300 - 60);
});

test('ECN over IPv6 (RFC 3168 in the traffic class): ECT(0) data marked CE by the link, windows shrink, nothing resent', async () => {
  const { done, intact, sim } = await upload6(1 << 20, 120_000, { faults: { ce: 2, delay: 10, seed: 1 }, tcp: { ecn: 'on' }, tcpB: {} });
  assert.ok(done && intact);
  const link = sim.a.link as unknown as { counters: { ceMarked: number } };
  assert.ok(link.counters.ceMarked > 0, 'IPv6 packets were marked');
  assert.ok(sim.b.counters.get('tcp_ecn_ce_received') > 0, 'B read CE from the traffic class');
  assert.ok(sim.a.counters.get('tcp_ecn_cwnd_reductions') > 0, 'A reduced its window');
  assert.is(sim.a.counters.get('tcp_retransmitted_segments'), 0);
});

test('IPv6 over an offload link (partial checksums, super-segments): 1 MB intact', async () => {
  const { done, intact, sim } = await upload6(1 << 20, 60_000, { offload: true });
  assert.ok(done && intact);
  assert.ok(sim.a.counters.get('tcp_gso_out') > 0);
});

test('a name with both families: IPv6 first when listed first; an unanswering address gives way after the attempt timeout', async () => {
  const sim = simPair({ ipv6: true });
  sim.b.createServer((s) => s.end()).listen(80);
  const both = (list: Array<{ address: string; family: number }>) => (_h: string, o: object, cb: (e: null, l: unknown) => void): void => {
    assert.is((o as { all?: boolean }).all, true);
    process.nextTick(() => cb(null, list));
  };
  const c1 = sim.a.connect({ port: 80, host: 'b.test', lookup: both([{ address: B_ADDR6, family: 6 }, { address: B_ADDR, family: 4 }]) as never });
  let ok1 = false;
  c1.on('connect', () => { ok1 = true; }).resume();
  assert.ok(await sim.until(() => ok1, 5_000));
  assert.is(c1.remoteFamily, 'IPv6');
  const events: string[] = [];
  const c2 = sim.a.connect({ port: 80, host: 'b.test', lookup: both([{ address: 'fd00::99', family: 6 }, { address: B_ADDR, family: 4 }]) as never });
  c2.on('connectionAttemptTimeout', (a: string) => events.push(`timeout ${a}`));
  let ok2 = false;
  const t0 = sim.clock.now();
  c2.on('connect', () => { ok2 = true; }).resume();
  assert.ok(await sim.until(() => ok2, 5_000));
  assert.equal([c2.remoteFamily, c2.remoteAddress], ['IPv4', B_ADDR]);
  assert.equal(events, ['timeout fd00::99']);
  assert.ok(sim.clock.now() - t0 >= 250);
});

test.run();
