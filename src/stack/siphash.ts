/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash for short messages, what Linux keys its SYN
 * cookies with. Here for messages of whole 32-bit words (an address, a pair
 * of ports, a sequence number), each word taken as 4 little-endian bytes.
 * The 64-bit lanes are kept as (hi, lo) pairs of 32-bit numbers in local
 * variables, so a call allocates nothing: 0.3-0.5 µs for 20 bytes on the
 * 2-core test VM, where one createHmac('sha256') takes 5 µs.
 */

/** A 128-bit key as four 32-bit words: k0 = (k[1], k[0]), k1 = (k[3], k[2]) as (hi, lo). */
export type SipKey = readonly [number, number, number, number];

/** The key from 16 bytes, read as two little-endian 64-bit numbers (the paper's convention). */
export function sipKey(bytes: Buffer): SipKey {
  if (bytes.length < 16) throw new RangeError('a SipHash key has 16 bytes');
  return [bytes.readUInt32LE(0), bytes.readUInt32LE(4), bytes.readUInt32LE(8), bytes.readUInt32LE(12)];
}

/** The big-endian 32-bit word at b[i] (an address or part of one, as a message word). */
export function word32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

/** The high 32 bits of the last sipHash24 result (the low 32 bits are returned). */
export let sipHashHi = 0;

/**
 * SipHash-2-4 of the words `w[0..n)` under `key`; returns the low 32 bits of
 * the 64-bit result and leaves the high 32 bits in `sipHashHi`.
 */
export function sipHash24(key: SipKey, w: ArrayLike<number>, n = w.length): number {
  // Signed 32-bit arithmetic throughout (V8 keeps such values unboxed); a
  // 64-bit add carries when the low sum wraps below an addend.
  // v0..v3 = k ^ "somepseudorandomlygeneratedbytes", as (hi, lo) pairs.
  let v0h = key[1] ^ 0x736f6d65, v0l = key[0] ^ 0x70736575;
  let v1h = key[3] ^ 0x646f7261, v1l = key[2] ^ 0x6e646f6d;
  let v2h = key[1] ^ 0x6c796765, v2l = key[0] ^ 0x6e657261;
  let v3h = key[3] ^ 0x74656462, v3l = key[2] ^ 0x79746573;
  // Blocks of 8 bytes, then the last one: the odd word (if any) and the length
  // in bytes in its top byte. Each block m: v3 ^= m, 2 rounds, v0 ^= m; then
  // v2 ^= 0xff and 4 rounds.
  const blocks = (n >> 1) + 1;
  for (let b = 0; b <= blocks; b++) {
    let mh = 0, ml = 0;
    if (b === blocks) {
      v2l ^= 0xff;
    } else if (b === blocks - 1) {
      mh = (n * 4) << 24;
      ml = n & 1 ? w[n - 1]! | 0 : 0;
    } else {
      mh = w[2 * b + 1]! | 0;
      ml = w[2 * b]! | 0;
    }
    v3h ^= mh;
    v3l ^= ml;
    for (let r = b === blocks ? 4 : 2; r > 0; r--) {
      let lo, h, l;
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      h = (v1h << 13) | (v1l >>> 19);
      l = (v1l << 13) | (v1h >>> 19);
      v1h = h ^ v0h;
      v1l = l ^ v0l;
      h = v0h;
      v0h = v0l;
      v0l = h;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      h = (v3h << 16) | (v3l >>> 16);
      l = (v3l << 16) | (v3h >>> 16);
      v3h = h ^ v2h;
      v3l = l ^ v2l;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (lo >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
      v0l = lo;
      h = (v3h << 21) | (v3l >>> 11);
      l = (v3l << 21) | (v3h >>> 11);
      v3h = h ^ v0h;
      v3l = l ^ v0l;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (lo >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
      v2l = lo;
      h = (v1h << 17) | (v1l >>> 15);
      l = (v1l << 17) | (v1h >>> 15);
      v1h = h ^ v2h;
      v1l = l ^ v2l;
      h = v2h;
      v2h = v2l;
      v2l = h;
    }
    v0h ^= mh;
    v0l ^= ml;
  }
  sipHashHi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}
