/**
 * `tuntcp demo` (what `npm start` runs): a private lab in which tuntcp and
 * the Linux kernel open and close TCP connections while every segment is
 * printed in tcpdump's format and every state change of tuntcp is explained.
 *
 *  1. tuntcp connects to the kernel's HTTP server (node:http on the kernel
 *     side), sends GET /, prints the response, and closes first:
 *     FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT -> CLOSED.
 *  2. The kernel connects to a tuntcp server and closes first:
 *     tuntcp goes CLOSE_WAIT -> LAST_ACK -> CLOSED.
 *  3. One data segment is dropped on purpose; tuntcp retransmits it.
 *
 * The process re-executes itself under `unshare --net`, so the namespace, the
 * TUN device and the servers exist only as long as it runs, Ctrl-C included.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect as kernelConnect, createServer as kernelServer, type Server as KernelServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import type { Link } from '../link/link.js';
import { TunLink } from '../link/tun.js';
import { configureTun } from '../link/netdev.js';
import { TapLink } from '../link/tap.js';
import { joinPacket } from '../link/link.js';
import { RealClock } from '../stack/clock.js';
import { NetStack } from '../socket/net-stack.js';
import type { Socket } from '../socket/socket.js';
import { TcpdumpFormatter } from '../trace/tcpdump.js';
import { explainTransition, describeState, TEXT, type Lang } from '../trace/explain.js';
import { openControlSocket, socketRows } from '../trace/control.js';
import { formatTable } from '../trace/netstat.js';
import { decodeIPv4, IPPROTO_TCP } from '../wire/ipv4.js';
import { decodeTcp } from '../wire/tcp.js';
import { seqAdd, seqGt, seqLe } from '../wire/seq.js';
import { die } from './errors.js';
import { finishPictures, htmlOption, ladderOption, startPictures } from './pictures.js';

const NETNS_ENV = 'TUNTCP_DEMO_NETNS';
const DEV = 'tdemo0';
const PEER = '10.77.0.1';
const ADDR = '10.77.0.2';

interface DemoArgs {
  lang: Lang;
  msl: number;
  ladder: boolean;
  html?: string;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: "watch TCP connections between tuntcp and the Linux kernel, from SYN to TIME_WAIT (needs root; no internet)",
  builder: (y) =>
    y
      .option('lang', { choices: ['en', 'zh'] as const, default: 'en' as const, describe: 'language of explanations and headings' })
      .option('msl', { type: 'number', default: 2, describe: 'maximum segment lifetime in seconds (TIME_WAIT lasts 2*MSL)' })
      .options({ ...ladderOption, ...htmlOption }) as never,
  handler: async (a) => {
    if (process.env[NETNS_ENV] === undefined) {
      // Run the whole lab in a private network namespace that dies with us.
      const res = spawnSync('unshare', ['--net', process.execPath, fileURLToPath(new URL('./main.js', import.meta.url)), ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, [NETNS_ENV]: '1' },
      });
      if (res.error) die('demo', res.error);
      process.exit(res.status ?? (res.signal === 'SIGINT' ? 130 : 1));
    }
    try {
      await runDemo(a);
      process.exit(0);
    } catch (err) {
      die('demo', err);
    }
  },
};

/** Drops the first outgoing TCP segment that carries data once armed: the demo's lost packet. */
class DropOnce implements Link {
  onReceive: ((packets: Buffer[]) => void) | null = null;
  armed = false;
  onDrop: ((packet: Buffer) => void) | null = null;

  constructor(private readonly inner: Link) {
    inner.onReceive = (ps) => this.onReceive?.(ps);
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  send(header: Buffer, payload?: Buffer): void {
    if (this.armed && payload !== undefined && payload.length > 0) {
      this.armed = false;
      this.onDrop?.(joinPacket(header, payload));
      return;
    }
    this.inner.send(header, payload);
  }

  close(): void {
    this.inner.close();
  }

  ref(): void {
    this.inner.ref?.();
  }

  unref(): void {
    this.inner.unref?.();
  }
}

async function runDemo(a: DemoArgs): Promise<void> {
  const t = TEXT[a.lang];
  const say = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  spawnSync('ip', ['link', 'set', 'lo', 'up']);
  // IPv4 only: without this the kernel's IPv6 router solicitations clutter the trace.
  for (const f of ['all', 'default']) {
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${f}/disable_ipv6`, '1');
    } catch {
      // no IPv6 in this kernel: nothing to silence
    }
  }
  const tun = TunLink.open({ name: DEV, mtu: 1500 });
  configureTun({ name: DEV, peer: `${PEER}/24`, addr: ADDR, mtu: 1500 });
  const drop = new DropOnce(tun);
  const tap = new TapLink(drop);
  const stack = new NetStack({ link: tap, addr: ADDR, clock: new RealClock(), tcp: { msl: a.msl * 1000 } });
  // --ladder / --html: the kernel's side is in this namespace, so ss can read its states.
  const pictures = startPictures(stack, tap, a, { ss: true });
  const servers: Array<{ close(): void }> = [openControlSocket(stack, { program: 'tuntcp-demo' })];
  const shutdown = (): void => {
    for (const s of servers) s.close();
    void stack.close({ linger: 0 });
  };
  process.once('SIGINT', () => {
    shutdown();
    process.exit(130);
  });

  const t0 = performance.now();
  const stamp = (): string => `+${((performance.now() - t0) / 1000).toFixed(3)}s`;
  const fmt = new TcpdumpFormatter();
  // Retransmissions are recognised by sequence numbers below what was already sent.
  const highest = new Map<string, number>();
  tap.observe((dir, header, payload) => {
    const packet = joinPacket(header, payload);
    const line = fmt.format(packet);
    say(`${stamp()} ${dir === 'in' ? '<' : '>'} ${line}`);
    if (dir !== 'out') return;
    const ip = decodeIPv4(packet);
    if (typeof ip === 'string' || ip.protocol !== IPPROTO_TCP) return;
    const seg = decodeTcp(ip, false);
    if (typeof seg === 'string' || seg.payload.length === 0) return;
    const key = `${seg.srcPort}>${ip.dst}:${seg.dstPort}`;
    const end = seqAdd(seg.seq, seg.payload.length);
    const top = highest.get(key);
    if (top !== undefined && seqLe(end, top)) {
      const rel = /seq (\d+:\d+)/.exec(line)?.[1] ?? `${seg.seq}:${end}`;
      say(`${stamp()} ${t.rtx.replace('%SEG%', `seq ${rel}`)}`);
    }
    if (top === undefined || seqGt(end, top)) highest.set(key, end);
  });
  drop.onDrop = (packet) => {
    pictures?.rec.droppedLast();
    say(`${stamp()} ${t.drop.replace('%SEG%', fmt.format(packet))}`);
  };
  stack.observeState((ep, from, to, cause) => say(`${stamp()} * ${explainTransition(`tuntcp :${ep.localPort}`, from, to, cause, a.lang)}`));

  const table = (when: string): void => {
    say('');
    say(`    ${t.table.replace('%WHEN%', when)}`);
    const rows = socketRows(stack);
    for (const line of formatTable([{ pid: process.pid, program: 'tuntcp', addr: ADDR, sockets: rows }])) say(`    ${line}`);
    for (const state of new Set([...stack.connections()].map((ep) => ep.conn.state))) say(`      ${state}: ${describeState(state, a.lang)}`);
    say('');
  };
  const kernelView = (): void => {
    const ss = spawnSync('ss', ['-tanH'], { encoding: 'utf8' });
    say(`    ${t.kernelSays}`);
    for (const line of (ss.stdout ?? '').trim().split('\n').filter(Boolean)) say(`    ${line.trim()}`);
    say('');
  };
  const until = (pred: () => boolean, ms = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const end = Date.now() + ms;
      const poll = (): void => {
        if (pred()) resolve();
        else if (Date.now() > end) reject(new Error('demo step timed out'));
        else setTimeout(poll, 10);
      };
      poll();
    });
  const listen = (srv: KernelServer | ReturnType<typeof createHttpServer>, port: number, host: string): Promise<void> =>
    new Promise((resolve) => srv.listen(port, host, () => resolve()));

  say(t.title);
  say(t.lab.replace('%PEER%', PEER).replace('%ADDR%', ADDR));
  say(t.msl.replace('%MSL%', String(a.msl)).replace('%TW%', String(2 * a.msl)));
  say(t.legend);
  say('');

  // 1. tuntcp -> kernel HTTP server; tuntcp closes first.
  const body = '<html><body>Hello from the Linux kernel side</body></html>\n';
  const http = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  servers.push(http);
  await listen(http, 80, PEER);
  say(t.step1);
  const c1 = stack.connect({ port: 80, host: PEER, allowHalfOpen: true });
  await new Promise((resolve) => c1.once('connect', resolve));
  table(t.afterConnect);
  let response = '';
  c1.setEncoding('utf8');
  c1.on('data', (d: string) => (response += d));
  c1.write(`GET / HTTP/1.1\r\nHost: ${PEER}\r\nUser-Agent: tuntcp-demo\r\n\r\n`);
  await until(() => response.includes('\r\n\r\n') && response.endsWith(body));
  say('');
  say(`    ${t.response}`);
  for (const line of response.split('\r\n')) say(`    | ${line.replace(/\n$/, '')}`);
  table(t.afterResponse);
  c1.end();
  await until(() => c1.tcpState === 'TIME_WAIT');
  table(t.afterClose);
  kernelView();
  await until(() => c1.tcpState === 'CLOSED', a.msl * 2000 + 5000);
  say('');

  // 2. kernel -> tuntcp server; the kernel closes first.
  say(t.step2);
  const server = stack.createServer((s: Socket) => {
    s.setEncoding('utf8');
    s.on('data', (d: string) => s.write(`hello, ${d}`));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(7, resolve));
  let tuntcpSide: Socket | null = null;
  server.on('connection', (s: Socket) => (tuntcpSide = s));
  await new Promise<void>((resolve, reject) => {
    const k = kernelConnect({ host: ADDR, port: 7 });
    k.setEncoding('utf8');
    k.on('error', reject);
    k.on('data', () => k.end()); // the kernel closes first
    k.on('close', () => resolve());
    k.on('connect', () => k.write('kernel\n'));
  });
  await until(() => tuntcpSide !== null && (tuntcpSide as Socket).tcpState === 'CLOSED');
  kernelView();

  // 3. a lost segment and its retransmission.
  say(t.step3);
  const echo = kernelServer((s) => s.pipe(s));
  servers.push(echo);
  await listen(echo, 7007, PEER);
  const c3 = stack.connect({ port: 7007, host: PEER });
  await new Promise((resolve) => c3.once('connect', resolve));
  drop.armed = true;
  let echoed = '';
  c3.setEncoding('utf8');
  c3.on('data', (d: string) => (echoed += d));
  c3.write('this segment is lost once\n');
  await until(() => echoed === 'this segment is lost once\n');
  c3.end();
  await until(() => c3.tcpState === 'TIME_WAIT' || c3.tcpState === 'CLOSED');
  const counters = stack.counters.snapshot();
  say('');
  say(`    tcp_retransmitted_segments=${counters['tcp_retransmitted_segments'] ?? 0} tcp_tlp_probes=${counters['tcp_tlp_probes'] ?? 0} tcp_rto_expired=${counters['tcp_rto_expired'] ?? 0}`);
  say('');
  finishPictures(pictures, { title: t.title, intro: [t.lab.replace('%PEER%', PEER).replace('%ADDR%', ADDR), t.msl.replace('%MSL%', String(a.msl)).replace('%TW%', String(2 * a.msl))] });
  say(t.done);
  if (pictures === null) say(t.pictures);
  shutdown();
}
