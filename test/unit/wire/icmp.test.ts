import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { internetChecksum } from '../../../src/wire/checksum.js';
import {
  buildEchoReply, buildIcmpPacket, decodeIcmp, icmpTcpError, ICMP_DEST_UNREACH, ICMP_PARAM_PROBLEM, ICMP_REDIRECT, ICMP_SOURCE_QUENCH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED,
  type IcmpMessage,
} from '../../../src/wire/icmp.js';
import { decodeIPv4, IPPROTO_TCP, IPPROTO_UDP, type IPv4Packet } from '../../../src/wire/ipv4.js';
import { fixturePackets } from './fixtures.js';

const basic = fixturePackets('kernel-basic.pcap');

function ip(pkt: Buffer): IPv4Packet {
  const r = decodeIPv4(pkt);
  if (typeof r === 'string') throw new Error(`ip dropped: ${r}`);
  return r;
}
function icmp(payload: Buffer): IcmpMessage {
  const r = decodeIcmp(payload);
  if (typeof r === 'string') throw new Error(`icmp dropped: ${r}`);
  return r;
}

test('kernel echo request and reply (ping)', () => {
  const req = icmp(ip(basic[22]!).payload);
  assert.equal([req.type, req.code, req.id, req.seq, req.data.length], [ICMP_ECHO_REQUEST, 0, 8083, 1, 56]);
  assert.is(req.rest, (8083 << 16) | 1);
  assert.is(req.quoted, undefined);
  const rep = icmp(ip(basic[23]!).payload);
  assert.equal([rep.type, rep.code, rep.id, rep.seq], [ICMP_ECHO_REPLY, 0, 8083, 1]);
  assert.equal(rep.data, req.data);
  assert.is(icmp(ip(basic[24]!).payload).seq, 2);
});

test('buildEchoReply answers like the kernel did (ICMP bytes identical)', () => {
  for (const [q, r] of [[22, 23], [24, 25]] as const) {
    const request = ip(basic[q]!);
    const reply = buildEchoReply(request, icmp(request.payload));
    const p = ip(reply);
    assert.equal([p.src, p.dst, p.protocol, p.ttl, p.tos], ['10.55.0.2', '10.55.0.1', 1, 64, 0]);
    assert.equal(p.payload, basic[r]!.subarray(20));
  }
});

test('kernel port unreachable quotes the UDP datagram', () => {
  const m = icmp(ip(basic[27]!).payload);
  assert.equal([m.type, m.code, m.id, m.seq, m.rest, m.data.length], [ICMP_DEST_UNREACH, 3, 0, 0, 0, 41]);
  assert.equal(m.data, basic[26]!);
  assert.equal(m.quoted, { src: '10.55.0.1', dst: '10.55.0.2', protocol: IPPROTO_UDP, srcPort: 47962, dstPort: 33999 });
});

test('quotes are read as far as they go', () => {
  const syn = basic[0]!;
  const mk = (quote: Buffer): IcmpMessage =>
    icmp(ip(buildIcmpPacket({ src: '10.0.0.9', dst: '10.55.0.1', protocol: 1 }, ICMP_TIME_EXCEEDED, 0, 0, quote)).payload);
  assert.equal(mk(syn.subarray(0, 28)).quoted, {
    src: '10.55.0.1', dst: '10.55.0.2', protocol: IPPROTO_TCP, srcPort: 59692, dstPort: 33333, seq: 163551299,
  });
  assert.equal(mk(syn.subarray(0, 24)).quoted, { src: '10.55.0.1', dst: '10.55.0.2', protocol: IPPROTO_TCP, srcPort: 59692, dstPort: 33333 });
  assert.equal(mk(syn.subarray(0, 22)).quoted, { src: '10.55.0.1', dst: '10.55.0.2', protocol: IPPROTO_TCP });
  assert.is(mk(syn.subarray(0, 19)).quoted, undefined);
  assert.is(mk(Buffer.alloc(0)).quoted, undefined);
});

test('buildIcmpPacket round-trips every fixture ICMP packet', () => {
  for (const i of [22, 23, 24, 25, 27]) {
    const p = ip(basic[i]!);
    const m = icmp(p.payload);
    const b = buildIcmpPacket(
      { src: p.src, dst: p.dst, protocol: p.protocol, ttl: p.ttl, id: p.id, tos: p.tos, dontFragment: p.dontFragment },
      m.type, m.code, m.rest, m.data,
    );
    assert.equal(b, basic[i]!);
  }
});

test('truncated and corrupted messages', () => {
  const good = ip(basic[22]!).payload;
  assert.is(decodeIcmp(good.subarray(0, 7)), 'icmp_truncated');
  assert.is(decodeIcmp(Buffer.alloc(0)), 'icmp_truncated');
  const bad = Buffer.from(good);
  bad[20] ^= 1;
  assert.is(decodeIcmp(bad), 'icmp_bad_checksum');
  // Odd length messages checksum correctly too.
  const odd = buildIcmpPacket({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 1 }, ICMP_ECHO_REQUEST, 0, 0x00010002, Buffer.from('abc'));
  assert.is(internetChecksum(odd, 20), 0);
  assert.equal([icmp(odd.subarray(20)).id, icmp(odd.subarray(20)).seq], [1, 2]);
});

test('icmpTcpError: the errno of each error quoting TCP (Linux icmp_err_convert), the next-hop MTU, and what TCP ignores', () => {
  const syn = basic[0]!.subarray(0, 28);
  const udp = basic[26]!.subarray(0, 28);
  const err = (type: number, code: number, rest = 0, quote = syn) =>
    icmpTcpError(icmp(ip(buildIcmpPacket({ src: '10.0.0.9', dst: '10.55.0.1', protocol: 1 }, type, code, rest, quote)).payload));
  const unreach = Array.from({ length: 16 }, (_, code) => err(ICMP_DEST_UNREACH, code)!.errno);
  assert.equal(unreach, [
    'ENETUNREACH', 'EHOSTUNREACH', 'ENOPROTOOPT', 'ECONNREFUSED', 'EMSGSIZE', 'EOPNOTSUPP', 'ENETUNREACH', 'EHOSTDOWN',
    'ENONET', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTUNREACH', 'EHOSTUNREACH', 'EHOSTUNREACH', 'EHOSTUNREACH',
  ]);
  assert.equal(err(ICMP_DEST_UNREACH, 4, 0x0000_03e8), { type: 3, code: 4, seq: 163551299, errno: 'EMSGSIZE', mtu: 1000 });
  assert.is(err(ICMP_TIME_EXCEEDED, 0)!.errno, 'EHOSTUNREACH');
  assert.is(err(ICMP_PARAM_PROBLEM, 0)!.errno, 'EPROTO');
  // Ignored: unknown codes, source quench (RFC 6633), redirects, quotes of UDP or too short for the sequence number.
  assert.is(err(ICMP_DEST_UNREACH, 16), null);
  assert.is(err(ICMP_SOURCE_QUENCH, 0), null);
  assert.is(err(ICMP_REDIRECT, 1), null);
  assert.is(err(ICMP_DEST_UNREACH, 3, 0, udp), null);
  assert.is(err(ICMP_DEST_UNREACH, 3, 0, syn.subarray(0, 27)), null);
});

test.run();
