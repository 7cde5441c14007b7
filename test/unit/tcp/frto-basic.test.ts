// F-RTO without SACK (RFC 5682 §2, the basic algorithm; frto.ts), as Linux
// runs tcp_frto for a peer that did not agree to SACK: after a timeout only
// the first segment is resent; an ACK that then advances SND.UNA, but not to
// "recover", is answered with new data (step 2.b); the next ACK tells
// whether the timeout was spurious: it acknowledges data that was sent only
// once (step 3.b: undo, RFC 4015's response) or it is a duplicate (step 3.a:
// the loss was real, conventional recovery goes on). Exact segments,
// packetdrill style. SACK and timestamps OFF (Eifel cannot help), MSS 1012,
// NewReno, IW 10, RTO 300: 10 segments at 0.200, the timeout at 0.500.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, U, type OutSpec, type Script } from './script.js';
import { CFG, expect, open, recv } from './options-script.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const MSS = 1012;

/** A peer ACK without SACK or timestamps. */
function peerAck(t: Script, at: number, ack: number): void {
  recv(t, at, { f: '.', seq: P(1), ack: U(ack), win: 65535 });
}

/** Segment n (1-based) of our data. */
function S(n: number, f = '.'): OutSpec {
  return { f, seq: U(1 + (n - 1) * MSS), ack: P(1), win: 4000, len: MSS };
}

/** `segments` written, 10 sent at 0.200, all lost or delayed; the timeout at 0.500 resends 1:1013 (step 1). */
function afterTimeout(cfg: Partial<TcpConfig> = {}, segments = 20): Script {
  const t = open({ ...CFG, ...cfg }, { sack: false, ts: false });
  t.write(200, segments * MSS);
  expect(t, ...Array.from({ length: 10 }, (_, i) => S(i + 1, segments === 10 && i === 9 ? 'P.' : '.')));
  // 0.500 > . 1:1013(1012)   (RTO: cwnd 1 SMSS, ssthresh FlightSize/2)
  t.timerAt(500);
  expect(t, S(1));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, MSS);
  return t;
}

test('RFC 5682 §2 step 2.b then 3.b: new data after the first ACK, the second ACK covers data sent once: spurious, cwnd and ssthresh restored', () => {
  const t = afterTimeout();
  // 0.520 < . 1:1(0) ack 1013   (step 2.b: SND.UNA advances, not to recover: two NEW segments, not 1013:2025 again)
  peerAck(t, 520, 1 + MSS);
  expect(t, S(11), S(12));
  assert.is(t.conn.recovery.phase, 'loss');
  // 0.530 < . 1:1(0) ack 2025   (step 3.b: 1013:2025 was never retransmitted: the originals were only delayed)
  peerAck(t, 530, 1 + 2 * MSS);
  expect(t); // no go-back-N; the restored window is full (10 segments out)
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS, 'cwnd back to its value before the timeout');
  assert.is(t.conn.cc.ssthresh, Infinity, 'ssthresh back too');
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
  assert.is(t.counters.get('tcp_undo_loss'), 1);
  // 0.540 < . 1:1(0) ack 3037   (open, slow start again below ssthresh Infinity: one delivered, two new)
  peerAck(t, 540, 1 + 3 * MSS);
  expect(t, S(13), S(14));
});

test('RFC 5682 §2 step 3.a: a duplicate ACK after the new data: the loss was real; each duplicate lets one retransmission go', () => {
  const t = afterTimeout();
  peerAck(t, 520, 1 + MSS);
  expect(t, S(11), S(12));
  // 0.530 < . 1:1(0) ack 1013   (a duplicate: 11133:12145 arrived above the hole; 1013:11133 really was lost)
  peerAck(t, 530, 1 + MSS);
  expect(t, S(2)); // conventional recovery: the duplicate took one segment out of the pipe (Linux tcp_add_reno_sack)
  assert.is(t.conn.recovery.frto.active, false);
  // 0.535 < . 1:1(0) ack 1013   (12145:13157 arrived too)
  peerAck(t, 535, 1 + MSS);
  expect(t, S(3));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 2 * MSS, 'no undo');
  assert.is(t.counters.get('tcp_frto_spurious'), 0);
  // 0.560 < . 1:1(0) ack 3037   (the retransmissions arrive; the two duplicates already reported two
  //   segments delivered, so this ACK counts one: cwnd 3 (Linux tcp_remove_reno_sacks); the duplicates
  //   are forgotten once SND.UNA advances, so 11133:13157 counts in flight again (Linux
  //   tcp_reset_reno_sack): one more. Linux 6.18 does the same (packetdrill, cubic, no SACK/TS).)
  peerAck(t, 560, 1 + 3 * MSS);
  assert.is(t.conn.cc.cwnd, 3 * MSS);
  expect(t, S(4));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.counters.get('tcp_undo_loss'), 0);
});

test('Linux tcp_process_loss: the first ACK after the timeout already covers data sent once (1013:3037): spurious at once', () => {
  const t = afterTimeout();
  // 0.520 < . 1:1(0) ack 3037
  peerAck(t, 520, 1 + 3 * MSS);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS);
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
  expect(t, S(11), S(12), S(13)); // the restored window (7 in flight, cwnd 10): new data, no retransmission
});

test('step 2 with a duplicate ACK first: RFC 5682 §2 step 2.a would give up; Linux (and tuntcp) waits for the ACK that advances', () => {
  const t = afterTimeout();
  // 0.520 < . 1:1(0) ack 1   (a duplicate: the window 1 SMSS is full, nothing goes)
  peerAck(t, 520, 1);
  expect(t);
  assert.is(t.conn.recovery.frto.active, true, 'Linux tcp_process_loss clears tp->frto only at 3.a or a 2.b without new data');
  // 0.530 < . 1:1(0) ack 1013   (step 2.b now: new data)
  peerAck(t, 530, 1 + MSS);
  expect(t, S(11), S(12));
  // 0.540 < . 1:1(0) ack 2025   (step 3.b)
  peerAck(t, 540, 1 + 2 * MSS);
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
});

test('RFC 5682 §2 step 2.b: nothing new to send: conventional recovery at once', () => {
  const t = afterTimeout({}, 10);
  peerAck(t, 520, 1 + MSS);
  expect(t, S(2), S(3));
  assert.is(t.conn.recovery.frto.active, false);
});

test('frto: false (Linux tcp_frto=0): the first ACK after the timeout brings retransmissions (go-back-N)', () => {
  const t = afterTimeout({ frto: false });
  peerAck(t, 520, 1 + MSS);
  expect(t, S(2), S(3));
  peerAck(t, 530, 1 + 2 * MSS);
  expect(t, S(4), S(5));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.counters.get('tcp_frto_spurious'), 0);
});

test('a timeout within NewReno recovery, then F-RTO on the next one: the undo restores the window from before the recovery (Linux tcp_init_undo at recovery)', () => {
  const t = open({ ...CFG }, { sack: false, ts: false });
  t.write(200, 20 * MSS);
  t.takeOut();
  // 0.300-0.302 < . 1:1(0) ack 1   (three duplicates: fast retransmit, cwnd 5 SMSS + 3)
  for (const at of [300, 301, 302]) {
    peerAck(t, at, 1);
    t.takeOut();
  }
  assert.is(t.conn.recovery.phase, 'recovery');
  // Two timeouts: the first ends recovery without F-RTO (Linux: not a new episode), the second runs it.
  t.timerAt(t.conn.nextDeadline());
  t.takeOut();
  assert.is(t.conn.recovery.frto.active, false);
  t.timerAt(t.conn.nextDeadline());
  t.takeOut();
  assert.is(t.conn.recovery.frto.active, true);
  const at = t.now + 10;
  // < . 1:1(0) ack 1013, then ack 2025   (step 2.b, then 3.b: 1013:2025 was sent once)
  peerAck(t, at, 1 + MSS);
  t.takeOut();
  peerAck(t, at + 10, 1 + 2 * MSS);
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS, 'the window before the fast recovery');
});

test.run();
