// The CLI commands of issues 2 and 3 as a user runs them: `tuntcp listen`
// in its three modes and `tuntcp connect`, with the kernel on the other side.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { Agent, get as httpGet } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { assertPrivateNamespace, waitForLine, CLI } from './lab.js';

assertPrivateNamespace();
const children: ChildProcess[] = [];
test.after(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function startListen(mode: string, tun: string, net: number): Promise<{ child: ChildProcess; addr: string }> {
  const child = spawn(process.execPath, [CLI, 'listen', '7', `--${mode}`, '--tun', tun, '--addr', `10.${net}.0.2`, '--peer', `10.${net}.0.1/24`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const line = await waitForLine(child, /^ready/);
  assert.match(line, new RegExp(`^ready ${mode} 10\\.${net}\\.0\\.2:7`));
  return { child, addr: `10.${net}.0.2` };
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill('SIGINT');
  return new Promise((res) => child.on('exit', (code) => res(code)));
}

test('tuntcp listen --echo: a kernel client gets its bytes back', async () => {
  const { child, addr } = await startListen('echo', 'tc0', 61);
  const data = randomBytes(1 << 20);
  const got: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: addr, port: 7, allowHalfOpen: true });
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => resolve());
    s.on('error', reject);
    s.end(data);
  });
  const h = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  assert.is(h(Buffer.concat(got)), h(data));
  assert.is(await stop(child), 0);
});

test('tuntcp listen --discard: data is read and nothing comes back', async () => {
  const { child, addr } = await startListen('discard', 'tc1', 62);
  let back = 0;
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: addr, port: 7 });
    s.on('data', (d: Buffer) => { back += d.length; });
    s.on('error', reject);
    s.end(randomBytes(500_000), () => setTimeout(() => { s.destroy(); resolve(); }, 200));
  });
  assert.is(back, 0);
  assert.is(await stop(child), 0);
});

test('tuntcp listen --http: node:http serves pages, keep-alive reuses the connection', async () => {
  const { child, addr } = await startListen('http', 'tc2', 63);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const fetchPage = (path: string): Promise<{ body: string; reused: boolean; status: number }> =>
    new Promise((resolve, reject) => {
      const req = httpGet({ host: addr, port: 7, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ body, reused: req.reusedSocket, status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
    });
  const a = await fetchPage('/first');
  const b = await fetchPage('/second');
  agent.destroy();
  assert.is(a.status, 200);
  assert.match(a.body, /Hello from tuntcp/);
  assert.match(b.body, /GET \/second/);
  assert.is(b.reused, true, 'second request on the same connection');
  assert.is(await stop(child), 0);
});

test('tuntcp connect: stdin to the socket, socket to stdout, EOF half-closes, exit 0', async () => {
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('end', () => s.end(`you said: ${text}`)); // answers after our FIN: half-close works
  });
  await new Promise<void>((res) => ks.listen(9000, '0.0.0.0', res));
  const child = spawn(process.execPath, [CLI, 'connect', '10.64.0.1', '9000', '--tun', 'tc3', '--addr', '10.64.0.2', '--peer', '10.64.0.1/24'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  await waitForLine(child, /^connected/);
  child.stdin!.end('GET / HTTP/1.1\n');
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  ks.close();
  assert.is(code, 0);
  assert.is(out, 'you said: GET / HTTP/1.1\n');
});

test('tuntcp connect --json: a machine-readable transfer summary on stderr', async () => {
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    s.resume();
    s.on('end', () => s.end('x'.repeat(100_000)));
  });
  await new Promise<void>((res) => ks.listen(9001, '0.0.0.0', res));
  const child = spawn(process.execPath, [CLI, 'connect', '10.67.0.1', '9001', '--json', '--tun', 'tc6', '--addr', '10.67.0.2', '--peer', '10.67.0.1/24'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  let outBytes = 0;
  child.stdout!.on('data', (d: Buffer) => (outBytes += d.length));
  child.stderr!.on('data', (d) => (err += d));
  await waitForLine(child, /^connected/);
  child.stdin!.end('12345');
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  ks.close();
  assert.is(code, 0);
  assert.is(outBytes, 100_000);
  const summary = JSON.parse(err.trim().split('\n').pop()!) as { bytesRead: number; bytesWritten: number; exitCode: number; remote: string };
  assert.is(summary.bytesRead, 100_000);
  assert.is(summary.bytesWritten, 5);
  assert.is(summary.exitCode, 0);
  assert.is(summary.remote, '10.67.0.1:9001');
});

test('--explain prints explained state changes, --lang zh in Chinese', async () => {
  for (const [lang, want] of [['en', 'SYN_SENT -> CLOSED  rcv RST,ACK for our SYN: connection refused [RFC 9293 §3.10.7.3]'], ['zh', '收到对本方 SYN 的 RST,ACK：连接被拒绝']] as const) {
    const child = spawn(process.execPath, [CLI, 'connect', '10.66.0.1', '9999', '--tun', 'tc5', '--addr', '10.66.0.2', '--peer', '10.66.0.1/24', '--explain', '--lang', lang], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const code = await new Promise((res) => child.on('exit', (c) => res(c)));
    assert.is(code, 1);
    assert.match(out, 'CLOSED -> SYN_SENT');
    assert.ok(out.includes(want), out);
  }
});

test('tuntcp connect to a closed port: one line naming ECONNREFUSED, exit 1', async () => {
  const child = spawn(process.execPath, [CLI, 'connect', '10.65.0.1', '9999', '--tun', 'tc4', '--addr', '10.65.0.2', '--peer', '10.65.0.1/24'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  assert.is(code, 1);
  assert.is(err.trim(), 'tuntcp: connect ECONNREFUSED 10.65.0.1:9999');
});

test.run();
