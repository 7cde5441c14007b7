/**
 * A fault-injecting wrapper around any link (like smoltcp's phy/fault_injector).
 * The same faults apply in both directions, each direction with its own state,
 * all drawn from one seeded PRNG so a run replays exactly from its seed.
 *
 * Per packet, in this order: loss, a CE mark on ECN-capable packets (RFC
 * 3168 §5: what an ECN router does where it would drop), rate limit (a FIFO
 * bottleneck with a bounded queue: tail drop when full), corruption of one random byte,
 * duplication, delay with jitter, reordering. Without reordering, delivery
 * order is kept even with jitter (times never go backwards); a reordered
 * packet is held back so that later packets overtake it.
 */
import type { Clock } from '../stack/clock.js';
import type { Link } from './link.js';
import { joinPacket } from './link.js';
import { Prng } from './prng.js';

export interface FaultOptions {
  /** Percent of packets dropped. */
  loss?: number;
  /** Percent of packets delivered twice. */
  duplicate?: number;
  /** Percent of packets held back so that later ones overtake them. */
  reorder?: number;
  /** Percent of packets with one random byte changed. */
  corrupt?: number;
  /** Percent of ECN-capable IPv4 and IPv6 packets (ECT(0) or ECT(1)) marked CE,
   * Congestion Experienced, instead of being dropped; others pass. */
  ce?: number;
  /** Fixed one-way delay in ms. */
  delay?: number;
  /** Uniform extra delay in [0, jitter] ms. */
  jitter?: number;
  /** Bottleneck rate in bits per second (0 = unlimited). */
  rate?: number;
  /** Bottleneck queue limit in bytes (default: 64 KiB or 100 ms at the rate, whichever is larger). */
  queueBytes?: number;
  seed?: number;
}

export interface FaultCounters {
  lost: number;
  queueDropped: number;
  corrupted: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  ceMarked: number;
}

/** True when the options ask for any fault at all. */
export function hasFaults(o: FaultOptions): boolean {
  return Boolean(o.loss || o.duplicate || o.reorder || o.corrupt || o.delay || o.jitter || o.rate || o.ce);
}

/** One direction of the wrapper: its own queue and timing state. */
class Direction {
  private busyUntil = 0;
  private lastArrival = 0;
  private queued: Array<{ time: number; bytes: number }> = [];
  private queuedBytes = 0;

  constructor(
    private readonly o: Required<Omit<FaultOptions, 'seed'>>,
    private readonly rng: Prng,
    private readonly clock: Clock,
    private readonly counters: FaultCounters,
    private readonly deliver: (packets: Buffer[]) => void,
  ) {}

  /** `own` is true when the buffer already belongs to us (we may keep or mutate it). */
  push(packet: Buffer, own: boolean, batch: Buffer[]): void {
    const o = this.o;
    const rng = this.rng;
    if (rng.chance(o.loss)) {
      this.counters.lost++;
      return;
    }
    // Only ECT packets draw for a mark: runs without --ce replay as before.
    if (o.ce > 0 && isEct(packet) && rng.chance(o.ce)) {
      if (!own) packet = Buffer.from(packet);
      own = true;
      markCe(packet);
      this.counters.ceMarked++;
    }
    const now = this.clock.now();
    let ready = now;
    if (o.rate > 0) {
      // Serialization at the bottleneck: the packet leaves when the ones before it have.
      while (this.queued.length > 0 && this.queued[0]!.time <= now) this.queuedBytes -= this.queued.shift()!.bytes;
      if (this.queuedBytes + packet.length > o.queueBytes) {
        this.counters.queueDropped++;
        return;
      }
      this.busyUntil = Math.max(this.busyUntil, now) + (packet.length * 8 * 1000) / o.rate;
      ready = this.busyUntil;
      this.queued.push({ time: ready, bytes: packet.length });
      this.queuedBytes += packet.length;
    }
    if (rng.chance(o.corrupt)) {
      if (!own) packet = Buffer.from(packet);
      own = true;
      // XOR with a non-zero value so the byte really changes.
      packet[rng.int(packet.length)]! ^= 1 + rng.int(255);
      this.counters.corrupted++;
    }
    const copies = rng.chance(o.duplicate) ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    for (let i = 0; i < copies; i++) {
      let at = ready + o.delay + (o.jitter > 0 ? rng.next() * o.jitter : 0);
      if (rng.chance(o.reorder)) {
        // Hold this one back by a few ms (at least one later packet can overtake it).
        at += Math.max(1, o.delay / 2, o.jitter) + rng.next() * Math.max(1, o.delay);
        this.counters.reordered++;
      } else {
        at = Math.max(at, this.lastArrival);
        this.lastArrival = at;
      }
      if (at <= now) {
        batch.push(packet);
      } else {
        this.counters.delayed++;
        const p = own ? packet : Buffer.from(packet);
        own = true;
        this.clock.at(at, () => this.deliver([p]));
      }
    }
  }
}

/** A packet whose ECN field is ECT(0) or ECT(1) (RFC 3168 §5; IPv6: the traffic class's low bits, RFC 8200 §7). */
function isEct(p: Buffer): boolean {
  const v = p.length < 20 ? 0 : p[0]! >> 4;
  if (v !== 4 && (v !== 6 || p.length < 40)) return false;
  const ecn = v === 4 ? p[1]! & 3 : (p[1]! >> 4) & 3;
  return ecn === 1 || ecn === 2;
}

/** Set the ECN field to CE (11) and update the header checksum (RFC 1624 eqn. 3); IPv6 has none. */
function markCe(p: Buffer): void {
  if (p[0]! >> 4 === 6) {
    p[1] = p[1]! | 0x30;
    return;
  }
  const oldWord = (p[0]! << 8) | p[1]!;
  p[1] = p[1]! | 3;
  const newWord = (p[0]! << 8) | p[1]!;
  let sum = (~((p[10]! << 8) | p[11]!) & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const check = ~sum & 0xffff;
  p[10] = check >>> 8;
  p[11] = check & 0xff;
}

export class FaultLink implements Link {
  onReceive: ((packets: Buffer[]) => void) | null = null;
  readonly counters: FaultCounters = { lost: 0, queueDropped: 0, corrupted: 0, duplicated: 0, reordered: 0, delayed: 0, ceMarked: 0 };
  private readonly out: Direction;
  private readonly in: Direction;
  private closed = false;

  constructor(
    private readonly inner: Link,
    opts: FaultOptions,
    clock: Clock,
  ) {
    const rate = opts.rate ?? 0;
    const o = {
      loss: opts.loss ?? 0,
      duplicate: opts.duplicate ?? 0,
      reorder: opts.reorder ?? 0,
      corrupt: opts.corrupt ?? 0,
      ce: opts.ce ?? 0,
      delay: opts.delay ?? 0,
      jitter: opts.jitter ?? 0,
      rate,
      queueBytes: opts.queueBytes ?? Math.max(65536, rate / 80),
    };
    const rng = new Prng(opts.seed ?? 1);
    this.out = new Direction(o, rng, clock, this.counters, (ps) => {
      if (!this.closed) for (const p of ps) this.inner.send(p);
    });
    this.in = new Direction(o, rng, clock, this.counters, (ps) => {
      if (!this.closed) this.onReceive?.(ps);
    });
    inner.onReceive = (packets) => {
      const batch: Buffer[] = [];
      for (const p of packets) this.in.push(p, false, batch);
      if (batch.length > 0 && !this.closed) this.onReceive?.(batch);
    };
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  send(header: Buffer, payload?: Buffer): void {
    if (this.closed) return;
    const batch: Buffer[] = [];
    // The header may be reused by the caller, so the packet is joined into a buffer of our own.
    this.out.push(joinPacket(header, payload), true, batch);
    for (const p of batch) this.inner.send(p);
  }

  close(): void {
    this.closed = true;
    this.inner.close();
  }

  ref(): void {
    this.inner.ref?.();
  }

  unref(): void {
    this.inner.unref?.();
  }
}
