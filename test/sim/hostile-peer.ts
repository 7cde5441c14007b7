// A hostile peer in virtual time: raw segments against a NetStack whose
// sockets are used as an application would use them. The peer keeps just
// enough state to talk (its ISN, what it has received) and sends whatever a
// test asks for: zero windows, RSTs, ACKs of unsent data, silence.
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { NetStack } from '../../src/socket/net-stack.js';
import { decodeIPv4, IPPROTO_TCP } from '../../src/wire/ipv4.js';
import { buildTcpPacket, decodeTcp, TCP_ACK, TCP_SYN, type TcpOption, type TcpSegment } from '../../src/wire/tcp.js';
import { seqAdd, seqGt } from '../../src/wire/seq.js';
import type { TcpConfig } from '../../src/tcp/config.js';
import { runUntil } from './harness.js';

export const US = '10.66.0.2';
export const PEER = '10.66.0.1';

export interface HostileRig {
  clock: VirtualClock;
  stack: NetStack;
  /** Every segment the stack sent, in order. */
  sent: TcpSegment[];
  send(f: { srcPort: number; dstPort?: number; seq: number; ack?: number; flags: number; window?: number; options?: TcpOption[] }, payload?: Buffer): void;
  /** Let virtual time run (owners' events and timers fire) until `pred` or `ms` passed. */
  until(pred: () => boolean, ms?: number): Promise<boolean>;
  wait(ms: number): Promise<void>;
}

export function hostileRig(tcp?: Partial<TcpConfig>): HostileRig {
  const clock = new VirtualClock(1_000_000);
  const [a, b] = createMemoryPair({ clock, latencyMs: 1 });
  const stack = new NetStack({ link: a, addr: US, clock, tcp, isnKey: Buffer.alloc(16, 9) });
  const sent: TcpSegment[] = [];
  b.onReceive = (ps) => {
    for (const p of ps) {
      const ip = decodeIPv4(Buffer.from(p));
      if (typeof ip === 'string' || ip.protocol !== IPPROTO_TCP) continue;
      const seg = decodeTcp(ip);
      if (typeof seg !== 'string') sent.push(seg);
    }
  };
  const send: HostileRig['send'] = (f, payload) =>
    b.send(buildTcpPacket({ src: PEER, dst: US, protocol: IPPROTO_TCP, ttl: 64 }, { dstPort: 80, ack: 0, window: 65535, ...f }, payload));
  const until = (pred: () => boolean, ms = 60_000): Promise<boolean> => runUntil(clock, pred, ms);
  return { clock, stack, sent, send, until, wait: async (ms) => void (await until(() => false, ms)) };
}

/** One connection of the hostile peer: handshake done, sequence numbers tracked. */
export class PeerConn {
  /** Next sequence number the peer sends. */
  seq: number;
  /** What the peer has received of the stack's bytes (its RCV.NXT). */
  rcvNxt = 0;
  /** Sequence number of the stack's first data byte. */
  dataStart = 0;
  /** Payload bytes the stack sent on this connection, by sequence number (first copy). */
  readonly got = new Map<number, Buffer>();
  private seen = 0;

  private constructor(
    private readonly rig: HostileRig,
    readonly port: number,
    isn: number,
    readonly dstPort: number,
  ) {
    this.seq = isn;
  }

  /** SYN with `options`, then ACK the SYN,ACK with `window`. */
  static async open(rig: HostileRig, port: number, opts: { window?: number; options?: TcpOption[]; dstPort?: number } = {}): Promise<PeerConn> {
    const isn = 0x7fff0000 + port;
    const dstPort = opts.dstPort ?? 80;
    const c = new PeerConn(rig, port, isn, dstPort);
    rig.send({ srcPort: port, dstPort, seq: isn, flags: TCP_SYN, window: opts.window ?? 65535, options: opts.options ?? [{ kind: 'mss', mss: 1460 }] });
    await rig.until(() => c.segments().some((s) => (s.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)), 5000);
    const synAck = c.segments().find((s) => s.flags & TCP_SYN);
    if (synAck === undefined) throw new Error('no SYN,ACK');
    c.seq = seqAdd(isn, 1);
    c.rcvNxt = seqAdd(synAck.seq, 1);
    c.dataStart = c.rcvNxt;
    c.send(TCP_ACK, undefined, opts.window);
    await rig.until(() => false, 5);
    return c;
  }

  /** Let 10 ms pass (what the stack answers arrives). */
  settle(): Promise<void> {
    return this.rig.wait(10);
  }

  /** Segments the stack sent to this connection. */
  segments(): TcpSegment[] {
    return this.rig.sent.filter((s) => s.dstPort === this.port);
  }

  /** Segments sent since the last call, noting their payload. */
  fresh(): TcpSegment[] {
    const all = this.segments();
    const out = all.slice(this.seen);
    this.seen = all.length;
    for (const s of out) if (s.payload.length > 0 && !this.got.has(s.seq)) this.got.set(s.seq, Buffer.from(s.payload));
    return out;
  }

  /** Accept in-order data up to `max` bytes past what we had (for a peer that reads slowly). */
  take(maxBytes = Infinity): number {
    this.fresh();
    let took = 0;
    for (;;) {
      const b = this.got.get(this.rcvNxt);
      if (b === undefined || took + b.length > maxBytes) break;
      this.rcvNxt = seqAdd(this.rcvNxt, b.length);
      took += b.length;
    }
    return took;
  }

  /** The stack's bytes this peer has taken in order so far. */
  stream(): Buffer {
    const out: Buffer[] = [];
    for (let seq = this.dataStart; seq !== this.rcvNxt; ) {
      const b = this.got.get(seq)!;
      out.push(b);
      seq = seqAdd(seq, b.length);
    }
    return Buffer.concat(out);
  }

  send(flags: number, payload?: Buffer, window = 65535, ack = this.rcvNxt, seq = this.seq): void {
    this.rig.send({ srcPort: this.port, dstPort: this.dstPort, seq, ack, flags, window }, payload);
    if (seq === this.seq) this.seq = seqAdd(this.seq, (payload?.length ?? 0) + (flags & 1 ? 1 : 0));
  }

  /** The highest SEG.SEQ + SEG.LEN the stack has sent (its SND.NXT as seen on the wire). */
  sndNxt(): number {
    let hi = this.rcvNxt;
    for (const s of this.segments()) {
      const end = seqAdd(s.seq, s.payload.length + (s.flags & 1 ? 1 : 0) + (s.flags & TCP_SYN ? 1 : 0));
      if (seqGt(end, hi)) hi = end;
    }
    return hi;
  }
}
