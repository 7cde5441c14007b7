// The stack with fragments and ICMP errors: what it answers, exactly, and how
// often (stack/icmp-out.ts, stack/ip-reassembly.ts through Stack input).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildIcmpPacket, decodeIcmp, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_PORT_UNREACH, ICMP_PROT_UNREACH,
  ICMP_TIME_EXCEEDED,
} from '../../../src/wire/icmp.js';
import { decodeIPv4, fragmentIPv4, setIPv4Checksum, writeIPv4Header, IPPROTO_ICMP, IPPROTO_UDP, type IPv4Packet } from '../../../src/wire/ipv4.js';
import { IpReassembly } from '../../../src/stack/ip-reassembly.js';
import { Counters } from '../../../src/stack/counters.js';
import { IPv4Datagram, readIPv4 } from '../../../src/wire/ipv4.js';
import { TCP_SYN } from '../../../src/wire/tcp.js';
import { IcmpErrorSender } from '../../../src/stack/icmp-out.js';
import { fixturePackets } from '../wire/fixtures.js';
import { asTcp, PEER, rig, tcp, US } from './rig.js';

function ip(p: Buffer): IPv4Packet {
  const r = decodeIPv4(p, { allowFragments: true });
  if (typeof r === 'string') throw new Error(r);
  return r;
}

/** A UDP datagram from `src` to us, port `dport` (the checksum left 0: allowed for UDP over IPv4). */
function udp(dport: number, src = PEER, payload = Buffer.from('hello')): Buffer {
  const out = Buffer.alloc(28 + payload.length);
  writeIPv4Header(out, 0, { src, dst: US, protocol: IPPROTO_UDP, id: 7, dontFragment: true }, 8 + payload.length);
  out.writeUInt16BE(40000, 20);
  out.writeUInt16BE(dport, 22);
  out.writeUInt16BE(8 + payload.length, 24);
  payload.copy(out, 28);
  return out;
}

function echo(n: number, id: number): Buffer {
  const data = Buffer.alloc(n, 0x5a);
  return buildIcmpPacket({ src: PEER, dst: US, protocol: IPPROTO_ICMP, id, dontFragment: false }, ICMP_ECHO_REQUEST, 0, (9 << 16) | 1, data);
}

/** Put fragments back together as a receiver would. */
function reassemble(frags: Buffer[]): Buffer | null {
  const r = new IpReassembly(new Counters());
  const d = new IPv4Datagram();
  let out: Buffer | null = null;
  for (const f of frags) {
    if (readIPv4(f, 0, f.length, d, true) !== null) throw new Error('bad fragment');
    out = r.add(d, 0);
  }
  return out;
}

test('a 4000-byte ping in three fragments is answered in three fragments that make the echo reply', () => {
  const r = rig();
  const req = echo(4000, 0x4242);
  const frags = fragmentIPv4(req, 1500, 0x4242);
  assert.is(frags.length, 3);
  const out = r.inject(...frags);
  assert.is(out.length, 3);
  assert.equal(out.map((p) => p.length), [1500, 1500, 1068]);
  const ids = new Set(out.map((p) => p.readUInt16BE(4)));
  assert.is(ids.size, 1);
  assert.not.ok(ids.has(0));
  for (const p of out) assert.is(p[6]! & 0x40, 0, 'DF clear');
  const whole = reassemble(out)!;
  assert.ok(whole !== null);
  const reply = ip(whole);
  assert.equal([reply.src, reply.dst, reply.totalLength], [US, PEER, 4028]);
  const m = decodeIcmp(reply.payload);
  if (typeof m === 'string') throw new Error(m);
  assert.equal([m.type, m.id, m.seq], [ICMP_ECHO_REPLY, 9, 1]);
  assert.equal(m.data, Buffer.alloc(4000, 0x5a));
  const c = r.stack.counters;
  assert.equal([c.get('ip_reasm_fragments'), c.get('ip_reasm_ok'), c.get('ip_frag_ok'), c.get('ip_frag_creates'), c.get('icmp_echo_replied')], [3, 1, 1, 3, 1]);
});

test('a TCP SYN in two fragments reaches TCP (here: the RST of a closed port)', () => {
  const r = rig();
  const syn = tcp({ flags: TCP_SYN, seq: 1000, options: [{ kind: 'mss', mss: 1460 }] });
  syn[6] = 0; // DF clear
  setIPv4Checksum(syn);
  const frags = fragmentIPv4(syn, 36, 0x99); // 16 bytes of header in the first, the rest in the second
  assert.is(frags.length, 2);
  const out = r.inject(frags[1]!, frags[0]!);
  assert.is(out.length, 1);
  const { seg } = asTcp(out[0]!);
  assert.is(seg.ack, 1001);
  assert.is(r.stack.counters.get('tcp_in'), 1);
});

test('UDP to a closed port: port unreachable, ICMP bytes as Linux sent them (fixture)', () => {
  const basic = fixturePackets('kernel-basic.pcap');
  const r = rig();
  const out = r.inject(basic[26]!);
  assert.is(out.length, 1);
  const got = ip(out[0]!);
  const linux = ip(basic[27]!);
  assert.equal([got.src, got.dst, got.tos, got.ttl, got.dontFragment], [linux.src, linux.dst, 0xc0, 64, false]);
  assert.ok(got.id !== 0);
  assert.equal(got.payload, linux.payload);
  assert.is(r.stack.counters.get('icmp_out_port_unreach'), 1);
  assert.is(r.stack.counters.get('udp_no_socket'), 1);
});

test('an unknown protocol: protocol unreachable quoting the datagram', () => {
  const r = rig();
  const p = Buffer.alloc(40, 0x11);
  writeIPv4Header(p, 0, { src: PEER, dst: US, protocol: 132 /* SCTP */ }, 20);
  const out = r.inject(p);
  assert.is(out.length, 1);
  const m = decodeIcmp(ip(out[0]!).payload);
  if (typeof m === 'string') throw new Error(m);
  assert.equal([m.type, m.code], [ICMP_DEST_UNREACH, ICMP_PROT_UNREACH]);
  assert.equal(m.data, p);
});

test('quotes stop at 576 bytes in all', () => {
  const r = rig();
  const out = r.inject(udp(9, PEER, Buffer.alloc(1400)));
  assert.is(out[0]!.length, 576);
});

test('rate limit: 6 at once to one host, then one a second (Linux icmp_ratelimit); 50 at once in all', () => {
  const r = rig();
  const burst = Array.from({ length: 20 }, (_, i) => udp(1000 + i));
  assert.is(r.inject(...burst).length, 6);
  assert.is(r.stack.counters.get('icmp_out_ratelimit_host'), 14);
  r.advanceTo(r.clock.now() + 500);
  assert.is(r.inject(udp(1)).length, 0);
  r.advanceTo(r.clock.now() + 600);
  assert.is(r.inject(udp(1), udp(2)).length, 1);
  // Many hosts at once: the global bucket (icmp_msgs_burst 50).
  const r2 = rig();
  const many = [];
  for (let h = 0; h < 30; h++) for (let i = 0; i < 3; i++) many.push(udp(1000 + i, `10.55.1.${h + 1}`));
  assert.is(r2.inject(...many).length, 50);
  assert.is(r2.stack.counters.get('icmp_out_ratelimit_global'), 40);
  assert.ok(r2.stack.icmpErrors.peerCount <= 30);
});

test('never an error about an ICMP error, a non-first fragment, or from/to a non-host (RFC 1122 §3.2.2)', () => {
  const c = new Counters();
  const sent: Buffer[] = [];
  const s = new IcmpErrorSender(c, (p) => sent.push(p), () => 1);
  const err = buildIcmpPacket({ src: PEER, dst: US, protocol: IPPROTO_ICMP }, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, Buffer.alloc(28));
  s.send(err, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 'x', 0);
  const frag = udp(9);
  frag.writeUInt16BE(185, 6);
  s.send(frag, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 'x', 0);
  const mcast = udp(9);
  mcast.writeUInt32BE(0xe0000001, 16);
  s.send(mcast, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 'x', 0);
  s.send(udp(9, '0.1.2.3'), ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 'x', 0);
  assert.is(sent.length, 0);
  assert.is(c.get('icmp_error_suppressed'), 4);
  // An echo request is no error: a datagram quoting one may be answered.
  s.send(echo(8, 1), ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 'x', 0);
  assert.is(sent.length, 1);
});

test('the table of destinations is bounded', () => {
  const c = new Counters();
  const s = new IcmpErrorSender(c, () => {}, () => 1, { maxPeers: 100, globalPerSecond: Infinity });
  for (let h = 0; h < 1000; h++) s.send(udp(9, `10.9.${h >> 8}.${h & 255}`), ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 'sent', 0);
  assert.is(s.peerCount, 100);
  assert.is(c.get('sent'), 1000);
});

test('reassembly timeout: time exceeded (code 1) after 30 s when the first fragment came, nothing otherwise', () => {
  const r = rig();
  const frags = fragmentIPv4(echo(3000, 5), 1500, 5);
  assert.is(r.inject(frags[0]!).length, 0);
  const t0 = r.clock.now();
  assert.is(r.advanceTo(t0 + 29_000).length, 0);
  const out = r.advanceTo(t0 + 30_100);
  assert.is(out.length, 1);
  const m = decodeIcmp(ip(out[0]!).payload);
  if (typeof m === 'string') throw new Error(m);
  assert.equal([m.type, m.code], [ICMP_TIME_EXCEEDED, 1]);
  assert.equal(m.data, frags[0]!.subarray(0, 548));
  assert.is(r.stack.counters.get('ip_reasm_timeout'), 1);
  // Only a later fragment: it times out in silence.
  assert.is(r.inject(frags[1]!).length, 0);
  assert.is(r.advanceTo(r.clock.now() + 31_000).length, 0);
  assert.is(r.stack.counters.get('ip_reasm_timeout'), 2);
  assert.is(r.stack.reassembly.pending, 0);
});

test('closing the stack lets the reassembly timer go', async () => {
  const r = rig();
  r.inject(fragmentIPv4(echo(3000, 6), 1500, 6)[0]!);
  assert.is(r.clock.pending, 1);
  await r.stack.close({ linger: 0 });
  assert.is(r.clock.pending, 0);
});

test.run();
