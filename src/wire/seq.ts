/**
 * Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4). Two numbers compare by
 * the sign of their 32-bit difference, as in RFC 1982 serial arithmetic:
 * `a < b` iff `(a - b) | 0 < 0`. This is only meaningful for numbers less than
 * 2^31 apart, which TCP's windows guarantee.
 */

/** a < b modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b modulo 2^32. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b modulo 2^32. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b modulo 2^32. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n, wrapped to 0..2^32-1. `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance a - b, in [-2^31, 2^31). */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** start <= x < start + len (modulo 2^32). An empty window holds nothing. */
export function seqInWindow(x: number, start: number, len: number): boolean {
  if (len <= 0) return false;
  return (x - start) >>> 0 < len;
}

/** The later of a and b. */
export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}

/** The earlier of a and b. */
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}
