// The sender's SACK scoreboard (RFC 2018, RFC 6675 §4) on its own: ranges
// kept sorted, disjoint and merged; what lies at or below SND.UNA forgotten;
// the queries IsLost, SetPipe and NextSeg are built on. All numbers are
// relative to B = 2^32 - 256, so most ranges cross the wrap of the sequence
// space.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Scoreboard } from '../../../src/tcp/sack.js';
import { seqAdd, seqSub } from '../../../src/wire/seq.js';

const B = 0xffffff00;
/** Sequence number B + n (wrapped). */
const S = (n: number): number => seqAdd(B, n);
const blocks = (...bs: Array<[number, number]>): Array<[number, number]> => bs.map(([l, r]): [number, number] => [S(l), S(r)]);
/** The scoreboard's ranges, relative to B. */
const view = (sb: Scoreboard): Array<[number, number]> => sb.toArray().map(([l, r]): [number, number] => [seqSub(l, B), seqSub(r, B)]);

/** SND.UNA = B + 0, SND.MAX = B + 10000 unless said otherwise. */
function board(...bs: Array<[number, number]>): Scoreboard {
  const sb = new Scoreboard();
  sb.update(blocks(...bs), S(0), S(10000));
  return sb;
}

test('an empty scoreboard', () => {
  const sb = new Scoreboard();
  assert.ok(sb.isEmpty);
  assert.is(sb.sackedBytes, 0);
  assert.is(sb.highestSacked(S(7)), S(7), 'fallback');
  assert.is(sb.skipSacked(S(100)), S(100));
  assert.is(sb.nextSackedAfter(S(100), S(900)), S(900));
  assert.equal(sb.sackedAbove(S(0)), { bytes: 0, ranges: 0 });
  assert.is(sb.isSacked(S(0)), false);
});

test('disjoint blocks are kept sorted, whatever order they arrive in', () => {
  const sb = new Scoreboard();
  assert.equal(sb.update(blocks([3000, 4000], [1000, 2000]), S(0), S(10000)), { fresh: 2, ignored: 0 });
  assert.equal(sb.update(blocks([5000, 6000]), S(0), S(10000)), { fresh: 1, ignored: 0 });
  assert.equal(view(sb), [[1000, 2000], [3000, 4000], [5000, 6000]]);
  assert.is(sb.sackedBytes, 3000);
  assert.is(sb.isEmpty, false);
  assert.is(sb.highestSacked(S(0)), S(6000));
});

test('overlapping and touching blocks merge; a block over several ranges joins them', () => {
  const sb = board([1000, 2000], [3000, 4000], [5000, 6000]);
  // Touching on the right of 1000:2000 and on the left of 3000:4000: one range.
  assert.equal(sb.update(blocks([2000, 3000]), S(0), S(10000)), { fresh: 1, ignored: 0 });
  assert.equal(view(sb), [[1000, 4000], [5000, 6000]]);
  // Overlapping the end of one range and the start of the next.
  sb.update(blocks([3500, 5500]), S(0), S(10000));
  assert.equal(view(sb), [[1000, 6000]]);
  assert.is(sb.sackedBytes, 5000);
  // Extending to the left and to the right.
  sb.update(blocks([500, 1200], [5900, 7000]), S(0), S(10000));
  assert.equal(view(sb), [[500, 7000]]);
  assert.is(sb.sackedBytes, 6500);
});

test('a block entirely inside a range is not fresh (nothing new); a partly new one is', () => {
  const sb = board([1000, 3000]);
  assert.equal(sb.update(blocks([1500, 2500]), S(0), S(10000)), { fresh: 0, ignored: 0 });
  assert.equal(sb.update(blocks([1000, 3000]), S(0), S(10000)), { fresh: 0, ignored: 0 });
  assert.equal(sb.update(blocks([2500, 3001]), S(0), S(10000)), { fresh: 1, ignored: 0 });
  assert.equal(view(sb), [[1000, 3001]]);
});

test('RFC 2883 / RFC 6675: D-SACK blocks at or below SND.UNA, empty or reversed blocks, and blocks past SND.MAX are ignored', () => {
  const sb = new Scoreboard();
  const r = sb.update(
    blocks(
      [-1000, 0], // at or below SND.UNA: a D-SACK
      [500, 500], // empty
      [900, 800], // reversed
      [9500, 10001], // beyond SND.MAX
      [-10, 100], // starts below SND.UNA (Linux: invalid unless a D-SACK)
      [2000, 3000], // good
    ),
    S(0),
    S(10000),
  );
  assert.equal(r, { fresh: 1, ignored: 5 });
  assert.equal(view(sb), [[2000, 3000]]);
  // A block ending exactly at SND.MAX is fine.
  assert.equal(sb.update(blocks([9000, 10000]), S(0), S(10000)), { fresh: 1, ignored: 0 });
});

test('ackTo: ranges at or below the new SND.UNA go, a range it cuts is trimmed', () => {
  const sb = board([1000, 2000], [3000, 4000], [5000, 6000]);
  sb.ackTo(S(2000));
  assert.equal(view(sb), [[3000, 4000], [5000, 6000]]);
  assert.is(sb.sackedBytes, 2000);
  sb.ackTo(S(3500));
  assert.equal(view(sb), [[3500, 4000], [5000, 6000]]);
  assert.is(sb.sackedBytes, 1500);
  sb.ackTo(S(6000));
  assert.ok(sb.isEmpty);
  assert.is(sb.sackedBytes, 0);
});

test('RFC 6675 IsLost inputs: sackedAbove counts bytes strictly above a sequence number and the ranges they form', () => {
  const sb = board([1000, 2000], [3000, 4000], [5000, 6000]);
  assert.equal(sb.sackedAbove(S(0)), { bytes: 3000, ranges: 3 });
  assert.equal(sb.sackedAbove(S(2000)), { bytes: 2000, ranges: 2 });
  // Inside a range: only the bytes after seq count ("greater than SeqNum").
  assert.equal(sb.sackedAbove(S(3000)), { bytes: 1999, ranges: 2 });
  assert.equal(sb.sackedAbove(S(3999)), { bytes: 1000, ranges: 1 });
  assert.equal(sb.sackedAbove(S(6000)), { bytes: 0, ranges: 0 });
});

test('NextSeg inputs: skipSacked, nextSackedAfter, isSacked, highestSacked', () => {
  const sb = board([1000, 2000], [3000, 4000]);
  assert.is(sb.skipSacked(S(0)), S(0));
  assert.is(sb.skipSacked(S(1000)), S(2000));
  assert.is(sb.skipSacked(S(1999)), S(2000));
  assert.is(sb.skipSacked(S(2000)), S(2000));
  assert.is(sb.skipSacked(S(3500)), S(4000));
  assert.is(sb.nextSackedAfter(S(0), S(10000)), S(1000));
  assert.is(sb.nextSackedAfter(S(1000), S(10000)), S(3000), 'strictly after');
  assert.is(sb.nextSackedAfter(S(2000), S(2500)), S(2500), 'capped at the limit');
  assert.is(sb.nextSackedAfter(S(4000), S(10000)), S(10000));
  assert.is(sb.isSacked(S(999)), false);
  assert.is(sb.isSacked(S(1000)), true);
  assert.is(sb.isSacked(S(1999)), true);
  assert.is(sb.isSacked(S(2000)), false);
  assert.is(sb.highestSacked(S(0)), S(4000));
});

test('wraparound: ranges across 2^32 merge, trim and compare like any others', () => {
  // B + 256 = 2^32 = 0: these straddle the wrap.
  const sb = new Scoreboard();
  sb.update([[S(200), S(300)]], S(0), S(10000));
  assert.equal(sb.toArray(), [[0xffffffc8, 0x2c]]);
  sb.update([[S(300), S(400)], [S(100), S(150)]], S(0), S(10000));
  assert.equal(view(sb), [[100, 150], [200, 400]]);
  assert.is(sb.sackedBytes, 250);
  assert.equal(sb.sackedAbove(S(250)), { bytes: 149, ranges: 1 });
  assert.is(sb.skipSacked(S(255)), S(400));
  assert.is(sb.isSacked(0), true);
  assert.is(sb.nextSackedAfter(S(150), S(10000)), 0xffffffc8);
  sb.ackTo(S(256)); // SND.UNA = 0
  assert.equal(sb.toArray(), [[0, 0x90]]);
  assert.is(sb.sackedBytes, 144);
  // SND.UNA just below 2^32, SND.MAX beyond it.
  const sb2 = new Scoreboard();
  assert.equal(sb2.update([[0xfffffff0, 0x10], [0x10, 0x20]], 0xffffffe0, 0x100), { fresh: 2, ignored: 0 });
  assert.equal(sb2.toArray(), [[0xfffffff0, 0x20]]);
  assert.equal(sb2.update([[0xffffffd0, 0xffffffe0]], 0xffffffe0, 0x100), { fresh: 0, ignored: 1 }, 'D-SACK below SND.UNA across the wrap');
});

test('clear() empties the scoreboard', () => {
  const sb = board([1000, 2000]);
  sb.clear();
  assert.ok(sb.isEmpty);
  assert.is(sb.sackedBytes, 0);
  assert.equal(sb.toArray(), []);
});

test('lostBoundary agrees with IsLost from sackedAbove for every sequence number, across 2^32', () => {
  let seed = 99;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const una = (0xffffff00 + rnd(512)) >>> 0;
    const nxt = seqAdd(una, 4000);
    const sb = new Scoreboard();
    const blocks: Array<[number, number]> = [];
    for (let k = rnd(6); k > 0; k--) {
      const a = seqAdd(una, 1 + rnd(3500));
      blocks.push([a, seqAdd(a, 1 + rnd(400))]);
    }
    sb.update(blocks, una, nxt);
    const mss = 100 + rnd(400);
    const thresh = 3 + rnd(3);
    const boundary = sb.lostBoundary(mss, thresh, una);
    for (let off = 0; off < 4000; off += 7) {
      const s = seqAdd(una, off);
      const above = sb.sackedAbove(s);
      const lost = above.ranges >= thresh || above.bytes > (thresh - 1) * mss;
      assert.is(seqSub(s, boundary) < 0, lost, `round ${round} offset ${off}`);
    }
  }
});

test.run();
