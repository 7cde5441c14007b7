/**
 * `--queues N`: one TUN device with N queues (IFF_MULTI_QUEUE), each served
 * by a worker thread running a stack shard of its own (worker.ts).
 *
 * How packets find their shard. Kernel to us, Linux's tun picks the queue
 * (drivers/net/tun.c, tun_automq_select_queue): a flow table keyed by the
 * symmetric hash of the 4-tuple remembers the queue each flow was last
 * written from (tun_flow_update, on our every write), and a flow it does not
 * know (or forgot: entries age out 3 s after our last write) goes to queue
 * hash * N >> 32. So a passive open stays where its SYN landed (our replies
 * record that queue). An active open's segments come back to the shard that
 * wrote the SYN, but not its SYN,ACK: the kernel answers the SYN inside our
 * write(), and tun_get_user records the flow only after that (seen in
 * test/kernel/mq.test.ts), so the SYN,ACK goes by hash. There, and where the
 * table forgot (an active open idle for more than 3 s whose peer speaks
 * first) or is full (4096 flows), the local port decides:
 * the shards' ephemeral ranges are disjoint (ports.ts), so a segment that
 * matches nothing where it landed and whose port is another shard's goes to
 * that shard through this thread (Stack.strayTcp; counted shard_forwarded).
 * An ICMP error about a connection of a listening port that is not here goes
 * to every other shard (passive opens have no port range to say where).
 * Passive opens are spread evenly: a shard with more connections than
 * another hands a SYN to the one with the fewest, and the segments of that
 * flow the kernel still steers to it after the SYN (balance.ts).
 *
 * Every shard listens on what the application listens on, and has the same
 * ISN and SYN cookie key. Each opens its own control socket: `tuntcp
 * netstat` shows every shard's connections in one table (program tuntcp:qK).
 */
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { TunLink } from '../link/tun.js';
import { configureTun, deleteTun } from '../link/netdev.js';
import { offloadWanted, type StackArgs } from '../cli/options.js';
import { ipv6Wanted, STOP_SIGNALS, flushed } from '../cli/start-stack.js';
import type { IPv6Plan } from '../cli/addr6.js';
import { MAX_QUEUES } from './ports.js';
import { loadSlots } from './balance.js';
import type { FromShard, ShardData, ToShard } from './worker.js';

export interface ShardSetOptions {
  /** URL of the module whose shardMain each shard runs (worker.ts ShardMain). */
  app: URL;
  /** Messages a shard's application posted. */
  onMessage?: (index: number, data: unknown) => void;
  /** A shard failed (threw, or exited unasked): by default the message goes to stderr and every shard stops. */
  onError?: (index: number, err: Error) => void;
}

export interface ShardSet {
  readonly count: number;
  /** The device's name. */
  readonly name: string;
  readonly ipv6: IPv6Plan | null;
  /** The worker threads, by queue. */
  readonly workers: readonly Worker[];
  /** To shard `index`'s application (ShardContext.onMessage). */
  post(index: number, data: unknown): void;
  /** Every shard closes its connections as process exit would, gives them
   * up to `lingerMs`, and ends; then the device is removed. Twice is once. */
  stop(lingerMs?: number): Promise<void>;
}

/** Slack beyond the linger time before a shard that has not ended is terminated. */
const STOP_GRACE_MS = 3000;

export async function startShards(a: StackArgs, count: number, o: ShardSetOptions): Promise<ShardSet> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUEUES) {
    throw Object.assign(new Error(`--queues ${count} is out of range 1..${MAX_QUEUES}`), { code: 'EINVAL' });
  }
  if (a.pcap !== undefined) throw Object.assign(new Error('--pcap cannot be combined with --queues (one file per shard is not written yet)'), { code: 'EINVAL' });
  const ipv6 = ipv6Wanted(a);
  // The first queue makes the device (exclusive: not someone else's); the
  // shards attach theirs, then this one is closed: nobody reads it.
  const first = TunLink.open({ name: a.tun, mtu: a.mtu, offload: offloadWanted(a), multiQueue: true });
  const name = first.name;
  const workers: Worker[] = [];
  const exited: Array<Promise<void>> = [];
  let stopping: Promise<void> | null = null;
  const toShard = (i: number, m: ToShard, transfer?: ArrayBuffer[]): void => workers[i]?.postMessage(m, transfer);

  /** A packet shard `from` got but shard `to` (-1: every other shard) must see. */
  const relay = (from: number, to: number, packet: Uint8Array, trusted: boolean, balanced?: boolean): void => {
    if (to >= 0) return toShard(to, { t: 'packet', packet, trusted, from, balanced }, [packet.buffer as ArrayBuffer]);
    for (let j = 0; j < workers.length; j++) if (j !== from) toShard(j, { t: 'packet', packet, trusted, from });
  };
  const stop = (lingerMs = 1000): Promise<void> => {
    if (stopping !== null) return stopping;
    stopping = (async () => {
      for (let i = 0; i < workers.length; i++) toShard(i, { t: 'stop', lingerMs });
      const late = setTimeout(() => {
        for (const w of workers) void w.terminate();
      }, lingerMs + STOP_GRACE_MS);
      await Promise.all(exited);
      clearTimeout(late);
      first.close();
      deleteTun(name);
    })();
    return stopping;
  };
  const fail = (i: number, err: Error): void => {
    if (o.onError !== undefined) return o.onError(i, err);
    process.stderr.write(`tuntcp: shard q${i}: ${err.message}\n`);
    process.exitCode = 1;
    void stop(0);
  };

  try {
    configureTun({ name, peer: a.peer, addr: a.addr, mtu: a.mtu, addr6: ipv6?.addr6, peer6: ipv6?.peer6 });
    const isnKey = randomBytes(32);
    const load = new SharedArrayBuffer(4 * loadSlots(count)); // connections and SYNs on their way, per shard (balance.ts)
    const readies: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const data: ShardData = { args: { ...a, tun: name }, index: i, count, isnKey, load, app: o.app.href };
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
      workers.push(w);
      let ready = false;
      readies.push(
        new Promise<void>((resolve, reject) => {
          w.on('message', (m: FromShard) => {
            if (m.t === 'ready') {
              ready = true;
              resolve();
            } else if (m.t === 'packet') relay(i, m.to, m.packet, m.trusted, m.balanced);
            else if (m.t === 'gone') toShard(m.to, { t: 'gone', key: m.key });
            else if (m.t === 'app') o.onMessage?.(i, m.data);
          });
          w.on('error', (err) => (ready ? fail(i, err) : reject(err)));
          w.on('exit', (code) => {
            if (!ready) reject(new Error(`shard q${i} exited (${code}) before it was ready`));
            else if (stopping === null) fail(i, new Error(`exited (${code}) while the stack was running`));
          });
        }),
      );
      exited.push(new Promise((resolve) => w.once('exit', () => resolve())));
    }
    await Promise.all(readies);
  } catch (err) {
    await stop(0);
    throw err;
  }
  first.close();
  return { count, name, ipv6, workers, post: (i, data) => toShard(i, { t: 'app', data }), stop };
}

/**
 * runUntilSignal for shards: on SIGINT, SIGTERM or SIGHUP every shard stops
 * (FIN, or RST with data unread, up to `lingerMs`), the device is removed,
 * and the process exits 0; a second signal exits at once.
 */
export function runShardsUntilSignal(set: ShardSet, lingerMs = 1000): void {
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) process.exit(code);
    stopping = true;
    void set
      .stop(lingerMs)
      .then(() => Promise.race([flushed(process.stdout), new Promise<void>((res) => setTimeout(res, 1000))]))
      .then(() => process.exit(code));
  };
  for (const sig of STOP_SIGNALS) process.on(sig, () => stop(0));
  process.stdout.on('error', () => stop(141));
}
