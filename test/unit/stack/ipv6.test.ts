// The stack over IPv6 (stack-ip6.ts and Stack's TCP demultiplexing): exact
// answers to SYNs, closed ports, echo, unknown next headers, UDP, fragments,
// and ICMPv6 errors quoting our segments (RFC 8200, RFC 4443, RFC 5927).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildIPv6Packet, IPPROTO_FRAGMENT, walkIPv6 } from '../../../src/wire/ipv6.js';
import {
  ICMP6_DST_UNREACH, ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ICMP6_PACKET_TOO_BIG, ICMP6_PARAM_PROB, ICMP6_TIME_EXCEEDED,
} from '../../../src/wire/icmp6.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption } from '../../../src/wire/tcp.js';
import { Ip6Reassembler } from '../../../src/stack/ip6-reassembly.js';
import type { ConnEvent } from '../../../src/tcp/connection.js';
import type { TcpEndpoint } from '../../../src/stack/endpoint.js';
import { delivered, rig, type Rig } from './rig.js';
import { TcpdumpFormatter } from '../../../src/trace/tcpdump.js';
import { asIcmp6, asTcp6, icmp6, PEER6, rig6, tcp6, US6 } from './rig6.js';

const ISS = 0xfffff000; // the peer's, near the wrap

function synOptions(): TcpOption[] {
  return [{ kind: 'mss', mss: 1440 }, { kind: 'sackOK' }, { kind: 'wscale', shift: 7 }];
}

test('IPv6 SYN to a listener: SYN,ACK from our address with MSS 1440 (MTU 1500 - 60), a flow label, hop limit 64', () => {
  const r = rig6();
  r.stack.openListener(80, 8, () => {});
  const out = r.inject(tcp6({ flags: TCP_SYN, seq: ISS, options: synOptions() }));
  assert.is(out.length, 1);
  const { ip, seg } = asTcp6(out[0]!);
  assert.equal([ip.src, ip.dst, ip.hopLimit, ip.trafficClass], [US6, PEER6, 64, 0]);
  assert.ok(ip.flowLabel !== 0, 'RFC 6437 flow label set');
  assert.equal([seg.srcPort, seg.dstPort, seg.flags, seg.ack], [80, 40312, TCP_SYN | TCP_ACK, (ISS + 1) >>> 0]);
  assert.is(seg.options.mss, 1440);
  assert.is(seg.options.wscale !== undefined, true);
  assert.is(seg.options.sackPermitted, true);
  assert.is(out[0]!.length, 40 + seg.headerLength);
  assert.is(r.stack.counters.get('ip6_in'), 1);
  assert.is(r.stack.counters.get('tcp_passive_opens'), 1);
});

test('IPv6 off (no addr6): IPv6 packets are dropped and counted as before', () => {
  const r = rig();
  r.stack.openListener(80, 8, () => {});
  assert.is(r.inject(tcp6({ flags: TCP_SYN, seq: ISS })).length, 0);
  assert.is(r.stack.counters.get('ipv6_ignored'), 1);
  assert.is(r.stack.addr6, null);
});

test('IPv6 SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>; an ACK: <SEQ=SEG.ACK><CTL=RST>', () => {
  const r = rig6();
  let out = r.inject(tcp6({ flags: TCP_SYN, seq: ISS }));
  assert.is(out.length, 1);
  let { ip, seg } = asTcp6(out[0]!);
  assert.equal([ip.src, ip.dst], [US6, PEER6]);
  assert.equal([seg.flags, seg.seq, seg.ack, seg.window], [TCP_RST | TCP_ACK, 0, (ISS + 1) >>> 0, 0]);
  out = r.inject(tcp6({ flags: TCP_ACK | TCP_PSH, seq: 5, ack: 0xdeadbeef }, Buffer.from('x')));
  ({ seg } = asTcp6(out[0]!));
  assert.equal([seg.flags, seg.seq, seg.ack], [TCP_RST, 0xdeadbeef, 0]);
  assert.is(r.stack.counters.get('tcp_rst_sent'), 2);
});

test('a bad TCP checksum over IPv6 (the pseudo-header covers both addresses) is dropped', () => {
  const r = rig6();
  r.stack.openListener(80, 8, () => {});
  const p = tcp6({ flags: TCP_SYN, seq: ISS }, undefined, { src: 'fd00::7' });
  p.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8); // another source: the pseudo-header no longer matches
  assert.is(r.inject(p).length, 0);
  assert.is(r.stack.counters.get('tcp_bad_checksum'), 1);
});

test('listeners: family 4 refuses IPv6 (RST), family 6 takes it, a specific address only that one', () => {
  const r = rig6();
  r.stack.openListener(80, 8, () => {}, undefined, { family: 4 });
  r.stack.openListener(81, 8, () => {}, undefined, { family: 6 });
  r.stack.openListener(82, 8, () => {}, undefined, { family: 6, address: '::1' });
  const flagsFor = (port: number): number => asTcp6(r.inject(tcp6({ flags: TCP_SYN, seq: ISS, dstPort: port }))[0]!).seg.flags;
  assert.is(flagsFor(80), TCP_RST | TCP_ACK);
  assert.is(flagsFor(81), TCP_SYN | TCP_ACK);
  assert.is(flagsFor(82), TCP_RST | TCP_ACK);
});

test('multicast destinations (router solicitations, MLD) and martian sources are dropped and counted, unanswered', () => {
  const r = rig6();
  r.stack.openListener(80, 8, () => {});
  assert.is(r.inject(icmp6(133, 0, 0, Buffer.alloc(8), 'fe80::1', 'ff02::2')).length, 0);
  assert.is(r.stack.counters.get('ip6_multicast_ignored'), 1);
  for (const src of ['::1', US6, 'ff02::1', '::']) assert.is(r.inject(tcp6({ flags: TCP_SYN, seq: ISS }, undefined, { src })).length, 0, src);
  assert.is(r.stack.counters.get('ip6_martian_source'), 4);
  assert.is(r.inject(tcp6({ flags: TCP_SYN, seq: ISS }, undefined, { dst: 'fd00::3' })).length, 0);
  assert.is(r.stack.counters.get('ip6_not_for_us'), 1);
});

test('a SYN from an IPv4-mapped source (::ffff:10.0.0.1) makes no connection: dropped, counted, unanswered (Linux tcp_v6_conn_request)', () => {
  const r = rig6();
  let accepted = 0;
  r.stack.openListener(80, 8, () => accepted++);
  // 60 20 00 00 00 18 06 40 | 0000..ffff 0a000001 | fd00::2 | TCP SYN :40312 > :80 seq 0xfffff000, MSS 1440, SACK OK, wscale 7
  const syn = tcp6({ flags: TCP_SYN, seq: ISS, options: synOptions() }, undefined, { src: '::ffff:10.0.0.1' });
  assert.is(syn.subarray(8, 24).toString('hex'), '00000000000000000000ffff0a000001');
  assert.is(r.inject(syn).length, 0, 'no SYN,ACK to a mapped address');
  assert.is([...r.stack.connections()].length, 0, 'no TCB');
  assert.is(r.stack.counters.get('tcp_v4mapped_source'), 1);
  assert.is(accepted, 0);
  // The same SYN from a real IPv6 address is answered.
  assert.is(asTcp6(r.inject(tcp6({ flags: TCP_SYN, seq: ISS, options: synOptions() }))[0]!).seg.flags, TCP_SYN | TCP_ACK);
});

test('ICMPv6 echo request: a reply with the same identifier, sequence and data', () => {
  const r = rig6();
  const data = Buffer.from('0123456789abcdef0123456789abcdef');
  const out = r.inject(icmp6(ICMP6_ECHO_REQUEST, 0, (0x1234 << 16) | 7, data));
  assert.is(out.length, 1);
  const { ip, msg } = asIcmp6(out[0]!);
  assert.equal([ip.src, ip.dst, msg.type, msg.code, msg.id, msg.seq], [US6, PEER6, ICMP6_ECHO_REPLY, 0, 0x1234, 7]);
  assert.equal(msg.data, data);
  assert.is(r.stack.counters.get('icmp6_echo_replied'), 1);
});

test('an echo reply larger than the MTU is fragmented at the source (RFC 8200 §4.5), fragments that make the reply', () => {
  const r = rig6();
  const data = Buffer.alloc(3000, 0x5a);
  const out = r.inject(icmp6(ICMP6_ECHO_REQUEST, 0, (9 << 16) | 1, data));
  assert.equal(out.map((p) => p.length), [1496, 1496, 160]);
  const re = new Ip6Reassembler();
  let whole: Buffer | null = null;
  for (const f of out) {
    assert.is(f[6], IPPROTO_FRAGMENT);
    const v = walkIPv6(f);
    if (v.action !== 'reassemble') throw new Error(v.action);
    const res = re.input(f, v.fragment, v.dataStart, 0);
    if (res.kind === 'complete') whole = res.packet;
  }
  assert.ok(whole !== null);
  const { msg } = asIcmp6(whole!);
  assert.equal([msg.type, msg.id, msg.seq], [ICMP6_ECHO_REPLY, 9, 1]);
  assert.equal(msg.data, data);
  assert.equal([r.stack.counters.get('ip6_frag_ok'), r.stack.counters.get('ip6_frag_creates')], [1, 3]);
});

test('an unknown next header: parameter problem code 1 pointing at the Next Header field (offset 6)', () => {
  const r = rig6();
  const p = buildIPv6Packet({ src: PEER6, dst: US6 }, 253, Buffer.alloc(16, 1));
  const out = r.inject(p);
  assert.is(out.length, 1);
  const { ip, msg } = asIcmp6(out[0]!);
  assert.equal([ip.src, ip.dst, msg.type, msg.code, msg.pointer], [US6, PEER6, ICMP6_PARAM_PROB, 1, 6]);
  assert.equal(msg.data, p);
  assert.is(r.stack.counters.get('ip6_unknown_protocol'), 1);
  assert.is(r.stack.counters.get('icmp6_out_param_prob'), 1);
});

test('UDP to any port: destination unreachable, port unreachable (code 4); never about an ICMPv6 error', () => {
  const r = rig6();
  const udp = Buffer.alloc(12);
  udp.writeUInt16BE(5353, 0);
  udp.writeUInt16BE(9, 2);
  udp.writeUInt16BE(12, 4);
  const out = r.inject(buildIPv6Packet({ src: PEER6, dst: US6 }, 17, udp));
  assert.is(out.length, 1);
  const { msg } = asIcmp6(out[0]!);
  assert.equal([msg.type, msg.code], [ICMP6_DST_UNREACH, 4]);
  // An error about an error: never.
  assert.is(r.inject(icmp6(ICMP6_DST_UNREACH, 0, 0, out[0]!)).length, 0);
});

/** packet (no extension headers) cut into two fragments after `cut` bytes of its payload (a multiple of 8). */
function twoFragments(packet: Buffer, cut: number, id: number): [Buffer, Buffer] {
  const payload = packet.subarray(40);
  const frag = (offset: number, data: Buffer, more: boolean): Buffer => {
    const h = Buffer.alloc(8);
    h[0] = packet[6]!;
    h.writeUInt16BE(offset | (more ? 1 : 0), 2);
    h.writeUInt32BE(id, 4);
    const f = buildIPv6Packet({ src: PEER6, dst: US6 }, IPPROTO_FRAGMENT, Buffer.concat([h, data]));
    return f;
  };
  return [frag(0, payload.subarray(0, cut), true), frag(cut, payload.subarray(cut), false)];
}

test('a SYN in two fragments is reassembled and answered; a lone first fragment gets time exceeded (code 1) after 60 s', () => {
  const r = rig6();
  r.stack.openListener(80, 8, () => {});
  const syn = tcp6({ flags: TCP_SYN, seq: ISS, options: synOptions() }, Buffer.alloc(100, 7));
  const [a, b] = twoFragments(syn, 64, 0x11);
  const out = r.inject(b, a);
  assert.is(out.length, 1);
  assert.is(asTcp6(out[0]!).seg.flags, TCP_SYN | TCP_ACK);
  assert.is(r.stack.counters.get('ip6_frag_reassembled'), 1);
  const [first] = twoFragments(tcp6({ flags: TCP_SYN, seq: ISS, srcPort: 40400 }, Buffer.alloc(100)), 64, 0x12);
  assert.is(r.inject(first).length, 0);
  const later = r.advanceTo(r.clock.now() + 61_000).filter((p) => p[6] === 58);
  assert.is(later.length, 1);
  const { msg } = asIcmp6(later[0]!);
  assert.equal([msg.type, msg.code], [ICMP6_TIME_EXCEEDED, 1]);
  assert.equal(msg.data, first);
});

/** An active open to the peer over IPv6, established (no timestamps: segments carry 1440 bytes). */
function connected(r: Rig): { ep: TcpEndpoint; iss: number; events: ConnEvent[] } {
  const events: ConnEvent[] = [];
  const ep = r.stack.openConnection(PEER6, 8080);
  ep.handler = { onEvent: (ev) => events.push(ev) };
  const syn = asTcp6(r.advanceTo(r.clock.now() + 1)[0]!);
  assert.is(syn.seg.options.mss, 1440);
  const iss = syn.seg.seq;
  r.inject(tcp6({ flags: TCP_SYN | TCP_ACK, srcPort: 8080, dstPort: ep.localPort, seq: ISS, ack: (iss + 1) >>> 0, options: [{ kind: 'mss', mss: 1440 }] }));
  assert.is(ep.conn.state, 'ESTABLISHED');
  return { ep, iss, events };
}

test('a connection keeps one nonzero flow label on every segment; another connection gets its own', () => {
  const r = rig6();
  const ep = r.stack.openConnection(PEER6, 8080);
  const syn = r.advanceTo(r.clock.now() + 1)[0]!;
  const label = asTcp6(syn).ip.flowLabel;
  assert.ok(label !== 0);
  assert.is(ep.flowLabel, label);
  const iss = asTcp6(syn).seg.seq;
  const ack = r.inject(tcp6({ flags: TCP_SYN | TCP_ACK, srcPort: 8080, dstPort: ep.localPort, seq: ISS, ack: (iss + 1) >>> 0, options: [{ kind: 'mss', mss: 1440 }] }));
  ep.write(Buffer.alloc(100));
  const data = r.advanceTo(r.clock.now() + 1);
  for (const p of [...ack, ...data]) assert.is(asTcp6(p).ip.flowLabel, label);
  const other = r.stack.openConnection(PEER6, 8081);
  assert.ok(other.flowLabel !== 0 && other.flowLabel !== label);
});

test('packet too big quoting our data lowers the path MTU: resent at once in segments of 1280 - 60 bytes', () => {
  const r = rig6();
  const { ep } = connected(r);
  ep.write(Buffer.alloc(3 * 1440, 1));
  const sent = r.advanceTo(r.clock.now() + 1);
  assert.equal(sent.map((p) => asTcp6(p).seg.payload.length), [1440, 1440, 1440]);
  const ptb = icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280, sent[0]!.subarray(0, 1232), 'fd00::fe');
  const out = r.inject(ptb);
  assert.ok(out.length >= 1);
  assert.is(asTcp6(out[0]!).seg.payload.length, 1220);
  for (const p of out) assert.ok(p.length <= 1280);
  assert.is(ep.conn.sndMss, 1220);
  assert.is(r.stack.counters.get('ip6_pmtu_lowered'), 1);
  assert.is(r.stack.pmtu.get(PEER6, r.clock.now()), 1280);
  // A router claiming less than the IPv6 minimum gets 1280 (RFC 8201 §4): nothing lower.
  r.inject(icmp6(ICMP6_PACKET_TOO_BIG, 0, 600, out[0]!.subarray(0, 1232), 'fd00::fe'));
  assert.is(ep.conn.sndMss, 1220);
});

test('a forged packet too big (quoted sequence outside SND.UNA..SND.NXT, or no connection) is dropped and counted', () => {
  const r = rig6();
  const { ep, iss } = connected(r);
  ep.write(Buffer.alloc(3000, 1));
  const sent = r.advanceTo(r.clock.now() + 1);
  const forged = Buffer.from(sent[0]!.subarray(0, 1232));
  forged.writeUInt32BE((iss + 1_000_000) >>> 0, 40 + 4); // a sequence number we never sent
  assert.is(r.inject(icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280, forged, 'fd00::fe')).length, 0);
  assert.is(r.stack.counters.get('icmp_tcp_out_of_window'), 1);
  const stranger = Buffer.from(sent[0]!.subarray(0, 1232));
  stranger.writeUInt16BE(1, 40); // a local port with no connection
  assert.is(r.inject(icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280, stranger, 'fd00::fe')).length, 0);
  assert.is(r.stack.counters.get('icmp6_tcp_no_connection'), 1);
  const otherPeer = Buffer.from(sent[0]!.subarray(0, 1232));
  otherPeer[39] = otherPeer[39]! ^ 1; // our port, another remote address
  assert.is(r.inject(icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280, otherPeer, 'fd00::fe')).length, 0);
  assert.is(r.stack.counters.get('icmp6_tcp_no_connection'), 2);
  const notFromUs = Buffer.from(sent[0]!.subarray(0, 1232));
  notFromUs[23] = notFromUs[23]! ^ 1; // a source address that is not ours
  assert.is(r.inject(icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280, notFromUs, 'fd00::fe')).length, 0);
  assert.is(r.stack.counters.get('icmp6_tcp_not_ours'), 1);
  assert.is(ep.conn.sndMss, 1440);
  assert.is(r.stack.pmtu.size, 0);
});

test('destination unreachable for our SYN ends connect at once with Linux errno (administratively prohibited: EACCES)', async () => {
  const r = rig6();
  const events: ConnEvent[] = [];
  const ep = r.stack.openConnection(PEER6, 8080);
  ep.handler = { onEvent: (ev) => events.push(ev) };
  const syn = r.advanceTo(r.clock.now() + 1)[0]!;
  r.inject(icmp6(ICMP6_DST_UNREACH, 1, 0, syn, 'fd00::fe'));
  await delivered();
  assert.is(ep.conn.state, 'CLOSED');
  assert.ok(events.some((e) => e.type === 'error' && e.code === 'EACCES'));
});

test('SYN cookies over IPv6: the cookie covers every address byte (RFC 6528 over the whole 4-tuple)', () => {
  const r = rig6();
  const accepted: TcpEndpoint[] = [];
  r.stack.openListener(80, 1, (e) => accepted.push(e));
  r.inject(tcp6({ flags: TCP_SYN, seq: ISS, srcPort: 1000 }));
  const out = r.inject(tcp6({ flags: TCP_SYN, seq: ISS, srcPort: 1001, options: [{ kind: 'mss', mss: 1440 }] }));
  assert.is(r.stack.counters.get('tcp_syncookies_sent'), 1);
  const cookie = asTcp6(out[0]!).seg.seq;
  const ack = { flags: TCP_ACK, seq: (ISS + 1) >>> 0, ack: (cookie + 1) >>> 0, srcPort: 1001 };
  // The same low 32 bits of the source address, other high bits: not our cookie.
  const forged = r.inject(tcp6(ack, undefined, { src: 'fd01::1' }));
  assert.is(asTcp6(forged[0]!).seg.flags, TCP_RST);
  assert.is(r.stack.counters.get('tcp_syncookies_failed'), 1);
  r.inject(tcp6(ack));
  assert.is(r.stack.counters.get('tcp_syncookies_recv'), 1);
  const ep = [...r.stack.connections()].find((e) => e.remotePort === 1001)!;
  assert.equal([ep.v6, ep.conn.state, ep.remoteAddr], [true, 'ESTABLISHED', PEER6]);
});

test('ECN over IPv6: an ECN-setup SYN is accepted, our data carries ECT(0) in the traffic class, CE in is echoed with ECE', () => {
  const r = rig6();
  const accepted: TcpEndpoint[] = [];
  r.stack.openListener(80, 8, (e) => accepted.push(e));
  const synAck = asTcp6(r.inject(tcp6({ flags: TCP_SYN | 0x40 | 0x80, seq: ISS, options: [{ kind: 'mss', mss: 1440 }] }))[0]!);
  assert.is(synAck.seg.flags, TCP_SYN | TCP_ACK | 0x40, 'SYN,ACK with ECE (RFC 3168 §6.1.1)');
  assert.is(synAck.ip.trafficClass & 3, 0, 'no ECT on the SYN,ACK');
  const iss = synAck.seg.seq;
  r.inject(tcp6({ flags: TCP_ACK, seq: (ISS + 1) >>> 0, ack: (iss + 1) >>> 0 }));
  const ep = [...r.stack.connections()][0]!;
  ep.write(Buffer.alloc(100, 1));
  const data = asTcp6(r.advanceTo(r.clock.now() + 1)[0]!);
  assert.is(data.ip.trafficClass & 3, 2, 'ECT(0)');
  const ce = r.inject(tcp6({ flags: TCP_ACK | TCP_PSH, seq: (ISS + 1) >>> 0, ack: (iss + 101) >>> 0 }, Buffer.alloc(10), { tc: 3 }));
  assert.ok(ce.length >= 1);
  assert.is(asTcp6(ce[ce.length - 1]!).seg.flags & 0x40, 0x40, 'ECE');
  assert.is(r.stack.counters.get('tcp_ecn_ce_received'), 1);
});

test('trace: an IPv6 segment is formatted as tcpdump -nn prints it', () => {
  const r = rig6();
  const out = r.inject(tcp6({ flags: TCP_SYN, seq: ISS }));
  const line = new TcpdumpFormatter().format(out[0]!);
  assert.is(line, `IP6 ${US6}.80 > ${PEER6}.40312: Flags [R.], seq 0, ack ${(ISS + 1) >>> 0}, win 0, length 0`);
});

test('connect over IPv6 with IPv6 off: ENETUNREACH', () => {
  const r = rig();
  assert.throws(() => r.stack.openConnection(PEER6, 80), (e: Error & { code?: string }) => e.code === 'ENETUNREACH');
});

test('::1 and our own IPv6 address reach our own listeners through loopback', () => {
  const r = rig6();
  const accepted: TcpEndpoint[] = [];
  r.stack.openListener(80, 8, (e) => accepted.push(e));
  const a = r.stack.openConnection('::1', 80);
  const b = r.stack.openConnection(US6, 80);
  assert.is(r.advanceTo(r.clock.now() + 5).length, 0, 'nothing on the link');
  assert.equal([a.conn.state, b.conn.state], ['ESTABLISHED', 'ESTABLISHED']);
  assert.equal([a.localAddr, b.localAddr], ['::1', US6]);
});

test.run();
