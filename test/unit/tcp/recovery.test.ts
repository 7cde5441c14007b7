// The sender's loss recovery: NewReno fast retransmit / fast recovery without
// SACK (RFC 5681 §3.2, RFC 6582), limited transmit (RFC 3042), the
// retransmission timeout as a loss phase that keeps the SACK scoreboard
// (RFC 6298 §5, RFC 5681 §3.1, RFC 6675 §5.1, Linux), and the restart after
// idle (RFC 5681 §4.1). Exact segments, packetdrill style.
//
// Setup: NewReno, MSS 1000 both ways (1012 with timestamps, so that a full
// segment still carries 1000 bytes), initial window 10 segments, the
// peer's window 65535. Our stream starts at 0xfffffff1 and crosses 2^32.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TcpConfig } from '../../../src/tcp/config.js';
import { seqSub } from '../../../src/wire/seq.js';
import { P, SMALL, Script, U, established, type OutSpec } from './script.js';

import { recv, expect, TS, SACK, PT, CFG, X, TV, open } from './options-script.js';

/** Plain RFC 9293 peer (no SACK, no TS), MSS 1000, NewReno: ESTABLISHED at 100, RTO 300 (Karn sample on the SYN). */
const PLAIN: Partial<TcpConfig> = { ...SMALL, cc: 'newreno' };
/** SACK without timestamps, MSS 1000. */
const SACK_ONLY: Partial<TcpConfig> = { ...CFG, mss: 1000, timestamps: false };

/** One of our data segments without options (plain or SACK-only connections). */
function d(from: number, f = '.', len = 1000): OutSpec {
  return { f, seq: U(from), ack: P(1), win: 4000, len };
}

/** `n` full segments from `from` on; the last with PSH if `psh`. */
function flight(from: number, n: number, psh: boolean): OutSpec[] {
  return Array.from({ length: n }, (_, i) => d(from + 1000 * i, psh && i === n - 1 ? 'P.' : '.'));
}

/** A plain ACK from the peer (RFC 5681 duplicate ACK if `ack` = SND.UNA). */
function ack(t: Script, at: number, n: number): void {
  t.recv(at, { f: '.', seq: P(1), ack: U(n), win: 65535 });
}

/** An ACK with SACK blocks (relative to our ISS), no timestamps. */
function sackAck(t: Script, at: number, n: number, ...blocks: Array<[number, number]>): void {
  recv(t, at, { f: '.', seq: P(1), ack: U(n), win: 65535, sack: blocks.map(([a, b]): [number, number] => [U(a), U(b)]) });
}

// ------------------------------------------------------------- NewReno

test('RFC 6582 NewReno: 3 dupACKs → retransmit, cwnd = ssthresh + 3*SMSS, inflation, partial ACK, full ACK', () => {
  const t = established(PLAIN);
  t.write(200, 10000);
  t.expect(...flight(1, 10, true));
  // 1:1001 and 4001:5001 are lost. Duplicate ACKs for 1001..4001 and 5001..10001.
  ack(t, 300, 1);
  ack(t, 301, 1);
  t.expect(); // limited transmit would be allowed, but there is no new data
  // 0.302 < . 1:1(0) ack 1 win 65535   (third duplicate)
  ack(t, 302, 1);
  // 0.302 > . 1:1001(1000) ack 1 win 4000      (fast retransmit)
  t.expect(d(1));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.cc.ssthresh, 5000, 'ssthresh = FlightSize/2');
  assert.is(t.conn.recovery.window(1000), 8000, 'cwnd = ssthresh + 3*SMSS');
  // New data queued now: 10000 in flight > 8000, nothing goes.
  t.write(303, 5000);
  t.expect();
  // Each further duplicate ACK inflates cwnd by 1 SMSS: 9000, 10000 (= FlightSize), then new data.
  ack(t, 304, 1);
  ack(t, 305, 1);
  t.expect();
  ack(t, 306, 1);
  t.expect(d(10001));
  ack(t, 307, 1);
  t.expect(d(11001));
  ack(t, 308, 1);
  t.expect(d(12001));
  assert.is(t.conn.recovery.window(1000), 13000);
  // 0.400 < . 1:1(0) ack 4001   (partial ACK: below recover = 10001)
  ack(t, 400, 4001);
  // Retransmit the next hole at once; deflate by 4000 and add back 1 SMSS: 13000 - 4000 + 1000 = 10000,
  // FlightSize 9000: one new segment.
  t.expect(d(4001), d(13001));
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.recovery.window(1000), 10000);
  // 0.401 < . 1:1(0) ack 4001   (a duplicate again: inflate, one more new segment)
  ack(t, 401, 4001);
  t.expect(d(14001, 'P.'));
  // 0.450 < . 1:1(0) ack 13001  (full ACK: covers recover)
  ack(t, 450, 13001);
  t.expect();
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 5000, 'cwnd = ssthresh on exit');
  // 2000 in flight, cwnd 5000: three more segments.
  t.write(460, 5000);
  t.expect(d(15001), d(16001), d(17001));
});

test('RFC 6582 §3.2 step 2: duplicate ACKs after a timeout (below recover) do not start fast retransmit', () => {
  const t = established(PLAIN);
  t.write(200, 10000);
  t.expect(...flight(1, 10, true));
  t.timerAt(500);
  t.expect(d(1));
  assert.is(t.conn.recovery.phase, 'loss');
  for (const at of [510, 511, 512, 513]) ack(t, at, 1);
  t.expect();
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 1000);
});

// ------------------------------------------------------- limited transmit

test('RFC 3042: the first and second duplicate ACKs each send one new segment; cwnd unchanged', () => {
  const t = established(PLAIN);
  t.write(200, 12000);
  t.expect(...flight(1, 10, false));
  // 0.300 < . 1:1(0) ack 1 win 65535
  ack(t, 300, 1);
  // 0.300 > . 10001:11001(1000) ack 1 win 4000
  t.expect(d(10001));
  ack(t, 301, 1);
  // 0.301 > P. 11001:12001(1000) ack 1 win 4000
  t.expect(d(11001, 'P.'));
  assert.is(t.conn.cc.cwnd, 10000, 'RFC 3042: cwnd MUST NOT be changed');
  ack(t, 302, 1);
  t.expect(d(1));
  assert.is(t.conn.recovery.phase, 'recovery');
});

test('RFC 5681 §3.2 step 2: ssthresh leaves out the limited-transmit segments (FlightSize 10000, not 12000)', () => {
  const t = established(PLAIN);
  t.write(200, 12000);
  t.expect(...flight(1, 10, false));
  ack(t, 300, 1);
  t.expect(d(10001));
  ack(t, 301, 1);
  t.expect(d(11001, 'P.'));
  ack(t, 302, 1);
  t.expect(d(1));
  // "When [RFC3042] is in use, additional data sent in limited transmit MUST NOT be included in
  // this calculation." Linux: tcp_reno_ssthresh = cwnd/2 = 5 segments.
  assert.is(t.conn.cc.ssthresh, 5000);
  assert.is(t.conn.recovery.window(1000), 8000);
});

test('RFC 3042 with SACK: one new segment for each of the first two duplicate ACKs', () => {
  const t = open(SACK_ONLY);
  t.write(200, 12000);
  expect(t, ...flight(1, 10, false));
  sackAck(t, 300, 1, [1001, 2001]);
  expect(t, d(10001));
  sackAck(t, 301, 1, [1001, 3001]);
  expect(t, d(11001, 'P.'));
  assert.is(t.conn.cc.cwnd, 10000);
  assert.is(t.conn.recovery.phase, 'open');
});

// -------------------------------------------------------------- RTO

const sacked = (t: Script): Array<[number, number]> =>
  t.conn.recovery.scoreboard.toArray().map(([a, b]): [number, number] => [seqSub(a, U(0)), seqSub(b, U(0))]);

test('RFC 6298 §5 + RFC 6675 §5.1: after the RTO, cwnd = 1 SMSS, unSACKed segments resent in slow start, SACKed ones skipped', () => {
  // RFC 6675 alone (RACK would start fast recovery at 0.335, see rack.test.ts).
  const t = open({ ...SACK_ONLY, rack: false });
  t.write(200, 10000);
  expect(t, ...flight(1, 10, true));
  // The peer got 1001:3001 and 4001:6001; only the first two ACKs get through.
  sackAck(t, 300, 1, [1001, 2001]);
  sackAck(t, 310, 1, [1001, 3001]);
  expect(t);
  // 0.400 > P. 9001:10001(1000) ack 1 win 4000   (tail loss probe, RFC 8985 §7.3: PTO = 2*SRTT (rack: false); lost too)
  t.timerAt(400);
  expect(t, d(9001, 'P.'));
  // 0.700 > . 1:1001(1000) ack 1 win 4000      (RTO 300 after the probe; cwnd = 1 SMSS; RTO doubles to 600)
  t.timerAt(700);
  expect(t, d(1));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 1000);
  assert.is(t.conn.nextDeadline(), 700 + 600);
  assert.equal(sacked(t), [[1001, 3001]], 'the scoreboard is kept (RFC 6675 §5.1, Linux)');
  // 0.800 < . 1:1(0) ack 3001 <sack 4001:6001>   (slow start by what this ACK newly delivered, as Linux:
  //   1:1001 acknowledged and 4001:6001 SACKed for the first time; 1001:3001 was SACKed before: cwnd 1000 + 3000)
  sackAck(t, 800, 3001, [4001, 6001]);
  assert.is(t.conn.cc.cwnd, 4000);
  // 3001:4001, then 6001:9001: 4001:6001 is SACKed and skipped
  expect(t, d(3001), d(6001), d(7001), d(8001));
  // 0.900 < . 1:1(0) ack 6001   (3001:4001 newly delivered: cwnd 5000)
  sackAck(t, 900, 6001);
  assert.is(t.conn.cc.cwnd, 5000);
  expect(t, d(9001, 'P.'));
  // 1.000 < . 1:1(0) ack 7001   (cwnd 6000)
  sackAck(t, 1000, 7001);
  expect(t);
  // 1.100 < . 1:1(0) ack 10001
  sackAck(t, 1100, 10001);
  expect(t);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('RFC 6298 §5.4 / RFC 9293 §3.10.4: the FIN is retransmitted by the RTO when it is all that remains', () => {
  const t = established(PLAIN);
  t.write(200, 3000);
  t.expect(...flight(1, 3, true));
  t.close(200);
  // 0.200 > F. 3001:3001(0) ack 1 win 4000
  t.expect({ f: 'F.', seq: U(3001), ack: P(1), win: 4000 });
  // 0.300 < . 1:1(0) ack 3001   (all data, not the FIN; RTT 100 again: RTO 100 + 200, rtt.ts)
  ack(t, 300, 3001);
  t.expect();
  // 0.600 > F. 3001:3001(0) ack 1 win 4000
  t.timerAt(600);
  t.expect({ f: 'F.', seq: U(3001), ack: P(1), win: 4000 });
  ack(t, 650, 3002);
  t.transitions('ESTABLISHED->FIN_WAIT_1', 'FIN_WAIT_1->FIN_WAIT_2');
});

test('RFC 6298 §5 with SACK: after the RTO the FIN is resent in order after the last data', () => {
  const t = open(SACK_ONLY);
  t.write(200, 2000);
  expect(t, ...flight(1, 2, true));
  t.close(200);
  expect(t, { f: 'F.', seq: U(2001), ack: P(1), win: 4000 });
  // 0.300 < . 1:1(0) ack 1 <sack 1001:2001>
  sackAck(t, 300, 1, [1001, 2001]);
  expect(t);
  // The tail loss probe (lost too), then the RTO.
  t.timer(t.conn.nextDeadline());
  t.takeOut();
  const rtoAt = t.conn.nextDeadline();
  t.timer(rtoAt);
  // > . 1:1001(1000) ack 1 win 4000    (1001:2001 is SACKed)
  expect(t, d(1));
  // < . 1:1(0) ack 2001   (slow start: cwnd 2000)
  sackAck(t, rtoAt + 100, 2001);
  // > F. 2001:2001(0) ack 1 win 4000
  expect(t, { f: 'F.', seq: U(2001), ack: P(1), win: 4000 });
});

test('RFC 5681 §3.1 eq. 4 after an RTO: ssthresh = FlightSize/2 counts data, not our FIN (5000, not 5000.5)', () => {
  const t = established(PLAIN);
  t.write(200, 10000);
  t.expect(...flight(1, 10, true));
  t.close(200);
  t.expect({ f: 'F.', seq: U(10001), ack: P(1), win: 4000 });
  t.timerAt(500);
  t.expect(d(1));
  assert.is(t.conn.cc.cwnd, 1000);
  assert.is(t.conn.cc.ssthresh, 5000);
});

test('RFC 5681 §3.1 with timestamps: after an RTO cwnd = 1 SMSS = MSS - 12 = 1000 bytes (invariants hold)', () => {
  const t = open({ ...CFG, sack: false });
  t.write(200, 3000);
  expect(
    t,
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
  );
  // 0.500 > . 1:1001(1000) ack 1 win 4000 <nop,nop,TS val X+500 ecr PT(100)>
  t.timerAt(500);
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000, opts: TS(TV(500), PT(100)) });
  assert.is(t.conn.cc.cwnd, 1000);
  // 0.600 < . 1:1(0) ack 1001 <TS val PT(600) ecr X+500>   (slow start: 2000)
  recv(t, 600, { f: '.', seq: P(1), ack: U(1001), win: 65535, ts: [PT(600), TV(500)] });
  expect(
    t,
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(600), PT(600)) },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(600), PT(600)) },
  );
});

// ----------------------------------------------------------- tail loss probe

test('RFC 8985 §7.3: with nothing new to send, the probe resends the highest-sequence segment as sent (a short last segment)', () => {
  const t = open({ ...SACK_ONLY, noDelay: true });
  t.write(200, 9500);
  expect(t, ...flight(1, 9, false), d(9001, 'P.', 500));
  // PTO = 2*SRTT + 2 ms = 202 ms (RFC 8985 §7.2; Linux adds TCP_TIMEOUT_MIN with several segments out).
  // 0.402 > P. 9001:9501(500) ack 1 win 4000   (Linux tcp_send_loss_probe: the last skb)
  t.timerAt(402);
  expect(t, d(9001, 'P.', 500));
});

test('RFC 8985 §7.3: with our FIN outstanding, the probe is the FIN segment (not 999 bytes + FIN from a new offset)', () => {
  const t = open(SACK_ONLY);
  t.write(200, 10000);
  expect(t, ...flight(1, 10, true));
  t.close(200);
  expect(t, { f: 'F.', seq: U(10001), ack: P(1), win: 4000 });
  // 0.402 > F. 10001:10001(0) ack 1 win 4000
  t.timerAt(402);
  expect(t, { f: 'F.', seq: U(10001), ack: P(1), win: 4000 });
});

// ------------------------------------------------------ restart after idle

/** Grow cwnd to 20000: ten segments, each ACKed on its own (slow start). RTO then 300 (SRTT 100, RTTVAR 37.5: Linux's SRTT + 200, rtt.ts). */
function grown(): Script {
  const t = established(PLAIN);
  t.write(200, 10000);
  t.expect(...flight(1, 10, true));
  for (let i = 1; i <= 10; i++) ack(t, 299 + i, 1 + 1000 * i);
  t.expect();
  assert.is(t.conn.cc.cwnd, 20000, 'setup: cwnd');
  assert.is(t.conn.rtt.rto, 300, 'setup: RTO');
  return t;
}

test('RFC 5681 §4.1: after more than one RTO without sending, cwnd restarts at min(cwnd, IW) = 10 segments', () => {
  const t = grown();
  // Last data sent at 0.200; 0.501 - 0.200 = 301 ms > RTO 300.
  t.write(501, 20000);
  t.expect(...flight(10001, 10, false));
  assert.is(t.conn.cc.cwnd, 10000);
});

test('RFC 5681 §4.1: idle for exactly one RTO is not "exceeding" it: the full cwnd of 20 segments goes', () => {
  const t = grown();
  t.write(500, 20000);
  t.expect(...flight(10001, 20, true));
  assert.is(t.conn.cc.cwnd, 20000);
});

test.run();
