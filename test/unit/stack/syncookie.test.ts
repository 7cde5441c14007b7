// SYN cookies (RFC 4987 §3.6, Linux tcp_syncookies=1), segment by segment:
// a Stack on a virtual clock, its listener's SYN queue full, raw segments in,
// exact segments out. The cookie layout is in src/stack/syncookie.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOption, type TcpSegment } from '../../../src/wire/tcp.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { IsnGenerator } from '../../../src/stack/isn.js';
import { COOKIE_PERIOD, SynCookies, cookieEcnOk, cookieSynOptions, cookieTsVal } from '../../../src/stack/syncookie.js';
import { sipHash24, sipHashHi, sipKey } from '../../../src/stack/siphash.js';
import { tsOffsetFor, tsValue } from '../../../src/tcp/timestamps.js';
import { DEFAULT_TCP_CONFIG } from '../../../src/tcp/config.js';
import type { TcpEndpoint } from '../../../src/stack/endpoint.js';
import { asTcp, delivered, PEER, rig, tcp, US, type Rig } from './rig.js';

const KEY = Buffer.alloc(16, 7);
/** The peer's ISN for the cookie SYNs: its data crosses 2^32. */
const S = 0xfffffff0;
const NOP: TcpOption = { kind: 'nop' };
const REQUEST = Buffer.from('GET / HTTP/1.0\r\n\r\n');

interface Lab extends Rig {
  accepted: TcpEndpoint[];
  states: string[];
  /** The SYN_RECEIVED entry that fills the queue (backlog 1), from port 41000. */
  fill(): void;
}

/** A listener on port 80 with backlog 1; a stack whose ISNs and cookies replay (fixed key). */
function lab(opts: Parameters<typeof rig>[0] = {}): Lab {
  const r = rig({ isnKey: KEY, ...opts }, 0);
  const accepted: TcpEndpoint[] = [];
  const states: string[] = [];
  r.stack.openListener(80, 1, (ep) => accepted.push(ep));
  r.stack.observeState((ep, from, to, cause) => states.push(`${ep.remotePort} ${from}->${to}: ${cause}`));
  const fill = (): void => {
    const out = r.inject(tcp({ flags: TCP_SYN, srcPort: 41000, seq: 1, options: [{ kind: 'mss', mss: 1460 }] }));
    assert.is(out.length, 1, 'setup: SYN,ACK of the entry that fills the queue');
  };
  return { ...r, accepted, states, fill };
}

const SYN_TS: TcpOption[] = [{ kind: 'mss', mss: 1400 }, { kind: 'sackOK' }, { kind: 'ts', val: 5000, ecr: 0 }, NOP, { kind: 'wscale', shift: 7 }];
const SYN_NO_TS: TcpOption[] = [{ kind: 'mss', mss: 1460 }, NOP, NOP, { kind: 'sackOK' }, NOP, { kind: 'wscale', shift: 7 }];

/** The cookie SYN,ACK for a SYN with `options` from port 41001. */
function cookieSynAck(l: Lab, options: TcpOption[], srcPort = 41001): TcpSegment {
  const out = l.inject(tcp({ flags: TCP_SYN, srcPort, seq: S, window: 64240, options }));
  assert.is(out.length, 1);
  return asTcp(out[0]!).seg;
}

function tsOf(seg: TcpSegment): { val: number; ecr: number } {
  const o = seg.options.list.find((x) => x.kind === 'ts');
  if (o === undefined || o.kind !== 'ts') throw new Error('no TS option');
  return { val: o.val, ecr: o.ecr };
}

// ------------------------------------------------------------ the cookie

test('SipHash-2-4 gives the reference values (key 00..0f, messages 00..0f and 00..13)', () => {
  const key = sipKey(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
  const words = (n: number): number[] => Array.from({ length: n }, (_, i) => Buffer.from([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]).readUInt32LE(0));
  // openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt size:8 SIPHASH (bytes little-endian)
  assert.is(sipHash24(key, words(4)), 0x57c29bdb);
  assert.is(sipHashHi, 0x3f2acc7f);
  assert.is(sipHash24(key, words(5)), 0x1aa2ee98);
  assert.is(sipHashHi, 0xbed65cf2);
});

/** The cookie for a SYN from PEER:41001 with SEG.SEQ S and MSS option `mss`, made at `now`. */
function makeCookie(c: SynCookies, now: number, mss?: number): number {
  const { ip, seg } = asTcp(tcp({ flags: TCP_SYN, srcPort: 41001, seq: S, options: mss === undefined ? [] : [{ kind: 'mss', mss }] }));
  return c.make(now, ip, seg);
}

/** Check the ACK of `isn` from `src`:`srcPort` with SEG.SEQ `seq` at `now`. */
function checkCookie(c: SynCookies, now: number, isn: number, o: { srcPort?: number; src?: string; seq?: number } = {}): number {
  const { ip, seg } = asTcp(tcp({ flags: TCP_ACK, srcPort: o.srcPort ?? 41001, seq: o.seq ?? seqAdd(S, 1), ack: seqAdd(isn, 1) }, undefined, US, o.src ?? PEER));
  return c.validate(now, ip, seg);
}

test('a cookie validates for its 4-tuple and SYN only, and yields the MSS from the table', () => {
  const c = new SynCookies(KEY);
  // The largest table entry (536, 1300, 1440, 1460) not above the SYN's MSS; 536 without one.
  for (const [mss, want] of [[1460, 1460], [9000, 1460], [1452, 1440], [1440, 1440], [1439, 1300], [1300, 1300], [1299, 536], [100, 536], [undefined, 536]] as const) {
    assert.is(checkCookie(c, 2000, makeCookie(c, 1000, mss)), want, `SYN mss ${mss}`);
  }
  const isn = makeCookie(c, 1000, 1460);
  assert.is(makeCookie(c, 1000, 1460), isn, 'a retransmitted SYN gets the same cookie');
  assert.is(checkCookie(c, 1000, isn, { srcPort: 41002 }), 0, 'another port');
  assert.is(checkCookie(c, 1000, isn, { src: '10.55.0.9' }), 0, 'another address');
  assert.is(checkCookie(c, 1000, isn, { seq: seqAdd(S, 2) }), 0, 'another SEG.SEQ');
  assert.is(checkCookie(c, 1000, seqAdd(isn, 1)), 0, 'SEG.ACK one off');
  assert.is(checkCookie(new SynCookies(Buffer.alloc(16, 8)), 1000, isn), 0, 'another key');
});

test('the cookie clock: good in its 60 s tick and the next, stale after, never from the future', () => {
  const c = new SynCookies(KEY);
  const isn = makeCookie(c, 59_000, 1460); // tick 0
  assert.is(checkCookie(c, 59_000, isn), 1460);
  assert.is(checkCookie(c, 2 * COOKIE_PERIOD - 1, isn), 1460, 'tick 1');
  assert.is(checkCookie(c, 2 * COOKIE_PERIOD, isn), 0, 'tick 2: stale');
  assert.is(checkCookie(c, 256 * COOKIE_PERIOD, isn), 0, 'tick 256: the 8 bits wrapped, still stale');
  const later = makeCookie(c, COOKIE_PERIOD, 1460); // tick 1
  assert.is(checkCookie(c, COOKIE_PERIOD - 1, later), 0, 'tick 0 checking a tick-1 cookie');
});

test('guessed ACKs do not validate (2^-29 each)', () => {
  const c = new SynCookies(KEY);
  let x = 12345;
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (checkCookie(c, 1000, x) !== 0) valid++;
  }
  assert.is(valid, 0);
});

test('TSval of a cookie SYN,ACK: low 6 bits = peer wscale (15: none) | SACK << 4, never ahead of the clock', () => {
  assert.is(cookieTsVal(1000, 7, true), 960 + 0x17);
  assert.is(cookieTsVal(1000, undefined, false), 960 + 0x0f);
  assert.is(cookieTsVal(1016, 14, true), 960 + 0x1e);
  assert.is(cookieTsVal(960 + 5, 7, true), 960 - 64 + 0x17, 'would be ahead: one step of 64 back');
  assert.is(cookieTsVal(3, undefined, true), (2 ** 32 - 64 + 0x1f) >>> 0, 'back across zero');
  const cfg = DEFAULT_TCP_CONFIG;
  const withTs = (ecr: number): TcpSegment => asTcp(tcp({ flags: TCP_ACK, options: [NOP, NOP, { kind: 'ts', val: 9, ecr }] })).seg;
  assert.equal(cookieSynOptions(withTs(0x17), 1300, cfg), { mss: 1300, sackPermitted: true, list: [], tsVal: 9, wscale: 7 });
  assert.equal(cookieSynOptions(withTs(0x0f), 1300, cfg), { mss: 1300, sackPermitted: false, list: [], tsVal: 9 });
  assert.is(cookieSynOptions(withTs(0x17), 1300, { ...cfg, sack: false }), null, 'SACK echoed while we have it off: refused, as Linux');
  assert.is(cookieSynOptions(withTs(0x07), 1300, { ...cfg, windowScaling: false }), null);
  assert.is(cookieSynOptions(withTs(0x0f), 1300, { ...cfg, timestamps: false }), null);
});

// ------------------------------------------------------------ the stack

test('a SYN while the queue has room gets a normal SYN,ACK and a SYN_RECEIVED entry', () => {
  const l = lab();
  const out = l.inject(tcp({ flags: TCP_SYN, srcPort: 41000, seq: S, options: SYN_TS }));
  const { seg } = asTcp(out[0]!);
  assert.is(seg.flags, TCP_SYN | TCP_ACK);
  assert.is(seg.seq, new IsnGenerator(KEY).isn(0, US, 80, PEER, 41000), 'the RFC 6528 ISN, not a cookie');
  assert.equal([...l.stack.connections()].map((ep) => ep.conn.state), ['SYN_RECEIVED']);
  assert.is([...l.stack.listening()][0]!.pending, 1);
  assert.is(l.stack.counters.get('tcp_syncookies_sent'), 0);
});

test('queue full: the SYN gets a cookie SYN,ACK (same options, TS low bits = wscale 7 | SACK) and no state', () => {
  const l = lab();
  l.fill();
  l.advanceTo(500);
  const seg = cookieSynAck(l, SYN_TS);
  // 0.500 > S. cookie:cookie(0) ack S+1 win 65160 <mss 1460,sackOK,TS val T ecr 5000,nop,wscale 7>   (as Linux's)
  assert.is(seg.flags, TCP_SYN | TCP_ACK);
  assert.is(seg.ack, seqAdd(S, 1));
  assert.is(seg.window, 65160);
  const t = tsOf(seg);
  assert.equal(seg.options.list, [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'ts', val: t.val, ecr: 5000 }, NOP, { kind: 'wscale', shift: 7 }]);
  assert.is(t.val & 63, 7 | 0x10);
  const tsNow = tsValue(500, tsOffsetFor(seg.seq));
  assert.ok(((tsNow - t.val) >>> 0) < 64, 'the TSval is the new connection\'s clock, at most 63 ticks back');
  assert.is([...l.stack.connections()].length, 1, 'nothing kept for the cookie');
  assert.is([...l.stack.listening()][0]!.pending, 1, 'netstat Recv-Q: the one SYN_RECEIVED entry');
  assert.is(l.stack.counters.get('tcp_syncookies_sent'), 1);
  assert.is(l.stack.counters.get('tcp_passive_opens'), 1);
  // The same SYN again (a retransmission) gets the same cookie.
  assert.is(cookieSynAck(l, SYN_TS).seq, seg.seq);
});

test('a valid cookie ACK builds the connection: ESTABLISHED with MSS 1300, wscale 7, SACK, TS; its data delivered', async () => {
  const l = lab();
  l.fill();
  const synAck = cookieSynAck(l, SYN_TS);
  l.advanceTo(20);
  // 0.020 < P. S+1:S+19(18) ack cookie+1 win 100 <nop,nop,TS val 5010 ecr T>
  const out = l.inject(
    tcp({ flags: TCP_ACK | TCP_PSH, srcPort: 41001, seq: seqAdd(S, 1), ack: seqAdd(synAck.seq, 1), window: 100, options: [NOP, NOP, { kind: 'ts', val: 5010, ecr: tsOf(synAck).val }] }, REQUEST),
  );
  // The first data of a connection gets a quick ACK (Linux tcp_incr_quickack).
  assert.is(out.length, 1, 'the first data is ACKed at once');
  // That ACK keeps the right edge of the SYN,ACK's unscaled 65160 (opening it by less than an MSS is not
  // worth it, RFC 9293 §3.8.6.2.2), in units of our shift 7, rounded up so that the edge does not move left.
  assert.equal([asTcp(out[0]!).seg].map((u) => [u.flags, u.ack, u.window]), [[TCP_ACK, seqAdd(S, 1 + REQUEST.length), Math.ceil((65160 - REQUEST.length) / 128)]]);
  await delivered();
  assert.is(l.accepted.length, 1, 'handed to the listener like an established passive open');
  const ep = l.accepted[0]!;
  const c = ep.conn;
  assert.is(c.state, 'ESTABLISHED');
  assert.equal(l.states.slice(1), ['41001 LISTEN->ESTABLISHED: rcv ACK with a valid SYN cookie: connection rebuilt from it (RFC 4987 §3.6)']);
  assert.is(c.iss, synAck.seq);
  assert.is(c.sndUna, seqAdd(synAck.seq, 1));
  assert.is(c.sndMss, 1300, 'SYN mss 1400 -> table 1300');
  assert.is(c.sndWscale, 7);
  assert.is(c.sndWnd, 100 << 7);
  assert.is(c.ts.enabled, true);
  assert.is(c.ts.recent, 5010);
  assert.is(Buffer.concat(ep.read()).toString(), REQUEST.toString(), 'the data on the cookie ACK');
  assert.equal(l.inject(), [], 'reading 18 bytes is no reason for a window update');
  assert.is([...l.stack.listening()][0]!.pending, 1, 'back to the SYN_RECEIVED entry alone');
  assert.is(l.stack.counters.get('tcp_syncookies_recv'), 1);
  // SACK is on: out-of-order data gets an immediate ACK with its block (RFC 2018).
  const gap = seqAdd(S, 1 + REQUEST.length + 100);
  const sack = l.inject(tcp({ flags: TCP_ACK, srcPort: 41001, seq: gap, ack: seqAdd(synAck.seq, 1), window: 100, options: [NOP, NOP, { kind: 'ts', val: 5011, ecr: tsOf(synAck).val }] }, Buffer.alloc(50)));
  assert.is(sack.length, 1);
  const a = asTcp(sack[0]!).seg;
  assert.is(a.ack, seqAdd(S, 1 + REQUEST.length));
  assert.equal(a.options.sack, [[gap, seqAdd(gap, 50)]]);
  assert.is(a.options.tsEcr, 5010, 'TS.Recent moves only with in-order data (RFC 7323 §4.3)');
  // Our data goes out in segments of the cookie's MSS less the timestamps: 1288 bytes.
  ep.write(Buffer.alloc(3000, 1));
  const data = l.inject();
  assert.ok(data.length >= 1);
  assert.is(asTcp(data[0]!).seg.payload.length, 1288);
});

test('ECN rides on the cookie (RFC 3168 §6.1.1, Linux TS_OPT_ECN): S.E, TSval bit 5, and the ACK echoing it makes an ECN connection', async () => {
  const l = lab();
  l.fill();
  const out = l.inject(tcp({ flags: TCP_SYN | TCP_ECE | TCP_CWR, srcPort: 41001, seq: S, window: 64240, options: SYN_TS }));
  assert.is(out.length, 1);
  const synAck = asTcp(out[0]!).seg;
  assert.is(synAck.flags, TCP_SYN | TCP_ACK | TCP_ECE, 'cookie SYN,ACK with ECE');
  assert.is(tsOf(synAck).val & 0x3f, 0x20 | 0x10 | 7, 'ECN | SACK | wscale 7');
  l.advanceTo(20);
  l.inject(tcp({ flags: TCP_ACK, srcPort: 41001, seq: seqAdd(S, 1), ack: seqAdd(synAck.seq, 1), window: 100, options: [NOP, NOP, { kind: 'ts', val: 5010, ecr: tsOf(synAck).val }] }));
  await delivered();
  const ep = l.accepted[0]!;
  assert.ok(ep.conn.ecn.ok, 'ECN on the rebuilt connection');
  ep.write(Buffer.alloc(100, 1));
  const data = l.inject().map(asTcp);
  assert.is(data.length, 1);
  assert.is(data[0]!.ip.tos & 3, 2, 'its data is ECT(0)');
  // Without timestamps nothing can carry it: a plain cookie SYN,ACK.
  const plain = l.inject(tcp({ flags: TCP_SYN | TCP_ECE | TCP_CWR, srcPort: 41002, seq: S, window: 64240, options: SYN_NO_TS }));
  assert.is(asTcp(plain[0]!).seg.flags, TCP_SYN | TCP_ACK);
  // With ECN off the echoed bit is ignored (not refused, as Linux's cookie_ecn_ok).
  const ack = asTcp(tcp({ flags: TCP_ACK, seq: 1, ack: 1, options: [NOP, NOP, { kind: 'ts', val: 1, ecr: 0x20 }] })).seg;
  assert.ok(cookieEcnOk(ack, DEFAULT_TCP_CONFIG));
  assert.not.ok(cookieEcnOk(ack, { ...DEFAULT_TCP_CONFIG, ecn: 'off' }));
});

test('a cookie without timestamps: only the MSS in the SYN,ACK; the connection has no wscale, no SACK', async () => {
  const l = lab();
  l.fill();
  const synAck = cookieSynAck(l, SYN_NO_TS);
  // 0.000 > S. cookie:cookie(0) ack S+1 win 64240 <mss 1460>
  assert.equal(synAck.options.list, [{ kind: 'mss', mss: 1460 }]);
  assert.is(synAck.window, 64240);
  // 0.010 < F. S+1:S+19(18) ack cookie+1 win 5000     (request and FIN on the cookie ACK)
  l.advanceTo(10);
  const out = l.inject(tcp({ flags: TCP_ACK | TCP_FIN, srcPort: 41001, seq: seqAdd(S, 1), ack: seqAdd(synAck.seq, 1), window: 5000 }, REQUEST));
  await delivered();
  const c = l.accepted[0]!.conn;
  assert.is(c.sndWscale, 0);
  assert.is(c.sndWnd, 5000, 'the window is not scaled');
  assert.is(c.sndMss, 1460);
  assert.is(c.ts.enabled, false);
  assert.is(c.state, 'CLOSE_WAIT', 'the FIN on the cookie ACK counts too');
  // 0.010 > . cookie+1:cookie+1(0) ack S+20 win ...
  assert.is(out.length, 1);
  const a = asTcp(out[0]!).seg;
  assert.is(a.flags, TCP_ACK);
  assert.is(a.ack, seqAdd(S, 1 + REQUEST.length + 1));
  assert.equal(a.options.list, [], 'no TS, no SACK');
  assert.is(Buffer.concat(c.read(10)).toString(), REQUEST.toString());
  assert.equal(l.states.slice(1).map((s) => s.split(':')[0]), ['41001 LISTEN->ESTABLISHED', '41001 ESTABLISHED->CLOSE_WAIT']);
});

test('a forged ACK is refused with <SEQ=SEG.ACK><CTL=RST>, and so is a cookie from another SYN', () => {
  const l = lab();
  l.fill();
  const synAck = cookieSynAck(l, SYN_TS);
  const forged = l.inject(tcp({ flags: TCP_ACK, srcPort: 41001, seq: seqAdd(S, 1), ack: 0x12345678 }));
  assert.is(forged.length, 1);
  assert.is(asTcp(forged[0]!).seg.flags, TCP_RST);
  assert.is(asTcp(forged[0]!).seg.seq, 0x12345678);
  // The right cookie on another port, or with another SEG.SEQ.
  assert.is(asTcp(l.inject(tcp({ flags: TCP_ACK, srcPort: 41002, seq: seqAdd(S, 1), ack: seqAdd(synAck.seq, 1) }))[0]!).seg.flags, TCP_RST);
  assert.is(asTcp(l.inject(tcp({ flags: TCP_ACK, srcPort: 41001, seq: seqAdd(S, 2), ack: seqAdd(synAck.seq, 1) }))[0]!).seg.flags, TCP_RST);
  assert.is(l.stack.counters.get('tcp_syncookies_failed'), 3);
  assert.is(l.stack.counters.get('tcp_syncookies_recv'), 0);
  assert.is(l.accepted.length, 0);
  assert.is([...l.stack.connections()].length, 1);
});

test('a cookie from two ticks ago is stale: RST', () => {
  const l = lab();
  l.fill();
  l.advanceTo(59_000);
  const synAck = cookieSynAck(l, SYN_TS); // tick 0
  l.advanceTo(100_000);
  cookieSynAck(l, SYN_TS, 41002); // the listener still sends cookies, so ACKs are checked
  l.advanceTo(2 * COOKIE_PERIOD);
  const out = l.inject(tcp({ flags: TCP_ACK, srcPort: 41001, seq: seqAdd(S, 1), ack: seqAdd(synAck.seq, 1), options: [NOP, NOP, { kind: 'ts', val: 6000, ecr: tsOf(synAck).val }] }));
  assert.is(asTcp(out[0]!).seg.flags, TCP_RST);
  assert.is(l.stack.counters.get('tcp_syncookies_failed'), 1);
  assert.is(l.accepted.length, 0);
});

test('ACKs are checked as cookies only while the listener sends them (within 120 s of the last)', () => {
  const l = lab();
  const ack = (): Buffer => tcp({ flags: TCP_ACK, srcPort: 41005, seq: 5, ack: 777 });
  assert.is(asTcp(l.inject(ack())[0]!).seg.seq, 777);
  assert.is(l.stack.counters.get('tcp_syncookies_failed'), 0, 'no cookie sent yet: a plain RST, no check');
  l.fill();
  cookieSynAck(l, SYN_TS);
  l.inject(ack());
  assert.is(l.stack.counters.get('tcp_syncookies_failed'), 1);
  l.advanceTo(2 * COOKIE_PERIOD);
  l.inject(ack());
  assert.is(l.stack.counters.get('tcp_syncookies_failed'), 1, 'two minutes after the last cookie: no check');
  assert.is(l.stack.counters.get('tcp_rst_sent'), 3);
});

test('SYN cookies off: a SYN beyond the backlog is dropped (tcp_listen_overflow)', () => {
  const l = lab({ synCookies: false });
  l.fill();
  assert.is(l.inject(tcp({ flags: TCP_SYN, srcPort: 41001, seq: S, options: SYN_TS })).length, 0);
  assert.is(l.stack.counters.get('tcp_listen_overflow'), 1);
});

test('the SYN_RECEIVED entry gives up at 63 s (synAckRetries 5) and frees its place in the queue', () => {
  const l = lab();
  l.fill();
  const sent = l.advanceTo(63_000);
  assert.equal(sent.map((p) => asTcp(p).seg.flags), [TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK], '1, 3, 7, 15, 31 s; no RST at the end');
  assert.is([...l.stack.connections()].length, 0);
  assert.is([...l.stack.listening()][0]!.pending, 0);
  // Room again: the next SYN gets a SYN_RECEIVED entry, not a cookie.
  l.inject(tcp({ flags: TCP_SYN, srcPort: 41001, seq: S, options: SYN_TS }));
  assert.is(l.stack.counters.get('tcp_syncookies_sent'), 0);
  assert.is([...l.stack.listening()][0]!.pending, 1);
});

test.run();
