// Send-buffer accounting as Linux 6.18 does it (wmem.ts): skbs of size_goal,
// SKB_OVERHEAD per skb, cut where sending stops and every tso bytes; ACKs
// free whole skbs. Numbers from packetdrill against Linux 6.18 (sndbuf-skb.pkt).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SKB_OVERHEAD, WriteQueueMem, sizeGoal, tsoBytes } from '../../../src/tcp/wmem.js';

/** tcp_sendmsg with `len` bytes, pushing `cwnd` bytes after the first skb fills. */
function write(w: WriteQueueMem, sndBuf: number, goal: number, len: number, sent: () => number): number {
  let done = 0;
  for (let n = Math.min(w.nextPiece(sndBuf, goal), len); n > 0; n = Math.min(w.nextPiece(sndBuf, goal), len - done)) {
    w.append(n, goal);
    done += n;
    w.sent(sent(), 10_000, true);
  }
  return done;
}

test('size_goal: half the largest window, whole segments, at most 64 KB', () => {
  assert.is(sizeGoal(1000, 50_000), 25_000);
  assert.is(sizeGoal(1000, 10_000 << 8), 65_000);
  assert.is(sizeGoal(1460, 500), 1460);
  assert.is(tsoBytes(1000, 200_000, 10), 10_000);
  assert.is(tsoBytes(1000, 200_000, 2), 2000);
});

test('a write takes whole skbs while below SO_SNDBUF, overshooting by one', () => {
  for (const [buf, took] of [[39_980, 35_000], [40_000, 60_000], [42_000, 60_000], [80_000, 85_000]] as const) {
    const w = new WriteQueueMem();
    assert.is(write(w, buf, 25_000, 100_000, () => 10_000), took, `sndbuf ${buf}`);
  }
});

test('ACKs free whole skbs only; cuts every tso bytes and at the burst end', () => {
  const w = new WriteQueueMem();
  write(w, 42_000, 25_000, 61_000, () => 10_000);
  assert.is(w.queued, 60_000 + 3 * SKB_OVERHEAD);
  w.ack(10_000);
  w.sent(20_000, 10_000, true); // cwnd 20: [10000,20000) [20000,30000) [30000,35000)
  assert.is(w.queued, 50_000 + 4 * SKB_OVERHEAD);
  w.ack(20_000);
  w.sent(30_000, 10_000, true); // the rest: [30000,35000) and three skbs of C
  assert.is(w.queued, 30_000 + 4 * SKB_OVERHEAD);
  w.ack(6000); // 36000: C's first skb only partly
  assert.is(w.queued, 25_000 + 3 * SKB_OVERHEAD);
  w.ack(4000);
  assert.is(w.queued, 25_000 + 3 * SKB_OVERHEAD);
  w.ack(5000);
  assert.is(w.queued, 15_000 + 2 * SKB_OVERHEAD);
  assert.ok(w.queued * 3 <= 42_000 * 2);
  w.ack(15_000);
  assert.is(w.queued, 0);
});

test('the ring of skb ends grows and compacts without losing order', () => {
  const w = new WriteQueueMem();
  for (let i = 0; i < 500; i++) {
    w.append(1000, 1000);
    w.sent(1000, 1000, true);
    if (i % 3 === 0) w.ack(1000);
  }
  const live = 500 - 167;
  assert.is(w.queued, live * (1000 + SKB_OVERHEAD));
});

test('a cut that makes the ring compact lands on the right skb', () => {
  const w = new WriteQueueMem();
  for (let i = 0; i < 63; i++) w.append(1000, 1000); // 63 skbs ...
  w.sent(63_000, 1000, true);
  w.append(5000, 5000); // ... and a 64th: the ring (64 slots) is full
  w.ack(1000); // the ring starts at slot 1
  w.sent(62_000 + 5000, 1000, true); // cuts the last skb in five: the ring compacts first
  assert.is(w.queued, 62_000 + 5000 + 67 * SKB_OVERHEAD);
  w.ack(62_000 + 2000);
  assert.is(w.queued, 3000 + 3 * SKB_OVERHEAD);
  w.ack(3000);
  assert.is(w.queued, 0);
});

test.run();
