/**
 * `tuntcp netstat [-s] [--json]`: asks every running stack over its control
 * socket (src/trace/control.ts) and prints one `netstat -antp` table, or with
 * -s the counters of each stack.
 */
import type { CommandModule } from 'yargs';
import { listControlSockets, netnsId, queryControlSocket } from '../trace/control.js';
import { formatStats, formatTable, type StackSockets, type StackStats } from '../trace/netstat.js';

interface NetstatArgs {
  s: boolean;
  json: boolean;
}

async function queryAll(cmd: 'sockets' | 'stats'): Promise<Array<Record<string, unknown>>> {
  const paths = listControlSockets();
  const results = await Promise.all(paths.map((p) => queryControlSocket(p, cmd)));
  const out: Array<Record<string, unknown>> = [];
  const ours = netnsId();
  results.forEach((r, i) => {
    // Only stacks of our own network namespace, as netstat(8) shows only its own.
    if (r.kind === 'ok' && (r.value.netns === undefined || r.value.netns === ours)) out.push(r.value);
    else if (r.kind === 'error') process.stderr.write(`tuntcp: netstat: ${paths[i]}: ${r.message}\n`);
  });
  return out;
}

function strip(v: Record<string, unknown>): Record<string, unknown> {
  const { ok: _ok, ...rest } = v;
  return rest;
}

export const netstatCommand: CommandModule<object, NetstatArgs> = {
  command: 'netstat',
  describe:
    'list the TCP sockets of every running stack in this network namespace like `netstat -antp` (LISTEN: Recv-Q = SYN_RECV count, ' +
    'Send-Q = backlog; TIME_WAIT rows end with the time left); -s for counters. Stacks are found by their ' +
    'control sockets in /run/tuntcp (or $TMPDIR/tuntcp when /run is not writable)',
  builder: (y) =>
    y
      .option('s', { alias: 'statistics', type: 'boolean', default: false, describe: 'counters per stack, grouped' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' }) as never,
  handler: async (a) => {
    const stacks = await queryAll(a.s ? 'stats' : 'sockets');
    let lines: string[];
    if (a.json) lines = [JSON.stringify({ stacks: stacks.map(strip) }, null, 2)];
    else if (a.s) lines = formatStats(stacks as unknown as StackStats[]);
    else lines = formatTable(stacks as unknown as StackSockets[]);
    process.stdout.write(`${lines.join('\n')}\n`);
  },
};
