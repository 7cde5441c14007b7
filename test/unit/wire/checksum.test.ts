import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { foldChecksum, internetChecksum, pseudoHeaderSum, smallChecksum, sumBytes } from '../../../src/wire/checksum.js';
import { prng, testSeed } from './fixtures.js';

/** Straightforward RFC 1071 reference: 16-bit words, carries folded as we go. */
function naive(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) {
    sum += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
  const b = Buffer.from('0001f203f4f5f6f7', 'hex');
  assert.is(~foldChecksum(sumBytes(b, 0, b.length)) & 0xffff, 0xddf2);
  assert.is(internetChecksum(b), 0x220d);
});

test('checksum over data plus its checksum is zero', () => {
  const b = Buffer.from('0001f203f4f5f6f7220d', 'hex');
  assert.is(internetChecksum(b), 0);
});

test('odd lengths pad the last byte on the right', () => {
  assert.is(internetChecksum(Buffer.from([0xab])), ~0xab00 & 0xffff);
  assert.is(internetChecksum(Buffer.from([0x00, 0x01, 0xff])), ~(0x0001 + 0xff00) & 0xffff);
  assert.is(internetChecksum(Buffer.alloc(0)), 0xffff);
});

test('every start alignment and length matches the 16-bit reference', () => {
  const seed = testSeed();
  const rnd = prng(seed);
  const buf = Buffer.alloc(300);
  for (let i = 0; i < buf.length; i++) buf[i] = (rnd() * 256) | 0;
  for (let start = 0; start < 8; start++) {
    for (let len = 0; len <= 160; len++) {
      const end = start + len;
      assert.is(internetChecksum(buf, start, end), naive(buf, start, end), `seed ${seed} start ${start} len ${len}`);
    }
  }
});

test('smallChecksum (headers) matches the reference at every alignment, with a pseudo-header sum too', () => {
  const seed = testSeed();
  const rnd = prng(seed);
  const buf = Buffer.alloc(100);
  for (let i = 0; i < buf.length; i++) buf[i] = (rnd() * 256) | 0;
  for (let start = 0; start < 4; start++) {
    for (let len = 0; len <= 64; len++) {
      const end = start + len;
      assert.is(smallChecksum(buf, start, end, 0), naive(buf, start, end), `seed ${seed} start ${start} len ${len}`);
      const pseudo = 4 * 0xffff + 6 + len; // the largest a pseudo-header sums to, near enough
      assert.is(smallChecksum(buf, start, end, pseudo), foldChecksum(sumBytes(buf, start, end, pseudo)), `seed ${seed} start ${start} len ${len}`);
    }
  }
  const ff = Buffer.alloc(60, 0xff);
  assert.is(smallChecksum(ff, 0, 60, 4 * 0xffff), foldChecksum(sumBytes(ff, 0, 60, 4 * 0xffff)));
  assert.is(smallChecksum(Buffer.alloc(20), 0, 20, 0), 0xffff, 'all zeros: not a valid checksum');
});

test('random buffers, all 0xff, and 64 KiB agree with the reference', () => {
  const seed = testSeed();
  const rnd = prng(seed);
  for (let n = 0; n < 300; n++) {
    const len = (rnd() * 2000) | 0;
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = (rnd() * 256) | 0;
    assert.is(internetChecksum(b), naive(b, 0, len), `seed ${seed} len ${len}`);
  }
  const ff = Buffer.alloc(65537, 0xff);
  assert.is(internetChecksum(ff), naive(ff, 0, ff.length));
  const big = Buffer.alloc(9 * 1024 * 1024, 0xff); // crosses the periodic fold
  assert.is(internetChecksum(big), naive(big, 0, big.length));
});

test('views at random offsets of a shared buffer, odd lengths and random initial sums agree with the reference', () => {
  // sumBytes reads words of the whole ArrayBuffer (little-endian, swapped at
  // the end): views starting at every byte offset, as pooled Buffers and the
  // TUN receive pool give it, must sum as the plain 16-bit loop does.
  const seed = testSeed();
  const rnd = prng(seed);
  const backing = Buffer.alloc(70_000);
  for (let i = 0; i < backing.length; i++) backing[i] = (rnd() * 256) | 0;
  for (let n = 0; n < 2000; n++) {
    const off = (rnd() * 4096) | 0;
    const view = backing.subarray(off, off + 3100);
    const start = (rnd() * 64) | 0;
    const len = n % 10 === 0 ? ((rnd() * 65000) | 0) % (view.length - start) : ((rnd() * 3000) | 0);
    const end = start + len;
    const initial = (rnd() * 0x40000) | 0;
    const want = naive(view, start, end);
    // The reference with `initial` folded in: ones'-complement add of ~want's sum and initial.
    let s = (~want & 0xffff) + initial;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    assert.is(foldChecksum(sumBytes(view, start, end, initial)), ~s & 0xffff, `seed ${seed} off ${off} start ${start} len ${len} initial ${initial}`);
    assert.is(internetChecksum(view, start, end), want, `seed ${seed} off ${off} start ${start} len ${len}`);
  }
  const rndBig = Buffer.alloc(3 * 1024 * 1024 + 5); // crosses the periodic fold with mixed words
  for (let i = 0; i < rndBig.length; i++) rndBig[i] = (rnd() * 256) | 0;
  assert.is(internetChecksum(rndBig, 1, rndBig.length), naive(rndBig, 1, rndBig.length), `seed ${seed}`);
});

test('sums chain across even-length pieces via `initial`', () => {
  const rnd = prng(7);
  const b = Buffer.alloc(1001);
  for (let i = 0; i < b.length; i++) b[i] = (rnd() * 256) | 0;
  let s = sumBytes(b, 0, 100);
  s = sumBytes(b, 100, 602, s);
  s = sumBytes(b, 602, 1001, s);
  assert.is(foldChecksum(s), internetChecksum(b));
  assert.is(foldChecksum(0xffffffff * 5), naive(Buffer.from('ffffffffffffffffffffffffffffffffffffffff', 'hex'), 0, 20));
});

test('pseudo-header sum equals the sum of its 12 bytes', () => {
  const src = Buffer.from([10, 55, 0, 1]);
  const dst = Buffer.from([192, 168, 255, 254]);
  const ph = Buffer.from([...src, ...dst, 0, 6, 0x05, 0xdc]);
  assert.is(foldChecksum(pseudoHeaderSum(src, dst, 6, 1500)), internetChecksum(ph));
});

test.run();
