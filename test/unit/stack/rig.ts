// A Stack on a VirtualClock behind a memory link: inject raw IPv4 packets as
// the peer, get back exactly what the stack sent. Shared by the stack tests.
import { VirtualClock } from '../../../src/stack/clock.js';
import { createMemoryPair } from '../../../src/link/memory.js';
import { Stack, type StackOptions } from '../../../src/stack/stack.js';
import { decodeIPv4, IPPROTO_TCP, type IPv4Packet } from '../../../src/wire/ipv4.js';
import { buildTcpPacket, decodeTcp, type TcpFields, type TcpSegment } from '../../../src/wire/tcp.js';

export const US = '10.55.0.2';
export const PEER = '10.55.0.1';

export interface Rig {
  stack: Stack;
  clock: VirtualClock;
  /** Deliver `packets` as one batch at the current time, run the clock up to
   * `settleMs` further, and return what the stack sent meanwhile. */
  inject(...packets: Buffer[]): Buffer[];
  /** Move virtual time to `t` (firing timers) and return what was sent on the way. */
  advanceTo(t: number): Buffer[];
}

export function rig(opts: Partial<StackOptions> = {}, settleMs = 10): Rig {
  const clock = new VirtualClock();
  const [a, b] = createMemoryPair({ clock });
  const stack = new Stack({ link: a, addr: US, clock, ...opts });
  const out: Buffer[] = [];
  b.onReceive = (ps) => { for (const p of ps) out.push(Buffer.from(p)); };
  const take = (): Buffer[] => out.splice(0);
  return {
    stack,
    clock,
    inject: (...packets) => {
      out.length = 0;
      for (const p of packets) b.send(p);
      clock.run(settleMs);
      return take();
    },
    advanceTo: (t) => {
      out.length = 0;
      clock.advanceTo(t);
      return take();
    },
  };
}

/** Let the stack hand its events to their owners (it does so on the next tick, e.g. onConnection). */
export function delivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A TCP segment from `src` (default the peer, port 40312) to us, port 80. */
export function tcp(fields: Partial<TcpFields> & { flags: number }, payload?: Buffer, dst = US, src = PEER): Buffer {
  return buildTcpPacket(
    { src, dst, protocol: IPPROTO_TCP, ttl: 64 },
    { srcPort: 40312, dstPort: 80, seq: 0, ack: 0, window: 64240, ...fields },
    payload,
  );
}

export function asTcp(p: Buffer): { ip: IPv4Packet; seg: TcpSegment } {
  const ip = decodeIPv4(p);
  if (typeof ip === 'string') throw new Error(ip);
  const seg = decodeTcp(ip);
  if (typeof seg === 'string') throw new Error(seg);
  return { ip, seg };
}
