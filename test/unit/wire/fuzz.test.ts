// Nothing a peer sends may throw out of the decoders (GUIDE §Principles 4):
// random and mutated kernel packets through every decoder, seeded for replay
// (SEED=n node scripts/test.mjs wire/fuzz).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeIcmp } from '../../../src/wire/icmp.js';
import { decodeIPv4, IPPROTO_TCP, IPv4Datagram, numberToIp, readIPv4, setIPv4Checksum } from '../../../src/wire/ipv4.js';
import { decodeTcp, readTcp } from '../../../src/wire/tcp.js';
import { fixturePackets, prng, testSeed } from './fixtures.js';

const corpus = [...fixturePackets('kernel-basic.pcap'), ...fixturePackets('kernel-sack.pcap')];
const ITERATIONS = 40_000;

function mutate(rnd: () => number, src: Buffer): Buffer {
  const pick = (n: number) => Math.floor(rnd() * n);
  let b: Buffer;
  switch (pick(6)) {
    case 0: { // pure noise, sometimes with an IPv4 first nibble
      b = Buffer.alloc(pick(120));
      for (let i = 0; i < b.length; i++) b[i] = pick(256);
      if (b.length > 0 && rnd() < 0.7) b[0] = 0x40 | (b[0]! & 15);
      break;
    }
    case 1: // truncation
      b = Buffer.from(src.subarray(0, pick(src.length + 1)));
      break;
    case 2: // extension with junk
      b = Buffer.concat([src, Buffer.alloc(pick(64), pick(256))]);
      break;
    default: { // bit flips and field smashing
      b = Buffer.from(src);
      const flips = 1 + pick(8);
      for (let i = 0; i < flips; i++) b[pick(b.length)] ^= 1 << pick(8);
      if (rnd() < 0.3) b[0] = 0x40 | pick(16); // IHL
      if (rnd() < 0.3) b.writeUInt16BE(pick(b.length + 40), 2); // total length
      if (rnd() < 0.3 && b.length > 32) b[32] = pick(256); // TCP data offset
      if (rnd() < 0.3 && b.length > 40) for (let i = 40; i < Math.min(b.length, 60); i++) if (rnd() < 0.3) b[i] = pick(12);
    }
  }
  // Usually repair the IP checksum so the upper layers get exercised.
  if (rnd() < 0.8) setIPv4Checksum(b);
  return b;
}

test(`${ITERATIONS} mutated packets: decoders return, never throw`, () => {
  const seed = testSeed();
  const rnd = prng(seed);
  const seen = new Map<string, number>();
  const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
  for (let n = 0; n < ITERATIONS; n++) {
    const pkt = mutate(rnd, corpus[Math.floor(rnd() * corpus.length)]!);
    try {
      const ip = decodeIPv4(pkt);
      if (typeof ip === 'string') {
        count(ip);
        continue;
      }
      const t1 = decodeTcp(ip, true);
      const t2 = decodeTcp(ip, false);
      const ic = decodeIcmp(ip.payload);
      count(typeof t1 === 'string' ? t1 : 'tcp_ok');
      count(typeof t2 === 'string' ? `${t2} (unverified)` : 'tcp_ok (unverified)');
      count(typeof ic === 'string' ? ic : 'icmp_ok');
    } catch (err) {
      assert.unreachable(`seed ${seed}, iteration ${n}, packet ${pkt.toString('hex')}: ${String(err)}`);
    }
  }
  // The mutations must reach every outcome, or the test proves little.
  for (const k of ['ip_truncated', 'ip_bad_version', 'ip_bad_header_length', 'ip_bad_total_length', 'ip_bad_checksum',
    'ip_fragment', 'tcp_ok', 'tcp_bad_checksum', 'tcp_truncated', 'tcp_bad_header_length', 'tcp_bad_option (unverified)',
    'icmp_ok', 'icmp_bad_checksum', 'icmp_truncated']) {
    assert.ok((seen.get(k) ?? 0) > 0, `seed ${seed}: no case reached ${k}`);
  }
});

test(`${ITERATIONS} mutated packets: the receive path's decoders, in place, agree with decodeIPv4 (ip-packet) and decodeTcp`, () => {
  const seed = testSeed();
  const rnd = prng(seed);
  const rx = new IPv4Datagram();
  let tcpCompared = 0;
  for (let n = 0; n < ITERATIONS; n++) {
    const pkt = mutate(rnd, corpus[Math.floor(rnd() * corpus.length)]!);
    // In place in a larger buffer, as in the TUN link's pool: junk on both sides.
    const before = Math.floor(rnd() * 16);
    const pool = Buffer.concat([Buffer.alloc(before, 0x45), pkt, Buffer.alloc(Math.floor(rnd() * 16), 0x45)]);
    const at = `seed ${seed}, iteration ${n}, packet ${pkt.toString('hex')}`;
    const ref = decodeIPv4(pkt);
    const bad = readIPv4(pool, before, before + pkt.length, rx);
    if (typeof ref === 'string') {
      assert.is(bad, ref, at);
      continue;
    }
    assert.is(bad, null, at);
    assert.is(rx.protocol, ref.protocol, at);
    assert.is(rx.src, ref.src, at);
    assert.is(rx.dst, ref.dst, at);
    assert.is(numberToIp(rx.srcAddr), ref.src, at);
    assert.is(numberToIp(rx.dstAddr), ref.dst, at);
    assert.equal(pool.subarray(rx.payloadStart, rx.end), ref.payload, at);
    if (ref.protocol !== IPPROTO_TCP) continue;
    for (const verify of [true, false]) {
      const t = decodeTcp(ref, verify);
      const r = readTcp(pool, rx.payloadStart, rx.end, rx.srcAddr, rx.dstAddr, verify);
      if (typeof t === 'string') {
        assert.is(r, t, at);
        continue;
      }
      assert.ok(typeof r !== 'string', at);
      if (typeof r === 'string') continue;
      assert.equal({ ...r, options: { ...r.options, list: t.options.list } }, t, at);
      assert.is(r.options.list.length, 0, 'no options list on the receive path');
      tcpCompared++;
    }
  }
  assert.ok(tcpCompared > 1000, `seed ${seed}: only ${tcpCompared} TCP segments compared`);
});

test.run();
