// Timers: retransmission (RFC 6298 and RFC 9293 §3.8.1, §3.8.3), keepalive
// (§3.8.4, RFC 1122 §4.2.3.6) and the user timeout (RFC 5482, Linux
// TCP_USER_TIMEOUT). The connection never reads a clock: the stack calls
// onTimer(now) at nextDeadline(), and so do these tests.
//
// RTO = SRTT + 4*RTTVAR, at least 200 ms (Linux; RFC 6298 says 1 s), 1 s
// before any sample, doubled on each timeout. established() measures 100 ms
// on the handshake: SRTT 100, RTTVAR 50, RTO 300.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Script, established, P, U, SMALL, synOpts } from './script.js';

// ----------------------------------------------------------- retransmission

test('SYN-RECEIVED after a simultaneous open keeps synRetries (6), like Linux\'s full sockets', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  // 0.100 < S 0:0(0) win 65535 <mss 1000>
  t.recv(100, { f: 'S', seq: P(0), mss: 1000 });
  t.takeOut();
  t.clearEvents();
  // The SYN's timer (1 s, armed at 0) runs on: 1, 3, 7, 15, 31, 63 s, then 127 s gives up.
  for (const at of [1000, 3000, 7000, 15_000, 31_000, 63_000]) {
    t.timerAt(at);
    assert.is(t.takeOut().length, 1, `SYN,ACK again at ${at}`);
  }
  t.timerAt(127_000);
  t.expect();
  t.transitions('SYN_RECEIVED->CLOSED');
});

test('RFC 6298 §5.4-5.6 data: the first unacknowledged segment is resent, RTO doubles each time', () => {
  const t = established();
  t.write(200, 3000);
  t.takeOut();
  // 0.500 > . 1:1001(1000) ack 1 win 4000      (RTO 300; cwnd now 1 MSS, RFC 5681 §3.1)
  t.timerAt(500);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  // 1.100 > . 1:1001(1000) ack 1 win 4000      (RTO 600)
  t.timerAt(1100);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.conn.nextDeadline(), 1100 + 1200, 'RTO 1200');
  // 1.500 < . 1:1(0) ack 1001 win 65535
  t.recv(1500, { f: '.', seq: P(1), ack: U(1001) });
  // 1.500 > . 1001:2001(1000) ack 1 win 4000   (slow start: cwnd 2 MSS)
  // 1.500 > P. 2001:3001(1000) ack 1 win 4000
  t.expect(
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
  );
});

test('RFC 6298 §5 / Karn: after a timeout the backed-off RTO stays until a fresh RTT sample', () => {
  const t = established();
  t.write(200, 1000);
  t.takeOut();
  // 0.500 > P. 1:1001(1000) ack 1 win 4000     (RTO 300 → 600)
  t.timerAt(500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  // 0.600 < . 1:1(0) ack 1001 win 65535        (ambiguous: no RTT sample, Karn)
  t.recv(600, { f: '.', seq: P(1), ack: U(1001) });
  t.write(700, 100);
  // 0.700 > P. 1001:1101(100) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 100 });
  assert.is(t.conn.nextDeadline(), 700 + 600, 'RTO still backed off to 600 ms');
});

test('RFC 6298 §2.3: a new RTT sample updates the RTO', () => {
  const t = established();
  t.write(200, 100);
  t.takeOut();
  // 0.300 < . 1:1(0) ack 101 win 65535          (sample 100 ms)
  t.recv(300, { f: '.', seq: P(1), ack: U(101) });
  t.write(400, 100);
  t.takeOut();
  // RTTVAR = 3/4*50 + 1/4*|100-100| = 37.5; SRTT = 100. Linux floors the
  // variance term, not the RTO: RTO = SRTT + max(4*RTTVAR this RTT, 200) = 300
  // (RFC 6298's 100 + 4*37.5 = 250 with estimator 'rfc6298', rtt.test.ts).
  assert.is(t.conn.rtt.rttvar, 37.5);
  assert.is(t.conn.nextDeadline(), 400 + 300);
});

test('RFC 6298 §2.4: the RTO is at least minRto (200 ms, as Linux)', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  // 0.010 < S. 0:0(0) ack 1 win 65535 <mss 1000>     (RTT 10 ms: 10 + 4*5 = 30)
  t.recv(10, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  t.takeOut();
  t.write(20, 10);
  t.takeOut();
  // As Linux, the 200 ms floor is on the variance term: RTO = 10 + 200.
  assert.is(t.conn.nextDeadline(), 20 + 210);
});

test('RFC 6298 §5.7: after the SYN was retransmitted, data starts with RTO = 3 s', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  // 1.000 > S 0:0(0) win 4000 <mss 1000,nop,wscale 0>
  t.timerAt(1000);
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: synOpts(1000, 0) });
  // 1.100 < S. 0:0(0) ack 1 win 65535 <mss 1000>     (no RTT sample: which SYN does it answer?)
  t.recv(1100, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  t.write(1200, 10);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  assert.is(t.conn.nextDeadline(), 1200 + 3000);
});

test('RFC 9293 §3.8.3: after cfg.retries retransmissions the connection gives up with ETIMEDOUT', () => {
  const t = established({ ...SMALL, retries: 2 });
  t.write(200, 100);
  t.takeOut();
  t.timerAt(500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 100 });
  t.timerAt(1100);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 100 });
  t.timerAt(2300);
  t.expect();
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ETIMEDOUT', 'closed');
});

// ---------------------------------------------------------------- keepalive

const KA = { ...SMALL, keepAliveInterval: 1000, keepAliveCount: 3 };

test('§3.8.4 keepalive: probe <SEQ=SND.NXT-1> after the idle time; an answer restarts the idle time', () => {
  const t = established(KA);
  t.setKeepAlive(200, 5000);
  assert.is(t.conn.nextDeadline(), 5200);
  // 5.200 > . 0:0(0) ack 1 win 4000
  t.timerAt(5200);
  t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  // 6.200 > . 0:0(0) ack 1 win 4000            (every keepAliveInterval)
  t.timerAt(6200);
  t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  // 6.300 < . 1:1(0) ack 1 win 65535            (the peer is alive)
  t.recv(6300, { f: '.', seq: P(1), ack: U(1) });
  t.expect();
  assert.is(t.conn.nextDeadline(), 6300 + 5000);
});

test('§3.8.4 keepalive: ETIMEDOUT after cfg.keepAliveCount unanswered probes', () => {
  const t = established(KA);
  t.setKeepAlive(200, 5000);
  for (const at of [5200, 6200, 7200]) {
    t.timerAt(at);
    t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  }
  t.timerAt(8200);
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ETIMEDOUT', 'closed');
  t.takeOut(); // what goes on the wire is the next test's business
});

test('§3.8.4 keepalive (Linux): giving up sends <SEQ=SND.NXT><CTL=RST,ACK> to the peer', () => {
  const t = established(KA);
  t.setKeepAlive(200, 5000);
  for (const at of [5200, 6200, 7200]) {
    t.timerAt(at);
    t.takeOut();
  }
  // 8.200 > R. 1:1(0) ack 1 win 4000            (tcp_keepalive_timer: tcp_send_active_reset)
  t.timerAt(8200);
  t.expect({ f: 'R.', seq: U(1), ack: P(1), win: 4000 });
});

test('§3.8.4 keepalive: no probes while data is in flight (the RTO watches the peer then)', () => {
  const t = established({ ...KA, retries: 100 });
  t.setKeepAlive(200, 500);
  t.write(250, 10);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  // 0.550 > P. 1:11(10) ack 1 win 4000         (RTO, not a keepalive probe)
  t.timerAt(550);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  t.timerAt(700);
  t.expect();
});

// ------------------------------------------------------------- user timeout

test('RFC 5482 user timeout: time spent idle before a write does not count', () => {
  const t = established({ ...SMALL, userTimeout: 5000 });
  t.write(10_000, 10);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  // 10.300 > P. 1:11(10) ack 1 win 4000       (unacknowledged for only 300 ms: retransmit)
  t.timerAt(10_300);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  assert.is(t.state, 'ESTABLISHED');
});

test('RFC 5482 user timeout (Linux): ETIMEDOUT exactly userTimeout after the data was first sent', () => {
  const t = established({ ...SMALL, userTimeout: 2000 });
  t.write(200, 10);
  t.takeOut();
  for (const at of [500, 1100]) {
    t.timerAt(at);
    t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  }
  // Linux clamps the RTO to what is left of the user timeout (tcp_clamp_rto_to_user_timeout):
  t.timerAt(200 + 2000);
  t.expect();
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ETIMEDOUT', 'closed');
});

test.run();
