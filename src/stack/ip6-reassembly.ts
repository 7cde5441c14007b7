/**
 * IPv6 fragment reassembly (RFC 8200 §4.5), a pure module: fragments and the
 * time come in as arguments, reassembled packets and expired queues go out.
 * Not wired into the stack yet.
 *
 * - A datagram is identified by source, destination and Fragment
 *   Identification; its unfragmentable part comes from the first fragment.
 * - Overlapping fragments discard the whole datagram, and fragments of it that
 *   arrive later until its timer ends (RFC 5722 §4's MUST). Linux 6.18
 *   forgets the datagram instead (inet_frag_kill), so there a complete resend
 *   after an overlap is reassembled (checked with test/fixtures/ipv6-linux.py);
 *   an identification is used once, so we keep the RFC. A fragment that brings
 *   only bytes already held is a duplicate and dropped alone, as Linux's
 *   inet_frag_queue_insert does (RFC 8200 §4.5 allows it for exact duplicates;
 *   it changes nothing the receiver keeps).
 * - Atomic fragments (offset 0, M 0) never come here (RFC 6946: walkIPv6
 *   delivers them as unfragmented packets).
 * - 60 s after its first-arriving fragment a datagram is abandoned; if its
 *   first fragment was seen, expire() returns it so the caller can send an
 *   ICMPv6 time exceeded, code 1 (RFC 8200 §4.5).
 * - Bounded: bytes held (4 MiB, Linux's ip6frag_high_thresh; each fragment
 *   is charged its data plus FRAGMENT_OVERHEAD), datagrams in progress and
 *   fragments per datagram. Over a bound new fragments are dropped and
 *   counted, as Linux drops when over high_thresh.
 * - ECN (RFC 3168 §5.3, Linux's ip_frag_ecn_table): CE on any fragment is CE
 *   on the datagram; Not-ECT mixed with ECT or CE drops it.
 */
import { Counters } from './counters.js';
import { IPV6_HEADER_LENGTH, type Ip6FragmentInfo } from '../wire/ipv6.js';

export interface Ip6ReassemblyConfig {
  /** Bytes held in all queues together. Default 4 MiB. */
  maxBytes: number;
  /** Datagrams in progress. Default 1024. */
  maxQueues: number;
  /** Fragments of one datagram. Default 256 (a 64 KiB datagram over 1280-byte links needs 53). */
  maxFragments: number;
  /** RFC 8200 §4.5: 60 seconds. */
  timeoutMs: number;
}

export const DEFAULT_IP6_REASSEMBLY: Ip6ReassemblyConfig = {
  maxBytes: 4 * 1024 * 1024, maxQueues: 1024, maxFragments: 256, timeoutMs: 60_000,
};

/** Charged per fragment besides its data, so tiny fragments cannot hold much. */
export const FRAGMENT_OVERHEAD = 256;

export type Ip6FragResult =
  | { kind: 'pending' }
  | { kind: 'complete'; packet: Buffer }
  | { kind: 'drop'; reason: string };

interface Piece {
  start: number;
  end: number;
  data: Buffer;
}

interface Queue {
  deadline: number;
  pieces: Piece[];
  /** End of the datagram's fragmentable part once the last fragment came, else -1. */
  length: number;
  /** Per-fragment headers of the first fragment (offset 0), Next Header patched. */
  head: Buffer | null;
  /** The first fragment as received, quoted by a time-exceeded error. */
  first: Buffer | null;
  bytes: number;
  /** ECN codepoints seen, one bit each (1 << ecn). */
  ecn: number;
  /** RFC 5722: overlapped; drops everything of this datagram until the deadline. */
  dead: boolean;
}

export interface Ip6Expired {
  /** The first fragment (offset 0) if it arrived: quote it in an ICMPv6 time exceeded, code 1. */
  first: Buffer | null;
}

const done = (reason: string): Ip6FragResult => ({ kind: 'drop', reason });
const PENDING: Ip6FragResult = { kind: 'pending' };

export class Ip6Reassembler {
  private readonly cfg: Ip6ReassemblyConfig;
  /** In insertion order, which is deadline order (one timeout for all). */
  private readonly queues = new Map<string, Queue>();
  private bytes = 0;

  constructor(readonly counters: Counters = new Counters(), config: Partial<Ip6ReassemblyConfig> = {}) {
    this.cfg = { ...DEFAULT_IP6_REASSEMBLY, ...config };
  }

  /** Bytes held now (tests, netstat). */
  get memory(): number {
    return this.bytes;
  }

  get size(): number {
    return this.queues.size;
  }

  /** When expire() next has work, or undefined. */
  nextDeadline(): number | undefined {
    for (const q of this.queues.values()) return q.deadline;
    return undefined;
  }

  /**
   * One fragment: `packet` is the whole IPv6 packet (copied as needed, so the
   * caller's buffer may be reused), `frag` and `dataStart` what walkIPv6 said.
   */
  input(packet: Buffer, frag: Ip6FragmentInfo, dataStart: number, now: number): Ip6FragResult {
    const r = this.insert(packet, frag, dataStart, now);
    if (r.kind === 'drop') this.counters.inc(r.reason);
    else if (r.kind === 'complete') this.counters.inc('ip6_frag_reassembled');
    return r;
  }

  private insert(packet: Buffer, frag: Ip6FragmentInfo, dataStart: number, now: number): Ip6FragResult {
    const plen = (packet[4]! << 8) | packet[5]!;
    const stop = Math.min(packet.length, IPV6_HEADER_LENGTH + plen);
    const start = frag.offset;
    const end = start + (stop - dataStart);
    // Linux ip6_frag_queue: an empty fragment is corrupt.
    if (end <= start) return this.kill(this.key(packet, frag), 'ip6_frag_empty');
    const key = this.key(packet, frag);
    let q = this.queues.get(key);
    if (q?.dead === true) return done('ip6_frag_dead_datagram');
    // The first fragment is kept twice: its data, and whole for a time-exceeded quote.
    const cost = end - start + FRAGMENT_OVERHEAD + (start === 0 ? stop : 0);
    if (this.bytes + cost > this.cfg.maxBytes) return done('ip6_frag_memory_full');
    if (q === undefined) {
      if (this.queues.size >= this.cfg.maxQueues) return done('ip6_frag_too_many_queues');
      q = { deadline: now + this.cfg.timeoutMs, pieces: [], length: -1, head: null, first: null, bytes: 0, ecn: 0, dead: false };
      this.queues.set(key, q);
    }
    if (q.pieces.length >= this.cfg.maxFragments) return this.kill(key, 'ip6_frag_too_many_fragments');

    // Linux ip6_frag_queue: where the datagram ends must agree among fragments.
    if (!frag.more) {
      if (end < maxEnd(q) || (q.length !== -1 && end !== q.length)) return this.kill(key, 'ip6_frag_bad_end');
      q.length = end;
    } else if (q.length !== -1 && end > q.length) {
      return this.kill(key, 'ip6_frag_bad_end');
    }

    // Place it among the pieces, sorted by start.
    const p = q.pieces;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? p[lo - 1]! : null;
    const next = lo < p.length ? p[lo]! : null;
    // Inside bytes already held (one piece, or runs of touching pieces): a duplicate.
    if (coveredBy(p, lo, start, end)) return done('ip6_frag_duplicate');
    // RFC 5722: any other overlap discards the datagram.
    if ((prev !== null && prev.end > start) || (next !== null && next.start < end)) return this.kill(key, 'ip6_frag_overlap', true);

    const ecn = (packet[1]! >> 4) & 0x03;
    q.ecn |= 1 << ecn;
    p.splice(lo, 0, { start, end, data: Buffer.from(packet.subarray(dataStart, stop)) });
    if (start === 0) {
      const head = Buffer.from(packet.subarray(0, frag.headerOffset));
      head[frag.nextHeaderPointer] = frag.nextHeader;
      q.head = head;
      q.first = Buffer.from(packet.subarray(0, stop));
    }
    q.bytes += cost;
    this.bytes += cost;

    if (q.length === -1 || q.head === null || !contiguous(p, q.length)) return PENDING;
    return this.finish(key, q);
  }

  private finish(key: string, q: Queue): Ip6FragResult {
    const head = q.head!;
    const total = head.length + q.length;
    // The per-fragment headers and the fragmentable part together must fit a Payload Length.
    if (total - IPV6_HEADER_LENGTH > 0xffff) return this.kill(key, 'ip6_frag_oversize');
    // RFC 3168 §5.3 / Linux ip_frag_ecn_table: Not-ECT (bit 0) with any ECT or CE is invalid.
    if ((q.ecn & 1) !== 0 && q.ecn !== 1) return this.kill(key, 'ip6_frag_ecn_mismatch');
    const out = Buffer.alloc(total);
    head.copy(out, 0);
    for (const piece of q.pieces) piece.data.copy(out, head.length + piece.start);
    const plen = total - IPV6_HEADER_LENGTH;
    out[4] = plen >>> 8;
    out[5] = plen & 0xff;
    if ((q.ecn & (1 << 3)) !== 0) out[1] = out[1]! | 0x30; // CE
    this.remove(key, q);
    return { kind: 'complete', packet: out };
  }

  /** Abandon the datagram: its bytes go; with `tombstone` its queue stays, empty and dead, to its deadline. */
  private kill(key: string, reason: string, tombstone = false): Ip6FragResult {
    const q = this.queues.get(key);
    if (q !== undefined) {
      this.bytes -= q.bytes;
      if (tombstone) {
        q.pieces = [];
        q.head = null;
        q.first = null;
        q.bytes = 0;
        q.dead = true;
      } else {
        this.queues.delete(key);
      }
    }
    return done(reason);
  }

  private remove(key: string, q: Queue): void {
    this.bytes -= q.bytes;
    this.queues.delete(key);
  }

  /** Abandon every datagram whose 60 s are over; one entry per live one abandoned. */
  expire(now: number): Ip6Expired[] {
    const out: Ip6Expired[] = [];
    for (const [key, q] of this.queues) {
      if (q.deadline > now) break;
      this.remove(key, q);
      if (q.dead) continue;
      this.counters.inc('ip6_frag_timeout');
      out.push({ first: q.first });
    }
    return out;
  }

  private key(packet: Buffer, frag: Ip6FragmentInfo): string {
    return `${packet.toString('latin1', 8, 40)}${frag.id}`;
  }
}

function maxEnd(q: Queue): number {
  return q.pieces.length === 0 ? 0 : q.pieces[q.pieces.length - 1]!.end;
}

/** Is [start, end) inside pieces that touch each other, beginning at or before p[lo]? */
function coveredBy(p: Piece[], lo: number, start: number, end: number): boolean {
  // The piece that could hold `start`: the one before lo, or p[lo] when it starts exactly there.
  let i = lo < p.length && p[lo]!.start === start ? lo : lo - 1;
  if (i < 0 || p[i]!.start > start || p[i]!.end <= start) return false;
  let reach = p[i]!.end;
  while (reach < end && i + 1 < p.length && p[i + 1]!.start === reach) reach = p[++i]!.end;
  return reach >= end;
}

/** Do the pieces cover [0, length) without a hole? (Sorted, never overlapping.) */
function contiguous(p: Piece[], length: number): boolean {
  let at = 0;
  for (const piece of p) {
    if (piece.start !== at) return false;
    at = piece.end;
  }
  return at === length;
}
