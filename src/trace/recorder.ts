/**
 * Records a live run for the pictures: every TCP segment the tap sees, every
 * state change of tuntcp with its cause, and (when asked) cwnd, ssthresh,
 * RCV.WND and RTO after each input a connection processed. All on the
 * stack's clock, so the same code records a run in virtual time.
 *
 * `attachRecorder(stack, tap)` is what a command calls (demo, compare,
 * connect, listen, and `drill --verbose`); `ladders(rec.conversations())`
 * prints them, `htmlReport` draws them.
 */
import type { PacketObserver } from '../link/tap.js';
import { joinPacket } from '../link/link.js';
import type { Stack } from '../stack/stack.js';
import type { TcpEndpoint } from '../stack/endpoint.js';
import type { TcpState } from '../tcp/state.js';
import { ConversationSet, type CcSample, type Conversation, type StateMark } from './conversation.js';
import { sentWith } from './state-tracker.js';

/** TCB samples and `ss` readings kept in all: a long run keeps its first ones. */
const MAX_SAMPLES = 200_000;

export interface RecorderOptions {
  /** Record cwnd/ssthresh/RCV.WND/RTO (the TCB observer). Default true. */
  cc?: boolean;
}

export class RunRecorder {
  readonly set: ConversationSet;
  private readonly last = new WeakMap<TcpEndpoint, CcSample>();
  /** Samples and readings kept so far (bounded by MAX_SAMPLES). */
  private samples = 0;

  constructor(private readonly stack: Stack, opts: RecorderOptions = {}) {
    this.set = new ConversationSet({ local: stack.addr, t0: stack.clock.now() });
    stack.observeState((ep, from, to, cause) => this.state(ep, from, to, cause));
    if (opts.cc ?? true) stack.observeTcb((ep, now) => this.sample(ep, now));
  }

  /** The tap observer: every packet in and out. */
  readonly observer: PacketObserver = (_dir, header, payload) => {
    this.set.packet(joinPacket(header, payload), this.stack.clock.now());
  };

  /** The packet just recorded never reached the wire (the demo's DropOnce). */
  droppedLast(): void {
    const convs = this.set.conversations();
    let latest: Conversation | null = null;
    for (const c of convs) {
      const s = c.segs[c.segs.length - 1];
      if (s !== undefined && (latest === null || s.t >= latest.segs[latest.segs.length - 1]!.t)) latest = c;
    }
    const s = latest?.segs[latest.segs.length - 1];
    if (s !== undefined) s.dropped = true;
  }

  conversations(): Conversation[] {
    return this.set.conversations();
  }

  /** `ss` saw the connection `local`-`remote` in `state` between t0 and t1 (stack clock). */
  ssReading(localAddr: string, localPort: number, remoteAddr: string, remotePort: number, state: TcpState, t0: number, t1: number): void {
    if (this.samples >= MAX_SAMPLES) return;
    if (this.set.ssReading(localAddr, localPort, remoteAddr, remotePort, state, t0, t1)) this.samples++;
  }

  private conv(ep: TcpEndpoint): Conversation | undefined {
    return this.set.find(ep.localAddr, ep.localPort, ep.remoteAddr, ep.remotePort);
  }

  private state(ep: TcpEndpoint, from: TcpState, to: TcpState, cause: string): void {
    const c = this.conv(ep);
    if (c === undefined) return;
    const left = c.left.addr === ep.localAddr && c.left.port === ep.localPort;
    const mark: StateMark = { t: this.set.rel(this.stack.clock.now()), left, from, to, cause, inferred: false };
    // The change is reported just after what the same input sent: link it to that segment.
    const flag = sentWith(to, cause);
    for (let i = c.segs.length - 1; flag !== null && i >= 0; i--) {
      const s = c.segs[i]!;
      if (s.fromLeft !== left) continue;
      if (s[flag]) mark.seg = i;
      break;
    }
    if (mark.seg === undefined) mark.afterSeg = c.segs.length - 1;
    c.states.push(mark);
  }

  private sample(ep: TcpEndpoint, now: number): void {
    const tcb = ep.conn;
    const prev = this.last.get(ep);
    const cwnd = tcb.cc.cwnd;
    const ssthresh = tcb.cc.ssthresh;
    const rcvWnd = tcb.rcvWnd;
    const rto = tcb.rtt.rto;
    if (prev !== undefined && prev.cwnd === cwnd && prev.ssthresh === ssthresh && prev.rcvWnd === rcvWnd && prev.rto === rto) return;
    const c = this.conv(ep);
    if (c === undefined || this.samples >= MAX_SAMPLES) return;
    this.samples++;
    const s: CcSample = { t: this.set.rel(now), cwnd, ssthresh, rcvWnd, rto };
    c.cc.push(s);
    this.last.set(ep, s);
  }
}

/** Record a live run: the stack's states and TCB samples, and the tap's packets. */
export function attachRecorder(stack: Stack, tap: { observe(o: PacketObserver): void }, opts: RecorderOptions = {}): RunRecorder {
  const rec = new RunRecorder(stack, opts);
  tap.observe(rec.observer);
  return rec;
}
