import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { internetChecksum } from '../../../src/wire/checksum.js';
import {
  decodeIPv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipToBytes, ipToNumber, isIPv4, numberToIp, writeIPv4Header,
  type IPv4Packet,
} from '../../../src/wire/ipv4.js';
import { fixturePackets } from './fixtures.js';

const basic = fixturePackets('kernel-basic.pcap');

function ok(r: IPv4Packet | string): IPv4Packet {
  if (typeof r === 'string') throw new Error(`dropped: ${r}`);
  return r;
}

/** Recompute the header checksum after editing header bytes. */
function fixSum(b: Buffer, hl = (b[0]! & 15) * 4): Buffer {
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b, 0, hl);
  b[10] = c >>> 8;
  b[11] = c & 0xff;
  return b;
}

test('the kernel SYN decodes field by field', () => {
  const ip = ok(decodeIPv4(basic[0]!));
  assert.is(ip.headerLength, 20);
  assert.is(ip.tos, 0);
  assert.is(ip.totalLength, 60);
  assert.is(ip.id, 22708);
  assert.is(ip.dontFragment, true);
  assert.is(ip.moreFragments, false);
  assert.is(ip.fragmentOffset, 0);
  assert.is(ip.ttl, 64);
  assert.is(ip.protocol, IPPROTO_TCP);
  assert.is(ip.src, '10.55.0.1');
  assert.is(ip.dst, '10.55.0.2');
  assert.is(ip.checksum, basic[0]!.readUInt16BE(10));
  assert.is(ip.header.length, 20);
  assert.is(ip.payload.length, 40);
  assert.is(ip.payload.buffer, basic[0]!.buffer, 'payload is a view, not a copy');
});

test('ECN-marked data, echo reply without DF, UDP, ICMP error with TOS 0xc0', () => {
  const data = ok(decodeIPv4(basic[15]!));
  assert.is(data.tos, 0x02); // ECT(0)
  const reply = ok(decodeIPv4(basic[23]!));
  assert.is(reply.protocol, IPPROTO_ICMP);
  assert.is(reply.dontFragment, false);
  assert.is(reply.id, 28490);
  assert.is(ok(decodeIPv4(basic[26]!)).protocol, IPPROTO_UDP);
  const unreach = ok(decodeIPv4(basic[27]!));
  assert.is(unreach.tos, 0xc0);
  assert.is(unreach.totalLength, 69);
});

test('every fixture header re-encodes to the same 20 bytes', () => {
  for (const pkt of [...basic, ...fixturePackets('kernel-sack.pcap')]) {
    const ip = ok(decodeIPv4(pkt));
    const out = Buffer.alloc(20);
    const n = writeIPv4Header(out, 0, {
      src: ip.src, dst: ip.dst, protocol: ip.protocol, ttl: ip.ttl, id: ip.id, tos: ip.tos, dontFragment: ip.dontFragment,
    }, ip.payload.length);
    assert.is(n, 20);
    assert.equal(out, pkt.subarray(0, 20));
  }
});

test('writeIPv4Header defaults: TTL 64, id 0, DF, tos 0; honours the offset', () => {
  const out = Buffer.alloc(30, 0xee);
  writeIPv4Header(out, 10, { src: '1.2.3.4', dst: '255.0.10.1', protocol: IPPROTO_TCP }, 100);
  assert.is(out[9], 0xee);
  const ip = ok(decodeIPv4(Buffer.concat([out.subarray(10), Buffer.alloc(100)])));
  assert.equal(
    [ip.ttl, ip.id, ip.dontFragment, ip.tos, ip.totalLength, ip.src, ip.dst],
    [64, 0, true, 0, 120, '1.2.3.4', '255.0.10.1'],
  );
});

test('header options (IHL 6..15): fields read correctly, payload starts after options', () => {
  const base = basic[22]!; // echo request, IHL 5
  for (let ihl = 6; ihl <= 15; ihl++) {
    const optLen = (ihl - 5) * 4;
    const b = Buffer.concat([base.subarray(0, 20), Buffer.alloc(optLen, 1), base.subarray(20)]); // NOP options
    b[0] = 0x40 | ihl;
    b.writeUInt16BE(base.length + optLen, 2);
    fixSum(b);
    const ip = ok(decodeIPv4(b));
    assert.is(ip.headerLength, ihl * 4);
    assert.is(ip.header.length, ihl * 4);
    assert.equal(ip.payload, base.subarray(20));
    assert.is(ip.src, '10.55.0.1');
    assert.is(ip.dst, '10.55.0.2');
    assert.is(ip.protocol, IPPROTO_ICMP);
    assert.is(ip.id, 56930);
  }
});

test('trailing bytes beyond total length are ignored', () => {
  const b = Buffer.concat([basic[2]!, Buffer.alloc(6)]); // Ethernet-style padding
  const ip = ok(decodeIPv4(b));
  assert.is(ip.payload.length, 32);
});

test('each malformation gets its own reason', () => {
  const syn = basic[0]!;
  const mut = (f: (b: Buffer) => void, fix = true): Buffer => {
    const b = Buffer.from(syn);
    f(b);
    return fix ? fixSum(b, Math.max(20, Math.min((b[0]! & 15) * 4, b.length))) : b;
  };
  assert.is(decodeIPv4(Buffer.alloc(0)), 'ip_truncated');
  assert.is(decodeIPv4(syn.subarray(0, 19)), 'ip_truncated');
  assert.is(decodeIPv4(mut((b) => { b[0] = 0x65; })), 'ip_bad_version');
  assert.is(decodeIPv4(Buffer.from([0x60])), 'ip_bad_version');
  assert.is(decodeIPv4(mut((b) => { b[0] = 0x44; }, false)), 'ip_bad_header_length');
  assert.is(decodeIPv4(mut((b) => { b[0] = 0x40; }, false)), 'ip_bad_header_length');
  assert.is(decodeIPv4(syn.subarray(0, 20).map((x, i) => (i === 0 ? 0x46 : x)) as Buffer), 'ip_truncated');
  assert.is(decodeIPv4(mut((b) => { b.writeUInt16BE(61, 2); })), 'ip_bad_total_length');
  assert.is(decodeIPv4(mut((b) => { b.writeUInt16BE(19, 2); })), 'ip_bad_total_length');
  assert.is(decodeIPv4(mut((b) => { b.writeUInt16BE(0, 2); })), 'ip_bad_total_length');
  assert.is(decodeIPv4(mut((b) => { b[8] = 1; }, false)), 'ip_bad_checksum');
  assert.is(decodeIPv4(mut((b) => { b[10] ^= 0x80; }, false)), 'ip_bad_checksum');
  assert.is(decodeIPv4(mut((b) => { b[6] = 0x20; })), 'ip_fragment'); // MF
  assert.is(decodeIPv4(mut((b) => { b[6] = 0x40; b[7] = 1; })), 'ip_fragment'); // offset 8
  assert.is(decodeIPv4(mut((b) => { b[6] = 0x1f; b[7] = 0xff; })), 'ip_fragment');
  assert.type(decodeIPv4(mut((b) => { b[6] = 0x80; })), 'object'); // reserved bit: ignored like Linux
});

test('address helpers', () => {
  assert.is(ipToNumber('10.55.0.1'), 0x0a370001);
  assert.is(ipToNumber('255.255.255.255'), 0xffffffff);
  assert.is(numberToIp(0xc0a80001), '192.168.0.1');
  assert.equal([...ipToBytes('1.2.3.4')], [1, 2, 3, 4]);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '-1.2.3.4']) {
    assert.not.ok(isIPv4(bad), bad);
    assert.throws(() => ipToNumber(bad), TypeError);
  }
  assert.ok(isIPv4('0.0.0.0'));
});

test.run();
