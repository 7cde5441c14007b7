/**
 * The receiving side of the --queues bench (mq.ts): a sink that counts the
 * bytes of every connection together, with the first and last byte's time
 * (epoch ms: worker threads' performance clocks have origins of their own).
 * In each shard it listens on port 5001 and answers 'tally' with its tally
 * and 'reset' by zeroing it (a rig serves many rows, mq.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ShardMain } from '../../src/shard/worker.js';
import type { Socket } from '../../src/socket/socket.js';
import type { Counters } from '../../src/stack/counters.js';

export interface Tally {
  bytes: number;
  flows: number;
  /** Connections whose sender's FIN arrived (we answer with ours). */
  ended: number;
  first: number;
  last: number;
  /** CPU seconds of the thread that runs this stack so far (its TUN system calls included). */
  threadCpu: number;
  /** Packets other shards handed to this one so far (shard_forwarded_in): the kernel steered them elsewhere. */
  forwarded: number;
}

let clockTicks = 0;

/** User + system CPU seconds of the calling thread (/proc/thread-self/stat utime + stime). */
export function threadCpuSeconds(): number {
  if (clockTicks === 0) clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clockTicks;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface TallySink {
  handler: (s: Socket) => void;
  /** The tally as of now, with this thread's CPU and the stack's forwarded count. */
  now(): Tally;
  /** Zero the counts and times (not the cumulative CPU and forwarded count). */
  reset(): void;
}

export function tallySink(counters: Counters): TallySink {
  const tally: Tally = { bytes: 0, flows: 0, ended: 0, first: 0, last: 0, threadCpu: 0, forwarded: 0 };
  const handler = (s: Socket): void => {
    tally.flows++;
    s.on('data', (d: Buffer) => {
      const now = epochMs();
      if (tally.bytes === 0) tally.first = now;
      tally.last = now;
      tally.bytes += d.length;
    });
    s.on('end', () => {
      tally.ended++;
      s.end();
    });
    s.on('error', () => s.destroy());
  };
  return {
    handler,
    now: () => ({ ...tally, threadCpu: threadCpuSeconds(), forwarded: counters.get('shard_forwarded_in') }),
    reset: () => Object.assign(tally, { bytes: 0, flows: 0, ended: 0, first: 0, last: 0 }),
  };
}

export const shardMain: ShardMain = (ctx) => {
  const k = tallySink(ctx.running.stack.counters);
  ctx.onMessage = (m) => {
    if (m === 'reset') k.reset();
    ctx.post(k.now());
  };
  return new Promise<void>((resolve) => ctx.running.stack.createServer(k.handler).listen(5001, resolve));
};
