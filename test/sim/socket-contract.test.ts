// node:net's contract, in virtual time: who owns a written Buffer, what
// destroy() does to the bytes already written, how connect() fails, what a
// throwing handler does, 'close' with hadError, ref()/unref(), a second
// listen(), and Stack.close() as process exit closes a program's sockets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, B_ADDR } from './harness.js';
import { VirtualClock } from '../../src/stack/clock.js';
import { createMemoryPair } from '../../src/link/memory.js';
import { NetStack } from '../../src/socket/net-stack.js';
import type { Link } from '../../src/link/link.js';
import type { Socket } from '../../src/socket/socket.js';
import { buildTcpPacket, TCP_SYN } from '../../src/wire/tcp.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';

type CodedError = Error & { code?: string; syscall?: string; hostname?: string };

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function pattern(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + salt + (i >> 11)) & 0xff;
  return b;
}

/** A server on B that collects what arrives per connection. */
function collector(sim: ReturnType<typeof simPair>, opts: { allowHalfOpen?: boolean } = {}) {
  const got: Buffer[] = [];
  const state = { srv: null as Socket | null, ended: false, error: null as CodedError | null, closed: false, hadError: undefined as boolean | undefined };
  sim.b.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, (s) => {
    state.srv = s;
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => { state.ended = true; });
    s.on('error', (e: CodedError) => { state.error = e; });
    s.on('close', (hadError: boolean) => { state.closed = true; state.hadError = hadError; });
  }).listen(80);
  return { got, state, bytes: () => Buffer.concat(got) };
}

test('a Buffer may be reused once its write callback ran: the peer gets what was written', async () => {
  const sim = simPair();
  const col = collector(sim);
  const c = sim.a.connect(80, B_ADDR);
  const original = pattern(100_000, 1);
  const buf = Buffer.from(original);
  let called = false;
  c.write(buf, () => {
    called = true;
    buf.fill(0xee); // node:net allows this now
  });
  // Many small writes from one reused buffer, each refilled after its callback.
  const small = Buffer.alloc(100);
  const expected: Buffer[] = [original];
  for (let i = 0; i < 50; i++) {
    small.fill(i);
    expected.push(Buffer.from(small));
    c.write(small);
    small.fill(0xdd); // even synchronously after write(): net.Socket has copied or written it
  }
  c.end();
  assert.ok(await sim.until(() => col.state.ended, 10_000));
  assert.ok(called);
  const got = col.bytes();
  assert.is(got.length, 105_000);
  assert.is(sha(got), sha(Buffer.concat(expected)), 'bytes changed after their callback');
});

test('backpressure still works: write() returns false, drain follows, 4 MiB arrive intact', async () => {
  const sim = simPair();
  const col = collector(sim);
  const c = sim.a.connect(80, B_ADDR);
  const data = pattern(4 << 20, 2);
  let falses = 0;
  let off = 0;
  const chunk = Buffer.alloc(64 * 1024);
  const pump = (): void => {
    while (off < data.length) {
      data.copy(chunk, 0, off, off + chunk.length);
      off += chunk.length;
      // The same chunk buffer every time: the socket must not keep it.
      if (!c.write(chunk)) {
        falses++;
        c.once('drain', pump);
        return;
      }
    }
    c.end();
  };
  pump();
  assert.ok(await sim.until(() => col.state.ended, 120_000));
  assert.ok(falses > 0, 'write() never said the buffer was full');
  assert.is(sha(col.bytes()), sha(data));
});

test("destroy() on 'finish' is close(2): everything written still arrives, then FIN (no ECONNRESET)", async () => {
  for (const size of [200_000, 2_000_000]) {
    const sim = simPair();
    const col = collector(sim);
    const c = sim.a.connect(80, B_ADDR);
    const data = pattern(size, 3);
    let closeArg: boolean | undefined;
    c.on('close', (hadError: boolean) => { closeArg = hadError; });
    c.end(data);
    c.on('finish', () => c.destroy());
    assert.ok(await sim.until(() => col.state.ended && col.state.closed, 60_000), `size ${size}: peer never saw the end`);
    assert.is(col.state.error, null, `size ${size}: peer got ${col.state.error?.code}`);
    assert.is(col.bytes().length, size);
    assert.is(sha(col.bytes()), sha(data));
    assert.is(closeArg, false, "'close' without an error");
    assert.is(sim.a.counters.get('tcp_rst_sent'), 0);
  }
});

test('destroy() with received data left unread: RST, and the peer sees ECONNRESET (RFC 2525 §2.17)', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  let err: CodedError | null = null;
  sim.b.createServer((s) => {
    srv = s;
    s.on('error', (e: CodedError) => { err = e; });
    s.write(pattern(5000, 4));
  }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  c.pause();
  await sim.until(() => srv !== null && c.readyState === 'open', 1000);
  await sim.wait(50); // the 5000 bytes arrive and sit unread
  c.destroy();
  assert.ok(await sim.until(() => err !== null, 1000));
  assert.is(err!.code, 'ECONNRESET');
  assert.is(sim.a.counters.get('tcp_abort_on_close'), 1);
});

test('data arriving after destroy() is answered with RST (RFC 1122 §4.2.2.13); the writer learns', async () => {
  const sim = simPair();
  const col = collector(sim, { allowHalfOpen: true });
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => col.state.srv !== null && c.readyState === 'open', 1000);
  c.destroy(); // FIN: nothing unread
  await sim.until(() => col.state.ended, 1000);
  assert.is(col.state.srv!.tcpState, 'CLOSE_WAIT');
  col.state.srv!.write('anyone reading?');
  assert.ok(await sim.until(() => col.state.error !== null, 1000));
  assert.is(sim.a.counters.get('tcp_abort_on_data'), 1);
  assert.ok(['EPIPE', 'ECONNRESET'].includes(col.state.error!.code!));
});

test('an orphan in FIN_WAIT_2 is forgotten after tcp_fin_timeout (60 s); a socket that is not an orphan waits', async () => {
  const sim = simPair();
  collector(sim, { allowHalfOpen: true });
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  const d = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  c.resume();
  d.resume();
  await sim.until(() => c.readyState === 'open' && d.readyState === 'open', 1000);
  c.destroy(); // orphan
  d.end(); // half-closed, still owned
  await sim.until(() => c.tcpState === 'CLOSED' && d.tcpState === 'FIN_WAIT_2', 1000);
  const conns = (): string[] => [...sim.a.connections()].map((ep) => ep.conn.state);
  assert.equal(conns().sort(), ['FIN_WAIT_2', 'FIN_WAIT_2']);
  await sim.wait(59_000);
  assert.equal(conns(), ['FIN_WAIT_2', 'FIN_WAIT_2']);
  await sim.wait(2_000);
  assert.equal(conns(), ['FIN_WAIT_2'], 'the orphan is gone, the owned socket stays');
  assert.is(sim.a.counters.get('tcp_fin_wait2_timeouts'), 1);
  assert.is(d.tcpState, 'FIN_WAIT_2');
});

test("'close' carries hadError: true after a reset, false after a clean end", async () => {
  const sim = simPair();
  const col = collector(sim);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => col.state.srv !== null && c.readyState === 'open', 1000);
  let cErr: CodedError | null = null;
  let cClose: boolean | undefined;
  c.on('error', (e: CodedError) => { cErr = e; });
  c.on('close', (h: boolean) => { cClose = h; });
  col.state.srv!.resetAndDestroy();
  assert.ok(await sim.until(() => cClose !== undefined, 1000));
  assert.is(cErr!.code, 'ECONNRESET');
  assert.is(cClose, true);
  assert.is(col.state.hadError, false, 'the side that reset closed without an error');
});

test('a second listen() throws ERR_SERVER_ALREADY_LISTEN, like node:net', () => {
  const sim = simPair();
  const server = sim.b.createServer(() => {});
  server.listen(80);
  try {
    server.listen(81);
    assert.unreachable('listen twice did not throw');
  } catch (e) {
    assert.is((e as CodedError).code, 'ERR_SERVER_ALREADY_LISTEN');
  }
  server.close();
});

test('connect() resolves host names through lookup, emits lookup, and connects', async () => {
  const sim = simPair();
  const col = collector(sim);
  const asked: Array<[string, unknown]> = [];
  const c = sim.a.connect({
    port: 80,
    host: 'peer.example',
    lookup: (host, opts, cb) => {
      asked.push([host, opts.family]);
      setImmediate(() => cb(null, B_ADDR, 4));
    },
  });
  let looked: unknown[] | null = null;
  c.on('lookup', (...args: unknown[]) => { looked = args; });
  assert.is(c.readyState, 'opening');
  assert.is(c.remoteAddress, undefined);
  c.end('hello');
  assert.ok(await sim.until(() => col.state.ended, 5000));
  assert.equal(asked, [['peer.example', 4]]);
  assert.equal(looked, [null, B_ADDR, 4, 'peer.example']);
  assert.is(col.bytes().toString(), 'hello');
  assert.is(c.remoteAddress, B_ADDR);
});

test("connect() to localhost does not throw; a name that does not resolve is an async 'error'", async () => {
  const sim = simPair();
  // The default lookup is dns.lookup: 'localhost' resolves from /etc/hosts.
  const c = sim.a.connect({ port: 80, host: 'localhost' });
  c.on('error', () => {});
  let lookedUp: string | null = null;
  c.on('lookup', (_e: unknown, addr: string) => { lookedUp = addr; });
  // dns.lookup runs in libuv's thread pool: wait in real time.
  for (let i = 0; i < 500 && lookedUp === null; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(lookedUp, '127.0.0.1');
  c.destroy();

  let err: CodedError | null = null;
  const d = sim.a.connect({
    port: 80,
    host: 'nosuch.invalid',
    lookup: (host, _o, cb) => {
      const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host });
      process.nextTick(() => cb(e, '', 0));
    },
  });
  d.on('error', (e: CodedError) => { err = e; });
  assert.ok(await sim.until(() => err !== null, 1000));
  assert.is(err!.code, 'ENOTFOUND');
  assert.is(err!.hostname, 'nosuch.invalid');
  assert.is(d.destroyed, true);
});

test('a write waiting for the host name lookup gets its callback, with ERR_SOCKET_CLOSED_BEFORE_CONNECTION, when the socket is destroyed', async () => {
  const sim = simPair();
  const c = sim.a.connect({ port: 80, host: 'slow.test', lookup: () => {} }); // never answers
  const order: string[] = [];
  c.write(Buffer.from('hello'), (err?: Error | null) => order.push(`cb ${(err as CodedError | null | undefined)?.code}`));
  c.on('close', () => order.push('close'));
  c.destroy();
  assert.ok(await sim.until(() => order.includes('close'), 1000));
  await sim.wait(10);
  // node:net: cb ERR_SOCKET_CLOSED_BEFORE_CONNECTION, then close (the callback used to be lost).
  assert.equal(order, ['cb ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'close']);
});

test('loopback: a stack reaches its own listeners at 127.0.0.1, localhost (node:net\'s default host) and its own address', async () => {
  const sim = simPair();
  const got: string[] = [];
  sim.a.createServer((s) => {
    s.setEncoding('utf8');
    s.on('data', (d: string) => got.push(`${s.remoteAddress} ${d}`));
    s.on('end', () => s.end());
  }).listen(7);
  const before = sim.a.link as unknown as { txPackets: number };
  const sentBefore = before.txPackets;
  const one = sim.a.connect(7, '127.0.0.1');
  one.end('via 127.0.0.1');
  const two = sim.a.connect(7, '10.0.0.1');
  two.end('via own address');
  let three: Socket | null = null;
  await sim.until(() => one.readyState === 'closed' && two.readyState === 'closed', 5000);
  three = sim.a.connect({ port: 7 }); // host defaults to localhost, resolved by dns.lookup
  three.on('error', () => {});
  three.end('via localhost');
  for (let i = 0; i < 500 && three.readyState !== 'closed'; i++) await sim.wait(10).then(() => new Promise((r) => setTimeout(r, 5)));
  assert.equal(got.sort(), ['10.0.0.1 via own address', '127.0.0.1 via 127.0.0.1', '127.0.0.1 via localhost']);
  assert.is(one.localAddress, '127.0.0.1');
  assert.is(before.txPackets, sentBefore, 'nothing went out on the link');
});

test('a packet from the link with a martian source (loopback, 0/8, multicast, our own) or a loopback destination is dropped', () => {
  const sim = simPair();
  sim.a.createServer(() => {}).listen(7);
  const syn = (src: string, dst: string): Buffer =>
    buildTcpPacket({ src, dst, protocol: IPPROTO_TCP, ttl: 64 }, { srcPort: 4000, dstPort: 7, seq: 1, ack: 0, flags: TCP_SYN, window: 1000 });
  // Loopback, this net, multicast, broadcast, and our own address (a LAND attack: src = dst).
  sim.a.receiveBatch([syn('127.0.0.1', '10.0.0.1'), syn('10.0.0.2', '127.0.0.1'), syn('0.0.0.0', '10.0.0.1'), syn('224.0.0.1', '10.0.0.1'),
    syn('255.255.255.255', '10.0.0.1'), syn('10.0.0.1', '10.0.0.1')]);
  assert.is(sim.a.counters.get('ip_martian_source'), 5);
  assert.is(sim.a.counters.get('ip_not_for_us'), 1);
  assert.is([...sim.a.connections()].length, 0);
});

test('connect(): a bad port throws RangeError ERR_SOCKET_BAD_PORT; a used local port is an async EADDRINUSE', async () => {
  const sim = simPair();
  for (const port of [-1, 65536, 1.5, 'http']) {
    try {
      sim.a.connect({ port: port as number, host: B_ADDR });
      assert.unreachable(`port ${port} accepted`);
    } catch (e) {
      assert.instance(e, RangeError);
      assert.is((e as CodedError).code, 'ERR_SOCKET_BAD_PORT');
    }
  }
  sim.b.createServer((s) => s.resume()).listen(80);
  const a = sim.a.connect({ port: 80, host: B_ADDR, localPort: 40000 });
  let err: CodedError | null = null;
  const b = sim.a.connect({ port: 80, host: B_ADDR, localPort: 40000 });
  b.on('error', (e: CodedError) => { err = e; });
  assert.is(err, null, 'reported synchronously');
  assert.ok(await sim.until(() => err !== null, 100));
  assert.is(err!.code, 'EADDRINUSE');
  a.destroy();
});

test('a throwing handler reaches the process (uncaughtException); the stack stays consistent and no event is lost', async () => {
  const sim = simPair();
  const caught: Error[] = [];
  const onUncaught = (e: Error): void => { caught.push(e); };
  process.on('uncaughtException', onUncaught);
  try {
    const got: Buffer[] = [];
    let ended = false;
    let throws = 3;
    sim.b.createServer((s) => {
      s.on('data', (d: Buffer) => {
        got.push(d);
        if (throws-- > 0) throw new Error('bug in a data handler');
      });
      s.on('end', () => { ended = true; s.end(); });
    }).listen(80);
    sim.b.createServer(() => {
      throw new Error('bug in a connection listener');
    }).listen(81);
    const data = pattern(300_000, 5);
    const c = sim.a.connect(80, B_ADDR);
    c.resume();
    c.end(data);
    const d = sim.a.connect(81, B_ADDR);
    d.resume();
    d.end('x');
    assert.ok(await sim.until(() => ended && c.tcpState === 'TIME_WAIT', 20_000), 'the transfer did not finish');
    assert.is(sha(Buffer.concat(got)), sha(data));
    assert.is(caught.filter((e) => e.message === 'bug in a data handler').length, 3);
    assert.is(caught.filter((e) => e.message === 'bug in a connection listener').length, 1);
    assert.is(sim.b.counters.get('stack_internal_error'), 0);
    // The connection whose listener threw still works as a TCP connection.
    assert.ok(await sim.until(() => d.tcpState === 'TIME_WAIT' || d.tcpState === 'FIN_WAIT_2', 5000));
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});

/** A memory link that records whether the stack wants it to keep the process alive. */
function refRig() {
  const clock = new VirtualClock(1000);
  const [la, lb] = createMemoryPair({ clock, latencyMs: 1 });
  let refd: boolean | null = null;
  const link: Link = Object.assign(Object.create(Object.getPrototypeOf(la)), la, {
    ref: () => { refd = true; },
    unref: () => { refd = false; },
  });
  // The memory link's peer delivers to `la`: forward it to the wrapper's owner.
  la.onReceive = (ps, t) => link.onReceive?.(ps, t);
  const a = new NetStack({ link, addr: '10.0.0.1', clock });
  const b = new NetStack({ link: lb, addr: B_ADDR, clock });
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const until = async (pred: () => boolean, ms = 5000): Promise<boolean> => {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      await turn();
      if (pred()) return true;
      clock.advanceTo(Math.min(end, clock.nextTime()));
    }
    return pred();
  };
  return { a, b, clock, until, refd: () => refd };
}

test('ref()/unref(): only ref\'d sockets, listening servers and unfinished orphans keep the process alive', async () => {
  const r = refRig();
  assert.is(r.refd(), false, 'a stack alone does not keep the process alive');
  r.b.createServer((s) => s.resume()).listen(80);
  const c = r.a.connect(80, B_ADDR);
  assert.is(r.refd(), true, 'a connecting socket does');
  c.unref();
  assert.is(r.refd(), false, 'an unref\'d one does not');
  c.ref();
  assert.is(r.refd(), true);
  const server = r.a.createServer(() => {});
  server.listen(7);
  c.unref();
  assert.is(r.refd(), true, 'a listening server does');
  server.unref();
  assert.is(r.refd(), false);
  server.ref();
  server.close();
  assert.is(r.refd(), false, 'a closed server does not');
  c.ref();
  assert.ok(await r.until(() => c.readyState === 'open'));
  c.write(pattern(100_000, 6));
  c.destroy(); // an orphan with data in flight: kept alive until its FIN is acknowledged
  assert.is(r.refd(), true);
  assert.ok(await r.until(() => r.refd() === false));
  assert.ok(['FIN_WAIT_2', 'TIME_WAIT'].includes([...r.a.connections()][0]!.conn.state));
  r.a.ref();
  assert.is(r.refd(), true, 'stack.ref() for a host that only answers ping');
  r.a.unref();
  assert.is(r.refd(), false);
});

test('Stack.close() closes every socket as process exit does: FIN (RST when unread), close events, then the link', async () => {
  const sim = simPair();
  const col = collector(sim, { allowHalfOpen: true });
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  await sim.until(() => col.state.srv !== null && c.readyState === 'open', 1000);
  const data = pattern(50_000, 7);
  c.write(data);
  let closed: boolean | undefined;
  c.on('close', (h: boolean) => { closed = h; });
  let done = false;
  void sim.a.close().then(() => { done = true; });
  assert.ok(await sim.until(() => done, 5000), 'close() never resolved');
  assert.is(closed, false);
  assert.ok(col.state.ended, 'the peer got FIN');
  assert.is(col.state.error, null);
  assert.is(sha(col.bytes()), sha(data), 'what was written before close() arrived');

  // Unread data at close: RST instead.
  const sim2 = simPair();
  let err: CodedError | null = null;
  let srv: Socket | null = null;
  sim2.b.createServer((s) => { srv = s; s.on('error', (e: CodedError) => { err = e; }); s.write('unread'); }).listen(80);
  const d = sim2.a.connect(80, B_ADDR);
  d.pause();
  await sim2.until(() => srv !== null && d.readyState === 'open', 1000);
  await sim2.wait(20);
  void sim2.a.close();
  assert.ok(await sim2.until(() => err !== null, 2000));
  assert.is(err!.code, 'ECONNRESET');
});

test('Stack.close({ linger: 0 }) resets what is unfinished and closes the link at once', async () => {
  const sim = simPair();
  const col = collector(sim, { allowHalfOpen: true });
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  await sim.until(() => col.state.srv !== null && c.readyState === 'open', 1000);
  let closed = false;
  c.on('close', () => { closed = true; });
  let done = false;
  void sim.a.close({ linger: 0 }).then(() => { done = true; });
  assert.is([...sim.a.connections()].length, 0, 'nothing left');
  assert.ok(await sim.until(() => done && closed && col.state.error !== null, 1000));
  assert.is(col.state.error!.code, 'ECONNRESET');
});

test.run();
