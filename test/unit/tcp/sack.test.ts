// SACK (RFC 2018, RFC 2883) both ways, and the RFC 6675 sender: scoreboard,
// IsLost, pipe, NextSeg. Exact segments, packetdrill style.
//
// Setup: SACK and timestamps on both sides, MSS 1012 both ways, so a full
// data segment carries 1012 - 12 = 1000 bytes; NewReno congestion control,
// initial window 10 segments. Our stream starts at 0xfffffff1 and the
// peer's at 0xffffff01: both cross 2^32. Our TSval is X + now (X read from
// our first SYN); the peer's clock PT(t) wraps 2^32 at t = 256 ms.
// Peer ACKs echo X+200, the TSval of our first flight.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seqSub } from '../../../src/wire/seq.js';
import { P, Script, U, peerBytes, type OutSpec } from './script.js';

import { recv, expect, TS, SACK, PT, CFG, X, TV, open, tsSackAck, D, firstFlight } from './options-script.js';

/** A peer ACK of our data: cumulative `ack` and SACK blocks (relative to our ISS), TSval PT(at), TSecr X+200. */
const peerAck = (t: Script, at: number, ack: number, ...blocks: Array<[number, number]>): void => tsSackAck(t, at, ack, TV(200), ...blocks);

// ------------------------------------------------------------ SACK receiver

/** Peer data [from, to) of its stream (relative to its ISN), sent at `at` with TSval PT(at). */
function data(t: Script, at: number, from: number, to: number): void {
  recv(t, at, { f: '.', seq: P(from), ack: U(1), len: to - from, ts: [PT(at), TV(100)] });
}

/** Our pure ACK: ack and SACK blocks relative to the peer's ISN. */
function ackOut(at: number, ack: number, win: number, ecr: number, ...blocks: Array<[number, number]>): OutSpec {
  return { f: '.', seq: U(1), ack: P(ack), win, opts: [...TS(TV(at), ecr), ...(blocks.length > 0 ? SACK(...blocks) : [])] };
}

test('RFC 2018 §4: out-of-order data is ACKed at once with SACK blocks, newest first, at most 3 beside TS', () => {
  const t = open();
  // 0.200 < . 101:201(100) ack 1 <nop,nop,TS val PT(200) ecr X+100>
  data(t, 200, 101, 201);
  // 0.200 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+200 ecr PT(100),nop,nop,sack 101:201>
  expect(t, ackOut(200, 1, 4000, PT(100), [101, 201]));
  data(t, 210, 301, 401);
  expect(t, ackOut(210, 1, 4000, PT(100), [301, 401], [101, 201]));
  data(t, 220, 501, 601);
  expect(t, ackOut(220, 1, 4000, PT(100), [501, 601], [301, 401], [101, 201]));
  // A fourth range: only three blocks fit beside the timestamp (40 bytes of options).
  data(t, 230, 701, 801);
  expect(t, ackOut(230, 1, 4000, PT(100), [701, 801], [501, 601], [301, 401]));
  // 201:301 joins 101:201 and 301:401: the merged block comes first.
  data(t, 240, 201, 301);
  expect(t, ackOut(240, 1, 4000, PT(100), [101, 401], [701, 801], [501, 601]));
  assert.is(t.conn.rcvNxt, P(1));
});

test('RFC 2018 §4: without timestamps, up to 4 SACK blocks', () => {
  const t = open({ ...CFG, timestamps: false }, { ts: false });
  for (const [i, from] of [101, 301, 501, 701, 901].entries()) {
    recv(t, 200 + i, { f: '.', seq: P(from), ack: U(1), len: 100 });
    t.takeOut();
  }
  recv(t, 210, { f: '.', seq: P(1101), ack: U(1), len: 100 });
  // 0.210 > . 1:1(0) ack 1 win 4000 <nop,nop,sack 1101:1201 901:1001 701:801 501:601>
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: SACK([1101, 1201], [901, 1001], [701, 801], [501, 601]) });
});

test('RFC 2018 §4: after the newest block, the blocks follow in the order they were last reported (not by sequence)', () => {
  const t = open();
  data(t, 200, 501, 601);
  expect(t, ackOut(200, 1, 4000, PT(100), [501, 601]));
  data(t, 210, 101, 201);
  expect(t, ackOut(210, 1, 4000, PT(100), [101, 201], [501, 601]));
  data(t, 220, 301, 401);
  // "repeating the most recently reported SACK blocks": 301:401, then 101:201 (reported first last time), then 501:601.
  // Linux (tcp_sack_new_ofo_skb) keeps the same recency order.
  expect(t, ackOut(220, 1, 4000, PT(100), [301, 401], [101, 201], [501, 601]));
});

test('SACK blocks shrink and disappear as the holes fill; each fill is ACKed at once (RFC 5681 §4.2)', () => {
  const t = open();
  data(t, 200, 101, 201);
  t.takeOut();
  data(t, 210, 301, 401);
  expect(t, ackOut(210, 1, 4000, PT(100), [301, 401], [101, 201]));
  // 0.220 < . 1:101(100): RCV.NXT moves over 101:201 to 201
  data(t, 220, 1, 101);
  // 0.220 > . 1:1(0) ack 201 win 3800 <nop,nop,TS val X+220 ecr PT(220),nop,nop,sack 301:401>
  expect(t, ackOut(220, 201, 3800, PT(220), [301, 401]));
  data(t, 230, 201, 301);
  // 0.230 > . 1:1(0) ack 401 win 3600 <nop,nop,TS val X+230 ecr PT(230)>
  expect(t, ackOut(230, 401, 3600, PT(230)));
  assert.equal(t.read(240), peerBytes(0, 400));
});

test('RFC 2883 §4.1.1: a duplicate below RCV.NXT is reported as a D-SACK block, once', () => {
  const t = open();
  data(t, 200, 1, 101);
  // 0.200 > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+200 ecr PT(200)>   (quick ACK: the first data)
  expect(t, ackOut(200, 101, 3900, PT(200)));
  // 0.300 < . 1:101(100)   (the same segment again)
  data(t, 300, 1, 101);
  // 0.300 > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+300 ecr PT(300),nop,nop,sack 1:101>
  //   (it ends at RCV.WUP: Linux's tcp_sequence takes it, its TSval becomes TS.Recent, RFC 7323 §4.3 (2))
  expect(t, ackOut(300, 101, 3900, PT(300), [1, 101]));
  // The next ACK carries no D-SACK.
  data(t, 310, 201, 301);
  expect(t, ackOut(310, 101, 3900, PT(300), [201, 301]));
});

test('RFC 2883 §4.1.1: the D-SACK block comes first, then the SACK blocks', () => {
  const t = open();
  data(t, 200, 1, 101);
  expect(t, ackOut(200, 101, 3900, PT(200)));
  data(t, 210, 201, 301);
  expect(t, ackOut(210, 101, 3900, PT(200), [201, 301]));
  data(t, 220, 1, 101);
  // 0.220 > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+220 ecr PT(220),nop,nop,sack 1:101 201:301>
  expect(t, ackOut(220, 101, 3900, PT(220), [1, 101], [201, 301]));
});

test('RFC 2883 §4.1.3: a partly duplicate segment: D-SACK for the old part; the new part fills the hole', () => {
  const t = open();
  data(t, 200, 1, 101);
  expect(t, ackOut(200, 101, 3900, PT(200)));
  data(t, 210, 201, 301);
  expect(t, ackOut(210, 101, 3900, PT(200), [201, 301]));
  // 0.220 < . 1:201(200)   (1:101 again, 101:201 new)
  data(t, 220, 1, 201);
  // 0.220 > . 1:1(0) ack 301 win 3700 <nop,nop,TS val X+220 ecr PT(220),nop,nop,sack 1:101>
  expect(t, ackOut(220, 301, 3700, PT(220), [1, 101]));
  assert.equal(t.read(230), peerBytes(0, 300));
});

test('RFC 2883 §4.2: a duplicate of out-of-order data: D-SACK block first, then the block that holds it', () => {
  const t = open();
  data(t, 200, 101, 201);
  expect(t, ackOut(200, 1, 4000, PT(100), [101, 201]));
  data(t, 210, 201, 301);
  expect(t, ackOut(210, 1, 4000, PT(100), [101, 301]));
  // 0.220 < . 201:301(100)   (again)
  data(t, 220, 201, 301);
  // 0.220 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+220 ecr PT(100),nop,nop,sack 201:301 101:301>
  expect(t, ackOut(220, 1, 4000, PT(100), [201, 301], [101, 301]));
});

// ------------------------------------------------------- SACK sender (6675)

const sacked = (t: Script): Array<[number, number]> =>
  t.conn.recovery.scoreboard.toArray().map(([a, b]): [number, number] => [seqSub(a, U(0)), seqSub(b, U(0))]);

test('RFC 6675 §5: SACK-detected loss: first hole at once, the next lost hole and new data as cwnd - pipe allows, exit at RecoveryPoint', () => {
  // RFC 6675 alone: with RACK the retransmissions, sent before 10001:11001 and not SACKed with it, are lost again at 0.330.
  const t = open({ ...CFG, rack: false });
  t.write(200, 20000);
  expect(t, ...firstFlight(10, false));
  assert.is(t.conn.cc.cwnd, 10000);
  // Segments 1:1001 and 2001:3001 are lost; the first ACK that gets through SACKs 2 and 4..8.
  // 0.300 < . 1:1(0) ack 1 <nop,nop,TS,nop,nop,sack 3001:8001 1001:2001>
  peerAck(t, 300, 1, [3001, 8001], [1001, 2001]);
  // IsLost(1): 6000 bytes SACKed above > 2*SMSS: recovery. ssthresh = cwnd = FlightSize/2 = 5000.
  // Fast retransmit of 1:1001 (pipe: 9001:11001 = 2000), then 2001:3001 (IsLost: 5000 bytes above),
  // then no lost hole is left (rule 1), so new data (rule 2) while cwnd - pipe >= 1 SMSS.
  expect(t, D(300, 1), D(300, 2001), D(300, 10001));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.recovery.recoveryPoint, U(10001));
  assert.is(t.conn.cc.ssthresh, 5000);
  assert.is(t.conn.cc.cwnd, 5000);
  assert.equal(sacked(t), [[1001, 2001], [3001, 8001]]);
  // Each further SACK of one segment lets one new segment out (pipe stays 4000 + 1000).
  peerAck(t, 310, 1, [3001, 9001], [1001, 2001]);
  expect(t, D(310, 11001));
  peerAck(t, 320, 1, [3001, 10001], [1001, 2001]);
  expect(t, D(320, 12001));
  peerAck(t, 330, 1, [3001, 11001], [1001, 2001]);
  expect(t, D(330, 13001));
  assert.equal(sacked(t), [[1001, 2001], [3001, 11001]]);
  // 0.400 < . 1:1(0) ack 2001 <sack 3001:11001>   (the retransmitted 1:1001 arrived: a partial ACK)
  peerAck(t, 400, 2001, [3001, 11001]);
  expect(t, D(400, 14001));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.equal(sacked(t), [[3001, 11001]]);
  // 0.410 < . 1:1(0) ack 11001   (the retransmitted 2001:3001 arrived: SND.UNA passes RecoveryPoint)
  peerAck(t, 410, 11001);
  // Recovery is over: cwnd = ssthresh = 5000, 4000 in flight: one more segment.
  expect(t, D(410, 15001));
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 5000);
  assert.equal(sacked(t), []);
});

test('RFC 6675 §5 (4.3): the fast retransmit goes out on the third duplicate ACK even when pipe > cwnd', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  peerAck(t, 300, 1, [1001, 2001]);
  expect(t);
  peerAck(t, 310, 1, [1001, 3001]);
  expect(t);
  assert.is(t.conn.recovery.dupAcks, 2);
  // 0.320 < . 1:1(0) ack 1 <sack 1001:4001>   (DupAcks = DupThresh)
  peerAck(t, 320, 1, [1001, 4001]);
  // "(4.3) Retransmit the first data segment presumed dropped": unconditionally, before the
  // cwnd - pipe loop of step (C). (Linux too: tcp_cwnd_reduction forces one segment on entry.)
  // 0.320 > . 1:1001(1000) ack 1 win 4000 <nop,nop,TS val X+320 ecr PT(320)>
  expect(t, D(320, 1));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.ssthresh, 5000);
  assert.is(t.conn.cc.cwnd, 5000);
});

test('RFC 6675 §5 (2.b): IsLost() starts recovery before DupThresh duplicate ACKs (more than 2*SMSS SACKed above)', () => {
  // rack: false: this peer echoes the first flight's TSval throughout, which Eifel (undo.ts) would
  // take for the originals' arrival after the retransmission.
  const t = open({ ...CFG, rack: false });
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  peerAck(t, 300, 1, [1001, 2001]);
  expect(t);
  // 0.310 < . 1:1(0) ack 1 <sack 1001:7001>   (the second duplicate ACK; 6000 bytes SACKed above 1)
  peerAck(t, 310, 1, [1001, 7001]);
  // Fast retransmit; then pipe = 7001:10001 + the retransmission = 4000: no other hole, no new data.
  expect(t, D(310, 1));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.recovery.dupAcks, 2);
  assert.is(t.conn.cc.cwnd, 5000);
  // 0.320 < . 1:1(0) ack 10001   (all of it: the end of recovery)
  peerAck(t, 320, 10001);
  expect(t);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 5000);
});

test('RFC 6675 §5 (2): an ACK that advances SND.UNA and SACKs new data still counts; IsLost(HighACK+1) starts recovery', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  // 0.300 < . 1:1(0) ack 1001 <sack 2001:6001>   (1001:2001 lost; earlier ACKs lost on the way)
  peerAck(t, 300, 1001, [2001, 6001]);
  // "If the incoming ACK is a duplicate acknowledgment per the definition in Section 2 (regardless
  // of its status as a cumulative acknowledgment) ... (b) If DupAcks < DupThresh but IsLost
  // (HighACK + 1) returns true ... go to step (4)": fast retransmit of 1001:2001.
  expect(t, D(300, 1001));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.recovery.recoveryPoint, U(10001));
});

test('RFC 2883 / RFC 6675 §2: D-SACK blocks below SND.UNA are ignored and do not count as duplicate ACKs', () => {
  const t = open();
  t.write(200, 10000);
  expect(t, ...firstFlight(10, true));
  // 0.300 < . 1:1(0) ack 5001                  (a stretch ACK: slow start by all 5000 bytes, as Linux)
  peerAck(t, 300, 5001);
  expect(t);
  assert.is(t.conn.cc.cwnd, 15000);
  // Three ACKs at 5001 reporting only duplicates of 1001:2001 (D-SACK): no new SACK information.
  for (const at of [310, 320, 330]) {
    peerAck(t, at, 5001, [1001, 2001]);
    expect(t);
  }
  assert.equal(sacked(t), [], 'nothing on the scoreboard');
  // RFC 6675 §2: with SACK, a duplicate ACK is one that SACKs "previously unacknowledged and
  // un-SACKed octets"; Linux counts sacked_out, which a D-SACK does not raise.
  assert.is(t.conn.recovery.dupAcks, 0, 'DupAcks');
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 15000);
});

test('RFC 2018 §8 reneging: an ACK that stops where SACKed data starts clears the scoreboard; the data is resent after max(SRTT/16, 10 ms), like Linux', () => {
  // rack: false: this peer echoes the first flight's TSval throughout, which Eifel (undo.ts) would
  // take for the originals' arrival after the retransmission.
  const t = open({ ...CFG, rack: false });
  t.write(200, 4000);
  expect(t, ...firstFlight(4, true));
  // 0.300 < . 1:1(0) ack 1001 <sack 2001:4001>   (1001:2001 missing; not yet lost by IsLost)
  peerAck(t, 300, 1001, [2001, 4001]);
  expect(t);
  assert.equal(sacked(t), [[2001, 4001]]);
  // 0.310 < . 1:1(0) ack 2001   (1001:2001 arrived, but the receiver dropped 2001:4001 it had SACKed)
  peerAck(t, 310, 2001);
  expect(t);
  assert.equal(sacked(t), [], 'the scoreboard is forgotten');
  assert.is(t.counters.get('tcp_sack_reneging'), 1);
  // Linux (tcp_check_sack_reneging): the retransmission timer in max(SRTT/16, 10 ms) = 10 ms, not a whole RTO.
  t.timerAt(320);
  // A timeout: 1 SMSS of loss window, from SND.UNA.
  // 0.320 > . 2001:3001(1000) ack 1 win 4000 <nop,nop,TS val X+320 ecr PT(310)>
  expect(t, D(320, 2001, PT(310)));
  assert.is(t.conn.recovery.phase, 'loss');
  // 0.340 < . 1:1(0) ack 3001   (slow start: two segments' worth, only one left)
  peerAck(t, 340, 3001);
  expect(t, D(340, 3001, PT(340), 'P.'));
  peerAck(t, 350, 4001);
  expect(t);
  assert.is(t.conn.sndUna, U(4001));
});

test('RFC 2018 §8 reneging is not seen where there is none: an ACK that covers the SACKed range', () => {
  const t = open();
  t.write(200, 4000);
  expect(t, ...firstFlight(4, true));
  peerAck(t, 300, 1001, [2001, 4001]);
  expect(t);
  // 0.310 < . 1:1(0) ack 4001   (the hole filled: the receiver delivered what it SACKed)
  peerAck(t, 310, 4001);
  expect(t);
  assert.is(t.counters.get('tcp_sack_reneging'), 0);
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('RFC 2018 §8 / RFC 6675: SACK blocks beyond SND.NXT are ignored', () => {
  const t = open();
  t.write(200, 3000);
  expect(t, ...firstFlight(3, true));
  peerAck(t, 300, 1, [2001, 4001]);
  expect(t);
  assert.equal(sacked(t), []);
});

test.run();
