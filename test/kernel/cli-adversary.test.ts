// The CLI used carelessly, with the kernel as the peer: an HTTP client that
// pipelines and sends its FIN with the requests (printf ... | nc), a
// keep-alive load, an upload from stdin, a peer that resets in the middle of
// it, and Ctrl-C while a SYN goes unanswered. Every byte must arrive, every
// failure is one line, and the device is gone afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket as NetSocket } from 'node:net';
import { Agent, request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { assertPrivateNamespace, ownedByTest, waitForLine, linkExists, sleep, CLI, stackFlags, exitOf } from './lab.js';

assertPrivateNamespace();
const { children, servers, accepted } = ownedByTest(test.after);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

test('tuntcp listen --http: three pipelined requests sent with the FIN get three answers (as from node:net)', async () => {
  const child = start(['listen', '80', '--http', ...stackFlags(101, 'ka0')]);
  await waitForLine(child, /^ready/);
  const c = connect({ host: '10.101.0.2', port: 80, allowHalfOpen: true });
  let text = '';
  c.setEncoding('latin1');
  c.on('data', (d: string) => (text += d));
  const ended = new Promise<void>((res) => c.on('end', res));
  const req = (p: string, last = false): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
  c.end(req('/a') + req('/b') + req('/c', true));
  await ended;
  assert.equal(text.match(/GET \/[abc] from/g), ['GET /a from', 'GET /b from', 'GET /c from']);
  child.kill('SIGINT');
  assert.is(await exitOf(child), 0);
});

test('tuntcp listen --http under keep-alive load: 2000 requests over 20 connections, all 200, nothing on stderr', async () => {
  const child = start(['listen', '80', '--http', ...stackFlags(102, 'ka1')]);
  await waitForLine(child, /^ready/);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  const one = (i: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const r = request({ agent, host: '10.102.0.2', port: 80, path: `/r${i}` }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('error', reject);
      r.end();
    });
  const codes = await Promise.all(Array.from({ length: 2000 }, (_, i) => one(i)));
  agent.destroy();
  assert.is(codes.filter((c) => c === 200).length, 2000);
  child.kill('SIGTERM');
  assert.is(await exitOf(child), 0);
  assert.is(err.trim(), '');
});

/** A kernel server that reads everything; `resetAfter` bytes in, it resets instead. */
async function reader(port: number, resetAfter = Infinity): Promise<{ got: () => Buffer; ended: () => boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  let ended = false;
  const srv = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= resetAfter) s.resetAndDestroy();
    });
    s.on('end', () => {
      ended = true;
      s.end();
    });
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
  return { got: () => Buffer.concat(chunks), ended: () => ended };
}

test('tuntcp connect < 20 MB: every byte arrives, then FIN, exit 0', async () => {
  const data = randomBytes(20 << 20);
  const k = await reader(9300);
  const child = start(['connect', '10.103.0.1', '9300', ...stackFlags(103, 'ku0')]);
  await waitForLine(child, /^connected/);
  child.stdin!.end(data);
  assert.is(await exitOf(child), 0);
  assert.ok(k.ended());
  assert.is(sha(k.got()), sha(data));
  assert.not.ok(linkExists('ku0'));
});

test('tuntcp connect: the peer resets in the middle of an upload: one line naming ECONNRESET, exit 1', async () => {
  await reader(9301, 1 << 20);
  const child = start(['connect', '10.104.0.1', '9301', ...stackFlags(104, 'ku1')]);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitForLine(child, /^connected/);
  child.stdin!.on('error', () => {}); // the command may be gone before stdin is
  child.stdin!.end(randomBytes(8 << 20));
  assert.is(await exitOf(child), 1);
  const lines = err.trim().split('\n').filter((l) => !l.startsWith('connected'));
  assert.is(lines.length, 1, err);
  assert.match(lines[0]!, /ECONNRESET|EPIPE/);
  assert.not.ok(linkExists('ku1'));
});

test('tuntcp connect: Ctrl-C while the SYN goes unanswered exits at once, device removed', async () => {
  // --trace: the SYN's line on stdout says the command is past its start-up
  // (a fixed sleep was too short on a loaded machine: SIGINT came first).
  const child = start(['connect', '10.105.0.7', '9302', '--trace', ...stackFlags(105, 'ku2')]);
  await new Promise<void>((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`no SYN traced in 20 s: ${out}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (/Flags \[S\]/.test(out)) {
        clearTimeout(t);
        res();
      }
    });
  });
  const t0 = Date.now();
  child.kill('SIGINT');
  assert.is(await exitOf(child), 130);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.not.ok(linkExists('ku2'));
});

test('tuntcp connect | a reader that stopped reading: SIGTERM still ends it within about a second, and the peer is not left open', async () => {
  let peerEnd = '';
  const srv = createServer((s) => {
    accepted.push(s);
    s.on('error', (e: Error & { code?: string }) => (peerEnd ||= e.code ?? 'error'));
    s.on('end', () => (peerEnd ||= 'FIN'));
    s.resume();
    s.write(randomBytes(4 << 20));
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(9303, '0.0.0.0', res));
  const child = start(['connect', '10.106.0.1', '9303', ...stackFlags(106, 'ku3')]);
  // Nobody reads the child's stdout: its pipe fills and stays full.
  await waitForLine(child, /^connected/);
  await sleep(1500);
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await Promise.race([exitOf(child), sleep(5000).then(() => 'still running 5 s after SIGTERM')]);
  assert.is(code, 143);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  await sleep(200);
  assert.ok(peerEnd !== '', 'the kernel peer saw neither FIN nor RST');
  assert.not.ok(linkExists('ku3'));
});

test.run();
