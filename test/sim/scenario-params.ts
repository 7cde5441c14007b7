/**
 * What one simulation seed decides (test/sim/scenario.ts runs it): the
 * network faults, the connections, how much data each way, the write chunk
 * sizes, the reader pauses and who closes first, all drawn in a fixed order
 * from one PRNG, plus a few fixed hard cases.
 */
import { Prng } from '../../src/link/prng.js';
import { CONGESTION_CONTROLS, type CongestionControlName } from '../../src/tcp/congestion/factory.js';

const KB = 1024;
const MB = 1024 * 1024;

/** Who sends the first FIN. */
export type CloseOrder =
  /** A (the client) ends as soon as it has written everything; B after that. */
  | 'a-first'
  | 'b-first'
  /** Both call end() in the same tick once both have written everything (FINs may cross). */
  | 'together'
  /** Each ends as soon as its own writing is done, without waiting for the other. */
  | 'independent';

export interface ConnPlan {
  /** The client's port (given explicitly: the stack draws ephemeral ports from Math.random). */
  localPort: number;
  /** Virtual ms after the start at which the client connects. */
  startAt: number;
  /** Bytes A -> B and B -> A. */
  bytesAB: number;
  bytesBA: number;
  /** Where each direction's data starts in the shared random block. */
  offAB: number;
  offBA: number;
  /** Each write is 1..chunkMax bytes. */
  chunkMaxA: number;
  chunkMaxB: number;
  /** Seeds of the writers' own PRNGs (chunk sizes, pauses). */
  rngA: number;
  rngB: number;
  /** The client writes before the handshake completes. */
  writeEarly: boolean;
  close: CloseOrder;
  /** Percent chance per 'data' event that the reader pauses (0 = never). */
  pauseA: number;
  pauseB: number;
  /** Longest reader pause in virtual ms. */
  pauseMaxMs: number;
}

export interface ScenarioFaults {
  loss: number;
  duplicate: number;
  reorder: number;
  corrupt: number;
  delay: number;
  jitter: number;
  /** Bits per second, 0 = unlimited. */
  rate: number;
  seed: number;
  /** Percent of ECT packets marked CE (drawn only when ECN is on). */
  ce?: number;
}

export interface ScenarioParams {
  seed: number;
  /** Virtual-time bound for this scenario (overrides ScenarioOptions.limitMs). */
  limitMs?: number;
  /** A name for fixed scenarios (replay with --hard NAME). */
  name?: string;
  faults: ScenarioFaults;
  allowHalfOpen: boolean;
  noDelay: boolean;
  windowScaling: boolean;
  rcvBuf: number;
  sndBuf: number;
  conns: ConnPlan[];
  /** Both stacks ask for ECN (RFC 3168) and accept it. */
  ecn?: boolean;
  /** RACK-TLP loss detection (RFC 8985; default on); false: RFC 6675 alone. */
  rack?: boolean;
  /** Congestion control of both stacks (default cubic). */
  cc?: CongestionControlName;
}

// ---------------------------------------------------------------- parameters

/** Uniform in [lo, hi). */
const uniform = (r: Prng, lo: number, hi: number): number => lo + r.next() * (hi - lo);
/** Log-uniform integer in [lo, hi]. */
const logUniform = (r: Prng, lo: number, hi: number): number => Math.min(hi, Math.floor(Math.exp(uniform(r, Math.log(lo), Math.log(hi + 1)))));
/** `percent` chance of a value from `draw`, else 0. */
const maybe = (r: Prng, percent: number, draw: () => number): number => (r.chance(percent) ? draw() : 0);
const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * Transfer size for one direction: 10 % nothing, 20 % large (uniform up to
 * 1 MiB), the rest small to medium (log-uniform up to 64 KiB). The mixture
 * is tuned so that several hundred seeds run in about a minute.
 */
function drawSize(r: Prng): number {
  const x = r.next();
  if (x < 0.1) return 0;
  if (x < 0.3) return r.int(MB + 1);
  return logUniform(r, 1, 64 * KB);
}

/** Everything a seed decides, drawn in a fixed order. */
export function drawParams(seed: number): ScenarioParams {
  const r = new Prng(seed);
  // Each fault is present in about 60 % of runs, so runs mix few and many faults.
  const faults: ScenarioFaults = {
    loss: round2(maybe(r, 60, () => uniform(r, 0, 20))),
    duplicate: round2(maybe(r, 60, () => uniform(r, 0, 5))),
    reorder: round2(maybe(r, 60, () => uniform(r, 0, 10))),
    corrupt: round2(maybe(r, 60, () => uniform(r, 0, 5))),
    delay: round2(maybe(r, 70, () => uniform(r, 0, 50))),
    jitter: round2(maybe(r, 60, () => uniform(r, 0, 20))),
    rate: r.chance(50) ? 0 : Math.round(uniform(r, 1, 100)) * 1_000_000,
    seed: 1 + r.int(0x7fffffff),
  };
  const allowHalfOpen = r.chance(50);
  const noDelay = r.chance(30);
  const windowScaling = !r.chance(15);
  const bufs = [16 * KB, 64 * KB, 256 * KB, 256 * KB, 256 * KB];
  // 0: the default, a buffer grown by autotuning from tcp_rmem (same number of draws as bufs).
  const rcvBuf = [16 * KB, 64 * KB, 256 * KB, 0, 256 * KB][r.int(bufs.length)]!;
  const sndBuf = bufs[r.int(bufs.length)]!;
  const n = 1 + r.int(3);
  const orders: CloseOrder[] = ['a-first', 'b-first', 'together', 'independent'];
  const conns: ConnPlan[] = [];
  const ports = new Set<number>();
  for (let i = 0; i < n; i++) {
    let localPort = 32768 + r.int(28232);
    while (ports.has(localPort)) localPort++;
    ports.add(localPort);
    const bytesAB = drawSize(r);
    const bytesBA = drawSize(r);
    // At most ~4000 writes per direction, so 1 MiB is not written a byte at a time.
    const chunkMax = (bytes: number): number => Math.max(logUniform(r, 1, 64 * KB), Math.ceil(bytes / 2000));
    conns.push({
      localPort,
      startAt: r.chance(50) ? 0 : r.int(500),
      bytesAB,
      bytesBA,
      offAB: r.int(MB),
      offBA: r.int(MB),
      chunkMaxA: chunkMax(bytesAB),
      chunkMaxB: chunkMax(bytesBA),
      rngA: 1 + r.int(0x7fffffff),
      rngB: 1 + r.int(0x7fffffff),
      writeEarly: r.chance(50),
      close: orders[r.int(orders.length)]!,
      pauseA: r.chance(20) ? 1 + r.int(20) : 0,
      pauseB: r.chance(20) ? 1 + r.int(20) : 0,
      pauseMaxMs: 1 + r.int(300),
    });
  }
  // Drawn last, so the seeds drawn before ECN existed keep every other parameter.
  const ecn = r.chance(50);
  if (ecn) faults.ce = round2(maybe(r, 60, () => uniform(r, 0, 5)));
  const rack = r.chance(50); // after ECN, for the same reason
  const cc = CONGESTION_CONTROLS[r.int(CONGESTION_CONTROLS.length)]!; // every --cc, drawn last too
  return { seed, faults, allowHalfOpen, noDelay, windowScaling, rcvBuf, sndBuf, conns, ecn, rack, cc };
}

/** Fixed hard cases, kept in every sweep (replay: soak --hard NAME). */
export const HARD_SCENARIOS: Record<string, () => ScenarioParams> = {
  /** 20 % loss, reordering and corruption, 1 MiB each way on one connection. */
  'lossy-1mb': () => hard('lossy-1mb', 1, { loss: 20, duplicate: 2, reorder: 10, corrupt: 5, delay: 10, jitter: 5, rate: 0, seed: 4242 }),
  /** The same network with three connections of 1 MiB each way at once. */
  'lossy-3x1mb': () => hard('lossy-3x1mb', 3, { loss: 20, duplicate: 5, reorder: 10, corrupt: 5, delay: 25, jitter: 20, rate: 0, seed: 777 }),
  /** A slow bottleneck with a queue that overflows, plus loss and reordering. */
  'bottleneck-1mb': () => hard('bottleneck-1mb', 2, { loss: 5, duplicate: 1, reorder: 10, corrupt: 5, delay: 50, jitter: 20, rate: 2_000_000, seed: 99 }),
};

function hard(name: string, n: number, faults: ScenarioFaults): ScenarioParams {
  const orders: CloseOrder[] = ['a-first', 'b-first', 'together'];
  const conns: ConnPlan[] = [];
  for (let i = 0; i < n; i++) {
    conns.push({
      localPort: 40000 + i,
      startAt: 100 * i,
      bytesAB: MB,
      bytesBA: MB,
      offAB: 1000 * i + 17,
      offBA: 500_000 + 1000 * i,
      chunkMaxA: 16 * KB,
      chunkMaxB: 1400,
      rngA: 11 + i,
      rngB: 22 + i,
      writeEarly: i % 2 === 0,
      close: orders[i % orders.length]!,
      pauseA: 0,
      pauseB: 0,
      pauseMaxMs: 1,
    });
  }
  return { seed: 0, name, faults, allowHalfOpen: n > 1, noDelay: false, windowScaling: true, rcvBuf: 256 * KB, sndBuf: 256 * KB, conns };
}

/** The drawn parameters on one line. */
export function describeParams(p: ScenarioParams): string {
  const f = p.faults;
  const rate = f.rate > 0 ? `${f.rate / 1e6}Mbit/s` : 'unlimited';
  const conns = p.conns
    .map((c) => `${c.bytesAB}>/<${c.bytesBA} chunks ${c.chunkMaxA}/${c.chunkMaxB} ${c.close}${c.writeEarly ? ' early' : ''}${c.pauseA || c.pauseB ? ` pauses ${c.pauseA}%/${c.pauseB}%<=${c.pauseMaxMs}ms` : ''}${c.startAt ? ` @${c.startAt}ms` : ''}`)
    .join(', ');
  return (
    `loss ${f.loss}% dup ${f.duplicate}% reorder ${f.reorder}% corrupt ${f.corrupt}% delay ${f.delay}ms jitter ${f.jitter}ms rate ${rate}` +
    `${p.ecn ? ` ecn ce ${f.ce ?? 0}%` : ''}${p.rack === false ? ' no-rack' : ''}${p.cc !== undefined ? ` cc ${p.cc}` : ''}; ` +
    `${p.allowHalfOpen ? 'allowHalfOpen' : 'no half-open'}${p.noDelay ? ' noDelay' : ''}${p.windowScaling ? '' : ' no-wscale'} rcvBuf ${p.rcvBuf} sndBuf ${p.sndBuf}; ` +
    `${p.conns.length} conn: ${conns}`
  );
}
