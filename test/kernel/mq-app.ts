/**
 * The application each shard runs in mq.test.ts (src/shard/worker.ts
 * ShardMain): a server on port 5000 that answers each connection, at its
 * end, with the sha256 of what it received; active opens on request, that
 * send a given number of pattern bytes and count what comes back; and the
 * shard's counters on request.
 */
import { createHash } from 'node:crypto';
import type { ShardMain } from '../../src/shard/worker.js';
import type { Socket } from '../../src/socket/socket.js';

export type AppRequest =
  | { t: 'connect'; host: string; port: number; bytes: number; flows: number }
  | { t: 'counters' }
  | { t: 'idle' }
  | { t: 'crash' };

export type AppReport =
  | { t: 'flow'; shard: number; remotePort: number; bytes: number }
  | { t: 'opened'; shard: number; localPort: number }
  | { t: 'closed'; shard: number; localPort: number; received: number; error?: string }
  | { t: 'counters'; shard: number; counters: Record<string, number> }
  | { t: 'idle'; shard: number; connections: number };

/** The bytes an active open of shard `shard` sends: a pattern the test can recompute. */
export function pattern(shard: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 7 + shard * 13 + (i >>> 10)) & 0xff;
  return b;
}

export const shardMain: ShardMain = (ctx) => {
  // For the test of a shard that fails to start.
  if ((ctx.args as { mqFail?: number }).mqFail === ctx.index) throw new Error(`shard ${ctx.index} fails on purpose`);
  const { stack } = ctx.running;
  const post = (r: AppReport): void => ctx.post(r);
  const server = stack.createServer({ allowHalfOpen: true }, (s: Socket) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.on('end', () => {
      post({ t: 'flow', shard: ctx.index, remotePort: s.remotePort ?? 0, bytes: n });
      s.end(h.digest('hex'));
    });
    s.on('error', () => s.destroy());
  });
  ctx.onMessage = (m) => {
    const q = m as AppRequest;
    if (q.t === 'crash') throw new Error(`shard ${ctx.index} crashes on purpose`);
    if (q.t === 'counters') post({ t: 'counters', shard: ctx.index, counters: stack.counters.snapshot() });
    else if (q.t === 'idle') post({ t: 'idle', shard: ctx.index, connections: [...stack.connections()].length });
    else if (q.t === 'connect') {
      for (let f = 0; f < q.flows; f++) {
        const s = stack.connect({ host: q.host, port: q.port }, () => {
          post({ t: 'opened', shard: ctx.index, localPort: s.localPort ?? 0 });
          if (q.bytes > 0) s.end(pattern(ctx.index, q.bytes));
        });
        let received = 0;
        s.on('data', (d: Buffer) => (received += d.length));
        s.on('close', () => post({ t: 'closed', shard: ctx.index, localPort: s.localPort ?? 0, received }));
        s.on('error', (err) => post({ t: 'closed', shard: ctx.index, localPort: s.localPort ?? 0, received, error: err.message }));
      }
    }
  };
  return new Promise<void>((resolve) => server.listen(5000, resolve));
};
