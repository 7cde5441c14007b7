// Where PSH goes (RFC 9293 §3.9.1 leaves it to the sender; push-points.ts
// does as Linux): on the last byte of each write, on the segment that takes a
// long write more than half the peer's largest window past the last PSH
// (forced_push), and on every super-segment of more than one MSS (Linux forces
// it on TSO/GSO packets). A write that grows unsent bytes takes their PSH.
//
// Setup: MSS 1000 both ways, initial window 10 segments, RTT 100 ms.
import { test } from 'uvu';
import { established, P, U, SMALL } from './script.js';

test('forced push: a long write gets PSH once more than half the peer\'s largest window lies past the last one', () => {
  // The peer offers 4000: half is 2000, so the third MSS of the write (2001..3001
  // lies past 1+2000) carries PSH, like Linux's forced_push after each full skb.
  const t = established(SMALL, { win: 4000 });
  t.write(200, 8000);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  // 0.200 > . 1001:2001(1000) ack 1 win 4000
  // 0.200 > P. 2001:3001(1000) ack 1 win 4000
  // 0.200 > . 3001:4001(1000) ack 1 win 4000
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(3001), ack: P(1), win: 4000, len: 1000 },
  );
  // 0.300 < . 1:1(0) ack 4001 win 4000
  t.recv(300, { f: '.', seq: P(1), ack: U(4001), win: 4000 });
  // 0.300 > . 4001:5001(1000) ack 1 win 4000
  // 0.300 > P. 5001:6001(1000) ack 1 win 4000     (6001 is again past 3001+2000)
  // 0.300 > . 6001:7001(1000) ack 1 win 4000
  // 0.300 > P. 7001:8001(1000) ack 1 win 4000     (end of the write)
  t.expect(
    { f: '.', seq: U(4001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(5001), ack: P(1), win: 4000, len: 1000 },
    { f: '.', seq: U(6001), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(7001), ack: P(1), win: 4000, len: 1000 },
  );
});

test('a write that grows unsent bytes takes their PSH (Linux clears it on the tail skb it grows)', () => {
  const t = established();
  t.write(200, 10);
  // 0.200 > P. 1:11(10) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10 });
  t.write(210, 500); // Nagle holds it: unacknowledged data in flight
  t.expect();
  t.write(220, 800); // appends to the 500 not yet sent: a full MSS may go
  // 0.220 > . 11:1011(1000) ack 1 win 4000        (no PSH at 511: the second write took it)
  t.expect({ f: '.', seq: U(11), ack: P(1), win: 4000, len: 1000 });
  // 0.300 < . 1:1(0) ack 1011 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(1011) });
  // 0.300 > P. 1011:1311(300) ack 1 win 4000
  t.expect({ f: 'P.', seq: U(1011), ack: P(1), win: 4000, len: 300 });
});

test('every super-segment of more than one MSS carries PSH (Linux forces it on TSO/GSO packets)', () => {
  const t = established({ ...SMALL, gsoMax: 4000, minTsoSegs: 4 }); // 4000-byte super-segments (tso-size.ts)
  t.write(200, 10000);
  // 0.200 > P. 1:4001(4000) ack 1 win 4000        (the device keeps PSH on its last piece)
  // 0.200 > P. 4001:8001(4000) ack 1 win 4000
  // 0.200 > P. 8001:10001(2000) ack 1 win 4000
  t.expect(
    { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 4000 },
    { f: 'P.', seq: U(4001), ack: P(1), win: 4000, len: 4000 },
    { f: 'P.', seq: U(8001), ack: P(1), win: 4000, len: 2000 },
  );
});

test('a super-segment is cut as Linux tcp_tso_autosize cuts a TSO packet: ~1 ms at 200 % of cwnd/SRTT, at least 2 MSS; each carries PSH', () => {
  const t = established({ ...SMALL, gsoMax: 64000 });
  t.write(200, 7000);
  // 0.200 > P. 1:2001(2000) ack 1 win 4000        (10 segments per 100 ms RTT: 2 segments a packet)
  // 0.200 > P. 2001:4001(2000) ack 1 win 4000
  // 0.200 > P. 4001:6001(2000) ack 1 win 4000
  // 0.200 > P. 6001:7001(1000) ack 1 win 4000      (end of the write)
  t.expect(
    { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 2000 },
    { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 2000 },
    { f: 'P.', seq: U(4001), ack: P(1), win: 4000, len: 2000 },
    { f: 'P.', seq: U(6001), ack: P(1), win: 4000, len: 1000 },
  );
});

test('PSH stays at the end of each write: a retransmission carries it where the first copy did', () => {
  const t = established({ ...SMALL, noDelay: true });
  t.write(200, 1500);
  // 0.200 > . 1:1001(1000) ack 1 win 4000
  // 0.200 > P. 1001:1501(500) ack 1 win 4000      (end of the first write)
  t.expect(
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 500 },
  );
  t.write(210, 1500);
  // 0.210 > . 1501:2501(1000) ack 1 win 4000
  // 0.210 > P. 2501:3001(500) ack 1 win 4000
  t.expect(
    { f: '.', seq: U(1501), ack: P(1), win: 4000, len: 1000 },
    { f: 'P.', seq: U(2501), ack: P(1), win: 4000, len: 500 },
  );
  // 0.300 < . 1:1(0) ack 1001 win 65535
  t.recv(300, { f: '.', seq: P(1), ack: U(1001) });
  t.expect();
  // RTO at 0.300 + 300: SND.UNA's segment again, one MSS: 1001:2001 covers the PSH at 1501.
  t.timer(600);
  t.expect({ f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 1000 });
});

test.run();
