// The stack's side of sharding (src/shard/): active opens take local ports
// from StackOptions.ephemeralPorts only, and a segment that matches no
// connection and no listener goes to strayTcp before it would be reset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_SYN } from '../../../src/wire/tcp.js';
import { buildIcmpPacket, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED } from '../../../src/wire/icmp.js';
import { IPPROTO_ICMP } from '../../../src/wire/ipv4.js';
import { asTcp, rig, tcp, PEER, US } from '../stack/rig.js';

test('active opens take their local ports from ephemeralPorts', () => {
  const r = rig({ ephemeralPorts: [45000, 45002] });
  const ports = [0, 1, 2].map(() => r.stack.openConnection(PEER, 5000).localPort).sort();
  assert.equal(ports, [45000, 45001, 45002]);
  assert.throws(() => r.stack.openConnection(PEER, 5000), /EADDRNOTAVAIL/);
});

test('a stray segment goes to strayTcp with its local port and the whole packet, not a RST', () => {
  const r = rig();
  const seen: Array<{ port: number; packet: Buffer; trusted: boolean }> = [];
  r.stack.strayTcp = (port, packet, trusted) => {
    seen.push({ port, packet: Buffer.from(packet), trusted });
    return true;
  };
  const synAck = tcp({ flags: TCP_SYN | TCP_ACK, seq: 1000, ack: 2000, dstPort: 50123 });
  assert.is(r.inject(synAck).length, 0);
  assert.is(seen.length, 1);
  assert.is(seen[0]!.port, 50123);
  assert.equal(seen[0]!.packet, synAck);
  assert.is(seen[0]!.trusted, false);
  assert.is(r.stack.counters.get('shard_forwarded'), 1);
  assert.is(r.stack.counters.get('shard_forwarded_syn'), 1);
  assert.is(r.stack.counters.get('tcp_rst_sent'), 0);
});

test('strayTcp saying no (its own port): the RST of RFC 9293 §3.10.7.1 as before', () => {
  const r = rig();
  r.stack.strayTcp = () => false;
  const out = r.inject(tcp({ flags: TCP_ACK, seq: 1, ack: 77, dstPort: 50123 }));
  assert.is(out.length, 1);
  assert.is(asTcp(out[0]!).seg.seq, 77);
  assert.is(r.stack.counters.get('shard_forwarded'), 0);
});

test('a listener takes the SYN first: strayTcp is not asked', () => {
  const r = rig();
  let asked = 0;
  r.stack.strayTcp = () => (asked++, true);
  r.stack.openListener(80, 16, () => {});
  const out = r.inject(tcp({ flags: TCP_SYN, seq: 1 }));
  assert.is(asTcp(out[0]!).seg.flags, TCP_SYN | TCP_ACK);
  assert.is(asked, 0);
});

test('an ICMP error quoting a segment of no connection here goes to strayTcp, marked as one', () => {
  const r = rig();
  const seen: Array<{ port: number; icmp: boolean }> = [];
  r.stack.strayTcp = (port, _p, _t, icmpError) => (seen.push({ port, icmp: icmpError }), true);
  const ours = tcp({ flags: TCP_ACK, seq: 1, ack: 1, srcPort: 50123, dstPort: 5000 }, undefined, PEER, US); // a segment we sent
  const err = buildIcmpPacket({ src: PEER, dst: US, protocol: IPPROTO_ICMP, ttl: 64 }, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280, ours.subarray(0, 28));
  r.inject(err);
  assert.equal(seen, [{ port: 50123, icmp: true }]);
  assert.is(r.stack.counters.get('icmp_tcp_no_connection'), 0);
  r.stack.strayTcp = () => false;
  r.inject(err);
  assert.is(r.stack.counters.get('icmp_tcp_no_connection'), 1);
});

test.run();
