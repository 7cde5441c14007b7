/**
 * Soak test: many seeded simulation scenarios (test/sim/scenario.ts), in
 * worker threads, with progress, failures with replay lines, and totals.
 *
 *   node dist/scripts/soak.js [--seeds 10000] [--from 1] [--jobs 2] [--hard]
 *   node dist/scripts/soak.js --seed 1234 [--trace]     replay one seed, verbosely
 *   node dist/scripts/soak.js --hard lossy-1mb [--trace] replay a fixed hard scenario
 *
 * Exits with 1 when any scenario failed. `--json FILE` writes every result
 * (without counters) for later analysis.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ScenarioPool, type Job } from '../test/sim/pool.js';
import { HARD_SCENARIOS, describeFailure, describeParams, drawParams, replayLine, runParams, type Result } from '../test/sim/scenario.js';

const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    hard: { type: 'string' },
    jobs: { type: 'string' },
    trace: { type: 'boolean', default: false },
    packets: { type: 'boolean', default: false },
    json: { type: 'string' },
    'limit-s': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowNegative: false,
});

const USAGE = `usage: node dist/scripts/soak.js [--seeds N] [--from S] [--jobs J] [--json FILE]
       node dist/scripts/soak.js --seed N [--trace] [--packets] [--limit-s S]
       node dist/scripts/soak.js --hard NAME|all [--trace]   (${Object.keys(HARD_SCENARIOS).join(', ')})`;

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} wants a non-negative integer, got ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const fmtS = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function summary(r: Result): string {
  const c = r.counters;
  const sum = (k: string): number => (c.a[k] ?? 0) + (c.b[k] ?? 0);
  return (
    `${r.ok ? 'ok' : 'FAIL'} ${r.name ?? `seed ${r.seed}`}: ${r.bytes} bytes, ${r.packets} packets, ` +
    `${fmtS(r.virtualMs)} virtual, ${r.wallMs} ms wall, ${r.steps} steps; ` +
    `faults lost ${r.faults.lost} queue-dropped ${r.faults.queueDropped} corrupted ${r.faults.corrupted} ` +
    `duplicated ${r.faults.duplicated} reordered ${r.faults.reordered} ce-marked ${r.faults.ceMarked}; ` +
    `rto ${sum('tcp_rto_expired')} retransmitted ${sum('tcp_retransmitted_segments')} transcript ${r.transcript.slice(0, 16)}` +
    (r.gaveUp !== undefined ? `; orphan gave up: ${r.gaveUp.join(', ')}` : '')
  );
}

/** One scenario in this process, with everything printed. */
async function replay(job: Job): Promise<never> {
  const params = job.hard !== undefined ? HARD_SCENARIOS[job.hard]!() : drawParams(job.seed!);
  console.log(`params: ${describeParams(params)}`);
  if (args['limit-s'] !== undefined) params.limitMs = int('limit-s', args['limit-s'], 600) * 1000;
  const r = await runParams(params, { trace: args.trace || args.packets ? (l) => console.log(l) : undefined, tracePackets: args.packets });
  console.log(summary(r));
  console.log(`counters A: ${JSON.stringify(r.counters.a)}`);
  console.log(`counters B: ${JSON.stringify(r.counters.b)}`);
  if (!r.ok) console.log(describeFailure(r));
  process.exit(r.ok ? 0 : 1);
}

async function soak(): Promise<never> {
  const from = int('from', args.from, 1);
  const n = int('seeds', args.seeds, 10000);
  const jobs = int('jobs', args.jobs, Math.min(2, availableParallelism()));
  const list: Job[] = [];
  for (let s = from; s < from + n; s++) list.push({ seed: s });
  console.log(`soak: seeds ${from}..${from + n - 1} on ${jobs} worker thread(s)`);
  const t0 = performance.now();
  const pool = new ScenarioPool({ jobs });
  const failures: Result[] = [];
  const results: Result[] = [];
  let done = 0;
  let lastPrint = t0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const job = list[next++]!;
      const r = await pool.run(job);
      done++;
      results.push(r);
      if (!r.ok) {
        failures.push(r);
        console.log(describeFailure(r));
      }
      const now = performance.now();
      if (now - lastPrint > 5000 || done === list.length) {
        lastPrint = now;
        const rate = done / ((now - t0) / 1000);
        console.log(
          `  ${done}/${list.length} seeds, ${failures.length} failed, ${rate.toFixed(1)} seeds/s, ` +
            `elapsed ${fmtS(now - t0)}, eta ${fmtS(((list.length - done) / rate) * 1000)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: pool.size }, worker));
  await pool.close();
  const total = performance.now() - t0;
  results.sort((x, y) => x.seed - y.seed);
  const walls = results.map((r) => r.wallMs).sort((x, y) => x - y);
  const pct = (q: number): number => walls[Math.min(walls.length - 1, Math.floor(q * walls.length))] ?? 0;
  const slowest = [...results].sort((x, y) => y.wallMs - x.wallMs).slice(0, 3);
  console.log(
    `soak: ${results.length} seeds in ${fmtS(total)} (${jobs} jobs), ${failures.length} failed; ` +
      `wall per seed median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms, max ${walls[walls.length - 1] ?? 0} ms ` +
      `(slowest: ${slowest.map((r) => `${r.seed} ${r.wallMs} ms`).join(', ')}); ` +
      `virtual ${fmtS(results.reduce((s, r) => s + r.virtualMs, 0))}, ${(results.reduce((s, r) => s + r.bytes, 0) / 1e6).toFixed(0)} MB moved`,
  );
  const gaveUp = results.filter((r) => r.gaveUp !== undefined);
  if (gaveUp.length > 0) {
    // Passed: an orphan gave up after its retries, as Linux's would (Side.endedByPeerGiveUp in test/sim/scenario.ts).
    console.log(`orphans gave up in ${gaveUp.length} passing seed(s): ${gaveUp.map((r) => r.seed).join(' ')}`);
  }
  if (args.json !== undefined) {
    writeFileSync(args.json, JSON.stringify(results.map((r) => ({ ...r, counters: undefined }))));
  }
  if (failures.length > 0) {
    console.log('failed seeds:');
    for (const f of failures) console.log(`  ${replayLine(f)}   # ${f.reason?.split(' | ')[0]}`);
  }
  process.exit(failures.length > 0 ? 1 : 0);
}

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.seed !== undefined) await replay({ seed: int('seed', args.seed, 1) });
if (args.hard !== undefined && args.hard !== 'all') {
  if (HARD_SCENARIOS[args.hard] === undefined) {
    console.error(`unknown hard scenario ${args.hard}\n${USAGE}`);
    process.exit(2);
  }
  await replay({ hard: args.hard });
}
if (args.hard === 'all') {
  const pool = new ScenarioPool({ jobs: int('jobs', args.jobs, Math.min(2, availableParallelism())) });
  const rs = await Promise.all(Object.keys(HARD_SCENARIOS).map((h) => pool.run({ hard: h })));
  await pool.close();
  for (const r of rs) console.log(r.ok ? summary(r) : describeFailure(r));
  process.exit(rs.every((r) => r.ok) ? 0 : 1);
}
await soak();
