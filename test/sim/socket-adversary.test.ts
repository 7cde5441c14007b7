// A careless user of the node:net-shaped API, in virtual time: buffers
// reused, calls in odd orders, handlers that throw, node:http on top. Each
// case checks that no byte is lost or changed, that no peer is left
// half-open, and that the socket behaves as net.Socket does on loopback
// (what node:net does was checked with small scripts against Node 20).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { simPair, A_ADDR, B_ADDR, type SimPair } from './harness.js';
import type { Socket } from '../../src/socket/socket.js';
import { createServer as createHttpServer, request as httpRequest, Agent, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

type CodedError = Error & { code?: string };

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function pattern(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + salt + (i >> 9)) & 0xff;
  return b;
}

/** A server on B that keeps what each connection sends. */
function sink(sim: SimPair, opts: { allowHalfOpen?: boolean; port?: number } = {}) {
  const got: Buffer[] = [];
  const st = { srv: null as Socket | null, ended: false, error: null as CodedError | null, closed: false };
  sim.b.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, (s) => {
    st.srv = s;
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => { st.ended = true; });
    s.on('error', (e: CodedError) => { st.error = e; });
    s.on('close', () => { st.closed = true; });
  }).listen(opts.port ?? 80);
  return { st, bytes: () => Buffer.concat(got) };
}

/** Connections left in a stack's table, by state. */
const states = (s: SimPair['a']): string[] => [...s.connections()].map((ep) => ep.conn.state).sort();

test('destroy() while a write waits for drain: its callback still runs (node:net calls it with null) and the bytes arrive', async () => {
  const sim = simPair();
  const col = sink(sim);
  const c = sim.a.connect(80, B_ADDR);
  const data = pattern(600_000, 1); // beyond sndBuf: the write waits for 'drain'
  let cbErr: Error | null | undefined;
  const ok = c.write(data, (e) => { cbErr = e ?? null; });
  assert.is(ok, false);
  let later: CodedError | null | undefined;
  c.write('tail', (e) => { later = (e as CodedError) ?? null; });
  await sim.until(() => c.readyState === 'open', 1000);
  c.destroy();
  assert.ok(await sim.until(() => col.st.ended && cbErr !== undefined && later !== undefined, 30_000), `callback ${String(cbErr)}`);
  assert.is(cbErr, null, 'the in-flight write is reported done');
  assert.is(later!.code, 'ERR_STREAM_DESTROYED', 'a write still in the stream buffer fails');
  assert.is(sha(col.bytes()), sha(data), 'the written bytes arrive (close(2) keeps queued data)');
  assert.is(col.st.error, null);
});

test('calls in odd orders: destroy twice, end after destroy, resetAndDestroy after destroy, write after end', async () => {
  const sim = simPair();
  const col = sink(sim);
  const c = sim.a.connect(80, B_ADDR);
  const errors: CodedError[] = [];
  c.on('error', (e: CodedError) => errors.push(e));
  let closes = 0;
  c.on('close', () => closes++);
  await sim.until(() => c.readyState === 'open', 1000);
  c.end('one');
  let writeErr: CodedError | null = null;
  c.write('two', (e) => { writeErr = e as CodedError; });
  c.destroy();
  c.destroy();
  c.end();
  c.resetAndDestroy();
  assert.ok(await sim.until(() => col.st.closed && closes > 0, 5000));
  await sim.wait(1000);
  assert.is(closes, 1);
  assert.is(col.bytes().toString(), 'one');
  assert.is(col.st.error, null, 'the peer saw a FIN, not a RST');
  assert.is(writeErr!.code, 'ERR_STREAM_WRITE_AFTER_END');
  assert.equal(errors.map((e) => e.code), ['ERR_STREAM_WRITE_AFTER_END']);
});

test('destroy() inside a data handler while the peer keeps sending: the peer learns (RST), nothing is left behind', async () => {
  const sim = simPair();
  let srvClose: boolean | undefined;
  sim.b.createServer((s) => {
    s.once('data', () => s.destroy());
    s.on('close', (h: boolean) => { srvClose = h; });
  }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  let err: CodedError | null = null;
  c.on('error', (e: CodedError) => { err = e; });
  const chunk = pattern(10_000, 2);
  let n = 0;
  const pump = (): void => {
    while (n < 200 && !c.destroyed) {
      n++;
      if (!c.write(chunk)) return void c.once('drain', pump);
    }
  };
  pump();
  assert.ok(await sim.until(() => err !== null && srvClose !== undefined, 30_000));
  assert.ok(['ECONNRESET', 'EPIPE'].includes(err!.code!), String(err!.code));
  assert.is(srvClose, false);
  await sim.wait(200);
  assert.equal(states(sim.b), [], 'the orphan is gone after its RST');
  assert.equal(states(sim.a), []);
});

test('end(data) then destroy() in the same tick, and destroy() on a socket whose peer already closed: everything arrives', async () => {
  const sim = simPair();
  const col = sink(sim);
  const c = sim.a.connect(80, B_ADDR);
  const data = pattern(300_000, 3);
  await sim.until(() => c.readyState === 'open', 1000);
  c.end(data);
  c.destroy();
  assert.ok(await sim.until(() => col.st.ended && col.st.closed, 30_000));
  assert.is(sha(col.bytes()), sha(data));
  assert.is(col.st.error, null);

  // While connecting, destroy() abandons the connection as node:net does
  // (close(2) in SYN_SENT sends nothing more; the peer's SYN,ACK gets a RST).
  const e = sim.a.connect(80, B_ADDR);
  e.end(data);
  e.destroy();
  await sim.wait(1000);
  assert.equal(states(sim.a), ['TIME_WAIT']);
  assert.equal(states(sim.b), [], 'the peer is not left in SYN_RECEIVED');

  // The peer ends first; we write an answer and destroy at once.
  const sim2 = simPair();
  const got: Buffer[] = [];
  let ended = false;
  sim2.b.createServer({ allowHalfOpen: true }, (s) => {
    s.on('end', () => {
      s.write(data);
      s.destroy();
    });
    s.resume();
  }).listen(80);
  const d = sim2.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  d.on('data', (b: Buffer) => got.push(b));
  d.on('end', () => { ended = true; });
  d.end('question');
  assert.ok(await sim2.until(() => ended, 30_000));
  assert.is(sha(Buffer.concat(got)), sha(data));
});

test('options set during a host name lookup take effect: keepalive probes, no-delay, idle timeout', async () => {
  const sim = simPair();
  sink(sim);
  let lookedUp: ((e: null, a: string, f: number) => void) | null = null;
  const c = sim.a.connect({ port: 80, host: 'peer.test', lookup: (_h, _o, cb) => { lookedUp = cb; } });
  c.setKeepAlive(true, 5000);
  c.setNoDelay(true);
  let timeouts = 0;
  c.setTimeout(20_000, () => { timeouts++; });
  await sim.wait(100);
  assert.is(c.readyState, 'opening');
  lookedUp!(null, B_ADDR, 4);
  assert.ok(await sim.until(() => c.readyState === 'open', 1000));
  const before = sim.a.counters.get('tcp_keepalive_probes');
  await sim.wait(16_000);
  assert.ok(sim.a.counters.get('tcp_keepalive_probes') > before, 'no keepalive probe after 16 s idle');
  assert.is(timeouts, 0);
  await sim.wait(5_000);
  assert.is(timeouts, 1, "'timeout' after 20 s without data");
  c.destroy();
});

test('strings with encodings, zero-length writes, cork/uncork and many small writes keep every byte in order', async () => {
  const sim = simPair();
  const col = sink(sim);
  const c = sim.a.connect(80, B_ADDR);
  const expected: Buffer[] = [];
  const w = (chunk: string | Buffer, enc?: BufferEncoding): void => {
    expected.push(typeof chunk === 'string' ? Buffer.from(chunk, enc) : Buffer.from(chunk));
    if (enc !== undefined) c.write(chunk, enc);
    else c.write(chunk);
  };
  w('héllo wörld ✓ ');
  w('deadbeef', 'hex');
  w('aGVsbG8=', 'base64');
  w('\u00ff\u00fe', 'latin1');
  w(Buffer.alloc(0));
  w('');
  c.cork();
  for (let i = 0; i < 2000; i++) w(Buffer.from([i & 0xff, (i >> 8) & 0xff, 0x55]));
  c.uncork();
  const reused = Buffer.alloc(7);
  for (let i = 0; i < 1000; i++) {
    reused.fill(i & 0xff);
    w(reused);
  }
  // A UTF-8 character split across two Buffer writes is still the same bytes.
  const euro = Buffer.from('€');
  w(euro.subarray(0, 1));
  w(euro.subarray(1));
  c.end();
  assert.ok(await sim.until(() => col.st.ended, 30_000));
  assert.is(sha(col.bytes()), sha(Buffer.concat(expected)));
});

test('two sockets piped through a proxy socket (a -> proxy -> b) deliver 4 MiB both ways intact, with backpressure', async () => {
  const sim = simPair();
  // On B: an echo server on 81 and a proxy on 80 that forwards to it over loopback.
  sim.b.createServer({ allowHalfOpen: true }, (s) => s.pipe(s)).listen(81);
  sim.b.createServer({ allowHalfOpen: true }, (s) => {
    const up = sim.b.connect({ port: 81, host: '127.0.0.1', allowHalfOpen: true });
    s.pipe(up).pipe(s);
  }).listen(80);
  const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
  const data = pattern(4 << 20, 4);
  const got: Buffer[] = [];
  let ended = false;
  c.on('data', (b: Buffer) => got.push(b));
  c.on('end', () => { ended = true; });
  c.end(data);
  assert.ok(await sim.until(() => ended, 120_000), `got ${Buffer.concat(got).length}`);
  assert.is(sha(Buffer.concat(got)), sha(data));
});

test('server.close() with open connections: new SYNs are refused, open ones go on, then close is emitted', async () => {
  const sim = simPair();
  const accepted: Socket[] = [];
  const server = sim.b.createServer((s) => { accepted.push(s); s.pipe(s); });
  server.listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => accepted.length === 1, 1000);
  let closed = false;
  server.close(() => { closed = true; });
  const late = sim.a.connect(80, B_ADDR);
  let lateErr: CodedError | null = null;
  late.on('error', (e: CodedError) => { lateErr = e; });
  assert.ok(await sim.until(() => lateErr !== null, 1000));
  assert.is(lateErr!.code, 'ECONNREFUSED');
  const echoed: Buffer[] = [];
  c.on('data', (b: Buffer) => echoed.push(b));
  c.write('still here');
  await sim.wait(100);
  assert.is(Buffer.concat(echoed).toString(), 'still here');
  assert.is(closed, false);
  c.end();
  assert.ok(await sim.until(() => closed, 5000));
});

test('listen(0) picks a port; connect to it by name through loopback; address() and the ports agree', async () => {
  const sim = simPair();
  const server = sim.a.createServer((s) => s.end('hi'));
  let listening = false;
  server.listen(0, () => { listening = true; });
  await sim.until(() => listening, 100);
  const port = server.address()!.port;
  assert.ok(port >= 32768, `port ${port}`);
  const c = sim.a.connect({ port, host: 'localhost', lookup: (_h, _o, cb) => process.nextTick(() => cb(null, '127.0.0.1', 4)) });
  const got: Buffer[] = [];
  c.on('data', (b: Buffer) => got.push(b));
  let ended = false;
  c.on('end', () => { ended = true; });
  assert.ok(await sim.until(() => ended, 1000));
  assert.is(Buffer.concat(got).toString(), 'hi');
  assert.is(c.remotePort, port);
  assert.is(c.remoteAddress, '127.0.0.1');
});

test('Stack.close() twice and during a host name lookup: one close event per socket, no throw, the lookup is ignored', async () => {
  const sim = simPair();
  sink(sim);
  let answer: ((e: null, a: string, f: number) => void) | null = null;
  const c = sim.a.connect({ port: 80, host: 'slow.test', lookup: (_h, _o, cb) => { answer = cb; } });
  const d = sim.a.connect(80, B_ADDR);
  let closes = 0;
  c.on('close', () => closes++);
  d.on('close', () => closes++);
  const p1 = sim.a.close();
  const p2 = sim.a.close();
  assert.is(p1, p2);
  let done = false;
  void p1.then(() => { done = true; });
  assert.ok(await sim.until(() => done, 5000));
  answer!(null, B_ADDR, 4);
  await sim.wait(100);
  assert.is(closes, 2);
  assert.equal(states(sim.a), []);
  // The SYN was in flight when the stack went away: the peer's SYN_RECEIVED
  // entry gives up after its SYN,ACK retries (63 s), as for a host that vanished.
  await sim.wait(64_000);
  assert.equal(states(sim.b), [], 'the peer was not left half-open');
});

/** Run `body` collecting uncaught exceptions instead of letting them end the test process. */
async function catching(body: (caught: Error[]) => Promise<void>): Promise<void> {
  const caught: Error[] = [];
  const on = (e: Error): void => { caught.push(e); };
  process.on('uncaughtException', on);
  try {
    await body(caught);
  } finally {
    process.off('uncaughtException', on);
  }
}

test('a throw in every kind of handler reaches the process once; a transfer beside it is not disturbed', async () => {
  await catching(async (caught) => {
    const sim = simPair({ tcp: { sndBuf: 64 * 1024 } });
    const col = sink(sim);
    const bulk = sim.a.connect(80, B_ADDR);
    const data = pattern(2 << 20, 5);
    bulk.end(data);
    const boom = (where: string) => (): never => { throw new Error(`boom ${where}`); };

    // Server side on 81: 'listening', 'connection', 'data', 'end'.
    const server = sim.b.createServer((s) => {
      s.on('data', boom('data'));
      // Duplex calls end() for allowHalfOpen false only after the 'end'
      // listeners returned, in node:net too: a throwing one leaves it half-open.
      s.on('end', () => s.end());
      s.on('end', boom('end'));
      boom('connection')();
    });
    server.on('listening', boom('listening'));
    server.listen(81);
    // Client side: 'connect', 'drain', 'timeout', 'close', 'error', 'lookup'.
    const c = sim.a.connect({ port: 81, host: B_ADDR });
    c.on('connect', boom('connect'));
    c.on('drain', boom('drain'));
    c.on('close', boom('close'));
    c.resume();
    c.write(pattern(300_000, 6));
    c.prependOnceListener('drain', () => c.end()); // before the throwing listener
    const t = sim.a.connect(80, B_ADDR);
    t.setTimeout(1000);
    t.on('timeout', () => t.destroy());
    t.on('timeout', boom('timeout'));
    const r = sim.a.connect(82, B_ADDR); // refused
    r.on('error', boom('error'));
    // As in node:net, a 'lookup' handler that throws stops that connect (node
    // emits 'lookup' and then connects in the same callback).
    const l = sim.a.connect({ port: 80, host: 'b.test', lookup: (_h, _o, cb) => process.nextTick(() => cb(null, B_ADDR, 4)) });
    l.on('lookup', boom('lookup'));
    assert.ok(await sim.until(() => col.st.ended, 60_000), 'the bulk transfer stopped');
    await sim.wait(5000);
    assert.is(sha(col.bytes().subarray(0, data.length)), sha(data));
    const where = [...new Set(caught.map((e) => e.message.replace('boom ', '')))].sort();
    assert.equal(where, ['close', 'connect', 'connection', 'data', 'drain', 'end', 'error', 'listening', 'lookup', 'timeout'], where.join());
    assert.is(sim.a.counters.get('stack_internal_error'), 0);
    assert.is(sim.b.counters.get('stack_internal_error'), 0);
  });
});


test('node:http over our sockets: keep-alive, pipelined requests, a large body, and an agent reusing one connection', async () => {
  const sim = simPair();
  const big = pattern(1_000_000, 8);
  const http = createHttpServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = req.url === '/big' ? big : Buffer.from(`${req.method} ${req.url} ${sha(Buffer.concat(parts)).slice(0, 8)}`);
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
  });
  let conns = 0;
  sim.b.createServer((s) => { conns++; http.emit('connection', s); }).listen(80);

  // Three requests pipelined in one write, then the answers in order.
  const raw = sim.a.connect(80, B_ADDR);
  const reply: Buffer[] = [];
  raw.on('data', (d: Buffer) => reply.push(d));
  raw.write('GET /a HTTP/1.1\r\nHost: b\r\n\r\nGET /big HTTP/1.1\r\nHost: b\r\n\r\nPOST /c HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello');
  assert.ok(await sim.until(() => Buffer.concat(reply).includes('POST /c'), 30_000));
  const text = Buffer.concat(reply);
  const a = text.indexOf('GET /a');
  const bigAt = text.indexOf(big.subarray(0, 64));
  assert.ok(a > 0 && bigAt > a && text.indexOf('POST /c') > bigAt, 'answers out of order');
  assert.is(sha(text.subarray(bigAt, bigAt + big.length)), sha(big));
  raw.end();

  // An http.Agent with keepAlive over createConnection: 20 requests, one connection.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  (agent as unknown as { createConnection: () => Duplex }).createConnection = () => sim.a.connect(80, B_ADDR) as unknown as Duplex;
  const get = (path: string, body?: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ agent, host: B_ADDR, port: 80, path, method: body ? 'POST' : 'GET' }, (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve(Buffer.concat(parts)));
      });
      req.on('error', reject);
      req.end(body);
    });
  const before = conns;
  const answers: Array<Promise<Buffer>> = [];
  for (let i = 0; i < 20; i++) answers.push(get(`/r${i}`, i % 5 === 0 ? pattern(100_000, i) : undefined));
  answers.push(get('/big'));
  let all: Buffer[] | null = null;
  void Promise.all(answers).then((r) => { all = r; });
  assert.ok(await sim.until(() => all !== null, 60_000));
  for (let i = 0; i < 20; i++) {
    const want = `${i % 5 === 0 ? 'POST' : 'GET'} /r${i} ${sha(i % 5 === 0 ? pattern(100_000, i) : Buffer.alloc(0)).slice(0, 8)}`;
    assert.is(all![i]!.toString(), want);
  }
  assert.is(sha(all![20]!), sha(big));
  assert.is(conns - before, 1, 'the agent kept one connection alive');
  agent.destroy();
  http.close();
});


test('a listener with backlog 1 and 30 clients at once: SYN cookies carry them all, every echo intact (with and without timestamps)', async () => {
  for (const timestamps of [true, false]) {
    const sim = simPair({ tcp: { timestamps } });
    sim.b.createServer({ backlog: 1, allowHalfOpen: true }, (s) => s.pipe(s)).listen(80);
    const results: Array<string | null> = [];
    const want: string[] = [];
    for (let i = 0; i < 30; i++) {
      const data = pattern(150_000, 20 + i);
      want.push(sha(data));
      results.push(null);
      const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
      const got: Buffer[] = [];
      c.on('data', (b: Buffer) => got.push(b));
      c.on('end', () => { results[i] = sha(Buffer.concat(got)); });
      c.on('error', (e: CodedError) => { results[i] = e.code ?? 'error'; });
      c.end(data);
    }
    assert.ok(await sim.until(() => results.every((r) => r !== null), 60_000), `timestamps ${timestamps}: ${results.filter((r) => r === null).length} unfinished`);
    assert.equal(results, want, `timestamps ${timestamps}`);
    assert.ok(sim.b.counters.get('tcp_syncookies_recv') > 0, 'no cookie was used');
  }
});


test('connect() and listen() on a stack that is closing or closed fail at once with an error event (a reconnect loop in a close handler)', async () => {
  const sim = simPair();
  sink(sim);
  const first = sim.a.connect(80, B_ADDR);
  await sim.until(() => first.readyState === 'open', 1000);
  const errors: string[] = [];
  let again: Socket | null = null;
  first.on('close', () => {
    // A careless reconnect: the stack is closing.
    again = sim.a.connect(80, B_ADDR);
    again.on('error', (e: CodedError) => errors.push(`reconnect ${e.code}`));
  });
  let done = false;
  void sim.a.close().then(() => { done = true; });
  assert.ok(await sim.until(() => done, 5000));
  const late = sim.a.connect(80, B_ADDR);
  late.on('error', (e: CodedError) => errors.push(`late ${e.code}`));
  const server = sim.a.createServer(() => {});
  server.on('error', (e: CodedError) => errors.push(`listen ${e.code}`));
  server.listen(7);
  await sim.wait(1000);
  assert.ok(again !== null);
  assert.equal(errors.sort(), ['late ENETDOWN', 'listen ENETDOWN', 'reconnect ENETDOWN']);
  assert.is(server.listening, false);
  assert.equal(states(sim.a), []);
  assert.equal(states(sim.b), [], 'no connection was opened towards the peer');
});


test('a reader that paused after its first chunk and then destroys: the peer gets a RST, as from node:net (the rest was never read)', async () => {
  const sim = simPair();
  let err: CodedError | null = null;
  let srv: Socket | null = null;
  sim.b.createServer((s) => {
    srv = s;
    s.on('error', (e: CodedError) => { err = e; });
    s.write(pattern(200_000, 9));
    s.resume();
  }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.until(() => srv !== null, 1000);
  await sim.wait(300); // it all arrives before anyone reads
  let n = 0;
  c.on('data', (d: Buffer) => { n += d.length; c.pause(); });
  await sim.wait(300);
  assert.ok(n > 0 && n < 200_000, String(n));
  c.destroy();
  assert.ok(await sim.until(() => err !== null, 1000), 'the peer believes its 200 000 bytes were read (FIN)');
  assert.is(err!.code, 'ECONNRESET');
});

test('a paused reader holds back the window: what it has not asked for stays in the TCP receive buffer', async () => {
  const sim = simPair();
  sim.b.createServer((s) => { s.write(pattern(2_000_000, 10)); s.on('error', () => {}); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  await sim.wait(2000); // a full receive buffer before anyone reads
  let n = 0;
  c.on('data', (d: Buffer) => { n += d.length; c.pause(); });
  await sim.until(() => n > 0, 1000);
  await sim.wait(2000);
  // node:net takes at most one 64 KiB read beyond its highWaterMark; the
  // rest waits in the kernel, whose full buffer closes the window.
  const ep = [...sim.a.connections()][0]!;
  const peerEp = [...sim.b.connections()][0]!;
  const acked = peerEp.conn.sndUna - peerEp.conn.iss - 1;
  const beyond = acked - ep.conn.readable - n - c.readableLength;
  assert.ok(beyond <= 64 * 1024, `${beyond} bytes taken from TCP that the stream never asked for`);
  // Full: the buffer as autotuning left it (it grew while the stream still read), to the byte
  // or up to the rounding of the last window (shift 7).
  const cap = ep.conn.recvBuffer.capacity;
  assert.ok(ep.conn.readable >= cap - 127 && ep.conn.readable <= cap + 127, `the receive buffer is full: ${ep.conn.readable} of ${cap}`);
  c.destroy();
});


test('node:http answers every pipelined request of a client that sends its FIN with them (printf ... | nc), as over node:net', async () => {
  for (const allowHalfOpen of [false, true]) {
    const sim = simPair();
    const http = createHttpServer((req, res) => {
      const body = `hello ${req.url}\n`;
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    sim.b.createServer({ allowHalfOpen }, (s) => http.emit('connection', s)).listen(80);
    const c = sim.a.connect({ port: 80, host: B_ADDR, allowHalfOpen: true });
    let text = '';
    let ended = false;
    c.setEncoding('latin1');
    c.on('data', (d: string) => { text += d; });
    c.on('end', () => { ended = true; });
    c.end('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(await sim.until(() => ended, 5000));
    assert.equal(text.match(/hello \/./g), ['hello /a', 'hello /b', 'hello /c'], `allowHalfOpen ${allowHalfOpen}`);
  }
});


test('simultaneous close by two orphans: with nothing unread both finish through CLOSING; with data crossing, RSTs, and nobody is left open', async () => {
  for (const crossing of [false, true]) {
    const sim = simPair();
    let srv: Socket | null = null;
    sim.b.createServer((s) => { srv = s; s.on('error', () => {}); }).listen(80);
    const c = sim.a.connect(80, B_ADDR);
    c.on('error', () => {});
    await sim.until(() => srv !== null && c.readyState === 'open', 1000);
    if (crossing) {
      c.write(pattern(100_000, 11));
      srv!.write(pattern(100_000, 12));
      await sim.wait(0);
    }
    c.destroy();
    srv!.destroy();
    await sim.wait(200);
    const left = [...states(sim.a), ...states(sim.b)];
    assert.ok(left.every((st) => st === 'TIME_WAIT'), `crossing ${crossing}: ${left.join()}`);
    if (!crossing) assert.is(sim.a.counters.get('tcp_rst_sent') + sim.b.counters.get('tcp_rst_sent'), 0);
    await sim.wait(61_000);
    assert.equal([...states(sim.a), ...states(sim.b)], []);
  }
});


test('a reader paused for an hour, a single 20 MB write, then resume: nothing times out, every byte arrives', async () => {
  const sim = simPair();
  let srv: Socket | null = null;
  sim.b.createServer((s) => { srv = s; s.pause(); }).listen(80);
  const c = sim.a.connect(80, B_ADDR);
  const data = pattern(20 << 20, 13);
  let cbDone = false;
  assert.is(c.write(data, () => { cbDone = true; }), false);
  c.end();
  let err: CodedError | null = null;
  c.on('error', (e: CodedError) => { err = e; });
  await sim.until(() => srv !== null, 1000);
  await sim.wait(3_600_000);
  assert.is(err, null);
  assert.is(c.tcpState, 'ESTABLISHED');
  const got: Buffer[] = [];
  let ended = false;
  srv!.on('data', (b: Buffer) => got.push(b));
  srv!.on('end', () => { ended = true; });
  srv!.resume();
  assert.ok(await sim.until(() => ended, 120_000));
  assert.ok(cbDone);
  assert.is(sha(Buffer.concat(got)), sha(data));
});


test('500 connects to a closed port over loopback are all refused at once (RSTs to ourselves are not rate limited)', async () => {
  const sim = simPair();
  let refused = 0;
  for (let i = 0; i < 500; i++) {
    const c = sim.a.connect(9, i % 2 === 0 ? '127.0.0.1' : A_ADDR);
    c.on('error', (e: CodedError) => { if (e.code === 'ECONNREFUSED') refused++; });
  }
  await sim.wait(100);
  assert.is(refused, 500);
  assert.is(sim.a.counters.get('tcp_rst_ratelimited'), 0);
  // From the link they still are (FreeBSD's badport_bandlim).
  for (let i = 0; i < 500; i++) sim.b.connect(9, A_ADDR).on('error', () => {});
  await sim.wait(100);
  assert.ok(sim.a.counters.get('tcp_rst_ratelimited') >= 250);
});

test("server.maxConnections: connections beyond it are closed with a FIN and reported as 'drop', as node:net does", async () => {
  const sim = simPair();
  const server = sim.b.createServer((s) => s.resume());
  server.maxConnections = 2;
  const drops: Array<{ remotePort: number }> = [];
  server.on('drop', (d: { remotePort: number }) => drops.push(d));
  server.listen(80);
  const ends: string[] = [];
  const clients = [0, 1, 2, 3].map((i) => {
    const c = sim.a.connect(80, B_ADDR);
    c.on('end', () => ends.push(`${i} end`));
    c.on('error', (e: CodedError) => ends.push(`${i} ${e.code}`));
    c.resume();
    return c;
  });
  await sim.wait(500);
  assert.equal(ends.sort(), ['2 end', '3 end']);
  assert.equal(drops.map((d) => d.remotePort).sort(), [clients[2]!.localPort, clients[3]!.localPort].sort());
  assert.equal(clients.map((c) => c.readyState), ['open', 'open', 'closed', 'closed']);
});

test('listen(process.env.PORT): a numeric string is a port, as in node:net; a bad port throws RangeError at once', async () => {
  const sim = simPair();
  const env = { PORT: '8080' } as Record<string, string>;
  let listening = false;
  const server = sim.b.createServer((s) => s.end('ok'));
  server.on('error', (e: CodedError) => assert.unreachable(`listen failed: ${e.message}`));
  server.listen(env.PORT, () => { listening = true; });
  await sim.wait(10);
  assert.ok(listening);
  assert.is(server.address()!.port, 8080);
  const other = sim.b.createServer();
  other.listen({ port: '0' });
  await sim.wait(10);
  assert.ok(other.address()!.port >= 32768);
  for (const bad of [70000, -1, 'http', 1.5]) {
    try {
      sim.b.createServer().listen(bad as number);
      assert.unreachable(`listen(${bad}) accepted`);
    } catch (e) {
      assert.instance(e, RangeError);
      assert.is((e as CodedError).code, 'ERR_SOCKET_BAD_PORT');
    }
  }
});

test("a server counts its connections even when a careless handler removes every 'close' listener (node:net counts in destroy)", async () => {
  const sim = simPair();
  const server = sim.b.createServer((s) => {
    s.removeAllListeners('close');
    s.resume();
    s.on('end', () => s.destroy());
  });
  server.maxConnections = 1;
  server.listen(80);
  const first = sim.a.connect(80, B_ADDR);
  first.resume();
  await sim.until(() => first.readyState === 'open', 1000);
  await sim.wait(10);
  first.end();
  await sim.wait(100);
  let count = -1;
  server.getConnections((_e, n) => { count = n; });
  await sim.wait(1);
  assert.is(count, 0);
  // The slot is free again.
  const second = sim.a.connect(80, B_ADDR);
  let dropped = false;
  server.on('drop', () => { dropped = true; });
  second.resume();
  await sim.wait(100);
  assert.is(dropped, false);
  second.end();
  let closed = false;
  server.close(() => { closed = true; });
  assert.ok(await sim.until(() => closed, 1000));
});

test.run();
