/**
 * The receiving side of the --queues bench (mq.ts): a sink that counts the
 * bytes of every connection together, with the first and last byte's time
 * (epoch ms: worker threads' performance clocks have origins of their own).
 * In each shard it listens on port 5001 and answers any message with its tally.
 */
import type { ShardMain } from '../../src/shard/worker.js';
import type { Socket } from '../../src/socket/socket.js';

export interface Tally {
  bytes: number;
  flows: number;
  /** Connections whose sender's FIN arrived (we answer with ours). */
  ended: number;
  first: number;
  last: number;
}

export const epochMs = (): number => performance.timeOrigin + performance.now();

export function tallySink(): { handler: (s: Socket) => void; tally: Tally } {
  const tally: Tally = { bytes: 0, flows: 0, ended: 0, first: 0, last: 0 };
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

export const shardMain: ShardMain = (ctx) => {
  const k = tallySink();
  ctx.onMessage = () => ctx.post(k.tally);
  return new Promise<void>((resolve) => ctx.running.stack.createServer(k.handler).listen(5001, resolve));
};
