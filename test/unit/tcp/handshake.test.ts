// Opening a connection: active OPEN and SYN-SENT (RFC 9293 §3.10.1, §3.10.7.3),
// passive OPEN and SYN-RECEIVED (§3.10.7.2, §3.10.7.4), simultaneous open,
// MSS (§3.7.1) and window scaling (RFC 7323 §2).
//
// Notation (see script.ts): "< " is a segment from the peer, "> " one from us;
// times in seconds; sequence numbers relative to each side's ISN, which sit
// just below 2^32 (ours 0xfffffff0, the peer's 0xffffff00).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Script, established, P, U, SMALL, synOpts } from './script.js';

// ------------------------------------------------------------ active open

test('§3.10.1 OPEN: connect() sends <SEQ=ISS><CTL=SYN> with mss and wscale, enters SYN_SENT', () => {
  const t = new Script();
  t.connect(0);
  // 0.000 > S 0:0(0) win 64240 <mss 1460,nop,wscale 7>    (as Linux: tcp_rmem[1] 131072 holds 65536
  //                                                          of data, rounded down to 44 MSS; wscale for tcp_rmem[2] 6 MiB)
  t.expect({ f: 'S', seq: U(0), win: 64240, opts: synOpts(1460, 7) });
  t.transitions('CLOSED->SYN_SENT');
  assert.is(t.conn.nextDeadline(), 1000, 'RTO for the SYN: 1 s (RFC 6298 §2.1)');
});

test('§3.10.7.3 SYN-SENT: RST with an acceptable ACK → "connection refused", CLOSED', () => {
  const t = new Script();
  t.connect(0);
  t.takeOut();
  t.clearEvents();
  // 0.100 < R. 0:0(0) ack 1 win 0             (what a closed port answers)
  t.recv(100, { f: 'R.', seq: 0, ack: U(1), win: 0 });
  t.expect();
  t.transitions('SYN_SENT->CLOSED');
  t.events('error ECONNREFUSED', 'closed');
  assert.is(t.conn.nextDeadline(), Infinity, 'no timer left');
});

test('§3.10.7.3 SYN-SENT: SYN,ACK → ESTABLISHED and <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>', () => {
  const t = new Script();
  t.connect(0);
  t.takeOut();
  t.clearEvents();
  // 0.100 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1460, wscale: 7 });
  // 0.100 > . 1:1(0) ack 1 win 32768           (262144 >> 3)
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 512 });
  t.transitions('SYN_SENT->ESTABLISHED');
  t.events('established');
  assert.is(t.conn.sndUna, U(1));
  assert.is(t.conn.rcvNxt, P(1));
  assert.is(t.conn.sndWnd, 65535, 'the window in a SYN is never scaled (RFC 7323 §2.2)');
  assert.is(t.conn.nextDeadline(), Infinity, 'RTO stopped: everything acknowledged');
});

test('§3.10.7.3 SYN-SENT: data written before the handshake leaves with the first ACK', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  t.write(10, 300);
  t.expect();
  // 0.100 < S. 0:0(0) ack 1 win 65535 <mss 1000>
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), mss: 1000 });
  // 0.100 > . 1:1(0) ack 1 win 4000            (RFC 9293: queued data MAY ride on this ACK; here it follows)
  // 0.100 > P. 1:301(300) ack 1 win 4000
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 }, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 300 });
});

// --------------------------------------------------------- simultaneous open

test('§3.10.7.3 SYN-SENT: SYN alone → SYN_RECEIVED and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>', () => {
  const t = new Script();
  t.connect(0);
  t.takeOut();
  t.clearEvents();
  // 0.050 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>
  t.recv(50, { f: 'S', seq: P(0), win: 65535, mss: 1460, wscale: 7 });
  // 0.050 > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>
  t.expect({ f: 'S.', seq: U(0), ack: P(1), win: 64240, opts: synOpts(1460, 7) });
  t.transitions('SYN_SENT->SYN_RECEIVED');
  // 0.060 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>    (the peer's answer to our SYN)
  t.recv(60, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1460, wscale: 7 });
  // Its SYN repeats the one we have: ACKed, as Linux does (§3.10.7.4 first check).
  // 0.060 > . 1:1(0) ack 1 win 512
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 512 });
  t.transitions('SYN_RECEIVED->ESTABLISHED');
  t.events('established');
});

test('§3.10.7.3 simultaneous open: no wscale in the SYN,ACK when the peer\'s SYN had none', () => {
  const t = new Script();
  t.connect(0);
  t.takeOut();
  // 0.050 < S 0:0(0) win 65535 <mss 1460>
  t.recv(50, { f: 'S', seq: P(0), mss: 1460 });
  // 0.050 > S. 0:0(0) ack 1 win 64240 <mss 1460>
  t.expect({ f: 'S.', seq: U(0), ack: P(1), win: 64240, opts: synOpts(1460) });
});

test('RFC 7323 §2.2 simultaneous open: the window of the peer\'s SYN,ACK is not scaled', () => {
  const t = new Script(SMALL);
  t.connect(0);
  t.takeOut();
  // 0.050 < S 0:0(0) win 2000 <mss 1000,nop,wscale 7>
  t.recv(50, { f: 'S', seq: P(0), win: 2000, mss: 1000, wscale: 7 });
  t.takeOut();
  // 0.060 < S. 0:0(0) ack 1 win 2000 <mss 1000,nop,wscale 7>
  t.recv(60, { f: 'S.', seq: P(0), ack: U(1), win: 2000, mss: 1000, wscale: 7 });
  // 0.060 > . 1:1(0) ack 1 win 4000        (its SYN is a duplicate: ACKed)
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 4000 });
  assert.is(t.state, 'ESTABLISHED');
  t.write(70, 4000);
  // The peer offers 2000 bytes (a SYN's window field is never scaled):
  // 0.070 > . 1:1001(1000) ack 1 win 4000
  // 0.070 > P. 1001:2001(1000) ack 1 win 4000    (PSH: over half the largest window since the last PSH, Linux forced_push)
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
  );
  assert.is(t.conn.sndWnd, 2000);
});

test('§3.10.7.4 SYN-RECEIVED (active open): RST → "connection refused"', () => {
  const t = new Script();
  t.connect(0);
  t.takeOut();
  t.recv(50, { f: 'S', seq: P(0), mss: 1460 });
  t.takeOut();
  t.clearEvents();
  // 0.060 < R 1:1(0) win 0
  t.recv(60, { f: 'R', seq: P(1), win: 0 });
  t.expect();
  t.transitions('SYN_RECEIVED->CLOSED');
  t.events('error ECONNREFUSED', 'closed');
});

// -------------------------------------------------------------------- MSS

test('§3.7.1 MSS: the peer\'s MSS option caps our segments', () => {
  const t = established({ mss: 1460 }, { mss: 1000 });
  t.write(200, 2000);
  // 0.200 > . 1:1001(1000) ack 1 win 65535
  // 0.200 > P. 1001:2001(1000) ack 1 win 65535
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 65535, len: 1000 },
    { f: 'P.', seq: U(1001), ack: P(1), win: 65535, len: 1000 },
  );
});

test('§3.7.1 MSS: 536 when the peer sends no MSS option', () => {
  const t = established({ mss: 1460 }, { mss: null });
  t.write(200, 1072);
  // 0.200 > . 1:537(536) ack 1 win 65535
  // 0.200 > P. 537:1073(536) ack 1 win 65535
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 65535, len: 536 },
    { f: 'P.', seq: U(537), ack: P(1), win: 65535, len: 536 },
  );
  assert.is(t.conn.sndMss, 536);
});

// ----------------------------------------------------------- window scale

test('RFC 7323 §2.2 window scale on when both SYNs carry it: both directions scaled', () => {
  const t = established({}, { mss: 1460, wscale: 7 });
  // 0.200 < . 1:1(0) ack 1 win 100
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 100 });
  t.expect();
  assert.is(t.conn.sndWnd, 100 << 7, 'peer window field scaled by its shift 7');
  t.write(300, 1);
  // 0.300 > P. 1:2(1) ack 1 win 512          (our 64 KiB in units of 128)
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 512, len: 1 });
});

test('RFC 7323 §2.2 window scale off when the peer\'s SYN,ACK has none: nothing scaled', () => {
  const t = established({}, { mss: 1460 });
  // 0.200 < . 1:1(0) ack 1 win 100
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 100 });
  t.expect();
  assert.is(t.conn.sndWnd, 100);
  t.write(300, 1);
  // 0.300 > P. 1:2(1) ack 1 win 65535        (unscaled field, capped at 65535)
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 65535, len: 1 });
});

test('RFC 7323 §2.2 window scale off when we do not offer it, even if the peer does', () => {
  const t = new Script({ windowScaling: false });
  t.connect(0);
  // 0.000 > S 0:0(0) win 64240 <mss 1460>
  t.expect({ f: 'S', seq: U(0), win: 64240, opts: synOpts(1460) });
  // 0.100 < S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>
  t.recv(100, { f: 'S.', seq: P(0), ack: U(1), mss: 1460, wscale: 7 });
  // 0.100 > . 1:1(0) ack 1 win 65535
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 65535 });
  // 0.200 < . 1:1(0) ack 1 win 100
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 100 });
  assert.is(t.conn.sndWnd, 100);
});

test('RFC 7323 §2.3 a shift above 14 is used as 14', () => {
  const t = established({}, { mss: 1460, wscale: 15 });
  // 0.200 < . 1:1(0) ack 1 win 2
  t.recv(200, { f: '.', seq: P(1), ack: U(1), win: 2 });
  assert.is(t.conn.sndWnd, 2 << 14);
});

// ------------------------------------------------------------ passive open

test('§3.10.7.2 LISTEN: acceptSyn → SYN_RECEIVED and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> with mss, wscale', () => {
  const t = new Script();
  // 0.000 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>
  t.acceptSyn(0, { f: 'S', seq: P(0), win: 65535, mss: 1460, wscale: 7 });
  // 0.000 > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>
  t.expect({ f: 'S.', seq: U(0), ack: P(1), win: 64240, opts: synOpts(1460, 7) });
  t.transitions('LISTEN->SYN_RECEIVED');
  assert.is(t.conn.nextDeadline(), 1000, 'SYN,ACK retransmission timer');
});

test('§3.10.7.4 SYN-RECEIVED: the ACK of our SYN,ACK → ESTABLISHED, window now scaled', () => {
  const t = new Script();
  t.acceptSyn(0, { f: 'S', seq: P(0), win: 65535, mss: 1460, wscale: 7 });
  t.takeOut();
  t.clearEvents();
  // 0.100 < . 1:1(0) ack 1 win 513
  t.recv(100, { f: '.', seq: P(1), ack: U(1), win: 513 });
  t.expect();
  t.transitions('SYN_RECEIVED->ESTABLISHED');
  t.events('established');
  assert.is(t.conn.sndWnd, 513 << 7);
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('§3.10.7.4 SYN-RECEIVED (passive): RST → closed without an error', () => {
  const t = new Script();
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1460 });
  t.takeOut();
  t.clearEvents();
  // 0.100 < R 1:1(0) win 0
  t.recv(100, { f: 'R', seq: P(1), win: 0 });
  t.expect();
  t.transitions('SYN_RECEIVED->CLOSED');
  t.events('closed');
});

test('§3.10.7.4 SYN-RECEIVED (passive), fourth check: an in-window SYN returns to LISTEN', () => {
  const t = new Script();
  t.acceptSyn(0, { f: 'S', seq: P(0), mss: 1460 });
  t.takeOut();
  t.clearEvents();
  // 0.100 < S 10:10(0) win 65535
  t.recv(100, { f: 'S', seq: P(10), mss: 1460 });
  t.expect();
  t.transitions('SYN_RECEIVED->CLOSED');
  t.events('closed');
});

test.run();
