// RFC 9293 §3.10.7.4 seventh check: segment text. In-order data becomes
// readable; ACKs follow the delayed-ACK rules of §3.8.6.3 and RFC 5681 §4.2
// as Linux applies them:
//   - quick ACKs: the first data segments of a connection are ACKed at once,
//     RCV.WND / (2 * rcv_mss) of them (here 4000 / 2000 = 2; Linux
//     tcp_incr_quickack), so a slow-starting sender is not held back;
//   - then an ACK at once when more than one of the peer's full-sized
//     segments is unacknowledged (rcv_mss, learned from the segments that
//     arrive, as Linux's tcp_measure_rcv_mss);
//   - else an ACK within cfg.delayedAck ms (40 here, like Linux's minimum);
//   - an immediate (duplicate) ACK for out-of-order data;
//   - an immediate ACK when a segment fills a hole.
//
// Setup: MSS 1000, receive buffer 4000. The peer's stream starts at
// 0xffffff01, so its byte 255 sits at sequence number 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, finWait1, finWait2, closeWait, P, U, peerBytes, type Script } from './script.js';

/**
 * ESTABLISHED with the quick ACKs used up, RCV.NXT = 2001, window 4000 again:
 *   0.200 < . 1:1001(1000) ack 1 win 65535
 *   0.200 > . 1:1(0) ack 1001 win 3000          (quick ACK 1 of 2)
 *   0.200 < . 1001:2001(1000) ack 1 win 65535
 *   0.200 > . 1:1(0) ack 2001 win 2000          (quick ACK 2 of 2)
 *   0.200 read() 2000 bytes
 *   0.200 > . 1:1(0) ack 2001 win 4000          (window update: the window doubled)
 */
function quickAcksUsed(): Script {
  const t = established();
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  assert.equal(t.read(200), peerBytes(0, 2000), 'setup: read');
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 4000 });
  assert.is(t.conn.ackPolicy.quick, 0, 'setup: quick ACKs used');
  t.clearEvents();
  return t;
}

test('§3.10.7.4 seventh: in-order data across 2^32 is delivered byte for byte', () => {
  const t = established();
  // 0.200 < P. 1:501(500) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 500 });
  // 0.200 > . 1:1(0) ack 501 win 3500            (quick ACK: the first data of the connection)
  t.expect({ f: '.', seq: U(1), ack: P(501), win: 3500 });
  t.events('readable');
  assert.is(t.conn.rcvNxt, 245, 'RCV.NXT = 0xffffff01 + 500 wrapped past 2^32');
  assert.equal(t.read(210), peerBytes(0, 500));
  assert.equal(t.read(220), Buffer.alloc(0), 'nothing twice');
  t.expect();
});

test('Linux quick ACKs: the first RCV.WND / (2 * rcv_mss) data segments are ACKed at once, then ACKs are delayed', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000            (rcv_mss 1000: 4000 / 2000 = 2 quick ACKs)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  assert.is(t.conn.ackPolicy.rcvMss, 1000);
  // 0.210 < . 1001:1501(500) ack 1 win 65535
  t.recv(210, { f: '.', seq: P(1001), ack: U(1), len: 500 });
  // 0.210 > . 1:1(0) ack 1501 win 2500            (the second, whatever its size)
  t.expect({ f: '.', seq: U(1), ack: P(1501), win: 2500 });
  // 0.220 < . 1501:2001(500) ack 1 win 65535
  t.recv(220, { f: '.', seq: P(1501), ack: U(1), len: 500 });
  t.expect();
  // 0.260 > . 1:1(0) ack 2001 win 2000
  t.timerAt(260);
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
});

test('Linux quick ACKs: data after a silence longer than the RTO is ACKed at once again', () => {
  const t = quickAcksUsed();
  // RTO is 300 ms (SRTT 100 from the handshake); the last data came at 0.200.
  // 0.510 < . 2001:2101(100) ack 1 win 65535
  t.recv(510, { f: '.', seq: P(2001), ack: U(1), len: 100 });
  // 0.510 > . 1:1(0) ack 2101 win 3900            (the sender restarts from a small window: no delay)
  t.expect({ f: '.', seq: U(1), ack: P(2101), win: 3900 });
});

test('Linux quick ACKs: a retransmitted segment (our ACK was lost or late) gets an ACK and starts quick ACKs again', () => {
  const t = quickAcksUsed();
  // 0.300 < . 1001:2001(1000) ack 1 win 65535   (all below RCV.NXT: the peer did not see our ACK)
  // 0.300 > . 1:1(0) ack 2001 win 4000
  t.recv(300, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 4000 });
  // 0.310 < . 2001:3001(1000) ack 1 win 65535   (new data is ACKed at once again: 4000 / 2000 = 2 quick ACKs)
  // 0.310 > . 1:1(0) ack 3001 win 3000
  t.recv(310, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(3001), win: 3000 });
  // 0.320 < . 3001:3501(500) ack 1 win 65535
  // 0.320 > . 1:1(0) ack 3501 win 2500
  t.recv(320, { f: '.', seq: P(3001), ack: U(1), len: 500 });
  t.expect({ f: '.', seq: U(1), ack: P(3501), win: 2500 });
  // 0.330 < . 3501:4001(500) ack 1 win 65535   (delayed again)
  t.recv(330, { f: '.', seq: P(3501), ack: U(1), len: 500 });
  t.expect();
  t.timerAt(370);
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 2000 });
});

test('§3.8.6.3 delayed ACK: one segment is ACKed after cfg.delayedAck ms', () => {
  const t = quickAcksUsed();
  // 0.300 < P. 2001:3001(1000) ack 1 win 65535
  t.recv(300, { f: 'P.', seq: P(2001), ack: U(1), len: 1000 });
  t.expect();
  assert.is(t.conn.nextDeadline(), 340);
  t.timer(339);
  t.expect();
  // 0.340 > . 1:1(0) ack 3001 win 3000
  t.timer(340);
  t.expect({ f: '.', seq: U(1), ack: P(3001), win: 3000 });
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('§3.8.6.3 delayed ACK: a small segment waits too, and the timer is not pushed back by more data', () => {
  const t = quickAcksUsed();
  // 0.300 < P. 2001:2011(10) ack 1 win 65535
  t.recv(300, { f: 'P.', seq: P(2001), ack: U(1), len: 10 });
  // 0.320 < P. 2011:2021(10) ack 1 win 65535
  t.recv(320, { f: 'P.', seq: P(2011), ack: U(1), len: 10 });
  t.expect();
  // 0.340 > . 1:1(0) ack 2021 win 3980
  t.timerAt(340);
  t.expect({ f: '.', seq: U(1), ack: P(2021), win: 3980 });
});

test('RFC 5681 §4.2: an ACK for every second full-sized segment, at once', () => {
  const t = quickAcksUsed();
  // 0.300 < . 2001:3001(1000) ack 1 win 65535
  t.recv(300, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  t.expect();
  // 0.310 < . 3001:4001(1000) ack 1 win 65535
  t.recv(310, { f: '.', seq: P(3001), ack: U(1), len: 1000 });
  // 0.310 > . 1:1(0) ack 4001 win 2000            (2000 unacknowledged: more than one rcv_mss)
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 2000 });
  assert.is(t.conn.nextDeadline(), Infinity, 'delayed-ACK timer cancelled');
  // 0.320 < . 4001:5001(1000) ack 1 win 65535   (the count starts again)
  t.recv(320, { f: '.', seq: P(4001), ack: U(1), len: 1000 });
  t.expect();
  // 0.360 > . 1:1(0) ack 5001 win 1000
  t.timerAt(360);
  t.expect({ f: '.', seq: U(1), ack: P(5001), win: 1000 });
});

test('RFC 5681 §4.2 with rcv_mss: a peer sending less than our MSS still gets an ACK for every second segment', () => {
  // Our MSS 1460, the peer's segments 1000 bytes (Linux tcp_measure_rcv_mss learns 1000).
  const t = established({ mss: 1460, rcvBuf: 4000, sndBuf: 64 * 1024 }, { mss: 1460 });
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 1001 win 3000            (the two quick ACKs)
  // 0.200 < . 1001:2001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 2001 win 2000
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  assert.equal(t.read(200).length, 2000);
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 4000 });
  assert.is(t.conn.ackPolicy.rcvMss, 1000);
  // 0.300 < . 2001:3001(1000) ack 1 win 65535
  t.recv(300, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  t.expect();
  // 0.310 < . 3001:4001(1000) ack 1 win 65535
  t.recv(310, { f: '.', seq: P(3001), ack: U(1), len: 1000 });
  // 0.310 > . 1:1(0) ack 4001 win 2000            (not only after 40 ms: two of the peer's segments)
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 2000 });
});

test('RFC 5681 §4.2 counted in bytes: a super-segment (offloading link) carrying more than one rcv_mss is ACKed at once', () => {
  const t = quickAcksUsed(); // rcv_mss 1000
  // 0.300 < . 2001:3501(1500) ack 1 win 65535    (1.5 segments' worth in one)
  t.recv(300, { f: '.', seq: P(2001), ack: U(1), len: 1500 });
  // 0.300 > . 1:1(0) ack 3501 win 2500
  t.expect({ f: '.', seq: U(1), ack: P(3501), win: 2500 });
  assert.is(t.conn.ackPolicy.rcvMss, 1000, 'capped at the MSS we offered');
});

test('Linux rcv_mss follows the peer down: two equal full-looking segments lower it', () => {
  const t = quickAcksUsed(); // rcv_mss 1000
  // 0.300 < . 2001:2701(700) ack 1 win 65535     (no PSH: the peer is not at the end of a write)
  t.recv(300, { f: '.', seq: P(2001), ack: U(1), len: 700 });
  t.expect();
  assert.is(t.conn.ackPolicy.rcvMss, 1000, 'one smaller segment may be jitter');
  // 0.310 < . 2701:3401(700) ack 1 win 65535
  t.recv(310, { f: '.', seq: P(2701), ack: U(1), len: 700 });
  // 0.310 > . 1:1(0) ack 3401 win 2600            (rcv_mss 700 now: 1400 unacknowledged)
  t.expect({ f: '.', seq: U(1), ack: P(3401), win: 2600 });
  assert.is(t.conn.ackPolicy.rcvMss, 700);
});

test('§3.8.6.3 delayed ACK: the ACK rides on our next data segment', () => {
  const t = quickAcksUsed();
  // 0.300 < P. 2001:2101(100) ack 1 win 65535
  t.recv(300, { f: 'P.', seq: P(2001), ack: U(1), len: 100 });
  t.write(310, 50);
  // 0.310 > P. 1:51(50) ack 2101 win 3900
  t.expect({ f: 'P.', seq: U(1), ack: P(2101), win: 3900, len: 50 });
  assert.is(t.conn.nextDeadline(), 310 + 300, 'only the RTO is left, no delayed ACK');
});

test('Linux pingpong: once we answer data with data, its ACK waits for the reply; a delayed-ACK timeout ends that', () => {
  const t = established();
  // 0.200 < P. 1:101(100) ack 1 win 65535       (a request)
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 100 });
  // 0.200 > . 1:1(0) ack 101 win 3900            (quick ACK: the first data)
  t.expect({ f: '.', seq: U(1), ack: P(101), win: 3900 });
  // 0.210 > P. 1:51(50) ack 101 win 3900         (the reply, within 40 ms: interactive from now on)
  t.write(210, 50);
  t.expect({ f: 'P.', seq: U(1), ack: P(101), win: 3900, len: 50 });
  assert.is(t.conn.ackPolicy.pingpong, 1);
  // 0.300 < P. 101:201(100) ack 51 win 65535    (the next request: its ACK waits for the reply ...)
  t.recv(300, { f: 'P.', seq: P(101), ack: U(51), len: 100 });
  t.expect();
  // 0.310 > P. 51:101(50) ack 201 win 3800      (... and rides on it)
  t.write(310, 50);
  t.expect({ f: 'P.', seq: U(51), ack: P(201), win: 3800, len: 50 });
  // 0.320 < . 201:201(0) ack 101 win 65535
  t.recv(320, { f: '.', seq: P(201), ack: U(101) });
  t.expect();
  // 0.800 < P. 201:301(100) ack 101 win 65535   (after a silence longer than the RTO: no quick ACK while interactive)
  assert.ok(800 - 300 > t.conn.rtt.rto, 'a silence longer than the RTO');
  t.recv(800, { f: 'P.', seq: P(201), ack: U(101), len: 100 });
  t.expect();
  // 0.840 > . 101:101(0) ack 301 win 3700       (no reply came: the timer ends pingpong mode)
  t.timerAt(840);
  t.expect({ f: '.', seq: U(101), ack: P(301), win: 3700 });
  assert.is(t.conn.ackPolicy.pingpong, 0);
  // 0.850 < P. 301:401(100) ack 101 win 65535   (quick ACKs again)
  t.recv(850, { f: 'P.', seq: P(301), ack: U(101), len: 100 });
  t.expect({ f: '.', seq: U(101), ack: P(401), win: 3600 });
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
  // 0.300 > . 2:2(0) ack 101 win 3900            (quick ACK: its first data)
  a.expect({ f: '.', seq: U(2), ack: P(101), win: 3900 });
  a.events('readable');
  assert.equal(a.read(310), peerBytes(0, 100));
  const b = finWait2();
  // 0.400 < P. 1:101(100) ack 2 win 65535
  b.recv(400, { f: 'P.', seq: P(1), ack: U(2), len: 100 });
  // 0.400 > . 2:2(0) ack 101 win 3900
  b.expect({ f: '.', seq: U(2), ack: P(101), win: 3900 });
  b.events('readable');
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
  // 0.200 > . 1:1(0) ack 301 win 3700            (quick ACK)
  t.expect({ f: '.', seq: U(1), ack: P(301), win: 3700 });
  assert.equal(t.read(210, 100), peerBytes(0, 100));
  assert.equal(t.read(210, 150), peerBytes(100, 250));
  assert.equal(t.read(210), peerBytes(250, 300));
});

test.run();
