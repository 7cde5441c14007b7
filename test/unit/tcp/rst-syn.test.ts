// RFC 9293 §3.10.7.4 second check (RST) and fourth check (SYN) in the
// synchronized states, with the blind-attack defences of RFC 5961:
//   - a RST resets only when SEG.SEQ = RCV.NXT exactly (§3.2);
//   - a RST elsewhere in the window gets a "challenge ACK" (§3.2);
//   - a SYN in a synchronized state gets a challenge ACK (§4.2);
//   - challenge ACKs are rate-limited (§7): cfg.challengeAckLimit per second.
//
// Setup: established() leaves RCV.NXT = 1, SND.NXT = 1, RCV.WND = 4000.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, closeWait, finWait1, finWait2, closing, lastAck, timeWait, P, U, SMALL, type Script } from './script.js';

// ------------------------------------------------------------ exact RST

test('§3.10.7.4 second check ESTABLISHED: RST at exactly RCV.NXT → "connection reset", CLOSED', () => {
  const t = established();
  t.write(150, 100);
  t.takeOut();
  // 0.200 < R 1:1(0) win 0
  t.recv(200, { f: 'R', seq: P(1), win: 0 });
  t.expect();
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ECONNRESET', 'closed');
  assert.is(t.conn.nextDeadline(), Infinity, 'all timers off');
  assert.is(t.conn.bufferedToSend, 0, 'queued data flushed');
});

test('§3.10.7.4 second check ESTABLISHED: RST,ACK at RCV.NXT resets too (the ACK field does not matter)', () => {
  const t = established();
  // 0.200 < R. 1:1(0) ack 12345 win 0
  t.recv(200, { f: 'R.', seq: P(1), ack: U(12345), win: 0 });
  t.expect();
  t.events('error ECONNRESET', 'closed');
});

// CLOSE_WAIT reports EPIPE rather than ECONNRESET, as Linux's tcp_reset() does:
// the peer had already closed, so what fails is our sending.
const resetsWithError: Array<[string, () => Script, number, string]> = [
  ['FIN_WAIT_1', () => finWait1(), 1, 'ECONNRESET'],
  ['FIN_WAIT_2', () => finWait2(), 1, 'ECONNRESET'],
  ['CLOSE_WAIT', () => closeWait(), 2, 'EPIPE'],
];
for (const [state, setup, rcvNxt, code] of resetsWithError) {
  test(`§3.10.7.4 second check ${state}: RST at RCV.NXT → "connection reset" (${code}), CLOSED`, () => {
    const t = setup();
    // 1.000 < R rcvNxt:rcvNxt(0) win 0
    t.recv(1000, { f: 'R', seq: P(rcvNxt), win: 0 });
    t.expect();
    t.transitions(`${state}->CLOSED`);
    t.events(`error ${code}`, 'closed');
  });
}

const resetsSilently: Array<[string, () => Script]> = [
  ['CLOSING', () => closing()],
  ['LAST_ACK', () => lastAck()],
  ['TIME_WAIT', () => timeWait()],
];
for (const [state, setup] of resetsSilently) {
  test(`§3.10.7.4 second check ${state}: RST at RCV.NXT → CLOSED without an error`, () => {
    const t = setup();
    // 1.000 < R 2:2(0) win 0
    t.recv(1000, { f: 'R', seq: P(2), win: 0 });
    t.expect();
    t.transitions(`${state}->CLOSED`);
    t.events('closed');
    assert.is(t.conn.nextDeadline(), Infinity);
  });
}

// -------------------------------------------------------- inexact RST

test('RFC 5961 §3.2 second check: RST inside the window but not at RCV.NXT → challenge ACK', () => {
  const t = established();
  // 0.200 < R 100:100(0) win 0
  t.recv(200, { f: 'R', seq: P(100), win: 0 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  t.transitions();
  t.events();
  // The genuine peer answers the challenge with a RST at the right place:
  // 0.250 < R 1:1(0) win 0
  t.recv(250, { f: 'R', seq: P(1), win: 0 });
  t.expect();
  t.events('error ECONNRESET', 'closed');
});

test('RFC 5961 §3.2 second check: RST at the last sequence number of the window → challenge ACK', () => {
  const t = established();
  // 0.200 < R 4000:4000(0) win 0
  t.recv(200, { f: 'R', seq: P(4000), win: 0 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
});

test('§3.10.7.4 second check: RST outside the window is dropped silently', () => {
  const t = established();
  // 0.200 < R 4001:4001(0) win 0               (RCV.NXT + RCV.WND)
  t.recv(200, { f: 'R', seq: P(4001), win: 0 });
  t.expect();
  // 0.300 < R 0:0(0) win 0                     (RCV.NXT - 1)
  t.recv(300, { f: 'R', seq: P(0), win: 0 });
  t.expect();
  // 0.400 < R. 2147483648:2147483648(0) ack 1 win 0
  t.recv(400, { f: 'R.', seq: P(0x80000000), ack: U(1), win: 0 });
  t.expect();
  assert.is(t.state, 'ESTABLISHED');
  t.events();
});

test('RFC 5961 §3.2 second check: a RST with data starting before RCV.NXT is not an exact match → challenge ACK', () => {
  const t = established();
  // 0.200 < R. 0:2(2) ack 1 win 0     (SEG.SEQ = RCV.NXT-1; trimming its data must not make it "exact")
  t.recv(200, { f: 'R.', seq: P(0), ack: U(1), win: 0, payload: Buffer.from('xx') });
  // 0.200 > . 1:1(0) ack 1 win 4000              (Linux: challenge ACK)
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
  t.events();
});

test('RFC 5961 §7: challenge ACKs are limited to cfg.challengeAckLimit per second', () => {
  const t = established({ ...SMALL, challengeAckLimit: 2 });
  // 1.000 < R 100:100(0) win 0
  // 1.000 > . 1:1(0) ack 1 win 4000
  t.recv(1000, { f: 'R', seq: P(100), win: 0 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 1.500 < R 200:200(0) win 0
  // 1.500 > . 1:1(0) ack 1 win 4000
  t.recv(1500, { f: 'R', seq: P(200), win: 0 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 1.999 < R 300:300(0) win 0                    (third in this second: no answer)
  t.recv(1999, { f: 'R', seq: P(300), win: 0 });
  t.expect();
  // 1.999 < S 400:400(0) win 65535                (SYN challenges share the budget)
  t.recv(1999, { f: 'S', seq: P(400) });
  t.expect();
  // 2.000 < R 500:500(0) win 0                    (a new second)
  // 2.000 > . 1:1(0) ack 1 win 4000
  t.recv(2000, { f: 'R', seq: P(500), win: 0 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
});

// ------------------------------------------------------------------ SYN

test('RFC 5961 §4.2 fourth check ESTABLISHED: in-window SYN → challenge ACK, connection kept', () => {
  const t = established();
  // 0.200 < S 100:100(0) win 65535 <mss 1460>
  t.recv(200, { f: 'S', seq: P(100), mss: 1460 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
  t.transitions();
  t.events();
});

test('§3.10.7.4 ESTABLISHED: a retransmitted SYN,ACK (our ACK was lost) gets an ACK', () => {
  const t = established();
  // 1.100 < S. 0:0(0) ack 1 win 65535 <mss 1000>
  t.recv(1100, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  // 1.100 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
});

test('RFC 5961 §4.2 fourth check: SYN with data in the window → challenge ACK, data ignored', () => {
  const t = established();
  // 0.200 < S 1:11(10) win 65535     (a SYN at RCV.NXT, carrying data)
  t.recv(200, { f: 'S', seq: P(1), payload: Buffer.alloc(10, 1) });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.conn.readable, 0);
});

test('RFC 5961 §4.2 fourth check CLOSE_WAIT: in-window SYN → challenge ACK', () => {
  const t = closeWait();
  // 0.500 < S 50:50(0) win 65535
  t.recv(500, { f: 'S', seq: P(50) });
  // 0.500 > . 1:1(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(2), win: 4000 });
  assert.is(t.state, 'CLOSE_WAIT');
});

test.run();
