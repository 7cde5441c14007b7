// Sending data: segmentation at the effective MSS (RFC 9293 §3.7.1), the
// peer's window, sender SWS avoidance (§3.8.6.2.1), Nagle (§3.7.4), and
// zero-window probing with the persist timer (§3.8.6.1). Like Linux, the
// probe is an empty ACK with the old sequence number SND.UNA-1.
//
// Setup: MSS 1000 both ways; after the handshake RTO = 300 ms. Our stream
// starts at 0xfffffff1 and crosses 2^32 after 15 bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, P, U, SMALL } from './script.js';

test('§3.7.1 segmentation: 3000 bytes leave as three 1000-byte segments, PSH on the last', () => {
  const t = established();
  assert.is(t.write(200, 3000), true);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  // 0.200 > . 1001:2001(1000) ack 1 win 4000
  // 0.200 > P. 2001:3001(1000) ack 1 win 4000
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
  );
  assert.is(t.conn.sndNxt, U(3001));
  assert.is(t.conn.nextDeadline(), 200 + 300, 'one RTO timer for the flight');
});

test('§3.8.6.2.1 the sender never exceeds the peer\'s window, and waits rather than send a sliver', () => {
  const t = established(SMALL, { win: 2500 });
  t.write(200, 4000);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  // 0.200 > P. 1001:2001(1000) ack 1 win 4000    (500 left in the window: less than half of 2500, wait)
  //                                               (PSH: 2000 bytes since the last PSH, over half the peer's largest window: Linux forced_push)
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
  );
  // 0.300 < . 1:1(0) ack 1001 win 2500
  t.recv(300, { f: '.', seq: P(1), ack: U(1001), win: 2500 });
  // 0.300 > . 2001:3001(1000) ack 1 win 4000     (window now ends at 3501)
  t.expect({ f: '.', seq: U(2001), ack: P(1), win: 4000, len: 1000 });
  // 0.400 < . 1:1(0) ack 3001 win 2500
  t.recv(400, { f: '.', seq: P(1), ack: U(3001), win: 2500 });
  // 0.400 > P. 3001:4001(1000) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(3001), ack: P(1), win: 4000, len: 1000 });
});

test('§3.7.4 Nagle: a short tail waits for ALL outstanding data, not just some', () => {
  const t = established();
  t.write(200, 2500);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  // 0.200 > . 1001:2001(1000) ack 1 win 4000
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
  );
  // 0.300 < . 1:1(0) ack 1001 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(1001) });
  t.expect();
  // 0.310 < . 1:1(0) ack 2001 win 65535
  t.recv(310, { f: '.', seq: P(1), ack: U(2001) });
  // 0.310 > P. 2001:2501(500) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 500 });
});

test('§3.10.2 SEND: write() returns false once Linux would charge cfg.sndBuf (wmem.ts), then "drain" once the free space is half of what is charged (Linux sk_stream_write_space)', () => {
  // Each skb costs its payload plus SKB_OVERHEAD (832); sending cuts an skb where it stops.
  // A fixed buffer, as SO_SNDBUF sets it (no autotuning: sndbuf.ts).
  const t = established({ ...SMALL, sndBuf: 4000, sndBufMax: 4000 });
  assert.is(t.write(200, 1500), true, '[1,1001) [1001,1501): 1500 + 2 * 832 < 4000');
  // 0.200 > . 1:1001(1000) ack 1 win 4000       (500-byte tail held by Nagle)
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.write(210, 1000), false, '[1,1001) [1001,2001) [2001,2501): 2500 + 3 * 832 >= 4000');
  // 0.210 > . 1001:2001(1000) ack 1 win 4000
  t.expect({ f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 });
  t.events();
  // 0.300 < . 1:1(0) ack 1001 win 65535: 1500 + 2 * 832 charged, 3 * 3164 > 2 * 4000: not yet
  t.recv(300, { f: '.', seq: P(1), ack: U(1001) });
  t.expect();
  t.events();
  assert.is(t.conn.bufferedToSend, 1500);
  // 0.310 < . 1:1(0) ack 1501 win 65535: a partly acknowledged skb gives back
  // what the ACK covers (tcp_trim_head): 1000 + 2 * 832, 3 * 2664 <= 2 * 4000
  t.recv(310, { f: '.', seq: P(1), ack: U(1501) });
  t.expect();
  t.events('drain');
  // 0.320 < . 1:1(0) ack 2001 win 65535: the Nagle tail goes, with PSH
  t.recv(320, { f: '.', seq: P(1), ack: U(2001) });
  t.expect({ f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 500 });
  t.events();
  assert.is(t.conn.bufferedToSend, 500);
});

// ---------------------------------------------------------- zero window

test('§3.8.6.1 zero window: persist timer, probe <SEQ=SND.UNA-1>, exponential backoff, then data flows', () => {
  const t = established(SMALL, { win: 0 });
  t.write(200, 1000);
  t.expect();
  assert.is(t.conn.nextDeadline(), 200 + 300, 'first probe after one RTO');
  // 0.500 > . 0:0(0) ack 1 win 4000              (SEQ = SND.UNA - 1: the peer must answer)
  t.timerAt(500);
  t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  // 0.510 < . 1:1(0) ack 1 win 0                 (still closed)
  t.recv(510, { f: '.', seq: P(1), ack: U(1), win: 0 });
  t.expect();
  // 1.100 > . 0:0(0) ack 1 win 4000              (backoff: 600 ms)
  t.timerAt(1100);
  t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  // 2.300 > . 0:0(0) ack 1 win 4000              (backoff: 1200 ms)
  t.timerAt(2300);
  t.expect({ f: '.', seq: U(0), ack: P(1), win: 4000 });
  assert.is(t.conn.nextDeadline(), 2300 + 2400);
  // 3.000 < . 1:1(0) ack 1 win 4000              (window update)
  t.recv(3000, { f: '.', seq: P(1), ack: U(1), win: 4000 });
  // 3.000 > P. 1:1001(1000) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1000 });
  assert.is(t.conn.nextDeadline(), 3000 + 300, 'persist off, RTO on');
});

test('§3.8.6.1 zero window after an ACK of everything in flight: persist timer starts then', () => {
  const t = established();
  t.write(200, 2500);
  t.takeOut();
  // 0.300 < . 1:1(0) ack 2001 win 0
  t.recv(300, { f: '.', seq: P(1), ack: U(2001), win: 0 });
  t.expect();
  // A second RTT sample of 100 ms: RTTVAR = 3/4*50 + 1/4*0 = 37.5; as Linux the
  // variance term is at least 200 ms (rtt.ts): RTO = 100 + 200 = 300.
  assert.is(t.conn.nextDeadline(), 300 + 300);
  // 0.600 > . 2000:2000(0) ack 1 win 4000
  t.timerAt(600);
  t.expect({ f: '.', seq: U(2000), ack: P(1), win: 4000 });
});

test('§3.8.6.2.1 a small window below the SWS threshold: the persist timer sends what fits', () => {
  const t = established(SMALL, { win: 4000 });
  // 0.150 < . 1:1(0) ack 1 win 300
  t.recv(150, { f: '.', seq: P(1), ack: U(1), win: 300 });
  t.write(200, 1000);
  t.expect();
  // 0.500 > P. 1:301(300) ack 1 win 4000 (Linux tcp_write_wakeup sets PSH on what the timer sends)
  t.timerAt(500);
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 300 });
  assert.is(t.conn.nextDeadline(), 500 + 300, 'now timed by the RTO');
});

test.run();
