// RFC 9293 §3.10.7.4 fifth check: the ACK field.
//   - no ACK bit: drop the segment;
//   - SND.UNA < SEG.ACK =< SND.NXT: new data acknowledged, SND.UNA advances;
//   - SEG.ACK =< SND.UNA: duplicate, ignored (the rest of the segment still counts);
//   - SEG.ACK > SND.NXT: acknowledges something never sent: drop; RFC 9293 asks
//     for an ACK, Linux sends none in ESTABLISHED (no ACK loop between two
//     confused ends) and a challenge ACK in the other states;
//   - RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND: challenge ACK, drop;
//   - window update when SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK;
//   - FIN_WAIT_1 → FIN_WAIT_2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED once our FIN is acknowledged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, finWait1, closing, P, U, peerBytes } from './script.js';

test('§3.10.7.4 fifth check: a segment without the ACK bit is dropped, data and all', () => {
  const t = established();
  // 0.200 < P 1:11(10) win 65535               (no ACK bit)
  t.recv(200, { f: 'P', seq: P(1), len: 10 });
  t.expect();
  assert.is(t.conn.readable, 0);
  assert.is(t.conn.rcvNxt, P(1));
  t.events();
});

test('§3.10.7.4 fifth check: SND.UNA < SEG.ACK =< SND.NXT advances SND.UNA and frees the send buffer', () => {
  const t = established();
  t.write(200, 300);
  // 0.200 > P. 1:301(300) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 300 });
  // 0.300 < . 1:1(0) ack 101 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(101) });
  t.expect();
  assert.is(t.conn.sndUna, U(101));
  assert.is(t.conn.bufferedToSend, 200);
  assert.is(t.conn.nextDeadline(), 300 + 300, 'RTO restarted (RFC 6298 §5.3), RTO = 300 ms');
  // 0.350 < . 1:1(0) ack 301 win 65535
  t.recv(350, { f: '.', seq: P(1), ack: U(301) });
  assert.is(t.conn.bufferedToSend, 0);
  assert.is(t.conn.nextDeadline(), Infinity, 'RTO stopped when all is acknowledged (§5.2)');
});

test('§3.10.7.4 fifth check: ACK of unsent data (SEG.ACK > SND.NXT) in ESTABLISHED → dropped, no ACK (Linux)', () => {
  const t = established();
  t.write(200, 100);
  t.takeOut();
  // 0.300 < P. 1:11(10) ack 200 win 65535      (we only sent up to 101)
  t.recv(300, { f: 'P.', seq: P(1), ack: U(200), len: 10 });
  t.expect();
  assert.is(t.conn.sndUna, U(1));
  assert.is(t.conn.readable, 0, 'its data is dropped too');
  // 0.310 < . 1:1(0) ack 200 win 65535         (again and again: never answered)
  for (const at of [310, 320, 2000]) {
    t.recv(at, { f: '.', seq: P(1), ack: U(200) });
    t.expect();
  }
});

test('§3.10.7.4 fifth check: ACK of unsent data in FIN_WAIT_1 → challenge ACK (Linux tcp_rcv_state_process), dropped', () => {
  const t = finWait1(); // SND.NXT = 2
  // 0.300 < . 1:1(0) ack 10 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(10) });
  // 0.300 > . 2:2(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(2), ack: P(1), win: 4000 });
  assert.is(t.state, 'FIN_WAIT_1');
  assert.is(t.conn.sndUna, U(1));
});

test('§3.10.7.4 fifth check: a duplicate ACK (SEG.ACK = SND.UNA) changes nothing and is not answered', () => {
  const t = established();
  t.write(200, 100);
  t.takeOut();
  // 0.300 < . 1:1(0) ack 1 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(1) });
  t.expect();
  assert.is(t.conn.sndUna, U(1));
  assert.is(t.conn.nextDeadline(), 200 + 300, 'RTO not restarted by a duplicate');
});

test('§3.10.7.4 fifth check: an old ACK (SEG.ACK < SND.UNA) is ignored, but its data is taken', () => {
  const t = established();
  t.write(200, 2000);
  t.takeOut();
  // 0.300 < . 1:1(0) ack 2001 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(2001) });
  // 0.310 < P. 1:11(10) ack 1001 win 100       (reordered: sent before the ACK above)
  t.recv(310, { f: 'P.', seq: P(1), ack: U(1001), win: 100, len: 10 });
  // 0.310 > . 2001:2001(0) ack 11 win 3990      (quick ACK for the data)
  t.expect({ f: '.', seq: U(2001), ack: P(11), win: 3990 });
  assert.is(t.conn.sndUna, U(2001));
  assert.is(t.conn.sndWnd, 65535, 'an old ACK never updates the window');
  assert.equal(t.read(320), peerBytes(0, 10));
});

test('RFC 5961 §5.2 fifth check: SEG.ACK < SND.UNA - MAX.SND.WND → challenge ACK, segment dropped', () => {
  const t = established();
  // 0.200 < P. 1:11(10) ack -65535 win 65535   (older than anything the peer could have seen)
  t.recv(200, { f: 'P.', seq: P(1), ack: U(-65535), len: 10 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.conn.readable, 0);
});

// --------------------------------------------------------- window update

test('§3.10.7.4 fifth check: window update with SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK', () => {
  const t = established();
  // 0.200 < . 1:1(0) ack 1 win 2000
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 2000 });
  assert.is(t.conn.sndWnd, 2000);
  // 0.300 < . 1:1(0) ack 1 win 3000            (pure window update: same SEQ and ACK)
  t.recv(300, { f: '.', seq: P(1), ack: U(1), win: 3000 });
  assert.is(t.conn.sndWnd, 3000);
  assert.is(t.conn.sndWl1, P(1));
  assert.is(t.conn.sndWl2, U(1));
  t.expect();
});

test('§3.10.7.4 fifth check: an older segment (SEG.SEQ < SND.WL1) must not update the window', () => {
  const t = established();
  // 0.200 < . 1001:2001(1000) ack 1 win 6000   (arrives first, out of order)
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), win: 6000, len: 1000 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.conn.sndWnd, 6000);
  // 0.210 < . 1:1001(1000) ack 1 win 1000      (sent earlier, with an older window)
  t.recv(210, { f: '.', seq: P(1), ack: U(1), win: 1000, len: 1000 });
  // 0.210 > . 1:1(0) ack 2001 win 2000          (hole filled: ACK at once)
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  assert.is(t.conn.sndWnd, 6000, 'window from the newer segment kept');
  t.write(300, 5000);
  // 0.300 > . 1:1001(1000) ack 2001 win 2000  ... five segments fit in 6000
  t.expect(
    { f: '.', seq: U(1), ack: P(2001), win: 2000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(2001), win: 2000, len: 1000 },
    { f: '.', seq: U(2001), ack: P(2001), win: 2000, len: 1000 },
    { f: '.', seq: U(3001), ack: P(2001), win: 2000, len: 1000 },
    { f: 'P.', seq: U(4001), ack: P(2001), win: 2000, len: 1000 },
  );
});

test('§3.10.7.4 fifth check: a window of 0 is taken from a newer segment', () => {
  const t = established();
  // 0.200 < . 1:1(0) ack 1 win 0
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 0 });
  assert.is(t.conn.sndWnd, 0);
  t.write(300, 10);
  t.expect();
});

// ------------------------------------------------- our FIN acknowledged

test('§3.10.7.4 fifth check FIN_WAIT_1: an ACK of the data but not the FIN keeps FIN_WAIT_1', () => {
  const t = established();
  t.write(200, 100);
  // 0.200 > P. 1:101(100) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 100 });
  t.close(210);
  // 0.210 > F. 101:101(0) ack 1 win 4000
  t.expect({ f: 'F.', seq: U(101), ack: P(1), win: 4000 });
  t.transitions('ESTABLISHED->FIN_WAIT_1');
  // 0.300 < . 1:1(0) ack 101 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(101) });
  t.transitions();
  // 0.310 < . 1:1(0) ack 102 win 65535
  t.recv(310, { f: '.', seq: P(1), ack: U(102) });
  t.transitions('FIN_WAIT_1->FIN_WAIT_2');
  t.expect();
});

test('§3.10.7.4 fifth check CLOSING: the ACK of our FIN → TIME_WAIT for 2*MSL', () => {
  const t = closing();
  // 0.400 < . 2:2(0) ack 2 win 65535
  t.recv(400, { f: '.', seq: P(2), ack: U(2) });
  t.expect();
  t.transitions('CLOSING->TIME_WAIT');
  assert.is(t.conn.nextDeadline(), 400 + 2 * 30_000);
});

test.run();
