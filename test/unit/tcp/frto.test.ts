// F-RTO (RFC 5682 §4, SACK-enhanced; frto.ts), as Linux tcp_frto=2, the
// default. Exact segments, packetdrill style. SACK on, timestamps OFF (so
// Eifel cannot see a spurious timeout), MSS 1012, NewReno, IW 10, SRTT 100.
// Every scenario: 10 segments at 0.200, all lost or delayed; the tail loss
// probe at 0.402 sends segment 11 (new data); the RTO at 0.702 resends 1:1013.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { P, U, type OutSpec, type Script } from './script.js';
import { CFG, expect, open, recv } from './options-script.js';
import type { TcpConfig } from '../../../src/tcp/config.js';

const MSS = 1012;

/** A peer ACK without timestamps: cumulative `ack`, SACK blocks relative to our ISS. */
function peerAck(t: Script, at: number, ack: number, ...blocks: Array<[number, number]>): void {
  recv(t, at, { f: '.', seq: P(1), ack: U(ack), win: 65535, sack: blocks.map(([a, b]): [number, number] => [U(a), U(b)]) });
}

/** Segment n (1-based) of our data. */
function S(n: number, f = '.'): OutSpec {
  return { f, seq: U(1 + (n - 1) * MSS), ack: P(1), win: 4000, len: MSS };
}

/** 20 segments written, 10 sent, the probe, the timeout: in the loss phase at 0.702. */
function afterTimeout(cfg: Partial<TcpConfig> = {}): Script {
  const t = open({ ...CFG, ...cfg }, { ts: false });
  t.write(200, 20 * MSS);
  expect(t, ...Array.from({ length: 10 }, (_, i) => S(i + 1)));
  // 0.402 > . 10121:11133(1012)   (TLP: new data, PTO 2*SRTT + 2 ms)
  t.timerAt(402);
  expect(t, S(11));
  // 0.702 > . 1:1013(1012)   (RTO: cwnd 1 SMSS, ssthresh FlightSize/2)
  t.timerAt(702);
  expect(t, S(1));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, MSS);
  return t;
}

test('RFC 5682 §4: a spurious timeout is detected without timestamps: new data after the first ACK, the second ACK covers data never retransmitted: cwnd and ssthresh restored', () => {
  const t = afterTimeout();
  // 0.720 < . 1:1(0) ack 1013   (step 2.b: SND.UNA advances, not to recover: two NEW segments, not 1013:2025 again)
  peerAck(t, 720, 1 + MSS);
  expect(t, S(12), S(13));
  assert.is(t.conn.recovery.phase, 'loss');
  // 0.730 < . 1:1(0) ack 2025   (step 3.b: 1013:2025 was sent once: the originals were only delayed)
  peerAck(t, 730, 1 + 2 * MSS);
  expect(t); // no go-back-N: 2025:10121 is not resent, and the restored window is full
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS, 'cwnd back to its value before the timeout');
  assert.is(t.conn.cc.ssthresh, Infinity, 'ssthresh back too');
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
  assert.is(t.counters.get('tcp_undo_loss'), 1);
  // 0.740 < . 1:1(0) ack 3037   (open again: new data as the window allows)
  peerAck(t, 740, 1 + 3 * MSS);
  expect(t, S(14));
});

test('RFC 5682 §4 (SACK-enhanced): the first ACK after the timeout already covers data sent once: spurious at once', () => {
  const t = afterTimeout();
  // 0.720 < . 1:1(0) ack 3037   (1:1013 and the never-retransmitted 1013:3037)
  peerAck(t, 720, 1 + 3 * MSS);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS);
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
  expect(t, S(12), S(13)); // the restored window: new data, no retransmission
});

test('RFC 5682 §4 (SACK-enhanced): a SACK of data sent once, with no cumulative progress, shows the timeout spurious too (Linux)', () => {
  const t = afterTimeout();
  // 0.720 < . 1:1(0) ack 1 <sack 1013:3037>   (originals 2 and 3 arrived: the timeout did not find the window lost)
  peerAck(t, 720, 1, [1 + MSS, 1 + 3 * MSS]);
  assert.is(t.conn.recovery.phase, 'open');
  assert.is(t.conn.cc.cwnd, 10 * MSS);
  assert.is(t.counters.get('tcp_frto_spurious'), 1);
});

test('RFC 5682 §4 step 3.a: a real loss: after the new data, the SACK of it shows the hole: retransmissions continue', () => {
  const t = afterTimeout();
  peerAck(t, 720, 1 + MSS);
  expect(t, S(12), S(13));
  // 0.730 < . 1:1(0) ack 1013 <sack 12145:13157>   (only the new data arrived: 1013:11133 really was lost)
  peerAck(t, 730, 1 + MSS, [1 + 12 * MSS, 1 + 13 * MSS]);
  expect(t, S(2), S(3));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 2 * MSS, 'no undo');
  assert.is(t.counters.get('tcp_frto_spurious'), 0);
  // 0.740 < . 1:1(0) ack 3037 <sack 12145:13157>   (the retransmissions arrive; the window grows, go-back-N goes on)
  peerAck(t, 740, 1 + 3 * MSS, [1 + 12 * MSS, 1 + 13 * MSS]);
  expect(t, S(4), S(5), S(6), S(7));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.conn.cc.cwnd, 4 * MSS, 'slow start by the two segments delivered');
  assert.is(t.counters.get('tcp_frto_spurious'), 0);
});

test('RFC 5682 §4 step 2.b: nothing new to send: conventional recovery at once', () => {
  const t = open({ ...CFG }, { ts: false });
  t.write(200, 10 * MSS);
  t.takeOut();
  t.timerAt(402); // TLP: the last segment again (nothing new)
  expect(t, S(10, 'P.'));
  t.timerAt(702);
  expect(t, S(1));
  peerAck(t, 720, 1 + MSS);
  expect(t, S(2), S(3));
  assert.is(t.conn.recovery.frto.active, false);
});

test('frto: false (Linux tcp_frto=0): the first ACK after the timeout brings retransmissions (go-back-N)', () => {
  const t = afterTimeout({ frto: false });
  peerAck(t, 720, 1 + MSS);
  expect(t, S(2), S(3));
  peerAck(t, 730, 1 + 2 * MSS);
  expect(t, S(4), S(5));
  assert.is(t.conn.recovery.phase, 'loss');
  assert.is(t.counters.get('tcp_frto_spurious'), 0);
});

test.run();
