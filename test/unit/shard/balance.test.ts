// Passive opens spread over the shards (src/shard/balance.ts): which shard
// a SYN goes to, what is remembered and forgotten, and the stack's two
// hooks for it (passiveTcp before a listener answers, endpointRemoved).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { PassiveBalance, loadSlots, tupleKey } from '../../../src/shard/balance.js';
import { asTcp, rig, tcp, PEER } from '../stack/rig.js';

/** The shared load of `n` shards: n connection counts, then n counts of SYNs on their way. */
const shards = (n: number): Int32Array => new Int32Array(new SharedArrayBuffer(4 * loadSlots(n)));

test('a SYN stays while no shard holds fewer connections, else goes to the one with the fewest', () => {
  const load = shards(3);
  const b = new PassiveBalance(0, load);
  assert.is(b.pick(0), 0); // all equal: keep it
  assert.is(load[0], 1, 'the SYN counts here at once');
  load.set([1, 1, 0]);
  assert.is(b.pick(1), 2);
  assert.is(load[0], 1, 'not counted here');
  load.set([3, 1, 1]);
  assert.is(b.pick(3), 1, 'the first of the least loaded');
  load.set([2, 2, 2]);
  assert.is(b.pick(2), 0);
});

test('a SYN handed on counts at once where it went, and its later segments follow it', () => {
  const load = shards(2);
  const b = new PassiveBalance(0, load);
  const key = tupleKey(PEER, 40312, 80);
  assert.is(b.ownerOf(key), -1);
  load.set([1, 0]);
  assert.is(b.pick(1), 1);
  b.handedOut(key, 1);
  assert.equal([...load], [1, 0, 0, 1], 'on its way to shard 1');
  assert.is(b.pick(1), 0, 'equal now: the next one stays');
  assert.is(b.ownerOf(key), 1);
  // Shard 1 writing its true count (before the SYN arrives) does not undo it.
  const b1 = new PassiveBalance(1, load);
  b1.setOwn(0);
  assert.is(b.pick(2), 1);
  b1.arrived();
  b1.setOwn(1);
  assert.equal([...load], [2, 1, 0, 0]);
  b.forget(key);
  assert.is(b.ownerOf(key), -1);
  assert.equal(b.remembered, { out: 0, in: 0 });
});

test('the owner says when a handed connection ended, once; only handed ones', () => {
  const b = new PassiveBalance(1, shards(2));
  const key = tupleKey('fd00::1', 40312, 80);
  b.handedIn(key, 0);
  assert.is(b.ended(tupleKey('fd00::1', 40313, 80)), -1);
  assert.is(b.ended(key), 0);
  assert.is(b.ended(key), -1);
  assert.equal(b.remembered, { out: 0, in: 0 });
});

test('past MAX_HANDED remembered 4-tuples a shard keeps its SYNs (no entry is evicted)', () => {
  const load = shards(2);
  const b = new PassiveBalance(0, load, 2);
  load.set([5, 0]);
  b.handedOut('a', 1);
  b.handedOut('b', 1);
  assert.is(b.pick(5), 0);
  assert.is(b.ownerOf('a'), 1);
  b.forget('a');
  assert.is(b.pick(5), 1);
});

test('stack: passiveTcp sees a SYN for a listener before it is answered; true takes it', () => {
  const r = rig();
  r.stack.openListener(80, 16, () => {});
  const seen: Array<{ remote: string; remotePort: number; localPort: number; syn: boolean; packet: Buffer }> = [];
  let take = true;
  r.stack.passiveTcp = (remote, remotePort, localPort, syn, packet) => {
    seen.push({ remote, remotePort, localPort, syn, packet: Buffer.from(packet) });
    return take;
  };
  const syn = tcp({ flags: TCP_SYN, seq: 1 });
  assert.is(r.inject(syn).length, 0);
  assert.equal(seen, [{ remote: PEER, remotePort: 40312, localPort: 80, syn: true, packet: syn }]);
  assert.is(r.stack.counters.get('shard_forwarded_passive'), 1);
  assert.is(r.stack.connectionCount, 0);
  // Its handshake's ACK (and anything else of no connection here) is asked about as not a SYN.
  assert.is(r.inject(tcp({ flags: TCP_ACK, seq: 2, ack: 77 })).length, 0);
  assert.is(seen[1]!.syn, false);
  // Declined: the listener answers as before.
  take = false;
  const out = r.inject(tcp({ flags: TCP_SYN, seq: 1, srcPort: 40313 }));
  assert.is(asTcp(out[0]!).seg.flags, TCP_SYN | TCP_ACK);
  assert.is(seen[2]!.syn, true);
  assert.is(r.stack.connectionCount, 1);
  // A segment of that connection is not asked about.
  r.inject(tcp({ flags: TCP_ACK, seq: 2, ack: asTcp(out[0]!).seg.seq + 1, srcPort: 40313 }));
  assert.is(seen.length, 3);
});

test('stack: endpointRemoved hears of every connection that leaves the table', () => {
  const r = rig({ tcp: { msl: 1 } });
  r.stack.openListener(80, 16, () => {});
  const gone: string[] = [];
  r.stack.endpointRemoved = (ep) => gone.push(tupleKey(ep.remoteAddr, ep.remotePort, ep.localPort));
  const synAck = asTcp(r.inject(tcp({ flags: TCP_SYN, seq: 1 }))[0]!).seg;
  assert.is(r.stack.connectionCount, 1);
  r.inject(tcp({ flags: TCP_RST | TCP_ACK, seq: 2, ack: synAck.seq + 1 }));
  assert.equal(gone, [tupleKey(PEER, 40312, 80)]);
  assert.is(r.stack.connectionCount, 0);
});

test.run();
