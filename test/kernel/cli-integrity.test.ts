// The CLI never drops data and leaves no half-open peer (issue 10 §2), with
// the kernel as the peer: `connect | consumer` delivers every byte, EPIPE on
// stdout ends the connection, SIGINT/SIGTERM/SIGHUP close connections like
// process exit, netstat stays in its namespace, `listen` does not print a
// line per reset peer, an --addr routed elsewhere gets a warning, and a
// process whose only socket is unref'd exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket as NetSocket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertPrivateNamespace, ownedByTest, waitForLine, linkExists, run, sleep, CLI, stackFlags, exitOf } from './lab.js';

assertPrivateNamespace();
const { children, servers, accepted } = ownedByTest(test.after);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A kernel server that sends `data` to each client and then closes. */
async function sender(port: number, data: Buffer): Promise<{ closed: () => number }> {
  let closed = 0;
  const srv = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.on('close', () => closed++);
    s.end(data);
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
  return { closed: () => closed };
}

async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(20);
  }
  return pred();
}

test('tuntcp connect | a slow consumer: every byte arrives, every run (exit waits for stdout)', async () => {
  const data = randomBytes(4 << 20);
  await sender(9100, data);
  for (let i = 0; i < 4; i++) {
    // The consumer starts reading late, so the pipe is full when the connection ends.
    const sh = spawn('sh', ['-c', `node ${CLI} connect 10.71.0.1 9100 --json ${stackFlags(71, 'ci0').join(' ')} < /dev/null | (sleep 1; sha256sum)`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(sh);
    let out = '';
    let err = '';
    sh.stdout!.on('data', (d) => (out += d));
    sh.stderr!.on('data', (d) => (err += d));
    const code = await exitOf(sh);
    assert.is(code, 0, err);
    assert.is(out.split(' ')[0], sha(data), `run ${i}: output changed or cut; stderr: ${err}`);
    const summary = JSON.parse(err.trim().split('\n').pop()!) as { bytesRead: number; exitCode: number };
    assert.is(summary.bytesRead, data.length);
  }
});

test('tuntcp connect | head: EPIPE on stdout is one line, and the peer is not left half-open', async () => {
  const data = randomBytes(8 << 20);
  const k = await sender(9101, data);
  const sh = spawn('sh', ['-c', `node ${CLI} connect 10.72.0.1 9101 ${stackFlags(72, 'ci1').join(' ')} < /dev/null 2>/tmp/tuntcp-epipe.err | head -c 1000 > /dev/null; cat /tmp/tuntcp-epipe.err`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(sh);
  let out = '';
  sh.stdout!.on('data', (d) => (out += d));
  assert.is(await exitOf(sh), 0);
  const lines = out.trim().split('\n').filter((l) => !l.startsWith('connected'));
  assert.is(lines.length, 1, out);
  assert.match(lines[0]!, /^tuntcp: connect: stdout EPIPE/);
  const ok = await until(() => k.closed() === 1, 5000);
  assert.ok(ok, `the kernel server still has the connection open (${k.closed()}): ${spawnSync('ss', ['-tan']).stdout}`);
  assert.not.ok(linkExists('ci1'), 'device removed');
});

/** A kernel server that keeps each connection open and records how it ended
 * (half-open: it never closes its side on its own). */
async function holder(port: number, allowHalfOpen = false): Promise<{ ends: string[]; socks: NetSocket[] }> {
  const ends: string[] = [];
  const socks: NetSocket[] = [];
  const srv = createServer({ allowHalfOpen }, (s) => {
    socks.push(s);
    accepted.push(s);
    s.resume();
    s.on('end', () => ends.push('FIN'));
    s.on('error', (e: Error & { code?: string }) => ends.push(e.code ?? 'error'));
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
  return { ends, socks };
}

for (const [sig, code] of [['SIGHUP', 129], ['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`tuntcp connect on ${sig}: the peer gets FIN, exit ${code}, device removed`, async () => {
    const net = 73 + ['SIGHUP', 'SIGTERM', 'SIGINT'].indexOf(sig);
    const port = 9102 + net;
    const k = await holder(port);
    const child = spawn(process.execPath, [CLI, 'connect', `10.${net}.0.1`, String(port), ...stackFlags(net, `cs${net}`)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    await waitForLine(child, /^connected/);
    child.stdin!.write('some bytes before the signal\n');
    assert.ok(await until(() => k.socks.length === 1 && k.socks[0]!.bytesRead > 0, 5000));
    child.kill(sig);
    assert.is(await exitOf(child), code);
    assert.equal(k.ends, ['FIN'], 'the kernel saw a clean close, not silence');
    assert.not.ok(linkExists(`cs${net}`), 'device removed');
  });
}

test('tuntcp listen on SIGTERM and SIGHUP: connected peers get FIN, exit 0, device removed', async () => {
  for (const [i, sig] of (['SIGTERM', 'SIGHUP'] as const).entries()) {
    const net = 76 + i;
    const child = spawn(process.execPath, [CLI, 'listen', '7', '--echo', ...stackFlags(net, `cl${net}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    await waitForLine(child, /^ready/);
    const ends: string[] = [];
    const clients = [0, 1, 2].map(() => {
      const c = connect({ host: `10.${net}.0.2`, port: 7 });
      c.on('end', () => ends.push('FIN'));
      c.on('error', (e: Error & { code?: string }) => ends.push(e.code ?? 'error'));
      c.resume();
      return c;
    });
    await until(() => clients.every((c) => c.readyState === 'open'), 5000);
    await sleep(100);
    child.kill(sig);
    assert.is(await exitOf(child), 0);
    assert.ok(await until(() => ends.length === 3, 3000));
    assert.equal(ends, ['FIN', 'FIN', 'FIN'], sig);
    assert.not.ok(linkExists(`cl${net}`));
    for (const c of clients) c.destroy();
  }
});

test('a peer that never closes its side gets FIN, then RST when the stack is gone (not silence)', async () => {
  const k = await holder(9119, true);
  const child = spawn(process.execPath, [CLI, 'connect', '10.85.0.1', '9119', ...stackFlags(85, 'ch0')], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^connected/);
  const t0 = Date.now();
  child.kill('SIGINT');
  assert.is(await exitOf(child), 130);
  assert.ok(Date.now() - t0 < 3000, 'linger is bounded');
  assert.equal(k.ends, ['FIN']);
  // The RST took the kernel's socket out of CLOSE_WAIT (Linux reports it only on the next write).
  const gone = (): boolean => !spawnSync('ss', ['-tan']).stdout.toString().includes('10.85.0.2');
  assert.ok(await until(gone, 2000), spawnSync('ss', ['-tan']).stdout.toString());
  k.socks[0]!.write('still there?');
  assert.ok(await until(() => k.ends.length === 2, 2000));
  assert.match(k.ends[1]!, /EPIPE|ECONNRESET/);
});

test('tuntcp netstat shows only the stacks of its own network namespace', async () => {
  const here = spawn(process.execPath, [CLI, 'up', ...stackFlags(78, 'cn0')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const there = spawn('unshare', ['--net', process.execPath, CLI, 'up', ...stackFlags(79, 'cn1')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(here, there);
  await waitForLine(here, /^ready/);
  await waitForLine(there, /^ready/);
  const r = await run(process.execPath, [CLI, 'netstat', '--json']);
  const pids = (JSON.parse(r.stdout) as { stacks: Array<{ pid: number }> }).stacks.map((s) => s.pid);
  assert.ok(pids.includes(here.pid!), `our stack is listed: ${r.stdout}`);
  assert.not.ok(pids.includes(there.pid!), 'a stack of another namespace is listed');
  here.kill('SIGINT');
  there.kill('SIGINT');
  await Promise.all([exitOf(here), exitOf(there)]);
});

test('tuntcp listen --discard: 200 peers that reset print nothing; netstat -s counts them', async () => {
  const child = spawn(process.execPath, [CLI, 'listen', '7', '--discard', ...stackFlags(80, 'cd0')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^ready/);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await Promise.all(
    Array.from({ length: 200 }, () =>
      new Promise<void>((resolve) => {
        const c = connect({ host: '10.80.0.2', port: 7 });
        c.on('error', () => resolve());
        c.on('connect', () => {
          c.write('x');
          setTimeout(() => {
            c.resetAndDestroy();
            resolve();
          }, 20);
        });
      }),
    ),
  );
  await sleep(500);
  const s = await run(process.execPath, [CLI, 'netstat', '-s', '--json']);
  const stack = (JSON.parse(s.stdout) as { stacks: Array<{ pid: number; counters: Record<string, number> }> }).stacks.find((x) => x.pid === child.pid);
  child.kill('SIGINT');
  assert.is(await exitOf(child), 0);
  assert.is(err.trim(), '', 'nothing on stderr for peers that reset');
  assert.ok((stack?.counters.socket_error_econnreset ?? 0) >= 150, JSON.stringify(stack?.counters));
});

test('a --peer subnet that another interface already routes: a clear warning before ready', async () => {
  // Another interface with the same subnet (a veth: this kernel may have no dummy driver).
  spawnSync('ip', ['link', 'add', 'v81a', 'type', 'veth', 'peer', 'name', 'v81b']);
  spawnSync('ip', ['addr', 'add', '10.81.0.1/24', 'dev', 'v81a']);
  spawnSync('ip', ['link', 'set', 'v81a', 'up']);
  spawnSync('ip', ['link', 'set', 'v81b', 'up']);
  try {
    const child = spawn(process.execPath, [CLI, 'up', '--tun', 'cw0', '--addr', '10.81.0.2', '--peer', '10.81.0.9/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    await waitForLine(child, /^ready/);
    assert.match(err, /^tuntcp: warning: 10\.81\.0\.2 is routed through v81a, not through cw0/m);
    child.kill('SIGINT');
    await exitOf(child);
    // And none when nothing overlaps.
    const ok = spawn(process.execPath, [CLI, 'up', ...stackFlags(82, 'cw1')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ok);
    let err2 = '';
    ok.stderr!.on('data', (d) => (err2 += d));
    await waitForLine(ok, /^ready/);
    ok.kill('SIGINT');
    await exitOf(ok);
    assert.not.match(err2, /warning/);
  } finally {
    spawnSync('ip', ['link', 'del', 'v81a']);
  }
});

test('a process whose only socket is unref()d exits; a ref()d one keeps it alive', async () => {
  await holder(9120);
  const script = (unref: boolean): string => `
    import { NetStack, TunLink, configureTun, RealClock } from '${new URL('../../src/index.js', import.meta.url).pathname}';
    const link = TunLink.open({ name: 'cu${unref ? 0 : 1}', mtu: 1500 });
    configureTun({ name: link.name, peer: '10.${83 + (unref ? 0 : 1)}.0.1/24', addr: '10.${83 + (unref ? 0 : 1)}.0.2', mtu: 1500 });
    const stack = new NetStack({ link, addr: '10.${83 + (unref ? 0 : 1)}.0.2', clock: new RealClock() });
    const s = stack.connect({ host: '10.${83 + (unref ? 0 : 1)}.0.1', port: 9120 });
    s.on('connect', () => { console.log('connected'); ${unref ? 's.unref();' : ''} });
  `;
  for (const unref of [true, false]) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script(unref)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = await until(() => child.exitCode !== null, 3000);
    assert.match(out, /connected/);
    if (unref) assert.ok(exited, 'the process with only an unref()d socket kept running');
    else {
      assert.not.ok(exited, 'the process exited although its socket is ref()d');
      child.kill('SIGKILL');
    }
  }
});


test('tuntcp up --trace whose reader stops reading: the queued trace stays bounded, later lines are dropped and counted, the stack still answers', async () => {
  const child = spawn(process.execPath, [CLI, 'up', '--trace', ...stackFlags(82, 'cd2')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^ready/);
  child.stdout!.pause(); // a `| less` left alone: the pipe fills and stays full
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'latin1'))![1]) * 1024;
  // Echo requests and replies, two trace lines of ~90 bytes each. The first
  // 20000 fill the 4 MiB backlog (and warm the heap); 40000 more would queue
  // another ~7 MB of lines (+53 MiB RSS, measured with no bound), and must not.
  const pings = async (n: number): Promise<void> => {
    const p = await run('ping', ['-f', '-q', '-c', String(n), '-W', '1', '10.82.0.2'], 120000);
    assert.match(p.stdout, / 0% packet loss/, p.stdout + p.stderr);
  };
  await pings(20000);
  const before = rss();
  await pings(40000);
  const grown = rss() - before;
  const s = await run(process.execPath, [CLI, 'netstat', '-s', '--json']);
  const stack = (JSON.parse(s.stdout) as { stacks: Array<{ pid: number; counters: Record<string, number> }> }).stacks.find((x) => x.pid === child.pid);
  assert.ok((stack?.counters.trace_lines_dropped ?? 0) > 10000, JSON.stringify(stack?.counters));
  assert.ok(grown < 24 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
  // What was queued is whole lines, and reaches the reader once it reads again.
  let out = '';
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (d: string) => (out += d));
  child.stdout!.resume(); // (a 'data' listener does not undo an explicit pause)
  child.kill('SIGINT');
  assert.is(await exitOf(child), 0);
  const lines = out.split('\n').slice(0, -1);
  assert.ok(lines.length > 1000, `${lines.length} lines`);
  console.log(`\n  trace to a stalled reader: 60000 pings answered, RSS +${(grown / 1048576).toFixed(1)} MiB, ${stack!.counters.trace_lines_dropped} lines dropped, ${lines.length} delivered`);
  assert.ok(lines.every((l) => /^\d\d:\d\d:\d\d\.\d{6} IP6? /.test(l)), lines.find((l) => !/^\d\d:\d\d:\d\d\.\d{6} IP6? /.test(l)));
});

test('tuntcp up --trace | head: the reader leaving stops the stack quietly (exit 141, as SIGPIPE), device removed', async () => {
  const child = spawn(process.execPath, [CLI, 'up', '--trace', ...stackFlags(83, 'cd3')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^ready/);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = exitOf(child);
  const ping = run('ping', ['-c', '20', '-i', '0.05', '-W', '1', '10.83.0.2']);
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  child.stdout!.destroy(); // head has its lines and exits
  await ping;
  assert.is(await exited, 141);
  assert.is(err.replace(/^ready.*\n/, '').trim(), '', 'nothing on stderr');
  assert.not.ok(linkExists('cd3'));
});

test.run();
