/**
 * The TUN device's IPv6 side against the real kernel, without the stack:
 * netdev.ts gives the kernel its IPv6 address and route and keeps it quiet,
 * ping -6 reaches the fd, `no IPv6` leaves no address at all, and with
 * offload (TUN_F_TSO6) IPv6 TCP super-segments come in and go out with only
 * the pseudo-header summed. Runs under `unshare --net` (scripts/test.mjs);
 * every address exists only in this namespace.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TunLink } from '../../src/link/tun.js';
import { configureTun } from '../../src/link/netdev.js';
import { ip6ToBytes, pseudoHeaderSum6, upperLayerChecksum6, writeIPv6Header } from '../../src/wire/ipv6.js';
import { foldChecksum } from '../../src/wire/checksum.js';
import { assertPrivateNamespace, run, sleep } from './lab.js';

assertPrivateNamespace();

const PEER6 = 'fd00:0:a37::1';
const ADDR6 = 'fd00:0:a37::2';

function open(name: string, offload = false): TunLink {
  const link = TunLink.open({ name, mtu: 1500, offload });
  configureTun({ name: link.name, peer: '10.55.0.1/24', addr: '10.55.0.2', mtu: 1500, addr6: ADDR6, peer6: `${PEER6}/64` });
  return link;
}

function sysctl(dev: string, key: string): string {
  return readFileSync(`/proc/sys/net/ipv6/conf/${dev}/${key}`, 'utf8').trim();
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

test('IPv6 on the device: the kernel address (nodad), quiet (no RS, no RA, no DAD), ping -6 reaches the fd', async () => {
  const link = open('t6a');
  try {
    const addrs = execFileSync('ip', ['-6', '-o', 'addr', 'show', 'dev', 't6a'], { encoding: 'utf8' });
    assert.match(addrs, `inet6 ${PEER6}/64 scope global nodad`);
    assert.match(execFileSync('ip', ['-6', 'route', 'get', ADDR6], { encoding: 'utf8' }), 'dev t6a');
    assert.is(sysctl('t6a', 'accept_ra'), '0');
    assert.is(sysctl('t6a', 'router_solicitations'), '0');
    assert.is(sysctl('t6a', 'accept_dad'), '0');
    const icmp6: number[] = [];
    let request: Buffer | null = null;
    link.onReceive = (ps) => {
      for (const p of ps) {
        if (p[0]! >> 4 !== 6 || p[6] !== 58) continue;
        icmp6.push(p[40]!);
        if (p[40] === 128) request = Buffer.from(p);
      }
    };
    // The kernel sends its first router solicitation about a second after the link is up.
    await sleep(1500);
    const ping = await run('ping', ['-6', '-n', '-c', '1', '-W', '1', ADDR6]);
    assert.ok(await until(() => request !== null, 2000), `no echo request: ${ping.stdout}${ping.stderr}`);
    const req = request as unknown as Buffer;
    assert.equal(req.subarray(8, 24), ip6ToBytes(PEER6));
    assert.equal(req.subarray(24, 40), ip6ToBytes(ADDR6));
    assert.not.ok(icmp6.includes(133), `router solicitations: ${icmp6}`);
  } finally {
    link.close();
  }
});

test('no addr6: IPv6 is off on the device, no address at all (not even link-local)', async () => {
  const link = TunLink.open({ name: 't6b', mtu: 1500 });
  try {
    configureTun({ name: 't6b', peer: '10.56.0.1/24', addr: '10.56.0.2', mtu: 1500 });
    await sleep(100);
    assert.is(execFileSync('ip', ['-6', 'addr', 'show', 'dev', 't6b'], { encoding: 'utf8' }).trim(), '');
    assert.is(sysctl('t6b', 'disable_ipv6'), '1');
  } finally {
    link.close();
  }
});

test('an addr6 outside the peer6 prefix gets a /128 route via the device', () => {
  const link = TunLink.open({ name: 't6c', mtu: 1400 });
  try {
    configureTun({ name: 't6c', peer: '10.57.0.1/24', addr: '10.57.0.2', mtu: 1400, addr6: '2001:db8:99::2', peer6: 'fd00:57::1/64' });
    assert.match(execFileSync('ip', ['-6', 'route', 'get', '2001:db8:99::2'], { encoding: 'utf8' }), 'dev t6c');
    assert.match(execFileSync('ip', ['-6', 'route', 'show', 'dev', 't6c'], { encoding: 'utf8' }), '2001:db8:99::2 metric');
  } finally {
    link.close();
  }
});

test('configureTun refuses bad IPv6 input with EINVAL, before anything runs', () => {
  const bad = (o: { addr6: string; peer6?: string; mtu?: number }, re: RegExp) => {
    try {
      configureTun({ name: 't6d', peer: '10.58.0.1/24', addr: '10.58.0.2', mtu: o.mtu ?? 1500, addr6: o.addr6, ...(o.peer6 === undefined ? {} : { peer6: o.peer6 }) });
      assert.unreachable('should throw');
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, 'EINVAL');
      assert.match((err as Error).message, re);
    }
  };
  bad({ addr6: 'fd00::2::3', peer6: 'fd00::1/64' }, /addr6/);
  bad({ addr6: 'fd00::2' }, /peer6/);
  bad({ addr6: 'fd00::2', peer6: 'fd00::1/129' }, /peer6/);
  bad({ addr6: 'fd00::1', peer6: 'fd00::1/64' }, /differ/);
  bad({ addr6: 'fd00::2', peer6: 'fd00::1/64', mtu: 1279 }, /1280/);
});

// ---- offload: IPv6 TCP by hand (the stack is not involved) ----

const SPORT = 40000;
const DPORT = 7006;

/** IPv6 + 20-byte TCP header from us (ADDR6:SPORT) to the kernel (PEER6:DPORT).
 * `partial`: the checksum field holds only the pseudo-header sum, for the device to complete. */
function tcp6(seq: number, ack: number, flags: number, payload: Buffer, partial: boolean, mss?: number): Buffer {
  const optLen = mss === undefined ? 0 : 4;
  const h = Buffer.alloc(40 + 20 + optLen);
  writeIPv6Header(h, 0, { src: ADDR6, dst: PEER6 }, 6, 20 + optLen + payload.length);
  h.writeUInt16BE(SPORT, 40);
  h.writeUInt16BE(DPORT, 42);
  h.writeUInt32BE(seq >>> 0, 44);
  h.writeUInt32BE(ack >>> 0, 48);
  h[52] = ((20 + optLen) / 4) << 4;
  h[53] = flags;
  h.writeUInt16BE(65535, 54);
  if (mss !== undefined) {
    h[60] = 2;
    h[61] = 4;
    h.writeUInt16BE(mss, 62);
  }
  const c = partial
    ? ~foldChecksum(pseudoHeaderSum6(h, 6, 20 + optLen + payload.length)) & 0xffff
    : upperLayerChecksum6(Buffer.concat([h, payload]), 40, h.length + payload.length, 6);
  h.writeUInt16BE(c, 56);
  return h;
}

test('offload (TUN_F_TSO6): IPv6 TCP super-segments in from the kernel, and out with GSO_TCPV6 and only the pseudo-header summed', async () => {
  const link = open('t6e', true);
  const received: Buffer[] = [];
  let kernelSide: Socket | null = null;
  const server = createServer((s) => {
    kernelSide = s;
    s.on('data', (d) => received.push(d));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(DPORT, PEER6, () => r()));
  try {
    const inbound: Array<{ p: Buffer; trusted: number }> = [];
    link.onReceive = (ps, trusted) => {
      ps.forEach((p, i) => {
        if (p[0]! >> 4 === 6 && p[6] === 6) inbound.push({ p: Buffer.from(p), trusted: trusted?.[i] ?? 0 });
      });
    };
    const iss = 0xfffff000; // crosses the wrap
    link.send(tcp6(iss, 0, 0x02, Buffer.alloc(0), false, 1440)); // SYN
    assert.ok(await until(() => inbound.some((x) => x.p[53] === 0x12), 2000), 'no SYN,ACK');
    const synAck = inbound.find((x) => x.p[53] === 0x12)!;
    assert.is(synAck.trusted, 1, 'the kernel vouches for the checksum of what it sends');
    const irs = synAck.p.readUInt32BE(44);
    link.send(tcp6(iss + 1, irs + 1, 0x10, Buffer.alloc(0), false)); // ACK
    assert.ok(await until(() => kernelSide !== null, 2000), 'not accepted');

    // In: the kernel's first flight (10 segments of 1440) leaves as one super-segment.
    (kernelSide as unknown as Socket).write(randomBytes(64 * 1024));
    assert.ok(await until(() => inbound.some((x) => x.p.length > 1500), 2000), `largest in: ${Math.max(...inbound.map((x) => x.p.length))}`);

    // Out: 30 000 bytes in one write, 30 segments of 1000 for the device.
    const data = randomBytes(30_000);
    const hdr = tcp6(iss + 1, irs + 1, 0x18, data, true);
    link.send(hdr, data, 1000);
    assert.ok(await until(() => Buffer.concat(received).length >= data.length, 3000), `kernel got ${Buffer.concat(received).length}`);
    assert.equal(Buffer.concat(received), data);
    assert.is(link.txErrors, 0);
  } finally {
    (kernelSide as Socket | null)?.destroy();
    server.close();
    link.close();
  }
});

test.run();
