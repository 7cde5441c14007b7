/**
 * Bulk transfer through TUN: Linux -> tuntcp and tuntcp -> Linux, one run
 * each, with a Python kernel-side peer in its own process (so the peer does
 * not share our event loop), and this process's CPU time per GB.
 *
 *   node dist/scripts/bench/bulk.js [--mb 100] [--mtu 1500] [--json]
 *
 * Needs root; re-executes itself under `unshare --net`, so the device, the
 * addresses and all traffic live in a private namespace gone at exit.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startStack } from '../../src/cli/start-stack.js';
import type { StackArgs } from '../../src/cli/options.js';

const NETNS_ENV = 'TUNTCP_BENCH_NETNS';

interface Row {
  direction: string;
  bytes: number;
  seconds: number;
  mbitPerSec: number;
  cpuSecondsPerGB: number;
  retransmits: number;
}

const PY_SEND = `
import socket, sys, time
n = int(sys.argv[3]); s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
buf = b'x' * 65536; left = n
while left > 0:
    k = s.send(buf[:min(left, len(buf))]); left -= k
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
`;
const PY_RECV = `
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', int(sys.argv[1]))); srv.listen(1); print('listening', flush=True)
c, _ = srv.accept(); total = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    total += len(d)
print(total, flush=True); c.close()
`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mb = Number(argv[argv.indexOf('--mb') + 1] ?? 100) || 100;
  const mtu = Number(argv.includes('--mtu') ? argv[argv.indexOf('--mtu') + 1] : 1500);
  const json = argv.includes('--json');
  const bytes = mb * 1024 * 1024;
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const args: StackArgs = {
    tun: 'tbulk0', addr: '10.55.0.2', peer: '10.55.0.1/24', mtu, trace: false, absolute: false,
    loss: 0, duplicate: 0, reorder: 0, delay: 0, jitter: 0, corrupt: 0, rate: 0, seed: 1, msl: 1, cc: 'cubic', explain: false, lang: 'en',
  };
  const r = startStack(args);
  const rows: Row[] = [];

  // Linux -> tuntcp: Python sends, the stack discards.
  {
    let got = 0;
    let t0 = 0;
    let t1 = 0;
    const server = r.stack.createServer((s) => {
      t0 = performance.now();
      s.on('data', (d: Buffer) => { got += d.length; });
      s.on('end', () => { t1 = performance.now(); s.end(); });
    });
    server.listen(5001);
    const rtx0 = r.stack.counters.get('tcp_retransmitted_segments');
    const cpu0 = process.cpuUsage();
    const py = spawn('python3', ['-c', PY_SEND, '10.55.0.2', '5001', String(bytes)], { stdio: 'inherit' });
    await new Promise((res) => py.on('exit', res));
    const cpu = process.cpuUsage(cpu0);
    const secs = (t1 - t0) / 1000;
    rows.push(row('Linux -> tuntcp', got, secs, cpu, r.stack.counters.get('tcp_retransmitted_segments') - rtx0));
    server.close();
  }

  // tuntcp -> Linux: the stack sends, Python counts.
  {
    const py = spawn('python3', ['-c', PY_RECV, '5002'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    py.stdout.setEncoding('utf8');
    await new Promise<void>((res) => py.stdout.on('data', (d: string) => { out += d; if (out.includes('listening')) res(); }));
    const rtx0 = r.stack.counters.get('tcp_retransmitted_segments');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const s = r.stack.connect({ port: 5002, host: '10.55.0.1' });
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
      }
      s.end();
    };
    s.on('drain', pump);
    s.on('connect', pump);
    s.resume();
    await new Promise((res) => py.on('exit', res));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    rows.push(row('tuntcp -> Linux', Number(out.trim().split('\n').pop()), secs, cpu, r.stack.counters.get('tcp_retransmitted_segments') - rtx0));
  }
  r.shutdown();

  if (json) console.log(JSON.stringify({ mtu, rows }, null, 2));
  else {
    console.log(`bulk transfer through TUN, MTU ${mtu}, ${mb} MiB each way`);
    console.log('direction          MiB     seconds   Mbit/s   CPU s/GB (tuntcp process)   retransmits');
    for (const x of rows) {
      console.log(`${x.direction.padEnd(18)} ${(x.bytes / 1048576).toFixed(0).padStart(5)}  ${x.seconds.toFixed(2).padStart(8)}  ${x.mbitPerSec.toFixed(0).padStart(7)}   ${x.cpuSecondsPerGB.toFixed(2).padStart(10)}                 ${x.retransmits}`);
    }
  }
}

function row(direction: string, bytes: number, seconds: number, cpu: NodeJS.CpuUsage, retransmits: number): Row {
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  return { direction, bytes, seconds, mbitPerSec: (bytes * 8) / seconds / 1e6, cpuSecondsPerGB: cpuSecs / (bytes / 1e9), retransmits };
}

if (process.env[NETNS_ENV] === undefined) {
  const self = fileURLToPath(import.meta.url);
  const res = spawnSync('unshare', ['--net', process.execPath, self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [NETNS_ENV]: '1' },
  });
  process.exit(res.status ?? 1);
} else {
  await main();
}
