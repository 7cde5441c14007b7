// `tuntcp netstat` against real stacks: a `tuntcp listen --echo` child with an
// idle kernel client (LISTEN + ESTABLISHED rows), an in-process stack that
// closed first (TIME_WAIT with the time left), -s and --json, a bad request on
// the control socket, and the socket file removed at shutdown. Other stacks may
// run on the machine: only rows of our own PIDs are looked at.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertPrivateNamespace, waitForLine, run, sleep, stackArgs, CLI } from './lab.js';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import { controlDir } from '../../src/trace/control.js';
import type { StackSockets, StackStats } from '../../src/trace/netstat.js';

assertPrivateNamespace();
const children: ChildProcess[] = [];
let running: RunningStack | null = null;
test.after(() => {
  for (const c of children) c.kill('SIGKILL');
  running?.shutdown();
});

async function netstat(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [CLI, 'netstat', ...args]);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

const ours = (out: string, pid: number): string[] => out.split('\n').filter((l) => l.includes(` ${pid}/tuntcp`));

test('listen --echo child: LISTEN row for :7 and ESTABLISHED row for an idle kernel client', async () => {
  const child = spawn(process.execPath, [CLI, 'listen', '7', '--echo', '--tun', 'tn0', '--addr', '10.71.0.2', '--peer', '10.71.0.1/24'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  await waitForLine(child, /^ready/);
  const pid = child.pid!;
  const sockPath = join(controlDir(), `${pid}.sock`);
  assert.ok(existsSync(sockPath), sockPath);
  const client = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '10.71.0.2', port: 7 }, () => resolve(s));
    s.on('error', reject);
  });
  await sleep(100);
  const out = await netstat();
  assert.is(out.split('\n')[0], 'Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name');
  const rows = ours(out, pid);
  // Dual-stack by default: one listener for both families, shown as Linux shows a listener on :: (tcp6 :::7).
  assert.ok(rows.some((l) => /^tcp6\s+0\s+\d+ :::7\s+:::\*\s+LISTEN\s+/.test(l)), out);
  assert.ok(
    rows.some((l) => new RegExp(`^tcp\\s+0\\s+0 10\\.71\\.0\\.2:7\\s+10\\.71\\.0\\.1:${client.localPort}\\s+ESTABLISHED ${pid}/tuntcp$`).test(l)),
    out,
  );

  const stats = await netstat('-s');
  const block = stats.split('\n\n').find((b) => b.startsWith(`${pid}/tuntcp 10.71.0.2:`));
  assert.ok(block, stats);
  assert.match(block!, /\n {4}tcp_in: [1-9]\d*\n/);
  assert.match(block!, /\nrst:\n {4}tcp_rst_received: 0\n/);

  const json = JSON.parse(await netstat('--json')) as { stacks: StackSockets[] };
  const mine = json.stacks.find((s) => s.pid === pid);
  assert.ok(mine);
  assert.ok(mine!.sockets.some((r) => r.state === 'ESTABLISHED' && r.remotePort === client.localPort));

  client.destroy();
  child.kill('SIGINT');
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  assert.is(code, 0);
  assert.not.ok(existsSync(sockPath), 'control socket removed at shutdown');
});

test('in-process stack that closed first: TIME_WAIT row with the time left; -s --json; bad requests', async () => {
  const ks = createServer((s) => {
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((res) => ks.listen(9000, '0.0.0.0', res)); // a private namespace: nobody else is here
  running = startStack(stackArgs({ tun: 'tn1', addr: '10.72.0.2', peer: '10.72.0.1/24', msl: 5 }));
  const r = running;
  const sock = r.stack.connect(9000, '10.72.0.1');
  sock.resume();
  await new Promise<void>((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  const localPort = sock.localPort;
  sock.end();
  for (let i = 0; i < 100 && ![...r.stack.connections()].some((e) => e.conn.state === 'TIME_WAIT'); i++) await sleep(20);

  const out = await netstat();
  const rows = ours(out, process.pid);
  const tw = rows.find((l) => l.includes(`10.72.0.2:${localPort} `));
  assert.ok(tw, out);
  const m = /^tcp\s+0\s+0 10\.72\.0\.2:\d+\s+10\.72\.0\.1:9000\s+TIME_WAIT\s+\d+\/tuntcp \(timewait (\d+\.\d)s\)$/.exec(tw!);
  assert.ok(m, tw);
  const left = Number(m![1]);
  assert.ok(left > 5 && left <= 10, `time left ${left}s of 2*MSL = 10s`);

  const stats = JSON.parse(await netstat('-s', '--json')) as { stacks: StackStats[] };
  const mine = stats.stacks.find((s) => s.pid === process.pid && s.addr === '10.72.0.2');
  assert.ok(mine, JSON.stringify(stats));
  assert.ok((mine!.counters.tcp_in ?? 0) > 0);
  assert.ok((mine!.counters.tcp_active_opens ?? 0) === 1);

  // bad requests get an error line and the stack carries on
  const path = join(controlDir(), `${process.pid}.sock`);
  for (const req of ['garbage\n', '{"cmd":42}\n', 'x'.repeat(10_000)]) {
    const reply = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const c = connect(path, () => c.write(req));
      c.setEncoding('utf8');
      c.on('data', (d: string) => (buf += d));
      c.on('end', () => resolve(buf));
      c.on('error', reject);
    });
    assert.is((JSON.parse(reply) as { ok: boolean }).ok, false, reply);
  }
  const again = ours(await netstat(), process.pid);
  assert.ok(again.some((l) => l.includes('TIME_WAIT')), 'still answering');

  r.shutdown();
  running = null;
  ks.close();
  assert.not.ok(existsSync(path), 'control socket removed at shutdown');
});

test('a stale socket file (its process was killed) is skipped and removed', async () => {
  const dir = controlDir();
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(require('path').join(${JSON.stringify(dir)}, process.pid + '.sock'), () => console.error('up'))`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  await waitForLine(child, /^up/);
  const path = join(dir, `${child.pid}.sock`);
  child.kill('SIGKILL');
  await new Promise((res) => child.on('exit', res));
  assert.ok(existsSync(path), 'SIGKILL leaves the file behind');
  const out = await netstat();
  assert.is(ours(out, child.pid!).length, 0);
  assert.not.ok(existsSync(path), 'netstat removed the stale file');
});

test.run();
