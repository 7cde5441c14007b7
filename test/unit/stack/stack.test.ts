// Exact-segment tests of the first stack: what it answers to ICMP echo and to
// TCP segments for ports without a listener (RFC 9293 §3.10.7.1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IPPROTO_ICMP, decodeIPv4 } from '../../../src/wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { buildIcmpPacket, decodeIcmp, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST } from '../../../src/wire/icmp.js';
import { Prng } from '../../../src/link/prng.js';
import { IsnGenerator } from '../../../src/stack/isn.js';
import { asTcp, PEER, rig, tcp, US } from './rig.js';

test('SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
  const r = rig();
  const out = r.inject(tcp({ flags: TCP_SYN, seq: 117557845, options: [{ kind: 'mss', mss: 1460 }] }));
  assert.is(out.length, 1);
  const { ip, seg } = asTcp(out[0]!);
  assert.is(ip.src, US);
  assert.is(ip.dst, PEER);
  assert.is(seg.srcPort, 80);
  assert.is(seg.dstPort, 40312);
  assert.is(seg.flags, TCP_RST | TCP_ACK);
  assert.is(seg.seq, 0);
  assert.is(seg.ack, 117557846);
  assert.is(seg.window, 0);
  assert.is(seg.payload.length, 0);
  assert.is(seg.options.list.length, 0);
  assert.is(r.stack.counters.get('tcp_rst_sent'), 1);
});

test('SEG.LEN counts SYN, FIN and data, with wraparound', () => {
  const r = rig();
  const out = r.inject(tcp({ flags: TCP_SYN | TCP_FIN | TCP_PSH, seq: 0xfffffffa }, Buffer.alloc(10)));
  const { seg } = asTcp(out[0]!);
  assert.is(seg.flags, TCP_RST | TCP_ACK);
  assert.is(seg.ack, (0xfffffffa + 12) % 2 ** 32);
});

test('segment with ACK to a closed port: <SEQ=SEG.ACK><CTL=RST>', () => {
  const r = rig();
  const out = r.inject(tcp({ flags: TCP_ACK | TCP_PSH, seq: 1000, ack: 0xdeadbeef }, Buffer.from('hello')));
  assert.is(out.length, 1);
  const { seg } = asTcp(out[0]!);
  assert.is(seg.flags, TCP_RST);
  assert.is(seg.seq, 0xdeadbeef);
  assert.is(seg.ack, 0);
  assert.is(seg.window, 0);
});

test('never a RST in answer to a RST', () => {
  const r = rig();
  assert.is(r.inject(tcp({ flags: TCP_RST, seq: 5 })).length, 0);
  assert.is(r.inject(tcp({ flags: TCP_RST | TCP_ACK, seq: 5, ack: 9 })).length, 0);
  assert.is(r.stack.counters.get('tcp_rst_no_connection'), 2);
  assert.is(r.stack.counters.get('tcp_rst_sent'), 0);
});

test('ICMP echo request gets a reply with the same id, seq and data', () => {
  const r = rig();
  const data = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef');
  const req = buildIcmpPacket({ src: PEER, dst: US, protocol: IPPROTO_ICMP, ttl: 64 }, ICMP_ECHO_REQUEST, 0, (0x1234 << 16) | 7, data);
  const out = r.inject(req);
  assert.is(out.length, 1);
  const ip = decodeIPv4(out[0]!);
  if (typeof ip === 'string') throw new Error(ip);
  assert.is(ip.src, US);
  assert.is(ip.dst, PEER);
  const msg = decodeIcmp(ip.payload);
  if (typeof msg === 'string') throw new Error(msg);
  assert.is(msg.type, ICMP_ECHO_REPLY);
  assert.is(msg.id, 0x1234);
  assert.is(msg.seq, 7);
  assert.equal(msg.data, data);
});

test('packets not for us, with bad checksums or truncated are dropped by name, unanswered', () => {
  const r = rig();
  assert.is(r.inject(tcp({ flags: TCP_SYN }, undefined, '10.55.0.9')).length, 0);
  assert.is(r.stack.counters.get('ip_not_for_us'), 1);
  const bad = tcp({ flags: TCP_SYN });
  bad[bad.length - 1]! ^= 0xff; // inside the TCP header: checksum no longer matches
  assert.is(r.inject(bad).length, 0);
  assert.is(r.stack.counters.get('tcp_bad_checksum'), 1);
  assert.is(r.inject(tcp({ flags: TCP_SYN }).subarray(0, 30)).length, 0);
  assert.ok(r.stack.counters.get('dropped') >= 3);
});

test('random and mutated packets never throw and never get more than one answer each', () => {
  const r = rig();
  const rng = new Prng(20261126);
  const base = [tcp({ flags: TCP_SYN, options: [{ kind: 'mss', mss: 1460 }] }), tcp({ flags: TCP_ACK, ack: 1 }, Buffer.alloc(20))];
  let answers = 0;
  for (let i = 0; i < 5000; i++) {
    let p: Buffer;
    if (i % 3 === 0) {
      p = Buffer.alloc(rng.int(80));
      for (let j = 0; j < p.length; j++) p[j] = rng.int(256);
      if (p.length > 0) p[0] = 0x45;
    } else {
      p = Buffer.from(base[i % 2]!);
      for (let k = 0; k < 3; k++) p[rng.int(p.length)] = rng.int(256);
      p = p.subarray(0, rng.int(p.length + 1));
    }
    const out = r.inject(p);
    assert.ok(out.length <= 1);
    answers += out.length;
  }
  assert.is(r.stack.counters.get('stack_internal_error'), 0);
  assert.is(r.stack.counters.get('ip_in'), 5000);
  assert.ok(answers < 5000);
});

test('listener: SYN gets SYN,ACK with our MSS from the MTU; the SYN queue is bounded by the backlog', () => {
  for (const synCookies of [true, false]) {
    const r = rig({ synCookies });
    r.stack.openListener(80, 3, () => {});
    const replies: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      replies.push(...r.inject(tcp({ flags: TCP_SYN, srcPort: 41000 + i, seq: 1000 * i, options: [{ kind: 'mss', mss: 1460 }] })));
    }
    // Three SYN_RECEIVED entries; beyond them a cookie SYN,ACK without state (Linux
    // tcp_syncookies=1), or nothing at all with cookies off.
    assert.is(replies.length, synCookies ? 5 : 3);
    for (const p of replies) {
      const { seg } = asTcp(p);
      assert.is(seg.flags, TCP_SYN | TCP_ACK);
      assert.is(seg.options.mss, 1460, 'MTU 1500 - 40');
    }
    assert.is([...r.stack.connections()].length, 3);
    assert.is([...r.stack.listening()][0]!.pending, 3);
    assert.is(r.stack.counters.get('tcp_listen_overflow'), synCookies ? 0 : 2);
    assert.is(r.stack.counters.get('tcp_syncookies_sent'), synCookies ? 2 : 0);
    // An ACK to a listener that matches no connection gets <SEQ=SEG.ACK><CTL=RST> (§3.10.7.2),
    // after failing as a cookie while cookies are being sent.
    const out = r.inject(tcp({ flags: TCP_ACK, srcPort: 42000, seq: 5, ack: 777 }));
    assert.is(asTcp(out[0]!).seg.flags, TCP_RST);
    assert.is(asTcp(out[0]!).seg.seq, 777);
    assert.is(r.stack.counters.get('tcp_syncookies_failed'), synCookies ? 1 : 0);
    // A RST to a listener is ignored.
    assert.is(r.inject(tcp({ flags: TCP_RST, srcPort: 42001, seq: 5 })).length, 0);
  }
});

test('RFC 6528 ISNs: same 4-tuple increases with the 4 µs clock, other 4-tuples look unrelated', () => {
  const g = new IsnGenerator(Buffer.alloc(16, 1));
  const a0 = g.isn(1000, US, 80, PEER, 40000);
  const a1 = g.isn(1001, US, 80, PEER, 40000);
  assert.is((a1 - a0 + 2 ** 32) % 2 ** 32, 250, '1 ms = 250 ticks of 4 µs');
  const b0 = g.isn(1000, US, 80, PEER, 40001);
  assert.ok(Math.abs(((b0 - a0) | 0)) > 1_000_000, 'a neighbouring port gives a far-away ISN');
  const other = new IsnGenerator(Buffer.alloc(16, 2)).isn(1000, US, 80, PEER, 40000);
  assert.is.not(other, a0, 'another key, another ISN');
  // IPv6: the addresses count whole, their first words too.
  const v6 = g.isn(1000, '2001:db8::2', 80, '2001:db8::1', 40000);
  assert.is.not(g.isn(1000, '2001:db9::2', 80, '2001:db8::1', 40000), v6, 'our address');
  assert.is.not(g.isn(1000, '2001:db8::2', 80, '2001:db9::1', 40000), v6, 'the peer address');
  assert.is((g.isn(1001, '2001:db8::2', 80, '2001:db8::1', 40000) - v6 + 2 ** 32) % 2 ** 32, 250);
  // A key shorter than SipHash's 16 bytes still works (StackOptions.isnKey takes any Buffer).
  const short = new IsnGenerator(Buffer.from('k'));
  assert.is.not(short.isn(1000, US, 80, PEER, 40000), short.isn(1000, US, 80, PEER, 40001));
});

test.run();
