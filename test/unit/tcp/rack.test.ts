// RACK (RFC 8985 §6): time-based loss detection, as Linux with
// tcp_recovery=1. Exact segments, packetdrill style.
//
// Setup (options-script.ts): SACK and timestamps both ways, MSS 1012 (1000
// bytes of data per segment), NewReno, IW 10, RACK on (the default). The
// handshake gives SRTT 100. Our stream starts at 0xfffffff1 and crosses 2^32.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, Script, U, type OutSpec } from './script.js';
import { recv, expect, TS, PT, CFG, TV, open, tsSackAck, D, firstFlight } from './options-script.js';
import { Rack } from '../../../src/tcp/rack.js';

/** A peer ACK of our data: cumulative `ack` and SACK blocks (relative to our ISS), TSval PT(at), TSecr X+200. */
const peerAck = (t: Script, at: number, ack: number, ...blocks: Array<[number, number]>): void => tsSackAck(t, at, ack, TV(200), ...blocks);

test('RFC 8985 §6.2: one later segment SACKed: the earlier one is lost once RACK.rtt + reo_wnd (min_RTT/4) passed; the reorder timer fires then', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:2001>   (one segment: below DupThresh, RFC 6675 would wait)
  peerAck(t, 300, 1, [1001, 2001]);
  expect(t);
  assert.is(t.conn.recovery.phase, 'open');
  // 1:1001 was sent with 1001:2001 (same time, lower sequence: RACK_sent_after). RACK.rtt = 100,
  // reo_wnd = min_RTT/4 = 25: lost at 0.200 + 100 + 25 = 0.325 (§6.2 step 5), the reorder timer's time.
  assert.is(t.conn.nextDeadline(), 325);
  // 0.325 > . 1:1001(1000) ack 1 win 4000 <nop,nop,TS val X+325 ecr PT(300)>
  t.timerAt(325);
  expect(t, D(325, 1, PT(300)));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.ssthresh, 5000);
  assert.is(t.counters.get('tcp_rack_reorder_timeouts'), 1);
  assert.is(t.counters.get('tcp_rack_lost'), 1);
  assert.equal(t.recoveries(), ['recovery: RACK reorder timer: the reordering window passed, the segment is lost: fast recovery (RFC 8985 §6.3)']);
  // 0.400 < . 1:1(0) ack 10001 <TS val PT(400) ecr X+325>   (the retransmission filled the hole: recovery ends)
  recv(t, 400, { f: '.', seq: P(1), ack: U(10001), win: 65535, ts: [PT(400), TV(325)] });
  expect(t);
  assert.is(t.conn.recovery.phase, 'open');
  assert.equal(t.recoveries(), ['open: the recovery point is acknowledged: recovery ends (RFC 6675 §5)']);
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('RFC 8985 §6.2 (tuntcp compare loss): the data is lost, our FIN SACKed after it: resent by the reorder timer, not the RTO', () => {
  const t = open();
  t.write(200, 300);
  expect(t, D(200, 1, PT(100), 'P.', 300));
  t.close(210);
  // 0.210 > F. 301:301(0) ack 1 win 4000
  expect(t, { f: 'F.', seq: U(301), ack: P(1), win: 4000, opts: TS(TV(210), PT(100)) });
  // 0.310 < . 1:1(0) ack 1 <sack 301:302>   (the FIN arrived, the data did not)
  peerAck(t, 310, 1, [301, 302]);
  expect(t);
  // RACK.rtt = 100 (the FIN's), reo_wnd 25: the data sent at 0.200 is lost at 0.325.
  assert.is(t.conn.nextDeadline(), 325);
  // 0.325 > P. 1:301(300) ack 1 win 4000 <nop,nop,TS val X+325 ecr PT(310)>
  t.timerAt(325);
  expect(t, D(325, 1, PT(310), 'P.', 300));
  assert.is(t.conn.recovery.phase, 'recovery');
  peerAck(t, 380, 302);
  expect(t);
  assert.is(t.state, 'FIN_WAIT_2');
});

test('RFC 8985 §6.2 step 4: DupThresh segments SACKed: reo_wnd is 0, the loss is marked at once (no timer)', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:4001>
  peerAck(t, 300, 1, [1001, 4001]);
  expect(t, D(300, 1));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.counters.get('tcp_rack_reorder_timeouts'), 0);
});

/**
 * 20000 bytes written, 1:1001 lost: 0.325 resends it (recovery, whose point
 * is 11001), and 0.330 sends 11001:12001, new data above that point.
 */
function lostHeadResent(): ReturnType<typeof open> {
  const t = open();
  t.write(200, 20000);
  expect(t, ...firstFlight(10, false));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:2001>   (RFC 3042: one new segment)
  peerAck(t, 300, 1, [1001, 2001]);
  expect(t, D(300, 10001));
  t.timerAt(325);
  expect(t, D(325, 1, PT(300)));
  // 0.330 < . 1:1(0) ack 1 <sack 1001:8001>   pipe = 11000 - 7000 SACKed - 1000 lost + 1000 resent = 4000:
  // one new segment under cwnd 5000. The retransmission was sent after every SACKed segment: not lost.
  peerAck(t, 330, 1, [1001, 8001]);
  expect(t, D(330, 11001));
  return t;
}

test('RFC 8985 §6.2: a lost retransmission is detected (a segment sent after it was SACKed) and sent again', () => {
  const t = lostHeadResent();
  // 0.400 < . 1:1(0) ack 1 <sack 11001:12001 1001:8001>   11001:12001 (sent at 0.330) arrived, the
  // retransmission of 1:1001 (sent at 0.325) did not: lost again; so are 8001:11001 (sent before).
  // In recovery reo_wnd = 0. pipe = 0: all four go again, then new data.
  peerAck(t, 400, 1, [11001, 12001], [1001, 8001]);
  expect(t, D(400, 1), D(400, 8001), D(400, 9001), D(400, 10001), D(400, 12001));
  assert.is(t.counters.get('tcp_rack_lost_retransmits'), 1);
  assert.is(t.conn.recovery.phase, 'recovery');
});

test('Linux tcp_xmit_retransmit_queue: recovery ends and starts again while the lost segments are being resent: SND.UNA is not sent once more', () => {
  const t = lostHeadResent();
  // 0.430 < . 1:1(0) ack 1 <sack 1001:12001>   11001:12001 (sent at 0.330) arrived: the resent 1:1001 (0.325) is lost.
  peerAck(t, 430, 1, [1001, 12001]);
  expect(t, D(430, 1), D(430, 12001), D(430, 13001), D(430, 14001), D(430, 15001));
  // 0.530 < . 1:1(0) ack 1 <sack 13001:14001 1001:12001>   12001:13001 and 1:1001 (sent before 13001:14001) are lost.
  peerAck(t, 530, 1, [13001, 14001], [1001, 12001]);
  expect(t, D(530, 1), D(530, 12001), D(530, 16001));
  // 0.540 < . 1:1(0) ack 12001 <sack 13001:14001>   the recovery point is acknowledged: recovery ends,
  // and starts again at once, since 12001:13001 keeps its lost mark (Linux lost_out). But its
  // retransmission of 0.530 is in flight and nothing else is lost: no retransmission, only new
  // data. A third copy of SND.UNA would come back as a D-SACK, and the ACK of the copy before it,
  // taken for the new copy's (sent later, RTT above min_RTT), would make RACK think everything
  // sent before 0.540 lost.
  peerAck(t, 540, 12001, [13001, 14001]);
  expect(t, D(540, 17001));
  assert.is(t.conn.recovery.phase, 'recovery');
});

test('RFC 8985 §6.2 step 3: a segment delivered below RACK.fack that was sent once shows reordering: reo_wnd stays min_RTT/4', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  // 0.300 < . 1:1(0) ack 1 <sack 2001:3001>, then 0.301 < . ack 1 <sack 1001:3001>: 1001:2001 came late.
  peerAck(t, 300, 1, [2001, 3001]);
  peerAck(t, 301, 1, [1001, 3001]);
  expect(t);
  assert.is(t.conn.recovery.rack?.reord, true);
  // Three segments SACKed, but reordering was seen: no loss before 0.200 + 100 + 25.
  peerAck(t, 302, 1, [1001, 4001]);
  expect(t);
  assert.is(t.conn.nextDeadline(), 200 + 102 + 25, "RACK.rtt 102 + reo_wnd 25");
});

test('RFC 6937 PRR: proportional sending while pipe > ssthresh (ssthresh/RecoverFS = 1/2), then PRR-SSRB holds pipe at ssthresh', () => {
  const t = open();
  t.write(200, 30000);
  expect(t, ...firstFlight(10, false));
  // 0.300 < . 1:1(0) ack 1 <sack 1001:4001>   RACK: 1:1001 lost. ssthresh 5000, RecoverFS = cwnd 10000.
  // prr_delivered 3000: CEIL(3000 * 5000 / 10000) = 1500 bytes: the fast retransmit only (pipe 6000 -> 7000).
  peerAck(t, 300, 1, [1001, 4001]);
  expect(t, D(300, 1));
  assert.is(t.conn.cc.ssthresh, 5000);
  // prr_delivered 4000: CEIL(2000) - prr_out 1000 = 1000: one new segment, although pipe 6000 > cwnd 5000.
  peerAck(t, 310, 1, [1001, 5001]);
  expect(t, D(310, 10001));
  // pipe 6000 > ssthresh: CEIL(2500) - 2000 = 500: less than a segment.
  peerAck(t, 320, 1, [1001, 6001]);
  expect(t);
  // pipe = ssthresh = 5000: PRR-SSRB sends at most ssthresh - pipe = 0.
  peerAck(t, 330, 1, [1001, 7001]);
  expect(t);
  // pipe 4000: one segment brings it back to ssthresh, on each ACK from now on.
  peerAck(t, 340, 1, [1001, 8001]);
  expect(t, D(340, 11001));
  peerAck(t, 350, 1, [1001, 9001]);
  expect(t, D(350, 12001));
  assert.is(t.counters.get('tcp_prr_sends'), 4);
  // RFC 6675 (rack: false, below) sends nothing before pipe < cwnd (0.330).
});

test('RFC 6675 without PRR (rack: false): the same losses: no sending until pipe falls below cwnd', () => {
  const t = open({ ...CFG, rack: false });
  t.write(200, 30000);
  expect(t, ...firstFlight(10, false));
  peerAck(t, 300, 1, [1001, 4001]);
  expect(t, D(300, 1));
  peerAck(t, 310, 1, [1001, 5001]);
  expect(t);
  peerAck(t, 320, 1, [1001, 6001]);
  expect(t);
  peerAck(t, 330, 1, [1001, 7001]);
  expect(t, D(330, 10001));
});

test('RFC 8985 §6.2 step 4: a round trip with a D-SACK adds min_RTT/4 to reo_wnd (at most SRTT); 16 recoveries without one undo it', () => {
  const r = new Rack();
  r.sent(1000, 1000, 1000, 0);
  r.onAck(2000, undefined, 40); // min_RTT 40
  r.reord = true;
  assert.is(r.reoWnd(false, 3, 100), 10);
  r.onDsack(2000, 5000, true); // dsack_round = SND.NXT 5000
  assert.is(r.reoWnd(false, 3, 100), 20);
  r.onDsack(3000, 5000, true); // the same round trip
  assert.is(r.reoWnd(false, 3, 100), 20);
  r.onDsack(5000, 9000, true); // the next one
  assert.is(r.reoWnd(false, 3, 100), 30);
  assert.is(r.reoWnd(false, 3, 25), 25, 'at most SRTT');
  for (let i = 0; i < 15; i++) r.recoveryEnded();
  assert.is(r.reoWnd(false, 3, 100), 30);
  r.recoveryEnded();
  assert.is(r.reoWnd(false, 3, 100), 10);
});

test('RFC 8985 off (rack: false): one SACKed segment does not start recovery; the probe comes at 2*SRTT as before RACK', () => {
  const t = open({ ...CFG, rack: false });
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  peerAck(t, 300, 1, [1001, 2001]);
  expect(t);
  assert.is(t.conn.nextDeadline(), 400);
});

test('Linux tcp_packets_in_flight: pipePackets counts segments whatever their size, through SACK, loss, resends that split a segment, and the cumulative ACK', () => {
  const r = new Rack();
  r.sent(0, 3000, 1000, 0); // three full segments
  for (let i = 0; i < 5; i++) r.sent(3000 + i, 1, 1000, 1); // five 1-byte segments (TCP_NODELAY)
  assert.is(r.pipePackets(), 8);
  assert.is(r.pipe(), 3005);
  r.onAck(0, [[2000, 3000, 2000, 3000]], 50); // the third SACKed
  assert.is(r.pipePackets(), 7);
  r.markLostOnTimeout(300, true); // everything unSACKed is lost
  assert.is(r.pipePackets(), 0);
  r.retransmitted(0, 500, 301); // half of the first: it splits, the resent half is in flight
  assert.equal(r.toArray().slice(0, 2), [[0, 500, 'LR'], [500, 1000, 'L']]);
  assert.is(r.pipePackets(), 1);
  r.onAck(1000, undefined, 400); // both halves leave
  assert.is(r.pipePackets(), 0);
  r.retransmitted(1000, 1000, 401);
  assert.is(r.pipePackets(), 1);
  r.onAck(3005, undefined, 500);
  assert.is(r.pipePackets(), 0);
  assert.is(r.pipe(), 0);
});

test.run();
