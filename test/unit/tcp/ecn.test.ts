// ECN, RFC 3168 §6.1, with Linux's choices: negotiation in both directions,
// ECT(0) on new data only, ECE from a CE mark until CWR, one window reduction
// per window of data.
//
// Notation (see script.ts): "E" is ECE, "W" is CWR (tcpdump's letters), and
// "ect" after a segment of ours means ECT(0) in its IP header. A peer's
// segment marked CE by a router is written "< P. ... [CE]".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Script, P, U, SMALL, synOpts } from './script.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const CE = 3;
const ECT0 = 2;

/** Our SYN's options with SMALL (mss 1000, a 4000-byte buffer: shift 0). */
const OUR_SYN = synOpts(1000, 0);

const ASK: Partial<TcpConfig> = { ...SMALL, ecn: 'on' };

/** Active open with ECN asked for and granted; newreno for round numbers (cwnd 10000 = 10 MSS). */
function ecnEstablished(cfg: Partial<TcpConfig> = {}): Script {
  const t = new Script({ ...ASK, cc: 'newreno', ...cfg });
  t.connect(0);
  t.expect({ f: 'SEW', seq: U(0), win: 4000, opts: OUR_SYN });
  // 0.100 < S.E 0:0(0) ack 1 win 65535 <mss 1000>
  t.recv(100, { f: 'S.E', seq: P(0), ack: U(1), mss: 1000 });
  // The handshake's last ACK is a pure ACK: Not-ECT, no ECE.
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.ok(t.conn.ecn.ok, 'ECN negotiated');
  assert.is(t.counters.get('tcp_ecn_negotiated'), 1);
  t.clearEvents();
  return t;
}

// ------------------------------------------------------------ negotiation

test('§6.1.1 active: --ecn SYN carries ECE+CWR; a SYN,ACK with ECE alone grants it; data goes ECT(0)', () => {
  const t = ecnEstablished();
  t.write(200, 500);
  // 0.200 > P. 1:501(500) ack 1 win 4000  ect
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500, ect: true });
});

test('§6.1.1 active: without --ecn (Linux tcp_ecn=2) the SYN does not ask', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: OUR_SYN });
});

test('§6.1.1 active: a SYN,ACK without ECE means no ECN: data is Not-ECT', () => {
  const t = new Script(ASK);
  t.connect(0);
  t.takeOut();
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.not.ok(t.conn.ecn.ok);
  t.write(200, 100);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 100 });
});

test('§6.1.1 active: a SYN,ACK with ECE and CWR is not an ECN-setup SYN,ACK', () => {
  const t = new Script(ASK);
  t.connect(0);
  t.takeOut();
  t.recv(100, { f: 'S.EW', seq: P(0), ack: U(1), mss: 1000 });
  t.takeOut();
  assert.not.ok(t.conn.ecn.ok);
});

test('§6.1.1 active: an unasked-for ECE in a SYN,ACK grants nothing', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  t.recv(100, { f: 'S.E', seq: P(0), ack: U(1), mss: 1000 });
  t.takeOut();
  assert.not.ok(t.conn.ecn.ok);
});

test('§6.1.1.1 the retransmitted SYN goes without ECE and CWR (Linux tcp_ecn_fallback); an ECN SYN,ACK still counts', () => {
  const t = new Script(ASK);
  t.connect(0);
  t.expect({ f: 'SEW', seq: U(0), win: 4000, opts: OUR_SYN });
  t.timerAt(1000);
  // 1.000 > S 0:0(0) win 4000 <mss 1000>
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: OUR_SYN });
  t.timerAt(3000);
  t.expect({ f: 'S', seq: U(0), win: 4000, opts: OUR_SYN });
  // The peer had seen the first SYN: as Linux, its ECE is taken.
  t.recv(3100, { f: 'S.E', seq: P(0), ack: U(1), mss: 1000 });
  t.takeOut();
  assert.ok(t.conn.ecn.ok);
});

test('§6.1.1 passive: a SYN with ECE+CWR gets a SYN,ACK with ECE (Linux tcp_ecn=2)', () => {
  const t = new Script(SMALL);
  // 0.000 < SEW 0:0(0) win 65535 <mss 1000>
  t.acceptSyn(0, { f: 'SEW', seq: P(0), mss: 1000 });
  // 0.000 > S.E 0:0(0) ack 1 win 4000 <mss 1000>
  t.expect({ f: 'S.E', seq: U(0), ack: P(1), win: 4000, opts: [{ kind: 'mss', mss: 1000 }] });
  // The SYN,ACK's retransmission keeps ECE, as Linux's request sock does.
  t.timerAt(1000);
  t.expect({ f: 'S.E', seq: U(0), ack: P(1), win: 4000, opts: [{ kind: 'mss', mss: 1000 }] });
  t.recv(1100, { f: '.', seq: P(1), ack: U(1) });
  assert.is(t.counters.get('tcp_ecn_negotiated'), 1);
  t.write(1200, 10);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10, ect: true });
});

test('§6.1.1 passive: ECE alone, CWR alone, an ECT-marked SYN, or --no-ecn: a plain SYN,ACK', () => {
  const cases: Array<[string, { f: string; ecn?: number }, Partial<TcpConfig>]> = [
    ['ECE alone', { f: 'SE' }, SMALL],
    ['CWR alone', { f: 'SW' }, SMALL],
    ['SYN sent ECT(0) (§6.1.1: SYNs are Not-ECT; Linux tcp_ecn_create_request)', { f: 'SEW', ecn: ECT0 }, SMALL],
    ['SYN marked CE', { f: 'SEW', ecn: CE }, SMALL],
    ['--no-ecn', { f: 'SEW' }, { ...SMALL, ecn: 'off' }],
  ];
  for (const [what, syn, cfg] of cases) {
    const t = new Script(cfg);
    t.acceptSyn(0, { ...syn, seq: P(0), mss: 1000 });
    t.expect({ f: 'S.', seq: U(0), ack: P(1), win: 4000, opts: [{ kind: 'mss', mss: 1000 }] });
    t.recv(100, { f: '.', seq: P(1), ack: U(1) });
    t.write(200, 10);
    t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
    assert.not.ok(t.conn.ecn.ok, what);
  }
});

test('§6.1.1 simultaneous open: both SYNs asked, so the SYN,ACK carries ECE and ECN is on', () => {
  const t = new Script(ASK);
  t.connect(0);
  t.takeOut();
  t.recv(100, { f: 'SEW', seq: P(0), mss: 1000 });
  t.expect({ f: 'S.E', seq: U(0), ack: P(1), win: 4000, opts: [{ kind: 'mss', mss: 1000 }] });
  assert.ok(t.conn.ecn.ok);
});

// ------------------------------------------------------------ receiver: CE -> ECE until CWR

test('§6.1.3 a CE mark on data: ECE at once on every ACK until a segment with CWR arrives', () => {
  // quickAcks 0: no quick ACKs at the start, so only the CE makes the ACK immediate.
  const t = ecnEstablished({ quickAcks: 0 });
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 100, ecn: ECT0 });
  t.expect(); // delayed
  t.timerAt(240);
  t.expect({ f: '.', seq: U(1), ack: P(101), win: 3900 }); // (nothing is read: the window shrinks)
  // 0.300 < P. 101:201(100) ack 1 [CE]
  t.recv(300, { f: 'P.', seq: P(101), ack: U(1), len: 100, ecn: CE });
  // 0.300 > .E 1:1(0) ack 201: at once, as Linux's quick ACK on CE
  t.expect({ f: '.E', seq: U(1), ack: P(201), win: 3800 });
  // Unmarked data: still ECE (the echo lasts until CWR), quick ACK for the second too.
  t.recv(400, { f: 'P.', seq: P(201), ack: U(1), len: 100, ecn: ECT0 });
  t.expect({ f: '.E', seq: U(1), ack: P(301), win: 3700 });
  t.recv(500, { f: 'P.', seq: P(301), ack: U(1), len: 100, ecn: ECT0 });
  t.expect();
  t.timerAt(540);
  t.expect({ f: '.E', seq: U(1), ack: P(401), win: 3600 });
  // Our own data carries ECE too (Linux sets it on every segment).
  t.write(600, 10);
  t.expect({ f: 'P.E', seq: U(1), ack: P(401), win: 3600, len: 10, ect: true });
  t.recv(650, { f: '.', seq: P(401), ack: U(11) });
  t.expect();
  // 0.700 < P.W 401:501(100): CWR ends the echo; ACKed at once (Linux ICSK_ACK_NOW).
  t.recv(700, { f: 'P.W', seq: P(401), ack: U(11), len: 100, ecn: ECT0 });
  t.expect({ f: '.', seq: U(11), ack: P(501), win: 3500 });
  assert.is(t.conn.ecn.demandCwr, false);
  assert.is(t.counters.get('tcp_ecn_ce_received'), 1);
});

test('§6.1.3 CE on a pure ACK sets no echo (Linux: data only); CWR on a pure ACK ends one (Linux since 2020)', () => {
  const t = ecnEstablished();
  t.recv(200, { f: '.', seq: P(1), ack: U(1), ecn: CE });
  t.expect();
  assert.is(t.conn.ecn.demandCwr, false, 'a CE on an ACK');
  t.recv(300, { f: 'P.', seq: P(1), ack: U(1), len: 100, ecn: CE });
  t.expect({ f: '.E', seq: U(1), ack: P(101), win: 3900 });
  // 0.400 < .W 101:101(0): ends the echo, and is not answered (no ACK for an ACK).
  t.recv(400, { f: '.W', seq: P(101), ack: U(1) });
  t.expect();
  assert.is(t.conn.ecn.demandCwr, false, 'CWR without data');
  t.write(500, 10);
  t.expect({ f: 'P.', seq: U(1), ack: P(101), win: 3900, len: 10, ect: true });
});

test('§6.1.3 a CE mark on a connection without ECN is ignored', () => {
  const t = new Script({ ...SMALL, quickAcks: 0 });
  t.connect(0);
  t.takeOut();
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  t.takeOut();
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 100, ecn: CE });
  t.expect();
  t.timerAt(240);
  t.expect({ f: '.', seq: U(1), ack: P(101), win: 3900 });
});

// ------------------------------------------------------------ sender: ECE -> one reduction per window, CWR

test('§6.1.2 ECE: cwnd halves without a retransmission, CWR on the next new data, once per window', () => {
  const t = ecnEstablished();
  t.write(200, 12000);
  const first = t.takeOut();
  assert.is(first.length, 10, 'the 10-segment initial window');
  assert.ok(first.every((s) => s.ect === true), 'all ECT(0)');
  // 0.300 < .E 1:1(0) ack 1001: the peer saw CE on the first segment.
  t.recv(300, { f: '.E', seq: P(1), ack: U(1001) });
  // RFC 3168 §6.1.2: ssthresh = cwnd/2, cwnd = ssthresh, before this ACK could grow it; nothing is resent.
  assert.is(t.conn.cc.cwnd, 5000);
  assert.is(t.conn.cc.ssthresh, 5000);
  assert.is(t.counters.get('tcp_ecn_cwnd_reductions'), 1);
  t.expect(); // 9000 in flight
  // More ECEs for the same window: no second reduction, and no growth either (Linux's CWR state).
  t.recv(310, { f: '.E', seq: P(1), ack: U(5001) });
  assert.is(t.conn.cc.cwnd, 5000, 'one response per window of data');
  t.expect(); // 5000 in flight
  t.recv(320, { f: '.', seq: P(1), ack: U(8001) });
  assert.is(t.conn.cc.cwnd, 5000, 'no growth inside the window');
  // 3000 in flight: the last 2000 bytes; the first new segment carries CWR.
  t.expect(
    { f: '.W', seq: U(10001), ack: P(1), win: 4000, len: 1000, ect: true },
    { f: 'P.', seq: U(11001), ack: P(1), win: 4000, len: 1000, ect: true },
  );
  // SND.UNA reaches SND.NXT of the reduction (10001) but not beyond: the window is still open.
  t.recv(330, { f: '.E', seq: P(1), ack: U(10001) });
  assert.is(t.conn.cc.cwnd, 5000);
  // Above it: a new window, a new ECE, a new reduction.
  t.recv(400, { f: '.E', seq: P(1), ack: U(11001) });
  assert.is(t.conn.cc.cwnd, 2500);
  assert.is(t.counters.get('tcp_ecn_cwnd_reductions'), 2);
  assert.is(t.counters.get('tcp_ecn_ece_received'), 4);
  assert.is(t.counters.get('tcp_retransmitted_segments'), 0, 'no retransmission');
  t.expect();
});

test('§6.1.2 cwnd grows again once data above the reduction point is acknowledged', () => {
  const t = ecnEstablished();
  t.write(200, 6000);
  t.takeOut();
  t.recv(300, { f: '.E', seq: P(1), ack: U(1001) });
  assert.is(t.conn.cc.cwnd, 5000);
  t.recv(310, { f: '.', seq: P(1), ack: U(6001) });
  assert.ok(t.conn.recovery.cwndHeld, 'held up to SND.NXT of the reduction');
  t.write(320, 1000);
  t.expect({ f: 'P.W', seq: U(6001), ack: P(1), win: 4000, len: 1000, ect: true });
  t.recv(330, { f: '.', seq: P(1), ack: U(7001) });
  assert.not.ok(t.conn.recovery.cwndHeld, 'released above it');
});

test('§6.1.2 ECE on the ACK that starts fast recovery: one reduction, not two (Linux tcp_enter_recovery)', () => {
  const t = ecnEstablished();
  t.write(200, 6000);
  t.takeOut();
  // Segment 1 lost: three duplicate ACKs, the third with ECE.
  t.recv(300, { f: '.', seq: P(1), ack: U(1) });
  t.recv(301, { f: '.', seq: P(1), ack: U(1) });
  t.takeOut();
  t.recv(302, { f: '.E', seq: P(1), ack: U(1) });
  const rx = t.takeOut();
  assert.is(rx[0]!.seq, U(1), 'fast retransmit');
  assert.not.ok(rx[0]!.ect, '§6.1.5: a retransmission is Not-ECT');
  assert.is(t.conn.cc.ssthresh, 5000, 'halved once');
  assert.is(t.conn.recovery.phase, 'recovery');
  assert.is(t.conn.ecn.queueCwr, true, 'CWR for the next new data');
});

test('§6.1.2 fast recovery without ECE also queues CWR (Linux tcp_init_cwnd_reduction); ECE inside it is ignored', () => {
  const t = ecnEstablished();
  t.write(200, 6000);
  t.takeOut();
  for (let i = 0; i < 3; i++) t.recv(300 + i, { f: '.', seq: P(1), ack: U(1) });
  t.takeOut();
  assert.is(t.conn.cc.ssthresh, 3000, 'FlightSize / 2');
  assert.is(t.conn.ecn.queueCwr, true);
  t.recv(310, { f: '.E', seq: P(1), ack: U(1) });
  t.takeOut();
  assert.is(t.conn.cc.ssthresh, 3000, 'no second reduction in recovery');
  assert.is(t.counters.get('tcp_ecn_cwnd_reductions'), 0);
});

// ------------------------------------------------------------ what is never ECT

test('§6.1.4/§6.1.5 Not-ECT: retransmissions, pure ACKs, a FIN alone, zero-window probes, RSTs', () => {
  const t = ecnEstablished();
  t.write(200, 500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500, ect: true });
  // RTO = 300 ms after the handshake's 100 ms sample.
  t.timerAt(500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500 });
  // The peer ACKs and closes its window.
  t.recv(600, { f: '.', seq: P(1), ack: U(501), win: 0 });
  t.write(700, 100);
  t.expect();
  const probeAt = t.conn.nextDeadline();
  t.timer(probeAt);
  t.expect({ f: '.', seq: U(500), ack: P(1), win: 4000 }); // SND.UNA - 1, no data: Not-ECT
  t.recv(probeAt + 10, { f: '.', seq: P(1), ack: U(501), win: 4000 });
  // New data again: ECT(0), and CWR since the timeout reduced the window (Linux tcp_enter_loss).
  t.expect({ f: 'P.W', seq: U(501), ack: P(1), win: 4000, len: 100, ect: true });
  t.recv(probeAt + 20, { f: '.', seq: P(1), ack: U(601) });
  t.close(probeAt + 30);
  t.expect({ f: 'F.', seq: U(601), ack: P(1), win: 4000 });
  t.abort(probeAt + 40);
  t.expect({ f: 'R.', seq: U(602), ack: P(1), win: 4000 });
});

test.run();
