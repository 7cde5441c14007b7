// The shards' ephemeral port slices (src/shard/ports.ts): disjoint, covering
// Linux's ip_local_port_range, and shardOfPort inverts them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EPHEMERAL_HIGH, EPHEMERAL_LOW, MAX_QUEUES, shardOfPort, shardPorts } from '../../../src/shard/ports.js';

test('slices are disjoint, in order, and cover the range; shardOfPort inverts them', () => {
  for (const n of [1, 2, 3, 7, 16, 255, MAX_QUEUES]) {
    let next = EPHEMERAL_LOW;
    for (let i = 0; i < n; i++) {
      const [low, high] = shardPorts(i, n);
      assert.is(low, next, `n=${n} i=${i}`);
      assert.ok(high >= low);
      for (const p of [low, high, (low + high) >> 1]) assert.is(shardOfPort(p, n), i, `n=${n} port ${p}`);
      next = high + 1;
    }
    assert.is(next, EPHEMERAL_HIGH + 1);
  }
});

test('ports outside the ephemeral range belong to no shard (listeners are in every shard)', () => {
  for (const p of [1, 80, 5000, EPHEMERAL_LOW - 1, EPHEMERAL_HIGH + 1, 65535]) assert.is(shardOfPort(p, 2), -1);
});

test.run();
