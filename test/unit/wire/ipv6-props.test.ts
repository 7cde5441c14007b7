// Property tests of the IPv6 wire layer with fast-check, seeded (FC_SEED=n to
// explore): address text round trips and agrees with the WHATWG URL parser;
// no decoder, walker, formatter or the reassembler throws on any bytes; any
// fragmentation of a packet in any order reassembles to the packet.
import { isIPv6 } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Ip6Reassembler } from '../../../src/stack/ip6-reassembly.js';
import { TcpdumpFormatter } from '../../../src/trace/tcpdump.js';
import { decodeIcmp6, mayAnswerWithError, parseQuote6 } from '../../../src/wire/icmp6.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../src/wire/ipv4.js';
import {
  buildIPv6Packet, decodeIPv6Header, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_NONE,
  IPPROTO_ROUTING, ip6ToBytes, ip6ToString, walkIPv6,
} from '../../../src/wire/ipv6.js';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x5eed6;
const check = (p: fc.IProperty<never> | fc.IProperty<unknown[]>, numRuns = 2000): void =>
  fc.assert(p as fc.IProperty<unknown[]>, { seed: SEED, numRuns });

const addr16 = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  // Mostly zeros, so runs of zero words of every length and place occur.
  fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.nat({ max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((w) => Uint8Array.from(w.flatMap((x) => [x >> 8, x & 0xff]))),
);

test('address text: round trip, valid for node:net, and the URL parser\'s form where tcpdump prints no dotted quad', () => {
  check(fc.property(addr16, (a) => {
    const s = ip6ToString(a, 0);
    const back = ip6ToBytes(s);
    assert.ok(back !== null && Buffer.from(a).equals(back), s);
    assert.ok(isIPv6(s), s);
    if (!s.includes('.')) assert.is(new URL(`http://[${s}]/`).hostname, `[${s}]`);
  }));
});

test('ip6ToBytes never throws and accepts only what node:net calls IPv6 (no zones)', () => {
  const text = fc.stringMatching(/^[0-9a-fA-F:.]{0,46}$/);
  check(fc.property(text, (s) => {
    const b = ip6ToBytes(s);
    assert.is(b !== null, isIPv6(s) && !s.includes('%'), s);
  }), 5000);
});

/** One extension header of a random kind and length with random contents, or junk. */
const extHeader = fc.tuple(
  fc.constantFrom(IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT),
  fc.nat({ max: 3 }),
  fc.uint8Array({ maxLength: 40 }),
).map(([kind, units, body]) => {
  const len = kind === IPPROTO_FRAGMENT ? 8 : (units + 1) * 8;
  const b = Buffer.alloc(len);
  b.set(body.subarray(0, len));
  if (kind !== IPPROTO_FRAGMENT) b[1] = units;
  return { kind, b };
});

/** Packets made of a chain of extension headers and an upper layer, sometimes cut or with a wrong length. */
const chainPacket = fc.tuple(
  fc.array(extHeader, { maxLength: 5 }),
  fc.constantFrom(IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_NONE, 253),
  fc.uint8Array({ maxLength: 64 }),
  fc.boolean(),
  fc.nat({ max: 0xffff }),
  fc.boolean(),
).map(([chain, upper, tail, multicast, badLength, lie]) => {
  const parts: Buffer[] = [];
  for (let i = 0; i < chain.length; i++) {
    const b = Buffer.from(chain[i]!.b);
    b[0] = i + 1 < chain.length ? chain[i + 1]!.kind : upper;
    parts.push(b);
  }
  const first = chain.length > 0 ? chain[0]!.kind : upper;
  const p = buildIPv6Packet({ src: '2001:db8::1', dst: multicast ? 'ff02::1' : '2001:db8::2' }, first, Buffer.concat([...parts, Buffer.from(tail)]));
  if (lie) p.writeUInt16BE(badLength, 4);
  return p;
});

const anyBytes = fc.uint8Array({ maxLength: 200 }).map((a) => {
  const b = Buffer.from(a);
  if (b.length > 0 && b[0]! % 2 === 0) b[0] = 0x60 | (b[0]! & 0x0f);
  if (b.length >= 40 && b[1]! % 2 === 0) b.writeUInt16BE(b.length - 40, 4);
  return b;
});

test('nothing throws on any packet: header, walk, ICMPv6, quote, error policy, tcpdump line', () => {
  const f = new TcpdumpFormatter();
  check(fc.property(fc.oneof(chainPacket, anyBytes), (p) => {
    decodeIPv6Header(p);
    const v = walkIPv6(p);
    const end = p.length >= 40 ? Math.min(p.length, 40 + p.readUInt16BE(4)) : 0;
    if (v.action === 'deliver') assert.ok(v.upperStart <= end && v.nextHeaderPointer < v.upperStart, JSON.stringify(v));
    if (v.action === 'reassemble') assert.ok(v.dataStart <= end && v.fragment.headerOffset + 8 === v.dataStart);
    if (v.action === 'param_problem') assert.ok(v.pointer < Math.max(end, 1), JSON.stringify(v));
    if (v.action === 'deliver' && v.protocol === IPPROTO_ICMPV6) decodeIcmp6(p, v.upperStart, end);
    decodeIcmp6(p, 40, undefined, false);
    parseQuote6(p);
    mayAnswerWithError(p, 1, 4);
    f.format(p);
  }), 20000);
  assert.is(f.internalErrors, 0);
});

test('any fragmentation in any order reassembles to the packet; junk fragments never throw or leak', () => {
  const original = fc.uint8Array({ minLength: 20, maxLength: 3000 }).map((data) =>
    buildIPv6Packet({ src: '2001:db8::1', dst: '2001:db8::2' }, IPPROTO_UDP, data));
  const plan = fc.tuple(original, fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }), fc.nat(), fc.nat({ max: 0xffffffff }));
  check(fc.property(plan, ([p, units, seed, id]) => {
    const body = p.subarray(40);
    const frags: Buffer[] = [];
    for (let off = 0, k = 0; off < body.length; k++) {
      // The first fragment holds the UDP header (RFC 7112).
      const n = Math.min(Math.max(units[k % units.length]! * 8, k === 0 ? 8 : 0), body.length - off);
      const fh = Buffer.alloc(8);
      fh[0] = IPPROTO_UDP;
      fh.writeUInt16BE(off | (off + n < body.length ? 1 : 0), 2);
      fh.writeUInt32BE(id, 4);
      frags.push(buildIPv6Packet({ src: '2001:db8::1', dst: '2001:db8::2' }, IPPROTO_FRAGMENT, Buffer.concat([fh, body.subarray(off, off + n)])));
      off += n;
    }
    // A seeded shuffle.
    for (let i = frags.length - 1, s = seed; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [frags[i], frags[j]] = [frags[j]!, frags[i]!];
    }
    const r = new Ip6Reassembler();
    let out: Buffer | null = null;
    for (const f of frags) {
      const v = walkIPv6(f);
      if (v.action === 'deliver') {
        // Only an atomic fragment (the packet in one piece) is delivered.
        assert.ok(v.atomicFragment && frags.length === 1);
        out = Buffer.concat([f.subarray(0, 40), f.subarray(48)]);
        out[6] = IPPROTO_UDP;
        out.writeUInt16BE(out.length - 40, 4);
        continue;
      }
      if (v.action !== 'reassemble') throw new Error(JSON.stringify(v));
      const res = r.input(f, v.fragment, v.dataStart, 0);
      if (res.kind === 'complete') out = res.packet;
      else assert.is(res.kind, 'pending');
    }
    assert.ok(out !== null && out.equals(p));
    assert.equal([r.memory, r.size], [0, 0]);
  }), 500);

  const junk = fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 8191 }), fc.boolean(), fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 120_000 })), { maxLength: 40 });
  check(fc.property(junk, (list) => {
    const r = new Ip6Reassembler(undefined, { maxBytes: 4000, maxQueues: 3, maxFragments: 8 });
    let now = 0;
    for (const [id, off, more, data, dt] of list) {
      now += dt % 1000;
      const fh = Buffer.from([IPPROTO_UDP, 0, 0, 0, 0, 0, 0, id]);
      fh.writeUInt16BE((off << 3) | (more ? 1 : 0), 2);
      const f = buildIPv6Packet({ src: '2001:db8::1', dst: '2001:db8::2' }, IPPROTO_FRAGMENT, Buffer.concat([fh, data]));
      const v = walkIPv6(f);
      if (v.action === 'reassemble') {
        const res = r.input(f, v.fragment, v.dataStart, now);
        if (res.kind === 'complete') assert.ok(typeof decodeIPv6Header(res.packet) !== 'string');
      }
      assert.ok(r.memory <= 4000 && r.size <= 3);
      r.expire(now);
    }
    r.expire(now + 60_000);
    assert.equal([r.memory, r.size], [0, 0]);
  }), 2000);
});

test.run();
