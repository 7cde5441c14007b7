/**
 * The TUN binding against the real Linux kernel. The runner starts this file
 * under `unshare --net`, so every device and address here lives in a private
 * network namespace that disappears with the process. All traffic goes to
 * 10.55.x.x addresses that exist only inside it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { TunLink } from '../../src/link/tun.js';
import { configureTun, deleteTun } from '../../src/link/netdev.js';
import { fold, ipString, sleep, sum16, udpHeader, waitFor } from './tun-packets.js';

const PEER = '10.55.0.1';
const ADDR = '10.55.0.2';

execFileSync('ip', ['link', 'set', 'lo', 'up']);

function isUdpTo(p: Buffer, dport: number): boolean {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 17) return false;
  const ihl = (p[0]! & 0x0f) * 4;
  return p.readUInt16BE(ihl + 2) === dport;
}

async function udpSocket(bindAddr?: string): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('error', () => {}); // sends to a closed device fail; that is expected here
  await new Promise<void>((r) => s.bind(0, bindAddr, () => r()));
  return s;
}

function up(name: string, mtu = 1500, maxBatch?: number): TunLink {
  const link = TunLink.open({ name, mtu, ...(maxBatch !== undefined ? { maxBatch } : {}) });
  configureTun({ name: link.name, peer: `${PEER}/24`, addr: ADDR, mtu });
  return link;
}

// ---- tests ----

test('kernel ping reaches onReceive, and a hand-built echo reply satisfies ping', async () => {
  const link = up('tt0');
  try {
    let seen: Buffer | null = null;
    link.onReceive = (packets) => {
      for (const p of packets) {
        if (p[0]! >> 4 !== 4 || p[9] !== 1) continue; // skip IPv6 router solicitations etc.
        const ihl = (p[0]! & 0x0f) * 4;
        if (p[ihl] !== 8) continue;
        seen = Buffer.from(p); // the pool is reused after we return
        const reply = Buffer.from(p);
        reply.set(p.subarray(16, 20), 12); // swap addresses
        reply.set(p.subarray(12, 16), 16);
        reply[ihl] = 0; // echo reply
        reply.writeUInt16BE(0, ihl + 2);
        reply.writeUInt16BE(fold(sum16(reply, ihl, reply.length)), ihl + 2);
        reply.writeUInt16BE(0, 10);
        reply.writeUInt16BE(fold(sum16(reply, 0, ihl)), 10);
        link.send(reply);
      }
    };
    const ping = spawn('ping', ['-n', '-c', '1', '-W', '1', ADDR], { stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => ping.on('exit', (c) => r(c)));
    assert.ok(seen !== null, 'no echo request arrived');
    const req = seen as Buffer;
    assert.is(req[0]! >> 4, 4);
    assert.is(req[9], 1);
    assert.is(ipString(req, 16), ADDR);
    assert.is(ipString(req, 12), PEER);
    assert.is(code, 0, 'ping did not accept the reply');
    assert.is(link.txPackets, 1);
    assert.is(link.txDropped + link.txErrors, 0);
  } finally {
    link.close();
  }
});

test('a burst of UDP datagrams arrives complete and batched', async () => {
  const link = up('tt1');
  const sock = await udpSocket();
  try {
    const N = 200;
    let got = 0;
    let calls = 0;
    link.onReceive = (packets) => {
      calls++;
      for (const p of packets) if (isUdpTo(p, 9999)) got++;
    };
    const payload = Buffer.alloc(32, 0xab);
    for (let i = 0; i < N; i++) sock.send(payload, 9999, ADDR);
    assert.ok(await waitFor(() => got === N, 3000), `only ${got} of ${N} datagrams arrived`);
    assert.ok(calls < N, `${calls} onReceive calls for ${N} packets: not batched`);
    assert.ok(link.rxBatches <= calls + 2);
    assert.ok(link.rxPackets >= N);
  } finally {
    sock.close();
    link.close();
  }
});

test('writev: header and payload sent separately reach a kernel UDP socket intact', async () => {
  const link = up('tt2');
  const sock = await udpSocket(PEER);
  try {
    const port = sock.address().port;
    const payload = Buffer.from('hello from writev, 0123456789 abcdefghijklmnopqrstuvwxyz');
    const got = new Promise<{ msg: Buffer; from: string; port: number }>((r) =>
      sock.once('message', (msg, rinfo) => r({ msg, from: rinfo.address, port: rinfo.port })),
    );
    link.send(udpHeader(ADDR, 5555, PEER, port, payload), payload);
    const timeout = sleep(2000).then(() => null);
    const res = await Promise.race([got, timeout]);
    assert.ok(res !== null, 'the kernel did not deliver the datagram');
    assert.equal(res!.msg, payload);
    assert.is(res!.from, ADDR);
    assert.is(res!.port, 5555);
    assert.is(link.txPackets, 1);

    // The single-buffer path with the same bytes.
    const again = new Promise<Buffer>((r) => sock.once('message', (msg) => r(msg)));
    link.send(Buffer.concat([udpHeader(ADDR, 5555, PEER, port, payload), payload]));
    assert.equal(await Promise.race([again, sleep(2000).then(() => Buffer.alloc(0))]), payload);

    // Not an IP packet: the kernel refuses it; counted, not thrown.
    link.send(Buffer.from([0x00, 0x01, 0x02, 0x03]));
    assert.is(link.txErrors, 1);
  } finally {
    sock.close();
    link.close();
  }
});

test('open errors carry codes: a taken name is EBUSY, a long name EINVAL', () => {
  const link = TunLink.open({ name: 'tt3', mtu: 1500 });
  try {
    assert.is(link.name, 'tt3');
    try {
      TunLink.open({ name: 'tt3', mtu: 1500 });
      assert.unreachable('second open should fail');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      assert.is(e.code, 'EBUSY');
      assert.match(e.message, 'tun device tt3 is already in use');
    }
    try {
      TunLink.open({ name: 'a-name-longer-than-15', mtu: 1500 });
      assert.unreachable('long name should fail');
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, 'EINVAL');
    }
  } finally {
    link.close();
  }
  // The kernel picks a name for a pattern.
  const auto = TunLink.open({ name: 'ttauto%d', mtu: 1500 });
  assert.match(auto.name, /^ttauto\d+$/);
  auto.close();
});

test('close twice is harmless; send after close counts a drop', () => {
  const link = TunLink.open({ name: 'tt4', mtu: 1500 });
  link.close();
  link.close();
  assert.ok(link.closed);
  link.send(Buffer.from([0x45, 0, 0, 20]));
  assert.is(link.txDropped, 1);
  // The name is free again once closed (non-persistent device).
  const again = TunLink.open({ name: 'tt4', mtu: 1500 });
  again.close();
});

test('no callback after close, during a flood', async () => {
  const link = up('tt5');
  const sock = await udpSocket();
  let calls = 0;
  link.onReceive = () => { calls++; };
  const payload = Buffer.alloc(64, 1);
  const flood = setInterval(() => {
    for (let i = 0; i < 20; i++) sock.send(payload, 9999, ADDR);
  }, 1);
  try {
    assert.ok(await waitFor(() => calls > 0, 2000), 'flood never arrived');
    link.close();
    const atClose = calls;
    await sleep(100);
    assert.is(calls, atClose);
  } finally {
    clearInterval(flood);
    sock.close();
    link.close();
  }
});

test('close from inside onReceive stops delivery at once', async () => {
  const link = up('tt6', 1500, 4); // small batches: packets stay queued
  const sock = await udpSocket();
  try {
    let calls = 0;
    link.onReceive = () => {
      calls++;
      link.close();
    };
    for (let i = 0; i < 50; i++) sock.send(Buffer.alloc(16), 9999, ADDR);
    assert.ok(await waitFor(() => calls > 0, 2000));
    await sleep(100);
    assert.is(calls, 1);
    assert.ok(link.rxPackets <= 4);
  } finally {
    sock.close();
    link.close();
  }
});

test('deleteTun removes the device; the link reports the failure once', async () => {
  const link = up('tt7');
  try {
    const errors: Error[] = [];
    link.onError = (e) => errors.push(e);
    assert.is(spawnSync('ip', ['link', 'show', 'tt7']).status, 0);
    deleteTun('tt7');
    assert.is.not(spawnSync('ip', ['link', 'show', 'tt7']).status, 0);
    deleteTun('tt7'); // already gone: not an error
    assert.ok(await waitFor(() => errors.length > 0, 1000), 'no error after the device was deleted');
    await sleep(50);
    assert.is(errors.length, 1);
    assert.is(link.error, errors[0]);
  } finally {
    link.close();
  }
});

test('configureTun reports bad input as EINVAL and ip failures as EIPROUTE2', () => {
  const bad = (cfg: Parameters<typeof configureTun>[0], code: string) => {
    try {
      configureTun(cfg);
      assert.unreachable('should throw');
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, code);
      assert.not.match((err as Error).message, '\n');
    }
  };
  bad({ name: 'tt8', peer: '10.55.0.1/33', addr: ADDR, mtu: 1500 }, 'EINVAL');
  bad({ name: 'tt8', peer: `${PEER}/24`, addr: '10.55.0', mtu: 1500 }, 'EINVAL');
  bad({ name: 'tt8', peer: `${PEER}/24`, addr: PEER, mtu: 1500 }, 'EINVAL');
  bad({ name: 'tt8', peer: `${PEER}/24`, addr: ADDR, mtu: 10 }, 'EINVAL');
  bad({ name: 'no/such', peer: `${PEER}/24`, addr: ADDR, mtu: 1500 }, 'EINVAL');
  bad({ name: 'nosuchdev', peer: `${PEER}/24`, addr: ADDR, mtu: 1500 }, 'EIPROUTE2');
});

test('an address outside the peer subnet gets a host route via the device', () => {
  const link = TunLink.open({ name: 'tt9', mtu: 1400 });
  try {
    configureTun({ name: 'tt9', peer: '10.55.9.1/30', addr: '10.55.99.2', mtu: 1400 });
    const route = execFileSync('ip', ['route', 'get', '10.55.99.2'], { encoding: 'utf8' });
    assert.match(route, 'dev tt9');
    const mtu = execFileSync('ip', ['-o', 'link', 'show', 'tt9'], { encoding: 'utf8' });
    assert.match(mtu, 'mtu 1400');
  } finally {
    link.close();
  }
});

test.run();
