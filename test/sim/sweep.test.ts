// Seeded simulation sweep (GUIDE §Principles 7): seeds 1..N of test/sim/scenario.ts,
// each a random mix of loss, duplication, reordering, corruption, delay, jitter
// and rate limit with 1-3 connections moving random data both ways, run in two
// worker threads. Every failure names its seed and the line that replays it.
//
//   TUNTCP_SWEEP_SEEDS=N     how many seeds (default 1500: 50-120 s on 2 cores, depending on load)
//   TUNTCP_SWEEP_FROM=S      first seed (default 1)
//   TUNTCP_SWEEP_STRICT=1    known failures (below) count as failures too
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ScenarioPool, type Job } from './pool.js';
import { HARD_SCENARIOS, describeFailure, replayLine, runScenario, type Result } from './scenario.js';

const N = Number(process.env.TUNTCP_SWEEP_SEEDS ?? 1500);
const FROM = Number(process.env.TUNTCP_SWEEP_FROM ?? 1);
const STRICT = process.env.TUNTCP_SWEEP_STRICT === '1';
const BATCH = 200;

/**
 * Seeds that fail because of known stack bugs, with the diagnosis. They run
 * in their own test below, which reports them but does not fail; a seed that
 * starts passing is named so it can be removed. Empty now: the 26 seeds of
 * the first 10 000-seed soak (FIN-state ACKs that clocked nothing out, the
 * send window anchored at SND.UNA instead of SND.WL2, and RTT samples refused
 * for minutes at 20 % loss) pass since those fixes. Refill from
 * `npm run soak` when the sender changes.
 */
const KNOWN_FAILING: Array<{ bug: string; seeds: number[]; hard?: string[] }> = [
  {
    // Seen when the sweep began to draw autotuned receive buffers (rcvBuf 0): the timing changed.
    bug:
      'orphan gives up after tcp_orphan_retries (8): at 19.9 % loss the 5 ACKs B sent for its retransmissions ' +
      '(26.2-51.6 s) are all lost, PLPMTUD shrinks the probes, and A, closed by its application with ' +
      '197 kB still unacknowledged, resets at 128 s as Linux would; the harness counts the lost bytes as a deadlock',
    seeds: [79],
  },
];

const knownSeeds = new Map<number, string>();
const knownHard = new Map<string, string>();
for (const k of KNOWN_FAILING) {
  for (const s of k.seeds) knownSeeds.set(s, k.bug);
  for (const h of k.hard ?? []) knownHard.set(h, k.bug);
}
const isKnown = (j: Job): boolean => !STRICT && (j.hard !== undefined ? knownHard.has(j.hard) : knownSeeds.has(j.seed ?? -1));

let pool: ScenarioPool | null = null;
const results = new Map<string, Result>();
const pending = new Map<string, Promise<Result>>();
const t0 = performance.now();
const keyOf = (j: Job): string => j.hard ?? String(j.seed);

/** Every job of the file, in the order the tests need them. */
const seedJobs: Job[] = [];
for (let s = FROM; s < FROM + N; s++) if (!isKnown({ seed: s })) seedJobs.push({ seed: s });
const hardJobs: Job[] = Object.keys(HARD_SCENARIOS).map((h): Job => ({ hard: h })).filter((j) => !isKnown(j));
const knownJobs: Job[] = STRICT
  ? []
  : [
      // All of them, inside the range or not: they are few and show when a fix lands.
      ...[...knownSeeds.keys()].map((s): Job => ({ seed: s })),
      ...[...knownHard.keys()].filter((h) => HARD_SCENARIOS[h] !== undefined).map((h): Job => ({ hard: h })),
    ];

test.before(() => {
  // Queue everything at once so both workers stay busy across test boundaries.
  pool = new ScenarioPool();
  for (const j of [...hardJobs, ...seedJobs, ...knownJobs]) {
    pending.set(
      keyOf(j),
      pool.run(j).then((r) => {
        results.set(keyOf(j), r);
        return r;
      }),
    );
  }
});

test.after(async () => {
  await pool?.close();
  const rs = [...results.values()].filter((r) => r.name === undefined && !knownSeeds.has(r.seed));
  const walls = rs.map((r) => r.wallMs).sort((a, b) => a - b);
  const q = (p: number): number => walls[Math.min(walls.length - 1, Math.floor(p * walls.length))] ?? 0;
  console.log(
    `\nsweep: ${rs.length} seeds + ${hardJobs.length} fixed scenarios + ${knownJobs.length} known failures in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `on ${pool?.size ?? 0} workers; per seed median ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${walls[walls.length - 1] ?? 0} ms; ` +
      `${(rs.reduce((s, r) => s + r.bytes, 0) / 1e6).toFixed(0)} MB, ${(rs.reduce((s, r) => s + r.virtualMs, 0) / 1000).toFixed(0)} virtual s`,
  );
});

function collect(jobs: Job[]): Promise<Result[]> {
  return Promise.all(jobs.map((j) => pending.get(keyOf(j)) ?? pool!.run(j)));
}

function assertAllOk(rs: Result[]): void {
  const failed = rs.filter((r) => !r.ok);
  for (const f of failed) console.log(`\n${describeFailure(f)}`);
  assert.ok(failed.length === 0, `${failed.length} scenario(s) failed: ${failed.map((f) => `${f.name ?? f.seed} (${replayLine(f)})`).join(', ')}`);
}

for (let from = FROM; from < FROM + N; from += BATCH) {
  const to = Math.min(FROM + N - 1, from + BATCH - 1);
  test(`seeds ${from}..${to}`, async () => {
    assertAllOk(await collect(seedJobs.filter((j) => j.seed! >= from && j.seed! <= to)));
  });
}

test(`fixed hard scenarios (${Object.keys(HARD_SCENARIOS).join(', ')})`, async () => {
  assertAllOk(await collect(hardJobs));
});

test('the same seed replays the same packets (worker thread vs this thread, twice)', async () => {
  // A few seeds with every kind of fault; compare with the sweep's own runs where there are some.
  for (const seed of [2, 7, 10, 36]) {
    const first = await runScenario(seed);
    const second = await runScenario(seed);
    assert.is(second.transcript, first.transcript, `seed ${seed}: two runs in one thread differ`);
    assert.is(second.packets, first.packets);
    assert.is(second.virtualMs, first.virtualMs);
    const sweep = (await pending.get(String(seed))) ?? (await pool!.run({ seed }));
    assert.is(sweep.transcript, first.transcript, `seed ${seed}: the worker's run differs from this thread's`);
    assert.equal(sweep.counters, first.counters);
  }
});

test('known failures (reported, not failed, unless TUNTCP_SWEEP_STRICT=1)', async () => {
  if (knownJobs.length === 0) return;
  const rs = await collect(knownJobs);
  const passing = rs.filter((r) => r.ok).map((r) => r.name ?? String(r.seed));
  console.log(`\nknown failures: ${rs.length - passing.length} of ${rs.length} still fail (see KNOWN_FAILING in test/sim/sweep.test.ts)`);
  if (passing.length > 0) console.log(`  now passing, remove from KNOWN_FAILING: ${passing.join(' ')}`);
});

test.run();
