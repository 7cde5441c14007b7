// Received payload copies from shared slabs: independent of the source
// memory, never overlapping each other, large ones on their own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyPayload } from '../../../src/tcp/copy-pool.js';

test('copies survive reuse of the source and do not overlap', () => {
  const src = Buffer.alloc(1460);
  const copies: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    src.fill(i & 0xff);
    copies.push(copyPayload(src.subarray(0, 1 + (i % 1460))));
  }
  src.fill(0xee);
  copies.forEach((c, i) => {
    assert.is(c.length, 1 + (i % 1460));
    assert.ok(c.every((b) => b === (i & 0xff)), `copy ${i}`);
  });
});

test('a super-segment payload gets a buffer of its own', () => {
  const big = Buffer.alloc(64000, 7);
  const c = copyPayload(big);
  assert.is(c.length, 64000);
  assert.is(c.byteOffset, 0);
  assert.is(c.buffer.byteLength, 64000);
  big.fill(1);
  assert.is(c[63999], 7);
});

test.run();
