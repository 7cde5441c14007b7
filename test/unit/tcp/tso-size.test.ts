// TSO packet size as Linux 6.18 picks it (tso-size.ts): tcp_tso_autosize and
// tcp_cwnd_test's half cwnd. Cases checked with packetdrill under CUBIC.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bbrMinTsoSegs, tsoSegs } from '../../../src/tcp/tso-size.js';

test('a millisecond at the pacing rate, at least tcp_min_tso_segs', () => {
  // 10 segments of 1000 per 100 ms at 200 %: 200 bytes/ms, a fifth of a segment per ms.
  assert.is(tsoSegs(1000, 1_000_000, 200, 100, 2), 2);
  assert.is(tsoSegs(1000, 1_000_000, 200, 100, 10), 10);
  assert.is(tsoSegs(1000, 1_000_000, 2000, 100, 1), 1); // 1953 bytes
});

test('at most half the congestion window (tcp_cwnd_test), at least one segment', () => {
  // sndbuf-skb.pkt: cwnd 10, tcp_min_tso_segs 10: TSO packets of 5 segments.
  assert.is(tsoSegs(1000, 10_000, 200, 100, 10), 5);
  assert.is(tsoSegs(1000, 1000, 200, 100, 10), 1);
});

test('short paths add gso_max_size >> (min_rtt_us >> 9); no rate yet: the whole GSO limit', () => {
  // 20000 bytes/ms at a min_rtt of 1 ms: 19531 + 65536 >> 1 = 52299 bytes.
  assert.is(tsoSegs(1000, 1_000_000, 20_000, 1, 2), 52);
  assert.is(tsoSegs(1000, 1_000_000, 20_000, 0.4, 2), 65); // r = 0: capped at 65536
  assert.is(tsoSegs(1000, 1_000_000, 0, Infinity, 2), 65);
  assert.is(tsoSegs(1460, 200_000, 0, Infinity, 2), 44);
});

test('BBR brings its own minimum: 1 segment below 1.2 Mbit/s, else 2', () => {
  assert.is(bbrMinTsoSegs(100), 1);
  assert.is(bbrMinTsoSegs(200), 2);
});

test.run();
