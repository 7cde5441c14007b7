// RFC 9293 §3.10.7.4, first check: is the segment acceptable? The four cases
//
//   SEG.LEN  RCV.WND  test
//   0        0        SEG.SEQ = RCV.NXT
//   0        >0       RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//   >0       0        not acceptable
//   >0       >0       RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//                     or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
//
// An unacceptable segment (without RST) is answered with
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped. Acceptable segments are
// trimmed to the window ("only the new parts are processed").
//
// Setup: MSS 1000 both ways, our receive buffer 4000 bytes, so RCV.WND = 4000.
// The peer's data starts at 0xffffff01 and crosses 2^32 after 255 bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, P, U, peerBytes, type Script } from './script.js';

/** ESTABLISHED, then the peer fills our 4000-byte window: RCV.WND = 0. */
function zeroWindow(): Script {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 1001 win 3000        (quick ACK 1 of 2)
  // 0.200 < . 1001:2001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 2001 win 2000        (quick ACK 2 of 2)
  // 0.200 < . 2001:3001(1000) ack 1 win 65535
  // 0.200 < . 3001:4001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 4001 win 0           (two segments unacknowledged)
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  t.recv(200, { f: '.', seq: P(2001), ack: U(1), len: 1000 });
  t.recv(200, { f: '.', seq: P(3001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  t.clearEvents();
  return t;
}

// --------------------------------------------------------- SEG.LEN = 0

test('§3.10.7.4 first check, case 1 (len 0, win 0): SEG.SEQ = RCV.NXT is accepted, its ACK processed', () => {
  const t = zeroWindow();
  // 0.300 < . 4001:4001(0) ack 1 win 3000      (a window update)
  t.recv(300, { f: '.', seq: P(4001), ack: U(1), win: 3000 });
  t.expect();
  assert.is(t.conn.sndWnd, 3000);
});

test('§3.10.7.4 first check, case 1 (len 0, win 0): SEG.SEQ ≠ RCV.NXT is rejected with an ACK', () => {
  const t = zeroWindow();
  // 0.300 < . 4002:4002(0) ack 1 win 3000
  t.recv(300, { f: '.', seq: P(4002), ack: U(1), win: 3000 });
  // 0.300 > . 1:1(0) ack 4001 win 0
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.is(t.conn.sndWnd, 65535, 'the rejected segment\'s window is not used');
});

test('§3.10.7.4 first check, case 2 (len 0, win > 0): last sequence number of the window is accepted', () => {
  const t = established();
  // 0.200 < . 4000:4000(0) ack 1 win 3000      (RCV.NXT + RCV.WND - 1)
  t.recv(200, { f: '.', seq: P(4000), ack: U(1), win: 3000 });
  t.expect();
  assert.is(t.conn.sndWnd, 3000);
});

test('§3.10.7.4 first check, case 2 (len 0, win > 0): SEG.SEQ = RCV.NXT+RCV.WND is rejected with an ACK', () => {
  const t = established();
  // 0.200 < . 4001:4001(0) ack 1 win 3000
  t.recv(200, { f: '.', seq: P(4001), ack: U(1), win: 3000 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.conn.sndWnd, 65535);
});

test('§3.10.7.4 first check, case 2 (len 0, win > 0): SEG.SEQ = RCV.NXT-1 is rejected with an ACK', () => {
  const t = established();
  // 0.200 < . 0:0(0) ack 1 win 3000           (what a keepalive probe looks like)
  t.recv(200, { f: '.', seq: P(0), ack: U(1), win: 3000 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
});

// --------------------------------------------------------- SEG.LEN > 0

test('§3.10.7.4 first check, case 3 (len > 0, win 0): data beyond RCV.NXT is rejected with an ACK', () => {
  const t = zeroWindow();
  // 0.300 < P. 4101:4201(100) ack 1 win 3000
  t.recv(300, { f: 'P.', seq: P(4101), ack: U(1), win: 3000, len: 100 });
  // 0.300 > . 1:1(0) ack 4001 win 0
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.is(t.conn.readable, 4000);
  assert.is(t.conn.sndWnd, 65535);
});

test('§3.10.7.4 first check, case 3 (len > 0, win 0): a 1-byte probe at RCV.NXT has its ACK processed and gets an ACK', () => {
  const t = zeroWindow();
  // 0.300 < . 4001:4002(1) ack 1 win 3000      (a BSD-style zero-window probe)
  t.recv(300, { f: '.', seq: P(4001), ack: U(1), win: 3000, len: 1 });
  // "special allowance should be made to accept valid ACKs": the window update is used ...
  assert.is(t.conn.sndWnd, 3000);
  // ... and the segment itself is unacceptable, so it is answered (§3.10.7.4, §3.8.6.1):
  // 0.300 > . 1:1(0) ack 4001 win 0
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.is(t.conn.readable, 4000, 'the probe byte is not taken');
  assert.ok(t.conn.ackPolicy.inQuickAck, 'data into a closed window starts quick ACKs (Linux tcp_data_queue)');
});

test('§3.10.7.4 first check, case 4 (len > 0, win > 0): first byte in the window is accepted', () => {
  const t = established();
  // 0.200 < P. 3901:4001(100) ack 1 win 65535  (out of order, but inside the window)
  t.recv(200, { f: 'P.', seq: P(3901), ack: U(1), len: 100 });
  // 0.200 > . 1:1(0) ack 1 win 4000            (immediate duplicate ACK for out-of-order data)
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [[P(3901), P(4001)]], 'kept for later');
});

test('§3.10.7.4 first check, case 4 (len > 0, win > 0): first byte just beyond the window is rejected', () => {
  const t = established();
  // 0.200 < P. 4001:4101(100) ack 1 win 65535
  t.recv(200, { f: 'P.', seq: P(4001), ack: U(1), len: 100 });
  // 0.200 > . 1:1(0) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [], 'nothing kept');
});

test('§3.10.7.4 first check, case 4: an old duplicate (all below RCV.NXT) gets an immediate ACK', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000        (quick ACK)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.500 < . 1:1001(1000) ack 1 win 65535    (retransmitted: our ACK was lost)
  t.recv(500, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.500 > . 1:1(0) ack 1001 win 3000
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.500 < . 1:1(0) ack 1 win 65535          (a pure ACK below RCV.NXT: answered too, once per 500 ms)
  t.recv(500, { f: '.', seq: P(0), ack: U(1) });
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  assert.equal(t.read(600), peerBytes(0, 1000), 'delivered once');
});

test('§3.10.7.4 first check, case 4: partially duplicate data is trimmed to the new bytes', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000        (quick ACK)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.210 < . 501:1501(1000) ack 1 win 65535  (last byte in the window: acceptable)
  t.recv(210, { f: '.', seq: P(501), ack: U(1), len: 1000 });
  // 0.210 > . 1:1(0) ack 1501 win 2500        (quick ACK: only the new 500 bytes are taken)
  t.expect({ f: '.', seq: U(1), ack: P(1501), win: 2500 });
  assert.equal(t.read(300), peerBytes(0, 1500));
});

test('§3.10.7.4 first check: data beyond RCV.NXT+RCV.WND is trimmed', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000        (quick ACK)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.210 < P. 1001:4501(3500) ack 1 win 65535 (500 bytes past the right edge 4001)
  t.recv(210, { f: 'P.', seq: P(1001), ack: U(1), len: 3500 });
  // 0.210 > . 1:1(0) ack 4001 win 0
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.equal(t.read(300).length, 4000);
});

test('§3.10.7.4 first check: a FIN beyond the window is trimmed with the data', () => {
  const t = established();
  // 0.200 < FP. 1:4101(4100) ack 1 win 65535  (FIN at 4101, window ends at 4001)
  t.recv(200, { f: 'FP.', seq: P(1), ack: U(1), len: 4100 });
  // 0.200 > . 1:1(0) ack 4001 win 0            (4 full-sized segments' worth: ACK now; no FIN was taken)
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.is(t.state, 'ESTABLISHED', 'the FIN was not accepted');
  t.events('readable');
});

test('§3.10.7.4 zero window: an ACK at RCV.NXT that acknowledges our data is processed', () => {
  const t = established();
  t.write(150, 100);
  // 0.150 > P. 1:101(100) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 100 });
  // 0.200 < . 1:4001(4000) ack 1 win 65535    (fills the window)
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 4000 });
  // 0.200 > . 101:101(0) ack 4001 win 0        (4 full-sized segments' worth: ACK now)
  t.expect({ f: '.', seq: U(101), ack: P(4001), win: 0 });
  // 0.300 < . 4001:4001(0) ack 101 win 65535
  t.recv(300, { f: '.', seq: P(4001), ack: U(101) });
  t.expect();
  assert.is(t.conn.sndUna, U(101));
  assert.is(t.conn.bufferedToSend, 0);
  assert.is(t.conn.nextDeadline(), Infinity, 'RTO stopped');
});

test.run();
