// cwnd grows only while the sender uses it (RFC 7661 §4.3, RFC 9438 §5.8),
// by Linux's rule (tcp_is_cwnd_limited): in slow start while cwnd is below
// twice the most segments that were out in the window; otherwise only if a
// send was stopped by cwnd.
//
// Setup: MSS 1000 both ways, IW 10 segments, the peer offers 65535.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, P, U, SMALL } from './script.js';
import { CwndUsage } from '../../../src/tcp/congestion/cwnd-usage.js';

/** Write `n` segments at `at` and return how many left at once. */
function burst(t: ReturnType<typeof established>, at: number, n: number): number {
  t.write(at, n * 1000);
  return t.takeOut().filter((s) => s.payload !== undefined && s.payload.length > 0).length;
}

test('slow start: 5 segments out of a 10-segment cwnd, acknowledged one by one, do not grow cwnd', () => {
  const t = established();
  // 0.200 > . 1:5001(5000) as five segments: half of cwnd in use
  assert.is(burst(t, 200, 5), 5);
  // 0.300 < . ack 1001 ... ack 5001: cwnd 10 is not below 2 * 5 segments out: no growth
  for (let k = 1; k <= 5; k++) t.recv(300, { f: '.', seq: P(1), ack: U(1 + k * 1000) });
  t.takeOut();
  // 0.400: a bulk write goes out under the unchanged cwnd of 10 segments
  assert.is(burst(t, 400, 20), 10);
});

test('slow start: 6 segments out of 10 let cwnd grow, up to twice what was out (12), not by all 6 ACKs', () => {
  const t = established();
  assert.is(burst(t, 200, 6), 6);
  for (let k = 1; k <= 6; k++) t.recv(300, { f: '.', seq: P(1), ack: U(1 + k * 1000) });
  t.takeOut();
  assert.is(burst(t, 400, 30), 12);
});

test('a window where cwnd stopped a send is cwnd-limited; a later window that uses little is not', () => {
  const u = new CwndUsage();
  const ss = Infinity;
  u.validate(U(1), U(10_001), 10_000, true);
  assert.ok(u.limited(10_000, ss), 'stopped by cwnd');
  assert.ok(u.limited(10_000, 5_000), 'stopped by cwnd counts in congestion avoidance too');
  // SND.UNA reaches the window's end; the next pass sends 1000 bytes and cwnd has room.
  u.validate(U(10_001), U(11_001), 1_000, false);
  assert.not.ok(u.limited(10_000, ss), '10000 is not below 2 * 1000');
  assert.ok(u.limited(1_500, ss), 'slow start up to twice what was out');
  assert.not.ok(u.limited(1_500, 1_000), 'congestion avoidance needs cwnd to have stopped a send');
  // Within the same window more goes out: the maximum rises.
  u.validate(U(10_001), U(16_001), 6_000, false);
  assert.ok(u.limited(10_000, ss), '10000 < 2 * 6000');
});

test.run();
