// Two stacks in virtual time: a connection's whole life through the socket API.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, A_ADDR, B_ADDR } from './harness.js';
import type { Socket } from '../../src/socket/socket.js';
import type { TcpState } from '../../src/tcp/state.js';
import { Prng } from '../../src/link/prng.js';

function randomBytes(n: number, seed: number): Buffer {
  const r = new Prng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function recordStates(s: { observeState: (o: (ep: { localPort: number }, f: TcpState, t: TcpState) => void) => void }): string[] {
  const seen: string[] = [];
  s.observeState((ep, from, to) => seen.push(`${ep.localPort}:${from}>${to}`));
  return seen;
}

test('handshake, echo 1 MB, close: states on both sides and TIME_WAIT expiry', async () => {
  const sim = simPair({ latencyMs: 5 });
  const statesA = recordStates(sim.a);
  const statesB = recordStates(sim.b);
  const server = sim.b.createServer((s) => s.pipe(s));
  server.listen(7);
  const data = randomBytes(1 << 20, 1);
  const got: Buffer[] = [];
  let ended = false;
  let connected = false;
  const c = sim.a.connect(7, B_ADDR, () => { connected = true; });
  c.on('data', (d: Buffer) => got.push(d));
  c.on('end', () => { ended = true; });
  c.end(data);
  assert.ok(await sim.until(() => ended, 60_000), 'echo finished');
  assert.ok(connected);
  assert.is(sha(Buffer.concat(got)), sha(data));
  assert.is(c.bytesRead, data.length);
  assert.is(c.bytesWritten, data.length);
  const port = c.localPort;
  // The client closed first: it passes FIN_WAIT_1, FIN_WAIT_2 (or CLOSING) and waits in TIME_WAIT.
  assert.ok(await sim.until(() => c.tcpState === 'TIME_WAIT', 5000));
  const tw = sim.clock.now();
  assert.ok(await sim.until(() => c.tcpState === 'CLOSED', 70_000));
  const twLasted = sim.clock.now() - tw;
  assert.ok(twLasted >= 60_000 && twLasted < 60_100, `TIME_WAIT lasted ${twLasted} ms`);
  assert.equal(statesA.filter((s) => s.startsWith(`${port}:`)).map((s) => s.split(':')[1]), [
    'CLOSED>SYN_SENT', 'SYN_SENT>ESTABLISHED', 'ESTABLISHED>FIN_WAIT_1', 'FIN_WAIT_1>FIN_WAIT_2', 'FIN_WAIT_2>TIME_WAIT', 'TIME_WAIT>CLOSED',
  ]);
  assert.equal(statesB.map((s) => s.split(':')[1]), [
    'LISTEN>SYN_RECEIVED', 'SYN_RECEIVED>ESTABLISHED', 'ESTABLISHED>CLOSE_WAIT', 'CLOSE_WAIT>LAST_ACK', 'LAST_ACK>CLOSED',
  ]);
  assert.equal(c.address(), { address: A_ADDR, family: 'IPv4', port });
});

test('connect to a closed port: ECONNREFUSED with a node-style message', async () => {
  const sim = simPair();
  let err: (Error & { code?: string }) | null = null;
  const c = sim.a.connect(9999, B_ADDR);
  c.on('error', (e) => { err = e; });
  assert.ok(await sim.until(() => err !== null, 1000));
  assert.is(err!.code, 'ECONNREFUSED');
  assert.is(err!.message, `connect ECONNREFUSED ${B_ADDR}:9999`);
});

test('half-close: the side in CLOSE_WAIT keeps sending', async () => {
  const sim = simPair();
  let serverSock: Socket | null = null;
  const server = sim.b.createServer({ allowHalfOpen: true }, (s) => {
    serverSock = s;
    s.resume();
    s.on('end', () => {
      // We are in CLOSE_WAIT now and may still talk.
      s.write('after your FIN ');
      s.end('bye');
    });
  });
  server.listen(80);
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  let text = '';
  let ended = false;
  c.setEncoding('utf8');
  c.on('data', (d: string) => { text += d; });
  c.on('end', () => { ended = true; });
  c.end('request');
  assert.ok(await sim.until(() => serverSock !== null && serverSock.tcpState === 'CLOSE_WAIT', 1000) || ended);
  assert.ok(await sim.until(() => ended, 5000));
  assert.is(text, 'after your FIN bye');
});

test('write() returns false when buffers fill, drain follows; a paused reader stops the sender', async () => {
  // Fixed buffers (SO_RCVBUF, SO_SNDBUF): autotuning would grow the send buffer with cwnd.
  const sim = simPair({ tcp: { rcvBuf: 64 * 1024, sndBuf: 64 * 1024, sndBufMax: 64 * 1024 } });
  let serverSock: Socket | null = null;
  let received = 0;
  sim.b.createServer((s) => {
    serverSock = s;
    s.pause();
    s.on('data', (d: Buffer) => { received += d.length; });
  }).listen(5000);
  const c = sim.a.connect(5000, B_ADDR);
  await sim.until(() => serverSock !== null, 1000);
  const chunk = Buffer.alloc(16 * 1024, 1);
  let accepted = 0;
  let blocked = false;
  const pump = (): void => {
    blocked = false;
    for (;;) {
      accepted += chunk.length;
      if (!c.write(chunk)) { blocked = true; return; }
      if (accepted > 10 * 1024 * 1024) return;
    }
  };
  c.on('drain', pump);
  pump();
  // With the reader paused, the window closes and the writer stays blocked.
  await sim.wait(10_000);
  assert.ok(blocked, 'write() returned false and no drain came');
  // Bounded by send buffer + receive buffer + the two streams' high-water marks (and one chunk).
  assert.ok(accepted <= 64 * 1024 * 2 + 16 * 1024 * 4, `accepted ${accepted}`);
  assert.ok(sim.a.counters.get('tcp_window_probes') > 0, 'zero-window probes were sent');
  const before = accepted;
  c.removeListener('drain', pump);
  let drained = false;
  c.once('drain', () => { drained = true; });
  serverSock!.resume();
  assert.ok(await sim.until(() => drained && received === before, 10_000), `drained ${drained} received ${received} of ${before}`);
});

test.run();
