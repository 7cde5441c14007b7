/**
 * The receiving side of the --queues bench (mq.ts): a sink that counts the
 * bytes of every connection together, with the first and last byte's time
 * (epoch ms: worker threads' performance clocks have origins of their own).
 * In each shard it listens on port 5001 and answers any message with its tally.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ShardMain } from '../../src/shard/worker.js';
import type { Socket } from '../../src/socket/socket.js';

export interface Tally {
  bytes: number;
  flows: number;
  /** Connections whose sender's FIN arrived (we answer with ours). */
  ended: number;
  first: number;
  last: number;
  /** CPU seconds of the thread that runs this stack so far (its TUN system calls included). */
  threadCpu: number;
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

export function tallySink(): { handler: (s: Socket) => void; tally: Tally } {
  const tally: Tally = { bytes: 0, flows: 0, ended: 0, first: 0, last: 0, threadCpu: 0 };
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
  return { handler, tally };
}

/** The tally as of now, with this thread's CPU. */
export function tallyNow(t: Tally): Tally {
  return { ...t, threadCpu: threadCpuSeconds() };
}

export const shardMain: ShardMain = (ctx) => {
  const k = tallySink();
  ctx.onMessage = () => ctx.post(tallyNow(k.tally));
  return new Promise<void>((resolve) => ctx.running.stack.createServer(k.handler).listen(5001, resolve));
};
