// Hand-made packets for the tcpdump comparison: what kernel traffic rarely
// shows (malformed headers, odd options, ICMP types, HTTP lines, sequence
// wraparound). `node dist/test/unit/trace/synthetic.js` rewrites
// test/fixtures/synthetic.pcap; see test/fixtures/README.md.
import { fileURLToPath } from 'node:url';
import { PcapWriter } from '../../../src/trace/pcap.js';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { buildIcmpPacket } from '../../../src/wire/icmp.js';
import { buildTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpFields, type TcpOption } from '../../../src/wire/tcp.js';
import { fixturePath } from '../wire/fixtures.js';

const A = { src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 };
const B = { src: '10.0.0.2', dst: '10.0.0.1', protocol: 6 };

function tcp(ip: typeof A, f: Partial<TcpFields> & { flags: number }, payload?: string | Buffer): Buffer {
  const base: TcpFields = { srcPort: 40000, dstPort: 5000, seq: 0, ack: 0, window: 512, ...f };
  return buildTcpPacket(ip, base, typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
}

/** Recompute the IPv4 header checksum after editing the header. */
function fixIp(b: Buffer): Buffer {
  const hl = Math.min((b[0]! & 15) * 4, b.length);
  if (b.length < 20 || hl < 20) return b;
  b[10] = 0;
  b[11] = 0;
  b.writeUInt16BE(internetChecksum(b, 0, hl), 10);
  return b;
}

function edit(b: Buffer, f: (b: Buffer) => void, fixSum = true): Buffer {
  const c = Buffer.from(b);
  f(c);
  return fixSum ? fixIp(c) : c;
}

function udp(srcPort: number, dstPort: number, data: Buffer, ulen = 8 + data.length): Buffer {
  const b = Buffer.alloc(28 + data.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = 17;
  b.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  b.writeUInt16BE(srcPort, 20);
  b.writeUInt16BE(dstPort, 22);
  b.writeUInt16BE(ulen, 24);
  data.copy(b, 28);
  return fixIp(b);
}

const ts = (val: number, ecr: number): TcpOption[] => [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val, ecr }];
const opt = (code: number, ...data: number[]): TcpOption => ({ kind: 'unknown', code, data: Buffer.from(data) });

export function syntheticPackets(): Buffer[] {
  const out: Buffer[] = [];
  // A connection whose sequence numbers wrap past 2^32 - 1.
  const ca = 0xfffffff0;
  const cb = 0x7ffffffe;
  out.push(tcp(A, { seq: ca, flags: TCP_SYN, window: 65535, options: [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, ...ts(1, 0).slice(2), { kind: 'nop' }, { kind: 'wscale', shift: 7 }] }));
  out.push(tcp(B, { srcPort: 5000, dstPort: 40000, seq: cb, ack: ca + 1, flags: TCP_SYN | TCP_ACK, options: [{ kind: 'mss', mss: 536 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOK' }] }));
  out.push(tcp(A, { seq: ca + 1, ack: cb + 1, flags: TCP_ACK }));
  out.push(tcp(A, { seq: ca + 1, ack: cb + 1, flags: TCP_PSH | TCP_ACK }, 'x'.repeat(40)));
  out.push(tcp(A, { seq: (ca + 81) >>> 0, ack: cb + 1, flags: TCP_ACK }, 'y'.repeat(40)));
  out.push(tcp(B, { srcPort: 5000, dstPort: 40000, seq: cb + 1, ack: ca + 41, flags: TCP_ACK, window: 0, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[(ca + 81) >>> 0, (ca + 121) >>> 0], [(ca + 200) >>> 0, (ca + 300) >>> 0]] }] }));
  out.push(tcp(B, { srcPort: 5000, dstPort: 40000, seq: cb + 1, ack: ca + 41, flags: TCP_URG | TCP_ACK | TCP_PSH, urgent: 3 }, 'urgent'));
  out.push(tcp(A, { seq: (ca + 121) >>> 0, ack: cb + 7, flags: TCP_FIN | TCP_ACK }));
  out.push(tcp(B, { srcPort: 5000, dstPort: 40000, seq: cb + 7, flags: TCP_RST }));
  out.push(tcp(A, { seq: 5, ack: 9, flags: 0 }));
  // Equal ports: the direction is decided by comparing addresses.
  out.push(tcp(B, { srcPort: 7000, dstPort: 7000, seq: 100, ack: 200, flags: TCP_ACK }));
  out.push(tcp(A, { srcPort: 7000, dstPort: 7000, seq: 200, ack: 105, flags: TCP_ACK }, 'abc'));
  out.push(tcp(B, { srcPort: 7000, dstPort: 7000, seq: 105, ack: 203, flags: TCP_ACK }));
  // Every flag, options tcpdump names, options with odd lengths.
  out.push(tcp(A, { srcPort: 40001, seq: 1, flags: 0xff, window: 1, urgent: 7, options: [{ kind: 'mss', mss: 536 }, { kind: 'wscale', shift: 3 }, { kind: 'sackOK' }, opt(6, 0, 0, 0, 9), { kind: 'eol' }] }));
  out.push(tcp(A, { srcPort: 40002, flags: TCP_SYN, options: [opt(28, 0x80, 0x03), opt(34), opt(34, 1, 1, 1, 1), opt(254, 0xf9, 0x89), opt(254, 0x12, 0x34), opt(29, 1, 2, 3), opt(20, 1, 2), opt(253, 1)] }));
  out.push(tcp(A, { srcPort: 40003, flags: TCP_SYN, options: [opt(5, 0, 0, 0, 0, 0), opt(29, 0), opt(34, 0, 0, 0), opt(11, 0, 0, 0, 0), opt(12, 0, 0, 0, 0), opt(13, 0, 0, 0, 0), opt(7, 0, 0, 0, 0)] }));
  out.push(tcp(A, { srcPort: 40004, flags: TCP_SYN, options: [opt(19, ...Buffer.alloc(16, 0xab)), { kind: 'eol' }] }));
  out.push(tcp(A, { srcPort: 40005, flags: TCP_SYN, options: [{ kind: 'nop' }, { kind: 'eol' }, { kind: 'nop' }, { kind: 'nop' }] }));
  // Malformed options, the way tcpdump reports them.
  const plain = tcp(A, { srcPort: 40006, seq: 1000, ack: 2000, flags: TCP_PSH | TCP_ACK, options: ts(1, 2) }, 'abcdef');
  out.push(plain);
  out.push(edit(plain, (b) => { b[40] = 2; b[41] = 0; }));
  out.push(edit(plain, (b) => { b[40] = 2; b[41] = 3; }));
  out.push(edit(plain, (b) => { b[40] = 2; b[41] = 5; }));
  out.push(edit(plain, (b) => { b[40] = 31; b[41] = 4; }));
  out.push(edit(plain, (b) => { b[41] = 8; b[42] = 30; })); // nop, then a length running past the end
  out.push(edit(plain, (b) => { b[42] = 3; b[43] = 3; b[44] = 1; b[45] = 5; b[46] = 9; })); // SACK length 9
  // Header lengths.
  out.push(edit(plain, (b) => { b[32] = 0x40; }));
  out.push(edit(plain, (b) => { b[32] = 0xf0; }));
  out.push(edit(plain, (b) => { b.writeUInt16BE(32, 2); }).subarray(0, 32));
  out.push(edit(plain, (b) => { b.writeUInt16BE(22, 2); }).subarray(0, 22));
  out.push(edit(plain, (b) => { b.writeUInt16BE(200, 2); }));
  out.push(edit(plain, (b) => { b.writeUInt16BE(10, 2); }));
  out.push(edit(plain, (b) => { b.writeUInt16BE(0, 2); }));
  out.push(edit(plain, (b) => { b[0] = 0x44; }));
  out.push(plain.subarray(0, 10));
  out.push(edit(plain, (b) => { b[0] = 0x55; }));
  out.push(Buffer.from([0x60, 0, 0, 0]));
  out.push(edit(plain, (b) => { b[10] ^= 0xff; }, false)); // bad IP checksum: printed all the same
  out.push(edit(plain, (b) => { b[36] ^= 0xff; }, false)); // bad TCP checksum: likewise
  out.push(edit(plain, (b) => { b[6] = 0x00; b[7] = 10; })); // later fragment
  out.push(edit(plain, (b) => { b[6] = 0x20; })); // first fragment
  out.push(edit(plain, (b) => { b[9] = 99; }));
  // IPv4 header options (IHL 6): payload starts after them.
  out.push(fixIp(Buffer.concat([Buffer.from([0x46]), plain.subarray(1, 2), Buffer.from([0, plain.length + 4]), plain.subarray(4, 20), Buffer.from([1, 1, 1, 0]), plain.subarray(20)])));
  // HTTP first lines on port 80 (and what is not one).
  const http = ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 'hello world', 'post /a HTTP/1.0\n', 'GET /', 'GET / HTTP/1.1\r', '\x01binary', 'MKCOL /d HTTP/1.1\r\n', 'ICY 200 OK\r\n', 'x 200\r\n'];
  http.forEach((p, i) => out.push(tcp(A, { srcPort: 41000 + i, dstPort: 80, seq: 1, ack: 1, flags: TCP_PSH | TCP_ACK }, p)));
  out.push(tcp(B, { srcPort: 8080, dstPort: 41100, seq: 1, ack: 1, flags: TCP_PSH | TCP_ACK }, 'HTTP/1.0 404 Not Found\r\n'));
  // UDP.
  out.push(udp(1234, 4321, Buffer.from('hello')));
  out.push(udp(1234, 4321, Buffer.from('hello'), 99));
  out.push(udp(1234, 4321, Buffer.from('hello'), 3));
  out.push(edit(udp(1234, 4321, Buffer.alloc(0)), (b) => { b.writeUInt16BE(26, 2); }).subarray(0, 26));
  out.push(edit(udp(1234, 4321, Buffer.alloc(0)), (b) => { b.writeUInt16BE(23, 2); }).subarray(0, 23));
  // ICMP: every type tcpdump names, truncated ones.
  const quote = plain.subarray(0, 28);
  const types: Array<[number, number]> = [[0, 0], [8, 0], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4], [3, 5], [3, 9], [3, 13], [3, 15], [3, 99],
    [11, 0], [11, 1], [11, 5], [12, 0], [12, 2], [4, 0], [5, 0], [5, 1], [5, 7], [13, 0], [14, 0], [15, 0], [16, 0], [17, 0], [18, 0], [10, 0], [9, 0], [42, 0]];
  for (const [t, c] of types) {
    const rest = t === 3 && c === 4 ? 1400 : t === 9 ? 0x02020708 : 0x0a000005;
    const data = t === 13 || t === 14 ? Buffer.from('0000000100000002000003e8', 'hex') : t === 9 ? Buffer.from('0a0000fe000000640a0000fd00000032', 'hex') : quote;
    out.push(buildIcmpPacket({ src: '10.0.0.9', dst: '10.0.0.1', protocol: 1 }, t, c, rest, data));
  }
  const echo = buildIcmpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1 }, 8, 0, 0x00070001, Buffer.alloc(0));
  out.push(edit(echo, (b) => { b.writeUInt16BE(24, 2); }).subarray(0, 24));
  out.push(buildIcmpPacket({ src: '10.0.0.9', dst: '10.0.0.1', protocol: 1 }, 3, 3, 0, quote.subarray(0, 12)));
  out.push(buildIcmpPacket({ src: '10.0.0.9', dst: '10.0.0.1', protocol: 1 }, 3, 3, 0, udp(1, 2, Buffer.alloc(0)).subarray(0, 28)));
  return out;
}

/** Fixed timestamps: one packet per millisecond from 2024-01-01T00:00:00Z. */
export function writeSynthetic(path: string): number {
  const w = new PcapWriter(path);
  const t0 = Date.UTC(2024, 0, 1);
  const pkts = syntheticPackets();
  pkts.forEach((p, i) => w.write(p, t0 + i));
  w.close();
  return pkts.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`${writeSynthetic(fixturePath('synthetic.pcap'))} packets written`);
}
