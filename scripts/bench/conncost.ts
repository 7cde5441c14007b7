/**
 * What one connection costs the stack's JavaScript, in virtual time: two
 * NetStacks (test/sim/harness.ts) play connrate.ts's exchange (connect, 100 B
 * request, 100 B reply, client closes) 32 connections at a time, and the
 * process's CPU time is divided by the connections. Both stacks are tuntcp,
 * so it is a client's and a server's work together; no kernel, no timers of
 * the real clock, so it reads about the same on a loaded machine, where the
 * connection rate of `npm run bench` says little.
 *
 *   npm run -s build && node dist/scripts/bench/conncost.js [--warm 2000] [--conns 5000] [--rounds 3]
 *
 * Prints µs per connection of each round (after the warm-up) and their median.
 */
import { simPair } from '../../test/sim/harness.js';

const MESSAGE = 100;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? def : Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} takes a positive integer`);
  return v;
}

const p = simPair({ latencyMs: 0.05, tcp: { msl: 100 } });
const reply = Buffer.alloc(MESSAGE, 0x72);
const request = Buffer.alloc(MESSAGE, 0x71);
p.b
  .createServer((s) => {
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= MESSAGE) s.write(reply);
    });
    s.on('error', () => undefined);
  })
  .listen(7000, undefined, 4096);

/** `total` exchanges, 32 in flight; CPU µs per completed one. */
async function round(total: number): Promise<number> {
  let started = 0;
  let done = 0;
  let live = 0;
  const one = (): void => {
    started++;
    live++;
    const s = p.a.connect({ port: 7000, host: '10.0.0.2' });
    let got = 0;
    s.on('connect', () => s.write(request));
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= MESSAGE) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      live--;
      if (got >= MESSAGE) done++;
      if (started < total) one();
    });
  };
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 32; i++) one();
  await p.until(() => live === 0, 1e9);
  const c = process.cpuUsage(cpu0);
  if (done !== total) throw new Error(`${total - done} of ${total} exchanges failed`);
  return (c.user + c.system) / done;
}

await round(arg('warm', 2000));
const us: number[] = [];
for (let r = arg('rounds', 3); r > 0; r--) {
  us.push(await round(arg('conns', 5000)));
  process.stdout.write(`${us[us.length - 1]!.toFixed(1)} µs/connection\n`);
}
us.sort((a, b) => a - b);
process.stdout.write(`median ${us[us.length >> 1]!.toFixed(1)} µs per connection (client and server together)\n`);
process.exit(0);
