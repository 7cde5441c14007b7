/**
 * Who owns a written Buffer: the two correct designs, measured side by side
 * (issue 10). node:net lets a caller reuse its Buffer once the write
 * callback ran, so a stack must either
 *
 *  - copy the bytes into its send buffer and call back at once (what
 *    tuntcp does, like the kernel's write(2)), or
 *  - keep the caller's Buffer and call back only when the bytes are
 *    acknowledged: then the next write cannot start before that ACK, so at
 *    most one write (64 KiB here, node's writev batching aside) is in flight
 *    per round trip.
 *
 * The second is emulated on the same stack: each 64 KiB write waits until
 * everything before it is acknowledged (what a callback at the ACK does to
 * a writer that waits for 'drain'), polling for it, so only its goodput
 * is shown. Also: the cost of the copy itself, per GB.
 *
 *   node dist/scripts/bench/ownership.js [--mb 200]
 */
import { createMemoryPair } from '../../src/link/memory.js';
import { RealClock } from '../../src/stack/clock.js';
import { NetStack } from '../../src/socket/net-stack.js';
import { SendQueue } from '../../src/tcp/send-queue.js';
import type { Socket } from '../../src/socket/socket.js';
import { pump, sink } from './flow.js';
import { ownCpuSeconds } from './proc.js';
import type { OwnershipRow } from './results.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x78);

/** Write `bytes`, each 64 KiB chunk only once everything before it is acknowledged. */
function pumpAckPaced(s: Socket, bytes: number): Promise<number> {
  const conn = (s as unknown as { ep: { conn: { bufferedToSend: number } } }).ep.conn;
  let sent = 0;
  return new Promise((resolve) => {
    const next = (): void => {
      if (sent >= bytes) {
        s.end();
        resolve(sent);
        return;
      }
      sent += CHUNK.length;
      s.write(CHUNK);
      const acked = (): void => {
        if (conn.bufferedToSend === 0) next();
        else setImmediate(acked);
      };
      setImmediate(acked);
    };
    s.once('connect', next);
    s.resume();
  });
}

async function run(design: OwnershipRow['design'], oneWayMs: number, bytes: number): Promise<OwnershipRow> {
  const clock = new RealClock();
  const [la, lb] = createMemoryPair({ mtu: 1500, clock: oneWayMs > 0 ? clock : undefined, latencyMs: oneWayMs });
  const a = new NetStack({ link: la, addr: '10.0.0.1', clock, tcp: { msl: 1000 } });
  const b = new NetStack({ link: lb, addr: '10.0.0.2', clock, tcp: { msl: 1000 } });
  try {
    const k = sink();
    b.createServer(k.handler).listen(5001);
    const cpu0 = process.cpuUsage();
    const s = a.connect({ port: 5001, host: '10.0.0.2' });
    const sent = design === 'copy' ? await pump(s, bytes) : await pumpAckPaced(s, bytes);
    await k.done;
    const cpu = ownCpuSeconds(cpu0);
    // The ACK-paced emulation polls for the ACK: its CPU says nothing about the design.
    const row: OwnershipRow = { design, oneWayMs, bytes: k.bytes, gbitPerSec: (k.bytes * 8) / k.secs() / 1e9, cpuPerGB: design === 'copy' ? cpu / (k.bytes / 1e9) : null };
    if (k.bytes !== sent) row.error = `received ${k.bytes} of ${sent}`;
    return row;
  } finally {
    void a.close({ linger: 0 });
    void b.close({ linger: 0 });
  }
}

/** CPU seconds per GB for SendQueue.push alone (the copy). */
export function copyCost(): number {
  const q = new SendQueue();
  const total = 2 * 2 ** 30;
  const t0 = process.cpuUsage();
  for (let done = 0; done < total; done += CHUNK.length) {
    q.push(CHUNK);
    if (q.length >= 256 * 1024) q.consume(q.length);
  }
  return ownCpuSeconds(t0) / (total / 1e9);
}

/**
 * Both designs with no delay and with a 10 ms RTT (MTU 1500, no offload).
 * The ACK-paced runs move at most 8 MiB: a round trip per 64 KiB (and the
 * receiver's delayed ACK for an odd last segment) makes them slow.
 */
export async function ownershipRows(bytes: number): Promise<OwnershipRow[]> {
  const rows: OwnershipRow[] = [];
  for (const oneWayMs of [0, 5]) {
    for (const design of ['copy', 'ack'] as const) rows.push(await run(design, oneWayMs, design === 'ack' ? Math.min(bytes, 8 << 20) : bytes));
  }
  return rows;
}

if (process.argv[1]?.endsWith('ownership.js')) {
  const mbArg = process.argv.indexOf('--mb');
  const rows = await ownershipRows((mbArg > 0 ? Number(process.argv[mbArg + 1]) : 200) * 2 ** 20);
  for (const line of ownershipLines(rows, copyCost())) console.log(line);
  process.exit(0);
}

/** The printed table (also a block of `npm run bench`). */
export function ownershipLines(rows: OwnershipRow[], copyCpuPerGB: number): string[] {
  return [
    'write ownership (issue 10): copy into the send queue and call back at once (tuntcp) against calling back',
    'only at the ACK (emulated); two stacks in one process, MTU 1500, no offload',
    'design              one-way delay  Gbit/s  CPU s/GB',
    ...rows.map((r) => {
      const name = r.design === 'copy' ? 'copy, callback now' : 'callback at ACK';
      const cpu = r.cpuPerGB === null ? '-' : r.cpuPerGB.toFixed(2);
      return `${name.padEnd(20)}${`${r.oneWayMs} ms`.padStart(13)}${r.gbitPerSec.toFixed(3).padStart(8)}${cpu.padStart(10)}${r.error ? `  ${r.error}` : ''}`;
    }),
    `the copy alone (SendQueue.push of 64 KiB writes): ${copyCpuPerGB.toFixed(3)} CPU s/GB`,
  ];
}
