// Option negotiation (RFC 2018 §2, RFC 7323 §2-§3, Linux option layouts) and
// TCP timestamps (RFC 7323): TS.Recent (§4.3), PAWS (§5), RTT measurement
// from TSecr (§4.1, RFC 6298). Exact segments, packetdrill style.
//
// Setup: MSS 1012 both ways, so with timestamps a full segment carries
// 1012 - 12 = 1000 bytes. Our TSval is the ms clock plus a per-connection
// offset X (read from our first SYN); the peer's clock PT(t) starts just
// below 2^32 and wraps after 256 ms, so PAWS comparisons cross the wrap.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TcpOption } from '../../../src/wire/tcp.js';
import { P, Script, U, peerBytes } from './script.js';

// --------------------------------------------------------------------------
import { NOP, recv, acceptSyn, expect, TS, SACK, PT, CFG, X, TV, open, type In } from './options-script.js';

// ------------------------------------------------------------- negotiation

const MSS = (mss: number): TcpOption => ({ kind: 'mss', mss });
const SACKOK: TcpOption = { kind: 'sackOK' };
const TSO = (val: number, ecr: number): TcpOption => ({ kind: 'ts', val: val >>> 0, ecr: ecr >>> 0 });
const WS = (shift: number): TcpOption[] => [NOP, { kind: 'wscale', shift }];

const SYN_LAYOUTS: Array<{ sack: boolean; ts: boolean; opts: TcpOption[]; text: string }> = [
  { sack: true, ts: true, opts: [MSS(1012), SACKOK, TSO(TV(0), 0), ...WS(0)], text: 'mss,sackOK,TS val X ecr 0,nop,wscale' },
  { sack: false, ts: true, opts: [MSS(1012), NOP, NOP, TSO(TV(0), 0), ...WS(0)], text: 'mss,nop,nop,TS val X ecr 0,nop,wscale' },
  { sack: true, ts: false, opts: [MSS(1012), NOP, NOP, SACKOK, ...WS(0)], text: 'mss,nop,nop,sackOK,nop,wscale' },
  { sack: false, ts: false, opts: [MSS(1012), ...WS(0)], text: 'mss,nop,wscale' },
];

for (const c of SYN_LAYOUTS) {
  test(`Linux SYN layout, sack=${c.sack} ts=${c.ts}: <${c.text}>`, () => {
    const t = new Script({ ...CFG, sack: c.sack, timestamps: c.ts });
    t.connect(0);
    // 0.000 > S 0:0(0) win 3036 <...>   (as Linux: the 4000-byte buffer rounded down to 3 MSS of 1012)
    expect(t, { f: 'S', seq: U(0), win: 3036, opts: c.opts });
  });
}

for (const c of SYN_LAYOUTS) {
  test(`SYN,ACK mirrors the peer's offer, peer sack=${c.sack} ts=${c.ts}: <${c.text}>`, () => {
    const t = new Script(CFG);
    // 0.000 < S 0:0(0) win 65535 <mss 1012,[sackOK],[TS val PT(0) ecr 0],nop,wscale 7>
    const spec: In = { f: 'S', seq: P(0), win: 65535, mss: 1012, sackOK: c.sack, wscale: 7 };
    if (c.ts) spec.ts = [PT(0), 0];
    acceptSyn(t, 0, spec);
    const opts = c.opts.map((o) => (o.kind === 'ts' ? TSO(TV(0), PT(0)) : o));
    // 0.000 > S. 0:0(0) ack 1 win 4000|3036 <mss 1012,...>   (TS ecr = the peer's TSval; the buffer
    //   rounded down to whole segments of 1000 with TS, 1012 without, as Linux's tcp_openreq_init_rwin)
    expect(t, { f: 'S.', seq: U(0), ack: P(1), win: c.ts ? 4000 : 3036, opts });
  });
}

test('SYN,ACK without window scaling when the peer offered none: <mss,sackOK,TS val ecr> only', () => {
  const t = new Script(CFG);
  acceptSyn(t, 0, { f: 'S', seq: P(0), win: 65535, mss: 1012, sackOK: true, ts: [PT(0), 0] });
  expect(t, { f: 'S.', seq: U(0), ack: P(1), win: 4000, opts: [MSS(1012), SACKOK, TSO(TV(0), PT(0))] });
});

test('SYN,ACK offers nothing we are configured without, even if the peer offers it', () => {
  const t = new Script({ ...CFG, sack: false });
  acceptSyn(t, 0, { f: 'S', seq: P(0), win: 65535, mss: 1012, sackOK: true, ts: [PT(0), 0], wscale: 7 });
  expect(t, { f: 'S.', seq: U(0), ack: P(1), win: 4000, opts: [MSS(1012), NOP, NOP, TSO(TV(0), PT(0)), ...WS(0)] });
  const u = new Script({ ...CFG, timestamps: false });
  acceptSyn(u, 0, { f: 'S', seq: P(0), win: 65535, mss: 1012, sackOK: true, ts: [PT(0), 0], wscale: 7 });
  expect(u, { f: 'S.', seq: U(0), ack: P(1), win: 3036, opts: [MSS(1012), NOP, NOP, SACKOK, ...WS(0)] });
});

test('active open with TS: the ACK and every data segment carry <nop,nop,TS val X+now ecr TS.Recent>, MSS-12 bytes each', () => {
  const t = new Script(CFG);
  t.connect(0);
  expect(t, { f: 'S', seq: U(0), win: 3036, opts: [MSS(1012), SACKOK, TSO(TV(0), 0), ...WS(0)] });
  // 0.100 < S. 0:0(0) ack 1 win 65535 <mss 1012,sackOK,TS val PT(100) ecr X,nop,wscale 7>
  recv(t, 100, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1012, sackOK: true, ts: [PT(100), TV(0)], wscale: 7 });
  // 0.100 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+100 ecr PT(100)>
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(100), PT(100)) });
  t.transitions('CLOSED->SYN_SENT', 'SYN_SENT->ESTABLISHED');
  assert.is(t.conn.effMss, 1000);
  t.write(250, 2500);
  // 0.250 > . 1:1001(1000) ack 1 win 4000 <nop,nop,TS val X+250 ecr PT(100)>
  // 0.250 > . 1001:2001(1000) ack 1 win 4000 <nop,nop,TS val X+250 ecr PT(100)>
  // (the 500-byte tail waits: Nagle)
  expect(
    t,
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000, opts: TS(TV(250), PT(100)) },
    { f: '.', seq: U(1001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(250), PT(100)) },
  );
  // 0.350 < . 1:1(0) ack 2001 win 65535 <nop,nop,TS val PT(350) ecr X+250>
  recv(t, 350, { f: '.', seq: P(1), ack: U(2001), win: 65535, ts: [PT(350), TV(250)] });
  // 0.350 > P. 2001:2501(500) ack 1 win 4000 <nop,nop,TS val X+350 ecr PT(350)>
  expect(t, { f: 'P.', seq: U(2001), ack: P(1), win: 4000, len: 500, opts: TS(TV(350), PT(350)) });
});

test('passive open with TS only: SYN,ACK <mss,nop,nop,TS,nop,wscale>, data segments of 1000 bytes with TS', () => {
  const t = new Script(CFG);
  acceptSyn(t, 0, { f: 'S', seq: P(0), win: 65535, mss: 1012, ts: [PT(0), 0], wscale: 7 });
  expect(t, { f: 'S.', seq: U(0), ack: P(1), win: 4000, opts: [MSS(1012), NOP, NOP, TSO(TV(0), PT(0)), ...WS(0)] });
  // 0.100 < . 1:1(0) ack 1 win 512 <nop,nop,TS val PT(100) ecr X>     (scaled by 7: 65536)
  recv(t, 100, { f: '.', seq: P(1), ack: U(1), win: 512, ts: [PT(100), TV(0)] });
  expect(t);
  t.transitions('LISTEN->SYN_RECEIVED', 'SYN_RECEIVED->ESTABLISHED');
  t.write(200, 2000);
  expect(
    t,
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
    { f: 'P.', seq: U(1001), ack: P(1), win: 4000, len: 1000, opts: TS(TV(200), PT(100)) },
  );
});

test('without timestamps a full data segment carries the whole MSS (1012 bytes) and no options', () => {
  const t = open({ ...CFG, timestamps: false }, { ts: false });
  assert.is(t.conn.effMss, 1012);
  t.write(200, 2024);
  expect(
    t,
    { f: '.', seq: U(1), ack: P(1), win: 4000, len: 1012 },
    { f: 'P.', seq: U(1013), ack: P(1), win: 4000, len: 1012 },
  );
});

test('timestamps stay off when only our side offered them: no TS on any segment', () => {
  const t = new Script(CFG);
  t.connect(0);
  t.takeOut();
  recv(t, 100, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1012, sackOK: true });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000 });
  t.write(200, 1012);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 1012 });
});

// ------------------------------------------------------------- TS.Recent

test('RFC 7323 §4.3 (A) delayed ACK: TS.Recent comes from the first unacknowledged segment, not the later one', () => {
  // The RFC's case is about delayed ACKs: no quick ACKs at the start here
  // (cfg.quickAcks 0; they have tests of their own in data.test.ts).
  const t = open({ ...CFG, quickAcks: 0 });
  // 0.200 < . 1:1001(1000) ack 1 <nop,nop,TS val PT(200) ecr X+100>   (SEG.SEQ <= Last.ACK.sent: TS.Recent = PT(200))
  recv(t, 200, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(200), TV(100)] });
  expect(t);
  // 0.210 < . 1001:2001(1000) ack 1 <nop,nop,TS val PT(210) ecr X+100>  (SEG.SEQ > Last.ACK.sent: ignored)
  recv(t, 210, { f: '.', seq: P(1001), ack: U(1), len: 1000, ts: [PT(210), TV(100)] });
  // 0.210 > . 1:1(0) ack 2001 win 2000 <nop,nop,TS val X+210 ecr PT(200)>
  expect(t, { f: '.', seq: U(1), ack: P(2001), win: 2000, opts: TS(TV(210), PT(200)) });
  assert.is(t.conn.ts.recent, PT(200));
  // 0.300 < . 2001:3001(1000) ack 1 <nop,nop,TS val PT(300) ecr X+210>  (SEG.SEQ = Last.ACK.sent: taken)
  recv(t, 300, { f: '.', seq: P(2001), ack: U(1), len: 1000, ts: [PT(300), TV(210)] });
  expect(t);
  // 0.340 > . 1:1(0) ack 3001 win 1000 <nop,nop,TS val X+340 ecr PT(300)>   (delayed ACK)
  t.timerAt(340);
  expect(t, { f: '.', seq: U(1), ack: P(3001), win: 1000, opts: TS(TV(340), PT(300)) });
});

test('RFC 7323 §4.3 (C) a hole: ACKs echo the segment that last advanced RCV.NXT, then the one that filled the hole', () => {
  const t = open();
  recv(t, 200, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(200), TV(100)] });
  // 0.200 > . 1:1(0) ack 1001 win 3000 <nop,nop,TS val X+200 ecr PT(200)>   (quick ACK: the first data)
  expect(t, { f: '.', seq: U(1), ack: P(1001), win: 3000, opts: TS(TV(200), PT(200)) });
  // 0.210 < . 2001:3001(1000) ack 1 <TS val PT(210)>   (out of order: immediate ACK, TS.Recent unchanged)
  recv(t, 210, { f: '.', seq: P(2001), ack: U(1), len: 1000, ts: [PT(210), TV(100)] });
  // 0.210 > . 1:1(0) ack 1001 win 3000 <nop,nop,TS val X+210 ecr PT(200),nop,nop,sack 2001:3001>
  expect(t, { f: '.', seq: U(1), ack: P(1001), win: 3000, opts: [...TS(TV(210), PT(200)), ...SACK([2001, 3001])] });
  // 0.220 < . 1001:2001(1000) ack 1 <TS val PT(220)>   (fills the hole)
  recv(t, 220, { f: '.', seq: P(1001), ack: U(1), len: 1000, ts: [PT(220), TV(210)] });
  // 0.220 > . 1:1(0) ack 3001 win 1000 <nop,nop,TS val X+220 ecr PT(220)>
  expect(t, { f: '.', seq: U(1), ack: P(3001), win: 1000, opts: TS(TV(220), PT(220)) });
  assert.equal(t.read(230), peerBytes(0, 3000));
});

test('RFC 7323 §4.3 (2) as Linux tcp_sequence: the last segment resent after its ACK was lost is echoed (soak seed 4977)', () => {
  const t = open();
  recv(t, 200, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(200), TV(100)] });
  // 0.200 > . 1:1(0) ack 1001 win 3000 <nop,nop,TS val X+200 ecr PT(200)>   (lost on the way)
  expect(t, { f: '.', seq: U(1), ack: P(1001), win: 3000, opts: TS(TV(200), PT(200)) });
  t.read(200);
  // 0.500 < . 1:1001(1000) ack 1 <TS val PT(500)>   (the peer's RTO: it ends at RCV.WUP, Linux lets it through)
  recv(t, 500, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(500), TV(200)] });
  // 0.500 > . 1:1(0) ack 1001 win 4000 <nop,nop,TS val X+500 ecr PT(500),nop,nop,sack 1:1001>   (echoes the retransmission)
  expect(t, { f: '.', seq: U(1), ack: P(1001), win: 4000, opts: [...TS(TV(500), PT(500)), ...SACK([1, 1001])] });
  // An older duplicate (ending before RCV.WUP) leaves TS.Recent alone, as in Linux (tcp_send_dupack).
  recv(t, 600, { f: '.', seq: P(1001), ack: U(1), len: 1000, ts: [PT(600), TV(500)] });
  t.takeOut();
  recv(t, 700, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(700), TV(600)] });
  expect(t, { f: '.', seq: U(1), ack: P(2001), win: 3000, opts: [...TS(TV(700), PT(600)), ...SACK([1, 1001])] });
});

// -------------------------------------------------------------------- PAWS

test('RFC 7323 §5.3 R1 PAWS: data with a TSval older than TS.Recent (across the 2^32 wrap) is ACKed and dropped', () => {
  const t = open();
  // 0.300 < P. 1:101(100) ack 1 <TS val PT(300) ecr X+100>   (PT(300) has wrapped past 2^32)
  recv(t, 300, { f: 'P.', seq: P(1), ack: U(1), len: 100, ts: [PT(300), TV(100)] });
  // 0.300 > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+300 ecr PT(300)>   (quick ACK: the first data)
  expect(t, { f: '.', seq: U(1), ack: P(101), win: 3900, opts: TS(TV(300), PT(300)) });
  t.events('readable');
  assert.is(t.conn.ts.recent, PT(300));
  // 0.400 < P. 101:201(100) ack 1 <TS val PT(200) ecr X+100>   (older than TS.Recent: an old duplicate)
  recv(t, 400, { f: 'P.', seq: P(101), ack: U(1), len: 100, ts: [PT(200), TV(100)] });
  // 0.400 > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+400 ecr PT(300)>
  expect(t, { f: '.', seq: U(1), ack: P(101), win: 3900, opts: TS(TV(400), PT(300)) });
  t.events();
  assert.is(t.conn.rcvNxt, P(101), 'RCV.NXT unchanged');
  assert.is(t.conn.ts.recent, PT(300), 'TS.Recent unchanged');
  assert.equal(t.read(410), peerBytes(0, 100), 'only the first segment was delivered');
  // 0.500 < P. 101:201(100) ack 1 <TS val PT(500) ecr X+400>   (the same bytes with a current TSval)
  recv(t, 500, { f: 'P.', seq: P(101), ack: U(1), len: 100, ts: [PT(500), TV(400)] });
  // 0.500 > . 1:1(0) ack 201 win 3800 <nop,nop,TS val X+500 ecr PT(500)>   (the second quick ACK)
  expect(t, { f: '.', seq: U(1), ack: P(201), win: 3800, opts: TS(TV(500), PT(500)) });
  t.events('readable');
  assert.equal(t.read(510), peerBytes(100, 200));
});

test('RFC 7323 §5.3 R1 PAWS: an old ACK does not acknowledge anything', () => {
  const t = open();
  t.write(200, 500);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500, opts: TS(TV(200), PT(100)) });
  // 0.300 < . 1:1(0) ack 501 <TS val PT(50) ecr X+200>   (older than TS.Recent = PT(100))
  recv(t, 300, { f: '.', seq: P(1), ack: U(501), win: 65535, ts: [PT(50), TV(200)] });
  // 0.300 > . 501:501(0) ack 1 win 4000 <nop,nop,TS val X+300 ecr PT(100)>
  expect(t, { f: '.', seq: U(501), ack: P(1), win: 4000, opts: TS(TV(300), PT(100)) });
  assert.is(t.conn.sndUna, U(1), 'SND.UNA unchanged');
  assert.is(t.conn.nextDeadline(), 200 + 300, 'RTO still running');
  // 0.310 < . 1:1(0) ack 501 <TS val PT(310) ecr X+200>
  recv(t, 310, { f: '.', seq: P(1), ack: U(501), win: 65535, ts: [PT(310), TV(200)] });
  expect(t);
  assert.is(t.conn.sndUna, U(501));
});

test('RFC 7323 §5.3 R1: an RST is exempt from PAWS (an in-window RST with an old TSval still resets)', () => {
  const t = open();
  // 0.200 < R 1:1(0) <TS val PT(50) ecr X+100>
  recv(t, 200, { f: 'R', seq: P(1), ts: [PT(50), TV(100)] });
  expect(t);
  t.transitions('ESTABLISHED->CLOSED');
  t.events('error ECONNRESET', 'closed');
});

test('Linux tcp_invalid_ratelimit with PAWS: rejected pure ACKs get one ACK per 500 ms, rejected data one each', () => {
  const t = open(); // TS.Recent = PT(100)
  // 0.200 < . 1:1(0) ack 1 <TS val PT(50) ecr X+100>   (older than TS.Recent)
  // 0.200 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+200 ecr PT(100)>
  recv(t, 200, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(50), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(200), PT(100)) });
  // 0.300 < . 1:1(0) ack 1 <TS val PT(50) ecr X+100>   (the same again: not answered)
  recv(t, 300, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(50), TV(100)] });
  expect(t);
  // 0.400 < P. 1:101(100) ack 1 <TS val PT(50) ecr X+100>   (rejected data is always answered)
  // 0.400 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+400 ecr PT(100)>
  recv(t, 400, { f: 'P.', seq: P(1), ack: U(1), len: 100, ts: [PT(50), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(400), PT(100)) });
  // 0.699 < . 1:1(0) ack 1 <TS val PT(50) ecr X+100>   (not answered)
  recv(t, 699, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(50), TV(100)] });
  expect(t);
  // 0.700 < . 1:1(0) ack 1 <TS val PT(50) ecr X+100>   (500 ms after the last pure-ACK answer)
  // 0.700 > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+700 ecr PT(100)>
  recv(t, 700, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(50), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(700), PT(100)) });
  assert.is(t.counters.get('tcp_paws_rejected'), 5);
  assert.is(t.counters.get('tcp_oow_ratelimited_paws'), 2);
});

test('RFC 7323 §5.5: after more than 24 idle days TS.Recent is stale: an "older" TSval is accepted and becomes TS.Recent', () => {
  const t = open(); // TS.Recent = PT(100), set at 0.100
  const DAY = 24 * 3600 * 1000;
  // 24 days later, not more: still an old duplicate.
  const at = 100 + 24 * DAY;
  // +24d < P. 1:101(100) ack 1 <TS val PT(50) ecr X+100>
  // +24d > . 1:1(0) ack 1 win 4000 <nop,nop,TS val X+at ecr PT(100)>
  recv(t, at, { f: 'P.', seq: P(1), ack: U(1), len: 100, ts: [PT(50), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(at), PT(100)) });
  t.events();
  // One millisecond more: the peer's clock may have run past 2^31 ticks since, so PAWS is skipped.
  // +24d+1ms < P. 1:101(100) ack 1 <TS val PT(50) ecr X+100>
  // +24d+1ms > . 1:1(0) ack 101 win 3900 <nop,nop,TS val X+at+1 ecr PT(50)>   (taken; quick ACK after the silence)
  recv(t, at + 1, { f: 'P.', seq: P(1), ack: U(1), len: 100, ts: [PT(50), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(101), win: 3900, opts: TS(TV(at + 1), PT(50)) });
  t.events('readable');
  assert.is(t.conn.ts.recent, PT(50));
  // From then on PAWS holds against the new TS.Recent.
  recv(t, at + 2, { f: 'P.', seq: P(101), ack: U(1), len: 100, ts: [PT(40), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(101), win: 3900, opts: TS(TV(at + 2), PT(50)) });
  t.events();
});

test('RFC 7323 §4.3 like Linux (packetdrill ts_recent/invalid_ack): a segment that ACKs unsent data leaves TS.Recent alone', () => {
  const t = open(); // TS.Recent = PT(100)
  // 0.200 < F. 1:1(0) ack 9999 <nop,nop,TS val PT(100)+200000 ecr X+100>   (acks what we never sent: dropped, no answer)
  recv(t, 200, { f: 'F.', seq: P(1), ack: U(9999), ts: [PT(100) + 200_000, TV(100)] });
  expect(t);
  assert.is(t.conn.ts.recent, PT(100));
  assert.is(t.state, 'ESTABLISHED', 'its FIN was not taken');
  // 0.210 < . 1:1001(1000) ack 1 <nop,nop,TS val PT(210) ecr X+100>   (not taken for an old duplicate)
  // 0.210 > . 1:1(0) ack 1001 win 3000 <nop,nop,TS val X+210 ecr PT(210)>
  recv(t, 210, { f: '.', seq: P(1), ack: U(1), len: 1000, ts: [PT(210), TV(100)] });
  expect(t, { f: '.', seq: U(1), ack: P(1001), win: 3000, opts: TS(TV(210), PT(210)) });
});

test('RFC 7323 §3.2 (and Linux tcp_send_active_reset): our RST carries TS too once negotiated', () => {
  const t = open();
  t.abort(200);
  // 0.200 > R. 1:1(0) ack 1 win 4000 <nop,nop,TS val X+200 ecr PT(100)>
  expect(t, { f: 'R.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(200), PT(100)) });
});

// --------------------------------------------------------------------- RTT

test('RFC 7323 §4.1 + RFC 6298: the handshake RTT comes from TSecr (100 ms: RTO 300)', () => {
  const t = open();
  assert.is(t.conn.rtt.srtt, 100);
  assert.is(t.conn.rtt.rttvar, 50);
  t.write(200, 10);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10, opts: TS(TV(200), PT(100)) });
  assert.is(t.conn.nextDeadline(), 200 + 300);
});

test('RFC 7323 §4.1: a retransmitted segment is timed by its echoed TSval (no Karn ambiguity): RTO from the sample', () => {
  const t = open();
  t.write(200, 500);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500, opts: TS(TV(200), PT(100)) });
  // 0.500 > P. 1:501(500) ack 1 win 4000 <nop,nop,TS val X+500 ecr PT(100)>
  //   (the tail loss probe: PTO 2*SRTT + 200 = 400 cut to the RTO at 0.500, RFC 8985 §7.2; the RTO restarts, 300)
  t.timerAt(500);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 500, opts: TS(TV(500), PT(100)) });
  assert.is(t.conn.nextDeadline(), 500 + 300);
  // 0.560 < . 1:1(0) ack 501 <TS val PT(560) ecr X+500>   (echoes the retransmission: RTT 60)
  recv(t, 560, { f: '.', seq: P(1), ack: U(501), win: 65535, ts: [PT(560), TV(500)] });
  expect(t);
  // SRTT = 7/8*100 + 1/8*60 = 95; RTTVAR = 3/4*50 + 1/4*|100-60| = 47.5;
  // RTO = 95 + max(4*47.5, 200) = 295 (Linux floors the variance term, rtt.ts)
  assert.is(t.conn.rtt.srtt, 95);
  assert.is(t.conn.rtt.rttvar, 47.5);
  t.write(600, 100);
  expect(t, { f: 'P.', seq: U(501), ack: P(1), win: 4000, len: 100, opts: TS(TV(600), PT(560)) });
  assert.is(t.conn.nextDeadline(), 600 + 295, 'RTO from the TS sample, backoff gone');
});

test('RFC 6298 §2.4 with TS samples: the RTO is at least minRto (200 ms)', () => {
  const t = new Script(CFG);
  t.connect(0);
  t.takeOut();
  // 0.010 < S. 0:0(0) ack 1 <mss 1012,sackOK,TS val PT(10) ecr X>   (RTT 10: 10 + 4*5 = 30 < 200)
  recv(t, 10, { f: 'S.', seq: P(0), ack: U(1), win: 65535, mss: 1012, sackOK: true, ts: [PT(10), TV(0)] });
  expect(t, { f: '.', seq: U(1), ack: P(1), win: 4000, opts: TS(TV(10), PT(10)) });
  t.write(20, 10);
  expect(t, { f: 'P.', seq: U(1), ack: P(1), win: 4000, len: 10, opts: TS(TV(20), PT(10)) });
  // As Linux, the 200 ms floor is on the variance term: RTO = 10 + 200.
  assert.is(t.conn.nextDeadline(), 20 + 210);
});

test('RFC 7323 §4.2: an ACK that does not advance SND.UNA gives no RTT sample', () => {
  const t = open();
  t.write(200, 2000);
  t.takeOut();
  // 0.450 < . 1:1(0) ack 1 <TS val PT(450) ecr X+200>   (a duplicate ACK; 250 ms would be a bogus sample)
  recv(t, 900, { f: '.', seq: P(1), ack: U(1), win: 65535, ts: [PT(900), TV(200)] });
  assert.is(t.conn.rtt.srtt, 100);
  assert.is(t.conn.rtt.rttvar, 50);
  t.takeOut();
});

test.run();
