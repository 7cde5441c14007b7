// CUBIC (RFC 9438) driven by synthetic ACK streams in virtual time: one window
// of ACKs per round trip, one ACK per segment, spread evenly over the RTT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cubic, ALPHA_CUBIC, BETA_CUBIC, C } from '../../../src/tcp/congestion/cubic.js';
import { NewReno } from '../../../src/tcp/congestion/newreno.js';
import type { CongestionControl } from '../../../src/tcp/congestion/congestion.js';

const MSS = 1000;
const segs = (cc: CongestionControl): number => cc.cwnd / MSS;
const near = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} not within ${tol} of ${expected}`);

/** One round trip starting at `now`: a full window of ACKs. Returns the time at its end. */
function round(cc: CongestionControl, now: number, rtt = 100): number {
  const n = Math.floor(cc.cwnd / MSS);
  for (let i = 1; i <= n; i++) cc.onAck(MSS, true, now + (i * rtt) / n, rtt);
  return now + rtt;
}

/** Slow start 10 -> 80 (or 160) segments, a loss there, one RTT of recovery. Epoch t = 0 at the returned time. */
function lossAt80(rounds = 3, rtt = 100): { cc: Cubic; now: number } {
  const cc = new Cubic(MSS);
  let now = 0;
  for (let i = 0; i < rounds; i++) now = round(cc, now, rtt);
  cc.onCongestionEvent(cc.cwnd, now);
  now += rtt;
  cc.onRecoveryExit(now);
  return { cc, now };
}

test('§4.10 slow start doubles cwnd every RTT, only while the window is used', () => {
  const cc = new Cubic(MSS);
  assert.is(segs(cc), 10);
  assert.is(cc.ssthresh, Infinity);
  let now = 0;
  for (const expected of [20, 40, 80, 160]) {
    now = round(cc, now);
    assert.is(segs(cc), expected);
  }
  // §5.8: an ACK for which the sender was not cwnd-limited (cwnd-usage.ts) does not grow it.
  cc.onAck(MSS, false, now + 1, 100);
  assert.is(segs(cc), 160);
});

/** One round trip in which each ACK covers `per` segments (delayed ACKs: 2; stretch ACKs: more). */
function roundAckingEvery(cc: CongestionControl, now: number, per: number, rtt = 100): number {
  const n = Math.floor(cc.cwnd / MSS);
  const acks = Math.ceil(n / per);
  for (let i = 1; i <= acks; i++) cc.onAck(Math.min(per, n - (i - 1) * per) * MSS, true, now + (i * rtt) / acks, rtt);
  return now + rtt;
}

for (const [name, make] of [['CUBIC', () => new Cubic(MSS)], ['NewReno', () => new NewReno(MSS)]] as const) {
  test(`slow start (${name}) doubles cwnd per RTT with delayed ACKs (one per 2 segments) and stretch ACKs (one per 16), like Linux`, () => {
    for (const per of [2, 16]) {
      const cc: CongestionControl = make();
      let now = 0;
      for (const expected of [20, 40, 80, 160]) {
        now = roundAckingEvery(cc, now, per);
        assert.is(segs(cc), expected, `one ACK per ${per} segments`);
      }
    }
  });
}

test('slow start stops at ssthresh; the rest of the ACK counts toward congestion avoidance (Linux tcp_slow_start)', () => {
  const cc = new NewReno(MSS);
  cc.onTimeout(20 * MSS); // ssthresh 10 segments, cwnd 1
  // One ACK for 12 segments: 9 of them fill cwnd up to ssthresh, 3 go to avoidance.
  cc.onAck(12 * MSS, true);
  assert.is(segs(cc), 10);
  cc.onAck(6 * MSS, true);
  assert.is(segs(cc), 10, '9 of 10 segments acknowledged in avoidance');
  cc.onAck(MSS, true);
  assert.is(segs(cc), 11, 'one SMSS after a whole window');
});

test('§4.6/§4.7 congestion event: W_max = W, ssthresh = cwnd = 0.7 W; recovery exit keeps it', () => {
  const { cc } = lossAt80();
  assert.is(cc.W_max, 80);
  near(cc.ssthresh, 0.7 * 80 * MSS, 1e-9, 'ssthresh');
  near(segs(cc), 56, 1e-9, 'cwnd');
});

test('§4.2/§4.4 first ACKs: K = cbrt((W_max - cwnd_epoch)/C), step (target - cwnd)/cwnd', () => {
  const { cc, now } = lossAt80();
  cc.onAck(MSS, true, now, 100); // epoch starts here with cwnd_epoch = 56
  const K = Math.cbrt((80 - 56) / C);
  near(cc.K, K, 1e-12, 'K');
  // The first ACK is Reno-friendly (§4.3): W_cubic(0) = 56 < W_est = 56 + alpha/56.
  const c1 = 56 + ALPHA_CUBIC / 56;
  near(segs(cc), c1, 1e-9, 'cwnd after ACK 1');
  cc.onAck(MSS, true, now + 50, 100);
  const target = C * (0.05 + 0.1 - K) ** 3 + 80; // W_cubic(t + RTT), inside [cwnd, 1.5 cwnd]
  near(segs(cc), c1 + (target - c1) / c1, 1e-9, 'cwnd after ACK 2');
  // With a 10 s RTT, W_cubic(t + RTT) = 170 segments: the target is clamped to 1.5 cwnd.
  const far = lossAt80(3, 10_000);
  far.cc.onAck(MSS, true, far.now, 10_000);
  far.cc.onAck(MSS, true, far.now + 50, 10_000);
  near(segs(far.cc), c1 + (1.5 * c1 - c1) / c1, 1e-9, 'cwnd after ACK 2, clamped target');
});

test('§4.4/§4.5 concave, plateau at W_max around t = K, then convex', () => {
  const { cc, now: t0 } = lossAt80(4); // W_max = 160, cwnd_epoch = 112
  const K = Math.cbrt((160 - 112) / C); // 4.93 s
  const at: number[] = []; // cwnd in segments after each 100 ms round
  let now = t0;
  for (let i = 0; i < 90; i++) {
    now = round(cc, now);
    at.push(segs(cc));
    const t = (now - t0) / 1000;
    // cwnd follows W_cubic(t) closely (target is W_cubic(t + RTT), reached within one RTT).
    near(segs(cc), C * (t - K) ** 3 + 160, 0.5, `cwnd at t=${t.toFixed(1)} s`);
  }
  const w = (t: number): number => at[Math.round(t * 10) - 1]!;
  const crossing = (at.findIndex((c) => c >= 160) + 1) / 10;
  near(crossing, K, 0.15, 'time cwnd is back at W_max');
  assert.ok(w(1) - w(0.1) > 15, 'concave: fast growth right after the loss');
  assert.ok(w(5.4) - w(4.4) < 0.2, 'plateau: almost no growth within ±0.5 s of K');
  assert.ok(w(8.9) - w(7.9) > 10, 'convex: fast growth again beyond W_max');
  for (let i = 1; i < at.length; i++) assert.ok(at[i]! >= at[i - 1]!, 'never shrinks on ACKs');
});

test('§4.7 fast convergence lowers W_max after a loss below the previous W_max', () => {
  const run = (fast: boolean): { cc: Cubic; w: number } => {
    const { cc, now: t0 } = lossAt80();
    if (!fast) cc.fastConvergence = false; // on by default
    let now = t0;
    for (let i = 0; i < 20; i++) now = round(cc, now);
    const w = segs(cc); // ~77 segments after 2 s: below W_max = 80
    cc.onCongestionEvent(cc.cwnd, now);
    cc.onRecoveryExit(now + 100);
    cc.onAck(MSS, true, now + 100, 100); // starts the next epoch
    return { cc, w };
  };
  const fast = run(true);
  assert.ok(fast.w > 75 && fast.w < 80, `loss at ${fast.w}`);
  near(fast.cc.W_max, (fast.w * (1 + BETA_CUBIC)) / 2, 1e-9, 'W_max = cwnd (1 + beta)/2');
  near(fast.cc.ssthresh, BETA_CUBIC * fast.w * MSS, 1e-6, 'ssthresh');
  near(fast.cc.K, Math.cbrt((fast.cc.W_max - BETA_CUBIC * fast.w) / C), 1e-9, 'K');
  const slow = run(false);
  near(slow.cc.W_max, slow.w, 1e-9, 'without fast convergence W_max = cwnd');
  near(slow.cc.K, Math.cbrt(((1 - BETA_CUBIC) * slow.w) / C), 1e-9, 'K without fast convergence');
  assert.ok(slow.cc.K - fast.cc.K > 0.5, `K ${fast.cc.K} vs ${slow.cc.K}`);
});

test('§4.3 Reno-friendly region at a small RTT: cwnd = W_est, and on average ≥ NewReno', () => {
  // A 30-segment pipe with a 10 ms RTT: every window above 30 segments loses a packet.
  const sawtooth = (cc: CongestionControl, check: (c: Cubic, t: number) => void): [number, number] => {
    let now = 0;
    let exit = 0; // end of the last recovery: the epoch starts just after it
    let sum = 0;
    let losses = 0;
    for (let i = 0; i < 400; i++) {
      now = round(cc, now, 10);
      if (cc.cwnd > 30 * MSS) {
        cc.onCongestionEvent(cc.cwnd, now);
        losses++;
        exit = now += 10;
        cc.onRecoveryExit(now);
      } else if (cc instanceof Cubic && cc.ssthresh < Infinity) {
        check(cc, (now - exit) / 1000);
      }
      sum += cc.cwnd / MSS;
    }
    return [sum / 400, losses];
  };
  let checked = 0;
  const [cubic, losses] = sawtooth(new Cubic(MSS), (cc, t) => {
    // K is over 2 s here, so W_cubic(t) stays near cwnd_epoch during these 0.2 s cycles.
    near(segs(cc), cc.W_est, 1e-9, 'cwnd follows W_est');
    assert.ok(cc.W_est > C * (t - cc.K) ** 3 + cc.W_max, `W_est ${cc.W_est} is above W_cubic(${t})`);
    checked++;
  });
  const [reno] = sawtooth(new NewReno(MSS), () => undefined);
  assert.ok(checked > 300, `${checked} rounds in congestion avoidance`);
  assert.ok(cubic >= reno, `mean cwnd CUBIC ${cubic.toFixed(2)} < NewReno ${reno.toFixed(2)}`);
  // AIMD(alpha_cubic, beta_cubic): from 0.7 * 30 to 30, 9 segments at 0.53 per RTT, about
  // 17 RTTs per cycle (Reno's slope of 1 would give about 44 losses).
  near(losses, (400 * ALPHA_CUBIC) / 9, 1.5, 'loss events');
  near(cubic, 25.5, 0.5, 'CUBIC mean cwnd');
});

test('§4.8 timeout: cwnd = 1 MSS; then K = 0 and W_max = cwnd at the start of avoidance', () => {
  const cc = new Cubic(MSS);
  let now = 0;
  for (let i = 0; i < 3; i++) now = round(cc, now); // 80 segments
  cc.onTimeout(cc.cwnd, now);
  assert.is(cc.cwnd, MSS);
  near(cc.ssthresh, 56 * MSS, 1e-9, 'ssthresh = 0.7 cwnd');
  cc.onTimeout(cc.cwnd, now + 1000); // same data again: RFC 5681 §3.1 holds ssthresh
  near(cc.ssthresh, 56 * MSS, 1e-9, 'ssthresh after a second timeout');
  now += 2000;
  for (const expected of [2, 4, 8, 16, 32]) {
    now = round(cc, now);
    assert.is(segs(cc), expected);
  }
  const t0 = now + (24 * 100) / 32; // the 24th ACK of the next round reaches ssthresh = 56
  now = round(cc, now);
  assert.is(cc.K, 0);
  near(cc.W_max, 56, 1e-9, 'W_max = cwnd_epoch');
  for (let i = 0; i < 49; i++) now = round(cc, now);
  const t = (now - t0) / 1000; // 5 s: W_cubic = 56 + 0.4 t^3 = 106 > W_est (about 82)
  near(segs(cc), 56 + C * t ** 3, 1, 'convex growth from cwnd_epoch');
});

test('RFC 5681 §4.1 idle restart: min(IW, cwnd); §5.8 idle or app-limited time is not growth time', () => {
  const big = lossAt80();
  round(big.cc, big.now);
  big.cc.onIdleRestart(big.now + 5000);
  assert.is(segs(big.cc), 10);
  near(big.cc.ssthresh, 56 * MSS, 1e-9, 'ssthresh unchanged');
  // Triplets in congestion avoidance below IW: one busy, one idle for 5 s, one sending
  // application-limited for 5 s (§5.8: no growth, and t must not include that time).
  const triplet = (pause: 'none' | 'idle' | 'app'): Cubic => {
    const cc = new Cubic(MSS);
    cc.onCongestionEvent(cc.cwnd, 0); // W_max = 10, cwnd = 7, K = 1.96 s
    cc.onRecoveryExit(300);
    let now = 300;
    for (let i = 0; i < 2; i++) now = round(cc, now, 300);
    if (pause === 'idle') cc.onIdleRestart((now += 5000));
    for (let i = 0; pause === 'app' && i < 50; i++) cc.onAck(MSS, false, (now += 100), 300);
    for (let i = 0; i < 3; i++) now = round(cc, now, 300);
    return cc;
  };
  const busy = triplet('none');
  near(segs(triplet('idle')), segs(busy), 1e-6, 'same window as without the idle period');
  near(segs(triplet('app')), segs(busy), 1e-6, 'same window as without the application-limited period');
  assert.ok(segs(busy) < 10, `still below W_max: ${segs(busy)}`);
});

test('never NaN, never below 1 MSS under random input (seeded)', () => {
  let seed = 9438;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let run = 0; run < 20; run++) {
    let mss = MSS;
    const cc = new Cubic(mss);
    let now = rnd() * 1e6;
    for (let i = 0; i < 5000; i++) {
      now += rnd() < 0.05 ? rnd() * 60000 : rnd() * 50;
      const op = rnd();
      if (op < 0.8) {
        const rtt = rnd() < 0.2 ? undefined : rnd() < 0.05 ? 0 : 1 + rnd() * 500;
        cc.onAck(Math.ceil(rnd() * 3 * mss), rnd() < 0.5, now, rtt);
      } else if (op < 0.86) cc.onCongestionEvent(cc.cwnd, now);
      else if (op < 0.92) cc.onRecoveryExit(now);
      else if (op < 0.95) cc.onTimeout(cc.cwnd, now);
      else if (op < 0.98) cc.onIdleRestart(now);
      else cc.setMss((mss = 536 + Math.floor(rnd() * 8500)));
      for (const v of [cc.cwnd, cc.W_max, cc.K, cc.W_est]) assert.ok(Number.isFinite(v), `step ${i}: ${v}`);
      assert.ok(cc.cwnd >= mss, `step ${i}: cwnd ${cc.cwnd} < MSS ${mss}`);
      assert.ok(cc.ssthresh > 0 && !Number.isNaN(cc.ssthresh), `step ${i}: ssthresh ${cc.ssthresh}`);
    }
  }
});

test.run();
