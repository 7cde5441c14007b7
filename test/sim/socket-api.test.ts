// The node:net contract of Socket and Server, in virtual time: error codes,
// destroy() as RST, idle timeouts, readyState, address information.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simPair, A_ADDR, B_ADDR } from './harness.js';
import type { Socket } from '../../src/socket/socket.js';

type CodedError = Error & { code?: string; syscall?: string };

test('resetAndDestroy() aborts with RST: the peer sees ECONNRESET', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  sim.b.createServer((s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  let err: CodedError | null = null;
  srv!.on('error', (e: CodedError) => { err = e; });
  const rstBefore = sim.a.counters.get('tcp_rst_sent');
  c.resetAndDestroy();
  assert.ok(await sim.until(() => err !== null, 1000));
  assert.is(err!.code, 'ECONNRESET');
  assert.is(err!.message, 'read ECONNRESET');
  assert.is(sim.a.counters.get('tcp_rst_sent'), rstBefore + 1);
  assert.is(c.readyState, 'closed');
});

test('setCork(true) holds a partial segment until setCork(false) (Linux TCP_CORK); left corked, the probe timer sends it after an RTO', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  const got: Buffer[] = [];
  sim.b.createServer((s) => { srv = s; s.on('data', (d: Buffer) => got.push(d)); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  c.setCork(true);
  c.write('abc');
  c.write('def');
  await sim.wait(50);
  assert.is(got.length, 0, 'corked: nothing sent');
  c.setCork(false);
  assert.ok(await sim.until(() => Buffer.concat(got).toString() === 'abcdef', 100), 'uncorked: sent');
  c.setCork(true);
  c.write('ghi');
  const t0 = sim.clock.now();
  assert.ok(await sim.until(() => Buffer.concat(got).toString() === 'abcdefghi', 5000));
  const waited = sim.clock.now() - t0;
  assert.ok(waited >= 200 && waited <= 1000, `sent by the probe timer after ${waited} ms`);
  c.destroy();
});

test('a peer that vanishes: connect ETIMEDOUT after the SYN retries', async () => {
  const sim = simPair({ faults: { loss: 100 }, tcp: { synRetries: 3 } });
  let err: CodedError | null = null;
  const c = sim.a.connect(80, B_ADDR);
  c.on('error', (e: CodedError) => { err = e; });
  const t0 = sim.clock.now();
  assert.ok(await sim.until(() => err !== null, 60_000));
  assert.is(err!.code, 'ETIMEDOUT');
  assert.is(err!.message, `connect ETIMEDOUT ${B_ADDR}:80`);
  // RTO 1 s doubling: SYN at 0, 1, 3, 7, give up at 15 s.
  assert.is(sim.clock.now() - t0, 15_000);
  assert.is(sim.a.counters.get('tcp_syn_retransmitted'), 3);
});

test('an established connection whose peer vanishes: read ETIMEDOUT after the data retries', async () => {
  const sim = simPair({ tcp: { retries: 4 } });
  let srv: Socket | null = null;
  sim.b.createServer((s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  sim.b.link.close(); // the peer host disappears without a word
  let err: CodedError | null = null;
  c.on('error', (e: CodedError) => { err = e; });
  c.write('anyone there?');
  assert.ok(await sim.until(() => err !== null, 120_000));
  assert.is(err!.code, 'ETIMEDOUT');
  assert.is(sim.a.counters.get('tcp_rto_expired'), 4);
});

test('listen on a port in use: EADDRINUSE on the server', async () => {
  const sim = simPair();
  sim.b.createServer(() => {}).listen(80);
  let err: CodedError | null = null;
  const second = sim.b.createServer(() => {});
  second.on('error', (e: CodedError) => { err = e; });
  second.listen(80);
  await sim.until(() => err !== null, 100);
  assert.is(err!.code, 'EADDRINUSE');
  assert.is(err!.syscall, 'listen');
  assert.not.ok(second.listening);
});

test('a RST while we are in CLOSE_WAIT (the peer closed, then went away): EPIPE, as Linux reports', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  sim.b.createServer({ allowHalfOpen: true }, (s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  const errors: CodedError[] = [];
  srv!.on('error', (e: CodedError) => errors.push(e));
  c.end();
  await sim.until(() => srv!.tcpState === 'CLOSE_WAIT', 1000);
  srv!.write('are you still there?');
  c.destroy(); // not a graceful end in both directions: RST
  await sim.until(() => errors.length > 0, 1000);
  assert.is(errors[0]!.code, 'EPIPE');
  assert.is(errors[0]!.syscall, 'write');
});

test('setTimeout emits timeout after idle time, activity postpones it', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  sim.b.createServer((s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  const fired: number[] = [];
  const t0 = sim.clock.now();
  c.setTimeout(1000, () => fired.push(sim.clock.now() - t0));
  await sim.wait(600);
  c.write('x'); // activity at 600
  await sim.wait(1500);
  assert.is(fired.length, 1);
  assert.ok(fired[0]! >= 1600 && fired[0]! < 1700, `timeout at ${fired[0]}`);
  c.destroy();
});

test('readyState, addresses and byte counts follow node:net', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  sim.b.createServer({ allowHalfOpen: true }, (s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  assert.is(c.readyState, 'opening');
  assert.ok(c.pending);
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  assert.is(c.remoteAddress, B_ADDR);
  assert.is(c.remotePort, 80);
  assert.is(c.localAddress, A_ADDR);
  assert.is(srv!.remoteAddress, A_ADDR);
  assert.is(srv!.remotePort, c.localPort);
  c.write('12345');
  c.end();
  await sim.until(() => c.readyState === 'readOnly', 1000);
  assert.is(c.bytesWritten, 5);
  await sim.until(() => srv!.bytesRead === 5, 1000);
  srv!.end();
  await sim.until(() => c.readyState === 'closed', 1000);
});

test('server.close() stops accepting and emits close after the last connection', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  const server = sim.b.createServer((s) => { srv = s; s.resume(); });
  server.listen(80);
  const c = sim.a.connect(80, B_ADDR);
  c.resume();
  await sim.until(() => srv !== null, 1000);
  let closed = false;
  server.close(() => { closed = true; });
  assert.is(server.address(), null);
  let refused: CodedError | null = null;
  sim.a.connect(80, B_ADDR).on('error', (e: CodedError) => { refused = e; });
  await sim.until(() => refused !== null, 1000);
  assert.is(refused!.code, 'ECONNREFUSED');
  assert.not.ok(closed, 'a connection is still open');
  c.end();
  assert.ok(await sim.until(() => closed, 2000));
});

test('congestion control is chosen per stack and per socket (--cc)', async () => {
  const sim = simPair({ tcp: { cc: 'newreno' } });
  let srv: Socket | null = null;
  sim.b.createServer({ cc: 'cubic' }, (s) => { srv = s; s.resume(); }).listen(80);
  const c = sim.a.connect({ port: 80, host: B_ADDR });
  const d = sim.a.connect({ port: 80, host: B_ADDR, cc: 'cubic' });
  await sim.until(() => srv !== null && c.readyState === 'open' && d.readyState === 'open', 1000);
  const name = (s: Socket): string | undefined => s.congestionControl;
  assert.is(name(c), 'newreno', 'the stack default');
  assert.is(name(d), 'cubic', 'chosen for this socket');
  assert.is(name(srv!), 'cubic', 'chosen for the server');
  c.destroy();
  d.destroy();
});

test.run();
