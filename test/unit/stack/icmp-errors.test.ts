// ICMP errors into the stack, as exact packets: the quote is matched to a
// connection by its 4-tuple, validated by the connection (RFC 5927), and a
// validated "fragmentation needed" lowers the path MTU of every connection
// to the destination (RFC 1191), remembered for 10 minutes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rig, tcp, asTcp, delivered, US, PEER, type Rig } from './rig.js';
import { buildIcmpPacket, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED } from '../../../src/wire/icmp.js';
import { IPPROTO_ICMP, ipToNumber } from '../../../src/wire/ipv4.js';
import { TCP_ACK, TCP_SYN } from '../../../src/wire/tcp.js';
import type { ConnEvent } from '../../../src/tcp/connection.js';
import type { TcpEndpoint } from '../../../src/stack/endpoint.js';
import { PMTU_EXPIRES_MS } from '../../../src/stack/pmtu.js';

/** A router on the way. */
const ROUTER = '10.55.0.1';
const FAR = '10.77.0.9';

/** An ICMP error from `from` quoting the first 28 bytes of `packet` (RFC 792), as a router sends it. */
function icmpError(packet: Buffer, code: number, rest = 0, from = ROUTER): Buffer {
  return buildIcmpPacket({ src: from, dst: US, protocol: IPPROTO_ICMP, ttl: 64 }, ICMP_DEST_UNREACH, code, rest, packet.subarray(0, 28));
}

function watch(ep: TcpEndpoint): ConnEvent[] {
  const evs: ConnEvent[] = [];
  ep.handler = { onEvent: (ev) => evs.push(ev) };
  return evs;
}

/** connect() to `remote`:80; returns the endpoint and its SYN. */
function connect(r: Rig, remote = FAR): { ep: TcpEndpoint; syn: Buffer; events: ConnEvent[] } {
  const ep = r.stack.openConnection(remote, 80);
  const events = watch(ep);
  const [syn] = r.inject();
  assert.ok(syn !== undefined && asTcp(syn).seg.flags === TCP_SYN, 'a SYN went out');
  return { ep, syn: syn!, events };
}

/** connect() and complete the handshake with the peer's SYN,ACK (MSS 1460, timestamps off). */
function established(r: Rig, remote = FAR): TcpEndpoint {
  const { ep, syn } = connect(r, remote);
  const s = asTcp(syn).seg;
  r.inject(tcp({ srcPort: 80, dstPort: s.srcPort, seq: 5000, ack: s.seq + 1, flags: TCP_SYN | TCP_ACK, options: [{ kind: 'mss', mss: 1460 }] }, undefined, US, remote));
  assert.is(ep.conn.state, 'ESTABLISHED');
  return ep;
}

test('connect + net unreachable quoting our SYN: ENETUNREACH at once, counted', async () => {
  const r = rig();
  const { ep, syn, events } = connect(r);
  assert.equal(r.inject(icmpError(syn, 0)), []);
  assert.is(ep.conn.state, 'CLOSED');
  await delivered();
  assert.equal(events.filter((e) => e.type === 'error'), [{ type: 'error', code: 'ENETUNREACH' }]);
  assert.is(r.stack.counters.get('icmp_tcp_connect_failed'), 1);
  assert.is([...r.stack.connections()].length, 0);
});

test('RFC 5927: errors that match no connection, not our address, or a sequence number we did not send are dropped and counted', () => {
  const r = rig();
  const { ep, syn } = connect(r);
  const s = asTcp(syn).seg;
  // Another local port.
  const otherPort = tcp({ srcPort: s.srcPort + 1, dstPort: 80, seq: s.seq, flags: TCP_SYN }, undefined, FAR, US);
  // A quote whose source is not us.
  const notUs = tcp({ srcPort: s.srcPort, dstPort: 80, seq: s.seq, flags: TCP_SYN }, undefined, FAR, PEER);
  // Our 4-tuple, a sequence number outside SND.UNA..SND.NXT (a blind attacker's guess).
  const badSeq = tcp({ srcPort: s.srcPort, dstPort: 80, seq: s.seq + 1000, flags: TCP_SYN }, undefined, FAR, US);
  assert.equal(r.inject(icmpError(otherPort, 3), icmpError(notUs, 3), icmpError(badSeq, 3), icmpError(badSeq, ICMP_FRAG_NEEDED, 600)), []);
  assert.is(r.stack.counters.get('icmp_tcp_no_connection'), 1);
  assert.is(r.stack.counters.get('icmp_tcp_not_ours'), 1);
  assert.is(r.stack.counters.get('icmp_tcp_out_of_window'), 2);
  assert.is(r.stack.counters.get('dropped'), 4);
  assert.is(ep.conn.state, 'SYN_SENT');
  assert.is(r.stack.pmtu.size, 0);
});

test('fragmentation needed: the path MTU drops for every connection to the host, in-flight data is resent at once in smaller segments', () => {
  const r = rig();
  const a = established(r);
  const b = established(r);
  const other = established(r, '10.77.0.10');
  a.write(Buffer.alloc(3 * 1460, 1));
  const sent = r.inject();
  assert.equal(sent.map((p) => p.length), [1500, 1500, 1500]);
  // The router says the next hop takes 1000 bytes.
  const out = r.inject(icmpError(sent[0]!, ICMP_FRAG_NEEDED, 1000));
  assert.equal(out.map((p) => p.length), [1000, 1000, 1000, 1000, 580]);
  assert.equal(out.map((p) => asTcp(p).seg.seq - asTcp(sent[0]!).seg.seq), [0, 960, 1920, 2880, 3840]);
  assert.is(r.stack.pmtu.get(ipToNumber(FAR), r.clock.now()), 1000);
  assert.equal([a.conn.sndMss, b.conn.sndMss, other.conn.sndMss], [960, 960, 1460]);
  assert.is(r.stack.counters.get('ip_pmtu_lowered'), 1);
  // A new connection to that host sends with it too.
  assert.is(established(r).conn.sndMss, 960);
  // Not lower: nothing changes. Below 552: 552 (Linux ip_rt_min_pmtu).
  r.inject(icmpError(out[0]!, ICMP_FRAG_NEEDED, 1200));
  assert.is(r.stack.counters.get('icmp_frag_needed_not_lower'), 1);
  r.inject(icmpError(out[0]!, ICMP_FRAG_NEEDED, 68));
  assert.is(a.conn.sndMss, 512);
  // RFC 1191 §6.3: ten minutes later the link's MTU is tried again.
  r.advanceTo(r.clock.now() + PMTU_EXPIRES_MS + 1);
  assert.is(r.stack.pmtu.size, 0);
  assert.equal([a.conn.pathMtu, b.conn.sndMss], [1500, 1460]);
});

test('the PMTU cache is bounded: the oldest destination goes first', async () => {
  const { PmtuCache } = await import('../../../src/stack/pmtu.js');
  const c = new PmtuCache(3);
  for (let d = 1; d <= 5; d++) assert.is(c.lower(d, 1000, 1500, d), 1000);
  assert.is(c.size, 3);
  assert.equal([1, 2, 3, 4, 5].map((d) => c.get(d, 10)), [undefined, undefined, 1000, 1000, 1000]);
  assert.equal(c.expire(3 + PMTU_EXPIRES_MS), [3]);
  assert.is(c.nextExpiry(), 4 + PMTU_EXPIRES_MS);
});

test.run();
