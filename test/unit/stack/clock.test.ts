import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../../src/stack/clock.js';
import { TimerHeap } from '../../../src/stack/timer-heap.js';

test('virtual clock fires timers in time order, ties in insertion order', () => {
  const c = new VirtualClock(1000);
  const seen: string[] = [];
  c.at(1030, () => seen.push('c'));
  c.at(1010, () => seen.push('a'));
  c.at(1010, () => seen.push('b'));
  const d = c.at(1020, () => seen.push('cancelled'));
  c.cancel(d);
  c.cancel(d);
  c.advance(25);
  assert.equal(seen, ['a', 'b']);
  assert.is(c.now(), 1025);
  c.advance(5);
  assert.equal(seen, ['a', 'b', 'c']);
  assert.is(c.pending, 0);
});

test('timers scheduled by a timer for an earlier time run at the current time', () => {
  const c = new VirtualClock();
  const seen: number[] = [];
  c.at(10, () => {
    seen.push(c.now());
    c.at(5, () => seen.push(c.now()));
  });
  c.advance(100);
  assert.equal(seen, [10, 10]);
});

test('run stops when the predicate holds', () => {
  const c = new VirtualClock();
  let n = 0;
  const tick = () => { n++; c.at(c.now() + 7, tick); };
  c.at(7, tick);
  assert.ok(c.run(1000, () => n === 3));
  assert.is(c.now(), 21);
  assert.not.ok(c.run(10, () => n === 100));
  assert.is(c.now(), 31);
});

test('heap stays ordered under random pushes and cancels', () => {
  const h = new TimerHeap();
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const live = new Set<number>();
  const timers = [];
  for (let i = 0; i < 2000; i++) {
    const t = Math.floor(rnd() * 1000);
    const timer = h.push(t, () => fired.push(t));
    timers.push({ timer, t });
  }
  for (const { timer } of timers) if (rnd() < 0.3) h.cancel(timer);
  for (const { timer, t } of timers) if (timer.index >= 0) live.add(t);
  const fired: number[] = [];
  h.runDue(Infinity);
  for (let i = 1; i < fired.length; i++) assert.ok(fired[i - 1]! <= fired[i]!);
  assert.is(h.size, 0);
  assert.ok(fired.length > 1000);
});

test.run();
