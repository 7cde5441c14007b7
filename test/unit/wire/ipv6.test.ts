// IPv6 wire layer: the fixed header, address text (tcpdump's addrtostr6),
// the RFC 8200 §8.1 checksum against packets scapy built, and every verdict
// of the extension-header walk (RFC 8200 §4, Linux where the RFC leaves room).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../src/wire/ipv4.js';
import {
  buildIPv6Packet, decodeIPv6Header, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_NONE, IPPROTO_ROUTING,
  ip6ToBytes, ip6ToString, unknownOptionAction, upperLayerChecksum6, walkIPv6, type Ip6Verdict,
} from '../../../src/wire/ipv6.js';

const A = '2001:db8::1';
const B = '2001:db8::2';
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Made with scapy (test/fixtures/ipv6.py): IPv6(src=A,dst=B,fl=0x12345,tc=2)/TCP(SYN with options), and UDP with 'abc'.
const SCAPY_SYN = hex('602123450028064020010db800000000000000000000000120010db80000000000000000000000029d788235fffffed800000000a002fd20a64e0000020405a00402080a629bc80d0000000001030307');
const SCAPY_UDP = hex('60000000000b114020010db800000000000000000000000120010db80000000000000000000000020fa00fa1000bc0bf616263');

test('address text is tcpdump\'s: longest zero run of two or more, first of equals, dotted IPv4 forms', () => {
  const cases: Array<[string, string]> = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::ffff:a00:1', '::ffff:10.0.0.1'],
    ['::10.0.0.1', '::10.0.0.1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['FE80::1', 'fe80::1'],
    ['1::', '1::'],
    ['0:1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
  ];
  for (const [input, want] of cases) {
    const b = ip6ToBytes(input);
    assert.ok(b !== null, input);
    assert.is(ip6ToString(b!, 0), want, input);
  }
});

test('malformed address text is refused, not thrown', () => {
  for (const s of ['', ':', ':::', '1:::2', '12345::', ':1', 'g::', '1.2.3.4', '::ffff:1.2.3.256', '::1.2.3', '::ffff:01.2.3.4',
    '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '1::2::3', 'fe80::1%eth0', '1:2:3:4:5:6:7']) {
    assert.is(ip6ToBytes(s), null, s);
  }
});

test('the fixed header: every field of a packet scapy built', () => {
  const h = decodeIPv6Header(SCAPY_SYN);
  assert.equal(h, { trafficClass: 2, flowLabel: 0x12345, payloadLength: 40, nextHeader: IPPROTO_TCP, hopLimit: 64, src: A, dst: B });
  assert.is(decodeIPv6Header(SCAPY_SYN.subarray(0, 39)), 'ip6_truncated');
  assert.is(decodeIPv6Header(SCAPY_SYN.subarray(0, 79)), 'ip6_bad_payload_length');
  assert.is(decodeIPv6Header(Buffer.from([0x45])), 'ip6_bad_version');
  // Link padding after the payload is not part of the packet.
  assert.ok(typeof decodeIPv6Header(Buffer.concat([SCAPY_SYN, Buffer.alloc(6)])) !== 'string');
  // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675): refused.
  const jumbo = Buffer.from(SCAPY_SYN);
  jumbo.writeUInt16BE(0, 4);
  jumbo[6] = IPPROTO_HOPOPTS;
  assert.is(decodeIPv6Header(jumbo), 'ip6_jumbogram');
});

test('writing the header and the pseudo-header checksum give scapy\'s bytes', () => {
  for (const [pkt, proto, at] of [[SCAPY_SYN, IPPROTO_TCP, 16], [SCAPY_UDP, IPPROTO_UDP, 6]] as const) {
    assert.is(upperLayerChecksum6(pkt, 40, pkt.length, proto), 0);
    const upper = Buffer.from(pkt.subarray(40));
    upper.writeUInt16BE(0xdead, at);
    const h = decodeIPv6Header(pkt);
    if (typeof h === 'string') throw new Error(h);
    const built = buildIPv6Packet(
      { src: h.src, dst: h.dst, hopLimit: h.hopLimit, trafficClass: h.trafficClass, flowLabel: h.flowLabel },
      h.nextHeader, upper, { upperStart: 0, at, protocol: proto },
    );
    assert.ok(built.equals(pkt), built.toString('hex'));
    // One flipped bit anywhere the pseudo-header covers is caught.
    for (const i of [8, 39, 41, pkt.length - 1]) {
      const bad = Buffer.from(pkt);
      bad[i] = bad[i]! ^ 0x10;
      assert.is.not(upperLayerChecksum6(bad, 40, bad.length, proto), 0, `byte ${i}`);
    }
  }
});

// ---- The extension-header walk ----

/** An extension header: next header, length in 8-octet units after the first 8, body zero padded. */
function ext(next: number, body: number[]): Buffer {
  const len = Math.ceil((body.length + 2) / 8) * 8;
  const b = Buffer.alloc(len);
  b[0] = next;
  b[1] = len / 8 - 1;
  b.set(body, 2);
  return b;
}

/** Options area filled to a multiple of 8 with one PadN. */
function opts(...o: number[]): number[] {
  const rest = (8 - ((o.length + 2) % 8)) % 8;
  if (rest === 0) return o;
  if (rest === 1) return [...o, 0];
  return [...o, 1, rest - 2, ...new Array<number>(rest - 2).fill(0)];
}

const TCP20 = Buffer.alloc(20);

function packet(first: number, parts: Buffer[], dst = B): Buffer {
  return buildIPv6Packet({ src: A, dst }, first, Buffer.concat(parts));
}

function walk(first: number, parts: Buffer[], dst = B): Ip6Verdict {
  return walkIPv6(packet(first, parts, dst));
}

test('no extension headers, hop-by-hop, destination options: the upper layer and where its type was', () => {
  assert.equal(walk(IPPROTO_TCP, [TCP20]), { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 40, nextHeaderPointer: 6, atomicFragment: false });
  assert.equal(walk(IPPROTO_HOPOPTS, [ext(IPPROTO_DSTOPTS, opts()), ext(IPPROTO_TCP, opts()), TCP20]),
    { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 56, nextHeaderPointer: 48, atomicFragment: false });
  // Router alert (RFC 2711) is understood.
  assert.is(walk(IPPROTO_HOPOPTS, [ext(IPPROTO_TCP, opts(5, 2, 0, 0)), TCP20]).action, 'deliver');
  // No next header, and protocols the walker does not know: the caller decides.
  assert.equal(walk(IPPROTO_NONE, []), { action: 'deliver', protocol: IPPROTO_NONE, upperStart: 40, nextHeaderPointer: 6, atomicFragment: false });
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(253, opts())]),
    { action: 'deliver', protocol: 253, upperStart: 48, nextHeaderPointer: 40, atomicFragment: false });
});

test('hop-by-hop anywhere but first: parameter problem code 1 at the Next Header naming it', () => {
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_HOPOPTS, opts()), ext(IPPROTO_TCP, opts()), TCP20]),
    { action: 'param_problem', reason: 'ip6_hbh_not_first', code: 1, pointer: 40 });
});

test('unknown options act by their two high bits (RFC 8200 §4.2)', () => {
  assert.equal([0x1e, 0x5e, 0x9e, 0xde].map(unknownOptionAction), ['skip', 'discard', 'discard_icmp', 'discard_icmp_unless_multicast']);
  for (const hdr of [IPPROTO_HOPOPTS, IPPROTO_DSTOPTS]) {
    const one = (type: number, dst = B): Ip6Verdict => walk(hdr, [ext(IPPROTO_TCP, opts(1, 0, type, 1, 0xaa)), TCP20], dst);
    assert.is(one(0x1e).action, 'deliver');
    assert.equal(one(0x5e), { action: 'drop', reason: 'ip6_unknown_option' });
    // The pointer is the option's type byte: 40 + 2 (fixed) + 2 (PadN).
    assert.equal(one(0x9e), { action: 'param_problem', reason: 'ip6_unknown_option', code: 2, pointer: 44 });
    assert.equal(one(0x9e, 'ff02::1'), { action: 'param_problem', reason: 'ip6_unknown_option', code: 2, pointer: 44 });
    assert.equal(one(0xde), { action: 'param_problem', reason: 'ip6_unknown_option', code: 2, pointer: 44 });
    assert.equal(one(0xde, 'ff02::1'), { action: 'drop', reason: 'ip6_unknown_option' });
  }
});

test('options Linux refuses: long or non-zero padding, an option past its header, more than 8 options', () => {
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, new Array<number>(14).fill(0)), TCP20]), { action: 'drop', reason: 'ip6_bad_padding' });
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, [1, 4, 0, 0, 0, 1]), TCP20]), { action: 'drop', reason: 'ip6_bad_padding' });
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, [1, 4, 0, 0, 0, 0]), TCP20]).action, 'deliver');
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, [0x1e, 5, 0, 0, 0, 0]), TCP20]), { action: 'drop', reason: 'ip6_bad_option_length' });
  const nine = Array.from({ length: 9 }, () => [0x1e, 0]).flat();
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, opts(...nine)), TCP20]), { action: 'drop', reason: 'ip6_too_many_options' });
  const eight = Array.from({ length: 8 }, () => [0x1e, 0]).flat();
  assert.is(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, opts(...eight)), TCP20]).action, 'deliver');
  // A Jumbo Payload option in a packet with a Payload Length (RFC 2675 §3).
  assert.equal(walk(IPPROTO_HOPOPTS, [ext(IPPROTO_TCP, opts(0xc2, 4, 0, 1, 0, 0)), TCP20]),
    { action: 'param_problem', reason: 'ip6_bad_jumbo', code: 0, pointer: 42 });
});

test('routing header: ignored with Segments Left 0, else parameter problem code 0 at its type; SRH and RPL dropped', () => {
  const rh = (segleft: number): Buffer => ext(IPPROTO_TCP, [0, segleft, 0, 0, 0, 0, ...new Array<number>(16).fill(0)]);
  assert.equal(walk(IPPROTO_ROUTING, [rh(0), TCP20]), { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 64, nextHeaderPointer: 40, atomicFragment: false });
  assert.equal(walk(IPPROTO_ROUTING, [rh(1), TCP20]), { action: 'param_problem', reason: 'ip6_rthdr_segments_left', code: 0, pointer: 42 });
  assert.equal(walk(IPPROTO_ROUTING, [rh(0), TCP20], 'ff02::1'), { action: 'drop', reason: 'ip6_rthdr_multicast' });
  // Segment routing and RPL headers: dropped, as Linux does with seg6_enabled / rpl_seg_enabled off.
  for (const type of [3, 4]) {
    const h = rh(0);
    h[2] = type;
    assert.equal(walk(IPPROTO_ROUTING, [h, TCP20]), { action: 'drop', reason: 'ip6_rthdr_disabled' });
  }
});

/** A fragment header: next header, offset in bytes, M flag, identification. */
function fragHdr(next: number, offset: number, more: boolean, id: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = next;
  b.writeUInt16BE(offset | (more ? 1 : 0), 2);
  b.writeUInt32BE(id, 4);
  return b;
}

test('fragment header: atomic fragments are delivered alone (RFC 6946), others go to reassembly', () => {
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 0, false, 7), TCP20]),
    { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 48, nextHeaderPointer: 40, atomicFragment: true });
  assert.equal(walk(IPPROTO_DSTOPTS, [ext(IPPROTO_FRAGMENT, opts()), fragHdr(IPPROTO_TCP, 0, true, 0xdeadbeef), TCP20, Buffer.alloc(4)]), {
    action: 'reassemble', dataStart: 56,
    fragment: { headerOffset: 48, nextHeaderPointer: 40, nextHeader: IPPROTO_TCP, offset: 0, more: true, id: 0xdeadbeef },
  });
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 1448, false, 9), Buffer.alloc(5)]), {
    action: 'reassemble', dataStart: 48,
    fragment: { headerOffset: 40, nextHeaderPointer: 6, nextHeader: IPPROTO_TCP, offset: 1448, more: false, id: 9 },
  });
});

test('fragment header errors: length not a multiple of 8, past 65535, an incomplete first chain (RFC 7112)', () => {
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 8, true, 1), Buffer.alloc(12)]),
    { action: 'param_problem', reason: 'ip6_fragment_bad_length', code: 0, pointer: 4 });
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 65528, false, 1), Buffer.alloc(9)]),
    { action: 'param_problem', reason: 'ip6_fragment_too_long', code: 0, pointer: 42 });
  assert.is(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 65528, false, 1), Buffer.alloc(7)]).action, 'reassemble');
  // The first fragment stops inside the TCP header, or inside an extension header after the fragment header.
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_TCP, 0, true, 1), Buffer.alloc(16)]),
    { action: 'param_problem', reason: 'ip6_incomplete_chain', code: 3, pointer: 0 });
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_DSTOPTS, 0, true, 1), Buffer.from([IPPROTO_TCP, 1, 1, 4, 0, 0, 0, 0])]),
    { action: 'param_problem', reason: 'ip6_incomplete_chain', code: 3, pointer: 0 });
  // A second fragment header inside a first fragment's chain.
  assert.equal(walk(IPPROTO_FRAGMENT, [fragHdr(IPPROTO_FRAGMENT, 0, true, 1), fragHdr(IPPROTO_TCP, 8, true, 2), Buffer.alloc(24)]),
    { action: 'drop', reason: 'ip6_nested_fragment' });
});

test('extension headers cut short by the payload length are dropped, never read past', () => {
  const full = packet(IPPROTO_DSTOPTS, [ext(IPPROTO_TCP, opts(0x1e, 10, ...new Array<number>(10).fill(0))), TCP20]);
  for (let cut = 41; cut < 56; cut++) {
    const p = Buffer.from(full.subarray(0, cut));
    p.writeUInt16BE(cut - 40, 4);
    assert.equal(walkIPv6(p), { action: 'drop', reason: 'ip6_truncated_ext_header' }, `cut at ${cut}`);
  }
  // Whole headers and no upper layer: delivered, the upper layer finds it empty.
  const bare = Buffer.from(full.subarray(0, 56));
  bare.writeUInt16BE(16, 4);
  assert.equal(walkIPv6(bare), { action: 'deliver', protocol: IPPROTO_TCP, upperStart: 56, nextHeaderPointer: 40, atomicFragment: false });
  // The walk reads no further than the Payload Length says, even with more bytes present.
  const short = Buffer.from(full);
  short.writeUInt16BE(10, 4);
  assert.equal(walkIPv6(short), { action: 'drop', reason: 'ip6_truncated_ext_header' });
});

test.run();
