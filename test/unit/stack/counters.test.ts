// Counters: names and slots count into the same place; snapshot() shows what was counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Counters } from '../../../src/stack/counters.js';

test('inc(name) and add(slot) count the same counter; never counted reads 0', () => {
  const c = new Counters();
  const s = c.slot('ip_in');
  assert.is(c.slot('ip_in'), s, 'one slot per name');
  c.add(s);
  c.inc('ip_in', 2);
  c.add(s, 3);
  assert.is(c.get('ip_in'), 6);
  assert.is(c.get('nothing'), 0);
});

test('snapshot: sorted, only counters that were counted (a slot taken but unused is left out)', () => {
  const c = new Counters();
  c.slot('tcp_in');
  c.inc('zz');
  c.inc('aa', 4);
  assert.equal(Object.entries(c.snapshot()), [['aa', 4], ['zz', 1]]);
});

test('slots keep counting when the array grows past its first size', () => {
  const c = new Counters();
  const first = c.slot('first');
  for (let i = 0; i < 300; i++) c.inc(`n${i}`, i);
  c.add(first, 7);
  assert.is(c.get('first'), 7);
  assert.is(c.get('n299'), 299);
  assert.is(Object.keys(c.snapshot()).length, 300, 'n0 was counted by 0: left out');
});

test.run();
