// Closing: the FIN bit (RFC 9293 §3.10.7.4 eighth check), TIME_WAIT and its
// 2*MSL timer (§3.10.8), and the user calls CLOSE (§3.10.4) and ABORT (§3.10.5)
// in every state.
//
// Setup helpers (script.ts) leave us at 0.2-0.4 s with MSL = 30 s:
//   finWait1  we sent FIN 1:1                     SND.NXT 2, RCV.NXT 1
//   finWait2  ... and it was acknowledged         SND.NXT 2, RCV.NXT 1
//   closing   both FINs crossed                   SND.NXT 2, RCV.NXT 2
//   closeWait the peer's FIN came first           SND.NXT 1, RCV.NXT 2
//   lastAck   ... then we sent ours               SND.NXT 2, RCV.NXT 2
//   timeWait  entered at 0.400                    SND.NXT 2, RCV.NXT 2
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Script, established, accepted, finWait1, finWait2, closing, closeWait, lastAck, timeWait, P, U, SMALL } from './script.js';

const TWO_MSL = 2 * 30_000;

// ------------------------------------------------------------ eighth check

test('§3.10.7.4 eighth FIN_WAIT_1: a FIN that also ACKs our FIN → TIME_WAIT', () => {
  const t = finWait1();
  // 0.300 < F. 1:1(0) ack 2 win 65535
  t.recv(300, { f: 'F.', seq: P(1), ack: U(2) });
  // 0.300 > . 2:2(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  // The fifth check moves to FIN_WAIT_2, the eighth on to TIME_WAIT (as Linux reports too).
  t.transitions('FIN_WAIT_1->FIN_WAIT_2', 'FIN_WAIT_2->TIME_WAIT');
  assert.is(t.conn.nextDeadline(), 300 + TWO_MSL);
});

test('§3.10.7.4 eighth FIN_WAIT_2: FIN → TIME_WAIT, 2*MSL timer started', () => {
  const t = finWait2();
  // 0.400 < F. 1:1(0) ack 2 win 65535
  t.recv(400, { f: 'F.', seq: P(1), ack: U(2) });
  // 0.400 > . 2:2(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  t.transitions('FIN_WAIT_2->TIME_WAIT');
  t.events('end');
  assert.is(t.conn.nextDeadline(), 400 + TWO_MSL);
});

test('§3.10.8 TIME_WAIT: the 2*MSL timer expires at exactly 2*MSL → CLOSED', () => {
  const t = timeWait();
  t.timer(400 + TWO_MSL - 1);
  t.expect();
  assert.is(t.state, 'TIME_WAIT');
  // 60.400 (2*MSL after entering TIME_WAIT)
  t.timerAt(400 + TWO_MSL);
  t.expect();
  t.transitions('TIME_WAIT->CLOSED');
  t.events('closed');
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('§3.10.7.4 eighth TIME_WAIT: a retransmitted FIN is ACKed again and the 2*MSL timer restarts', () => {
  const t = timeWait();
  // 10.000 < F. 1:1(0) ack 2 win 65535        (our last ACK was lost)
  t.recv(10_000, { f: 'F.', seq: P(1), ack: U(2) });
  // 10.000 > . 2:2(0) ack 2 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  assert.is(t.conn.nextDeadline(), 10_000 + TWO_MSL);
  t.timer(400 + TWO_MSL);
  assert.is(t.state, 'TIME_WAIT', 'the old deadline no longer counts');
  t.timerAt(10_000 + TWO_MSL);
  t.transitions('TIME_WAIT->CLOSED');
});

// ------------------------------------------------------------------ CLOSE

test('§3.10.4 CLOSE in CLOSED: nothing happens', () => {
  const t = new Script(SMALL);
  t.close(0);
  t.expect();
  t.transitions();
  t.events();
});

test('§3.10.4 CLOSE in SYN_SENT: the TCB is deleted, nothing is sent', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  t.clearEvents();
  t.close(100);
  t.expect();
  t.transitions('SYN_SENT->CLOSED');
  t.events('closed');
  assert.is(t.conn.nextDeadline(), Infinity, 'no more SYN retransmissions');
});

test('§3.10.4 CLOSE in SYN_RECEIVED with nothing queued: FIN now, FIN_WAIT_1', () => {
  const t = new Script(SMALL);
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1000 });
  t.takeOut();
  t.clearEvents();
  t.close(50);
  // 0.050 > F. 1:1(0) ack 1 win 4000     ("form a FIN segment and send it, and enter FIN-WAIT-1")
  t.expect({ f: 'F.', seq: U(1), ack: P(1), win: 4000 });
  t.transitions('SYN_RECEIVED->FIN_WAIT_1');
});

test('§3.10.4 CLOSE in SYN_RECEIVED with data queued: data and FIN once ESTABLISHED', () => {
  const t = new Script(SMALL);
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1000 });
  t.takeOut();
  t.clearEvents();
  t.write(10, 100);
  t.close(20);
  t.expect();
  // 0.100 < . 1:1(0) ack 1 win 65535
  t.recv(100, { f: '.', seq: P(1), ack: U(1) });
  // 0.100 > FP. 1:101(100) ack 1 win 4000
  t.expect({ f: 'FP.', seq: U(1), ack: P(1), win: 4000, len: 100 });
  t.transitions('SYN_RECEIVED->ESTABLISHED', 'ESTABLISHED->FIN_WAIT_1');
});

test('§3.10.4 CLOSE in ESTABLISHED: FIN → FIN_WAIT_1, retransmission timer on', () => {
  const t = established();
  t.close(200);
  // 0.200 > F. 1:1(0) ack 1 win 4000
  t.expect({ f: 'F.', seq: U(1), ack: P(1), win: 4000 });
  t.transitions('ESTABLISHED->FIN_WAIT_1');
  assert.is(t.conn.nextDeadline(), 200 + 300);
  t.close(210);
  t.expect();
  assert.is(t.conn.write(Buffer.from('late'), 220), false, 'no SEND after CLOSE');
  t.expect();
});

for (const [state, setup] of [
  ['FIN_WAIT_1', finWait1], ['FIN_WAIT_2', finWait2], ['CLOSING', closing], ['LAST_ACK', lastAck], ['TIME_WAIT', timeWait],
] as const) {
  test(`§3.10.4 CLOSE in ${state}: nothing more is sent`, () => {
    const t = setup(SMALL);
    t.close(1000);
    t.expect();
    t.transitions();
    t.events();
  });
}

// ------------------------------------------------------------------ ABORT

test('§3.10.5 ABORT in SYN_SENT: nothing is sent, CLOSED', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  t.clearEvents();
  t.abort(100);
  t.expect();
  t.transitions('SYN_SENT->CLOSED');
  t.events('closed');
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('§3.10.5 ABORT in SYN_RECEIVED: <SEQ=SND.NXT><CTL=RST,ACK>', () => {
  const t = new Script(SMALL);
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1000 });
  t.takeOut();
  t.clearEvents();
  t.abort(50);
  // 0.050 > R. 1:1(0) ack 1 win 4000
  t.expect({ f: 'R.', seq: U(1), ack: P(1), win: 4000 });
  t.transitions('SYN_RECEIVED->CLOSED');
  t.events('closed');
});

test('§3.10.5 ABORT in ESTABLISHED with data in flight: <SEQ=SND.NXT><CTL=RST,ACK>, queue flushed', () => {
  const t = accepted();
  t.write(200, 100);
  t.takeOut();
  t.abort(250);
  // 0.250 > R. 101:101(0) ack 1 win 4000
  t.expect({ f: 'R.', seq: U(101), ack: P(1), win: 4000 });
  t.transitions('ESTABLISHED->CLOSED');
  t.events('closed');
  assert.is(t.conn.bufferedToSend, 0);
  assert.is(t.conn.nextDeadline(), Infinity);
});

for (const [state, setup, sndNxt, rcvNxt] of [
  ['FIN_WAIT_1', finWait1, 2, 1], ['FIN_WAIT_2', finWait2, 2, 1], ['CLOSE_WAIT', closeWait, 1, 2],
] as const) {
  test(`§3.10.5 ABORT in ${state}: <SEQ=SND.NXT><CTL=RST,ACK>`, () => {
    const t = setup(SMALL);
    t.abort(1000);
    // 1.000 > R. sndNxt:sndNxt(0) ack rcvNxt win 4000
    t.expect({ f: 'R.', seq: U(sndNxt), ack: P(rcvNxt), win: 4000 });
    t.transitions(`${state}->CLOSED`);
    t.events('closed');
  });
}

for (const [state, setup] of [['CLOSING', closing], ['LAST_ACK', lastAck], ['TIME_WAIT', timeWait]] as const) {
  test(`§3.10.5 ABORT in ${state}: nothing is sent, CLOSED`, () => {
    const t = setup(SMALL);
    t.abort(1000);
    t.expect();
    t.transitions(`${state}->CLOSED`);
    t.events('closed');
    assert.is(t.conn.nextDeadline(), Infinity);
  });
}

test.run();
