/**
 * The TUN writer thread (TunOpenOptions.txThread, native/tx-thread.c) against
 * the real kernel, in this file's private network namespace: packets reach
 * the kernel in the order sent and byte for byte, though the stack's header
 * buffer is rewritten at once and payloads are let go; close() during a flood
 * writes what was queued and nothing after; a full ring is counted.
 * The kernel's UDP is the witness: it checks every checksum, and a datagram
 * with one wrong byte never reaches the socket.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TunLink } from '../../src/link/tun.js';
import { configureTun } from '../../src/link/netdev.js';
import { startStack } from '../../src/cli/start-stack.js';
import { echoThrough, listenKernel, sha, type AnySocket } from './echo.js';
import { CLI, exitOf, linkExists, stackArgs, stackFlags, waitForLine } from './lab.js';
import { sleep, udpHeader, waitFor } from './tun-packets.js';

const PEER = '10.56.0.1';
const ADDR = '10.56.0.2';

execFileSync('ip', ['link', 'set', 'lo', 'up']);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function up(name: string, offload = false): TunLink {
  const link = TunLink.open({ name, mtu: 1500, txThread: true, offload });
  configureTun({ name: link.name, peer: `${PEER}/24`, addr: ADDR, mtu: 1500 });
  return link;
}

async function listener(): Promise<{ sock: Socket; port: number; got: Buffer[] }> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, PEER, () => r()));
  return { sock, port: sock.address().port, got };
}

/** Packet i's payload: its number, then bytes that depend on it (so a mix-up shows). */
function payloadOf(i: number): Buffer {
  const p = Buffer.allocUnsafeSlow(8 + ((i * 37) % 900));
  p.writeUInt32BE(i, 0);
  p.writeUInt32BE(p.length, 4);
  for (let k = 8; k < p.length; k++) p[k] = (i * 7 + k) & 0xff;
  return p;
}

/** The kernel's IP counters in this namespace. */
function ipStats(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Ip: '));
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

test('order and bytes: the header buffer rewritten at once, payloads let go and collected', async () => {
  for (const offload of [false, true]) {
    const link = up(offload ? 'tx0o' : 'tx0', offload);
    const l = await listener();
    try {
      assert.ok(link.txThread);
      const header = Buffer.alloc(28); // one buffer for every packet, as the stack's own
      const N = 3000;
      const BURST = 150; // within the socket's default buffer even where rmem_max caps ours
      for (let i = 0; i < N; ) {
        for (const end = Math.min(N, i + BURST); i < end; i++) {
          let payload: Buffer | null = payloadOf(i);
          header.set(udpHeader(ADDR, 7000, PEER, l.port, payload));
          link.send(header, payload);
          payload = null; // only the link refers to it now
          header.fill(0xee); // what a use of the caller's header after send would write
        }
        gc(); // payloads the link did not keep alive would be freed (and reused) here
        const want = i;
        assert.ok(await waitFor(() => l.got.length === want, 3000), `${l.got.length} of ${want} datagrams arrived (offload ${offload})`);
      }
      for (let i = 0; i < N; i++) {
        const m = l.got[i]!;
        assert.is(m.readUInt32BE(0), i, `datagram ${i} out of order`);
        assert.ok(m.equals(payloadOf(i)), `datagram ${i} changed`);
      }
      assert.is(link.txPackets, N);
      assert.is(link.txDropped + link.txErrors, 0);
      assert.is(link.counters().tun_tx_ring_full, 0);
    } finally {
      l.sock.close();
      link.close();
    }
  }
});

test('close() during a flood writes what was queued, then nothing', async () => {
  const link = up('tx1');
  const l = await listener();
  try {
    const before = ipStats();
    const N = 20000;
    const payload = Buffer.alloc(64, 0x5a);
    const header = udpHeader(ADDR, 7001, PEER, l.port, payload);
    for (let i = 0; i < N; i++) link.send(header, payload);
    link.close(); // returns once the thread wrote the ring empty and was joined
    const written = link.txPackets;
    const c = link.counters();
    assert.is(link.txQueued, 0);
    assert.is(written + c.tun_tx_ring_full, N, `${written} written + ${c.tun_tx_ring_full} ring full != ${N}`);
    assert.is(c.tun_tx_errors, 0);
    // Every written packet reached the kernel's IP (most are then dropped for a full socket buffer).
    assert.is(ipStats().InReceives! - before.InReceives!, written);
    link.send(header, payload); // after close: dropped, counted, never written
    await sleep(50);
    assert.is(link.txPackets, written);
    assert.is(link.txDropped, c.tun_tx_dropped + 1);
  } finally {
    l.sock.close();
    link.close();
  }
});

test('a full ring drops and counts (tun_tx_ring_full); the rest is written', async () => {
  const link = up('tx2');
  try {
    const N = 100_000; // JavaScript queues far faster than the kernel takes them
    const payload = Buffer.alloc(16, 1);
    const header = udpHeader(ADDR, 7002, PEER, 9, payload); // discard port, no listener
    for (let i = 0; i < N; i++) link.send(header, payload);
    assert.ok(await waitFor(() => link.txQueued === 0, 10_000), 'the ring never drained');
    const c = link.counters();
    assert.ok(c.tun_tx_ring_full > 0, 'the ring never filled');
    assert.is(c.tun_tx_packets + c.tun_tx_ring_full, N);
    assert.is(c.tun_tx_dropped, c.tun_tx_ring_full);
    assert.is(c.tun_tx_errors, 0);
  } finally {
    link.close();
  }
});

test('a packet the kernel refuses is counted as an error by the thread; a long first piece goes as a copy', async () => {
  const link = up('tx3');
  const l = await listener();
  try {
    link.send(Buffer.from([0x00, 0x01, 0x02, 0x03])); // not IP
    assert.ok(await waitFor(() => link.txErrors === 1, 2000));
    // A complete 600-byte datagram as one piece (longer than a ring slot's headers).
    const payload = payloadOf(572);
    const whole = Buffer.concat([udpHeader(ADDR, 7003, PEER, l.port, payload), payload]);
    link.send(whole);
    whole.fill(0); // the caller may reuse it at once
    assert.ok(await waitFor(() => l.got.length === 1, 2000), 'the long packet never arrived');
    assert.ok(l.got[0]!.equals(payload));
  } finally {
    l.sock.close();
    link.close();
  }
});

test('the writer thread does not hold the process: an unref\'d link mid-flood exits, and so does SIGINT', async () => {
  const tun = new URL('../../src/link/tun.js', import.meta.url).pathname;
  const netdev = new URL('../../src/link/netdev.js', import.meta.url).pathname;
  const child = (name: string, end: string): Promise<number | null> => {
    const script = `
      import { TunLink } from '${tun}';
      import { configureTun } from '${netdev}';
      const link = TunLink.open({ name: '${name}', mtu: 1500, txThread: true });
      configureTun({ name: link.name, peer: '10.56.9.1/24', addr: '10.56.9.2', mtu: 1500 });
      const p = Buffer.alloc(1000, 1);
      const h = Buffer.from('450003fc12340000401100000a3809020a38090100090009000000000000', 'hex').subarray(0, 28);
      let n = 0;
      const flood = setInterval(() => { for (let i = 0; i < 2000; i++) link.send(h, p.subarray(0, 1000 - 28)); n++; }, 0);
      ${end}
    `;
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    return Promise.race([exitOf(c), sleep(5000).then(() => { c.kill('SIGKILL'); return 999; })]);
  };
  // Unref'd and the flood stopped after a while: nothing else keeps the loop alive.
  const natural = await child('tx4', `link.unref(); setTimeout(() => clearInterval(flood), 300);`);
  assert.is(natural, 0);
  // Ctrl-C mid-flood: Node's default SIGINT ends it at once (the thread takes no signals).
  const interrupted = await child('tx5', `setTimeout(() => process.kill(process.pid, 'SIGINT'), 300);`);
  assert.is(interrupted, -1);
});

/** Threads of a process (this one by default) named tuntcp-tx. */
function writerThreads(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/task`).filter((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'tuntcp-tx';
    } catch {
      return false;
    }
  }).length;
}

test('the stack with --tx-thread: 8 MiB echoed intact both ways, with and without offload; close joins the thread', async () => {
  const data = randomBytes(8 * 1024 * 1024);
  for (const offload of [false, true]) {
    const r = startStack(stackArgs({ tun: offload ? 'tx6o' : 'tx6', addr: '10.56.6.2', peer: '10.56.6.1/24', offload, txThread: true }));
    const sockets: AnySocket[] = [];
    const ks = createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.pipe(s);
    });
    try {
      assert.is(writerThreads(), 1);
      r.stack.createServer({ allowHalfOpen: true }, (s) => {
        sockets.push(s);
        s.pipe(s);
      }).listen(7);
      await listenKernel(ks, 7007, '10.56.6.1');
      for (const sock of [connect({ host: '10.56.6.2', port: 7, allowHalfOpen: true }), r.stack.connect({ port: 7007, host: '10.56.6.1', allowHalfOpen: true })]) {
        sockets.push(sock);
        const { got } = await echoThrough(sock, data, 60, () => `offload ${offload}`);
        assert.is(sha(got), sha(data));
      }
    } finally {
      for (const s of sockets) s.destroy();
      ks.close();
      r.shutdown();
    }
    assert.is(writerThreads(), 0, 'the writer thread outlived shutdown');
  }
});

test('tuntcp listen --echo --tx-thread: echoes, and Ctrl-C mid-transfer ends it at once', async () => {
  const child = spawn(process.execPath, [CLI, 'listen', '7', '--echo', '--tx-thread', ...stackFlags(59, 'tx7')], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForLine(child, /^ready/);
    assert.is(writerThreads(child.pid!), 1, 'the flag started no writer thread');
    const c = connect({ host: '10.59.0.2', port: 7 });
    c.on('error', () => {}); // reset when the stack goes away
    let echoed = 0;
    c.on('data', (d: Buffer) => (echoed += d.length));
    const chunk = randomBytes(64 * 1024);
    const pump = setInterval(() => c.write(chunk), 1);
    assert.ok(await waitFor(() => echoed > 4 << 20, 20_000), `only ${echoed} bytes echoed`);
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await exitOf(child);
    clearInterval(pump);
    c.destroy();
    assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms`);
    assert.ok(code !== null, 'no exit');
    assert.not.ok(linkExists('tx7'), 'device removed');
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
