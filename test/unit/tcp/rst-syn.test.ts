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
import { established, finWait1, finWait2, closing, lastAck, timeWait, P, U, SMALL, type Script } from './script.js';

// ------------------------------------------------------------ exact RST

test('§3.10.7.4 second check ESTABLISHED: RST,ACK at RCV.NXT resets too (the ACK field does not matter)', () => {
  const t = established();
  // 0.200 < R. 1:1(0) ack 12345 win 0
  t.recv(200, { f: 'R.', seq: P(1), ack: U(12345), win: 0 });
  t.expect();
  t.events('error ECONNRESET', 'closed');
});

// (CLOSE_WAIT, which reports EPIPE as Linux's tcp_reset() does, is in
// test/drill/rst-syn-validation.pkt.)
const resetsWithError: Array<[string, () => Script, number, string]> = [
  ['FIN_WAIT_1', () => finWait1(), 1, 'ECONNRESET'],
  ['FIN_WAIT_2', () => finWait2(), 1, 'ECONNRESET'],
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

test.run();
