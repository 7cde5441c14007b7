// Issue 4 points 6 and 7 against the real Linux TCP through TUN: 20 MB echoes
// stay intact (SHA-256) with 5 % random loss in each direction and with the
// stack's reorder/duplicate/delay faults, and a 40 Mbit/s token bucket is
// filled to at least 70 % in each direction.
//
// Loss and the bottleneck live in a router namespace between this process's
// namespace (the Linux peer, node:net) and the TUN device (see netem.ts for
// why the drops cannot sit in the sender's own output path). Every test has
// a wall-clock limit; together they stay well below the runner's 600 s.
//
// The Linux peer's sockets use CUBIC (Linux's default) whatever the host's
// default is: a host default of BBR, which ignores random loss, would hide
// how tuntcp's receiver copes. It is set per route (`congctl`), since a
// namespace other than the first may not change its default to cubic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { assertPrivateNamespace, stackArgs } from './lab.js';
import { echoThrough, listenKernel, secsSince, sha, type AnySocket } from './echo.js';
import { congctl, sh, startRouterLab, type RouterLab } from './netem.js';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import type { NetStack } from '../../src/socket/net-stack.js';

assertPrivateNamespace();

const MB = 1024 * 1024;
const ECHO_BYTES = 20 * MB;
const BULK_BYTES = 30 * MB;
const BUCKET_MBIT = 40;
const MIN_GOODPUT_MBIT = 0.7 * BUCKET_MBIT;
// Wall-clock limits (s). Worst case all together: 2*100 + 2*60 + 2*45 = 410 s < 600 s.
const LOSS_LIMIT_S = Number(process.env.TUNTCP_LOSS_LIMIT ?? 100);
const FAULT_LIMIT_S = 60;
const BULK_LIMIT_S = 40;

// Whatever happens, this file ends before the runner's SIGKILL at 600 s.
setTimeout(() => {
  console.error('loss.test: file time limit (560 s) reached, exiting');
  process.exit(1);
}, 560_000).unref();

const data = randomBytes(ECHO_BYTES);
const dataSha = sha(data);

function stackStats(stack: NetStack): string {
  const c = stack.counters;
  const names = ['tcp_retransmitted_segments', 'tcp_fast_retransmits', 'tcp_rto_expired', 'tcp_reordering_detected', 'tcp_dup_acks', 'tcp_dsack_or_old_sack_blocks', 'tcp_out_of_order', 'tcp_rcvbuf_full'];
  return names.filter((k) => c.get(k) > 0 || k === 'tcp_retransmitted_segments').map((k) => `${k}=${c.get(k)}`).join(' ');
}

/** Write `bytes` bytes with backpressure, then end. */
function pump(sock: AnySocket, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let sent = 0;
  const go = (): void => {
    while (sent < bytes) {
      const k = Math.min(chunk.length, bytes - sent);
      sent += k;
      if (!sock.write(k === chunk.length ? chunk : chunk.subarray(0, k))) return;
    }
    sock.end();
  };
  sock.on('drain', go);
  go();
}

/**
 * Count what the receiving socket gets: from the first byte to the FIN. The
 * clock starts at the first byte so that the handshake does not count.
 */
function receiveAll(sock: AnySocket, bytes: number, limitS: number, describe: () => string): Promise<{ n: number; secs: number }> {
  return new Promise((resolve, reject) => {
    let t0 = 0;
    let n = 0;
    const timer = setTimeout(() => {
      const s = t0 > 0 ? secsSince(t0) : 0;
      reject(new Error(`not done after ${limitS} s: ${n} of ${bytes} bytes (${s > 0 ? ((n * 8) / s / 1e6).toFixed(1) : '0'} Mbit/s so far); ${describe()}`));
    }, limitS * 1000);
    sock.on('data', (d: Buffer) => {
      if (t0 === 0) t0 = performance.now();
      n += d.length;
    });
    sock.on('end', () => {
      clearTimeout(timer);
      sock.end();
      resolve({ n, secs: secsSince(t0) });
    });
    sock.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** `p`, or a rejection after `limitS` seconds (for waits that have no limit of their own, like a connect). */
function within<T>(p: Promise<T>, limitS: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`not done after ${limitS} s; ${describe()}`)), limitS * 1000);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// 5 % random loss each way, in the router's forward path.

test('5 % loss each way: Linux client -> tuntcp echo server, 20 MB intact', async () => {
  const lab: RouterLab = await startRouterLab({ id: 1, loss: 5 });
  const sockets: AnySocket[] = [];
  try {
    const server = lab.stack.createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.pipe(s);
    });
    server.listen(7);
    const sock = connect({ host: lab.stackAddr, port: 7, allowHalfOpen: true });
    sockets.push(sock);
    const describe = (): string => `${stackStats(lab.stack)}; router drops ${JSON.stringify(lab.drops())}`;
    const { got, secs } = await echoThrough(sock, data, LOSS_LIMIT_S, describe);
    assert.is(sha(got), dataSha);
    console.log(`  5 % loss, Linux -> tuntcp echo: 20 MB in ${secs.toFixed(1)} s; ${describe()}`);
  } finally {
    for (const s of sockets) s.destroy();
    lab.close();
  }
});

test('5 % loss each way: tuntcp client -> Linux echo server, 20 MB intact', async () => {
  const lab = await startRouterLab({ id: 2, loss: 5 });
  const sockets: AnySocket[] = [];
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.pipe(s);
  });
  try {
    await listenKernel(ks, 7007, lab.linuxAddr);
    const sock = lab.stack.connect({ port: 7007, host: lab.linuxAddr, allowHalfOpen: true });
    sockets.push(sock);
    const describe = (): string => `${stackStats(lab.stack)}; router drops ${JSON.stringify(lab.drops())}`;
    const { got, secs } = await echoThrough(sock, data, LOSS_LIMIT_S, describe);
    assert.is(sha(got), dataSha);
    console.log(`  5 % loss, tuntcp -> Linux echo: 20 MB in ${secs.toFixed(1)} s; ${describe()}`);
  } finally {
    for (const s of sockets) s.destroy();
    ks.close();
    lab.close();
  }
});

// ---------------------------------------------------------------------------
// The stack's own fault injector: reorder 20 %, duplicate 3 %, delay 10 ms.

const FAULTS = { reorder: 20, duplicate: 3, delay: 10, seed: 4 };

test('reorder 20 %, duplicate 3 %, delay 10 ms: Linux client -> tuntcp echo server, 20 MB intact', async () => {
  const r: RunningStack = startStack(stackArgs({ tun: 'tf0', addr: '10.57.0.2', peer: '10.57.0.1/24', msl: 1, ...FAULTS }));
  const sockets: AnySocket[] = [];
  try {
    sh('ip', ['route', 'replace', '10.57.0.2/32', 'dev', 'tf0', ...congctl('cubic')]);
    const server = r.stack.createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.pipe(s);
    });
    server.listen(7);
    const sock = connect({ host: '10.57.0.2', port: 7, allowHalfOpen: true });
    sockets.push(sock);
    const { got, secs } = await echoThrough(sock, data, FAULT_LIMIT_S, () => stackStats(r.stack));
    assert.is(sha(got), dataSha);
    console.log(`  faults, Linux -> tuntcp echo: 20 MB in ${secs.toFixed(1)} s; ${stackStats(r.stack)}`);
  } finally {
    for (const s of sockets) s.destroy();
    r.shutdown();
  }
});

test('reorder 20 %, duplicate 3 %, delay 10 ms: tuntcp client -> Linux echo server, 20 MB intact', async () => {
  const r = startStack(stackArgs({ tun: 'tf1', addr: '10.58.0.2', peer: '10.58.0.1/24', msl: 1, ...FAULTS }));
  const sockets: AnySocket[] = [];
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.pipe(s);
  });
  try {
    sh('ip', ['route', 'replace', '10.58.0.2/32', 'dev', 'tf1', ...congctl('cubic')]);
    await listenKernel(ks, 7007, '10.58.0.1');
    const sock = r.stack.connect({ port: 7007, host: '10.58.0.1', allowHalfOpen: true });
    sockets.push(sock);
    const { got, secs } = await echoThrough(sock, data, FAULT_LIMIT_S, () => stackStats(r.stack));
    assert.is(sha(got), dataSha);
    console.log(`  faults, tuntcp -> Linux echo: 20 MB in ${secs.toFixed(1)} s; ${stackStats(r.stack)}`);
  } finally {
    for (const s of sockets) s.destroy();
    ks.close();
    r.shutdown();
  }
});

// ---------------------------------------------------------------------------
// 40 Mbit/s token bucket (tbf, 50 ms of queue) in each direction.

test(`40 Mbit/s bottleneck: Linux -> tuntcp bulk goodput >= ${MIN_GOODPUT_MBIT} Mbit/s`, async () => {
  const lab = await startRouterLab({ id: 3, rateMbit: BUCKET_MBIT });
  const sockets: AnySocket[] = [];
  try {
    const describe = (): string => `${stackStats(lab.stack)}`;
    const done = new Promise<{ n: number; secs: number }>((resolve, reject) => {
      const server = lab.stack.createServer((s) => {
        sockets.push(s);
        receiveAll(s, BULK_BYTES, BULK_LIMIT_S, describe).then(resolve, reject);
      });
      server.listen(5001);
    });
    const sock = connect({ host: lab.stackAddr, port: 5001 });
    sockets.push(sock);
    sock.resume();
    pump(sock, BULK_BYTES);
    const { n, secs } = await within(done, BULK_LIMIT_S + 5, describe);
    const mbit = (n * 8) / secs / 1e6;
    console.log(`  40 Mbit/s tbf, Linux -> tuntcp: ${(n / MB).toFixed(0)} MiB in ${secs.toFixed(2)} s = ${mbit.toFixed(1)} Mbit/s; ${describe()}`);
    assert.is(n, BULK_BYTES);
    assert.ok(mbit >= MIN_GOODPUT_MBIT, `goodput ${mbit.toFixed(1)} Mbit/s < ${MIN_GOODPUT_MBIT}`);
  } finally {
    for (const s of sockets) s.destroy();
    lab.close();
  }
});

test(`40 Mbit/s bottleneck: tuntcp -> Linux bulk goodput >= ${MIN_GOODPUT_MBIT} Mbit/s`, async () => {
  const lab = await startRouterLab({ id: 4, rateMbit: BUCKET_MBIT });
  const sockets: AnySocket[] = [];
  const describe = (): string => `${stackStats(lab.stack)}; router queues: ${lab.qdiscStats().replace(/\s+/g, ' ')}`;
  let received: (r: Promise<{ n: number; secs: number }>) => void = () => undefined;
  const done = new Promise<{ n: number; secs: number }>((resolve) => (received = resolve));
  const ks = createServer((s) => {
    sockets.push(s);
    received(receiveAll(s, BULK_BYTES, BULK_LIMIT_S, describe));
  });
  try {
    await listenKernel(ks, 5002, lab.linuxAddr);
    const sock = lab.stack.connect({ port: 5002, host: lab.linuxAddr });
    sockets.push(sock);
    sock.resume();
    sock.once('connect', () => pump(sock, BULK_BYTES));
    const { n, secs } = await within(done, BULK_LIMIT_S + 5, describe);
    const mbit = (n * 8) / secs / 1e6;
    console.log(`  40 Mbit/s tbf, tuntcp -> Linux: ${(n / MB).toFixed(0)} MiB in ${secs.toFixed(2)} s = ${mbit.toFixed(1)} Mbit/s; ${stackStats(lab.stack)}`);
    assert.is(n, BULK_BYTES);
    assert.ok(mbit >= MIN_GOODPUT_MBIT, `goodput ${mbit.toFixed(1)} Mbit/s < ${MIN_GOODPUT_MBIT}`);
  } finally {
    for (const s of sockets) s.destroy();
    ks.close();
    lab.close();
  }
});

test.run();
