/**
 * One shard: a worker thread that attaches one queue of the multi-queue TUN
 * device (startStack with a ShardPlace), runs a whole stack on it, and runs
 * the application's shardMain beside it. Messages with the main thread
 * (shards.ts): packets the kernel steered to the wrong queue, application
 * messages, and stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startStack, type RunningStack } from '../cli/start-stack.js';
import type { StackArgs } from '../cli/options.js';
import { TokenBucket } from '../stack/rate-limit.js';
import { shardOfPort } from './ports.js';
import { PassiveBalance, tupleKey } from './balance.js';

export interface ShardData {
  args: StackArgs;
  index: number;
  count: number;
  /** The ISN and SYN cookie key all shards share (RFC 6528: one host, one key). */
  isnKey: Uint8Array;
  /** Per shard, its connection count and SYNs on their way to it (balance.ts). */
  load: SharedArrayBuffer;
  /** URL of the application module: it exports shardMain. */
  app: string;
}

export type ToShard =
  /** from: the shard that handed it on; balanced: a SYN it handed here (balance.ts). */
  | { t: 'packet'; packet: Uint8Array; trusted: boolean; from: number; balanced?: boolean }
  /** The connection of a 4-tuple this shard handed on ended where it went (balance.ts). */
  | { t: 'gone'; key: string }
  | { t: 'stop'; lingerMs: number }
  | { t: 'app'; data: unknown };

export type FromShard =
  | { t: 'ready' }
  /** to: a shard, or -1: every shard but this one. */
  | { t: 'packet'; to: number; packet: Uint8Array; trusted: boolean; balanced?: boolean }
  | { t: 'gone'; to: number; key: string }
  | { t: 'app'; data: unknown }
  | { t: 'stopped' };

/** What an application's shardMain gets, in each shard. */
export interface ShardContext {
  running: RunningStack;
  /** The command's arguments, as given to startShards. */
  args: StackArgs;
  index: number;
  count: number;
  /** To the main thread (ShardSetOptions.onMessage). */
  post(data: unknown): void;
  /** Set to receive the main thread's ShardSet.post(). */
  onMessage: ((data: unknown) => void) | null;
}

/** An application module exports this; the shard is ready when it resolves. */
export type ShardMain = (ctx: ShardContext) => void | Promise<void>;

const port = parentPort;
if (port === null) throw new Error('src/shard/worker.js runs only as a worker thread (shards.ts)');
const d = workerData as ShardData;
const send = (m: FromShard, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

const running = startStack(d.args, { index: d.index, count: d.count, isnKey: Buffer.from(d.isnKey) });
const stack = running.stack;
const TRUSTED = new Uint8Array([1]);
/** Packets a second this shard hands to others at most: legitimately a SYN,ACK per active open, and the
 * segments of a flow idle past the kernel's flow table until our next write teaches it again. */
const FORWARD_PER_SECOND = 20_000;
const forwardLimit = new TokenBucket(FORWARD_PER_SECOND);
let forwarded = false; // a packet another shard sent us is never sent on again
stack.strayTcp = (localPort, packet, trusted, icmpError) => {
  // An ICMP error about a listening port's connection (a passive open) may
  // concern any shard: every other one gets it (-1) and checks its own table.
  const to = shardOfPort(localPort, d.count);
  if (forwarded || to === d.index || (to < 0 && !icmpError) || d.count === 1) return false;
  return forward(to, packet, trusted);
};

/** Hand a packet to shard `to` (-1: every other one), within the rate limit; true either way. */
function forward(to: number, packet: Buffer, trusted: boolean): boolean {
  // A flood aimed at another shard's ports must not cost more than it would
  // there: past the limit such packets are dropped (never reset from here:
  // the connection may well exist in that shard).
  if (!forwardLimit.take(stack.clock.now())) {
    stack.counters.inc('shard_forward_ratelimited');
    return true;
  }
  relay(to, packet, trusted);
  return true;
}

function relay(to: number, packet: Buffer, trusted: boolean, balanced = false): void {
  const copy = new Uint8Array(packet); // the link's pool is reused on its next read
  send({ t: 'packet', to, packet: copy, trusted, balanced }, [copy.buffer as ArrayBuffer]);
}

// Passive opens spread evenly over the shards (balance.ts).
const balance = new PassiveBalance(d.index, new Int32Array(d.load));
/** A SYN another shard handed here, while it is being received: its 4-tuple. */
let handedSyn: { key: string; remote: string; remotePort: number; localPort: number } | null = null;
if (d.count > 1) stack.passiveTcp = (remote, remotePort, localPort, syn, packet, trusted) => {
  const key = tupleKey(remote, remotePort, localPort);
  if (forwarded) {
    if (syn) handedSyn = { key, remote, remotePort, localPort }; // ours now: the shard that sent it hears when it ends
    return false;
  }
  const owner = balance.ownerOf(key);
  if (owner >= 0) return forward(owner, packet, trusted);
  if (!syn) return false;
  const to = balance.pick(stack.connectionCount);
  if (to === d.index || !forwardLimit.take(stack.clock.now())) return false;
  balance.handedOut(key, to);
  stack.counters.inc('shard_balanced');
  relay(to, packet, trusted, true);
  return true;
};
if (d.count > 1) stack.endpointRemoved = (ep) => {
  balance.setOwn(stack.connectionCount);
  const key = tupleKey(ep.remoteAddr, ep.remotePort, ep.localPort);
  const from = balance.ended(key);
  if (from >= 0) send({ t: 'gone', to: from, key });
};
const ctx: ShardContext = { running, args: d.args, index: d.index, count: d.count, post: (data) => send({ t: 'app', data }), onMessage: null };
port.on('message', (m: ToShard) => {
  if (m.t === 'packet') {
    stack.counters.inc('shard_forwarded_in');
    forwarded = true;
    try {
      stack.receiveBatch([Buffer.from(m.packet.buffer, m.packet.byteOffset, m.packet.byteLength)], m.trusted ? TRUSTED : undefined);
    } finally {
      forwarded = false;
    }
    if (handedSyn !== null) {
      const h = handedSyn;
      handedSyn = null;
      if (stack.hasConnection(h.remote, h.remotePort, h.localPort)) balance.handedIn(h.key, m.from);
      else send({ t: 'gone', to: m.from, key: h.key }); // a cookie, or dropped: nothing to follow
      balance.setOwn(stack.connectionCount);
    }
    if (m.balanced === true) balance.arrived();
  } else if (m.t === 'gone') {
    balance.forget(m.key);
  } else if (m.t === 'app') {
    ctx.onMessage?.(m.data);
  } else if (m.t === 'stop') {
    void running.stop(m.lingerMs).then(() => {
      send({ t: 'stopped' });
      port.close(); // nothing else keeps this thread: it ends
    });
  }
});
const mod = (await import(d.app)) as { shardMain?: ShardMain };
if (typeof mod.shardMain !== 'function') throw new Error(`${d.app} exports no shardMain`);
await mod.shardMain(ctx);
send({ t: 'ready' });
