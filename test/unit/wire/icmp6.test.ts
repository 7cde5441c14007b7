// ICMPv6 (RFC 4443) against packets scapy built (test/fixtures/ipv6.py): decode
// with the pseudo-header checksum, and builders that give the same bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildEcho6Reply, buildIcmp6Error, buildIcmp6Packet, decodeIcmp6, ICMP6_DST_UNREACH, ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST,
  ICMP6_PACKET_TOO_BIG, ICMP6_PARAM_PROB, ICMP6_TIME_EXCEEDED, ICMP6_UNREACH_PORT, mayAnswerWithError, type Icmp6Message,
} from '../../../src/wire/icmp6.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../src/wire/ipv4.js';
import { buildIPv6Packet, IPPROTO_FRAGMENT, IPPROTO_ICMPV6, PARAMPROB_NEXTHEADER, PARAMPROB_OPTION } from '../../../src/wire/ipv6.js';

const A = '2001:db8::1';
const B = '2001:db8::2';
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

const ECHO_REQ = hex('6000000000183a4020010db800000000000000000000000120010db80000000000000000000000028000e2c51234000730313233343536373839616263646566');
const ECHO_REPLY = hex('6000000000183a4020010db800000000000000000000000220010db80000000000000000000000018100e1c51234000730313233343536373839616263646566');
// B says packet too big (MTU 1280) about A's IPv6/DestOpt/TCP seq 123456789 5000 > 80.
const TOO_BIG = hex('60000000004c3a4020010db800000000000000000000000220010db80000000000000000000000010200f9bd0000050060000000001c3c4020010db800000000000000000000000120010db8000000000000000000000002060001040000000013880050075bcd1500000000500220004c250000');
// B says parameter problem code 2, pointer 42, about A's UDP 5000 > 53.
const PARAM_PROB = hex('6000000000383a4020010db800000000000000000000000220010db800000000000000000000000104022ebd0000002a600000000008114020010db800000000000000000000000120010db800000000000000000000000213880035000890ac');

function decode(p: Buffer): Icmp6Message {
  const m = decodeIcmp6(p, 40);
  if (typeof m === 'string') throw new Error(m);
  return m;
}

test('echo request: fields, checksum verified; the reply is scapy\'s byte for byte', () => {
  const m = decode(ECHO_REQ);
  assert.equal([m.type, m.code, m.id, m.seq, m.checksum, m.data.toString()], [ICMP6_ECHO_REQUEST, 0, 0x1234, 7, 0xe2c5, '0123456789abcdef']);
  assert.is(m.quoted, undefined);
  const reply = buildEcho6Reply(ECHO_REQ, m);
  assert.ok(reply.equals(ECHO_REPLY), reply.toString('hex'));
  assert.is(decode(reply).type, ICMP6_ECHO_REPLY);
  // The traffic class is copied (Linux icmpv6_echo_reply); a multicast request is answered from the given address.
  const tc = Buffer.from(ECHO_REQ);
  tc[0] = 0x6b;
  tc[1] = 0x80; // traffic class 0xb8 (EF); not in the pseudo-header
  const r2 = buildEcho6Reply(tc, decode(tc), '2001:db8::99');
  assert.equal([r2[0], r2[1]! & 0xf0], [0x6b, 0x80]);
  assert.is(decode(r2).data.toString(), '0123456789abcdef');
  assert.is(r2.subarray(8, 24).toString('hex'), '20010db8000000000000000000000099');
});

test('bad checksum, short messages: a reason, not an exception', () => {
  const bad = Buffer.from(ECHO_REQ);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
  assert.is(decodeIcmp6(bad, 40), 'icmp6_bad_checksum');
  assert.is(typeof decodeIcmp6(bad, 40, undefined, false), 'object');
  // The pseudo-header counts: the same message to another address fails.
  const moved = Buffer.from(ECHO_REQ);
  moved[39] = 3;
  assert.is(decodeIcmp6(moved, 40), 'icmp6_bad_checksum');
  assert.is(decodeIcmp6(ECHO_REQ.subarray(0, 47), 40), 'icmp6_truncated');
  assert.is(decodeIcmp6(ECHO_REQ, 20), 'icmp6_truncated');
});

test('packet too big: the MTU and the quoted TCP 4-tuple and sequence, through a destination options header', () => {
  const m = decode(TOO_BIG);
  assert.equal([m.type, m.code, m.mtu], [ICMP6_PACKET_TOO_BIG, 0, 1280]);
  assert.equal(m.quoted, { src: A, dst: B, protocol: IPPROTO_TCP, srcPort: 5000, dstPort: 80, seq: 123456789 });
  const built = buildIcmp6Error(B, TOO_BIG.subarray(48), ICMP6_PACKET_TOO_BIG, 0, 1280);
  assert.ok(built.equals(TOO_BIG), built.toString('hex'));
});

test('parameter problem: the pointer and the quoted UDP ports; the builder gives scapy\'s bytes', () => {
  const m = decode(PARAM_PROB);
  assert.equal([m.type, m.code, m.pointer], [ICMP6_PARAM_PROB, PARAMPROB_OPTION, 42]);
  assert.equal(m.quoted, { src: A, dst: B, protocol: IPPROTO_UDP, srcPort: 5000, dstPort: 53 });
  assert.ok(buildIcmp6Error(B, PARAM_PROB.subarray(48), ICMP6_PARAM_PROB, PARAMPROB_OPTION, 42).equals(PARAM_PROB));
});

test('quotes cut short give what is there; a later fragment quotes no ports', () => {
  const inner = TOO_BIG.subarray(48);
  const cut = (n: number): Icmp6Message => decode(buildIcmp6Error(B, inner.subarray(0, n), ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT));
  assert.is(cut(39).quoted, undefined);
  assert.equal(cut(40).quoted, { src: A, dst: B });
  assert.equal(cut(51).quoted, { src: A, dst: B, protocol: IPPROTO_TCP });
  assert.equal(cut(52).quoted, { src: A, dst: B, protocol: IPPROTO_TCP, srcPort: 5000, dstPort: 80 });
  const frag = Buffer.from([IPPROTO_TCP, 0, 0x05, 0xa8, 0, 0, 0, 1, 0x13, 0x88, 0, 80]);
  const later = buildIPv6Packet({ src: A, dst: B }, IPPROTO_FRAGMENT, frag);
  assert.equal(decode(buildIcmp6Error(B, later, ICMP6_TIME_EXCEEDED, 1)).quoted, { src: A, dst: B });
});

test('errors quote at most what keeps them within 1280 bytes (RFC 4443 §2.4(c))', () => {
  const big = buildIPv6Packet({ src: A, dst: B }, IPPROTO_UDP, Buffer.alloc(3000));
  const e = buildIcmp6Error(B, big, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT);
  assert.is(e.length, 1280);
  assert.ok(e.subarray(48).equals(big.subarray(0, 1232)));
  assert.is(decode(e).type, ICMP6_DST_UNREACH);
});

test('no errors about errors, from multicast destinations (but the two exceptions), to bad sources (RFC 4443 §2.4(e))', () => {
  const udp = buildIPv6Packet({ src: A, dst: B }, IPPROTO_UDP, Buffer.alloc(8));
  const mcast = buildIPv6Packet({ src: A, dst: 'ff02::1' }, IPPROTO_UDP, Buffer.alloc(8));
  assert.ok(mayAnswerWithError(udp, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT));
  assert.not.ok(mayAnswerWithError(mcast, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT));
  assert.ok(mayAnswerWithError(mcast, ICMP6_PACKET_TOO_BIG, 0));
  // An unrecognized option to a multicast address: only the 10xxxxxx kind is answered (the pointer finds its type).
  for (const [opt, ok] of [[0x9e, true], [0xde, false]] as const) {
    const withOpt = buildIPv6Packet({ src: A, dst: 'ff02::1' }, 60, Buffer.from([IPPROTO_UDP, 0, opt, 0, 1, 2, 0, 0, ...new Array<number>(8).fill(0)]));
    assert.is(mayAnswerWithError(withOpt, ICMP6_PARAM_PROB, PARAMPROB_OPTION, 42), ok);
  }
  assert.not.ok(mayAnswerWithError(mcast, ICMP6_PARAM_PROB, PARAMPROB_NEXTHEADER));
  assert.not.ok(mayAnswerWithError(TOO_BIG, ICMP6_PARAM_PROB, 0));
  assert.ok(mayAnswerWithError(ECHO_REQ, ICMP6_PARAM_PROB, 0));
  assert.not.ok(mayAnswerWithError(buildIPv6Packet({ src: '::', dst: B }, IPPROTO_UDP, Buffer.alloc(8)), ICMP6_DST_UNREACH, 4));
  assert.not.ok(mayAnswerWithError(buildIPv6Packet({ src: 'ff02::2', dst: B }, IPPROTO_UDP, Buffer.alloc(8)), ICMP6_DST_UNREACH, 4));
  assert.not.ok(mayAnswerWithError(udp.subarray(0, 39), ICMP6_DST_UNREACH, 4));
  // A chain that cannot be walked is eligible, as in Linux; an ICMPv6 message without its type byte is not.
  assert.ok(mayAnswerWithError(buildIPv6Packet({ src: A, dst: B }, 60, Buffer.alloc(4)), ICMP6_PARAM_PROB, 0));
  assert.not.ok(mayAnswerWithError(buildIPv6Packet({ src: A, dst: B }, IPPROTO_ICMPV6, Buffer.alloc(0)), ICMP6_PARAM_PROB, 0));
  // An error type sent as the first fragment is still an error.
  const fragErr = buildIPv6Packet({ src: A, dst: B }, IPPROTO_FRAGMENT, Buffer.concat([Buffer.from([IPPROTO_ICMPV6, 0, 0, 1, 0, 0, 0, 1]), Buffer.from([1, 4, 0, 0, 0, 0, 0, 0])]));
  assert.not.ok(mayAnswerWithError(fragErr, ICMP6_PARAM_PROB, 0));
});

test('buildIcmp6Packet round trip with any type', () => {
  const p = buildIcmp6Packet({ src: A, dst: B, hopLimit: 255 }, 135, 0, 0, Buffer.alloc(16, 7));
  assert.equal([p[7], decode(p).type, decode(p).rest, decode(p).data.length], [255, 135, 0, 16]);
});

test.run();
