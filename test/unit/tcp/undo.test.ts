// Undo of spurious window reductions (undo.ts): D-SACK (RFC 3708 §3) and
// Eifel with timestamps (RFC 3522 detection, RFC 4015 response), as Linux's
// tcp_try_undo_*. Exact segments, packetdrill style; setup as rack.test.ts
// (SACK, TS, MSS 1012 = 1000 bytes of data, NewReno, IW 10, SRTT 100).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, Script, U, type OutSpec } from './script.js';
import { recv, expect, TS, PT, TV, open, CFG, tsSackAck, D } from './options-script.js';

const peerAck = tsSackAck;

test('RFC 3708 §3: the only retransmission of a fast recovery comes back as a D-SACK: cwnd and ssthresh are restored', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...Array.from({ length: 10 }, (_, i) => D(200, 1 + 1000 * i, PT(100), i === 9 ? 'P.' : '.')));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:4001>   (1:1001 late, not lost: RACK marks it lost anyway)
  peerAck(t, 300, 1, TV(200), [1001, 4001]);
  expect(t, D(300, 1));
  assert.is(t.conn.cc.cwnd, 5000);
  assert.is(t.conn.cc.ssthresh, 5000);
  // 0.310 < . 1:1(0) ack 10001 <sack 1:1001>   (the original arrived, then everything; the retransmission
  //   arrived second and is reported as a D-SACK; the ACK echoes the originals' TSval too)
  peerAck(t, 310, 10001, TV(200), [1, 1001]);
  expect(t);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10000, 'cwnd back to its value before the reduction');
  assert.is(t.conn.cc.ssthresh, Infinity, 'ssthresh back too (Linux prior_ssthresh)');
  assert.is(t.counters.get('tcp_undo_recovery'), 1);
});

test('RFC 3708: a D-SACK arriving after recovery ended still undoes it (Linux tcp_try_undo_dsack)', () => {
  const t = open();
  t.write(200, 10000);
  t.takeOut();
  peerAck(t, 300, 1, TV(200), [1001, 4001]);
  expect(t, D(300, 1));
  // 0.390 < . 1:1(0) ack 10001   (echoes the retransmission: no Eifel; recovery ends with cwnd 5000)
  peerAck(t, 390, 10001, TV(300));
  assert.is(t.conn.cc.cwnd, 5000);
  // 0.395 < . 1:1(0) ack 10001 <sack 1:1001>   (the D-SACK for the retransmission)
  peerAck(t, 395, 10001, TV(300), [1, 1001]);
  assert.is(t.conn.cc.cwnd, 10000);
  assert.is(t.counters.get('tcp_undo_by_dsack'), 1);
});

test('RFC 3522 / RFC 4015 (Eifel): after a timeout, an ACK echoing the original TSval shows it spurious: cwnd restored, no go-back-N', () => {
  const t = open();
  t.write(200, 3000);
  expect(t, D(200, 1, PT(100)), D(200, 1001, PT(100)), D(200, 2001, PT(100), 'P.'));
  // 0.402 > P. 2001:3001(1000)   (the tail loss probe: PTO 2*SRTT + 2 ms)
  t.timerAt(402);
  expect(t, D(402, 2001, PT(100), 'P.'));
  // 0.702 > . 1:1001(1000)   (the RTO: cwnd 1 SMSS; RACK marks the segments sent before 0.702 - RACK.rtt lost)
  t.timerAt(702);
  expect(t, D(702, 1, PT(100)));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 1000);
  // 0.720 < . 1:1(0) ack 2001   (TSecr X+200: triggered by the originals, which were only delayed)
  peerAck(t, 720, 2001, TV(200));
  assert.is(t.conn.recovery.phase, 'open', 'the loss phase is left');
  assert.is(t.conn.cc.cwnd, 10000);
  assert.is(t.counters.get('tcp_undo_loss'), 1);
  assert.is(t.counters.get('tcp_undo_by_timestamp'), 1);
  // 1001:2001 is not resent: it was never lost.
  expect(t);
});

test('Eifel: an ACK echoing the retransmission after a timeout undoes nothing', () => {
  // Without F-RTO, which would see 1001:2001, sent once, acknowledged (frto.test.ts).
  const t = open({ ...CFG, frto: false });
  t.write(200, 3000);
  t.takeOut();
  t.timerAt(402);
  t.takeOut();
  t.timerAt(702);
  t.takeOut();
  peerAck(t, 800, 2001, TV(702));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.counters.get('tcp_undo_loss'), 0);
});

test.run();
