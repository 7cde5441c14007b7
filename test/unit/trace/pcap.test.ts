import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW,
  PcapWriter, readPcap, readPcapIPv4, recordToIPv4,
} from '../../../src/trace/pcap.js';
import { fixturePackets, fixturePath } from '../wire/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tuntcp-pcap-'));
const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
const kernel = [...fixturePackets('kernel-basic.pcap'), ...fixturePackets('kernel-sack.pcap')];

function tcpdumpLines(path: string): string[] {
  const r = spawnSync('tcpdump', ['-nn', '-r', path], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trimEnd().split('\n').map((l) => l.slice(l.indexOf(' ') + 1));
}

test('PcapWriter output reads back: bytes, times, LINKTYPE_RAW; tcpdump agrees', () => {
  const path = join(dir, 'out.pcap');
  const w = new PcapWriter(path);
  const t0 = 1_700_000_000_123.456;
  kernel.forEach((p, i) => {
    // Every other packet as [header, payload], the way the stack sends them.
    if (i % 2 === 1 && p.length > 40) w.write([p.subarray(0, 40), p.subarray(40)], t0 + i);
    else w.write(p, t0 + i);
  });
  assert.is(w.count, kernel.length);
  w.close();
  w.close();
  w.write(kernel[0]!); // after close: ignored
  const recs = readPcap(readFileSync(path));
  assert.is(recs.length, kernel.length);
  recs.forEach((r, i) => {
    assert.is(r.linkType, LINKTYPE_RAW);
    assert.equal(r.data, kernel[i]!);
    assert.is(r.origLength, kernel[i]!.length);
    assert.is(r.timeUs, Math.round((t0 + i) * 1000));
  });
  if (hasTcpdump) {
    const lines = tcpdumpLines(path);
    assert.is(lines.length, kernel.length);
    // Same lines as for the original Ethernet captures.
    assert.equal(lines, [...tcpdumpLines(fixturePath('kernel-basic.pcap')), ...tcpdumpLines(fixturePath('kernel-sack.pcap'))]);
  }
});

test('wall-clock timestamps by default; open() truncates and restarts', () => {
  const path = join(dir, 'clock.pcap');
  const w = new PcapWriter().open(path);
  const before = Date.now();
  w.write(kernel[0]!);
  w.close();
  const [r] = readPcap(readFileSync(path));
  assert.ok(r !== undefined && r.timeUs >= before * 1000 - 1000 && r.timeUs <= Date.now() * 1000 + 1000);
  new PcapWriter(path).close();
  assert.is(readFileSync(path).length, 24);
  assert.equal(readPcap(readFileSync(path)), []);
});

test('readPcap: big-endian, nanosecond, cut-off and garbage files', () => {
  const pkt = kernel[2]!;
  const make = (le: boolean, magic: number, frac: number): Buffer => {
    const h = Buffer.alloc(24 + 16);
    const u32 = (v: number, o: number) => (le ? h.writeUInt32LE(v, o) : h.writeUInt32BE(v, o));
    u32(magic, 0);
    u32(LINKTYPE_RAW, 20);
    u32(10, 24);
    u32(frac, 28);
    u32(pkt.length, 32);
    u32(pkt.length, 36);
    return Buffer.concat([h, pkt]);
  };
  for (const [le, magic, frac, us] of [[true, 0xa1b2c3d4, 5, 5], [false, 0xa1b2c3d4, 5, 5], [false, 0xa1b23c4d, 5999, 5]] as const) {
    const [r] = readPcap(make(le, magic, frac));
    assert.is(r!.timeUs, 10_000_000 + us);
    assert.equal(r!.data, pkt);
  }
  const full = make(true, 0xa1b2c3d4, 0);
  assert.is(readPcap(full.subarray(0, full.length - 1)).length, 0, 'a record cut short is dropped');
  assert.equal(readPcap(Buffer.from('not a pcap file at all, no')), []);
  assert.equal(readPcap(Buffer.alloc(3)), []);
});

test('recordToIPv4 strips Ethernet (VLAN), Linux cooked v1/v2, BSD loopback', () => {
  const ip = kernel[0]!;
  const eth = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x00]), ip]);
  const vlan = Buffer.concat([Buffer.alloc(12), Buffer.from([0x81, 0x00, 0, 5, 0x08, 0x00]), ip]);
  const sll = Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), ip]);
  const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ip]);
  const nul = Buffer.concat([Buffer.from([2, 0, 0, 0]), ip]);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_ETHERNET, data: eth }), ip);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_ETHERNET, data: vlan }), ip);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_LINUX_SLL, data: sll }), ip);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_LINUX_SLL2, data: sll2 }), ip);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_NULL, data: nul }), ip);
  assert.equal(recordToIPv4({ linkType: LINKTYPE_RAW, data: ip }), ip);
  const arp = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
  assert.is(recordToIPv4({ linkType: LINKTYPE_ETHERNET, data: arp }), null);
  assert.is(recordToIPv4({ linkType: LINKTYPE_ETHERNET, data: Buffer.alloc(5) }), null);
  assert.is(recordToIPv4({ linkType: LINKTYPE_RAW, data: Buffer.from([0x60]) }), null);
  assert.is(recordToIPv4({ linkType: 999, data: ip }), null);
  assert.is(readPcapIPv4(readFileSync(fixturePath('kernel-basic.pcap'))).length, 28);
});

test('snapshot length cuts huge packets without copying the parts', () => {
  const path = join(dir, 'big.pcap');
  const w = new PcapWriter(path);
  const big = Buffer.alloc(300_000, 7);
  w.write([big.subarray(0, 100), big.subarray(100)], 0);
  w.close();
  const [r] = readPcap(readFileSync(path));
  assert.is(r!.data.length, 262144);
  assert.is(r!.origLength, 300_000);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
