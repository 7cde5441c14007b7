/**
 * Connection rate: Linux clients open a connection to a tuntcp server, send
 * a 100-byte request, read the 100-byte reply and close, over and over, with
 * several connections in flight per client process (epoll, non-blocking), for
 * a fixed time. The client closes first, so TIME_WAIT lands on the Linux
 * side, where a wide ephemeral port range and tcp_tw_reuse (set in our
 * private namespace only) keep ports from running out.
 *
 * `linux: true` runs the same clients against the same server code on
 * node:net over loopback instead: Linux's own TCP under one Node event loop,
 * the rate tuntcp is measured against.
 */
import { createServer as createNetServer, type Socket as NetSocket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { startStack } from '../../src/cli/start-stack.js';
import type { Socket } from '../../src/socket/socket.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { spawnTied } from '../../test/kernel/netem.js';
import { collect, exited, lastJson, ownCpuSeconds } from './proc.js';
import type { ConnRateResult } from './results.js';

const ADDR = '10.55.8.2';
const LINUX = '10.55.8.1';
const PORT = 7000;
const MESSAGE = 100;

const CLIENT_PY = `
import socket, select, sys, time, json, errno
host, port, conc, secs, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
req = b'q' * size
ep = select.epoll(); conns = {}; done = 0; errors = 0
def start():
    global errors
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    e = s.connect_ex((host, port))
    if e not in (0, errno.EINPROGRESS):
        errors += 1; s.close(); return
    conns[s.fileno()] = [s, -1]
    ep.register(s.fileno(), select.EPOLLOUT)
c0 = time.process_time(); t0 = time.monotonic(); stop = t0 + secs; last = t0
for _ in range(conc): start()
while conns and time.monotonic() < stop + 10:
    for fd, ev in ep.poll(1.0):
        c = conns[fd]; s = c[0]
        if c[1] < 0:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                s.send(req); c[1] = 0; ep.modify(fd, select.EPOLLIN); continue
            ok = False
        else:
            try: d = s.recv(4096)
            except OSError: d = b''
            c[1] += len(d)
            if d and c[1] < size: continue
            ok = c[1] >= size
        ep.unregister(fd); del conns[fd]; s.close()
        if ok: done += 1
        else: errors += 1
        last = time.monotonic()
        if last < stop: start()
print(json.dumps({'done': done, 'errors': errors, 'secs': last - t0, 'cpu': time.process_time() - c0}), flush=True)
`;

export interface ConnRateOptions {
  seconds: number;
  processes: number;
  concurrency: number;
  /** Serve from node:net (Linux's TCP) on loopback instead of from tuntcp. */
  linux?: boolean;
}

export async function connRate(o: ConnRateOptions): Promise<ConnRateResult> {
  // Our namespace only: ports 1024-65535 and TIME_WAIT reuse for the clients.
  writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', '1024 65535');
  writeFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', '1');
  const r = o.linux === true ? null : startStack(stackArgs({ tun: 'tbrate0', addr: ADDR, peer: `${LINUX}/24`, mtu: 1500, msl: 1 }));
  try {
    const reply = Buffer.alloc(MESSAGE, 0x72);
    let accepted = 0;
    // The same handler for both servers: answer once the request is in.
    const handler = (s: Socket | NetSocket): void => {
      accepted++;
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= MESSAGE) s.write(reply);
      });
      s.on('error', () => undefined);
    };
    const server = r === null ? createNetServer(handler) : r.stack.createServer(handler);
    const host = r === null ? '127.0.0.1' : ADDR;
    await new Promise<void>((res) => server.listen(PORT, r === null ? host : undefined, 4096, res));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const clients = Array.from({ length: o.processes }, () => {
      const child = spawnTied('python3', ['-c', CLIENT_PY, host, String(PORT), String(o.concurrency), String(o.seconds), String(MESSAGE)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { child, out: collect(child) };
    });
    await Promise.all(clients.map((c) => exited(c.child, o.seconds + 30)));
    const wall = (performance.now() - t0) / 1000;
    const cpu = ownCpuSeconds(cpu0);
    server.close();
    const results = clients.map((c) => lastJson<{ done: number; errors: number; secs: number; cpu: number }>(c.out.stdout));
    const failed = clients.find((_c, i) => results[i] === null);
    let done = 0;
    let errors = 0;
    let rate = 0;
    let clientCpu = 0;
    for (const x of results) {
      if (x === null) continue;
      done += x.done;
      errors += x.errors;
      rate += x.secs > 0 ? x.done / x.secs : 0;
      clientCpu += x.cpu;
    }
    const res: ConnRateResult = {
      connectionsPerSec: rate,
      connections: done,
      seconds: o.seconds,
      errors,
      clientProcesses: o.processes,
      concurrencyPerProcess: o.concurrency,
      stackCpuMicrosPerConn: done > 0 ? (cpu * 1e6) / done : 0,
      stackCpuPercent: (100 * cpu) / wall,
      clientCpuMicrosPerConn: done > 0 ? (clientCpu * 1e6) / done : 0,
    };
    if (failed !== undefined) res.error = `a client failed: ${failed.out.lastError() || `exit ${failed.child.exitCode}`}`;
    else if (accepted < done) res.error = `tuntcp accepted ${accepted} but clients completed ${done}`;
    return res;
  } finally {
    r?.shutdown();
  }
}
