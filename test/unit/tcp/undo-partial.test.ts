// Undo on a partial ACK in fast recovery (Linux tcp_try_undo_partial;
// recovery.ts tryUndoPartial): the ACK advances SND.UNA, not to the recovery
// point, and echoes a TSval older than the episode's first retransmission
// (Eifel detection, RFC 3522 §2): the hole was filled by a delayed
// original. With no retransmission in flight the reduction is undone
// (RFC 4015's response: cwnd and ssthresh back) and recovery ends at once;
// with one in flight the ACK marks no more losses and sends nothing.
// Exact segments, packetdrill style; setup as undo.test.ts (SACK, TS, MSS
// 1012 = 1000 bytes of data, NewReno, IW 10, SRTT 100).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, Script, U, type OutSpec } from './script.js';
import { recv, expect, TS, PT, TV, open, tsSackAck, D } from './options-script.js';

const peerAck = tsSackAck;

/** 15000 bytes written, 10 segments out at 0.200; at 0.300 SACKs show 1:1001 missing: fast recovery resends it. */
function inRecovery(): Script {
  const t = open();
  t.write(200, 15000);
  expect(t, ...Array.from({ length: 10 }, (_, i) => D(200, 1 + 1000 * i, PT(100))));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:4001>   (RACK: 1:1001 lost; cwnd and ssthresh 5000)
  peerAck(t, 300, 1, TV(200), [1001, 4001]);
  // 0.300 > . 1:1001(1000)   (TSval X+300: the episode's first retransmission)
  expect(t, D(300, 1));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.cwnd, 5000);
  return t;
}

test('tcp_try_undo_partial: a partial ACK echoing the original TSval, no retransmission in flight: undone, recovery ends', () => {
  const t = inRecovery();
  // 0.310 < . 1:1(0) ack 4001 <sack 5001:6001>   (TSecr X+200: the original 1:1001 filled the hole; 4001:5001
  //   is still missing, so SND.UNA stays below the recovery point 10001)
  peerAck(t, 310, 4001, TV(200), [5001, 6001]);
  assert.is(t.conn.recovery.phase, 'open', 'recovery ends on the partial ACK');
  assert.is(t.conn.cc.cwnd, 10000, 'cwnd back to its value before the reduction');
  assert.is(t.conn.cc.ssthresh, Infinity, 'ssthresh back too');
  assert.is(t.counters.get('tcp_undo_partial'), 1);
  // 0.310 > . 10001:11001 ... 13001:14001   (the restored window: 6000 outstanding, 4 new segments; no retransmission)
  expect(t, D(310, 10001), D(310, 11001), D(310, 12001), D(310, 13001));
  // 0.335 RACK's reorder window (min_RTT/4) passes with 4001:5001 still missing: a new loss, a new recovery (as Linux)
  t.timerAt(335);
  expect(t, D(335, 4001, PT(310)));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.cwnd, 5000);
});

test('tcp_try_undo_partial: the partial ACK echoes the retransmission: a real loss, no undo', () => {
  const t = inRecovery();
  // 0.400 < . 1:1(0) ack 4001 <sack 5001:6001>   (TSecr X+300: triggered by the retransmission)
  peerAck(t, 400, 4001, TV(300), [5001, 6001]);
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.cwnd, 5000);
  assert.is(t.counters.get('tcp_undo_partial'), 0);
});

test('tcp_try_undo_partial: with a retransmission still in flight the ACK marks no more losses and sends nothing', () => {
  const t = open();
  t.write(200, 10000);
  t.takeOut();
  // 0.300 < . 1:1(0) ack 1 <sack 1001:4001 5001:8001>   (two holes: RACK marks 1:1001 and 4001:5001 lost, both resent)
  peerAck(t, 300, 1, TV(200), [1001, 4001], [5001, 8001]);
  expect(t, D(300, 1), D(300, 4001));
  // 0.310 < . 1:1(0) ack 4001 <sack 5001:8001 9001:10001>   (TSecr X+200: 1:1001 was late; 4001:5001's
  //   retransmission is in flight; 8001:9001, sent before the now SACKed 9001:10001, would be RACK's next loss)
  peerAck(t, 310, 4001, TV(200), [5001, 8001], [9001, 10001]);
  expect(t); // 8001:9001 is neither marked lost nor resent on this ACK
  assert.is(t.counters.get('tcp_rack_lost'), 2);
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.cwnd, 5000, 'nothing undone while a retransmission is out (Linux retrans_out)');
  assert.is(t.counters.get('tcp_undo_partial'), 0);
});

test.run();
