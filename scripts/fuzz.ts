/**
 * `npm run fuzz`: structure-aware mutated packets into a stack with live
 * connections (test/fuzz/fuzzer.ts), with every invariant checked after
 * every packet.
 *
 *   node dist/scripts/fuzz.js [--seed N] [--packets N] [--json]
 *   node dist/scripts/fuzz.js --seed N --epoch E [--epoch-packets N] [--trace]   replay one epoch
 *
 * Prints progress and packets/s, and at the end `N packets, K failures, X
 * packets/s`. Every failure prints the seed, the packet (hex), what failed
 * and the replay command; the exit status is 1 when anything failed.
 */
import { parseArgs } from 'node:util';
import { describeFailure, runFuzz } from '../test/fuzz/fuzzer.js';

const USAGE = `usage: node dist/scripts/fuzz.js [--seed N] [--packets N] [--max-failures N] [--cpu-limit-ms MS] [--json]
       node dist/scripts/fuzz.js --seed N --epoch E [--epoch-packets N] [--trace]`;

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    packets: { type: 'string', default: '1000000' },
    epoch: { type: 'string' },
    'epoch-packets': { type: 'string' },
    'max-failures': { type: 'string', default: '10' },
    'cpu-limit-ms': { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowNegative: false,
});

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} wants a non-negative integer, got ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const seed = int('seed', args.seed) ?? (Math.random() * 2 ** 32) >>> 0;
const packets = int('packets', args.packets)!;
const epoch = int('epoch', args.epoch);
const json = args.json;
const log = (s: string): void => {
  if (!json) console.log(s);
};

log(epoch !== undefined ? `fuzz: seed ${seed}, epoch ${epoch} only` : `fuzz: seed ${seed}, ${packets} packets`);
const r = runFuzz({
  seed,
  packets,
  epoch,
  epochPackets: int('epoch-packets', args['epoch-packets']),
  maxFailures: int('max-failures', args['max-failures']),
  cpuLimitMs: int('cpu-limit-ms', args['cpu-limit-ms']),
  trace: args.trace ? (l) => console.log(l) : undefined,
  onFailure: (f) => log(describeFailure(f)),
  progress: (p) => log(`  ${p.packets} packets, ${p.epochs} epochs, ${p.failures} failures, ${Math.round(p.packets / (p.wallMs / 1000))} packets/s`),
});
if (r.failures.length > 0) log(`replay:\n${r.failures.map((f) => `  ${f.replay}   # ${f.what.split('\n')[0]!.slice(0, 100)}`).join('\n')}`);
const pps = Math.round(r.packetsPerSecond);
if (json) {
  console.log(JSON.stringify({ ...r, packetsPerSecond: pps }));
} else {
  const covered = Object.keys(r.seen).length;
  log(
    `coverage: ${256 - r.flagsMissing.length}/256 flag combinations, ${covered} mutation kinds; ` +
      `states reached ${Object.entries(r.statesReached).map(([k, v]) => `${k} ${v}/${r.epochs}`).join(', ')}`,
  );
  log(
    `slowest packet ${(r.slowestPacketUs / 1000).toFixed(2)} ms${r.slowNoise > 0 ? ` (${r.slowNoise} over the limit, not again on replay)` : ''}, ` +
      `most out-of-order pieces ${r.maxOooPieces}, ` +
      `most SACK ranges ${r.maxSackRanges}, heap up to ${r.heapUsedMaxMB.toFixed(0)} MB, ${(r.wallMs / 1000).toFixed(1)} s`,
  );
  log(`${r.packets} packets, ${r.failures.length} failures, ${pps} packets/s`);
}
process.exit(r.failures.length > 0 ? 1 : 0);
