/**
 * The control socket of a running stack, read by `tuntcp netstat`.
 *
 * Each stack listens on a unix domain socket `<dir>/<pid>.sock` (a second
 * stack in the same process gets `<pid>-2.sock`, and so on; a stack in worker
 * thread T, a shard of --queues, `<pid>-tT.sock`). `<dir>` is
 * `/run/tuntcp`, or `os.tmpdir()/tuntcp` when /run is not writable (not root);
 * netstat looks in both. Protocol: the client sends one JSON line,
 * `{"cmd":"sockets"}` or `{"cmd":"stats"}`; the stack answers one JSON line
 * (`{"ok":true,...}` or `{"ok":false,"error":"..."}`) and closes. A bad request
 * gets an error line, never an exception in the stack. The file is removed on
 * close() and, as a last resort, when the process exits; a stale file of a
 * crashed stack is unlinked by the next stack with that pid or by netstat
 * (connection refused).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { accessSync, constants, mkdirSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import type { Stack } from '../stack/stack.js';
import { netstatState, type SocketRow, type StackSockets, type StackStats } from './netstat.js';

export const RUN_DIR = '/run/tuntcp';

/** Where stacks put their sockets, in the order netstat reads them. */
export function controlDirs(): string[] {
  const fallback = join(tmpdir(), 'tuntcp');
  return fallback === RUN_DIR ? [RUN_DIR] : [RUN_DIR, fallback];
}

function usableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory this process creates its sockets in: /run/tuntcp if writable, else the tmpdir one. */
export function controlDir(): string {
  for (const d of controlDirs()) if (usableDir(d)) return d;
  throw new Error(`no writable directory for the control socket (${controlDirs().join(', ')})`);
}

/** Socket files of this process that are still open (removed at exit if close() never ran). */
const owned = new Set<string>();
let exitHookInstalled = false;

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of owned) unlinkQuietly(p);
  });
}

function freePath(dir: string): string {
  // A worker thread (a shard, src/shard/) has its own module state: its files say which thread.
  const base = isMainThread ? `${process.pid}` : `${process.pid}-t${threadId}`;
  for (let n = 1; ; n++) {
    const p = join(dir, n === 1 ? `${base}.sock` : `${base}-${n}.sock`);
    if (!owned.has(p)) return p;
  }
}

/**
 * This process's network namespace ('net:[4026531840]'), or '' if unknown.
 * Control sockets live on the file system, which namespaces share; netstat
 * shows only the stacks of its own namespace, as netstat(8) does.
 */
export function netnsId(): string {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return '';
  }
}

/** The rows of `{"cmd":"sockets"}`: listeners, then every connection (TIME_WAIT included). */
export function socketRows(stack: Stack): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const l of stack.listening()) {
    // A listener that takes IPv6 is a tcp6 socket, as Linux shows one bound to '::' (ipv6only off).
    const v6 = l.family === 6 || (l.family === 0 && stack.addr6 !== null);
    rows.push({
      proto: v6 ? 'tcp6' : 'tcp', state: 'LISTEN', recvQ: l.pending, sendQ: l.backlog,
      localAddr: v6 ? (l.address ?? '::') : stack.addr, localPort: l.port, remoteAddr: v6 ? '::' : '0.0.0.0', remotePort: 0,
    });
  }
  const now = stack.now();
  for (const ep of stack.connections()) {
    const c = ep.conn;
    const row: SocketRow = {
      proto: ep.v6 ? 'tcp6' : 'tcp', state: netstatState(c.state), recvQ: c.recvBuffer.readable, sendQ: c.sendQueue.length,
      localAddr: ep.localAddr, localPort: ep.localPort, remoteAddr: ep.remoteAddr, remotePort: ep.remotePort,
    };
    if (c.state === 'TIME_WAIT' && Number.isFinite(c.timeWaitAt)) row.timeWaitLeftMs = Math.max(0, c.timeWaitAt - now);
    rows.push(row);
  }
  return rows;
}

/** The answer to one request line (exported for tests). Never throws. */
export function answer(stack: Stack, program: string, line: string): string {
  try {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return JSON.stringify({ ok: false, error: 'request is not JSON' });
    }
    const cmd = typeof req === 'object' && req !== null && 'cmd' in req ? (req as { cmd: unknown }).cmd : undefined;
    const head = { pid: process.pid, program, addr: stack.addr, netns: netnsId() };
    if (cmd === 'sockets') {
      const body: StackSockets = { ...head, sockets: socketRows(stack) };
      return JSON.stringify({ ok: true, ...body });
    }
    if (cmd === 'stats') {
      const body: StackStats = { ...head, counters: stack.counters.snapshot() };
      return JSON.stringify({ ok: true, ...body });
    }
    return JSON.stringify({ ok: false, error: 'unknown cmd (expected "sockets" or "stats")' });
  } catch (err) {
    return JSON.stringify({ ok: false, error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
  }
}

const MAX_REQUEST = 4096;
const CLIENT_TIMEOUT_MS = 2000;

function serve(sock: Socket, stack: Stack, program: string): void {
  let buf = '';
  let answered = false;
  const reply = (line: string): void => {
    if (answered) return;
    answered = true;
    sock.end(`${answer(stack, program, line)}\n`);
  };
  sock.setEncoding('utf8');
  sock.setTimeout(CLIENT_TIMEOUT_MS, () => sock.destroy());
  sock.on('error', () => sock.destroy());
  sock.on('data', (d: string) => {
    if (answered) return;
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl >= 0) reply(buf.slice(0, nl));
    else if (buf.length > MAX_REQUEST) reply('');
  });
  sock.on('end', () => reply(buf));
}

export interface ControlSocket {
  readonly path: string;
  close(): void;
}

/**
 * Open the control socket of `stack`. Failure to open it (no writable
 * directory, bind error) is reported on stderr and leaves the stack running;
 * the returned close() is then a no-op.
 */
export function openControlSocket(stack: Stack, info: { program: string }): ControlSocket {
  let path = '';
  let server: Server | null = null;
  const warn = (err: unknown): void => {
    process.stderr.write(`tuntcp: control socket${path ? ` ${path}` : ''}: ${err instanceof Error ? err.message : String(err)} (netstat will not see this stack)\n`);
  };
  try {
    path = freePath(controlDir());
    unlinkQuietly(path); // a stale file left by an earlier process with our pid
    const srv = createServer((sock) => {
      try {
        serve(sock, stack, info.program);
      } catch {
        sock.destroy();
      }
    });
    srv.on('error', (err) => {
      warn(err);
      close();
    });
    srv.listen(path);
    srv.unref(); // never what keeps a process alive
    server = srv;
    owned.add(path);
    installExitHook();
  } catch (err) {
    warn(err);
    server = null;
  }
  const close = (): void => {
    if (server === null) return;
    const srv = server;
    server = null;
    srv.close();
    owned.delete(path);
    unlinkQuietly(path);
  };
  return { path, close };
}

/** Every `*.sock` file in the control directories. */
export function listControlSockets(): string[] {
  const out: string[] = [];
  for (const dir of controlDirs()) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/^\d+(-t\d+)?(-\d+)?\.sock$/.test(n)) out.push(join(dir, n));
  }
  return out;
}

export type QueryResult =
  | { kind: 'ok'; value: Record<string, unknown> }
  | { kind: 'stale' }
  | { kind: 'error'; message: string };

/** Send one request to one control socket. A refused connection means a stale file: it is removed. */
export function queryControlSocket(path: string, cmd: 'sockets' | 'stats', timeoutMs = 3000): Promise<QueryResult> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (r: QueryResult): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(r);
    };
    const sock = connect(path);
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => finish({ kind: 'error', message: 'timed out' }));
    sock.on('connect', () => sock.write(`${JSON.stringify({ cmd })}\n`));
    sock.on('data', (d: string) => (buf += d));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
        if (err.code === 'ECONNREFUSED') unlinkQuietly(path);
        finish({ kind: 'stale' });
      } else finish({ kind: 'error', message: err.message });
    });
    sock.on('end', () => {
      try {
        const v: unknown = JSON.parse(buf.trim());
        if (typeof v !== 'object' || v === null) return finish({ kind: 'error', message: 'answer is not a JSON object' });
        const obj = v as Record<string, unknown>;
        if (obj.ok !== true) return finish({ kind: 'error', message: String(obj.error ?? 'error') });
        finish({ kind: 'ok', value: obj });
      } catch {
        finish({ kind: 'error', message: 'answer is not JSON' });
      }
    });
  });
}
