/** `tuntcp up`: a host that answers ping and refuses every TCP port. */
import type { CommandModule } from 'yargs';
import { stackOptions, checkStackArgs, type StackArgs } from './options.js';
import { startStack, runUntilSignal, ipv6Words } from './start-stack.js';
import { die } from './errors.js';

export const upCommand: CommandModule<object, StackArgs> = {
  command: 'up',
  describe: 'create the TUN device and run the stack until SIGINT/SIGTERM',
  builder: (y) => y.options(stackOptions).check((a) => checkStackArgs(a as StackArgs) ?? true) as never,
  handler: (a) => {
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
