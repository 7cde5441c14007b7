// A SYN flood against tuntcp, as the issue tells it: hping3 sends SYNs from
// random spoofed source addresses to `tuntcp listen 80 --http` (the default
// backlog, 511) while real kernel clients fetch a page. With SYN cookies
// every real client is served, at full rate (--flood) and at 20 SYN/s; before
// them the SYN queue stayed full and every real SYN was dropped.
//
// Nothing can leave: the runner starts this file under `unshare --net`, and
// here ip_forward is switched off and the namespace is checked to have no
// default route and no device but lo, the TUN devices and the veth to the
// comparison namespace. tuntcp's SYN,ACKs to the random addresses go into its
// TUN device, and the kernel, not forwarding, drops them (Ip: ForwDatagrams
// stays 0, checked after each flood).
//
// TUNTCP_SYNFLOOD_COMPARE=1 adds the same two floods against a Linux listener
// (node:http, backlog 511, the namespace's own tcp_syncookies=1) in a second
// namespace behind a veth, and prints both results (for the closing note; not
// asserted, and not run by default: it takes another 30 s).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { get as httpGet } from 'node:http';
import { assertPrivateNamespace, waitForLine, sleep, CLI } from './lab.js';
import { HeldNetns, runAsync, sh, spawnTied } from './netem.js';
import { listControlSockets, queryControlSocket } from '../../src/trace/control.js';

assertPrivateNamespace();

const CLIENTS = 15;
/**
 * A real client's limit: its kernel resends the SYN at 1, 3, 7, 15, 31, 63 s.
 * At full rate hping3 fills the TUN device's queue faster than tuntcp (one
 * process, on a shared core) empties it, and the kernel drops what does not
 * fit, the real clients' segments too: most are served in a second or two,
 * some only after several SYN retransmissions (up to 22 s seen on a loaded
 * 2-core VM). Seven SYNs make a lost client very unlikely.
 */
const CLIENT_LIMIT_MS = 90_000;
const HAVE_HPING = spawnSync('hping3', ['--version'], { stdio: 'ignore' }).status === 0;
const COMPARE = process.env.TUNTCP_SYNFLOOD_COMPARE === '1';

setTimeout(() => {
  console.error('synflood.test: file time limit (500 s) reached, exiting');
  process.exit(1);
}, 500_000).unref();

const children: ChildProcess[] = [];
test.after(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Replies to spoofed sources must die here: no forwarding, no way out. */
function sealNamespace(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '0'); // this namespace only
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  assert.not.match(routes, /^default/m, 'no default route');
  const devs = sh('ip', ['-o', 'link', 'show']).split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]!);
  for (const d of devs) assert.ok(d === 'lo' || d.startsWith('sf'), `only lo and this test's devices: ${d}`);
}

/** Ip: ForwDatagrams of this namespace. */
function forwarded(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Ip:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('ForwDatagrams')]);
}

// ------------------------------------------------------------------ targets

interface Target {
  name: string;
  addr: string;
  /** Counters of interest now (tuntcp: its own; Linux: TcpExt of its namespace). */
  counters(): Promise<Record<string, number>>;
  /** CPU seconds (user, system) used by the listener so far, if known. */
  cpu(): { user: number; sys: number } | null;
  close(): void;
}

interface TuntcpTarget extends Target {
  /** The LISTEN row of `tuntcp netstat`: Recv-Q (SYN_RECEIVED entries) and Send-Q (backlog). */
  listenRow(): Promise<{ recvQ: number; sendQ: number }>;
}

function cpuOf(pid: number): { user: number; sys: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 }; // clock ticks of 10 ms
}

/** `tuntcp listen 80 --http` in a child process, on TUN `sfN`, 10.58.N.2. */
async function startTuntcp(n: number): Promise<TuntcpTarget> {
  const addr = `10.58.${n}.2`;
  const child = spawnTied(process.execPath, [CLI, 'listen', '80', '--http', '--tun', `sf${n}`, '--addr', addr, '--peer', `10.58.${n}.1/24`], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^ready http/);
  const pid = child.pid!;
  const sock = listControlSockets().find((p) => basename(p) === `${pid}.sock`);
  if (sock === undefined) throw new Error('no control socket for the tuntcp child');
  return {
    name: 'tuntcp',
    addr,
    counters: async () => {
      const r = await queryControlSocket(sock, 'stats');
      if (r.kind !== 'ok') throw new Error(`stats: ${JSON.stringify(r)}`);
      return r.value.counters as Record<string, number>;
    },
    cpu: () => cpuOf(pid),
    close: () => child.kill('SIGINT'),
    listenRow: async () => {
      const r = await queryControlSocket(sock, 'sockets');
      if (r.kind !== 'ok') throw new Error(`sockets: ${JSON.stringify(r)}`);
      const row = (r.value.sockets as Array<{ state: string; recvQ: number; sendQ: number }>).find((x) => x.state === 'LISTEN');
      if (row === undefined) throw new Error('no LISTEN row');
      return { recvQ: row.recvQ, sendQ: row.sendQ };
    },
  };
}

/** A Linux listener (node:http, backlog 511) in a namespace behind the veth sfl{n}a/sfl{n}b, 10.59.n.2. */
async function startLinux(n: number): Promise<Target> {
  const ns = await HeldNetns.create();
  const [ours, theirs, addr] = [`sfl${n}a`, `sfl${n}b`, `10.59.${n}.2`];
  sh('ip', ['link', 'add', ours, 'type', 'veth', 'peer', 'name', theirs, 'netns', String(ns.pid)]);
  sh('ip', ['addr', 'add', `10.59.${n}.1/24`, 'dev', ours]);
  sh('ip', ['link', 'set', ours, 'up']);
  ns.run('ip', ['addr', 'add', `${addr}/24`, 'dev', theirs]);
  ns.run('ip', ['link', 'set', theirs, 'up']);
  // Its SYN,ACKs to the random sources come back to this namespace, which drops them
  // (without a route Linux would not even queue those SYNs: tcp_conn_request needs one).
  ns.run('ip', ['route', 'add', 'default', 'via', `10.59.${n}.1`]);
  // Reverse-path filtering would drop the spoofed SYNs before TCP sees them.
  ns.sysctl('net.ipv4.conf.all.rp_filter', '0');
  ns.sysctl(`net.ipv4.conf.${theirs}.rp_filter`, '0');
  const code =
    "require('http').createServer((q, s) => s.end('Hello from Linux\\n'))" +
    ".listen({ host: '" + addr + "', port: 80, backlog: 511 }, () => console.error('ready'));";
  const child = ns.spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^ready/);
  const cookies = ns.run('cat', ['/proc/sys/net/ipv4/tcp_syncookies']).trim();
  console.log(`synflood: Linux listener ready (tcp_syncookies=${cookies}, synack_retries=${ns.run('cat', ['/proc/sys/net/ipv4/tcp_synack_retries']).trim()})`);
  return {
    name: 'Linux',
    addr,
    counters: () => {
      const lines = ns.run('cat', ['/proc/net/netstat']).split('\n').filter((l) => l.startsWith('TcpExt:'));
      const names = lines[0]!.split(/\s+/);
      const values = lines[1]!.split(/\s+/);
      const out: Record<string, number> = {};
      for (const k of ['SyncookiesSent', 'SyncookiesRecv', 'SyncookiesFailed', 'ListenOverflows', 'ListenDrops', 'TCPReqQFullDoCookies']) out[k] = Number(values[names.indexOf(k)]);
      return Promise.resolve(out);
    },
    cpu: () => null, // softirq time, not a process's
    close: () => {
      child.kill('SIGKILL');
      ns.close();
    },
  };
}

// -------------------------------------------------------------------- flood

interface Flood {
  /** Stop hping3; how many SYNs it sent. */
  stop(): Promise<number>;
}

/** hping3 SYNs from random sources to `addr`:80; `rate`: hping3 arguments (--flood, -i u50000). */
function startFlood(addr: string, rate: string[]): Flood {
  const child = spawnTied('hping3', ['-q', '-S', '--rand-source', '-p', '80', ...rate, addr], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const cap = setTimeout(() => child.kill('SIGKILL'), 150_000); // bounded whatever happens
  return {
    stop: async () => {
      child.kill('SIGINT');
      await exited;
      clearTimeout(cap);
      return Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? NaN);
    },
  };
}

/** Fill the SYN queue at once: 600 spoofed SYNs at 5000/s (what 26 s of 20/s would do). */
async function prefill(addr: string): Promise<void> {
  const r = await runAsync('hping3', ['-q', '-S', '--rand-source', '-p', '80', '-i', 'u200', '-c', '600', addr], 30_000);
  assert.match(r.stdout + r.stderr, /600 packets transmitted/);
}

// ------------------------------------------------------------------ clients

interface Fetch {
  ok: boolean;
  ms: number;
  error?: string;
}

/** One real client: connect, GET /, read the page. */
function fetchPage(addr: string): Promise<Fetch> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, ms: performance.now() - t0, error });
    };
    const req = httpGet({ host: addr, port: 80, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => finish(res.statusCode === 200 && /Hello from/.test(body), `status ${res.statusCode}`));
      res.on('error', (e) => finish(false, e.message));
    });
    req.on('error', (e) => finish(false, e.message));
    const timer = setTimeout(() => {
      req.destroy();
      finish(false, 'timed out');
    }, CLIENT_LIMIT_MS);
  });
}

/** `CLIENTS` real clients, one every 200 ms, all in flight together. */
async function realClients(addr: string): Promise<Fetch[]> {
  const all: Array<Promise<Fetch>> = [];
  for (let i = 0; i < CLIENTS; i++) {
    all.push(fetchPage(addr));
    await sleep(200);
  }
  return Promise.all(all);
}

async function waitFor(what: string, ok: () => Promise<boolean>, limitMs = 15_000): Promise<void> {
  const end = performance.now() + limitMs;
  while (!(await ok())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Outcome {
  served: number;
  results: Fetch[];
  line: string;
  counters: Record<string, number>;
}

/**
 * Flood `t` at `rate` while the real clients fetch the page; the flood runs
 * from before the first client until after the last one is done.
 */
async function underFlood(t: Target, label: string, rate: string[], fill: boolean): Promise<Outcome> {
  sealNamespace();
  const fwd0 = forwarded();
  if (fill) await prefill(t.addr);
  const flood = startFlood(t.addr, rate);
  // The SYN queue is full once SYNs get cookies (or, without cookies, are dropped).
  const full = t.name === 'tuntcp' ? ['tcp_syncookies_sent', 'tcp_listen_overflow'] : ['SyncookiesSent', 'ListenDrops'];
  await waitFor(`${t.name}'s SYN queue to fill`, async () => {
    const c = await t.counters();
    return full.some((k) => (c[k] ?? 0) > 0);
  });
  const c0 = await t.counters();
  const cpu0 = t.cpu();
  const t0 = performance.now();
  const results = await realClients(t.addr);
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = t.cpu();
  const c1 = await t.counters();
  const sent = await flood.stop();
  assert.is(forwarded(), fwd0, 'nothing forwarded out of the namespace');
  const served = results.filter((r) => r.ok).length;
  const ms = results.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const delta = (k: string): number => (c1[k] ?? 0) - (c0[k] ?? 0);
  const perSec = (k: string): string => `${Math.round(delta(k) / secs)}/s`;
  let line = `synflood: ${t.name} ${label}: real clients served ${served}/${CLIENTS}`;
  if (ms.length > 0) line += `, time to page min/median/max ${(ms[0]! / 1000).toFixed(2)}/${(ms[ms.length >> 1]! / 1000).toFixed(2)}/${(ms[ms.length - 1]! / 1000).toFixed(2)} s`;
  line += `; hping3 sent ${sent} SYNs in all`;
  if (t.name === 'tuntcp') {
    line += `; during the clients (${secs.toFixed(1)} s) tuntcp took ${perSec('ip_in')} packets, sent ${perSec('tcp_syncookies_sent')} cookies, ${delta('tcp_syncookies_recv')} cookie ACKs valid`;
    if (cpu0 !== null && cpu1 !== null) line += `, CPU ${Math.round(((cpu1.user - cpu0.user) / secs) * 100)} % user + ${Math.round(((cpu1.sys - cpu0.sys) / secs) * 100)} % sys`;
  } else {
    line += `; during the clients (${secs.toFixed(1)} s) Linux ${Object.keys(c1).map((k) => `${k} +${delta(k)}`).join(' ')}`;
  }
  const failed = results.filter((r) => !r.ok).map((r) => r.error);
  if (failed.length > 0) line += `; failures: ${failed.join(', ')}`;
  console.log(line);
  return { served, results, line, counters: c1 };
}

// -------------------------------------------------------------------- tests

if (!HAVE_HPING) {
  test.skip('SYN flood (hping3 is not installed)', () => {});
} else {
  test('full-rate SYN flood from random sources (hping3 --flood): all real clients are served', async () => {
    const t = await startTuntcp(1);
    try {
      const o = await underFlood(t, 'full-rate flood', ['--flood'], false);
      assert.is(o.served, CLIENTS, o.line);
      assert.ok(o.counters.tcp_syncookies_recv! >= 1, 'served through cookies');
    } finally {
      t.close();
    }
  });

  test('20 SYN/s from random sources with the SYN queue full: all real clients are served at once', async () => {
    const t = await startTuntcp(2);
    try {
      const o = await underFlood(t, '20 SYN/s, queue full', ['-i', 'u50000'], true);
      assert.is(o.served, CLIENTS, o.line);
      // Each at once (a generous bound: nothing is lost at this rate; without cookies none gets in at all).
      for (const r of o.results) assert.ok(r.ms < 5000, `${r.ms.toFixed(0)} ms: ${o.line}`);
      // The queue stayed full all along; the cookies kept no state (netstat: Recv-Q/Send-Q).
      assert.equal(await t.listenRow(), { recvQ: 511, sendQ: 511 });
    } finally {
      t.close();
    }
  });

  if (COMPARE) {
    test('comparison: the same floods against Linux in the same lab (printed, not asserted)', async () => {
      for (const [n, label, rate, fill] of [[1, 'full-rate flood', ['--flood'], false], [2, '20 SYN/s, queue full', ['-i', 'u50000'], true]] as const) {
        const linux = await startLinux(n); // a fresh listener, so a fresh SYN queue
        try {
          await underFlood(linux, label, [...rate], fill);
        } finally {
          linux.close();
        }
      }
    });
  }
}

test.run();
