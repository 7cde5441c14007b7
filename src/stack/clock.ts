/**
 * Time for the whole stack. Everything that waits (retransmission, TIME_WAIT,
 * delayed delivery in a fault link) asks a Clock for a callback at an absolute
 * time in milliseconds. The real clock keeps ONE Node timer armed for the
 * earliest pending deadline (GUIDE §Principles 1); the virtual clock runs the
 * same queue only when a test advances it, so simulations are deterministic.
 */
import { TimerHeap, type Timer } from './timer-heap.js';

export type { Timer };

export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Run `fn` once at time `at` (or as soon as possible after it). */
  at(at: number, fn: () => void): Timer;
  /** Forget a timer; harmless if it already fired or was cancelled. */
  cancel(timer: Timer): void;
  /** Whether pending timers keep the process alive (the stack asks while it
   * has ref'd sockets: a link without an event-loop handle of its own, like
   * the memory link, has only the clock to do it). */
  ref?(): void;
  unref?(): void;
}

/** Wall-clock time with a single underlying setTimeout. */
export class RealClock implements Clock {
  private readonly heap = new TimerHeap();
  private handle: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private readonly origin = performance.now();

  /** Stacks that asked to be kept alive (a clock may serve several). */
  private refs = 0;

  constructor(private readonly keepAlive = false) {}

  ref(): void {
    if (++this.refs === 1) this.handle?.ref();
  }

  unref(): void {
    if (this.refs > 0 && --this.refs === 0 && !this.keepAlive) this.handle?.unref();
  }

  now(): number {
    return performance.now() - this.origin;
  }

  at(at: number, fn: () => void): Timer {
    const t = this.heap.push(at, fn);
    if (at < this.armedFor) this.arm();
    return t;
  }

  cancel(timer: Timer): void {
    this.heap.cancel(timer);
    if (this.heap.size === 0) this.disarm();
  }

  private disarm(): void {
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
  }

  private arm(): void {
    this.disarm();
    const next = this.heap.peekTime();
    if (next === Infinity) return;
    this.armedFor = next;
    this.handle = setTimeout(() => this.fire(), Math.max(0, Math.ceil(next - this.now())));
    if (!this.keepAlive && this.refs === 0) this.handle.unref();
  }

  private fire(): void {
    this.handle = null;
    this.armedFor = Infinity;
    try {
      this.heap.runDue(this.now());
    } finally {
      // Whatever a callback did, the timers behind it stay armed.
      this.arm();
    }
  }
}

/** Virtual time: nothing happens until `advance` or `runUntilIdle` is called. */
export class VirtualClock implements Clock {
  private readonly heap = new TimerHeap();
  private t: number;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  at(at: number, fn: () => void): Timer {
    return this.heap.push(Math.max(at, this.t), fn);
  }

  cancel(timer: Timer): void {
    this.heap.cancel(timer);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.heap.size;
  }

  /** Time of the earliest pending timer, or Infinity. */
  nextTime(): number {
    return this.heap.peekTime();
  }

  /** Move time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      const next = this.heap.peekTime();
      if (next > target) break;
      this.t = Math.max(this.t, next);
      this.heap.runDue(this.t);
    }
    this.t = Math.max(this.t, target);
  }

  /**
   * Fire timers in order until none is left or `limitMs` of virtual time has
   * passed, or `until()` becomes true. Returns true if it stopped because
   * `until` held (or the queue drained when no predicate was given).
   */
  run(limitMs: number, until?: () => boolean): boolean {
    const end = this.t + limitMs;
    for (;;) {
      if (until?.()) return true;
      const next = this.heap.peekTime();
      if (next === Infinity) return until === undefined;
      if (next > end) {
        this.t = end;
        return false;
      }
      this.t = Math.max(this.t, next);
      this.heap.runDue(this.t);
    }
  }
}
