import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../../src/stack/clock.js';
import { createMemoryPair } from '../../../src/link/memory.js';
import { FaultLink, type FaultOptions } from '../../../src/link/fault.js';
import type { Link } from '../../../src/link/link.js';
import { decodeIPv4, writeIPv4Header } from '../../../src/wire/ipv4.js';

/** A link on `a`'s side wrapped in faults; returns what arrives at `b` with arrival times. */
function rig(opts: FaultOptions) {
  const clock = new VirtualClock();
  const [a, b] = createMemoryPair({ clock });
  const f = new FaultLink(a, opts, clock);
  const got: Array<{ t: number; p: Buffer }> = [];
  b.onReceive = (ps) => { for (const p of ps) got.push({ t: clock.now(), p: Buffer.from(p) }); };
  const sent: Buffer[] = [];
  const send = (n: number, size = 100): void => {
    for (let i = 0; i < n; i++) {
      const p = Buffer.alloc(size, i & 0xff);
      p.writeUInt32BE(i, 0);
      sent.push(p);
      f.send(p);
    }
  };
  return { clock, f, b, got, send, sent };
}

/** A real IPv4 header (20 bytes, checksum right) with the given TOS, then an id. */
function ipPacket(tos: number, id: number): Buffer {
  const p = Buffer.alloc(40);
  writeIPv4Header(p, 0, { src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, tos }, 20);
  p.writeUInt32BE(id, 20);
  return p;
}

const ids = (got: Array<{ p: Buffer }>): number[] => got.map((g) => g.p.readUInt32BE(0));

test('no faults: everything arrives once, in order, on a later tick', () => {
  const r = rig({});
  r.send(50);
  assert.is(r.got.length, 0, 'not delivered synchronously');
  r.clock.run(1000);
  assert.equal(ids(r.got), [...Array(50).keys()]);
});

test('loss 100 drops everything, loss 30 about 30 percent, same seed same result', () => {
  const all = rig({ loss: 100 });
  all.send(100);
  all.clock.run(1000);
  assert.is(all.got.length, 0);
  assert.is(all.f.counters.lost, 100);

  const runs = [1, 2].map(() => {
    const r = rig({ loss: 30, seed: 7 });
    r.send(2000);
    r.clock.run(1000);
    return ids(r.got);
  });
  assert.equal(runs[0], runs[1], 'deterministic for a seed');
  const lost = 2000 - runs[0]!.length;
  assert.ok(lost > 500 && lost < 700, `lost ${lost}`);
  const other = rig({ loss: 30, seed: 8 });
  other.send(2000);
  other.clock.run(1000);
  assert.not.equal(ids(other.got), runs[0], 'another seed, another pattern');
});

test('ce: ECT(0)/ECT(1) packets marked CE with a valid checksum, Not-ECT ones pass untouched, nothing dropped', () => {
  const r = rig({ ce: 50, seed: 5 });
  const tos = [0x00, 0x02, 0x01, 0x03, 0xb8 | 0x02]; // Not-ECT, ECT(0), ECT(1), CE already, DSCP EF + ECT(0)
  const sent: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    const p = ipPacket(tos[i % tos.length]!, i);
    sent.push(Buffer.from(p));
    r.f.send(p);
  }
  r.clock.run(1000);
  assert.is(r.got.length, 1000, 'marking is not dropping');
  let marked = 0;
  for (const g of r.got) {
    const id = g.p.readUInt32BE(20);
    const before = sent[id]!;
    const d = decodeIPv4(g.p);
    assert.type(d, 'object', 'header checksum still right');
    if (g.p[1] !== before[1]) {
      marked++;
      assert.ok((before[1]! & 3) === 1 || (before[1]! & 3) === 2, 'only ECT packets are marked');
      assert.is(g.p[1], before[1]! | 3, 'CE, DSCP kept');
    }
    assert.ok(g.p.subarray(2, 10).equals(before.subarray(2, 10)) && g.p.subarray(12).equals(before.subarray(12)), 'nothing else changes');
  }
  assert.is(marked, r.f.counters.ceMarked);
  assert.ok(marked > 220 && marked < 380, `about half of the 600 ECT packets: ${marked}`);
});

test('ce 0 draws nothing: a seed replays as before', () => {
  const a = rig({ loss: 30, seed: 9 });
  const b = rig({ loss: 30, ce: 0, seed: 9 });
  for (const r of [a, b]) {
    for (let i = 0; i < 200; i++) r.f.send(ipPacket(2, i));
    r.clock.run(1000);
  }
  assert.equal(a.got.map((g) => g.p.readUInt32BE(20)), b.got.map((g) => g.p.readUInt32BE(20)));
});

test('delay and jitter: arrival after delay, within jitter, order kept without reorder', () => {
  const r = rig({ delay: 10, jitter: 5, seed: 3 });
  r.send(200);
  r.clock.run(1000);
  assert.equal(ids(r.got), [...Array(200).keys()]);
  for (const g of r.got) assert.ok(g.t >= 10 && g.t <= 15, `arrived at ${g.t}`);
});

test('reorder: some packets are overtaken, none lost', () => {
  const r = rig({ reorder: 20, seed: 5 });
  r.send(500);
  r.clock.run(1000);
  const order = ids(r.got);
  assert.is(order.length, 500);
  assert.equal([...order].sort((x, y) => x - y), [...Array(500).keys()]);
  let inversions = 0;
  for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) inversions++;
  assert.ok(inversions > 20, `inversions ${inversions}`);
  assert.ok(r.f.counters.reordered > 50);
});

test('duplicate 100: every packet twice', () => {
  const r = rig({ duplicate: 100 });
  r.send(10);
  r.clock.run(1000);
  assert.equal(ids(r.got), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]);
});

test('corrupt 100: exactly one byte differs, the sender buffer is untouched', () => {
  const r = rig({ corrupt: 100, seed: 11 });
  r.send(100);
  r.clock.run(1000);
  assert.is(r.got.length, 100);
  r.got.forEach((g, i) => {
    const orig = r.sent[i]!;
    let diff = 0;
    for (let j = 0; j < orig.length; j++) if (orig[j] !== g.p[j]) diff++;
    assert.is(diff, 1);
    assert.is(orig.readUInt32BE(4), ((i & 0xff) * 0x01010101) >>> 0, 'original intact');
  });
});

test('rate limit: 1 Mbit/s serializes 1250-byte packets 10 ms apart and tail-drops past the queue', () => {
  const r = rig({ rate: 1e6, queueBytes: 10 * 1250 });
  r.send(20, 1250);
  r.clock.run(10000);
  assert.is(r.got.length, 10);
  assert.is(r.f.counters.queueDropped, 10);
  r.got.forEach((g, i) => assert.ok(Math.abs(g.t - 10 * (i + 1)) < 1e-6, `packet ${i} at ${g.t}`));
});

test('faults apply on the receive side too', () => {
  const clock = new VirtualClock();
  const [a, b] = createMemoryPair({ clock });
  const f: Link = new FaultLink(a, { loss: 100 }, clock);
  let n = 0;
  f.onReceive = (ps) => { n += ps.length; };
  for (let i = 0; i < 10; i++) b.send(Buffer.alloc(40));
  clock.run(100);
  assert.is(n, 0);
});

test('memory pair batches packets sent in one turn and copies reused headers', async () => {
  const [a, b] = createMemoryPair();
  const batches: Buffer[][] = [];
  b.onReceive = (ps) => batches.push(ps.map((p) => Buffer.from(p)));
  const header = Buffer.alloc(4);
  for (let i = 0; i < 5; i++) {
    header.writeUInt32BE(i);
    a.send(header, Buffer.from([9]));
  }
  await new Promise((r) => setImmediate(r));
  assert.is(batches.length, 1);
  assert.equal(batches[0]!.map((p) => p.readUInt32BE(0)), [0, 1, 2, 3, 4]);
  assert.is(batches[0]![0]!.length, 5);
  a.close();
  a.close();
  a.send(header);
  await new Promise((r) => setImmediate(r));
  assert.is(batches.length, 1, 'nothing after close');
});

test.run();
