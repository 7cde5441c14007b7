// RFC 9293 §3.10.7.4 seventh check: segment text. In-order data becomes
// readable; ACKs follow the delayed-ACK rules of §3.8.6.3 and RFC 5681 §4.2:
//   - an ACK within cfg.delayedAck ms (40 here, like Linux's minimum);
//   - at least one ACK for every second full-sized segment;
//   - an immediate (duplicate) ACK for out-of-order data;
//   - an immediate ACK when a segment fills a hole.
//
// Setup: MSS 1000, receive buffer 4000. The peer's stream starts at
// 0xffffff01, so its byte 255 sits at sequence number 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, finWait1, finWait2, closeWait, P, U, peerBytes } from './script.js';

test('§3.10.7.4 seventh: in-order data across 2^32 is delivered byte for byte', () => {
  const t = established();
  // 0.200 < P. 1:501(500) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 500 });
  t.events('readable');
  assert.is(t.conn.rcvNxt, 245, 'RCV.NXT = 0xffffff01 + 500 wrapped past 2^32');
  assert.equal(t.read(210), peerBytes(0, 500));
  assert.equal(t.read(220), Buffer.alloc(0), 'nothing twice');
  t.expect();
});

test('§3.8.6.3 delayed ACK: one segment is ACKed after cfg.delayedAck ms', () => {
  const t = established();
  // 0.200 < P. 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 1000 });
  t.expect();
  assert.is(t.conn.nextDeadline(), 240);
  t.timer(239);
  t.expect();
  // 0.240 > . 1:1(0) ack 1001 win 3000
  t.timer(240);
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('§3.8.6.3 delayed ACK: a small segment waits too, and the timer is not pushed back by more data', () => {
  const t = established();
  // 0.200 < P. 1:11(10) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 10 });
  // 0.220 < P. 11:21(10) ack 1 win 65535
  t.recv(220, { f: 'P.', seq: P(11), ack: U(1), len: 10 });
  t.expect();
  // 0.240 > . 1:1(0) ack 21 win 3980
  t.timerAt(240);
  t.expect({ f: '.', seq: U(1), ack: P(21), win: 3980 });
});

test('RFC 5681 §4.2: an ACK for every second full-sized segment, at once', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  t.expect();
  // 0.210 < . 1001:2001(1000) ack 1 win 65535
  t.recv(210, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  // 0.210 > . 1:1(0) ack 2001 win 2000
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  assert.is(t.conn.nextDeadline(), Infinity, 'delayed-ACK timer cancelled');
  // 0.220 < . 2001:3001(1000) ack 1 win 65535   (the count starts again)
  t.recv(220, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  t.expect();
  // 0.260 > . 1:1(0) ack 3001 win 1000
  t.timerAt(260);
  t.expect({ f: '.', seq: U(1), ack: P(3001), win: 1000 });
});

test('§3.8.6.3 delayed ACK: the ACK rides on our next data segment', () => {
  const t = established();
  // 0.200 < P. 1:101(100) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 100 });
  t.write(210, 50);
  // 0.210 > P. 1:51(50) ack 101 win 3900
  t.expect({ f: 'P.', seq: U(1), ack: P(101), win: 3900, len: 50 });
  assert.is(t.conn.nextDeadline(), 210 + 300, 'only the RTO is left, no delayed ACK');
});

test('RFC 5681 §4.2 out-of-order data → immediate duplicate ACK, kept for later', () => {
  const t = established();
  // 0.200 < . 1001:2001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.210 < . 2001:3001(1000) ack 1 win 65535
  t.recv(210, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  // 0.210 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.conn.readable, 0);
  t.events();
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [[P(1001), P(2001)], [P(2001), P(3001)]]);
});

test('RFC 5681 §4.2 the segment that fills the hole → immediate ACK of everything, all readable', () => {
  const t = established();
  // 0.200 < . 1001:2001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.210 < . 2501:3001(500) ack 1 win 65535
  t.recv(210, { f: '.', seq: P(2501), ack: U(1), len: 500 });
  // 0.210 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.220 < . 1:1001(1000) ack 1 win 65535   (fills the first hole)
  t.recv(220, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.220 > . 1:1(0) ack 2001 win 2000
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  // 0.230 < . 2001:2501(500) ack 1 win 65535 (fills the second)
  t.recv(230, { f: '.', seq: P(2001), ack: U(1), len: 500 });
  // 0.230 > . 1:1(0) ack 3001 win 1000
  t.expect({ f: '.', seq: U(1), ack: P(3001), win: 1000 });
  assert.equal(t.read(240), peerBytes(0, 3000));
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), []);
});

test('§3.10.7.4 seventh: overlapping out-of-order pieces are joined without duplicate bytes', () => {
  const t = established();
  // 0.200 < . 501:1001(500) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.recv(200, { f: '.', seq: P(501), ack: U(1), len: 500 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.210 < . 301:801(500) ack 1 win 65535
  // 0.210 > . 1:1(0) ack 1 win 4000
  t.recv(210, { f: '.', seq: P(301), ack: U(1), len: 500 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  // 0.220 < . 901:1201(300) ack 1 win 65535
  // 0.220 > . 1:1(0) ack 1 win 4000
  t.recv(220, { f: '.', seq: P(901), ack: U(1), len: 300 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [[P(301), P(501)], [P(501), P(1001)], [P(1001), P(1201)]]);
  // 0.230 < . 1:401(400) ack 1 win 65535
  t.recv(230, { f: '.', seq: P(1), ack: U(1), len: 400 });
  // 0.230 > . 1:1(0) ack 1201 win 2800
  t.expect({ f: '.', seq: U(1), ack: P(1201), win: 2800 });
  assert.equal(t.read(240), peerBytes(0, 1200));
});

test('§3.10.7.4 eighth: an out-of-order FIN waits for the hole, then CLOSE_WAIT', () => {
  const t = established();
  // 0.200 < F. 101:201(100) ack 1 win 65535
  t.recv(200, { f: 'F.', seq: P(101), ack: U(1), len: 100 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
  // 0.210 < . 1:101(100) ack 1 win 65535
  t.recv(210, { f: '.', seq: P(1), ack: U(1), len: 100 });
  // 0.210 > . 1:1(0) ack 202 win 3799           (the right edge stays at 4001; the FIN used one number)
  t.expect({ f: '.', seq: U(1), ack: P(202), win: 3799 });
  t.transitions('ESTABLISHED->CLOSE_WAIT');
  t.events('readable', 'end');
  assert.equal(t.read(220), peerBytes(0, 200));
});

test('§3.10.7.4 seventh FIN_WAIT_1 and FIN_WAIT_2: the peer may keep sending (half-close)', () => {
  const a = finWait1();
  // 0.300 < P. 1:101(100) ack 1 win 65535
  a.recv(300, { f: 'P.', seq: P(1), ack: U(1), len: 100 });
  a.events('readable');
  assert.equal(a.read(310), peerBytes(0, 100));
  const b = finWait2();
  // 0.400 < P. 1:101(100) ack 2 win 65535
  b.recv(400, { f: 'P.', seq: P(1), ack: U(2), len: 100 });
  b.events('readable');
  // 0.440 > . 2:2(0) ack 101 win 3900
  b.timerAt(440);
  b.expect({ f: '.', seq: U(2), ack: P(101), win: 3900 });
  assert.equal(b.read(450), peerBytes(0, 100));
});

test('§3.10.7.4 seventh CLOSE_WAIT: data after the peer\'s FIN is ignored', () => {
  const t = closeWait();
  // 0.300 < P. 2:12(10) ack 1 win 65535
  t.recv(300, { f: 'P.', seq: P(2), ack: U(1), len: 10 });
  t.expect();
  assert.is(t.conn.readable, 0);
  assert.is(t.conn.rcvNxt, P(2));
});

test('§3.10.7.4 seventh: read(max) returns at most max bytes, in order', () => {
  const t = established();
  // 0.200 < P. 1:301(300) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 300 });
  assert.equal(t.read(210, 100), peerBytes(0, 100));
  assert.equal(t.read(210, 150), peerBytes(100, 250));
  assert.equal(t.read(210), peerBytes(250, 300));
});

test.run();
