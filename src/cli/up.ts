/** `tuntcp up`: a host that answers ping and refuses every TCP port. */
import type { CommandModule } from 'yargs';
import { stackOptions, checkStackArgs, queuesOption, type StackArgs } from './options.js';
import { startStack, runUntilSignal, ipv6Words } from './start-stack.js';
import { die } from './errors.js';
import { runShardsUntilSignal, startShards } from '../shard/shards.js';
import type { ShardMain } from '../shard/worker.js';

type UpArgs = StackArgs & { queues: number };

export const upCommand: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'create the TUN device and run the stack until SIGINT/SIGTERM',
  builder: (y) => y.options({ ...stackOptions, ...queuesOption }).check((a) => checkStackArgs(a as StackArgs) ?? true) as never,
  handler: async (a) => {
    if (a.queues !== 1) {
      // A shard has nothing to run beside its stack: shardMain below.
      const set = await startShards(a, a.queues, { app: new URL(import.meta.url) }).catch((err: unknown) => die('up', err));
      runShardsUntilSignal(set);
      const six = set.ipv6 === null ? '' : ` addr6=${set.ipv6.addr6} peer6=${set.ipv6.peer6}`;
      process.stderr.write(`ready tun=${set.name} addr=${a.addr} peer=${a.peer} mtu=${a.mtu}${six} queues=${a.queues}\n`);
      return;
    }
    let running;
    try {
      running = startStack(a);
    } catch (err) {
      die('up', err);
    }
    runUntilSignal(running);
    process.stderr.write(`ready tun=${a.tun} addr=${a.addr} peer=${a.peer} mtu=${a.mtu}${ipv6Words(running)}\n`);
  },
};

/** In each shard of `up --queues N`: the stack alone (it answers ping, refuses TCP). */
export const shardMain: ShardMain = (ctx) => {
  ctx.running.stack.ref();
};
