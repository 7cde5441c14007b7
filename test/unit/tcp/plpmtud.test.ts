// RFC 4821 packetization-layer PMTUD, on by default (Linux tcp_mtu_probing=1
// behaviour): black-hole detection at the connection, exact segments, and
// the search itself (plpmtud.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { established, P, U, SMALL } from './script.js';
import { BASE_MSS, MtuSearch, PROBE_INTERVAL_MS } from '../../../src/tcp/plpmtud.js';

const BIG = { ...SMALL, mss: 1460, rcvBuf: 64 * 1024 };

test('RFC 4821 §7.7: the fifth timeout in a row of full-sized segments drops the MSS to 1024, the sixth halves it (Linux tcp_mtu_probing)', () => {
  const t = established(BIG, { mss: 1460 });
  t.write(200, 3 * 1460);
  t.takeOut();
  // RTO 300: 0.500 ... 4.700 resend the 1460-byte head.
  for (const at of [500, 1100, 2300, 4700]) {
    t.timerAt(at);
    t.expect({ f: '.', seq: U(1), ack: P(1), win: 65535, len: 1460 });
  }
  // 9.500: a black hole: MSS 1024 (Linux tcp_base_mss).
  t.timerAt(9500);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 65535, len: BASE_MSS });
  // 19.100: still nothing: half, 512.
  t.timerAt(19_100);
  t.expect({ f: '.', seq: U(1), ack: P(1), win: 65535, len: 512 });
  assert.is(t.counters.get('tcp_mtu_black_holes'), 2);
  // It gets through: the rest follows in 512-byte segments (cwnd 2 after the ACK).
  t.recv(19_200, { f: '.', seq: P(1), ack: U(513) });
  t.expect({ f: '.', seq: U(513), ack: P(1), win: 65535, len: 512 }, { f: '.', seq: U(1025), ack: P(1), win: 65535, len: 512 });
});

test('a peer that answers is no black hole: a duplicate ACK after each timeout keeps the MSS', () => {
  const t = established(BIG, { mss: 1460 });
  t.write(200, 3 * 1460);
  t.takeOut();
  for (const at of [500, 1100, 2300, 4700, 9500, 19_100]) {
    t.timerAt(at);
    assert.is(t.takeOut()[0]!.payload!.length, 1460);
    // A duplicate ACK: something of ours arrived, only not the head.
    t.recv(at + 50, { f: '.', seq: P(1), ack: U(1) });
    t.takeOut();
  }
  assert.is(t.counters.get('tcp_mtu_black_holes'), 0);
});

test('timeouts of small segments are not a black hole; mtuProbing: false turns detection off', () => {
  for (const [cfg, bytes] of [[BIG, 100], [{ ...BIG, mtuProbing: false }, 1460]] as const) {
    const t = established(cfg, { mss: 1460 });
    t.write(200, bytes);
    t.takeOut();
    for (const at of [500, 1100, 2300, 4700, 9500, 19_100]) {
      t.timerAt(at);
      assert.is(t.takeOut()[0]!.payload!.length, bytes);
    }
    assert.is(t.conn.sndMss, 1460);
  }
});

test('RFC 4821 §7.3-7.6: the search probes halfway up, an ACK raises the floor, a loss lowers the ceiling, then it rests', () => {
  const m = new MtuSearch();
  assert.is(m.mtu(1500), 1500, 'off until a black hole');
  assert.is(m.nextProbe(1500, 0), 0);
  assert.ok(m.blackHole(1500, 0));
  assert.is(m.mtu(1500), 1064);
  assert.ok(m.blackHole(1500, 0));
  assert.is(m.mtu(1500), 552);
  assert.not.ok(m.blackHole(1500, 0), 'never below MSS 512');
  assert.is(m.mtu(1500), 552);
  const path = 1000; // what the path really takes
  const sizes: number[] = [];
  for (let now = 1; ; now++) {
    const p = m.nextProbe(1500, now);
    if (p === 0) break;
    sizes.push(p);
    m.probeSent(p, 0, 1);
    if (p <= path) m.probeAcked(now);
    else m.probeLost();
  }
  assert.equal(sizes, [807, 935, 999, 1031, 1014, 1006]);
  assert.is(m.mtu(1500), 999);
  // After tcp_probe_interval, the search starts over up to the path's bound.
  assert.is(m.nextProbe(1500, 100 + PROBE_INTERVAL_MS), (999 + 1500) >> 1);
});

test.run();
