/**
 * Two NetStacks joined by an in-memory link (optionally through a fault
 * injector) on one virtual clock. Virtual time moves only when the Node event
 * loop has nothing else to do, so stream callbacks run as they would for real
 * while every timer (RTO, delayed ACK, TIME_WAIT) fires deterministically.
 */
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { FaultLink, type FaultOptions } from '../../src/link/fault.js';
import { NetStack } from '../../src/socket/net-stack.js';
import type { TcpConfig } from '../../src/tcp/config.js';
import type { Link } from '../../src/link/link.js';

export const A_ADDR = '10.0.0.1';
export const B_ADDR = '10.0.0.2';
/** Their IPv6 addresses (SimOptions.ipv6). */
export const A_ADDR6 = 'fd00::a';
export const B_ADDR6 = 'fd00::b';

export interface SimPair {
  clock: VirtualClock;
  a: NetStack;
  b: NetStack;
  /** Run until `pred()` holds or `limitMs` of virtual time passed. */
  until(pred: () => boolean, limitMs?: number): Promise<boolean>;
  /** Let `ms` of virtual time pass. */
  wait(ms: number): Promise<void>;
}

export interface SimOptions {
  latencyMs?: number;
  mtu?: number;
  faults?: FaultOptions;
  tcp?: Partial<TcpConfig>;
  tcpB?: Partial<TcpConfig>;
  /** Wrap A's link (after the faults), e.g. in a router with a smaller MTU. */
  wrapA?: (link: Link, clock: VirtualClock) => Link;
  /** Checksum and segmentation offload on both links (not with faults). */
  offload?: boolean;
  /** IPv6 on both stacks too (A_ADDR6, B_ADDR6). */
  ipv6?: boolean;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export function simPair(o: SimOptions = {}): SimPair {
  const clock = new VirtualClock(1_000_000);
  if (o.offload === true && o.faults !== undefined) throw new Error('simPair: offload with faults would trust corrupted packets');
  const [la, lb] = createMemoryPair({ clock, latencyMs: o.latencyMs ?? 1, mtu: o.mtu ?? 1500, offload: o.offload });
  const faultyA: Link = o.faults ? new FaultLink(la, o.faults, clock) : la;
  const linkA = o.wrapA ? o.wrapA(faultyA, clock) : faultyA;
  const isnKey = Buffer.alloc(16, 7);
  const a = new NetStack({ link: linkA, addr: A_ADDR, addr6: o.ipv6 ? A_ADDR6 : undefined, clock, tcp: o.tcp, isnKey });
  const b = new NetStack({ link: lb, addr: B_ADDR, addr6: o.ipv6 ? B_ADDR6 : undefined, clock, tcp: o.tcpB ?? o.tcp, isnKey });
  const until = (pred: () => boolean, limitMs = 120_000): Promise<boolean> => runUntil(clock, pred, limitMs);
  const wait = async (ms: number): Promise<void> => {
    await until(() => false, ms);
  };
  return { clock, a, b, until, wait };
}

/**
 * Let virtual time run until `pred` holds or `limitMs` have passed: two
 * turns of the event loop at each instant (owners' deferred events and what
 * they write), then on to the clock's next timer.
 */
export async function runUntil(clock: VirtualClock, pred: () => boolean, limitMs: number): Promise<boolean> {
  const end = clock.now() + limitMs;
  for (;;) {
    await turn();
    await turn();
    if (pred()) return true;
    const next = clock.nextTime();
    if (next > end) {
      clock.advanceTo(end);
      await turn();
      return pred();
    }
    clock.advanceTo(next);
  }
}
