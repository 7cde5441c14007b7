/** `tuntcp listen <port>`: a TCP server on the stack: echo, discard or HTTP. */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CommandModule } from 'yargs';
import { stackOptions, checkStackArgs, queuesOption, type StackArgs } from './options.js';
import { startStack, runUntilSignal, ipv6Words, type RunningStack } from './start-stack.js';
import { runShardsUntilSignal, startShards } from '../shard/shards.js';
import type { ShardMain } from '../shard/worker.js';
import { die, errorLine } from './errors.js';
import type { Socket } from '../socket/socket.js';
import { finishPictures, htmlOption, ladderOption, startPictures } from './pictures.js';

interface ListenArgs extends StackArgs {
  port: number;
  queues: number;
  echo?: boolean;
  discard?: boolean;
  http?: boolean;
  ladder: boolean;
  html?: string;
}

export const listenCommand: CommandModule<object, ListenArgs> = {
  command: 'listen <port>',
  describe: 'run a TCP server on the stack (echo by default)',
  builder: (y) =>
    y
      .positional('port', { type: 'number', demandOption: true, describe: 'TCP port to listen on' })
      .options({ ...stackOptions, ...queuesOption })
      .option('echo', { type: 'boolean', describe: 'send back what arrives' })
      .option('discard', { type: 'boolean', describe: 'read and drop what arrives' })
      .option('http', { type: 'boolean', describe: 'serve a small HTTP page through node:http' })
      .options({ ...ladderOption, ...htmlOption })
      .conflicts('echo', ['discard', 'http'])
      .conflicts('discard', 'http')
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return `port ${a.port} is out of range`;
        return checkStackArgs(a as StackArgs) ?? true;
      }) as never,
  handler: async (a) => {
    if (a.queues !== 1) {
      if (a.ladder || a.html !== undefined) die('listen', new Error('--ladder and --html cannot be combined with --queues'));
      // Every shard runs the same server (shardMain below) on its own stack.
      const set = await startShards(a, a.queues, { app: new URL(import.meta.url) }).catch((err: unknown) => die('listen', err));
      runShardsUntilSignal(set);
      const six = set.ipv6 === null ? '' : ` addr6=${set.ipv6.addr6} peer6=${set.ipv6.peer6}`;
      process.stderr.write(`ready ${modeOf(a)} ${a.addr}:${a.port} tun=${set.name} peer=${a.peer} mtu=${a.mtu}${six} queues=${a.queues}\n`);
      return;
    }
    let running;
    try {
      running = startStack(a);
    } catch (err) {
      die('listen', err);
    }
    const pictures = startPictures(running.stack, running.tap, a);
    serve(running, a, () => {
      runUntilSignal(running, 1000, () => finishPictures(pictures, { title: `tuntcp listen ${a.port}` }));
      process.stderr.write(`ready ${modeOf(a)} ${a.addr}:${a.port} tun=${a.tun} peer=${a.peer} mtu=${a.mtu}${ipv6Words(running)}\n`);
    });
  },
};

/** In each shard of `listen --queues N`: the same server. */
export const shardMain: ShardMain = (ctx) =>
  new Promise<void>((resolve) => serve(ctx.running, ctx.args as ListenArgs, resolve));

function modeOf(a: ListenArgs): 'http' | 'discard' | 'echo' {
  return a.http ? 'http' : a.discard ? 'discard' : 'echo';
}

/** Listen on a.port of `running` with a's server; `onListening` once it listens. */
function serve(running: RunningStack, a: ListenArgs, onListening: () => void): void {
  const { stack } = running;
  const mode = modeOf(a);
  // A peer that resets or vanishes is ordinary for a server (5 000 RST-closed
  // clients would be 5 000 lines): counted for `netstat -s`, not printed.
  const onSocketError = (err: Error & { code?: string }): void => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ETIMEDOUT') {
      stack.counters.inc(`socket_error_${err.code.toLowerCase()}`);
      return;
    }
    process.stderr.write(errorLine('', err) + '\n');
  };
  let handle: (s: Socket) => void;
  if (mode === 'http') {
    const http = createHttpServer(httpPage);
    handle = (s) => http.emit('connection', s);
  } else if (mode === 'discard') {
    handle = (s) => s.resume();
  } else {
    handle = (s) => s.pipe(s);
  }
  const server = stack.createServer({ allowHalfOpen: mode === 'echo' }, (s) => {
    s.on('error', onSocketError);
    handle(s);
  });
  server.on('error', (err) => die('listen', err));
  server.listen(a.port, onListening);
}

function httpPage(req: IncomingMessage, res: ServerResponse): void {
  const body =
    '<!doctype html>\n<html><head><title>tuntcp</title></head><body>\n' +
    `<h1>Hello from tuntcp</h1>\n<p>${escapeHtml(req.method ?? '')} ${escapeHtml(req.url ?? '')} from ` +
    `${escapeHtml(req.socket.remoteAddress ?? '')}:${req.socket.remotePort ?? ''}, served by a TCP stack in TypeScript.</p>\n` +
    '</body></html>\n';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
