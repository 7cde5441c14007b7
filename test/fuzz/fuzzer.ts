/**
 * The stack fuzzer. A run is a sequence of epochs; each epoch builds a fresh
 * world (world.ts: a victim stack with live connections in many states and
 * the legitimate peer that made them), then injects structure-aware mutated
 * packets (mutate.ts) straight into the victim's receive path in batches of
 * varying size while virtual time moves on, timers fire and the peer's
 * applications keep sending. It fails on:
 *  - any exception out of the stack or out of a timer, and any
 *    stack_internal_error (a bug of ours caught per packet);
 *  - a broken invariant of any connection after any injected packet
 *    (checks.ts, Tcb.checkInvariants), or a memory bound exceeded;
 *  - a packet that took more than `cpuLimitMs` to process;
 *  - the guarded connection changed by a packet that RFC 9293, RFC 5961 and
 *    RFC 7323 say it must ignore (tcb-view.ts), or, at the end of the epoch,
 *    its transfer not completing with every byte intact (SHA-256);
 *  - a packet storm: the stacks still exchanging packets at a high rate
 *    while nothing is being sent by the applications.
 * Packets that the RFCs let change a connection (an exact-match RST, data at
 * RCV.NXT with an acceptable ACK, ...) are legitimate against every other
 * connection; the guarded one only ever gets packets it must ignore, so its
 * transfer has to survive the whole epoch.
 *
 * Everything is drawn from the seed: `--seed S --epoch E` replays one epoch.
 */
import { Prng } from '../../src/link/prng.js';
import type { Connection } from '../../src/tcp/connection.js';
import type { TcpEndpoint } from '../../src/stack/endpoint.js';
import { TcpdumpFormatter } from '../../src/trace/tcpdump.js';
import { StackChecker, MAX_TIMERS } from './checks.js';
import { decodeForVictim, Mutator, type Injected } from './mutate.js';
import { guardDiff, guardSnapshot, rfcMayAffect, rcvWnd, type GuardSnapshot } from './tcb-view.js';
import { ROLE_STATE, World, type Role } from './world.js';
import { TCP_ACK, TCP_RST, TCP_SYN, setTcpChecksum } from '../../src/wire/tcp.js';

export interface FuzzOptions {
  seed: number;
  /** Packets to inject in the whole run. */
  packets: number;
  /** Run only this epoch (replay). */
  epoch?: number;
  /** Injected packets of that epoch (default: as the run drew it). */
  epochPackets?: number;
  /** Stop after this many failed epochs (default 10). */
  maxFailures?: number;
  /** A packet taking longer than this fails the run (default 250 ms). */
  cpuLimitMs?: number;
  /** One line per injected packet and state change (replays). */
  trace?: (line: string) => void;
  /** Called every ~2 s of wall time. */
  progress?: (p: Progress) => void;
  /** Called with each failure as it happens. */
  onFailure?: (f: Failure) => void;
}

export interface Progress {
  packets: number;
  epochs: number;
  failures: number;
  wallMs: number;
}

export interface Failure {
  seed: number;
  epoch: number;
  /** Where: on an injected packet, in the time step after one, or in the checks at the end. */
  phase: 'packet' | 'time' | 'end';
  /** Index in its epoch (from 0) of the failing packet, or of the last one before the time step. */
  index: number;
  /** Packets of the run before this one. */
  runIndex: number;
  what: string;
  packetHex: string;
  how: string;
  replay: string;
}

export interface EpochStats {
  packets: number;
  failure: Failure | null;
  /** Roles whose connection reached the state the plan wanted before fuzzing. */
  statesReached: Role[];
  counters: Record<string, number>;
  slowestUs: number;
  maxOooPieces: number;
  maxSackRanges: number;
}

export interface FuzzResult {
  seed: number;
  packets: number;
  epochs: number;
  failures: Failure[];
  wallMs: number;
  packetsPerSecond: number;
  /** Victim counters summed over all epochs. */
  counters: Record<string, number>;
  /** How often each mutation choice was made, summed. */
  seen: Record<string, number>;
  /** Flag bytes never built (should be empty after a few thousand packets). */
  flagsMissing: number[];
  /** For each planned role, in how many epochs its state was reached. */
  statesReached: Record<string, number>;
  slowestPacketUs: number;
  maxOooPieces: number;
  maxSackRanges: number;
  heapUsedMaxMB: number;
  /** Packets over the CPU limit whose epoch, run again, was not slow there: noise, not counted. */
  slowNoise: number;
}

/** Epoch lengths: short enough that most connections are still alive at the end. */
const EPOCH_MIN = 1000;
const EPOCH_SPAN = 4000;
/** Virtual time the guarded transfer gets to finish after the fuzzing stops. */
const LIVENESS_MS = 600_000;
/** Idle time after the liveness check, and the packets the victim may send in it. */
const IDLE_MS = 10_000;
const IDLE_PACKET_LIMIT = 2000;

/** A seed per epoch, so that any epoch replays alone. */
export function epochSeed(seed: number, epoch: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Injected packets of one epoch as a run draws it. */
export function epochLength(seed: number, epoch: number): number {
  return EPOCH_MIN + new Prng(epochSeed(seed, epoch) ^ 0x5bd1e995).int(EPOCH_SPAN);
}

export function replayLine(seed: number, epoch: number, packets?: number): string {
  return `node dist/scripts/fuzz.js --seed ${seed} --epoch ${epoch}${packets !== undefined ? ` --epoch-packets ${packets}` : ''}`;
}

class EpochFailure extends Error {}

const SLOW = 'one packet took';

/** One epoch: build, fuzz `packets` packets, check liveness, idle. */
export function runEpoch(
  seed: number, epoch: number, packets: number,
  opts: Pick<FuzzOptions, 'cpuLimitMs' | 'trace'> & { inspect?: (w: World) => void } = {}, runIndex = 0,
): EpochStats & { mutator: Mutator } {
  const rng = new Prng(epochSeed(seed, epoch));
  const world = new World(rng, { wrapIsns: rng.chance(50) });
  const mut = new Mutator(rng, world);
  // One epoch in ten floods the connections with pieces and SACK blocks
  // (reassembly.ts, sack.ts), most of all two: pieces into the one whose hole
  // never fills, SACK blocks to one with data in flight.
  if (rng.chance(10)) {
    mut.floodRate = 0.5;
    mut.focusPieces = world.planOf('out-of-order')?.victim.ep ?? null;
    mut.focusSack = world.planOf('bulk')?.victim.ep ?? null;
  }
  // One epoch in four, packets come as an offloading link delivers them: TCP checksums vouched for, not verified.
  const trusted = rng.chance(25);
  const ones = new Uint8Array(512).fill(1);
  opts.inspect?.(world);
  const { victim, peer, clock } = world;
  const vCheck = new StackChecker(victim, 'victim');
  const pCheck = new StackChecker(peer, 'peer');
  const cpuLimit = opts.cpuLimitMs ?? 250;
  const trace = opts.trace;
  const fmt = trace ? new TcpdumpFormatter({ absolute: true }) : null;

  const statesReached = world.planned.filter((p) => p.victim.ep.conn.state === ROLE_STATE[p.role]).map((p) => p.role);
  const guarded = world.guarded;
  const gc = guarded.victim.ep.conn;
  /** The peer's timestamp clock on the connection of the victim's endpoint `ep`, if it sends timestamps. */
  const peerTsOf = (ep: TcpEndpoint): number | null => {
    const pc = world.planned.find((p) => p.victim.ep === ep)?.peer?.ep.conn;
    return pc !== undefined && pc.ts.enabled ? pc.ts.value(clock.now()) : null;
  };
  const peerTsNow = (): number | null => peerTsOf(guarded.victim.ep);

  let injected = 0;
  let batch: Injected[] = [];
  let guardedFlags: boolean[] = [];
  let inBatch = 0;
  let snap: GuardSnapshot = guardSnapshot(gc);
  let failure: Failure | null = null;
  let last: Injected | null = null;
  let slowest = 0;
  let t0 = 0;

  const fail = (what: string, phase: Failure['phase'] = 'packet'): never => {
    const pkt = phase === 'packet' ? last : null;
    const index = injected - 1;
    failure = {
      seed, epoch, phase, index, runIndex: runIndex + index, what,
      packetHex: pkt?.packet.toString('hex') ?? '', how: pkt?.how ?? '',
      replay: replayLine(seed, epoch, packets === epochLength(seed, epoch) ? undefined : packets),
    };
    throw new EpochFailure(what);
  };

  if (trace) {
    for (const s of [victim, peer]) {
      s.observeState((ep, from, to, cause) => trace(`  ${s === victim ? 'victim' : 'peer'} :${ep.localPort}<>${ep.remotePort} ${from} -> ${to}: ${cause}`));
    }
  }

  // After every injected packet: the checks, in the order a bug would show.
  let injecting = false;
  victim.afterReceive = (_packet, err) => {
    // Packets the link delivers (the peer's) are checked after each time step instead.
    if (!injecting || failure !== null) return;
    const us = (performance.now() - t0) * 1000;
    const pkt = batch[inBatch]!;
    const isGuarded = guardedFlags[inBatch]!;
    inBatch++;
    injected++;
    last = pkt;
    try {
      if (us > slowest) slowest = us;
      if (err !== undefined) fail(`exception: ${(err as Error).stack ?? String(err)}`);
      if (us > cpuLimit * 1000) fail(`${SLOW} ${(us / 1000).toFixed(1)} ms (limit ${cpuLimit} ms)`);
      if (isGuarded) {
        const now = guardSnapshot(gc);
        const diff = guardDiff(snap, now, peerTsNow());
        if (diff !== null) fail(`the guarded connection changed on a packet RFC 9293/5961/7323 say it must ignore: ${diff}`);
        snap = now;
      } else if (pkt.packet.length > 9 && pkt.packet[9] === 1) {
        // An ICMP error for another connection to the same host may lower the
        // guarded one's path MTU too (RFC 1191: per destination), and resend.
        snap = guardSnapshot(gc);
      }
      const q = vCheck.quick();
      if (q !== null) fail(q);
      if ((injected & 63) === 0) {
        const t = vCheck.thorough();
        if (t !== null) fail(t);
      }
      if (inBatch < batch.length) prepare(inBatch);
    } catch (e) {
      if (!(e instanceof EpochFailure)) throw e;
    }
    t0 = performance.now();
  };

  const g = guarded.victim.ep;
  /** Planned connections by "remote port>local port" (all with the peer's address). */
  const plannedByPorts = new Map(world.planned.map((p) => [`${p.victim.ep.remotePort}>${p.victim.ep.localPort}`, p.victim.ep]));
  /**
   * Right before packet i is processed: if it goes to the guarded connection
   * and the RFCs would let it change that connection, rewrite it in place into
   * one they say to ignore. Judged now, not when the batch was made: a
   * challenge ACK earlier in the batch may have moved the window edge. The
   * other planned connections get such packets too, but mostly defused as
   * well, so that they live through more of the epoch.
   */
  const prepare = (i: number): void => {
    const p = batch[i]!;
    // Decoding is the cost: first a look at the ports.
    const ihl = (p.packet[0]! & 15) * 4;
    const ep = p.packet.length >= ihl + 20 ? plannedByPorts.get(`${p.packet.readUInt16BE(ihl)}>${p.packet.readUInt16BE(ihl + 2)}`) : undefined;
    const d = ep !== undefined && !ep.removed ? decodeForVictim(p.packet, trusted) : null;
    const planned = d !== null && d.src === ep!.remoteAddr ? ep! : null;
    guardedFlags[i] = planned === g;
    // The focus of a flood epoch is kept alive like the guarded connection, except for the flood itself.
    const kept = guardedFlags[i] || (planned !== null && planned === mut.focusPieces);
    if (planned !== null && rfcMayAffect(decodeForVictim(p.packet, trusted)!.seg, planned.conn) && (guardedFlags[i] || (p.keep !== true && (kept || rng.chance(80))))) {
      defuse(p.packet, planned.conn);
      p.how += guardedFlags[i] ? ' (defused for the guarded connection)' : ' (defused)';
    }
    if (trace) trace(`#${injected} ${p.how}\n    ${fmt!.format(p.packet)}`);
  };

  /** Make a packet one that connection `c` must ignore, in place. */
  const defuse = (pkt: Buffer, c: Connection): void => {
    const ihl = (pkt[0]! & 15) * 4;
    const choice = rng.int(3);
    if (choice === 0) pkt.writeUInt32BE((c.rcvNxt + rcvWnd(c) + 1 + rng.int(100_000)) >>> 0, ihl + 4); // beyond the window
    else if (choice === 1) pkt[ihl + 13] = pkt[ihl + 13]! & ~(TCP_ACK | TCP_RST); // no ACK
    else pkt.writeUInt32BE((c.sndNxt + 1 + rng.int(100_000)) >>> 0, ihl + 8); // acknowledges unsent data
    setTcpChecksum(pkt);
    const d = decodeForVictim(pkt, trusted);
    if (d !== null && rfcMayAffect(d.seg, c)) {
      // Beyond the window and without ACK, RST or SYN, nothing is acceptable.
      pkt.writeUInt32BE((c.rcvNxt + rcvWnd(c) + 1 + rng.int(100_000)) >>> 0, ihl + 4);
      pkt[ihl + 13] = pkt[ihl + 13]! & ~(TCP_ACK | TCP_RST | TCP_SYN);
      setTcpChecksum(pkt);
    }
  };

  const stepTime = (): void => {
    const r = rng.next();
    const dt = r < 0.35 ? 0 : r < 0.75 ? 1 + rng.int(5) : r < 0.95 ? 5 + rng.int(245) : r < 0.995 ? 250 + rng.int(4750) : 5000 + rng.int(65_000);
    if (rng.chance(30)) world.pump();
    try {
      clock.advance(dt);
    } catch (e) {
      fail(`exception in a timer or delivery: ${(e as Error).stack ?? String(e)}`, 'time');
    }
    const q = vCheck.quick() ?? vCheck.thorough() ?? pCheck.quick() ?? pCheck.thorough();
    if (q !== null) fail(`${q} (after ${dt} ms of virtual time)`, 'time');
    if (clock.pending > MAX_TIMERS) fail(`${clock.pending} timers pending (bound ${MAX_TIMERS})`, 'time');
    snap = guardSnapshot(gc);
  };

  try {
    while (injected < packets) {
      const eps = [...victim.connections()].filter((e) => !e.removed);
      const planned = world.planned.map((p) => p.victim.ep).filter((e) => !e.removed);
      const r = rng.next();
      const size = Math.min(packets - injected, r < 0.4 ? 1 : r < 0.7 ? 2 + rng.int(7) : r < 0.95 ? 9 + rng.int(56) : 65 + rng.int(192));
      batch = [];
      for (let i = 0; i < size; i++) batch.push(mut.next(eps, planned));
      guardedFlags = [];
      inBatch = 0;
      prepare(0);
      snap = guardSnapshot(gc);
      t0 = performance.now();
      injecting = true;
      try {
        victim.receiveBatch(batch.map((p) => p.packet), trusted ? ones : undefined);
      } catch (e) {
        fail(`exception out of receiveBatch: ${(e as Error).stack ?? String(e)}`);
      } finally {
        injecting = false;
      }
      if (failure !== null) throw new EpochFailure('');
      if (inBatch !== batch.length) fail(`the stack processed ${inBatch} of ${batch.length} packets`);
      stepTime();
    }
    // Liveness: the guarded transfer completes, intact.
    victim.afterReceive = null;
    last = null;
    const why = world.finishGuarded(LIVENESS_MS);
    if (why !== null) fail(`liveness: ${why}`, 'end');
    const q = vCheck.quick() ?? vCheck.thorough() ?? pCheck.quick() ?? pCheck.thorough();
    if (q !== null) fail(`after the guarded transfer: ${q}`, 'end');
    // Quiet: the applications are done; the stacks must not keep talking at a high rate.
    const before = world.filter.sent;
    world.filter.topTalkers();
    for (let t = 0; t < IDLE_MS; t += 100) {
        clock.advance(100);
    }
    const idle = world.filter.sent - before;
    if (idle > IDLE_PACKET_LIMIT) fail(`packet storm: the victim sent ${idle} packets in ${IDLE_MS} ms with nothing to send (${world.filter.topTalkers()})`, 'end');
  } catch (e) {
    if (!(e instanceof EpochFailure)) throw e;
  } finally {
    victim.afterReceive = null;
  }
  return {
    packets: injected, failure, statesReached, counters: victim.counters.snapshot(), slowestUs: slowest,
    maxOooPieces: vCheck.maxOooPieces, maxSackRanges: vCheck.maxSackRanges, mutator: mut,
  };
}

/** A whole run: epochs until `packets` packets were injected (or one epoch with `epoch`). */
export function runFuzz(opts: FuzzOptions): FuzzResult {
  const start = performance.now();
  const failures: Failure[] = [];
  const counters: Record<string, number> = {};
  const seen: Record<string, number> = {};
  const flags = new Uint32Array(256);
  const states: Record<string, number> = {};
  let packets = 0;
  let epochs = 0;
  let slowest = 0;
  let maxOoo = 0;
  let maxSack = 0;
  let heapMax = 0;
  let slowNoise = 0;
  let lastProgress = start;
  const maxFailures = opts.maxFailures ?? 10;
  for (let e = opts.epoch ?? 0; ; e++) {
    if (opts.epoch !== undefined && e !== opts.epoch) break;
    if (opts.epoch === undefined && packets >= opts.packets) break;
    const drawn = epochLength(opts.seed, e);
    const n = opts.epoch !== undefined ? (opts.epochPackets ?? drawn) : Math.min(drawn, opts.packets - packets);
    let r = runEpoch(opts.seed, e, n, opts, packets);
    // Wall time is noisy (GC, a loaded machine): a slow packet counts only if it is slow again.
    if (r.failure !== null && r.failure.what.startsWith(SLOW)) {
      const again = runEpoch(opts.seed, e, n, opts, packets);
      if (again.failure?.index !== r.failure.index || !again.failure.what.startsWith(SLOW)) {
        slowNoise++;
        r = again;
      }
    }
    packets += r.packets;
    epochs++;
    for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
    for (const [k, v] of r.mutator.seen) seen[k] = (seen[k] ?? 0) + v;
    r.mutator.flagsSeen.forEach((v, i) => (flags[i] = flags[i]! + v));
    for (const role of r.statesReached) states[role] = (states[role] ?? 0) + 1;
    slowest = Math.max(slowest, r.slowestUs);
    maxOoo = Math.max(maxOoo, r.maxOooPieces);
    maxSack = Math.max(maxSack, r.maxSackRanges);
    if ((e & 15) === 0) heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
    if (r.failure !== null) {
      failures.push(r.failure);
      opts.onFailure?.(r.failure);
      if (failures.length >= maxFailures) break;
    }
    const now = performance.now();
    if (opts.progress && now - lastProgress > 2000) {
      lastProgress = now;
      opts.progress({ packets, epochs, failures: failures.length, wallMs: now - start });
    }
  }
  heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  const wallMs = performance.now() - start;
  const flagsMissing: number[] = [];
  flags.forEach((v, i) => v === 0 && flagsMissing.push(i));
  return {
    seed: opts.seed, packets, epochs, failures, wallMs, packetsPerSecond: packets / (wallMs / 1000), counters, seen, flagsMissing,
    statesReached: states, slowestPacketUs: slowest, maxOooPieces: maxOoo, maxSackRanges: maxSack, heapUsedMaxMB: heapMax / 2 ** 20,
    slowNoise,
  };
}

/** The failure as printed: what, where, the packet, and how to replay it. */
export function describeFailure(f: Failure): string {
  const at =
    f.phase === 'end' ? `after the fuzzing (${f.index + 1} packets), in the liveness or idle check`
      : f.phase === 'time' ? `in the time step after packet #${f.index}`
        : `at packet #${f.index} of the epoch (packet ${f.runIndex} of the run)`;
  return [
    `FAIL seed ${f.seed} epoch ${f.epoch}, ${at}`,
    `  what:   ${f.what.split('\n').join('\n          ')}`,
    ...(f.packetHex !== '' ? [`  packet: ${f.how}`, `  hex:    ${f.packetHex}`] : []),
    `  replay: ${f.replay}`,
  ].join('\n');
}

