// The receive buffer under a peer that cuts its data finely: out-of-order
// ranges joined in a tree (O(log n) per segment), a bound on the number of
// out-of-order chunks that never hurts a legitimate sender, and small
// payloads packed so one-byte segments do not make one Buffer each.
// Exact segments where the wire shows it, the buffer itself where not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../../../src/tcp/config.js';
import { ReceiveBuffer } from '../../../src/tcp/reassembly.js';
import { Prng } from '../../../src/link/prng.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { P, Script, U, established, peerBytes, type OutSpec } from './script.js';
import { recv, expect, TS, SACK, PT, TV, open } from './options-script.js';

/** Peer data [from, to) of its stream (relative to its ISN), sent at `at` with TSval PT(at). */
function data(t: Script, at: number, from: number, to: number): void {
  recv(t, at, { f: '.', seq: P(from), ack: U(1), len: to - from, ts: [PT(at), TV(100)] });
}

/** Our pure ACK with SACK blocks relative to the peer's ISN. */
function ackOut(at: number, ack: number, win: number, ecr: number, ...blocks: Array<[number, number]>): OutSpec {
  return { f: '.', seq: U(1), ack: P(ack), win, opts: [...TS(TV(at), ecr), ...(blocks.length > 0 ? SACK(...blocks) : [])] };
}

/** Active open with the defaults (256 KiB receive buffer, shift 3), SACK, timestamps, and a peer that scales too. */
function openDefault(cfg: Partial<TcpConfig> = {}): Script {
  const t = new Script({ ...DEFAULT_TCP_CONFIG, rcvBuf: 256 * 1024, ...cfg }); // a fixed 256 KiB buffer
  t.connect(0);
  t.takeOut();
  recv(t, 100, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1460, sackOK: true, ts: [PT(100), TV(0)], wscale: 7 });
  t.takeOut();
  assert.is(t.state, 'ESTABLISHED', 'setup: handshake');
  return t;
}

/** Segments of `size` bytes from `from` up to the right edge of a 256 KiB window at RCV.NXT = 1. */
function fillWindowAbove(t: Script, from: number, size: number): number {
  let n = 0;
  for (let s = from; s + size <= 1 + 256 * 1024; s += size, n++) {
    data(t, 200, s, s + size);
    t.takeOut();
  }
  return n;
}

// ------------------------------------------------------------ joining

test('adjacent out-of-order pieces join into one range (one SACK block); small ones into one chunk', () => {
  const t = open();
  data(t, 200, 101, 201);
  expect(t, ackOut(200, 1, 4000, PT(100), [101, 201]));
  data(t, 210, 201, 301);
  // 0.210 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+210 ecr PT(100),nop,nop,sack 101:301>
  expect(t, ackOut(210, 1, 4000, PT(100), [101, 301]));
  assert.equal(t.conn.recvBuffer.sackRanges(), [[P(101), P(301)]]);
  // The second copy landed right after the first in the packing region: one Buffer for both.
  assert.equal(t.conn.recvBuffer.outOfOrderRanges(), [[P(101), P(301)]]);
  assert.is(t.conn.recvBuffer.outOfOrderChunks, 1);
  data(t, 220, 1, 101);
  expect(t, ackOut(220, 301, 3700, PT(220)));
  assert.equal(t.read(230), peerBytes(0, 300));
});

test('a segment over several held ranges fills only the gaps (first copy wins) and joins them all', () => {
  const t = open();
  for (const [at, from] of [[200, 301], [210, 601], [220, 901]] as const) {
    data(t, at, from, from + 100);
    t.takeOut();
  }
  // 0.230 < . 201:951(750)   (covers 301:401 and 601:701, overlaps 901:1001)
  data(t, 230, 201, 951);
  expect(t, ackOut(230, 1, 4000, PT(100), [201, 1001]));
  assert.equal(t.conn.recvBuffer.sackRanges(), [[P(201), P(1001)]]);
  assert.is(t.conn.recvBuffer.used, 800);
  data(t, 240, 1, 201);
  expect(t, ackOut(240, 1001, 3000, PT(240)));
  assert.equal(t.read(250), peerBytes(0, 1000));
});

test('RFC 2883 §4.2: a duplicate of data held across two arrivals is reported as a D-SACK, then the block holding it', () => {
  const t = open();
  data(t, 200, 1001, 2001);
  t.takeOut();
  data(t, 210, 2001, 3001);
  t.takeOut();
  // 0.220 < . 1501:2501(1000)   (already held, half from each arrival)
  data(t, 220, 1501, 2501);
  expect(t, ackOut(220, 1, 4000, PT(100), [1501, 2501], [1001, 3001]));
  // Partly new data is not a duplicate: no D-SACK.
  data(t, 230, 2501, 3501);
  expect(t, ackOut(230, 1, 4000, PT(100), [1001, 3501]));
});

// ------------------------------------------------------------ the bound

test('the out-of-order chunks are bounded (capacity/512 = 512 for 256 KiB): one more is dropped and counted, its ACK SACKs what is held', () => {
  const t = openDefault();
  assert.is(t.conn.recvBuffer.maxChunks, 512);
  // One-byte segments above one-byte holes: 2, 4, 6, ..., 1024.
  for (let k = 1; k <= 512; k++) {
    data(t, 200, 2 * k, 2 * k + 1);
    t.takeOut();
  }
  assert.is(t.conn.recvBuffer.outOfOrderChunks, 512);
  assert.is(t.counters.get('tcp_ofo_dropped'), 0);
  // 0.300 < . 1026:1027(1)
  data(t, 300, 1026, 1027);
  // Still ACKed at once (RFC 5681 §4.2), with the newest blocks still held; the window is unchanged.
  // 0.300 > . 1:1(0) ack 1 win 32768 <nop,nop,TS val X+300 ecr PT(100),nop,nop,sack 1024:1025 1022:1023 1020:1021>
  expect(t, ackOut(300, 1, 32768, PT(100), [1024, 1025], [1022, 1023], [1020, 1021]));
  assert.is(t.counters.get('tcp_ofo_dropped'), 1);
  assert.is(t.conn.recvBuffer.used, 512);
  // In-order data is never refused for it: the hole at 1 fills and 2 drains.
  data(t, 310, 1, 2);
  expect(t, ackOut(310, 3, 32768, PT(310), [1024, 1025], [1022, 1023], [1020, 1021]));
  assert.is(t.conn.recvBuffer.outOfOrderChunks, 511);
});

test('a legitimate sender is not hurt: a full window of 1448-byte segments above one hole is held completely', () => {
  const t = openDefault();
  const n = fillWindowAbove(t, 1449, 1448);
  assert.is(n, 180);
  assert.is(t.counters.get('tcp_ofo_dropped'), 0);
  assert.is(t.counters.get('tcp_rcvbuf_full'), 0);
  assert.is(t.conn.recvBuffer.used, 180 * 1448);
  data(t, 300, 1, 1449);
  t.takeOut();
  assert.equal(t.read(310), peerBytes(0, 181 * 1448));
});

test('... nor one of 536-byte segments (the RFC 9293 default MSS: 488 chunks)', () => {
  const t = openDefault();
  const n = fillWindowAbove(t, 537, 536);
  assert.is(n, 488);
  assert.is(t.counters.get('tcp_ofo_dropped'), 0);
  assert.is(t.conn.recvBuffer.outOfOrderChunks, 488);
  data(t, 300, 1, 537);
  t.takeOut();
  assert.equal(t.read(310), peerBytes(0, 489 * 536));
});

test('... nor one of 100-byte segments: adjacent small pieces are packed into few chunks', () => {
  const t = openDefault();
  const n = fillWindowAbove(t, 101, 100);
  assert.is(n, 2620);
  assert.is(t.counters.get('tcp_ofo_dropped'), 0);
  assert.ok(t.conn.recvBuffer.outOfOrderChunks <= 140, `${t.conn.recvBuffer.outOfOrderChunks} chunks`);
  data(t, 300, 1, 101);
  t.takeOut();
  assert.equal(t.read(310), peerBytes(0, 2621 * 100));
});

// ------------------------------------------------------------ cost

/** Tree nodes visited for `n` one-byte segments above one-byte holes, each ACKed with SACK blocks. */
function stepsFor(n: number): number {
  const t = openDefault({ rcvBuf: 8 * 1024 * 1024 });
  const before = t.conn.recvBuffer.treeSteps;
  for (let k = 1; k <= n; k++) {
    data(t, 200, 2 * k, 2 * k + 1);
    t.takeOut();
  }
  assert.is(t.conn.recvBuffer.outOfOrderChunks, n, 'all held');
  return t.conn.recvBuffer.treeSteps - before;
}

test('out-of-order segments cost O(log n) each, SACK blocks included: doubling n doubles the work, not quadruples it', () => {
  const a = stepsFor(2000);
  const b = stepsFor(4000);
  // Each segment: a D-SACK lookup, the insert, and the SACK blocks of its ACK (8 recency lookups, then the highest ranges).
  assert.ok(b / a < 2.4, `2000: ${a} steps, 4000: ${b} steps`);
  assert.ok(b / 4000 < 20 * Math.log2(4000), `${b / 4000} steps per segment`);
});

// ------------------------------------------------------------ in order

test('one-byte in-order segments the application does not read make few Buffers (packed), not one each', () => {
  const t = established();
  for (let i = 0; i < 4000; i++) {
    t.recv(200, { f: '.', seq: P(1 + i), ack: U(1), len: 1 });
    t.takeOut();
  }
  const got = t.conn.read(300);
  assert.ok(got.length <= 3, `${got.length} Buffers for 4000 bytes`);
  assert.equal(Buffer.concat(got), peerBytes(0, 4000));
});

test('small out-of-order pieces drained into the ready list are packed too', () => {
  const t = established();
  // 30 one-byte pieces above one-byte holes, then the holes filled one by one.
  for (let k = 1; k <= 30; k++) {
    t.recv(200, { f: '.', seq: P(2 * k), ack: U(1), len: 1 });
    t.takeOut();
  }
  for (let k = 0; k <= 30; k++) {
    t.recv(210, { f: '.', seq: P(2 * k + 1), ack: U(1), len: 1 });
    t.takeOut();
  }
  const got = t.conn.read(300);
  assert.ok(got.length <= 2, `${got.length} Buffers for 61 bytes`);
  assert.equal(Buffer.concat(got), peerBytes(0, 61));
});

// ------------------------------------------------------------ against a model

test('the receive buffer agrees with a byte-by-byte model over random segments (across 2^32)', () => {
  const rng = new Prng(7);
  const W = 3000;
  const stream = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 131 + (i >> 8)) & 0xff));
  for (let round = 0; round < 12; round++) {
    const base = (0xffffffff - rng.int(5000)) >>> 0;
    const abs = (i: number): number => seqAdd(base, i);
    const buf = new ReceiveBuffer(1024 * 1024);
    /** held[i]: byte i (relative to base) is held out of order. */
    const held = new Uint8Array(stream.length);
    let nxt = 0;
    /** One past the highest byte ever held. */
    let top = 0;
    const out: Buffer[] = [];
    for (let op = 0; op < 250; op++) {
      if (rng.int(4) === 0) {
        // In order: RCV.NXT moves over the new bytes, then over what was held.
        const len = 1 + rng.int(400);
        buf.pushInOrder(stream.subarray(nxt, nxt + len));
        const d = buf.drainInOrder(abs(nxt + len));
        const old = nxt;
        nxt += len;
        while (held[nxt]) nxt++;
        held.fill(0, old, nxt);
        assert.is(d.rcvNxt, abs(nxt), 'RCV.NXT');
        assert.is(d.fin, false);
      } else {
        const from = nxt + 1 + rng.int(W);
        const len = 1 + rng.int(rng.int(2) === 0 ? 8 : 1500);
        assert.ok(buf.storeOutOfOrder(abs(from), stream.subarray(from, from + len), false));
        held.fill(1, from, from + len);
        top = Math.max(top, from + len);
      }
      // The ranges are the maximal runs of held bytes.
      const runs: Array<[number, number]> = [];
      let count = 0;
      for (let i = held.indexOf(1, nxt); i !== -1 && i < top; i = held.indexOf(1, i)) {
        const s = i;
        i = held.indexOf(0, i);
        runs.push([s, i]);
        count += i - s;
      }
      const absRuns = runs.map(([a, b]): [number, number] => [abs(a), abs(b)]);
      assert.equal(buf.sackRanges(), absRuns, `round ${round} op ${op}`);
      assert.is(buf.used - buf.readable, count);
      const probe = nxt + rng.int(W);
      const r = runs.find(([a, b]) => probe >= a && probe < b);
      assert.equal(buf.rangeAt(abs(probe)), r === undefined ? null : [abs(r[0]), abs(r[1])]);
      assert.is(buf.holds(abs(probe), abs(probe + 2)), r !== undefined && probe + 2 <= r[1]);
      assert.equal(buf.lastRange(), absRuns[absRuns.length - 1] ?? null);
      if (absRuns.length > 1) assert.equal(buf.rangeBelow(absRuns[absRuns.length - 1]![0]), absRuns[absRuns.length - 2]);
      if (rng.int(3) === 0) out.push(...buf.take(rng.int(3000)));
    }
    out.push(...buf.take());
    assert.ok(Buffer.concat(out).equals(stream.subarray(0, nxt)), `round ${round}: the stream as sent`);
  }
});

test('a FIN held out of order: reached when the data before it is; no data is kept beyond it', () => {
  const buf = new ReceiveBuffer(4000);
  const base = 0xfffffff0;
  const bytes = peerBytes(0, 300);
  buf.storeOutOfOrder(seqAdd(base, 100), bytes.subarray(100, 200), true);
  // Data beyond the FIN the peer sent first is not kept; nor is a second FIN elsewhere.
  buf.storeOutOfOrder(seqAdd(base, 150), bytes.subarray(150, 300), true);
  assert.equal(buf.sackRanges(), [[seqAdd(base, 100), seqAdd(base, 200)]]);
  assert.ok(buf.hasOutOfOrder);
  buf.pushInOrder(bytes.subarray(0, 100));
  assert.equal(buf.drainInOrder(seqAdd(base, 100)), { rcvNxt: seqAdd(base, 200), fin: true });
  assert.ok(!buf.hasOutOfOrder);
  assert.equal(Buffer.concat(buf.take()), bytes.subarray(0, 200));
});

test.run();
