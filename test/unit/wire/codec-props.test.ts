// Property tests of the IPv4 and TCP codecs with fast-check, seeded so CI is
// deterministic (a failure prints the seed and the shrunk counterexample;
// FC_SEED=n overrides the seed to explore).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeIPv4, numberToIp, IPPROTO_TCP, setIPv4Checksum, type IPv4Fields } from '../../../src/wire/ipv4.js';
import { buildTcpPacket, decodeTcp, setTcpChecksum, tcpOptionLength, tcpOptionsLength, type TcpFields, type TcpOption } from '../../../src/wire/tcp.js';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x5eed;
const RUNS = 2000;
const check = (p: fc.IProperty<never> | fc.IProperty<unknown[]>): void => fc.assert(p as fc.IProperty<unknown[]>, { seed: SEED, numRuns: RUNS });

const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const ip = u32.map(numberToIp);
/** Option kinds the decoder knows; anything else is carried as 'unknown'. */
const KNOWN = new Set([0, 1, 2, 3, 4, 5, 8]);

/** One well-formed option (EOL only ends a list, so it is added separately). */
const option: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  u16.map((mss): TcpOption => ({ kind: 'mss', mss })),
  fc.nat({ max: 255 }).map((shift): TcpOption => ({ kind: 'wscale', shift })),
  fc.constant<TcpOption>({ kind: 'sackOK' }),
  fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }).map((blocks): TcpOption => ({ kind: 'sack', blocks })),
  fc.tuple(u32, u32).map(([val, ecr]): TcpOption => ({ kind: 'ts', val, ecr })),
  fc.tuple(fc.nat({ max: 255 }).filter((k) => !KNOWN.has(k)), fc.uint8Array({ maxLength: 12 }))
    .map(([code, data]): TcpOption => ({ kind: 'unknown', code, data: Buffer.from(data) })),
);

/** Lists that fit the 40 bytes of option space, sometimes ending in an explicit EOL. */
const options = fc.tuple(fc.array(option, { maxLength: 8 }), fc.boolean())
  .map(([list, eol]) => (eol ? [...list, { kind: 'eol' } as TcpOption] : list))
  .filter((list) => tcpOptionsLength(list) <= 40);

const ipFields: fc.Arbitrary<IPv4Fields> = fc.record({
  src: ip, dst: ip, protocol: fc.constant(IPPROTO_TCP), ttl: fc.nat({ max: 255 }), id: u16,
  tos: fc.nat({ max: 255 }), dontFragment: fc.boolean(),
});
const tcpFields: fc.Arbitrary<TcpFields> = fc.record({
  srcPort: u16, dstPort: u16, seq: u32, ack: u32, flags: fc.nat({ max: 255 }), window: u16, urgent: u16, options,
});
const payload = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

test('IPv4 + TCP: decode(encode(fields)) gives the fields back, checksums verified', () => {
  check(fc.property(ipFields, tcpFields, payload, (i, t, data) => {
    const pkt = buildTcpPacket(i, t, data);
    const d = decodeIPv4(pkt);
    if (typeof d === 'string') return false;
    assert.equal([d.src, d.dst, d.ttl, d.id, d.tos, d.dontFragment, d.moreFragments, d.fragmentOffset, d.protocol],
      [i.src, i.dst, i.ttl, i.id, i.tos, i.dontFragment, false, 0, IPPROTO_TCP]);
    const s = decodeTcp(d, true);
    if (typeof s === 'string') return false;
    assert.equal([s.srcPort, s.dstPort, s.seq, s.ack, s.flags, s.window, s.urgent], [t.srcPort, t.dstPort, t.seq, t.ack, t.flags, t.window, t.urgent]);
    assert.ok(s.payload.equals(data));
    // The list as written, then the zero padding, which reads as one EOL (RFC 9293 §3.2).
    const written = t.options!;
    const padded = tcpOptionsLength(written) > written.reduce((n, o) => n + tcpOptionLength(o), 0);
    const expected = written.some((o) => o.kind === 'eol') || !padded ? written : [...written, { kind: 'eol' }];
    assert.equal(s.options.list, expected);
    return true;
  }));
});

test('IPv4 + TCP: encode(decode(bytes)) gives the same bytes', () => {
  check(fc.property(ipFields, tcpFields, payload, (i, t, data) => {
    const pkt = buildTcpPacket(i, t, data);
    const d = decodeIPv4(pkt);
    if (typeof d === 'string') return false;
    const s = decodeTcp(d, true);
    if (typeof s === 'string') return false;
    const again = buildTcpPacket(
      { src: d.src, dst: d.dst, protocol: d.protocol, ttl: d.ttl, id: d.id, tos: d.tos, dontFragment: d.dontFragment },
      { srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq, ack: s.ack, flags: s.flags, window: s.window, urgent: s.urgent, options: s.options.list },
      s.payload,
    );
    return again.equals(pkt);
  }));
});

test('setIPv4Checksum and setTcpChecksum: any edit of a segment verifies again afterwards', () => {
  const edit = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 });
  check(fc.property(ipFields, tcpFields, payload, edit, (i, t, data, edits) => {
    const pkt = buildTcpPacket(i, t, data);
    // Bytes of the TCP header and payload only (offset and checksum fields included).
    for (const [at, v] of edits) pkt[20 + (at % (pkt.length - 20))] = v;
    setIPv4Checksum(pkt);
    setTcpChecksum(pkt);
    const d = decodeIPv4(pkt);
    if (typeof d === 'string') return false;
    return decodeTcp(d, true) !== 'tcp_bad_checksum';
  }));
});

test('the decoders return a value or a drop reason for any bytes, never throw', () => {
  check(fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, v4) => {
    const b = Buffer.from(bytes);
    if (v4 && b.length > 0) b[0] = 0x40 | (b[0]! & 15);
    const d = decodeIPv4(b, { verifyChecksum: false, allowFragments: true });
    if (typeof d !== 'string') decodeTcp(d, false);
    return true;
  }));
});

test.run();
