// The application closes its socket (close(2); node's destroy()): the TCB
// lives on as an orphan (Connection.orphan). Exact segments for what Linux
// does with it: RST instead of FIN when received data is unread (RFC 1122
// §4.2.2.13, RFC 2525 §2.17), RST <SEQ=SEG.ACK> for data that arrives after
// the close (TCPAbortOnData), tcp_fin_timeout in FIN_WAIT_2, and bounded
// patience with a zero window (tcp_orphan_retries).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, finWait2, P, U, SMALL } from './script.js';

test('orphan with nothing unread: FIN after the queued data, like close()', () => {
  const t = established();
  t.write(200, 500);
  // 0.200 > P. 1:501(500) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500 });
  t.orphan(210);
  // 0.210 > F. 501:501(0) ack 1 win 4000    (Nagle holds nothing: the FIN alone follows the data)
  t.expect({ f: 'F.', seq: U(501), ack: P(1), win: 4000 });
  t.transitions('ESTABLISHED->FIN_WAIT_1');
  assert.ok(t.conn.orphaned);
});

test('RFC 2525 §2.17: orphan with received data unread sends RST,ACK at once, no FIN', () => {
  const t = established();
  // 0.200 < P. 1:101(100) ack 1 win 65535     (not read by the application)
  t.recv(200, { f: 'P.', seq: P(1), ack: U(1), len: 100 });
  t.takeOut(); // the quick ACK
  t.orphan(300);
  // 0.300 > R. 1:1(0) ack 101 win 3900
  t.expect({ f: 'R.', seq: U(1), ack: P(101), win: 3900 });
  t.transitions('ESTABLISHED->CLOSED');
  t.events('readable', 'closed');
  assert.is(t.counters.get('tcp_abort_on_close'), 1);
});

test('RFC 1122 §4.2.2.13: data arriving after the close is answered with RST <SEQ=SEG.ACK>', () => {
  const t = established();
  t.orphan(200);
  // 0.200 > F. 1:1(0) ack 1 win 4000
  t.expect({ f: 'F.', seq: U(1), ack: P(1), win: 4000 });
  // 0.210 < . 1:1(0) ack 2 win 65535   (our FIN acknowledged)
  t.recv(210, { f: '.', seq: P(1), ack: U(2) });
  t.expect();
  t.transitions('ESTABLISHED->FIN_WAIT_1', 'FIN_WAIT_1->FIN_WAIT_2');
  // 0.300 < P. 1:51(50) ack 2 win 65535  (the peer still writes)
  t.recv(300, { f: 'P.', seq: P(1), ack: U(2), len: 50 });
  // 0.300 > R 2:2(0)                      (Linux tcp_v4_send_reset: RST, SEQ = SEG.ACK, no ACK bit)
  t.expect({ f: 'R', seq: U(2), win: 0 });
  t.transitions('FIN_WAIT_2->CLOSED');
  assert.is(t.counters.get('tcp_abort_on_data'), 1);
});

test('an orphan in FIN_WAIT_2 is forgotten after tcp_fin_timeout; its FIN still ends it before', () => {
  const t = finWait2({ ...SMALL, finTimeout: 60_000 });
  const at = t.now + 10;
  t.orphan(at);
  t.expect();
  assert.is(t.conn.nextDeadline(), at + 60_000);
  t.timerAt(at + 60_000);
  t.expect(); // silently, as Linux: a later segment of the peer gets a RST from the stack
  t.transitions('FIN_WAIT_2->CLOSED');
  assert.is(t.counters.get('tcp_fin_wait2_timeouts'), 1);

  const u = finWait2({ ...SMALL, finTimeout: 60_000 });
  u.orphan(u.now + 10);
  // The peer's FIN within the minute: TIME_WAIT as usual.
  u.recv(u.now + 1000, { f: 'F.', seq: P(1), ack: U(2) });
  u.expect({ f: '.', seq: U(2), ack: P(2), win: 4000 });
  u.transitions('FIN_WAIT_2->TIME_WAIT');
  assert.ok(u.conn.nextDeadline() > u.now + 60_000 - 1, 'the 2MSL timer, not the FIN_WAIT_2 one');
});

test('a socket that is not an orphan waits in FIN_WAIT_2 as long as the peer wants (half-close)', () => {
  const t = finWait2();
  assert.is(t.conn.nextDeadline(), Infinity);
});

test('tcp_orphan_retries: an orphan facing a zero window gives up with RST; a live socket keeps probing', () => {
  for (const orphaned of [true, false]) {
    const t = established({ ...SMALL, orphanRetries: 3 }, { win: 0 });
    t.write(200, 1000);
    t.expect();
    if (orphaned) {
      t.orphan(200);
      t.expect();
    }
    let probes = 0;
    for (let i = 0; i < 20 && t.state !== 'CLOSED'; i++) {
      const at = t.conn.nextDeadline();
      t.timer(at);
      const out = t.takeOut();
      // The peer answers each probe: still a zero window.
      if (out.length === 1 && out[0]!.flags === 0x10) {
        probes++;
        t.recv(at + 5, { f: '.', seq: P(1), ack: U(1), win: 0 });
        t.takeOut();
      } else if (orphaned) {
        // > R. 1:1(0) ack 1 win 4000
        assert.equal(out.map((s) => s.flags), [0x14], 'RST,ACK when it gives up');
      }
    }
    if (orphaned) {
      assert.is(t.state, 'CLOSED');
      assert.is(t.counters.get('tcp_orphan_gave_up'), 1);
      assert.ok(probes >= 1 && probes <= 10, `${probes} probes`);
    } else {
      assert.is(t.state, 'ESTABLISHED', 'a live socket probes a live peer forever (Linux resets probes_out on each answer)');
      assert.is(probes, 20);
    }
  }
});

test('zero-window probes that nobody answers: ETIMEDOUT after tcp_retries2 (15) for a live socket', () => {
  const t = established({ ...SMALL, retries: 4 }, { win: 0 });
  t.write(200, 1000);
  t.expect();
  for (let i = 0; i < 10 && t.state !== 'CLOSED'; i++) {
    t.timer(t.conn.nextDeadline());
    t.takeOut();
  }
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ETIMEDOUT', 'closed');
});

test('Linux tcp_close: unread data in TIME_WAIT does not end TIME_WAIT (the user socket is already closed there)', () => {
  const t = finWait2({ ...SMALL, msl: 30_000 });
  // 0.400 < FP. 1:101(100) ack 2 win 65535   (data and FIN; the application does not read it)
  t.recv(400, { f: 'FP.', seq: P(1), ack: U(2), len: 100 });
  // 0.400 > . 2:2(0) ack 102 win 3899
  t.expect({ f: '.', seq: U(2), ack: P(102), win: 3899 });
  t.transitions('FIN_WAIT_2->TIME_WAIT');
  t.clearEvents();
  t.orphan(500);
  t.expect(); // no RST: Linux's socket is in CLOSE by now, its timewait sock lives on
  t.transitions();
  assert.is(t.state, 'TIME_WAIT');
  // 1.000 < F. 101:101(0) ack 2 win 65535   (our ACK was lost: the FIN again)
  t.recv(1000, { f: 'F.', seq: P(101), ack: U(2) });
  // 1.000 > . 2:2(0) ack 102                 (acknowledged again, as TIME_WAIT is for)
  const out = t.takeOut();
  assert.is(out.length, 1);
  assert.is(out[0]!.flags, 0x10);
  assert.is(out[0]!.ack, P(102));
  assert.is(t.state, 'TIME_WAIT');
});

test('Linux tcp_close: unread data in LAST_ACK is answered with RST,ACK, not a silent delete', () => {
  const t = established();
  // 0.200 < FP. 1:101(100) ack 1 win 65535    (data and FIN, not read)
  t.recv(200, { f: 'FP.', seq: P(1), ack: U(1), len: 100 });
  t.takeOut();
  t.close(300);
  // 0.300 > F. 1:1(0) ack 102 win 3899
  t.expect({ f: 'F.', seq: U(1), ack: P(102), win: 3899 });
  assert.is(t.state, 'LAST_ACK');
  t.clearEvents();
  t.orphan(400);
  // 0.400 > R. 2:2(0) ack 102 win 3899     (Linux tcp_send_active_reset; our FIN may have been lost)
  t.expect({ f: 'R.', seq: U(2), ack: P(102), win: 3899 });
  t.transitions('LAST_ACK->CLOSED');
  assert.is(t.counters.get('tcp_abort_on_close'), 1);
});

test.run();
