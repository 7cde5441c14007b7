/**
 * Two links joined back to back in one process: what one sends, the other
 * receives. Delivery is never synchronous (a stack must not re-enter itself
 * while sending): packets sent during one turn are delivered together as one
 * batch on a later tick, either the next setImmediate turn or, with a Clock,
 * a timer `latencyMs` later on that clock (virtual time for simulations).
 */
import type { Clock } from '../stack/clock.js';
import type { Link } from './link.js';
import { joinPacket } from './link.js';

export interface MemoryPairOptions {
  mtu?: number;
  /** Deliver through this clock instead of setImmediate. */
  clock?: Clock;
  /** One-way delay when a clock is given (ms, default 0). */
  latencyMs?: number;
  /** Like Linux loopback: no checksums computed or verified, super-segments
   * delivered whole (see Link.offload). Default false. */
  offload?: boolean;
}

class MemoryLink implements Link {
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  peer: MemoryLink | null = null;
  private queue: Buffer[] = [];
  private scheduled = false;
  private closed = false;
  txPackets = 0;
  rxPackets = 0;

  constructor(
    readonly mtu: number,
    private readonly clock: Clock | undefined,
    private readonly latencyMs: number,
    readonly offload: boolean,
  ) {}

  send(header: Buffer, payload?: Buffer): void {
    const peer = this.peer;
    if (this.closed || peer === null || peer.closed) return;
    this.txPackets++;
    peer.enqueue(joinPacket(header, payload));
  }

  private enqueue(packet: Buffer): void {
    if (this.clock !== undefined && this.latencyMs > 0) {
      // Each packet keeps its own arrival time; those due together still
      // arrive as one batch because the clock runs them back to back.
      this.clock.at(this.clock.now() + this.latencyMs, () => this.deliver([packet]));
      return;
    }
    this.queue.push(packet);
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = (): void => {
      this.scheduled = false;
      const batch = this.queue;
      this.queue = [];
      this.deliver(batch);
    };
    if (this.clock !== undefined) this.clock.at(this.clock.now(), flush);
    else setImmediate(flush);
  }

  private deliver(batch: Buffer[]): void {
    if (this.closed || batch.length === 0) return;
    this.rxPackets += batch.length;
    this.onReceive?.(batch, this.offload ? allTrusted(batch.length) : undefined);
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }
}

/** Nothing here leaves the process, so every packet is trusted (like Linux
 * loopback); one shared all-ones array, grown when a batch is larger. */
let trustedOnes = new Uint8Array(256).fill(1);
function allTrusted(n: number): Uint8Array {
  if (n > trustedOnes.length) trustedOnes = new Uint8Array(2 * n).fill(1);
  return trustedOnes;
}

/** Create two connected links. */
export function createMemoryPair(opts: MemoryPairOptions = {}): [Link, Link] {
  const mtu = opts.mtu ?? 1500;
  const offload = opts.offload ?? false;
  const a = new MemoryLink(mtu, opts.clock, opts.latencyMs ?? 0, offload);
  const b = new MemoryLink(mtu, opts.clock, opts.latencyMs ?? 0, offload);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
