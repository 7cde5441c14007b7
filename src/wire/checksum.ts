/**
 * The Internet checksum (RFC 1071): the ones'-complement of the ones'-complement
 * sum of 16-bit big-endian words. Used by IPv4 (RFC 791), ICMP (RFC 792) and
 * TCP with its pseudo-header (RFC 9293 §3.1).
 *
 * Speed (GUIDE §Principles 5): we add 32-bit words into a plain JS number and
 * fold only at the end. That is correct because 2^16 ≡ 1 (mod 2^16 - 1), so a
 * 32-bit word hi:lo contributes hi + lo to the folded sum (RFC 1071 §2(C),
 * "parallel summation"). A double holds integers up to 2^53 exactly, so we fold
 * every 2^20 words to stay far below that.
 */

const FOLD_EVERY = 1 << 20;

/**
 * Partial ones'-complement sum of buf[start, end), added to `initial`. Not
 * complemented and possibly wider than 16 bits; pass it to foldChecksum.
 * When summing a message in pieces, every piece but the last must have an even
 * length so the 16-bit word boundaries stay aligned (RFC 1071 §2(B)).
 */
export function sumBytes(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  let words = 0;
  const end4 = end - 3;
  while (i < end4) {
    sum += ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
    i += 4;
    if (++words === FOLD_EVERY) {
      sum = fold32(sum);
      words = 0;
    }
  }
  if (i + 1 < end) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
    i += 2;
  }
  // Odd tail: pad with a zero byte on the right (RFC 1071 §4.1).
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Reduce a wide sum to 32 bits without changing it modulo 2^16 - 1. */
function fold32(sum: number): number {
  return (sum % 0x100000000) + Math.floor(sum / 0x100000000);
}

/** Fold carries into 16 bits, complement, return 0..0xffff. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffffffff) sum = fold32(sum);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Checksum of buf[start, end). Over a region that contains its own correct
 * checksum the result is 0: that is how receivers verify. */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return foldChecksum(sumBytes(buf, start, end));
}

/** Sum of the IPv4 pseudo-header (RFC 9293 §3.1, "Checksum"): source, destination,
 * zero, protocol, and the TCP/UDP length (header + data). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return (
    ((src[0]! << 8) | src[1]!) + ((src[2]! << 8) | src[3]!) +
    ((dst[0]! << 8) | dst[1]!) + ((dst[2]! << 8) | dst[3]!) +
    (protocol & 0xff) + (length & 0xffff)
  );
}
