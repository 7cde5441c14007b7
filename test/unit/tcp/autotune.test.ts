// Receive-buffer autotuning (Linux dynamic right-sizing, tcp_rcv_space_adjust)
// and the initial window as Linux's tcp_select_initial_window chooses it.
// A peer on a 100 ms path doubles what it sends every round trip, its
// segments echoing our TSval of one RTT before; the application reads at the
// end of each round.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TCP_CONFIG, rcvWscaleFor, initialRcvBuf, maxRcvBuf, type TcpConfig } from '../../../src/tcp/config.js';
import { ourSynWindow } from '../../../src/tcp/options.js';
import { P, Script, U } from './script.js';
import { recv, expect, TS, PT, TV } from './options-script.js';

const MSS = 1460;
const SEG = MSS - 12; // with timestamps

/** Active open with the defaults (tcp_rmem 4096 131072 6291456), SACK and timestamps; the peer scales by 7. */
function openDefault(cfg: Partial<TcpConfig> = {}): Script {
  const t = new Script({ ...DEFAULT_TCP_CONFIG, ...cfg });
  t.connect(0);
  t.takeOut();
  recv(t, 100, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: MSS, sackOK: true, ts: [PT(100), TV(0)], wscale: 7 });
  t.takeOut();
  assert.is(t.state, 'ESTABLISHED', 'setup: handshake');
  return t;
}

/** One round trip at `at`: `n` full segments from `from` (each echoing TV(at - 100)), then the application reads all. */
function round(t: Script, at: number, from: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const s = from + i * SEG;
    recv(t, at, { f: '.', seq: P(s), ack: U(1), len: SEG, ts: [PT(at), TV(at - 100)] });
    t.takeOut();
  }
  t.read(at);
  t.takeOut(); // a window update, if the read opened the window enough
  return from + n * SEG;
}

test('Linux tcp_select_initial_window: SYN 64240 and SYN,ACK 65160 (timestamps) with wscale 7; wscale 10 for tcp_rmem[2] 32 MiB', () => {
  // Measured here under `unshare --net`, MTU 1500: Linux 6.18 with tcp_rmem 4096 131072 6291456 sends
  // S win 64240 <mss 1460,sackOK,TS,nop,wscale 7> and S. win 65160 <...,wscale 7>; with 33554432 wscale 10.
  const cfg = DEFAULT_TCP_CONFIG;
  assert.is(ourSynWindow(cfg, false, true), 64240);
  assert.is(ourSynWindow(cfg, true, true), 65160);
  assert.is(ourSynWindow(cfg, true, false), 64240);
  assert.is(rcvWscaleFor(cfg), 7);
  assert.is(rcvWscaleFor({ rcvBuf: 0, tcpRmem: [4096, 131072, 33554432] }), 10);
  assert.is(initialRcvBuf(cfg), 65536);
  assert.is(maxRcvBuf(cfg), 3145728);
  // A fixed buffer (SO_RCVBUF) keeps its own scale and does not grow.
  assert.is(rcvWscaleFor({ rcvBuf: 256 * 1024, tcpRmem: cfg.tcpRmem }), 3);
  assert.is(maxRcvBuf({ rcvBuf: 256 * 1024, tcpRmem: cfg.tcpRmem }), 256 * 1024);
});

test('autotuning: the window grows with the delivery per RTT (2x copied + 16 MSS, more in slow start), up to tcp_rmem[2]/2', () => {
  const t = openDefault();
  assert.is(t.conn.recvBuffer.capacity, 65536);
  let next = round(t, 200, 1, 10); // starts the measurement at 200 ms; RTT 100 ms from the echoes
  // 0.300: 20 more segments; 30 read within one RTT > 10 segments (rcvq_space at the start):
  // rcvwin = 2 * 43440 + 16 * 1448 = 110048, plus 2 * 110048 * (43440 - 14480) / 14480 = 440192: 550240.
  for (let i = 0; i < 20; i++) {
    recv(t, 300, { f: '.', seq: P(next + i * SEG), ack: U(1), len: SEG, ts: [PT(300), TV(200)] });
    t.takeOut();
  }
  next += 20 * SEG;
  t.read(300);
  assert.is(t.conn.recvBuffer.capacity, 550240);
  assert.is(t.counters.get('tcp_rcvbuf_autotuned'), 1);
  // The read opened the window to more than twice what was offered: a window update at once.
  // 0.300 > . 1:1(0) ack 43441 win 4298 <nop,nop,TS val X+300 ecr PT(300)>    (550240 / 128)
  expect(t, { f: '.', seq: U(1), ack: P(next), win: 4298, opts: TS(TV(300), PT(300)) });
  // 40 segments in the next RTT: rcvwin = 2 * 57920 + 16 * 1448 + 2 * 139008 * 14480 / 43440 = 231680, below the buffer.
  next = round(t, 400, next, 40);
  assert.is(t.conn.recvBuffer.capacity, 550240);
  // 80 in the next: 254848 + 2 * 254848 * 57920 / 57920 = 764544.
  next = round(t, 500, next, 80);
  assert.is(t.conn.recvBuffer.capacity, 764544);
  // The window field says all of it, in units of 128.
  t.write(500, 1);
  assert.is(t.takeOut()[0]!.window, Math.floor(764544 / 128));
});

test('autotuning stops at tcp_rmem[2] (half of it holds data)', () => {
  const t = openDefault({ tcpRmem: [4096, 131072, 1048576] });
  let next = round(t, 200, 1, 10);
  next = round(t, 300, next, 20);
  assert.is(t.conn.recvBuffer.capacity, 524288);
  round(t, 400, next, 80);
  assert.is(t.conn.recvBuffer.capacity, 524288);
});

test('autotuning: no growth within one RTT, nor when the delivery per RTT does not grow, nor with a fixed buffer', () => {
  const t = openDefault();
  let next = round(t, 200, 1, 10);
  next = round(t, 250, next, 10); // half an RTT later: no measurement yet
  assert.is(t.conn.recvBuffer.capacity, 65536);
  next = round(t, 300, next, 1); // one RTT: 21 segments read, more than 10: grows
  const grown = t.conn.recvBuffer.capacity;
  assert.ok(grown > 65536);
  next = round(t, 400, next, 10); // 10 segments in the next RTT, fewer than 21: no change
  assert.is(t.conn.recvBuffer.capacity, grown);
  const fixed = openDefault({ rcvBuf: 65536 });
  let n = round(fixed, 200, 1, 10);
  n = round(fixed, 300, n, 20);
  round(fixed, 400, n, 40);
  assert.is(fixed.conn.recvBuffer.capacity, 65536);
  assert.is(fixed.counters.get('tcp_rcvbuf_autotuned'), 0);
});

test('RFC 7323 §2.4 / RFC 9293 §3.8.6: a closing window rounded up to shift 7 never promises more than the buffer holds', () => {
  // The application reads nothing; the peer sends into every window offered. Rounding the field up so the
  // edge does not move left used to add up to 127 bytes per ACK, until the peer was offered room the buffer
  // did not have: its data was dropped (tcp_rcvbuf_full) and it retransmitted into a window we could not honour.
  const t = openDefault(); // 64 KiB, shift 7; nothing is read, so autotuning never grows it
  let next = 1;
  let edge = 0;
  for (let i = 0; i < 60; i++) {
    const room = edge === 0 ? SEG : Math.min(SEG, edge - next);
    if (room <= 0) break;
    recv(t, 200 + i, { f: '.', seq: P(next), ack: U(1), len: room, ts: [PT(200 + i), TV(100)] });
    next += room;
    const acks = t.takeOut();
    const a = acks.at(-1);
    if (a === undefined) continue;
    edge = ((a.ack - P(0)) >>> 0) + a.window * 128;
    // The buffer holds 65536 bytes (+127 of rounding slack): the offered edge stays inside.
    assert.ok(edge <= 1 + 65536 + 127, `ACK ${i}: edge ${edge} beyond the buffer`);
  }
  assert.is(next - 1, t.conn.recvBuffer.used, 'everything sent into an offered window was kept');
  assert.is(t.counters.get('tcp_rcvbuf_full'), 0);
  assert.ok(t.conn.recvBuffer.used >= 65536 - 127);
});

test.run();
