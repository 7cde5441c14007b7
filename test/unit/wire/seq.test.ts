import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub } from '../../../src/wire/seq.js';

const MAX = 0xffffffff;

test('comparisons wrap around 2^32 (RFC 9293 §3.4)', () => {
  assert.ok(seqLt(MAX, 0));
  assert.ok(seqLt(MAX - 10, 5));
  assert.ok(seqGt(5, MAX - 10));
  assert.ok(seqLe(MAX, MAX));
  assert.ok(seqGe(0, MAX));
  assert.not.ok(seqLt(0, MAX));
  assert.not.ok(seqGt(MAX, 0));
  assert.ok(seqLt(1, 2));
  assert.not.ok(seqLt(2, 2));
  assert.ok(seqLe(2, 2));
  // 2^31 - 1 ahead is still "after"; at exactly 2^31 the sign flips.
  assert.ok(seqGt(0x7fffffff, 0));
  assert.ok(seqLt(0x80000000, 0));
});

test('add and subtract stay in 0..2^32-1 and give signed distances', () => {
  assert.is(seqAdd(MAX, 1), 0);
  assert.is(seqAdd(MAX, 10), 9);
  assert.is(seqAdd(5, -10), MAX - 4);
  assert.is(seqAdd(0, 0x100000000), 0);
  assert.is(seqSub(4, MAX - 5), 10);
  assert.is(seqSub(MAX - 5, 4), -10);
  assert.is(seqSub(0x80000000, 0), -0x80000000);
  assert.is(seqSub(0x7fffffff, 0), 0x7fffffff);
  assert.is(seqSub(123, 123), 0);
});

test('window membership is half-open and wraps', () => {
  const start = MAX - 2;
  assert.ok(seqInWindow(MAX - 2, start, 5));
  assert.ok(seqInWindow(MAX, start, 5));
  assert.ok(seqInWindow(1, start, 5));
  assert.not.ok(seqInWindow(2, start, 5));
  assert.not.ok(seqInWindow(MAX - 3, start, 5));
  assert.not.ok(seqInWindow(start, start, 0));
  assert.ok(seqInWindow(7, 7, 1));
  assert.not.ok(seqInWindow(8, 7, 1));
});

test('max and min pick by sequence order, not numeric order', () => {
  assert.is(seqMax(MAX, 3), 3);
  assert.is(seqMin(MAX, 3), MAX);
  assert.is(seqMax(10, 20), 20);
  assert.is(seqMin(10, 20), 10);
});

test.run();
