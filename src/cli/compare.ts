/**
 * `tuntcp compare <scenario>`: the same conversation twice against the same
 * kernel server (node:net in this process), once with the Linux kernel's own
 * TCP as the client, once with tuntcp as the client, both captured by a real
 * tcpdump on the server side's interface, printed side by side with notes on
 * what differs (src/trace/compare.ts).
 *
 *   client netns (held open)          this process's netns (the lab)
 *   python3 client 10.79.1.2 --veth-- 10.79.1.1 (tcmpk, tcpdump (a))
 *                                     node:net server on 0.0.0.0:8080
 *                                     10.79.0.1 --TUN tcmp0, tcpdump (b)-- tuntcp 10.79.0.2
 *
 * The command re-executes itself under `unshare --net`; the client namespace
 * is anonymous, held by a `sleep` that gets SIGKILL when we die, and entered
 * with nsenter. Nothing reaches a namespace we did not create.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket as KernelSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { TunLink } from '../link/tun.js';
import { holdNetns } from './netns.js';
import { configureTun } from '../link/netdev.js';
import { RealClock } from '../stack/clock.js';
import { NetStack } from '../socket/net-stack.js';
import { hostTcpRmem } from './start-stack.js';
import type { Socket } from '../socket/socket.js';
import { readPcap, recordToIPv4 } from '../trace/pcap.js';
import { TcpdumpFormatter } from '../trace/tcpdump.js';
import type { Conversation } from '../trace/conversation.js';
import type { Lang } from '../trace/explain.js';
import { compareTraces, formatSideBySide, type Comparison, type TraceLine } from '../trace/compare.js';
import { die } from './errors.js';
import { htmlOption, ladderOption, pollSs, type SsLine } from './pictures.js';
import { conversationsOfPcap } from './report.js';
import { htmlReport } from '../trace/html-report.js';
import { ladders, utf8Locale } from '../trace/ladder.js';

const NETNS_ENV = 'TUNTCP_COMPARE_NETNS';
export const SCENARIOS = ['handshake', 'refused', 'http', 'halfclose', 'loss'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const TUN = 'tcmp0';
const SERVER_TUN = '10.79.0.1';
const TUNTCP_ADDR = '10.79.0.2';
const VETH_LAB = 'tcmpk';
const VETH_CLIENT = 'tcmpc';
const SERVER_VETH = '10.79.1.1';
const KERNEL_ADDR = '10.79.1.2';
const PORT = 8080;
const CLOSED_PORT = 8081;

export interface CompareResult extends Comparison {
  scenario: Scenario;
  /** The kernel server's port (CLOSED_PORT for `refused`). */
  port: number;
  kernelClient: string;
  tuntcpClient: string;
}

export interface CompareOptions {
  /** Timing differences below this are not noted (ms). Default 5. */
  timingMs?: number;
  /** Gets the two captures (kernel client run, tuntcp client run) before they are deleted, and what `ss`
   * showed of the kernel's sockets meanwhile (--ladder, --html); `ss` is read only when this is set. */
  onPcaps?: (kernel: Buffer, tuntcp: Buffer, ss: SsSample[]) => void;
}

/** One `ss` reading taken between t0 and t1 (wall clock ms, as the captures' timestamps). */
export interface SsSample {
  line: SsLine;
  t0: number;
  t1: number;
}

/** Readings kept at most: a run lasts seconds; this bounds a stuck one. */
const MAX_SS_SAMPLES = 100_000;

interface CompareArgs {
  scenario: string;
  json: boolean;
  ladder: boolean;
  html?: string;
  lang: Lang;
}

export function isScenario(s: string): s is Scenario {
  return (SCENARIOS as readonly string[]).includes(s);
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <scenario>',
  describe: `run a scenario with the Linux kernel as the client, then with tuntcp, and compare the two tcpdump traces (${SCENARIOS.join(', ')}; needs root; no internet)`,
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', demandOption: true, describe: SCENARIOS.join(' | ') })
      .option('json', { type: 'boolean', default: false, describe: 'print the structured comparison as JSON' })
      .option('lang', { choices: ['en', 'zh'] as const, default: 'en' as const, describe: 'language of the --html page\'s headings and state explanations' })
      .options({ ...ladderOption, ...htmlOption }) as never,
  handler: async (a) => {
    if (!isScenario(a.scenario)) die('compare', new Error(`unknown scenario '${a.scenario}' (known: ${SCENARIOS.join(', ')})`));
    if (process.env[NETNS_ENV] === undefined) {
      const res = spawnSync('unshare', ['--net', process.execPath, fileURLToPath(new URL('./main.js', import.meta.url)), ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, [NETNS_ENV]: '1' },
      });
      if (res.error) die('compare', res.error);
      process.exit(res.status ?? (res.signal === 'SIGINT' ? 130 : 1));
    }
    try {
      let pcaps: [Buffer, Buffer, SsSample[]] | null = null;
      const r = await runCompare(a.scenario, { onPcaps: a.ladder || a.html !== undefined ? (k, t, ss) => (pcaps = [k, t, ss]) : undefined });
      process.stdout.write(a.json ? JSON.stringify(r, null, 2) + '\n' : formatResult(r).join('\n') + '\n');
      if (pcaps !== null) comparePictures(r, pcaps, a);
      process.exit(0);
    } catch (err) {
      die('compare', err);
    }
  },
};

/** The human-readable report. */
export function formatResult(r: CompareResult): string[] {
  return [
    `tuntcp compare ${r.scenario}: kernel server on port ${r.port}; kernel client ${r.kernelClient} (captured on ${VETH_LAB}), tuntcp client ${r.tuntcpClient} (captured on ${TUN})`,
    `> client to server, < server to client; relative sequence numbers; TS values elided (see --json)`,
    '',
    ...formatSideBySide(r.pairs),
    '',
    'summary:',
    ...r.summary.map((l) => `  ${l}`),
  ];
}

/**
 * --ladder: both runs' ladders after the text; --html: one page with the two
 * ladders side by side, the segments the text notes marked, and each run's
 * graphs. States are inferred from the captures, and marked read where `ss`
 * saw the kernel's socket in them.
 */
function comparePictures(r: CompareResult, [kernel, tuntcp, ss]: [Buffer, Buffer, SsSample[]], a: CompareArgs): void {
  const k = conversationsWithSs(kernel, 'kernel run', ['kernel client', 'server'], ss);
  const t = conversationsWithSs(tuntcp, 'tuntcp run', ['tuntcp client', 'server'], ss);
  if (a.ladder) {
    const o = { unicode: utf8Locale() };
    process.stdout.write(['', 'kernel client run:', ...ladders(k, o), '', 'tuntcp client run:', ...ladders(t, o), ''].join('\n'));
  }
  if (a.html === undefined) return;
  const notes = (side: 'kernel' | 'tuntcp'): Map<number, string> => {
    const m = new Map<number, string>();
    const list = r[side];
    for (const p of r.pairs) {
      const s = p[side];
      if (s !== null && p.notes.length > 0) m.set(list.indexOf(s), p.notes.join('; '));
    }
    return m;
  };
  // Notes index the capture's TCP segments: they match the drawing when the capture holds one conversation.
  const one = k.length === 1 && t.length === 1;
  const html = htmlReport({
    title: `tuntcp compare ${r.scenario}`,
    lang: a.lang,
    intro: [
      `The same conversation with the Linux kernel as the client (${r.kernelClient}) and with tuntcp (${r.tuntcpClient}), against a kernel server on port ${r.port}; both captured by tcpdump on the server's side.`,
      'Kernel states in bold were seen with ss in the kernel\'s namespaces during the runs; those marked "(inferred)" were deduced from the captures.',
    ],
    conversations: [...k, ...t],
    compare: { leftTitle: 'kernel client', rightTitle: 'tuntcp client', left: k, right: t, leftNotes: one ? notes('kernel') : new Map(), rightNotes: one ? notes('tuntcp') : new Map(), summary: r.summary },
    diagramSides: 'both',
  });
  writeFileSync(a.html, html);
  process.stdout.write(`wrote ${a.html}\n`);
}

/** A capture's conversations with the `ss` readings of their sockets (a reading names its socket, so each run takes its own). */
export function conversationsWithSs(pcap: Buffer, name: string, names: [string, string], ss: readonly SsSample[]): Conversation[] {
  const set = conversationsOfPcap(pcap, name, names);
  for (const { line: [state, la, lp, ra, rp], t0, t1 } of ss) set.ssReading(la, lp, ra, rp, state, t0, t1);
  return set.conversations();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr ?? '').trim() || r.error?.message || `exit ${r.status}`}`);
}

function until(pred: () => boolean, what: string, ms = 8000): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const poll = (): void => {
      if (pred()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** A real tcpdump writing `file`; resolves once it listens. */
async function startTcpdump(dev: string, file: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('tcpdump', ['-i', dev, '-nn', '--immediate-mode', '-U', '-Z', 'root', '-w', file, 'ip and tcp'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err.trim()}`)), 5000);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(new Error(`tcpdump: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`tcpdump exited with ${code}: ${err.trim()}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGINT');
      }),
  };
}

function readTrace(file: string): TraceLine[] {
  const fmt = new TcpdumpFormatter();
  const out: TraceLine[] = [];
  for (const rec of readPcap(readFileSync(file))) {
    const p = recordToIPv4(rec);
    if (p !== null) out.push({ timeUs: rec.timeUs, line: fmt.format(p) });
  }
  return out;
}

const PY_CLIENT = `
import socket, sys
h, p, sc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    s = socket.create_connection((h, p), timeout=5)
except ConnectionRefusedError:
    print('refused'); sys.exit(0)
if sc == 'http':
    s.sendall(b'GET / HTTP/1.0\\r\\nHost: ' + h.encode() + b'\\r\\n\\r\\n')
    while s.recv(4096): pass
elif sc == 'halfclose':
    s.sendall(b'hello\\n'); s.shutdown(socket.SHUT_WR)
    while s.recv(4096): pass
elif sc == 'loss':
    s.sendall(b'x' * 300); s.shutdown(socket.SHUT_WR)
    while s.recv(4096): pass
s.close()
print('ok')
`;

const HTTP_BODY = 'hello from the kernel server\n';

/**
 * The `loss` scenario: the server's kernel drops the first data segment that
 * arrives on `dev` (nftables, input hook, a quota that is spent by that one
 * 352-byte packet but not a second), so both clients must retransmit it. tcpdump on `dev` still sees
 * the lost copy, since it captures before netfilter.
 */
function dropFirstData(dev: string, cleanups: Array<() => void>): void {
  spawnSync('nft', ['delete', 'table', 'inet', 'tuntcp_compare']);
  const rules = `table inet tuntcp_compare {
  chain input {
    type filter hook input priority 0;
    iifname "${dev}" tcp dport ${PORT} ip length > 200 quota until 400 bytes drop
  }
}
`;
  const r = spawnSync('nft', ['-f', '-'], { input: rules, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft: ${(r.stderr ?? '').trim()}`);
  cleanups.push(() => spawnSync('nft', ['delete', 'table', 'inet', 'tuntcp_compare']));
}

/** The kernel server's side of each scenario. */
function serve(scenario: Scenario, s: KernelSocket): void {
  s.on('error', () => {});
  if (scenario === 'http') {
    let req = '';
    s.on('data', (d: Buffer) => {
      req += d.toString();
      if (req.includes('\r\n\r\n')) s.end(`HTTP/1.0 200 OK\r\nContent-Length: ${HTTP_BODY.length}\r\n\r\n${HTTP_BODY}`);
    });
  } else if (scenario === 'halfclose') {
    s.resume();
    s.on('end', () => s.end('bye\n'));
  } else {
    s.resume();
    s.on('end', () => s.end());
  }
}

async function tuntcpClient(stack: NetStack, scenario: Scenario, port: number): Promise<void> {
  const c: Socket = stack.connect({ port, host: SERVER_TUN, allowHalfOpen: true });
  let failed = false;
  let ended = false;
  c.on('error', () => (failed = true));
  c.on('data', () => {});
  c.on('end', () => {
    ended = true;
    if (scenario === 'http') c.end();
  });
  if (scenario === 'refused') {
    await until(() => failed || c.tcpState === 'CLOSED', 'the refused connection');
    return;
  }
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  if (scenario === 'http') c.write(`GET / HTTP/1.0\r\nHost: ${SERVER_TUN}\r\n\r\n`);
  else if (scenario === 'halfclose') {
    c.write('hello\n');
    c.end();
  } else if (scenario === 'loss') {
    c.end(Buffer.alloc(300, 0x78));
  } else c.end();
  await until(() => (scenario === 'handshake' || ended) && (c.tcpState === 'TIME_WAIT' || c.tcpState === 'CLOSED'), 'the tuntcp client to close');
}

/**
 * Run `scenario` with the kernel as the client, then with tuntcp, in the
 * current network namespace (which must be private: the caller's job).
 */
export async function runCompare(scenario: Scenario, opts: CompareOptions = {}): Promise<CompareResult> {
  if (!isScenario(scenario)) throw new Error(`unknown scenario '${String(scenario)}' (known: ${SCENARIOS.join(', ')})`);
  const port = scenario === 'refused' ? CLOSED_PORT : PORT;
  const dir = mkdtempSync(join(tmpdir(), 'tuntcp-compare-'));
  const cleanups: Array<() => void> = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    sh('ip', ['link', 'set', 'lo', 'up']);
    for (const f of ['all', 'default']) {
      try {
        writeFileSync(`/proc/sys/net/ipv6/conf/${f}/disable_ipv6`, '1');
      } catch {
        // no IPv6 here
      }
    }
    const server: Server = createServer({ allowHalfOpen: true }, (s) => serve(scenario, s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(PORT, '0.0.0.0', () => resolve());
    });
    cleanups.push(() => server.close());

    // (a) the kernel as the client, from its own namespace over a veth pair.
    const ns = await holdNetns();
    cleanups.push(() => ns.close());
    const inNs = (cmd: string, args: string[]): void => sh('nsenter', ['-t', String(ns.pid), '-n', cmd, ...args]);
    inNs('ip', ['link', 'set', 'lo', 'up']);
    sh('ip', ['link', 'add', VETH_LAB, 'type', 'veth', 'peer', 'name', VETH_CLIENT, 'netns', String(ns.pid)]);
    cleanups.push(() => spawnSync('ip', ['link', 'del', VETH_LAB]));
    sh('ip', ['addr', 'add', `${SERVER_VETH}/24`, 'dev', VETH_LAB]);
    sh('ip', ['link', 'set', 'dev', VETH_LAB, 'up']);
    inNs('ip', ['addr', 'add', `${KERNEL_ADDR}/24`, 'dev', VETH_CLIENT]);
    inNs('ip', ['link', 'set', 'dev', VETH_CLIENT, 'up']);
    const fileA = join(dir, 'kernel.pcap');
    if (scenario === 'loss') dropFirstData(VETH_LAB, cleanups);
    // The kernel's states for the pictures: the server's sockets live here, the kernel client's in its namespace.
    const ss: SsSample[] = [];
    const keep = (line: SsLine, t0: number, t1: number): void => void (ss.length < MAX_SS_SAMPLES && ss.push({ line, t0, t1 }));
    const readSs = (nsPid?: number): (() => void) => {
      const stop = opts.onPcaps === undefined ? (): void => {} : pollSs(keep, Date.now, nsPid);
      cleanups.push(stop);
      return stop;
    };
    readSs();
    const stopClientSs = readSs(ns.pid);
    const dumpA = await startTcpdump(VETH_LAB, fileA);
    const py = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'nsenter', '-t', String(ns.pid), '-n', 'python3', '-c', PY_CLIENT, SERVER_VETH, String(port), scenario], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('close', (code) => {
        clearTimeout(t);
        resolve({ code, out });
      });
    });
    if (py.code !== 0) throw new Error(`kernel client failed: ${py.out.trim()}`);
    await sleep(300); // the last ACK
    await dumpA.stop();
    stopClientSs();

    // (b) tuntcp as the client, through a TUN device.
    const tun = TunLink.open({ name: TUN, mtu: 1500 });
    configureTun({ name: TUN, peer: `${SERVER_TUN}/24`, addr: TUNTCP_ADDR, mtu: 1500 });
    const tcpRmem = hostTcpRmem(); // the kernel client's buffer settings: the same SYN window and scale
    const stack = new NetStack({ link: tun, addr: TUNTCP_ADDR, clock: new RealClock(), tcp: { msl: 1000, ...(tcpRmem ? { tcpRmem } : {}) } });
    cleanups.push(() => void stack.close({ linger: 0 }));
    const fileB = join(dir, 'tuntcp.pcap');
    if (scenario === 'loss') dropFirstData(TUN, cleanups);
    const dumpB = await startTcpdump(TUN, fileB);
    try {
      await tuntcpClient(stack, scenario, port);
      await sleep(300);
    } finally {
      await dumpB.stop();
    }

    const cmp = compareTraces(readTrace(fileA), KERNEL_ADDR, readTrace(fileB), TUNTCP_ADDR, { timingMs: opts.timingMs });
    opts.onPcaps?.(readFileSync(fileA), readFileSync(fileB), ss);
    return { scenario, port, kernelClient: KERNEL_ADDR, tuntcpClient: TUNTCP_ADDR, ...cmp };
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        // best effort
      }
    }
  }
}
