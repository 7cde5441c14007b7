// A hostile peer against a server written as a careless user writes it
// (write an answer, destroy()): orphans facing zero windows, peers that never
// ACK our FIN or never send theirs, RSTs in every state, ACKs of data never
// sent. Nothing may live forever, throw, or leave a socket without 'close'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostileRig, PeerConn } from './hostile-peer.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TCP_PSH } from '../../src/wire/tcp.js';
import { seqAdd } from '../../src/wire/seq.js';
import type { Socket } from '../../src/socket/socket.js';

const states = (r: ReturnType<typeof hostileRig>): string[] => [...r.stack.connections()].map((ep) => ep.conn.state).sort();

/** A server that answers every connection with `bytes` and destroys the socket (an orphan follows). */
function answerAndDestroy(r: ReturnType<typeof hostileRig>, bytes: number): { accepted: Socket[] } {
  const accepted: Socket[] = [];
  r.stack.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.write(Buffer.alloc(bytes, 0x61));
    s.destroy();
  }).listen(80);
  return { accepted };
}

test('an orphan facing a zero window that the peer keeps answering gives up with a RST in bounded time', async () => {
  const r = hostileRig();
  answerAndDestroy(r, 200_000);
  const p = await PeerConn.open(r, 5000, { window: 0 });
  const start = r.clock.now();
  // Answer every probe: still a zero window.
  let gone = false;
  while (!gone && r.clock.now() - start < 3_600_000) {
    await r.until(() => p.fresh().length > 0, 600_000);
    gone = p.segments().some((s) => s.flags & TCP_RST);
    if (!gone) p.send(TCP_ACK, undefined, 0);
  }
  const took = r.clock.now() - start;
  assert.ok(gone, 'no RST after an hour');
  assert.ok(took < 600_000, `the orphan lived ${took} ms`);
  assert.equal(states(r), []);
  assert.is(r.stack.counters.get('tcp_orphan_gave_up'), 1);
});

test('an orphan whose peer never ACKs the FIN is forgotten after its retries; the owner saw close long before', async () => {
  const r = hostileRig();
  let closed = false;
  r.stack.createServer((s) => {
    s.on('close', () => { closed = true; });
    s.end('bye');
    s.destroy();
  }).listen(80);
  const p = await PeerConn.open(r, 5001);
  await r.until(() => closed, 1000);
  assert.ok(closed);
  const start = r.clock.now();
  assert.ok(await r.until(() => states(r).length === 0, 3_600_000), 'the orphan never gave up');
  const took = r.clock.now() - start;
  assert.ok(took < 300_000, `lived ${took} ms`);
  const fins = p.segments().filter((s) => s.flags & TCP_FIN).length;
  assert.ok(fins >= 2 && fins <= 10, `${fins} FINs`);
});

test('1000 orphans in FIN_WAIT_2 whose peers never close are all forgotten after tcp_fin_timeout', async () => {
  const r = hostileRig();
  r.stack.createServer((s) => { s.on('error', () => {}); s.destroy(); }).listen(80);
  const peers: PeerConn[] = [];
  for (let i = 0; i < 1000; i++) peers.push(await PeerConn.open(r, 10_000 + i));
  await r.wait(100);
  for (const p of peers) {
    p.fresh();
    p.send(TCP_ACK, undefined, 65535, seqAdd(p.rcvNxt, 1)); // ACK our FIN, send none
  }
  await r.wait(100);
  assert.is(states(r).filter((s) => s === 'FIN_WAIT_2').length, 1000);
  await r.wait(61_000);
  assert.equal(states(r), []);
  assert.is(r.stack.counters.get('tcp_fin_wait2_timeouts'), 1000);
});

test('data to an orphan after it closed gets a RST; a SYN to it gets a challenge ACK; nothing throws', async () => {
  const r = hostileRig();
  r.stack.createServer((s) => { s.on('error', () => {}); s.destroy(); }).listen(80);
  const p = await PeerConn.open(r, 5002);
  await r.wait(50);
  p.fresh();
  const finAck = seqAdd(p.rcvNxt, 1);
  p.send(TCP_ACK, undefined, 65535, finAck);
  await r.wait(10);
  assert.equal(states(r), ['FIN_WAIT_2']);
  p.send(TCP_SYN, undefined, 65535, 0, seqAdd(p.seq, 1000));
  await r.wait(10);
  const challenge = p.fresh();
  assert.is(challenge.length, 1);
  assert.is(challenge[0]!.flags, TCP_ACK);
  p.send(TCP_ACK | TCP_PSH, Buffer.from('too late'), 65535, finAck);
  await r.wait(10);
  const rst = p.fresh();
  assert.is(rst.length, 1);
  assert.is(rst[0]!.flags & TCP_RST, TCP_RST);
  assert.equal(states(r), []);
  assert.is(r.stack.counters.get('stack_internal_error'), 0);
});


/** A server whose one socket records how it ended. */
function recorder(r: ReturnType<typeof hostileRig>, allowHalfOpen: boolean, onSocket: (s: Socket) => void = () => {}) {
  const rec = { sock: null as Socket | null, error: null as string | null, closed: undefined as boolean | undefined, data: '' };
  r.stack.createServer({ allowHalfOpen }, (s) => {
    rec.sock = s;
    s.setEncoding('latin1');
    s.on('data', (d: string) => { rec.data += d; });
    s.on('error', (e: Error & { code?: string }) => { rec.error = e.code ?? 'error'; });
    s.on('close', (h: boolean) => { rec.closed = h; });
    onSocket(s);
  }).listen(80);
  return rec;
}

test('a RST in every state: the socket closes once with the error Linux reports, and the TCB is gone', async () => {
  const cases: Array<{ name: string; halfOpen: boolean; setup: (p: PeerConn, rec: ReturnType<typeof recorder>) => Promise<void> | void; err: string | null }> = [
    { name: 'ESTABLISHED', halfOpen: false, setup: () => {}, err: 'ECONNRESET' },
    { name: 'CLOSE_WAIT', halfOpen: true, setup: (p) => p.send(TCP_FIN | TCP_ACK), err: 'EPIPE' },
    { name: 'FIN_WAIT_1', halfOpen: true, setup: (_p, rec) => void rec.sock!.end(), err: 'ECONNRESET' },
    { name: 'FIN_WAIT_2', halfOpen: true, setup: async (p, rec) => { rec.sock!.end(); await p.settle(); p.fresh(); p.send(TCP_ACK, undefined, 65535, p.sndNxt()); }, err: 'ECONNRESET' },
    // The socket ended both ways and closed already; the TCB finishing on its own just goes.
    { name: 'LAST_ACK', halfOpen: false, setup: (p) => p.send(TCP_FIN | TCP_ACK), err: null },
    { name: 'CLOSING', halfOpen: true, setup: async (p, rec) => { rec.sock!.end(); await p.settle(); p.send(TCP_FIN | TCP_ACK); }, err: null },
    { name: 'TIME_WAIT', halfOpen: true, setup: async (p, rec) => { rec.sock!.end(); await p.settle(); p.fresh(); p.send(TCP_FIN | TCP_ACK, undefined, 65535, p.sndNxt()); }, err: null },
  ];
  for (const c of cases) {
    const r = hostileRig();
    const rec = recorder(r, c.halfOpen);
    const p = await PeerConn.open(r, 6000);
    await r.until(() => rec.sock !== null, 100);
    await c.setup(p, rec);
    await r.wait(20);
    assert.equal(states(r), [c.name], c.name);
    p.fresh();
    p.send(TCP_RST | TCP_ACK, undefined, 0, p.sndNxt());
    if (c.err === null) rec.sock!.resume(); // the half-open ones close once their reader saw the end
    assert.ok(await r.until(() => rec.closed !== undefined && states(r).length === 0, 1000), `${c.name}: no 'close' (${states(r).join()})`);
    assert.is(rec.error, c.err, c.name);
    assert.is(rec.closed, c.err !== null, c.name);
  }
});

test('an ACK of data never sent: the segment and its data are dropped in ESTABLISHED, the connection goes on', async () => {
  const r = hostileRig();
  const rec = recorder(r, false);
  const p = await PeerConn.open(r, 6001);
  await r.until(() => rec.sock !== null, 100);
  p.send(TCP_ACK | TCP_PSH, Buffer.from('lie'), 65535, seqAdd(p.rcvNxt, 100_000));
  await r.wait(50);
  assert.is(rec.data, '', 'data of a segment acknowledging unsent data was delivered');
  assert.is(r.stack.counters.get('tcp_ack_of_unsent'), 1);
  p.seq = seqAdd(p.seq, -3); // the stack never took those bytes
  p.send(TCP_ACK | TCP_PSH, Buffer.from('truth'));
  await r.wait(50);
  assert.is(rec.data, 'truth');
  assert.equal(states(r), ['ESTABLISHED']);
});

test('a window that shrinks below what was sent, then stays shut, then reopens: every byte arrives once, in order, unchanged', async () => {
  const r = hostileRig();
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
  r.stack.createServer((s) => { s.on('error', () => {}); s.end(data); }).listen(80);
  const p = await PeerConn.open(r, 7000, { window: 65535 });
  await p.settle();
  // Take one segment and shrink the window to 1000: the right edge moves far left of SND.NXT.
  p.take(1448);
  p.send(TCP_ACK, undefined, 1000);
  await r.wait(3000);
  // Shut it: zero window, answering probes, for a minute.
  for (let t = 0; t < 60; t++) {
    p.fresh();
    p.send(TCP_ACK, undefined, 0);
    await r.wait(1000);
  }
  assert.is(states(r).length, 1, 'the sender gave up on a live peer');
  // Reopen and read everything, ACKing as a receiver does.
  for (let t = 0; t < 2000; t++) {
    p.take();
    p.send(TCP_ACK, undefined, 65535);
    await r.wait(20);
    if (p.segments().some((x) => x.flags & TCP_FIN && x.seq === p.rcvNxt)) break;
  }
  p.take();
  assert.is(p.stream().length, data.length);
  assert.ok(p.stream().equals(data), 'bytes changed');
  assert.is(r.stack.counters.get('stack_internal_error'), 0);
});

test.run();
