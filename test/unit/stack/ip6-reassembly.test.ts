// IPv6 fragment reassembly (RFC 8200 §4.5, RFC 5722, RFC 6946) in virtual
// time: fragments made by hand from a real TCP/IPv6 packet, fed through
// walkIPv6 as the stack will, in every order; overlaps, duplicates, bounds,
// the 60 s timeout and what it hands back for ICMPv6 time exceeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ip6Reassembler, type Ip6FragResult } from '../../../src/stack/ip6-reassembly.js';
import { IPPROTO_TCP } from '../../../src/wire/ipv4.js';
import { buildIPv6Packet, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, upperLayerChecksum6, walkIPv6 } from '../../../src/wire/ipv6.js';
import { prng } from '../wire/fixtures.js';

const A = '2001:db8::1';
const B = '2001:db8::2';

/** A TCP/IPv6 packet with `data` bytes of payload, optionally behind a hop-by-hop header; checksum correct. */
function original(data: number, hbh = false): Buffer {
  const tcp = Buffer.alloc(20 + data);
  tcp.writeUInt16BE(40312, 0);
  tcp.writeUInt16BE(33333, 2);
  tcp[12] = 5 << 4;
  tcp[13] = 0x18;
  for (let i = 20; i < tcp.length; i++) tcp[i] = (i * 7) & 0xff;
  const head = hbh ? Buffer.from([IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0]) : Buffer.alloc(0);
  return buildIPv6Packet({ src: A, dst: B, trafficClass: 0 }, hbh ? IPPROTO_HOPOPTS : IPPROTO_TCP, Buffer.concat([head, tcp]),
    { upperStart: head.length, at: 16, protocol: IPPROTO_TCP });
}

/** RFC 8200 §4.5 fragmentation of `p` (per-fragment part = fixed header [+ HBH]) into pieces of `sizes` bytes. */
function fragment(p: Buffer, sizes: number[], id: number, hbh = false): Buffer[] {
  const unfrag = hbh ? 48 : 40;
  const body = p.subarray(unfrag);
  const out: Buffer[] = [];
  let off = 0;
  for (let k = 0; off < body.length; k++) {
    const n = Math.min(sizes[Math.min(k, sizes.length - 1)]!, body.length - off);
    const last = off + n >= body.length;
    const fh = Buffer.alloc(8);
    fh[0] = hbh ? p[40]! : p[6]!;
    fh.writeUInt16BE(off | (last ? 0 : 1), 2);
    fh.writeUInt32BE(id, 4);
    const head = Buffer.from(p.subarray(0, unfrag));
    if (hbh) head[40] = IPPROTO_FRAGMENT;
    else head[6] = IPPROTO_FRAGMENT;
    const pkt = Buffer.concat([head, fh, body.subarray(off, off + n)]);
    pkt.writeUInt16BE(pkt.length - 40, 4);
    out.push(pkt);
    off += n;
  }
  return out;
}

/** What the stack will do: walk, and hand fragments to the reassembler. */
function feed(r: Ip6Reassembler, pkt: Buffer, now = 0): Ip6FragResult {
  const v = walkIPv6(pkt);
  if (v.action !== 'reassemble') throw new Error(`walk said ${JSON.stringify(v)}`);
  return r.input(pkt, v.fragment, v.dataStart, now);
}

function complete(res: Ip6FragResult): Buffer {
  if (res.kind !== 'complete') throw new Error(`not complete: ${JSON.stringify(res)}`);
  return res.packet;
}

test('in order, reversed and shuffled: the original packet byte for byte, checksum valid, memory back to 0', () => {
  const p = original(3000);
  const frags = fragment(p, [1232], 0x11223344);
  assert.is(frags.length, 3);
  const rnd = prng(7);
  const orders = [frags, [...frags].reverse(), ...Array.from({ length: 20 }, () => [...frags].sort(() => rnd() - 0.5))];
  for (const order of orders) {
    const r = new Ip6Reassembler();
    for (const f of order.slice(0, -1)) assert.equal(feed(r, f), { kind: 'pending' });
    assert.ok(r.memory > 0);
    const out = complete(feed(r, order[order.length - 1]!));
    assert.ok(out.equals(p));
    assert.is(upperLayerChecksum6(out, 40, out.length, IPPROTO_TCP), 0);
    assert.equal([r.memory, r.size, r.counters.get('ip6_frag_reassembled')], [0, 0, 1]);
  }
});

test('the per-fragment headers come from the first fragment, Next Header patched', () => {
  const p = original(2000, true);
  const frags = fragment(p, [1000], 5, true);
  const r = new Ip6Reassembler();
  for (const f of frags.slice(1)) feed(r, f);
  const out = complete(feed(r, frags[0]!));
  assert.ok(out.equals(p));
  assert.equal(walkIPv6(out), { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 48, nextHeaderPointer: 40, atomicFragment: false });
});

test('datagrams are told apart by source, destination and identification', () => {
  const p = original(1500);
  const [a1, a2] = fragment(p, [1000], 1);
  const [b1, b2] = fragment(p, [1000], 2);
  const other = fragment(p, [1000], 1).map((f) => {
    const g = Buffer.from(f);
    g[23] = 9; // another source
    return g;
  });
  const r = new Ip6Reassembler();
  for (const f of [a1!, b1!, other[0]!]) assert.is(feed(r, f).kind, 'pending');
  assert.is(r.size, 3);
  assert.ok(complete(feed(r, b2!)).equals(p));
  assert.ok(complete(feed(r, a2!)).equals(p));
  assert.is(r.size, 1);
});

test('an atomic fragment is delivered alone and leaves a pending datagram of the same id alone (RFC 6946)', () => {
  const p = original(1500);
  const [f1, f2] = fragment(p, [1000], 77);
  const r = new Ip6Reassembler();
  feed(r, f1!);
  const atomic = fragment(original(10), [100], 77)[0]!;
  const v = walkIPv6(atomic);
  assert.equal(v.action === 'deliver' && [v.atomicFragment, v.upperStart], [true, 48]);
  assert.ok(complete(feed(r, f2!)).equals(p));
});

test('a duplicate is dropped alone; the datagram still completes', () => {
  const p = original(3000);
  const frags = fragment(p, [1232], 9);
  const r = new Ip6Reassembler();
  feed(r, frags[0]!);
  assert.equal(feed(r, frags[0]!), { kind: 'drop', reason: 'ip6_frag_duplicate' });
  feed(r, frags[1]!);
  // Bytes inside what two touching pieces hold are a duplicate too (Linux: IPFRAG_DUP).
  const inside = fragment(p, [1232], 9)[0]!;
  const mid = Buffer.concat([inside.subarray(0, 48), p.subarray(40 + 1000, 40 + 1000 + 800)]);
  mid.writeUInt16BE(1000 | 1, 42);
  mid.writeUInt16BE(mid.length - 40, 4);
  assert.equal(feed(r, mid), { kind: 'drop', reason: 'ip6_frag_duplicate' });
  assert.ok(complete(feed(r, frags[2]!)).equals(p));
  assert.is(r.counters.get('ip6_frag_duplicate'), 2);
});

test('an overlap drops the datagram and what comes of it later, until its timer ends (RFC 5722)', () => {
  const p = original(3000);
  const frags = fragment(p, [1232], 3);
  const shifted = fragment(p, [1000, 1232], 3); // second piece starts at 1000: overlaps the first
  const r = new Ip6Reassembler();
  feed(r, frags[0]!, 0);
  assert.equal(feed(r, shifted[1]!, 10), { kind: 'drop', reason: 'ip6_frag_overlap' });
  assert.is(r.memory, 0);
  for (const f of frags.slice(1)) assert.equal(feed(r, f, 20), { kind: 'drop', reason: 'ip6_frag_dead_datagram' });
  // Nothing to report when it expires: the datagram was discarded, not lost.
  assert.equal(r.expire(60_000), []);
  assert.is(r.size, 0);
  for (const f of frags.slice(0, -1)) feed(r, f, 60_001);
  assert.ok(complete(feed(r, frags[2]!, 60_002)).equals(p));
});

test('the end must agree: a second last fragment elsewhere, or data past the end, drop the datagram', () => {
  const p = original(3000);
  const frags = fragment(p, [1232], 4);
  const r = new Ip6Reassembler();
  feed(r, frags[0]!);
  feed(r, frags[2]!); // ends at 3020
  const shortLast = fragment(original(2000), [1232], 4)[1]!; // a last fragment ending at 2020
  assert.equal(feed(r, shortLast), { kind: 'drop', reason: 'ip6_frag_bad_end' });
  assert.equal([r.size, r.memory], [0, 0]);
  feed(r, frags[2]!);
  const past = fragment(original(5000), [1232], 4)[2]!; // M = 1, ends at 3696
  assert.equal(feed(r, past), { kind: 'drop', reason: 'ip6_frag_bad_end' });
  assert.is(r.size, 0);
});

test('60 s after the first-arriving fragment: abandoned, the first fragment handed back for time exceeded', () => {
  const p = original(3000);
  const frags = fragment(p, [1232], 5);
  const r = new Ip6Reassembler();
  feed(r, frags[1]!, 1000);
  feed(r, frags[0]!, 30_000);
  assert.is(r.nextDeadline(), 61_000);
  assert.equal(r.expire(60_999), []);
  const gone = r.expire(61_000);
  assert.is(gone.length, 1);
  assert.ok(gone[0]!.first!.equals(frags[0]!));
  assert.equal([r.size, r.memory, r.nextDeadline(), r.counters.get('ip6_frag_timeout')], [0, 0, undefined, 1]);
  // Without the first fragment there is nothing to quote: no ICMPv6 (RFC 8200 §4.5).
  feed(r, frags[2]!, 70_000);
  assert.equal(r.expire(130_000), [{ first: null }]);
});

test('bounded: bytes held, datagrams in progress, fragments per datagram', () => {
  const p = original(3000);
  const r = new Ip6Reassembler(undefined, { maxBytes: 5000 });
  const frags = fragment(p, [1232], 1);
  assert.is(feed(r, frags[0]!).kind, 'pending');
  assert.is(feed(r, frags[1]!).kind, 'pending');
  assert.equal(feed(r, fragment(p, [1232], 2)[0]!), { kind: 'drop', reason: 'ip6_frag_memory_full' });
  assert.is(r.size, 1);
  assert.ok(r.memory <= 5000);

  const q = new Ip6Reassembler(undefined, { maxQueues: 2 });
  feed(q, fragment(p, [1232], 1)[0]!);
  feed(q, fragment(p, [1232], 2)[0]!);
  assert.equal(feed(q, fragment(p, [1232], 3)[0]!), { kind: 'drop', reason: 'ip6_frag_too_many_queues' });

  const f = new Ip6Reassembler(undefined, { maxFragments: 4 });
  const tiny = fragment(p, [24, 8], 6); // the first holds the TCP header (RFC 7112)
  for (const t of tiny.slice(0, 4)) assert.is(feed(f, t).kind, 'pending');
  assert.equal(feed(f, tiny[4]!), { kind: 'drop', reason: 'ip6_frag_too_many_fragments' });
  assert.equal([f.size, f.memory], [0, 0]);
});

test('a flood of 8-byte fragments stays within 4 MiB', () => {
  const r = new Ip6Reassembler();
  const frags = fragment(original(2400), [24, 8], 0).slice(0, -1); // 300 pieces, never complete
  let dropped = 0;
  for (let id = 0; id < 200; id++) {
    for (const t of frags) {
      t.writeUInt32BE(id, 44);
      if (feed(r, t).kind === 'drop') dropped++;
    }
  }
  assert.ok(r.memory <= 4 * 1024 * 1024, String(r.memory));
  assert.ok(dropped > 0);
});

test('ECN: CE on one fragment marks the datagram; Not-ECT mixed with ECT drops it (RFC 3168 §5.3)', () => {
  const p = original(2000);
  const ecn = (f: Buffer, bits: number): Buffer => {
    const g = Buffer.from(f);
    g[1] = (g[1]! & 0xcf) | (bits << 4);
    return g;
  };
  const frags = fragment(p, [1232], 8);
  const r = new Ip6Reassembler();
  feed(r, ecn(frags[0]!, 2));
  const out = complete(feed(r, ecn(frags[1]!, 3)));
  assert.is((out[1]! >> 4) & 3, 3);
  feed(r, ecn(frags[0]!, 0));
  assert.equal(feed(r, ecn(frags[1]!, 2)), { kind: 'drop', reason: 'ip6_frag_ecn_mismatch' });
  assert.equal([r.size, r.memory], [0, 0]);
});

test('the per-fragment headers and the data together must fit a Payload Length', () => {
  // 8 bytes of hop-by-hop before the fragment header, and 65535 bytes of fragmentable part:
  // each fragment is fine on its own (RFC 8200 §4.5), the datagram would need a Payload Length of 65543.
  const big = Buffer.concat([original(0, true).subarray(0, 48), Buffer.alloc(65535)]);
  const r = new Ip6Reassembler();
  const frags = fragment(big, [8192], 12, true);
  for (const f of frags.slice(0, -1)) assert.is(feed(r, f).kind, 'pending');
  assert.equal(feed(r, frags[frags.length - 1]!), { kind: 'drop', reason: 'ip6_frag_oversize' });
  assert.equal([r.size, r.memory], [0, 0]);
});

test.run();
