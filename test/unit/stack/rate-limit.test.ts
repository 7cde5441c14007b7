// RSTs for segments that match no connection are rate limited (FreeBSD
// badport_bandlim, 200/s by default); a connection's own RSTs are not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import { TokenBucket } from '../../../src/stack/rate-limit.js';
import type { TcpEndpoint } from '../../../src/stack/endpoint.js';
import { asTcp, delivered, rig, tcp } from './rig.js';

/** `n` SYNs to closed port 81 from distinct ports, as one batch. */
const strays = (n: number, from = 30000): Buffer[] => Array.from({ length: n }, (_, i) => tcp({ flags: TCP_SYN, srcPort: from + i, dstPort: 81, seq: i }));

test('token bucket: a burst of `perSecond`, then refilled in proportion to the time passed', () => {
  const b = new TokenBucket(200);
  let n = 0;
  while (b.take(0)) n++;
  assert.is(n, 200);
  assert.is(b.take(4), false, '0.8 tokens after 4 ms');
  assert.is(b.take(5), true, '1 token after 5 ms');
  for (n = 0; b.take(505); n++);
  assert.is(n, 100, 'half a second: half the burst');
  for (n = 0; b.take(10_000); n++);
  assert.is(n, 200, 'never more than the burst');
  const off = new TokenBucket(0);
  for (let i = 0; i < 1000; i++) assert.ok(off.take(0));
});

test('the 201st RST within one second is suppressed; the next second allows 200 again', () => {
  const r = rig({}, 0);
  const first = r.inject(...strays(201));
  assert.is(first.length, 200);
  for (const p of first) assert.is(asTcp(p).seg.flags, TCP_RST | TCP_ACK);
  assert.is(r.stack.counters.get('tcp_rst_ratelimited'), 1);
  assert.is(r.stack.counters.get('tcp_rst_sent'), 200);
  r.advanceTo(999);
  // 999 ms refill 199.8 tokens: 199 RSTs.
  assert.is(r.inject(...strays(201, 31000)).length, 199);
  r.advanceTo(1999);
  assert.is(r.inject(...strays(201, 32000)).length, 200);
  assert.is(r.stack.counters.get('tcp_rst_ratelimited'), 1 + 2 + 1);
});

test('stray ACKs count against the same budget; the limit is configurable (0: none)', () => {
  const r = rig({ rstRateLimit: 10 }, 0);
  const acks = Array.from({ length: 20 }, (_, i) => tcp({ flags: TCP_ACK, srcPort: 33000 + i, dstPort: 81, seq: 1, ack: 99 }));
  assert.is(r.inject(...acks).length, 10);
  const free = rig({ rstRateLimit: 0 }, 0);
  assert.is(free.inject(...strays(1000)).length, 1000);
  assert.is(free.stack.counters.get('tcp_rst_ratelimited'), 0);
});

test('a connection\'s own RST (abort) is not limited by it', async () => {
  const r = rig({}, 0);
  const accepted: TcpEndpoint[] = [];
  r.stack.openListener(80, 8, (e) => accepted.push(e));
  const synAck = asTcp(r.inject(tcp({ flags: TCP_SYN, srcPort: 40000, seq: 100 }))[0]!).seg;
  r.inject(tcp({ flags: TCP_ACK, srcPort: 40000, seq: 101, ack: (synAck.seq + 1) >>> 0 }));
  await delivered();
  assert.is(accepted.length, 1, 'accepted');
  assert.is(r.inject(...strays(250)).length, 200);
  accepted[0]!.abort();
  const out = r.inject();
  assert.is(out.length, 1);
  assert.is(asTcp(out[0]!).seg.flags, TCP_RST | TCP_ACK);
  assert.is(r.stack.counters.get('tcp_rst_ratelimited'), 50);
});

test.run();
