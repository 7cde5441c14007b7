/**
 * IPv4 fragment reassembly (RFC 791 §3.2, RFC 815; RFC 1122 §3.3.2: a host
 * MUST reassemble). Sans-IO: fragments and time go in, whole datagrams and
 * the first fragments of datagrams that timed out come out.
 *
 * Everything a peer sends here is bounded:
 *  - memory: every held fragment is charged its bytes plus FRAGMENT_OVERHEAD,
 *    every datagram DATAGRAM_OVERHEAD; above `highThresh` (Linux's
 *    ipfrag_high_thresh, 4 MiB) the oldest datagrams are evicted. Linux
 *    since 4.17 instead refuses new fragments until old ones time out; we
 *    evict like FreeBSD and Linux before it, so that a flood of fragments
 *    with random IDs cannot stop a real datagram for 30 s;
 *  - time: a datagram lives at most `timeoutMs` (Linux's ipfrag_time, 30 s).
 *    All datagrams get the same lifetime, so the Map's insertion order is
 *    their expiry order: expiry is O(1) a datagram, one timer for all;
 *  - CPU: a fragment costs O(its length / 8) (the coverage bitmap) plus O(1)
 *    map work; a complete datagram is sorted once (O(n log n) in its
 *    fragments) and copied once. Nothing is quadratic in fragments.
 * ECN (RFC 3168 §5.3, Linux ip_frag_ecn_table): CE on any fragment marks the
 * datagram CE; Not-ECT mixed with ECT or CE drops it.
 * Overlapping fragments drop the whole datagram, as Linux does for IPv4 and
 * RFC 5722 asks for IPv6 (overlaps are how filters are evaded); exact
 * duplicates are dropped alone (a retransmitted or duplicated fragment).
 */
import { internetChecksum } from '../wire/checksum.js';
import type { IPv4Datagram } from '../wire/ipv4.js';
import type { Counters } from './counters.js';

/** Linux's ipfrag_high_thresh. */
export const REASM_HIGH_THRESH = 4 * 1024 * 1024;
/** Linux's ipfrag_time; RFC 1122 §3.3.2 recommends 60 s to 120 s, Linux uses 30 s. */
export const REASM_TIMEOUT_MS = 30_000;
/** What a held fragment costs beyond its data (Buffer, record), as Linux charges skb truesize. */
export const FRAGMENT_OVERHEAD = 256;
/** What a datagram costs beyond its fragments: the 1 KiB bitmap, the first header, the records. */
export const DATAGRAM_OVERHEAD = 1024 + 60 + 256;

interface Fragment {
  /** Offset of the data in the datagram, bytes. */
  off: number;
  data: Buffer;
}

class Datagram {
  readonly frags: Fragment[] = [];
  /** Fragments by offset, to tell an exact duplicate (kept out) from an overlap (fatal). */
  readonly ends = new Map<number, number>();
  /** One bit per 8-byte unit of data (8192 units: 65536 bytes). */
  readonly covered = new Uint32Array(256);
  /** Data bytes held (fragments never overlap, so this is the covered length). */
  received = 0;
  /** The end of the data: known once the last fragment (MF clear) arrived, else the largest end seen. */
  len = 0;
  lastIn = false;
  /** The first fragment's IP header (with its options): the whole datagram's header (RFC 791 §3.2). */
  firstHeader: Buffer | null = null;
  /** ECN codepoints seen, one bit each (1 << ecn). */
  ecn = 0;
  mem = DATAGRAM_OVERHEAD;
  constructor(readonly deadline: number) {}
}

export interface ReassemblyOptions {
  highThresh?: number;
  timeoutMs?: number;
}

export class IpReassembly {
  private readonly queues = new Map<string, Datagram>();
  private mem = 0;
  private readonly highThresh: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly counters: Counters,
    opts: ReassemblyOptions = {},
  ) {
    this.highThresh = opts.highThresh ?? REASM_HIGH_THRESH;
    this.timeoutMs = opts.timeoutMs ?? REASM_TIMEOUT_MS;
  }

  /** Bytes charged for what is held. */
  get memory(): number {
    return this.mem;
  }

  /** Datagrams being reassembled. */
  get pending(): number {
    return this.queues.size;
  }

  /** When the oldest datagram times out (Infinity: none held). */
  nextDeadline(): number {
    for (const q of this.queues.values()) return q.deadline;
    return Infinity;
  }

  /**
   * A received fragment (ip: MF set or offset non-zero; its bytes are copied,
   * the buffer may be reused). Returns the whole datagram, a new buffer with
   * the first fragment's header (MF and offset cleared, total length and
   * checksum set), when this fragment completes it; else null.
   */
  add(ip: IPv4Datagram, now: number): Buffer | null {
    this.counters.inc('ip_reasm_fragments'); // Linux's ReasmReqds
    const hl = ip.payloadStart - ip.start;
    const off = ip.fragOffset;
    let end = off + (ip.end - ip.payloadStart);
    // RFC 791: every fragment but the last carries a multiple of 8 bytes; Linux trims the rest.
    if (ip.moreFragments) end &= ~7;
    if (end + hl > 65535) return this.fail(null, '', 'ip_reasm_oversize'); // the ping of death
    const key = `${ip.srcAddr}:${ip.dstAddr}:${ip.protocol}:${ip.id}`;
    let q = this.queues.get(key);
    if (q === undefined) {
      q = new Datagram(now + this.timeoutMs);
      this.queues.set(key, q);
      this.mem += q.mem;
    }
    // The end of the datagram (Linux's ip_frag_queue): a last fragment fixes it, and nothing may lie beyond it.
    if (!ip.moreFragments) {
      if (end < q.len || (q.lastIn && end !== q.len)) return this.fail(q, key, 'ip_reasm_malformed');
      q.lastIn = true;
      q.len = end;
    } else if (end > q.len) {
      if (q.lastIn) return this.fail(q, key, 'ip_reasm_malformed');
      q.len = end;
    }
    if (end === off) return this.fail(q, key, 'ip_reasm_malformed');
    if (this.overlaps(q, off, end)) {
      if (q.ends.get(off) === end) return this.drop('ip_reasm_duplicate');
      return this.fail(q, key, 'ip_reasm_overlap'); // Linux's ReasmOverlaps
    }
    this.cover(q, off, end);
    q.ecn |= 1 << (ip.tos & 3);
    q.frags.push({ off, data: Buffer.from(ip.buf.subarray(ip.payloadStart, ip.payloadStart + (end - off))) });
    q.ends.set(off, end);
    q.received += end - off;
    if (off === 0) q.firstHeader = Buffer.from(ip.buf.subarray(ip.start, ip.payloadStart));
    const cost = end - off + FRAGMENT_OVERHEAD;
    q.mem += cost;
    this.mem += cost;
    if (q.lastIn && q.received === q.len && q.firstHeader !== null) {
      this.remove(key, q);
      if (q.firstHeader.length + q.len > 65535) return this.drop('ip_reasm_oversize');
      // RFC 3168 §5.3 / Linux ip_frag_ecn_table: Not-ECT mixed with ECT or CE is invalid.
      if ((q.ecn & 1) !== 0 && q.ecn !== 1) return this.drop('ip_reasm_ecn_mismatch');
      this.counters.inc('ip_reasm_ok'); // Linux's ReasmOKs
      return join(q);
    }
    this.evict(q);
    return null;
  }

  /**
   * Forget every datagram whose time is up (RFC 791 §3.2: the reassembly
   * timer). Returns, for those whose first fragment had arrived, that
   * fragment's header and data: RFC 792 / RFC 1122 §3.3.2 want an ICMP time
   * exceeded (code 1) then, and only then.
   */
  expire(now: number): Buffer[] {
    const quotes: Buffer[] = [];
    for (const [key, q] of this.queues) {
      if (q.deadline > now) break;
      this.remove(key, q);
      this.counters.inc('ip_reasm_timeout'); // Linux's ReasmTimeout
      this.counters.inc('dropped');
      if (q.firstHeader !== null) {
        const first = q.frags.find((f) => f.off === 0)!;
        quotes.push(Buffer.concat([q.firstHeader, first.data]));
      }
    }
    return quotes;
  }

  /** Whether data units [off, end) touch any held fragment. */
  private overlaps(q: Datagram, off: number, end: number): boolean {
    const c = q.covered;
    for (let u = off >>> 3, last = (end - 1) >>> 3; u <= last; u++) {
      const w = c[u >>> 5]!;
      if (w === 0) {
        u |= 31; // the whole word is free: skip to its end
        continue;
      }
      if ((w >>> (u & 31)) & 1) return true;
    }
    return false;
  }

  private cover(q: Datagram, off: number, end: number): void {
    const c = q.covered;
    for (let u = off >>> 3, last = (end - 1) >>> 3; u <= last; u++) c[u >>> 5]! |= 1 << (u & 31);
  }

  /** Above the memory bound: evict the oldest datagrams, but not `keep`, the one just grown. */
  private evict(keep: Datagram): void {
    if (this.mem <= this.highThresh) return;
    for (const [key, q] of this.queues) {
      if (this.mem <= this.highThresh) return;
      if (q === keep) continue;
      this.remove(key, q);
      this.drop('ip_reasm_evicted');
    }
    // Only `keep` is left and alone it is too big (a tiny bound): it goes too.
    if (this.mem > this.highThresh) {
      for (const [key, q] of this.queues) this.remove(key, q);
      this.drop('ip_reasm_evicted');
    }
  }

  private remove(key: string, q: Datagram): void {
    if (this.queues.delete(key)) this.mem -= q.mem;
  }

  /** Drop the datagram `q` (if any) with every fragment it holds. */
  private fail(q: Datagram | null, key: string, reason: string): null {
    if (q !== null) this.remove(key, q);
    return this.drop(reason);
  }

  private drop(reason: string): null {
    this.counters.inc(reason);
    this.counters.inc('dropped');
    return null;
  }
}

/** The datagram from its fragments: sorted once by offset, copied once. */
function join(q: Datagram): Buffer {
  const h = q.firstHeader!;
  const out = Buffer.allocUnsafe(h.length + q.len);
  h.copy(out, 0);
  q.frags.sort((a, b) => a.off - b.off);
  for (const f of q.frags) f.data.copy(out, h.length + f.off);
  out.writeUInt16BE(h.length + q.len, 2);
  // CE on any fragment is CE on the datagram (RFC 3168 §5.3), so a mark is never lost.
  if ((q.ecn & (1 << 3)) !== 0) out[1] = out[1]! | 3;
  out[6] &= 0x40; // keep DF, clear MF and the offset
  out[7] = 0;
  out[10] = 0;
  out[11] = 0;
  const sum = internetChecksum(out, 0, h.length);
  out[10] = sum >>> 8;
  out[11] = sum & 0xff;
  return out;
}
