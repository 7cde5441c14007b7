// Pacing (pacing.ts): the rate as Linux's tcp_update_pacing_rate (200 % of
// cwnd/SRTT in slow start, 120 % in congestion avoidance), segments spaced
// len/rate apart, each wakeup a deadline of the TCB (nextDeadline).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Pacer, PACING_SLACK_MS } from '../../../src/tcp/pacing.js';
import { P, U, SMALL, established } from './script.js';

test('Linux tcp_update_pacing_rate: 200 % of cwnd/SRTT while cwnd < ssthresh/2, else 120 %; max(cwnd, in flight)', () => {
  const p = new Pacer();
  p.updateFromCwnd(10_000, Infinity, 0, 100);
  assert.is(p.rate, 200); // bytes per ms: 2 * 10000 / 100
  p.updateFromCwnd(10_000, 15_000, 0, 100);
  assert.is(p.rate, 120);
  p.updateFromCwnd(10_000, 15_000, 20_000, 100);
  assert.is(p.rate, 240);
  p.updateFromCwnd(10_000, 15_000, 0, 0);
  assert.is(p.rate, 240, 'no SRTT: unchanged');
});

test('pacing on: a window of segments leaves len/rate apart, each woken by nextDeadline(); off: one burst', () => {
  // SRTT 100 ms from the SYN, cwnd 10 x 1000, slow start: 200 bytes/ms, a 1000-byte segment every 5 ms.
  const t = established({ ...SMALL, pacing: true });
  t.write(200, 4000);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  // The next may leave PACING_SLACK_MS early: at 204 - 1.
  t.timerAt(204 - PACING_SLACK_MS);
  // 0.203 > . 1001:2001(1000) ack 1 win 4000
  t.expect({ f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 });
  t.timerAt(209 - PACING_SLACK_MS);
  t.expect({ f: '.', seq: U(2001), ack: P(1), win: 4000, len: 1000 });
  t.timerAt(214 - PACING_SLACK_MS);
  // 0.213 > P. 3001:4001(1000) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(3001), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.counters.get('tcp_pacing_delays'), 3);
  // Nothing left to pace: only the retransmission timer remains.
  assert.is(t.conn.paceAt, Infinity);

  const u = established(SMALL);
  u.write(200, 4000);
  u.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(3001), ack: P(1), win: 4000, len: 1000 },
  );
});

test('pacing: an ACK does not send early what waits for its time; the rate follows cwnd', () => {
  const t = established({ ...SMALL, pacing: true });
  t.write(200, 3000);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  // 0.201 < . 1:1(0) ack 1001 win 65535   (RTT 1 ms: SRTT 100 -> 87.6; cwnd stays 10000, application-limited: 2 * 10000 / 87.6 bytes/ms)
  t.recv(201, { f: '.', seq: P(1), ack: U(1001) });
  t.expect();
  const rate = t.conn.pacer.rate;
  assert.ok(Math.abs(rate - (2 * 10000) / t.conn.rtt.srtt) < 1e-9, `rate ${rate}`);
  t.timer(t.conn.nextDeadline());
  t.expect({ f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 });
});

test.run();
