// IPv4 reassembly (stack/ip-reassembly.ts) alone: fragments in, datagrams out,
// every bound and every outcome counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IpReassembly, FRAGMENT_OVERHEAD, DATAGRAM_OVERHEAD } from '../../../src/stack/ip-reassembly.js';
import { Counters } from '../../../src/stack/counters.js';
import { buildIcmpPacket, ICMP_ECHO_REQUEST } from '../../../src/wire/icmp.js';
import { fragmentIPv4, readIPv4, setIPv4Checksum, IPv4Datagram, IPPROTO_ICMP } from '../../../src/wire/ipv4.js';
import { Prng } from '../../../src/link/prng.js';

const PEER = '10.55.0.1';
const US = '10.55.0.2';

/** An echo request of `n` data bytes, DF clear, identification `id`. */
function datagram(n: number, id = 0x1234): Buffer {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + 3) & 0xff;
  return buildIcmpPacket({ src: PEER, dst: US, protocol: IPPROTO_ICMP, id, dontFragment: false }, ICMP_ECHO_REQUEST, 0, 0x00010001, data);
}

/** A fragment of `whole`'s data [off, off + len) by hand (fragmentIPv4 only makes good ones). */
function piece(whole: Buffer, off: number, len: number, mf: boolean): Buffer {
  const f = Buffer.concat([whole.subarray(0, 20), whole.subarray(20 + off, 20 + off + len)]);
  f.writeUInt16BE(f.length, 2);
  f.writeUInt16BE((mf ? 0x2000 : 0) | (off >>> 3), 6);
  setIPv4Checksum(f);
  return f;
}

function setup(opts?: { highThresh?: number; timeoutMs?: number }): { r: IpReassembly; c: Counters; add: (f: Buffer, now?: number) => Buffer | null } {
  const c = new Counters();
  const r = new IpReassembly(c, opts);
  const ip = new IPv4Datagram();
  return {
    r, c,
    add: (f, now = 0) => {
      const bad = readIPv4(f, 0, f.length, ip, true);
      if (bad !== null) throw new Error(bad);
      return r.add(ip, now);
    },
  };
}

test('fragmentIPv4: a 4028-byte datagram at MTU 1500 is three fragments, data in multiples of 8, MF on all but the last', () => {
  const d = datagram(4000);
  const fs = fragmentIPv4(d, 1500, 77);
  assert.equal(fs.map((f) => f.length), [1500, 1500, 1068]);
  assert.equal(fs.map((f) => f.readUInt16BE(6)), [0x2000 | 0, 0x2000 | 185, 370]);
  for (const f of fs) assert.is(f.readUInt16BE(4), 77);
  assert.equal(fragmentIPv4(d, 4028, 1), [d]);
  assert.throws(() => fragmentIPv4(d, 27, 1), RangeError);
  assert.is(fragmentIPv4(d, 68, 1).length, Math.ceil(4008 / 48));
});

test('in order: the last fragment gives back the datagram byte for byte', () => {
  const { r, c, add } = setup();
  const d = datagram(4000);
  const fs = fragmentIPv4(d, 1500, 0x1234);
  assert.is(add(fs[0]!), null);
  assert.is(add(fs[1]!), null);
  assert.equal(add(fs[2]!), d);
  assert.is(r.pending, 0);
  assert.is(r.memory, 0);
  assert.is(c.get('ip_reasm_ok'), 1);
  assert.is(c.get('ip_reasm_fragments'), 3);
});

test('reverse and shuffled order', () => {
  const { r, add } = setup();
  const d = datagram(5000);
  const fs = fragmentIPv4(d, 576, 0x1234);
  for (let i = fs.length - 1; i > 0; i--) assert.is(add(fs[i]!), null);
  assert.equal(add(fs[0]!), d);
  const rng = new Prng(3);
  const order = fs.map((_, i) => i).sort(() => rng.next() - 0.5);
  let out: Buffer | null = null;
  for (const i of order) out = add(fs[i]!);
  assert.equal(out, d);
  assert.is(r.pending, 0);
});

test('overlapping fragments drop the whole datagram (RFC 5722, Linux ReasmOverlaps)', () => {
  const { r, c, add } = setup();
  const d = datagram(3000);
  assert.is(add(piece(d, 0, 1480, true)), null);
  assert.is(add(piece(d, 1472, 1000, true)), null); // overlaps the first by one unit
  assert.is(c.get('ip_reasm_overlap'), 1);
  assert.is(r.pending, 0);
  assert.is(r.memory, 0);
  // What comes later starts a new datagram, which never completes from these.
  assert.is(add(piece(d, 1480, 1528, false)), null);
  assert.is(r.pending, 1);
  // An overlap inside: a piece covering part of a held one.
  const s = setup();
  s.add(piece(d, 0, 2000, true));
  assert.is(s.add(piece(d, 8, 16, true)), null);
  assert.is(s.c.get('ip_reasm_overlap'), 1);
  assert.is(s.r.pending, 0);
});

test('an exact duplicate is dropped alone; the datagram still completes', () => {
  const { c, add } = setup();
  const d = datagram(3000);
  const fs = fragmentIPv4(d, 1500, 0x1234);
  add(fs[0]!);
  assert.is(add(fs[0]!), null);
  assert.is(c.get('ip_reasm_duplicate'), 1);
  add(fs[1]!);
  assert.is(add(fs[1]!), null);
  assert.equal(add(fs[2]!), d);
  assert.is(c.get('ip_reasm_duplicate'), 2);
  assert.is(c.get('ip_reasm_overlap'), 0);
});

test('malformed: data beyond the last fragment, two different ends, the ping of death', () => {
  const d = datagram(3000);
  const a = setup();
  a.add(piece(d, 1480, 1528, false)); // the end is 3008
  a.add(piece(d, 0, 1000, true)); // a hole from 1000 to 1480
  assert.is(a.r.pending, 1);
  assert.is(a.add(piece(d, 2048, 600, false)), null); // a second, different end
  assert.is(a.c.get('ip_reasm_malformed'), 1);
  assert.is(a.r.pending, 0);
  const b = setup();
  b.add(piece(d, 1000, 1000, false)); // last: ends at 2000
  assert.is(b.add(piece(d, 2000, 8, true)), null); // beyond the end
  assert.is(b.c.get('ip_reasm_malformed'), 1);
  assert.is(b.r.pending, 0);
  // Offset 65528 with 16 bytes: more than 65535 in all.
  const big = Buffer.alloc(36);
  big.set(d.subarray(0, 20));
  big.writeUInt16BE(36, 2);
  big.writeUInt16BE(65528 >>> 3, 6);
  setIPv4Checksum(big);
  const p = setup();
  assert.is(p.add(big), null);
  assert.is(p.c.get('ip_reasm_oversize'), 1);
  assert.is(p.r.pending, 0);
});

test('timeout after 30 s: time exceeded material only when the first fragment was seen', () => {
  const { r, c, add } = setup();
  const d1 = datagram(3000, 1);
  const d2 = datagram(3000, 2);
  const f1 = fragmentIPv4(d1, 1500, 1);
  const f2 = fragmentIPv4(d2, 1500, 2);
  add(f1[0]!, 1000); // the first fragment of d1
  add(f2[2]!, 2000); // only the last of d2
  assert.is(r.nextDeadline(), 31000);
  assert.equal(r.expire(30999), []);
  const q = r.expire(31000);
  assert.equal(q, [f1[0]!]); // its header and data, to quote
  assert.is(r.nextDeadline(), 32000);
  assert.equal(r.expire(40000), []); // d2 had no first fragment: nothing to quote
  assert.is(c.get('ip_reasm_timeout'), 2);
  assert.is(r.pending, 0);
  assert.is(r.memory, 0);
  assert.is(r.nextDeadline(), Infinity);
});

test('the memory bound: a flood with random IDs evicts the oldest and never holds more than the bound', () => {
  const bound = 200_000;
  const { r, c, add } = setup({ highThresh: bound });
  const rng = new Prng(11);
  const d = datagram(1500);
  let most = 0;
  for (let i = 0; i < 20_000; i++) {
    const f = piece(d, 8 * rng.int(100), 8 * (1 + rng.int(100)), true);
    f.writeUInt16BE(rng.int(0x10000), 4);
    setIPv4Checksum(f);
    add(f);
    most = Math.max(most, r.memory);
  }
  assert.ok(most <= bound, `held ${most}`);
  assert.ok(c.get('ip_reasm_evicted') > 10_000, `evicted ${c.get('ip_reasm_evicted')}`);
  assert.ok(r.pending <= bound / DATAGRAM_OVERHEAD);
  // A real datagram still gets through while the flood fills the table.
  const real = fragmentIPv4(datagram(3000, 0xbeef), 1500, 0xbeef);
  add(real[0]!);
  add(real[1]!);
  assert.equal(add(real[2]!), datagram(3000, 0xbeef));
});

test('a 64 KiB datagram in 8-byte fragments, in reverse: completes, in linear time', () => {
  const { r, add } = setup();
  const d = datagram(65535 - 28);
  const n = Math.ceil((d.length - 20) / 8);
  const frags: Buffer[] = [];
  for (let i = 0; i < n; i++) frags.push(piece(d, 8 * i, Math.min(8, d.length - 20 - 8 * i), i < n - 1));
  const t0 = performance.now();
  let out: Buffer | null = null;
  for (let i = n - 1; i >= 0; i--) {
    out = add(frags[i]!);
    if (i > 0) assert.ok(out === null);
  }
  const ms = performance.now() - t0;
  assert.equal(out, d);
  assert.is(r.memory, 0);
  // 8189 fragments; quadratic work (an array insert per fragment) would be tens of millions of moves.
  assert.ok(ms < 2000, `${ms} ms`);
  assert.ok(n * (8 + FRAGMENT_OVERHEAD) + DATAGRAM_OVERHEAD < 4 * 1024 * 1024, 'fits the default bound');
});

test('a non-last fragment whose length is not a multiple of 8 is trimmed (Linux)', () => {
  const { add } = setup();
  const d = datagram(3000);
  assert.is(add(piece(d, 0, 1004, true)), null); // keeps 1000
  assert.equal(add(piece(d, 1000, 2008, false)), d);
});

test.run();

/** `f` with its ECN field set to `ecn` (checksum fixed). */
function withEcn(f: Buffer, ecn: number): Buffer {
  const g = Buffer.from(f);
  g[1] = (g[1]! & 0xfc) | ecn;
  setIPv4Checksum(g);
  return g;
}

test('ECN (RFC 3168 §5.3): CE on one fragment of ECT(0) ones marks the datagram CE; Not-ECT mixed with ECT drops it', () => {
  const { c, add } = setup();
  const fs = fragmentIPv4(datagram(4000, 1), 1500, 1);
  assert.is(add(withEcn(fs[0]!, 2)), null);
  assert.is(add(withEcn(fs[1]!, 3)), null);
  const d = add(withEcn(fs[2]!, 2))!;
  assert.ok(d !== null);
  assert.is(d[1]! & 3, 3);
  // all ECT(0): stays ECT(0)
  const gs = fragmentIPv4(datagram(4000, 2), 1500, 2);
  add(withEcn(gs[0]!, 2));
  add(withEcn(gs[1]!, 2));
  assert.is(add(withEcn(gs[2]!, 2))![1]! & 3, 2);
  // Not-ECT with ECT(0): dropped
  const hs = fragmentIPv4(datagram(4000, 3), 1500, 3);
  add(withEcn(hs[0]!, 0));
  add(withEcn(hs[1]!, 2));
  assert.is(add(withEcn(hs[2]!, 0)), null);
  assert.is(c.get('ip_reasm_ecn_mismatch'), 1);
});
