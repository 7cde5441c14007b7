// `tuntcp connect`'s stdin path (src/cli/stdin-pump.ts) against a Linux
// server: a large random file from `< file` and from a pipe arrives byte for
// byte (sha256), also through a reader slow enough to close the window again
// and again; EOF half-closes and the process exits 0 once the server's answer
// is in; a reset from the server ends the process with one line, exit 1, also
// while its read of stdin is blocked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPrivateNamespace, ownedByTest, CLI, stackFlags, exitOf, linkExists, sleep } from './lab.js';

assertPrivateNamespace();
const dir = mkdtempSync(join(tmpdir(), 'tuntcp-stdin-'));
const { children, servers, accepted } = ownedByTest(test.after);
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const q = (s: string): string => `'${s}'`;

/** A file of `bytes` random bytes, and its sha256. */
function randomFile(name: string, bytes: number): { path: string; sum: string } {
  const data = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, sum: sha(data) };
}

/**
 * A Linux server that hashes what arrives until the client's FIN, then
 * answers with the hash and closes. `slow`: it stops reading for 20 ms after
 * every 128 KiB, so the window closes and opens again and again.
 */
async function hasher(port: number, slow = false): Promise<void> {
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    accepted.push(s);
    s.on('error', () => {});
    const h = createHash('sha256');
    let since = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      since += d.length;
      if (slow && since >= 128 * 1024) {
        since = 0;
        s.pause();
        setTimeout(() => s.resume(), 20);
      }
    });
    s.on('end', () => s.end(`sha256 ${h.digest('hex')}\n`));
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
}

/** `sh -c script`; resolves with exit code, stdout and stderr. */
async function sh(script: string, limitMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  const c = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let out = '';
  let err = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (err += d));
  const t = setTimeout(() => c.kill('SIGKILL'), limitMs);
  const code = await exitOf(c);
  clearTimeout(t);
  return { code, out, err };
}

const connect = (net: number, port: number, tun: string): string =>
  [process.execPath, CLI, 'connect', `10.${net}.0.1`, String(port), ...stackFlags(net, tun)].map(q).join(' ');

for (const [i, how] of (['file', 'pipe', 'file, slow reader'] as const).entries()) {
  test(`tuntcp connect, stdin from a ${how}: 24 MiB arrive unchanged, EOF half-closes, the answer comes back, exit 0`, async () => {
    const net = 91 + i;
    const port = 9200 + i;
    await hasher(port, how === 'file, slow reader');
    const f = randomFile(`in${i}.bin`, 24 * 1024 * 1024 + 4321);
    const cmd = connect(net, port, `cx${i}`);
    const r = await sh(how === 'pipe' ? `cat ${q(f.path)} | ${cmd}` : `${cmd} < ${q(f.path)}`);
    assert.is(r.code, 0, r.err);
    assert.is(r.out, `sha256 ${f.sum}\n`, r.err);
    assert.not.ok(linkExists(`cx${i}`), 'device removed');
  });
}

/** A Linux server that reads until `after` bytes arrived, then resets the connection. */
async function resetter(port: number, after: number): Promise<{ resets: () => number }> {
  let resets = 0;
  const srv = createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= after && !s.destroyed) {
        resets++;
        s.resetAndDestroy();
      }
    });
  });
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
  return { resets: () => resets };
}

test('a reset from the server while a file is being sent: one line naming ECONNRESET, exit 1', async () => {
  const k = await resetter(9210, 1024 * 1024);
  const f = randomFile('big.bin', 64 * 1024 * 1024);
  const r = await sh(`${connect(94, 9210, 'cr0')} < ${q(f.path)}`, 20_000);
  assert.is(k.resets(), 1);
  assert.is(r.code, 1, r.err);
  const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('connected'));
  assert.is(lines.length, 1, r.err);
  assert.match(lines[0]!, /ECONNRESET/);
  assert.not.ok(linkExists('cr0'), 'device removed');
});

test('a reset from the server while the read of stdin waits on an idle pipe: exit 1 all the same', async () => {
  const k = await resetter(9211, 5);
  const fifo = join(dir, 'idle.fifo');
  await sh(`mkfifo ${q(fifo)}`);
  // We hold the pipe's write end: the CLI's read of it blocks after our first bytes.
  const run = sh(`exec ${connect(95, 9211, 'cr1')} < ${q(fifo)}`, 20_000);
  const w = await open(fifo, 'w');
  try {
    await w.write(Buffer.from('hello, then nothing\n'));
    const t0 = Date.now();
    const r = await run;
    assert.is(k.resets(), 1);
    assert.is(r.code, 1, r.err);
    assert.match(r.err, /ECONNRESET/);
    assert.ok(Date.now() - t0 < 10_000, 'exits without waiting for stdin');
  } finally {
    await w.close();
  }
  await sleep(0);
  assert.not.ok(linkExists('cr1'), 'device removed');
});

test.run();
