// Pacing (pacing.ts): the rate as Linux's tcp_update_pacing_rate (200 % of
// cwnd/SRTT in slow start, 120 % in congestion avoidance), segments spaced
// len/rate apart, each wakeup a deadline of the TCB (nextDeadline).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Pacer, PACING_MAX_CREDIT_MS, PACING_SLACK_MS } from '../../../src/tcp/pacing.js';
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

test('pacing: a wakeup that comes late sends everything that fell due meanwhile (bounded), so a late timer does not lower the rate', () => {
  // 200 bytes/ms: a 1000-byte segment every 5 ms (see above).
  const t = established({ ...SMALL, pacing: true });
  t.write(200, 5000);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.conn.nextDeadline(), 204 - PACING_SLACK_MS);
  // Node's timer fires 11 ms late (a loaded machine): the segments due at 204, 209
  // and 214 go now, the one due at 219 waits for its time.
  t.timer(214);
  t.expect(
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(3001), ack: P(1), win: 4000, len: 1000 },
  );
  t.timerAt(219 - PACING_SLACK_MS);
  t.expect({ f: 'P.', seq: U(4001), ack: P(1), win: 4000, len: 1000 });
  // A wakeup 76 ms late catches up PACING_MAX_CREDIT_MS (10) of sending only:
  // segments due at 290, 295 and 300 (the slack), not 15 of them.
  t.write(219, 5000);
  t.timer(300);
  assert.is(t.takeOut().length, Math.floor((PACING_MAX_CREDIT_MS + PACING_SLACK_MS) / 5) + 1);
});

test('pacing: after an idle time (nothing to send) no debt is owed: the next write is paced from now', () => {
  const t = established({ ...SMALL, pacing: true });
  t.write(200, 1000);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  t.write(300, 3000);
  t.expect({ f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 });
  t.timerAt(304 - PACING_SLACK_MS);
  t.expect({ f: '.', seq: U(2001), ack: P(1), win: 4000, len: 1000 });
});

test.run();
