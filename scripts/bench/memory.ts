/**
 * Memory per idle established connection: a tuntcp server, and Linux
 * processes holding N connections to it open and silent. The server runs in
 * a fresh node process (memory-child.ts), so RSS is not blurred by what
 * earlier benchmarks left in the heap; its RSS and V8 heap (after a full
 * GC, --expose-gc) are read before and after, divided by N. Buffers outside
 * the V8 heap (external + arrayBuffers) are reported apart: an idle
 * connection should hold none.
 *
 * One source address reaches at most ~64 000 connections per destination
 * port, so the server listens on one port per 30 000 connections. The
 * clients together keep at most WINDOW handshakes in flight, so tuntcp's
 * SYN queue (backlog) never overflows and no SYN waits for a
 * retransmission, and they close WINDOW at a time too: 10 000 FINs at once
 * overflow even the TUN device's queue of 4096 toward tuntcp (some 5 800
 * drops), and the FINs dropped there come back only with the kernel's
 * retransmissions; closing is not what this measures.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import type { Socket } from '../../src/socket/socket.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { spawnTied } from '../../test/kernel/netem.js';
import { collect, exited, lastJson, sleep, waitUntil } from './proc.js';
import type { MemoryRow } from './results.js';

const ADDR = '10.55.9.2';
const LINUX = '10.55.9.1';
const PER_PORT = 30_000;
const WINDOW = 256;

const HOLDER_PY = `
import socket, select, sys, time, json, errno, resource
host, ports, n, window = sys.argv[1], [int(p) for p in sys.argv[2].split(',')], int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
resource.setrlimit(resource.RLIMIT_NOFILE, (want, want) if hard != resource.RLIM_INFINITY and want > hard else (want, hard))
ep = select.epoll(); pending = {}; held = []; errors = 0; i = 0; t0 = time.monotonic()
while (i < n or pending) and time.monotonic() - t0 < 600:
    while i < n and len(pending) < window:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        e = s.connect_ex((host, ports[i % len(ports)])); i += 1
        if e not in (0, errno.EINPROGRESS):
            errors += 1; s.close(); continue
        pending[s.fileno()] = s; ep.register(s.fileno(), select.EPOLLOUT)
    for fd, ev in ep.poll(0.5):
        s = pending.pop(fd); ep.unregister(fd)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0: held.append(s)
        else: errors += 1; s.close()
print(json.dumps({'open': len(held), 'errors': errors, 'secs': time.monotonic() - t0}), flush=True)
sys.stdin.readline()
for j in range(0, len(held), window):
    for s in held[j:j + window]: s.close()
    time.sleep(0.02)
print('closed', flush=True)
`;

interface Usage {
  rss: number;
  heap: number;
  external: number;
}

function usage(): Usage {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first pass may only queue finalizers.
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

function established(r: RunningStack): number {
  let n = 0;
  for (const ep of r.stack.connections()) if (ep.conn.state === 'ESTABLISHED') n++;
  return n;
}

/** memoryRow() in a fresh node process; its last line on stdout is the row. */
export async function memoryRowInChild(n: number, id: number): Promise<MemoryRow> {
  const entry = fileURLToPath(new URL('./memory-child.js', import.meta.url));
  const child = spawnTied(process.execPath, ['--expose-gc', entry, String(n), String(id)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  await exited(child, 900);
  await waitUntil(child, () => out.closed, 'memory child', 5000, out);
  const row = lastJson<MemoryRow>(out.stdout);
  if (row === null) throw new Error(`memory child: ${out.lastError() || `exit ${child.exitCode}`}`);
  return row;
}

/** Open `n` idle connections to a fresh stack, measure, close them. `id` keeps device names and ports apart between runs. */
export async function memoryRow(n: number, id: number): Promise<MemoryRow> {
  writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', '1024 65535');
  const r = startStack(stackArgs({ tun: `tbmem${id}`, addr: ADDR, peer: `${LINUX}/24`, mtu: 1500, msl: 1 }));
  const ports = Array.from({ length: Math.ceil(n / PER_PORT) }, (_v, i) => 8000 + 100 * id + i);
  try {
    for (const port of ports) {
      r.stack.createServer((s: Socket) => {
        s.on('data', () => undefined);
        s.on('error', () => undefined);
      }).listen(port, undefined, 4 * WINDOW);
    }
    const before = usage();
    const t0 = performance.now();
    // Several holders when one process may not hold them all (RLIMIT_NOFILE).
    const per = fdsPerProcess();
    const shares = Array.from({ length: Math.ceil(n / per) }, (_v, i) => Math.min(per, n - i * per));
    const window = Math.max(16, Math.floor(WINDOW / shares.length));
    const holders = shares.map((k) => {
      const child = spawnTied('python3', ['-c', HOLDER_PY, ADDR, ports.join(','), String(k), String(window)], { stdio: ['pipe', 'pipe', 'pipe'] });
      return { child, out: collect(child), code: exited(child, 900) };
    });
    let open = 0;
    let errors = 0;
    for (const h of holders) {
      await waitUntil(h.child, () => h.out.stdout.includes('{'), 'connection holder', 600_000, h.out);
      const res = lastJson<{ open: number; errors: number }>(h.out.stdout.split('\n')[0] ?? '');
      open += res?.open ?? 0;
      errors += res?.errors ?? 0;
    }
    // The final ACK of the last handshakes may still be on its way.
    const settle = Date.now() + 5000;
    while (established(r) < open && Date.now() < settle) await sleep(50);
    const openSeconds = (performance.now() - t0) / 1000;
    const count = established(r);
    const after = usage();
    const t1 = performance.now();
    for (const h of holders) h.child.stdin!.end('close\n');
    for (const h of holders) await waitUntil(h.child, () => h.out.stdout.includes('closed'), 'connection holder close', 120_000, h.out);
    const drain = Date.now() + 60_000;
    while (r.stack.connections().next().done !== true && Date.now() < drain) await sleep(50);
    const closeSeconds = (performance.now() - t1) / 1000;
    const left = [...r.stack.connections()].length;
    await Promise.all(holders.map((h) => h.code));
    const perConn = (a: number, b: number): number => (count > 0 ? (b - a) / count : 0);
    const row: MemoryRow = {
      connections: n,
      established: count,
      holderProcesses: holders.length,
      rssBytesPerConn: perConn(before.rss, after.rss),
      heapBytesPerConn: perConn(before.heap, after.heap),
      externalBytesPerConn: perConn(before.external, after.external),
      openSeconds,
      closeSeconds,
      leftAfterClose: left,
    };
    if (count !== n) row.error = `${count} of ${n} established (clients: ${open} open, ${errors} errors)`;
    return row;
  } finally {
    r.shutdown();
  }
}

/**
 * Connections one holder may keep: its RLIMIT_NOFILE can go up to the hard
 * limit, or to fs.nr_open with CAP_SYS_RESOURCE (root in a container may
 * lack it), less a few descriptors for Python itself.
 */
function fdsPerProcess(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
  const CAP_SYS_RESOURCE = 24n;
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  const limit = (capEff >> CAP_SYS_RESOURCE) & 1n ? nrOpen : hard === 'unlimited' ? nrOpen : Number(hard);
  return Math.max(64, limit - 64);
}

/**
 * Whether `n` connections fit, judged from a smaller run `prev`: holder
 * processes (one per RLIMIT_NOFILE's worth), memory (tuntcp's share
 * measured, the kernel's and the clients' guessed at 8 KiB a connection,
 * within half of what is available), the V8 heap limit, and time (the open
 * rate measured). Returns why not, or null when it fits.
 */
export function doesNotFit(n: number, prev: MemoryRow): string | null {
  const holders = Math.ceil(n / fdsPerProcess());
  if (holders > 64) return `${holders} client processes would be needed (RLIMIT_NOFILE allows ${fdsPerProcess()} each)`;
  const avail = Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  const need = n * (Math.max(prev.rssBytesPerConn, 0) + 8192);
  if (need > avail / 2) return `needs about ${(need / 2 ** 30).toFixed(1)} GiB, half of the available ${(avail / 2 ** 30).toFixed(1)} GiB is less`;
  // The child starts with an empty heap of the same limit as ours.
  if (2 * n * prev.heapBytesPerConn > getHeapStatistics().heap_size_limit) return 'the V8 heap limit is too small';
  const secs = (prev.openSeconds * n) / prev.connections;
  if (secs > 180) return `opening would take about ${secs.toFixed(0)} s at the rate of the ${prev.connections} run`;
  return null;
}
