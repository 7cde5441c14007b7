// Issue 3 proofs against the real Linux TCP through TUN, in this process's
// private netns: bulk echo both ways with SHA-256, concurrency, the states
// `ss` shows on the kernel side, and node:http on both sides.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server as NetServer, type Socket as NetSocket } from 'node:net';
import { createServer as createHttpServer, get as httpGet, request as httpRequest } from 'node:http';
import { assertPrivateNamespace, run, sleep, stackArgs } from './lab.js';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import type { Socket } from '../../src/socket/socket.js';

assertPrivateNamespace();
const US = '10.55.0.2';
const KERNEL = '10.55.0.1';
const r: RunningStack = startStack(stackArgs({ tun: 'tt0', addr: US, peer: `${KERNEL}/24`, msl: 2 }));
const stack = r.stack;
const kernelServers: NetServer[] = [];

test.after(() => {
  for (const s of kernelServers) s.close();
  r.shutdown();
});

const sha = (b: Buffer | Buffer[]): string => {
  const h = createHash('sha256');
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest('hex');
};

/** Write `data` in chunks, end, and collect everything read until the peer's FIN. */
function echoThrough(sock: NetSocket | Socket, data: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
    sock.end(data);
  });
}

/** Kernel-side TCP states for connections involving `port`, from `ss -tan`. */
async function ssStates(port: number): Promise<string[]> {
  const out = await run('ss', ['-tanH', `( sport = :${port} or dport = :${port} )`]);
  return out.stdout.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[0]!);
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await sleep(20);
  }
  return pred();
}

test('Linux client -> tuntcp echo server: 20 MB echoed, SHA-256 equal', async () => {
  const server = stack.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  server.listen(7);
  const data = randomBytes(20 * 1024 * 1024);
  const t0 = performance.now();
  const sock = connect({ host: US, port: 7, allowHalfOpen: true });
  const got = await echoThrough(sock, data);
  const secs = (performance.now() - t0) / 1000;
  assert.is(sha(got), sha(data));
  console.log(`  20 MB echo via tuntcp server: ${((2 * data.length * 8) / secs / 1e6).toFixed(0)} Mbit/s both directions together`);
  await new Promise((res) => server.close(res));
});

test('tuntcp client -> Linux echo server: 20 MB echoed, SHA-256 equal', async () => {
  const ks = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  kernelServers.push(ks);
  await new Promise<void>((res) => ks.listen(7007, KERNEL, res));
  const data = randomBytes(20 * 1024 * 1024);
  const sock = stack.connect({ port: 7007, host: KERNEL, allowHalfOpen: true });
  const got = await echoThrough(sock, data);
  assert.is(sha(got), sha(data));
});

test('20 concurrent connections each way', async () => {
  const server = stack.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  server.listen(8);
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < 20; i++) {
    const d1 = randomBytes(200_000 + i);
    jobs.push(echoThrough(connect({ host: US, port: 8, allowHalfOpen: true }), d1).then((g) => assert.is(sha(g), sha(d1))));
    const d2 = randomBytes(150_000 + i);
    jobs.push(echoThrough(stack.connect({ port: 7007, host: KERNEL, allowHalfOpen: true }), d2).then((g) => assert.is(sha(g), sha(d2))));
  }
  await Promise.all(jobs);
  await new Promise((res) => server.close(res));
});

test('kernel closes first: the kernel shows TIME-WAIT, tuntcp passes CLOSE_WAIT and LAST_ACK', async () => {
  const states: string[] = [];
  let srv: Socket | null = null;
  const server = stack.createServer((s) => {
    srv = s;
    s.resume();
  });
  server.listen(9);
  stack.observeState((ep, _from, to) => { if (ep.localPort === 9) states.push(to); });
  const sock = connect({ host: US, port: 9 });
  await new Promise((res) => sock.on('connect', res));
  const kport = sock.localPort!;
  sock.end();
  await new Promise((res) => sock.on('close', res));
  assert.ok(await waitFor(async () => (await ssStates(kport)).includes('TIME-WAIT')), `ss: ${await ssStates(kport)}`);
  assert.equal(states, ['SYN_RECEIVED', 'ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSED']);
  assert.ok(srv !== null);
  await new Promise((res) => server.close(res));
});

test('tuntcp half-closes first: kernel CLOSE-WAIT, tuntcp FIN_WAIT_2 until the kernel closes, then TIME_WAIT', async () => {
  let kernelSide: NetSocket | null = null;
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    kernelSide = s;
    s.resume();
  });
  kernelServers.push(ks);
  await new Promise<void>((res) => ks.listen(7008, KERNEL, res));
  const sock = stack.connect({ port: 7008, host: KERNEL, allowHalfOpen: true });
  await new Promise((res) => sock.on('connect', res));
  sock.resume();
  sock.end();
  assert.ok(await waitFor(async () => (await ssStates(7008)).includes('CLOSE-WAIT')), `ss: ${await ssStates(7008)}`);
  assert.is(sock.tcpState, 'FIN_WAIT_2');
  // The kernel side still sends while half-closed.
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => { text += d; });
  kernelSide!.end('still talking');
  assert.ok(await waitFor(() => sock.tcpState === 'TIME_WAIT'));
  assert.is(text, 'still talking');
  // msl is 2 s here: TIME_WAIT ends after 4 s.
  assert.ok(await waitFor(() => sock.tcpState === 'CLOSED', 6000));
});

test("node:http server on tuntcp, kernel client; node:http client on tuntcp, kernel server (keep-alive)", async () => {
  const httpSrv = createHttpServer((req, res) => res.end(`hello ${req.url}`));
  const server = stack.createServer((s) => httpSrv.emit('connection', s));
  server.listen(80);
  const body = await new Promise<string>((resolve, reject) => {
    httpGet({ host: US, port: 80, path: '/from-kernel' }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  assert.is(body, 'hello /from-kernel');

  const kernelHttp = createHttpServer((req, res) => res.end(`kernel says ${req.url}`));
  await new Promise<void>((res) => kernelHttp.listen(8080, KERNEL, res));
  const sock = stack.connect({ port: 8080, host: KERNEL });
  const ask = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: KERNEL, port: 8080, path, createConnection: () => sock as unknown as NetSocket, headers: { connection: 'keep-alive' } }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
  assert.is(await ask('/one'), 'kernel says /one');
  kernelHttp.close();
  httpSrv.close();
  await new Promise((res) => server.close(res));
  sock.destroy();
});

test.run();
