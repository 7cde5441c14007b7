// ACK loops and floods. RFC 9293 §3.10.7.4 answers every unacceptable
// segment with an ACK; two ends that disagree about the window would then
// ACK each other forever, and a flood of bogus ACKs would be answered one
// for one. Like Linux (tcp_oow_rate_limited, sysctl tcp_invalid_ratelimit):
//   - the duplicate ACK for an unacceptable segment without data, or with
//     SYN, leaves at most once per cfg.invalidRateLimit (500) ms per
//     connection; the skipped ones are counted;
//   - segments with data (or a FIN) are answered every time: they are not
//     part of an ACK loop, and the peer needs the ACK;
//   - challenge ACKs (RFC 5961) keep their own limit (rst-syn.test.ts).
//
// Setup: established() leaves RCV.NXT = 1, SND.NXT = 1, RCV.WND = 4000.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, timeWait, P, U } from './script.js';

test('Linux tcp_invalid_ratelimit: out-of-window pure ACKs get one duplicate ACK per 500 ms', () => {
  const t = established();
  // 0.200 < . 5001:5001(0) ack 1 win 65535      (beyond the window)
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.recv(200, { f: '.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.200 ... 0.699: more of them, beyond the window and below it: no answer
  for (const [at, seq] of [[200, 5001], [300, 9000], [500, 0], [699, -1000]] as const) {
    t.recv(at, { f: '.', seq: P(seq), ack: U(1) });
    t.expect();
  }
  assert.is(t.counters.get('tcp_oow_ratelimited'), 4);
  assert.is(t.counters.get('tcp_oow_ratelimited_seq'), 4);
  // 0.700 < . 5001:5001(0) ack 1 win 65535      (500 ms after the last answer)
  // 0.700 > . 1:1(0) ack 1 win 4000
  t.recv(700, { f: '.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.counters.get('tcp_unacceptable_segment'), 6, 'every one was dropped');
});

test('Linux tcp_oow_rate_limited: out-of-window data is answered every time', () => {
  const t = established();
  // 0.200 < . 4001:4101(100) ack 1 win 65535   (just beyond the window)
  // 0.200 > . 1:1(0) ack 1 win 4000
  for (const at of [200, 210, 220]) {
    t.recv(at, { f: '.', seq: P(4001), ack: U(1), len: 100 });
    t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  }
  // 0.230 < F. 5001:5001(0) ack 1 win 65535   (a FIN occupies sequence space: data too)
  t.recv(230, { f: 'F.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  t.recv(240, { f: 'F.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.counters.get('tcp_oow_ratelimited'), 0);
  // Data does not use up the pure ACKs' turn either.
  // 0.250 < . 5001:5001(0) ack 1 win 65535
  // 0.250 > . 1:1(0) ack 1 win 4000
  t.recv(250, { f: '.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
});

test('Linux tcp_oow_rate_limited: an out-of-window SYN counts as no data, once per 500 ms', () => {
  const t = established();
  // 0.200 < S 9000:9000(0) win 65535
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.recv(200, { f: 'S', seq: P(9000) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.300 < S 9000:9010(10) win 65535          (with data: still a SYN)
  t.recv(300, { f: 'S', seq: P(9000), payload: Buffer.alloc(10, 1) });
  t.expect();
  assert.is(t.counters.get('tcp_oow_ratelimited_seq'), 1);
  assert.is(t.state, 'ESTABLISHED');
});

test('RFC 5961 challenge ACKs keep their own limit beside the out-of-window one', () => {
  const t = established();
  // 0.200 < . 5001:5001(0) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.recv(200, { f: '.', seq: P(5001), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.210 < R 100:100(0) win 0                 (in the window: challenge ACK, RFC 5961 §3.2)
  // 0.210 > . 1:1(0) ack 1 win 4000
  t.recv(210, { f: 'R', seq: P(100), win: 0 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.220 < . 5001:5001(0) ack 1 win 65535    (still within 500 ms of the last out-of-window answer)
  t.recv(220, { f: '.', seq: P(5001), ack: U(1) });
  t.expect();
  assert.is(t.state, 'ESTABLISHED');
});

test('Linux tcp_timewait_check_oow_rate_limit: in TIME_WAIT stray ACKs are rate limited, a FIN again is always ACKed', () => {
  const t = timeWait(); // SND.NXT = 2, RCV.NXT = 2 since 0.400
  // 0.500 < . 5000:5000(0) ack 2 win 65535     (beyond the window)
  // 0.500 > . 2:2(0) ack 2 win 4000
  t.recv(500, { f: '.', seq: P(5000), ack: U(2) });
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  // 0.600 < . 5000:5000(0) ack 2 win 65535
  t.recv(600, { f: '.', seq: P(5000), ack: U(2) });
  t.expect();
  // 0.700 < F. 1:1(0) ack 2 win 65535          (the peer's FIN again: our last ACK was lost)
  // 0.700 > . 2:2(0) ack 2 win 4000
  t.recv(700, { f: 'F.', seq: P(1), ack: U(2) });
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  t.recv(710, { f: 'F.', seq: P(1), ack: U(2) });
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  assert.is(t.state, 'TIME_WAIT');
});

test('cfg.invalidRateLimit 0: every out-of-window segment is answered (RFC 9293 as written)', () => {
  const t = established({ mss: 1000, rcvBuf: 4000, sndBuf: 64 * 1024, invalidRateLimit: 0 });
  for (const at of [200, 200, 201]) {
    t.recv(at, { f: '.', seq: P(5001), ack: U(1) });
    t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  }
});

test.run();
