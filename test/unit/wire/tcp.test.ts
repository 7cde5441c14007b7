import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { decodeIPv4, type IPv4Fields, type IPv4Packet } from '../../../src/wire/ipv4.js';
import {
  buildTcpPacket, decodeTcp, readTcp, rxTcpSegment, tcpOptionsLength, writeTcpPacket,
  TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
  type TcpFields, type TcpOption, type TcpSegment,
} from '../../../src/wire/tcp.js';
import { fixturePackets } from './fixtures.js';

const basic = fixturePackets('kernel-basic.pcap');
const sack = fixturePackets('kernel-sack.pcap');

function ip(pkt: Buffer): IPv4Packet {
  const r = decodeIPv4(pkt);
  if (typeof r === 'string') throw new Error(`ip dropped: ${r}`);
  return r;
}

function seg(pkt: Buffer, verify = true): TcpSegment {
  const r = decodeTcp(ip(pkt), verify);
  if (typeof r === 'string') throw new Error(`tcp dropped: ${r}`);
  return r;
}

const synOptions = (val: number, ecr: number): TcpOption[] => [
  { kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val, ecr }, { kind: 'nop' }, { kind: 'wscale', shift: 10 },
];
const tsOnly = (val: number, ecr: number): TcpOption[] => [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val, ecr }];

test('kernel SYN: flags, options in wire order, checksum verified', () => {
  const s = seg(basic[0]!);
  assert.equal(
    [s.srcPort, s.dstPort, s.seq, s.ack, s.flags, s.window, s.headerLength, s.urgent, s.payload.length],
    [59692, 33333, 163551299, 0, TCP_SYN, 64240, 40, 0, 0],
  );
  assert.is(s.checksum, 0x7428);
  assert.equal(s.options.list, synOptions(2570067422, 0));
  assert.is(s.options.mss, 1460);
  assert.is(s.options.wscale, 10);
  assert.is(s.options.sackPermitted, true);
  assert.is(s.options.tsVal, 2570067422);
  assert.is(s.options.tsEcr, 0);
  assert.is(s.options.sack, undefined);
});

test('kernel SYN-ACK, ACK, data, FIN, RST', () => {
  const synack = seg(basic[1]!);
  assert.equal([synack.flags, synack.seq, synack.ack, synack.window], [TCP_SYN | TCP_ACK, 3444164449, 163551300, 65160]);
  assert.equal(synack.options.list, synOptions(3926497633, 2570067422));

  const ack = seg(basic[2]!);
  assert.equal([ack.flags, ack.seq, ack.ack, ack.window, ack.headerLength], [TCP_ACK, 163551300, 3444164450, 63, 32]);
  assert.equal(ack.options.list, tsOnly(2570067422, 3926497633));
  assert.is(ack.options.sackPermitted, false);
  assert.is(ack.options.mss, undefined);

  const data = seg(basic[3]!);
  assert.is(data.flags, TCP_PSH | TCP_ACK);
  assert.is(data.payload.toString(), 'hello from the client\n');
  assert.is(seg(basic[5]!).payload.toString(), 'hello from the server\n');

  const fin = seg(basic[7]!);
  assert.equal([fin.flags, fin.seq, fin.ack], [TCP_FIN | TCP_ACK, 3444164472, 163551322]);

  const rst = seg(basic[11]!);
  assert.equal(
    [rst.srcPort, rst.dstPort, rst.flags, rst.seq, rst.ack, rst.window, rst.headerLength],
    [33339, 53674, TCP_RST | TCP_ACK, 0, 975427626, 0, 20],
  );
  assert.equal(rst.options.list, []);
});

test('ECN negotiation: SYN with ECE|CWR, SYN-ACK with ECE', () => {
  assert.is(seg(basic[12]!).flags, TCP_SYN | TCP_ECE | TCP_CWR);
  assert.is(seg(basic[13]!).flags, TCP_SYN | TCP_ACK | TCP_ECE);
});

test('SACK blocks from the lossy transfer', () => {
  const withSack = sack.map((p) => seg(p)).filter((s) => s.options.sack !== undefined);
  assert.ok(withSack.length >= 3);
  const first = withSack[0]!;
  const isn = seg(sack[0]!).seq; // client ISN: blocks are client sequence numbers
  assert.equal(first.options.sack, [[isn + 1393, isn + 1741]]);
  assert.equal(first.options.list, [...tsOnly(first.options.tsVal!, first.options.tsEcr!), { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[isn + 1393, isn + 1741]] }]);
  assert.is(first.ack, isn + 1045);
});

function fieldsOf(p: IPv4Packet, s: TcpSegment): [IPv4Fields, TcpFields] {
  return [
    { src: p.src, dst: p.dst, protocol: p.protocol, ttl: p.ttl, id: p.id, tos: p.tos, dontFragment: p.dontFragment },
    { srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq, ack: s.ack, flags: s.flags, window: s.window, urgent: s.urgent, options: s.options.list },
  ];
}

test('every kernel TCP packet re-encodes to identical bytes', () => {
  let n = 0;
  for (const pkt of [...basic, ...sack]) {
    const p = ip(pkt);
    if (p.protocol !== 6) continue;
    const s = seg(pkt);
    const [ipf, tcpf] = fieldsOf(p, s);
    const payload = s.payload.length > 0 ? s.payload : undefined;
    assert.equal(buildTcpPacket(ipf, tcpf, payload), pkt, `packet ${n}`);
    // writeTcpPacket: headers only, payload left for writev.
    const out = Buffer.alloc(120, 0xaa);
    const hl = writeTcpPacket(out, ipf, tcpf, payload);
    assert.is(hl, 20 + s.headerLength);
    assert.equal(out.subarray(0, hl), pkt.subarray(0, hl));
    n++;
  }
  assert.ok(n > 50);
});

test('every option kind round-trips; padding goes to a multiple of 4', () => {
  const opts: TcpOption[] = [
    { kind: 'nop' }, { kind: 'mss', mss: 536 }, { kind: 'wscale', shift: 14 }, { kind: 'sackOK' },
    { kind: 'sack', blocks: [[0xfffffff0, 5], [100, 200]] }, { kind: 'ts', val: 0xffffffff, ecr: 1 },
    { kind: 'unknown', code: 30, data: Buffer.from([1, 2, 3]) },
  ];
  const len = 1 + 4 + 3 + 2 + 18 + 10 + 5;
  assert.is(tcpOptionsLength(opts), 44);
  assert.is(tcpOptionsLength(opts.slice(0, 6)), (len - 5 + 3) & ~3);
  const use = opts.filter((o) => o.kind !== 'sack');
  assert.is(tcpOptionsLength(use), 28);
  const pkt = buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_ACK, window: 5, options: use });
  const s = seg(pkt);
  assert.is(s.headerLength, 48);
  // The 3 bytes of padding are EOL (zero): parsing stops at the first one.
  assert.equal(s.options.list, [...use, { kind: 'eol' }]);
  assert.is(s.options.mss, 536);
  assert.is(s.options.wscale, 14);

  const sackPkt = buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, {
    srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_ACK, window: 5,
    options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[1, 2], [3, 4], [0xffffffff, 0], [7, 8]] }],
  });
  assert.equal(seg(sackPkt).options.sack, [[1, 2], [3, 4], [0xffffffff, 0], [7, 8]]);
  assert.throws(() => buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 }, {
    srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0, window: 5, options: opts,
  }), RangeError);
});

test('payload is checksummed but not copied by writeTcpPacket', () => {
  const payload = Buffer.from('odd-length payload!');
  const ipf: IPv4Fields = { src: '192.168.1.1', dst: '192.168.1.2', protocol: 6, id: 7 };
  const tcpf: TcpFields = { srcPort: 80, dstPort: 40000, seq: 0xfffffffe, ack: 1, flags: TCP_PSH | TCP_ACK, window: 65535, urgent: 0 };
  const hdr = Buffer.alloc(40);
  assert.is(writeTcpPacket(hdr, ipf, tcpf, payload), 40);
  const full = Buffer.concat([hdr, payload]);
  assert.is(internetChecksum(full, 0, 20), 0);
  const s = seg(full);
  assert.is(s.payload.toString(), payload.toString());
  assert.is(s.seq, 0xfffffffe);
  assert.equal(buildTcpPacket(ipf, tcpf, payload), full);
});

test('partial checksum (offload): the field holds the pseudo-header sum a device completes to the real one', () => {
  const ipf: IPv4Fields = { src: '10.55.0.2', dst: '10.55.0.1', protocol: 6, id: 9 };
  for (const n of [0, 1, 1448, 64240]) {
    const payload = Buffer.alloc(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 131 + 7) & 0xff;
    const tcpf: TcpFields = { srcPort: 5001, dstPort: 40000, seq: 123456, ack: 654321, flags: TCP_ACK, window: 512, options: [{ kind: 'ts', val: 5, ecr: 6 }, { kind: 'nop' }, { kind: 'nop' }] };
    const want = Buffer.alloc(80);
    const hl = writeTcpPacket(want, ipf, tcpf, payload);
    const got = Buffer.alloc(80);
    assert.is(writeTcpPacket(got, ipf, tcpf, payload, true), hl);
    // IP header and TCP header match except the checksum field.
    assert.equal(got.subarray(0, 36), want.subarray(0, 36));
    assert.equal(got.subarray(38, hl), want.subarray(38, hl));
    // What the device does (csum_start = 20, csum_offset = 16): sum from the
    // TCP header on, with the partial sum in place, and store the complement.
    const done = Buffer.concat([got.subarray(0, hl), payload]);
    const c = internetChecksum(done, 20);
    done[36] = c >> 8;
    done[37] = c & 0xff;
    assert.equal(done.subarray(0, hl), want.subarray(0, hl), `payload ${n}`);
    assert.ok(typeof seg(done) !== 'string');
  }
});

/** A copy of the ACK fixture with its 12 option bytes replaced. */
function withOptions(opt: number[]): Buffer {
  const b = Buffer.from(basic[2]!);
  assert.is(opt.length, 12);
  Buffer.from(opt).copy(b, 40);
  return b;
}

test('malformed options are refused; unknown kinds are skipped by length', () => {
  const drop = (opt: number[]) => decodeTcp(ip(withOptions(opt)), false);
  assert.is(drop([2, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // length 0
  assert.is(drop([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 30, 1]), 'tcp_bad_option'); // length 1
  assert.is(drop([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 30]), 'tcp_bad_option'); // no length byte
  assert.is(drop([1, 1, 1, 1, 1, 1, 1, 1, 30, 6, 0, 0]), 'tcp_bad_option'); // past the end
  assert.is(drop([2, 3, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // MSS length 3
  assert.is(drop([3, 4, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // wscale length 4
  assert.is(drop([4, 3, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // sackOK length 3
  assert.is(drop([5, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // SACK without blocks
  assert.is(drop([5, 6, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), 'tcp_bad_option'); // SACK half a block
  assert.is(drop([8, 8, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]), 'tcp_bad_option'); // TS length 8

  const unknown = seg(withOptions([30, 4, 0xab, 0xcd, 254, 2, 1, 3, 3, 7, 0, 9]), false);
  assert.equal(unknown.options.list, [
    { kind: 'unknown', code: 30, data: Buffer.from([0xab, 0xcd]) },
    { kind: 'unknown', code: 254, data: Buffer.alloc(0) },
    { kind: 'nop' },
    { kind: 'wscale', shift: 7 },
    { kind: 'eol' },
  ]);
  // Nothing after EOL is parsed, even garbage.
  assert.equal(seg(withOptions([0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), false).options.list, [{ kind: 'eol' }]);
});

test('header length and checksum errors', () => {
  const p = ip(basic[2]!);
  const copy = (f: (b: Buffer) => void): IPv4Packet => {
    const b = Buffer.from(basic[2]!);
    f(b);
    return ip(b);
  };
  assert.is(decodeTcp({ ...p, payload: p.payload.subarray(0, 19) }), 'tcp_truncated');
  assert.is(decodeTcp({ ...p, payload: p.payload.subarray(0, 0) }), 'tcp_truncated');
  assert.is(decodeTcp(copy((b) => { b[32] = 0x40; }), false), 'tcp_bad_header_length');
  assert.is(decodeTcp(copy((b) => { b[32] = 0x90; }), false), 'tcp_bad_header_length'); // 36 > 32
  assert.is(decodeTcp(copy((b) => { b[50] ^= 1; })), 'tcp_bad_checksum');
  assert.is(decodeTcp(copy((b) => { b[36] ^= 0x10; })), 'tcp_bad_checksum');
  assert.type(decodeTcp(copy((b) => { b[36] ^= 0x10; }), false), 'object');
  // Addresses are covered by the pseudo-header.
  const moved = Buffer.from(basic[2]!);
  moved[15] = 9;
  moved[10] = 0;
  moved[11] = 0;
  moved.writeUInt16BE(internetChecksum(moved, 0, 20), 10);
  assert.is(decodeTcp(ip(moved)), 'tcp_bad_checksum');
});

test('TS and SACK as plain fields write the bytes of the same option list (Linux layout)', () => {
  const f = { src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 };
  const base = { srcPort: 5001, dstPort: 40000, seq: 0xfffffff0, ack: 7, flags: TCP_ACK, window: 502 };
  const blocks: Array<[number, number]> = [[100, 200], [0xfffffe00, 5]];
  const cases: Array<[Partial<TcpFields>, TcpOption[]]> = [
    [{ tsVal: 0xdeadbeef, tsEcr: 42 }, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: 0xdeadbeef, ecr: 42 }]],
    [{ sack: blocks }, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks }]],
    [
      { tsVal: 1, tsEcr: 2, sack: blocks },
      [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: 1, ecr: 2 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks }],
    ],
    [{ sack: [] }, []],
  ];
  const payload = Buffer.from('hello, fixed options');
  for (const [fixed, list] of cases) {
    const a = buildTcpPacket(f, { ...base, ...fixed }, payload);
    const b = buildTcpPacket(f, { ...base, options: list }, payload);
    assert.equal(a.toString('hex'), b.toString('hex'), JSON.stringify(fixed));
    const seg = decodeTcp(ip(a));
    assert.ok(typeof seg !== 'string');
  }
});

test('readTcp into one reused segment: options of the packet before never leak into the next', () => {
  const f = { src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 };
  const syn = buildTcpPacket(f, {
    srcPort: 1, dstPort: 2, seq: 9, ack: 0, flags: TCP_SYN, window: 1000,
    options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: 5, ecr: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }],
  });
  const sacked = buildTcpPacket(f, { srcPort: 1, dstPort: 2, seq: 10, ack: 1, flags: TCP_ACK, window: 1000, sack: [[50, 60]] });
  const plain = buildTcpPacket(f, { srcPort: 3, dstPort: 4, seq: 11, ack: 2, flags: TCP_ACK, window: 999 }, Buffer.from('xy'));
  const into = rxTcpSegment();
  const read = (p: Buffer): TcpSegment => {
    const s = readTcp(p, 20, p.length, p.readUInt32BE(12), p.readUInt32BE(16), true, false, into);
    if (typeof s === 'string') throw new Error(s);
    return s;
  };
  const a = read(syn);
  assert.is(a, into);
  assert.equal([a.options.mss, a.options.wscale, a.options.sackPermitted, a.options.tsVal], [1460, 7, true, 5]);
  const b = read(sacked);
  assert.equal([b.options.mss, b.options.wscale, b.options.sackPermitted, b.options.tsVal, b.options.sack], [undefined, undefined, false, undefined, [[50, 60]]]);
  const kept = b.options.sack;
  const c = read(plain);
  assert.equal([c.srcPort, c.seq, c.window, c.options.sack, c.payload.toString()], [3, 11, 999, undefined, 'xy']);
  assert.equal(kept, [[50, 60]], 'a SACK array read before is its own');
  // Without `into`, a fresh segment every time, as tracing and tests want.
  const d = readTcp(plain, 20, plain.length, plain.readUInt32BE(12), plain.readUInt32BE(16), true);
  assert.ok(typeof d !== 'string' && d !== into);
});

test.run();
