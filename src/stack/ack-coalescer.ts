/**
 * ACK coalescing within one receive batch. While the stack works through the
 * packets of one link delivery, a connection's plain cumulative ACKs are held
 * and only the newest leaves, once, at the end of the batch: it acknowledges
 * everything the ones before it did, with a newer window. Linux gets the same
 * effect from GRO (one ACK per merged burst); RFC 9293 §3.8.6.3 asks only for
 * an ACK at least every second full-sized segment, which the batch still gets,
 * just sent a few microseconds later.
 *
 * What carries news is never merged away: an ACK with the same number as the
 * held one (a duplicate ACK, a window update) goes out in order with it, and
 * ACKs with SACK blocks, data, SYN, FIN or RST are not held at all; a
 * segment sent meanwhile that acknowledges as much and is no duplicate ACK
 * itself makes the held ACK redundant.
 */
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../wire/tcp.js';
import { seqGt } from '../wire/seq.js';
import type { OutSegment } from '../tcp/connection.js';

export class AckCoalescer<K> {
  private readonly held = new Map<K, OutSegment>();
  private active = false;
  /** ACKs that were replaced by a newer one in the same batch. */
  merged = 0;

  /** `send` puts one segment on the wire. */
  constructor(private readonly send: (key: K, seg: OutSegment) => void) {}

  begin(): void {
    this.active = true;
  }

  /** Every segment a connection sends comes here: sent now, or held. */
  offer(key: K, seg: OutSegment): void {
    if (!this.active && this.held.size === 0) {
      this.send(key, seg);
      return;
    }
    const held = this.held.get(key);
    if (this.active && isPlainAck(seg)) {
      if (held !== undefined && !seqGt(seg.ack, held.ack)) {
        // Same number: a duplicate ACK or a window update is news. Keep order.
        this.held.delete(key);
        this.send(key, held);
        this.send(key, seg);
        return;
      }
      if (held !== undefined) this.merged++;
      this.held.set(key, seg);
      return;
    }
    if (held !== undefined) {
      this.held.delete(key);
      if (supersedes(seg, held)) this.merged++;
      else this.send(key, held);
    }
    this.send(key, seg);
  }

  /** End of the batch: every held ACK leaves now, but for connections that
   * are `gone` meanwhile (reset or aborted later in the same batch). */
  end(gone: (key: K) => boolean = () => false): void {
    this.active = false;
    if (this.held.size === 0) return;
    for (const [key, seg] of this.held) if (!gone(key)) this.send(key, seg);
    this.held.clear();
  }
}

/** `seg` tells the peer all that `held` would: a higher ACK, or the same one
 * on a segment that is no duplicate ACK (it carries data, SYN or FIN). */
function supersedes(seg: OutSegment, held: OutSegment): boolean {
  if (!(seg.flags & TCP_ACK)) return false;
  if (seqGt(seg.ack, held.ack)) return true;
  const carries = (seg.payload !== undefined && seg.payload.length > 0) || (seg.flags & (TCP_SYN | TCP_FIN)) !== 0;
  return seg.ack === held.ack && carries;
}

/** A bare cumulative ACK: no data, no other flag, no SACK blocks. */
function isPlainAck(seg: OutSegment): boolean {
  if (seg.flags !== TCP_ACK || (seg.payload !== undefined && seg.payload.length > 0)) return false;
  if (seg.sack !== undefined && seg.sack.length > 0) return false;
  // A list of options only when there are no fixed fields (options.ts: reading it builds it).
  if (seg.tsVal === undefined && seg.options !== undefined) for (const o of seg.options) if (o.kind === 'sack') return false;
  return true;
}
