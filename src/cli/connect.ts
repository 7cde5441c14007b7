/**
 * `tuntcp connect <host> <port>`: bash's `exec 88<>/dev/tcp/host/port` as a
 * command. stdin goes to the socket and the socket to stdout; EOF on stdin
 * half-closes (FIN) and we keep reading until the peer's FIN; exit 0 once both
 * directions are closed, non-zero with one line naming the error otherwise.
 */
import { isIPv6 } from 'node:net';
import type { CommandModule } from 'yargs';
import { stackOptions, checkStackArgs, type StackArgs } from './options.js';
import { flushed, startStack } from './start-stack.js';
import { die, errorLine } from './errors.js';
import { Progress } from './progress.js';
import { pumpStdin } from './stdin-pump.js';
import { defaultRouteDevice, enableNat, NatError, type NatHandle, type NatOut } from './nat.js';
import { finishPictures, htmlOption, ladderOption, startPictures } from './pictures.js';

/** Received bytes waiting for stdout before the socket is paused (its window then closes). */
const STDOUT_HELD = 1024 * 1024;

interface ConnectArgs extends StackArgs {
  host: string;
  port: number;
  nat: boolean;
  json: boolean;
  ladder: boolean;
  html?: string;
}

export const connectCommand: CommandModule<object, ConnectArgs> = {
  command: 'connect <host> <port>',
  describe: 'open a TCP connection from the stack: stdin to the socket, the socket to stdout',
  builder: (y) =>
    y
      .positional('host', { type: 'string', demandOption: true, describe: 'address or host name to connect to' })
      .positional('port', { type: 'number', demandOption: true, describe: 'TCP port' })
      .options(stackOptions)
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON transfer summary on stderr at the end' })
      .options({ ...ladderOption, ...htmlOption })
      .option('nat', {
        type: 'boolean',
        default: false,
        describe:
          "reach hosts beyond the TUN: enable forwarding and masquerade the TUN subnets out of the default routes' devices, IPv4 and IPv6 (undone on exit)",
      })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return `port ${a.port} is out of range`;
        return checkStackArgs(a as StackArgs) ?? true;
      }) as never,
  handler: async (a) => {
    // A name is resolved by the stack's connect(), as node:net does: both
    // families when IPv6 is on, tried in turn (RFC 8305); only A records without.
    const host = a.host;
    let natDev: string | null = null;
    let natDev6: string | null = null;
    if (a.nat) {
      try {
        natDev = defaultRouteDevice(4);
        natDev6 = a.ipv6 === false ? null : defaultRouteDevice(6);
      } catch (err) {
        die('connect --nat', err);
      }
      if (natDev === null && natDev6 === null) die('connect --nat', new NatError('ENONET', 'no default route'));
    }
    let running;
    try {
      running = startStack(a);
    } catch (err) {
      die('connect', err);
    }
    if (a.nat) {
      const outs: NatOut[] = [];
      if (natDev !== null) outs.push({ family: 4, peer: a.peer, dev: natDev });
      if (natDev6 !== null && running.ipv6 !== null) outs.push({ family: 6, peer: running.ipv6.peer6, dev: natDev6 });
      let nat: NatHandle;
      try {
        nat = enableNat(outs);
      } catch (err) {
        running.shutdown();
        die('connect --nat', err);
      }
      // Every way out (finish, die, an uncaught error) goes through 'exit'.
      process.once('exit', () => nat.remove());
    }
    const r = running;
    // stdout carries the data: the ladder goes to stderr.
    const pictures = startPictures(r.stack, r.tap, a);
    let progress: Progress | null = null;
    let local = '';
    let remote = '';
    let finishing = false;
    let stdoutBroken = false;
    /**
     * Close like process exit (FIN, or RST when data is unread), give the
     * last segments up to a second to be acknowledged, remove the device,
     * and exit only once stdout has taken every byte: process.exit() would
     * drop what a pipe has not accepted yet (on a signal, at most a second
     * more).
     */
    const finish = (code: number): void => {
      if (finishing) {
        if (code >= 128) {
          // A second signal: stop now.
          r.shutdown();
          process.exit(code);
        }
        return;
      }
      finishing = true;
      progress?.finish(local, remote || hostPort(host, a.port), code, a.json);
      void r
        .stop(1000)
        .then(() => {
          finishPictures(pictures, { title: `tuntcp connect ${host} ${a.port}`, out: process.stderr });
          const drained = stdoutBroken ? Promise.resolve() : flushed(process.stdout);
          // A signal asks us to stop: a reader that takes nothing more must
          // not keep us alive; after a second its rest is dropped, as a
          // killed nc drops what it had not written.
          if (code < 128) return drained;
          return Promise.race([drained, new Promise<void>((res) => setTimeout(res, 1000))]);
        })
        .then(() => process.exit(code));
    };
    process.on('SIGINT', () => finish(130));
    process.on('SIGTERM', () => finish(143));
    process.on('SIGHUP', () => finish(129)); // OpenSSH hangs up on a ProxyCommand
    const sock = r.stack.connect({ port: a.port, host, allowHalfOpen: true });
    sock.on('error', (err) => {
      process.stderr.write(`${errorLine('', err)}\n`);
      finish(1);
    });
    sock.on('connect', () => {
      local = hostPort(sock.localAddress ?? '', sock.localPort ?? 0);
      remote = hostPort(sock.remoteAddress ?? host, a.port);
      process.stderr.write(`connected ${local} -> ${remote}\n`);
      progress = new Progress(sock);
      progress.start();
      pumpStdin(sock, (err) => {
        process.stderr.write(`tuntcp: connect: stdin ${err.code ?? 'error'}: ${err.message}\n`);
        finish(1);
      });
    });
    // The socket to stdout with backpressure: a slow reader closes our window.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (stdoutBroken) return;
      stdoutBroken = true;
      const why = err.code === 'EPIPE' ? 'the reader of the output went away' : err.message;
      process.stderr.write(`tuntcp: connect: stdout ${err.code ?? 'error'}: ${why}; closing the connection\n`);
      sock.destroy(); // close(2): RST if the peer's data is unread, as for a process killed by SIGPIPE
      finish(1);
    });
    // The segments of one read arrive as separate Buffers (views of the
    // receive buffer, no copy): corked for the rest of this tick, a pipe or
    // terminal takes them in one writev(2) instead of a write(2) each. The
    // stream's 16 KiB mark would stop us after a few segments: pause at
    // STDOUT_HELD instead ('drain' follows, the mark having been passed).
    let corked = false;
    const uncork = (): void => {
      corked = false;
      process.stdout.uncork();
    };
    sock.on('data', (d: Buffer) => {
      if (stdoutBroken) return;
      if (!corked) {
        corked = true;
        process.stdout.cork();
        process.nextTick(uncork);
      }
      process.stdout.write(d);
      if (process.stdout.writableLength >= STDOUT_HELD && !sock.isPaused()) {
        sock.pause();
        process.stdout.once('drain', () => sock.resume());
      }
    });
    let readDone = false;
    let writeDone = false;
    const maybeDone = (): void => {
      if (readDone && writeDone) finish(0);
    };
    sock.on('end', () => {
      readDone = true;
      maybeDone();
    });
    sock.on('finish', () => {
      writeDone = true;
      maybeDone();
    });
  },
};

/** 'a.b.c.d:port', or '[v6]:port' as URLs and `ss` write IPv6. */
function hostPort(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
