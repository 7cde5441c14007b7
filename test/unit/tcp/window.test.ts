// The window we advertise (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, §3.8.6
// "the right edge never moves left", RFC 7323 §2.3 scaled window fields).
//
//   RCV.WND = right edge - RCV.NXT. The right edge moves right only by a
//   worthwhile amount (min(buffer/2, MSS) here) and never moves left, even
//   when the buffer fills faster than the application reads.
//
// Setup: MSS 1000 both ways, receive buffer 4000 (shift 0) unless noted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, P, U, peerBytes, type Script } from './script.js';

/** ESTABLISHED with the peer's 4000 bytes unread: RCV.WND = 0 at 0.200. */
function full(): Script {
  const t = established();
  // 0.200 < . 1:2001(2000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 2000 });
  // 0.200 > . 1:1(0) ack 2001 win 2000          (two full-sized segments' worth: ACK now)
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  // 0.200 < . 2001:4001(2000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(2001), ack: U(1), len: 2000 });
  // 0.200 > . 1:1(0) ack 4001 win 0
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  t.clearEvents();
  return t;
}

test('§3.8.6.2.2 read() after the window closed sends a window update', () => {
  const t = full();
  assert.equal(t.read(300), peerBytes(0, 4000));
  // 0.300 > . 1:1(0) ack 4001 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 4000 });
});

test('§3.8.6.2.2 receiver SWS: reading less than one MSS does not reopen the window', () => {
  const t = full();
  assert.equal(t.read(300, 100), peerBytes(0, 100));
  t.expect();
  // 0.500 < . 4000:4000(0) ack 1 win 65535       (the peer's zero-window probe)
  t.recv(500, { f: '.', seq: P(4000), ack: U(1) });
  // 0.500 > . 1:1(0) ack 4001 win 0              (100 free bytes are not worth offering)
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 0 });
  assert.equal(t.read(600, 900), peerBytes(100, 1000));
  // 0.600 > . 1:1(0) ack 4001 win 1000           (one MSS free: worth announcing)
  t.expect({ f: '.', seq: U(1), ack: P(4001), win: 1000 });
});

test('§3.8.6.2.2 read() with the window still half open sends nothing (Linux: only when it doubles)', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 1001 win 3000           (quick ACKs: the first data)
  // 0.200 < . 1001:2001(1000) ack 1 win 65535
  // 0.200 > . 1:1(0) ack 2001 win 2000
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  t.recv(200, { f: '.', seq: P(1001), ack: U(1), len: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 2000 });
  t.read(300, 1000);
  t.expect();
  t.read(310);
  // 0.310 > . 1:1(0) ack 2001 win 4000           (4000 >= 2 * 2000)
  t.expect({ f: '.', seq: U(1), ack: P(2001), win: 4000 });
});

test('§3.8.6 the right edge stays put while data arrives unread (ack + win constant)', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000          (quick ACK; right edge 4001)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.300 < . 2001:2501(500) ack 1 win 65535   (out of order: held in the buffer)
  t.recv(300, { f: '.', seq: P(2001), ack: U(1), len: 500 });
  // 0.300 > . 1:1(0) ack 1001 win 3000          (right edge still 4001)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
});

test('§3.8.6 the right edge never moves left, even by less than one window-scale unit', () => {
  // 128 KiB buffer: shift 2, so the window field counts units of 4 bytes.
  const t = established({ mss: 1000, rcvBuf: 131072 }, { wscale: 7 });
  t.write(150, 1);
  // 0.150 > P. 1:2(1) ack 1 win 32768           (right edge = 1 + 131072 = 131073)
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 32768, len: 1 });
  // 0.200 < P. 1:6(5) ack 2 win 65535
  t.recv(200, { f: 'P.', seq: P(1), ack: U(2), len: 5 });
  // 0.200 > . 2:2(0) ack 6 win 32767            (quick ACK; 6 + 4*32767 = 131074 >= 131073; 32766 would end at 131070)
  t.expect({ f: '.', seq: U(2), ack: P(6), win: 32767 });
});

test('§3.10.7.4 the acceptability test uses the window we advertised, not the free buffer', () => {
  const t = established();
  // 0.200 < . 1:1001(1000) ack 1 win 65535
  t.recv(200, { f: '.', seq: P(1), ack: U(1), len: 1000 });
  // 0.200 > . 1:1(0) ack 1001 win 3000          (quick ACK)
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  // 0.300 < . 3001:4001(1000) ack 1 win 65535  (ends exactly at the right edge: acceptable)
  t.recv(300, { f: '.', seq: P(3001), ack: U(1), len: 1000 });
  // 0.300 > . 1:1(0) ack 1001 win 3000
  t.expect({ f: '.', seq: U(1), ack: P(1001), win: 3000 });
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [[P(3001), P(4001)]]);
});

test.run();
