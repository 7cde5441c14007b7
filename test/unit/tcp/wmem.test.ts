// Send-buffer accounting as Linux 6.18 does it (wmem.ts): skbs of size_goal,
// SKB_OVERHEAD per skb, cut where sending stops and where each TSO packet
// ends; ACKs free whole skbs and trim a partly acknowledged one. Numbers from
// packetdrill against Linux 6.18 under CUBIC (sk_wmem_queued read with
// `ss -tm`; sndbuf-skb.pkt).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SKB_OVERHEAD, WriteQueueMem, sizeGoal } from '../../../src/tcp/wmem.js';

/** tcp_sendmsg with `len` bytes, pushing `cwnd` bytes in TSO packets of `tso` after the first skb fills. */
function write(w: WriteQueueMem, sndBuf: number, goal: number, len: number, sent: () => number, tso = 10_000): number {
  let done = 0;
  for (let n = Math.min(w.nextPiece(sndBuf, goal), len); n > 0; n = Math.min(w.nextPiece(sndBuf, goal), len - done)) {
    w.append(n, goal);
    done += n;
    w.sent(sent(), tso, true);
  }
  return done;
}

test('size_goal: half the largest window, whole segments, at most 64 KB', () => {
  assert.is(sizeGoal(1000, 50_000), 25_000);
  assert.is(sizeGoal(1000, 10_000 << 8), 65_000);
  assert.is(sizeGoal(1460, 500), 1460);
});

test('a write takes whole skbs while below SO_SNDBUF, overshooting by one', () => {
  // cwnd 10 sends two TSO packets of 5000 off the first skb; its unsent rest
  // fills up to size_goal again: 35000 in 3 skbs, then 60000 in 4.
  for (const [buf, took] of [[37_496, 35_000], [37_497, 60_000], [42_000, 60_000], [63_329, 85_000]] as const) {
    const w = new WriteQueueMem();
    assert.is(write(w, buf, 25_000, 100_000, () => 10_000, 5000), took, `sndbuf ${buf}`);
    if (buf === 42_000) assert.is(w.queued, 63_328); // Linux: skmem w63328
  }
});

test('an skb costs 832 bytes beyond its payload; a partial ACK gives back the bytes it covers', () => {
  const w = new WriteQueueMem();
  w.append(5000, 25_000);
  w.sent(5000, 5000, true);
  assert.is(w.queued, 5832); // Linux: w5832
  w.ack(2000);
  assert.is(w.queued, 3832); // Linux: w3832
});

test('ACKs free whole skbs and trim the first; cuts every tso bytes and at the burst end', () => {
  // sndbuf-skb.pkt's course.
  const w = new WriteQueueMem();
  write(w, 42_000, 25_000, 61_000, () => 10_000, 5000);
  assert.is(w.queued, 60_000 + 4 * SKB_OVERHEAD); // [0,5000) [5000,10000) [10000,35000) [35000,60000)
  w.ack(10_000);
  w.sent(20_000, 10_000, true); // cwnd 20: [10000,20000) [20000,30000) [30000,35000)
  assert.is(w.queued, 50_000 + 4 * SKB_OVERHEAD); // Linux: w53328
  w.ack(20_000);
  w.sent(30_000, 10_000, true); // the rest: [30000,35000) [35000,45000) [45000,55000) [55000,60000)
  assert.is(w.queued, 30_000 + 4 * SKB_OVERHEAD);
  w.ack(6000); // 36000: [35000,45000) only partly
  assert.is(w.queued, 24_000 + 3 * SKB_OVERHEAD);
  assert.ok(w.queued * 3 <= 42_000 * 2); // the writer wakes
  w.append(1000, 25_000);
  w.sent(25_000, 10_000, true);
  w.ack(4000);
  assert.is(w.queued, 21_000 + 4 * SKB_OVERHEAD);
  w.ack(5000);
  assert.is(w.queued, 16_000 + 3 * SKB_OVERHEAD); // Linux: w18496
  w.ack(16_000);
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
