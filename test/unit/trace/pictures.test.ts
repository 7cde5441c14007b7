// The pictures (issue 14) on a known trace: conversations, the passive state
// tracker, the terminal ladder, the SVG ladder's arrows, the time-sequence
// graph, the state diagram, the HTML page, pcap link types, and the live
// recorder with the TCB observer in virtual time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildTcpPacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type TcpFields, type TcpOption } from '../../../src/wire/tcp.js';
import { seqAdd } from '../../../src/wire/seq.js';
import { ConversationSet, summaryOf, type Conversation } from '../../../src/trace/conversation.js';
import { allStates, confirmWithSs, trackStates } from '../../../src/trace/state-tracker.js';
import { ASCII_GLYPHS, arrow, ladderLines, UNICODE_GLYPHS, utf8Locale } from '../../../src/trace/ladder.js';
import { layoutLadder, svgLadder } from '../../../src/trace/svg-ladder.js';
import { seqGraphLayout, svgCcPlots, svgSeqGraph } from '../../../src/trace/seqgraph.js';
import { countTransitions, diagramEdges, svgStateDiagram } from '../../../src/trace/state-diagram.js';
import { htmlReport } from '../../../src/trace/html-report.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../../../src/trace/pcap.js';
import { conversationsOfPcap } from '../../../src/cli/report.js';
import { parseSsLine } from '../../../src/cli/pictures.js';
import { attachRecorder } from '../../../src/trace/recorder.js';
import { TapLink } from '../../../src/link/tap.js';
import { simPair } from '../../sim/harness.js';
import { fixturePath } from '../wire/fixtures.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../../src/cli/main.js', import.meta.url).pathname;

const C = { src: '10.0.0.1', dst: '10.0.0.2', protocol: 6 };
const S = { src: '10.0.0.2', dst: '10.0.0.1', protocol: 6 };
// ISNs near 2^32: the client's sequence numbers wrap during the transfer.
const CI = 0xffffff00;
const SI = 0x7ffffff0;
const WS: TcpOption[] = [{ kind: 'mss', mss: 1460 }, { kind: 'sackOK' }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }];

function seg(ip: typeof C, f: Partial<TcpFields> & { flags: number }, len = 0, sack?: Array<[number, number]>): Buffer {
  const fromC = ip === C;
  const base: TcpFields = { srcPort: fromC ? 40000 : 5000, dstPort: fromC ? 5000 : 40000, seq: 0, ack: 0, window: 512, ...f };
  if (sack !== undefined) base.options = [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: sack }];
  return buildTcpPacket(ip, base, len > 0 ? Buffer.alloc(len, 0x61) : undefined);
}

/** [time ms, packet, dropped]: a handshake, 3 x 200 bytes with the second lost and resent, SACK, close by the client. */
function trace(): Array<[number, Buffer, boolean]> {
  const c = (n: number): number => seqAdd(CI, n);
  const s = (n: number): number => seqAdd(SI, n);
  return [
    [0, seg(C, { seq: CI, flags: TCP_SYN, window: 64240, options: WS }), false],
    [10, seg(S, { seq: SI, ack: c(1), flags: TCP_SYN | TCP_ACK, window: 65160, options: WS }), false],
    [20, seg(C, { seq: c(1), ack: s(1), flags: TCP_ACK }), false],
    [21, seg(C, { seq: c(1), ack: s(1), flags: TCP_ACK }, 200), false],
    [22, seg(C, { seq: c(201), ack: s(1), flags: TCP_ACK }, 200), true],
    [23, seg(C, { seq: c(401), ack: s(1), flags: TCP_ACK | TCP_PSH }, 200), false],
    [31, seg(S, { seq: s(1), ack: c(201), flags: TCP_ACK }), false],
    [33, seg(S, { seq: s(1), ack: c(201), flags: TCP_ACK }, 0, [[c(401), c(601)]]), false],
    [230, seg(C, { seq: c(201), ack: s(1), flags: TCP_ACK }, 200), false],
    [240, seg(S, { seq: s(1), ack: c(601), flags: TCP_ACK }), false],
    [250, seg(C, { seq: c(601), ack: s(1), flags: TCP_FIN | TCP_ACK }), false],
    [260, seg(S, { seq: s(1), ack: c(602), flags: TCP_FIN | TCP_ACK }), false],
    [270, seg(C, { seq: c(602), ack: s(2), flags: TCP_ACK }), false],
  ];
}

function conversation(): Conversation {
  const set = new ConversationSet({ t0: 1000 });
  for (const [t, p, dropped] of trace()) set.packet(p, 1000 + t, dropped);
  const convs = set.conversations();
  assert.is(convs.length, 1);
  return convs[0]!;
}

test('conversation: the client on the left, flags, lengths, retransmission and drop marked', () => {
  const conv = conversation();
  assert.equal([conv.left.addr, conv.left.port, conv.left.name], ['10.0.0.1', 40000, 'client']);
  assert.equal([conv.right.addr, conv.right.port, conv.right.name], ['10.0.0.2', 5000, 'server']);
  assert.equal(conv.segs.map((s) => s.flags), ['S', 'S.', '.', '.', '.', 'P.', '.', '.', '.', '.', 'F.', 'F.', '.']);
  assert.equal(conv.segs.map((s) => s.len), [0, 0, 0, 200, 200, 200, 0, 0, 200, 0, 0, 0, 0]);
  assert.equal(conv.segs.map((s, i) => (s.retrans ? i : -1)).filter((i) => i >= 0), [8]);
  assert.equal(conv.segs.map((s, i) => (s.dropped ? i : -1)).filter((i) => i >= 0), [4]);
  assert.equal(conv.segs.map((s) => s.fromLeft), [true, false, true, true, true, true, false, false, true, false, true, false, true]);
  assert.equal(conv.segs[7]!.sack, [[seqAdd(CI, 401), seqAdd(CI, 601)]]);
  assert.is(conv.segs[8]!.t, 230);
  // The summary: flags, seq/ack, win, SACK, length, without the other options.
  assert.is(conv.segs[7]!.summary, '[.], ack 201, win 512, sack 1 {401:601}, length 0');
  assert.is(conv.segs[0]!.summary, `[S], seq ${CI}, win 64240, length 0`);
  assert.is(summaryOf('IP 1.2.3.4.5 > 6.7.8.9.10: Flags [P.], seq 1:61, ack 1, win 502, options [nop,nop,TS val 1 ecr 2], length 60: HTTP: GET / HTTP/1.1'), '[P.], seq 1:61, ack 1, win 502, length 60: HTTP: GET / HTTP/1.1');
});

test('state tracker: both sides through handshake and close, each change linked to the segment it was sent with', () => {
  const marks = trackStates(conversation());
  const got = marks.map((m) => `${m.t} ${m.left ? 'L' : 'R'} ${m.from}>${m.to}${m.seg !== undefined ? ` @${m.seg}` : ''}`);
  assert.equal(got, [
    '0 L CLOSED>SYN_SENT @0',
    '10 R LISTEN>SYN_RECEIVED @1',
    '10 L SYN_SENT>ESTABLISHED',
    '20 R SYN_RECEIVED>ESTABLISHED',
    '250 L ESTABLISHED>FIN_WAIT_1 @10',
    '250 R ESTABLISHED>CLOSE_WAIT',
    '260 R CLOSE_WAIT>LAST_ACK @11',
    '260 L FIN_WAIT_1>FIN_WAIT_2',
    '260 L FIN_WAIT_2>TIME_WAIT',
    '270 R LAST_ACK>CLOSED',
  ]);
  assert.ok(marks.every((m) => m.inferred && m.cause.endsWith('(inferred from the segments)')));
  // Only the right side when the left one has its own marks (a live run).
  assert.ok(trackStates(conversation(), true).every((m) => !m.left));
});

test('state tracker: a FIN after a hole waits for the hole to fill, or for an ACK that covers it; a dropped segment is never received', () => {
  const right = (keep: number[]): string[] => {
    const conv = conversation();
    conv.segs = keep.map((i) => conv.segs[i]!);
    return trackStates(conv).filter((m) => !m.left).map((m) => m.to);
  };
  // Bytes 201..401 were dropped: the client's FIN (10) waits behind the hole.
  assert.equal(right([0, 1, 2, 3, 4, 5, 6, 7, 10]), ['SYN_RECEIVED', 'ESTABLISHED']);
  // The retransmission (8) fills it: bytes 401..601 were seen, but only the
  // server's ACK of 601 (9) shows they were kept, so then the FIN is in order.
  assert.equal(right([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]), ['SYN_RECEIVED', 'ESTABLISHED']);
  assert.equal(right([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), ['SYN_RECEIVED', 'ESTABLISHED', 'CLOSE_WAIT']);
  // What the server acknowledges it has: its FIN,ACK of 602 (11) shows it took the client's FIN.
  assert.equal(right([0, 1, 2, 3, 4, 5, 6, 7, 10, 11]), ['SYN_RECEIVED', 'ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK']);
});

test('ss readings confirm an inferred state only when the reading lies wholly inside it', () => {
  const conv = conversation();
  const marks = trackStates(conv);
  confirmWithSs(marks, [
    { t0: 30, t1: 200, state: 'ESTABLISHED' }, // inside ESTABLISHED [20, 250): confirmed
    { t0: 255, t1: 265, state: 'CLOSE_WAIT' }, // straddles the change at 260: nothing
  ]);
  const right = marks.filter((m) => !m.left);
  assert.equal(right.map((m) => m.inferred), [true, false, true, true, true]);
  assert.match(right[1]!.cause, /seen with ss/);
  assert.equal(parseSsLine('ESTAB      0      0        10.77.0.1:80     10.77.0.2:40312'), ['ESTABLISHED', '10.77.0.1', 80, '10.77.0.2', 40312]);
  assert.equal(parseSsLine('TIME-WAIT 0 0 10.77.0.1:57616 10.77.0.2:7')?.[0], 'TIME_WAIT');
  assert.is(parseSsLine('LISTEN 0 511 10.77.0.1:80 0.0.0.0:*'), null);
});

test('ss readings name their socket: a reading of the left side confirms only the left side (compare\'s kernel client)', () => {
  const set = new ConversationSet({ t0: 1000 });
  for (const [t, p, dropped] of trace()) set.packet(p, 1000 + t, dropped);
  // The client's socket (10.0.0.1:40000) in ESTABLISHED during [30, 200) and in TIME_WAIT after 270 (absolute ms).
  assert.ok(set.ssReading('10.0.0.1', 40000, '10.0.0.2', 5000, 'ESTABLISHED', 1030, 1200));
  assert.ok(set.ssReading('10.0.0.1', 40000, '10.0.0.2', 5000, 'TIME_WAIT', 1280, 1290));
  assert.not.ok(set.ssReading('10.0.0.9', 40000, '10.0.0.2', 5000, 'ESTABLISHED', 1030, 1200), 'no such conversation');
  const conv = set.conversations()[0]!;
  assert.equal(conv.ss.map((r) => [r.t0, r.left]), [[30, true], [280, true]]);
  const seen = allStates(conv).filter((m) => !m.inferred).map((m) => `${m.left ? 'L' : 'R'} ${m.to}`);
  assert.equal(seen, ['L ESTABLISHED', 'L TIME_WAIT']);
});

test('terminal ladder (ASCII): one row per segment, states beside their line, 100 columns', () => {
  const lines = ladderLines(conversation(), { unicode: false });
  for (const l of lines) assert.ok(l.length <= 100, `${l.length}: ${l}`);
  const expected = [
    '         client 10.0.0.1:40000                                                  server 10.0.0.2:5000',
    '         | CLOSED -> SYN_SENT (inferred)                                                           |',
    `+0.000s  |--- [S], seq ${CI}, win 64240, length 0 ------------------------------------------->|`,
    '         |                                                       LISTEN -> SYN_RECEIVED (inferred) |',
    `+0.010s  |<-------------------------- [S.], seq ${SI}, ack ${seqAdd(CI, 1)}, win 65160, length 0 ---|`,
    '+0.010s  | SYN_SENT -> ESTABLISHED (inferred)                                                      |',
    '+0.020s  |--- [.], ack 1, win 512, length 0 ------------------------------------------------------>|',
    '+0.020s  |                                                  SYN_RECEIVED -> ESTABLISHED (inferred) |',
    '+0.021s  |--- [.], seq 1:201, ack 1, win 512, length 200 ----------------------------------------->|',
    '+0.022s  |--- [.], seq 201:401, ack 1, win 512, length 200 (dropped) ------------x                 |',
    '+0.023s  |--- [P.], seq 401:601, ack 1, win 512, length 200 -------------------------------------->|',
  ];
  assert.equal(lines.slice(0, expected.length), expected);
  assert.equal(lines.slice(expected.length), [
    '+0.031s  |<---------------------------------------------------- [.], ack 201, win 512, length 0 ---|',
    '+0.033s  |<---------------------------------- [.], ack 201, win 512, sack 1 {401:601}, length 0 ---|',
    '+0.230s  |--- retransmission: [.], seq 201:401, ack 1, win 512, length 200 ----------------------->|',
    '+0.240s  |<---------------------------------------------------- [.], ack 601, win 512, length 0 ---|',
    '         | ESTABLISHED -> FIN_WAIT_1 (inferred)                                                    |',
    '+0.250s  |--- [F.], seq 601, ack 1, win 512, length 0 -------------------------------------------->|',
    '+0.250s  |                                                    ESTABLISHED -> CLOSE_WAIT (inferred) |',
    '         |                                                       CLOSE_WAIT -> LAST_ACK (inferred) |',
    '+0.260s  |<-------------------------------------------- [F.], seq 1, ack 602, win 512, length 0 ---|',
    '+0.260s  | FIN_WAIT_1 -> FIN_WAIT_2 (inferred)                                                     |',
    '+0.260s  | FIN_WAIT_2 -> TIME_WAIT (inferred)                                                      |',
    '+0.270s  |--- [.], ack 2, win 512, length 0 ------------------------------------------------------>|',
    '+0.270s  |                                                           LAST_ACK -> CLOSED (inferred) |',
  ]);
  const segRows = lines.filter((l) => /[<>x] *\|$|^\+\d.*\|<-/.test(l) && /\[/.test(l));
  assert.is(segRows.length, 13);
});

test('terminal ladder: Unicode box drawing when the locale is UTF-8; arrows point from the sender', () => {
  assert.ok(utf8Locale({ LANG: 'en_US.UTF-8' }));
  assert.ok(utf8Locale({ LC_ALL: 'C.utf8', LANG: 'C' }));
  assert.not.ok(utf8Locale({ LC_ALL: 'C', LANG: 'en_US.UTF-8' }));
  assert.not.ok(utf8Locale({}));
  const conv = conversation();
  const lines = ladderLines(conv, { unicode: true });
  assert.ok(lines.some((l) => l.includes('│─── [S], seq')));
  assert.ok(lines.some((l) => l.includes('│<───') && l.includes('[S.]')));
  const a = arrow(conv.segs[1]!, 60, UNICODE_GLYPHS);
  assert.is(a.length, 60);
  assert.ok(a.startsWith('<─') && a.endsWith('───'));
  const b = arrow(conv.segs[0]!, 60, ASCII_GLYPHS);
  assert.ok(b.startsWith('--- [S]') && b.endsWith('->'));
});

test('SVG ladder: one line per segment from sender to receiver, classes, known endpoints', () => {
  const conv = conversation();
  const L = layoutLadder(conv);
  assert.is(L.arrows.length, conv.segs.length);
  assert.equal([L.leftX, L.rightX], [230, 730]);
  const [syn, synAck] = L.arrows;
  assert.equal([syn!.x1, syn!.x2, syn!.y2 - syn!.y1], [230, 730, 14]);
  assert.equal([synAck!.x1, synAck!.x2], [730, 230]);
  assert.ok(synAck!.y1 > syn!.y1);
  assert.equal(syn!.classes, ['seg', 'syn']);
  assert.equal(synAck!.classes, ['seg', 'syn', 'ack']);
  const lost = L.arrows[4]!;
  assert.equal(lost.classes, ['seg', 'data', 'ack', 'dropped']);
  assert.is(lost.x2, 230 + 500 * 0.66);
  assert.equal(L.arrows[8]!.classes, ['seg', 'data', 'ack', 'retrans']);
  assert.is(L.arrows[8]!.label, 'retransmission: [.], seq 201:401, ack 1, win 512, length 200');
  assert.equal(L.arrows[10]!.classes, ['seg', 'fin', 'ack']);
  // An arrival time known: the arrow ends at the row of that time (real slope).
  conv.segs[0]!.tArrive = 10;
  const L2 = layoutLadder(conv);
  // Time 10 is first the server's SYN_RECEIVED (the SYN's arrival), drawn just above its SYN,ACK.
  const arrivalRow = L2.states.find((st) => !st.left && st.mark.to === 'SYN_RECEIVED')!.y;
  assert.is(L2.arrows[0]!.y2, arrivalRow);
  assert.ok(L2.arrows[1]!.y1 > arrivalRow);
  const svg = svgLadder(conv);
  assert.is((svg.match(/<line class="seg[ "]/g) ?? []).length, conv.segs.length);
  assert.is((svg.match(/class="seg[^"]*retrans/g) ?? []).length, 1);
  assert.is((svg.match(/class="seg[^"]*dropped/g) ?? []).length, 1);
  assert.match(svg, /<title>IP 10\.0\.0\.1\.40000 &gt; 10\.0\.0\.2\.5000: Flags \[S\], seq 4294967040, win 64240, options \[mss 1460,sackOK,nop,wscale 7,eol\], length 0<\/title>/);
  assert.match(svg, />SYN_SENT \(inferred\)</);
});

test('SVG ladder: tuntcp state changes carry their RFC rule and the --explain text (en, zh)', () => {
  const conv = conversation();
  conv.left.name = 'tuntcp';
  conv.states.push({ t: 0, left: true, from: 'CLOSED', to: 'SYN_SENT', cause: 'user connect: SYN sent (RFC 9293 §3.10.1)', inferred: false, seg: 0 });
  const en = svgLadder(conv);
  assert.match(en, /<text class="rule"[^>]*>RFC 9293 §3\.10\.1<\/text>/);
  assert.match(en, /<title>tuntcp CLOSED -&gt; SYN_SENT  user connect: SYN sent \[RFC 9293 §3\.10\.1\]; now: our SYN is out/);
  const zh = svgLadder(conv, { lang: 'zh' });
  assert.match(zh, /应用调用 connect：发出 SYN \[RFC 9293 §3\.10\.1\]/);
  // The left side's own marks replace the tracker's for that side.
  assert.is(allStates(conv).filter((m) => m.left).length, 1);
});

test('time-sequence graph: data bars, the retransmission, ACK and window steps, SACK block', () => {
  const conv = conversation();
  const L = seqGraphLayout(conv)!;
  assert.ok(L.fromLeft);
  assert.is(L.data.length, 4);
  assert.equal(L.data.map((d) => d.cls), ['tx', 'tx dropped', 'tx', 'tx retrans']);
  // Relative to the ISN across the wrap: byte 201..401 of the retransmission.
  const [, lost, , rtx] = L.data;
  assert.is(lost!.y1, rtx!.y1);
  assert.ok(rtx!.x > lost!.x);
  assert.is(L.sack.length, 1);
  assert.ok(L.ackLine.length >= 4);
  for (let i = 1; i < L.ackLine.length; i++) assert.ok(L.ackLine[i]![1] <= L.ackLine[i - 1]![1], 'the ACK line never goes down');
  assert.match(svgSeqGraph(conv), /class="tx retrans"/);
  // No data either way: no graph.
  const empty = new ConversationSet();
  empty.packet(trace()[0]![1], 0);
  assert.is(seqGraphLayout(empty.conversations()[0]!), null);
  const cc = svgCcPlots([{ t: 0, cwnd: 14600, ssthresh: 2 ** 31, rcvWnd: 65535, rto: 1000 }, { t: 50, cwnd: 7300, ssthresh: 7300, rcvWnd: 65535, rto: 400 }], 0, 100);
  assert.match(cc, /class="cwnd"/);
  assert.match(cc, /class="rto"/);
});

test('state diagram: eleven states, the transitions taken highlighted and counted, others added', () => {
  const marks = trackStates(conversation());
  const counts = countTransitions(marks);
  assert.is(counts.get('SYN_SENT>ESTABLISHED'), 1);
  const edges = diagramEdges(counts);
  const taken = edges.filter((e) => e.count > 0);
  assert.is(taken.length, 10);
  assert.ok(taken.every((e) => e.rfc));
  // An RST in ESTABLISHED is not in the figure: added as an arrow of its own.
  const rst = [...marks, { t: 300, left: true, from: 'ESTABLISHED' as const, to: 'CLOSED' as const, cause: 'rcv RST in ESTABLISHED (RFC 9293 §3.10.7.4)', inferred: false }];
  const extra = diagramEdges(countTransitions(rst)).filter((e) => !e.rfc);
  assert.equal(extra.map((e) => `${e.from}>${e.to} ${e.count}`), ['ESTABLISHED>CLOSED 1']);
  const svg = svgStateDiagram(rst, 't');
  assert.is((svg.match(/<g class="box/g) ?? []).length, 11);
  assert.is((svg.match(/class="edge taken/g) ?? []).length, 11);
  assert.is((svg.match(/class="edge taken extra"/g) ?? []).length, 1);
  assert.match(svg, /SYN_SENT -&gt; ESTABLISHED: rcv SYN,ACK \/ snd ACK; taken 1 time</);
});

test('HTML page: self-contained (no scripts, nothing fetched), every segment one arrow', () => {
  const conv = conversation();
  const html = htmlReport({ title: 'a <test>', conversations: [conv, conversation()], diagramSides: 'both' });
  assert.not.match(html, /<script/i);
  assert.not.match(html, /<link|@import|url\(http|src=/i);
  const urls = html.match(/https?:\/\/[^"' )]+/g) ?? [];
  assert.ok(urls.every((u) => u === 'http://www.w3.org/2000/svg'), urls.join(' '));
  assert.is((html.match(/<line class="seg[ "]/g) ?? []).length, 2 * conv.segs.length);
  assert.match(html, /<title>a &lt;test&gt;<\/title>/);
  assert.match(html, /<svg class="seqgraph"/);
  assert.match(html, /<svg class="states"/);
});

test('HTML page with --lang zh: headings, notes, navigation and footer in Chinese, no English fixed text', () => {
  const c = conversation();
  const compare = { leftTitle: 'kernel client', rightTitle: 'tuntcp client', left: [c], right: [c], leftNotes: new Map(), rightNotes: new Map(), summary: [] };
  const zh = htmlReport({ title: 't', lang: 'zh', conversations: [c], compare, diagramSides: 'both' });
  const en = htmlReport({ title: 't', lang: 'en', conversations: [c], compare, diagramSides: 'both' });
  for (const english of ['Time-sequence graph', 'The two runs side by side', 'RFC 9293 state diagram', 'Hover an arrow', '>Summary<', '>side by side<', '>state diagram<', 'were deduced from the segments', 'transitions taken by']) {
    assert.ok(en.includes(english), `en page lacks ${english}`);
    assert.not.ok(zh.includes(english), `zh page still says ${english}`);
  }
  for (const chinese of ['时间-序号图', '两次运行并排对照', 'RFC 9293 状态图', '小结', '被动跟踪器', '经过的状态转换']) assert.ok(zh.includes(chinese), chinese);
  assert.match(zh, /<html lang="zh">/);
});

/** A pcap file with one link type around the given IPv4 packets. */
function pcapOf(linkType: number, packets: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(linkType, 20);
  parts.push(h);
  packets.forEach((p, i) => {
    let frame = p;
    if (linkType === LINKTYPE_ETHERNET) frame = Buffer.concat([Buffer.alloc(12, 1), Buffer.from([0x08, 0x00]), p]);
    if (linkType === LINKTYPE_LINUX_SLL) {
      const sll = Buffer.alloc(16);
      sll.writeUInt16BE(0x0800, 14);
      frame = Buffer.concat([sll, p]);
    }
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000, 0);
    r.writeUInt32LE(i * 1000, 4);
    r.writeUInt32LE(frame.length, 8);
    r.writeUInt32LE(frame.length, 12);
    parts.push(r, frame);
  });
  return Buffer.concat(parts);
}

test('report reads LINKTYPE_RAW, EN10MB and LINUX_SLL alike; refuses pcapng with a hint', () => {
  const packets = trace().map(([, p]) => p);
  const lines = [LINKTYPE_RAW, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL].map((lt) => {
    const convs = conversationsOfPcap(pcapOf(lt, packets), 'x.pcap').conversations();
    assert.is(convs.length, 1);
    assert.is(convs[0]!.segs.length, packets.length);
    return convs[0]!.segs.map((s) => s.line);
  });
  assert.equal(lines[1], lines[0]);
  assert.equal(lines[2], lines[0]);
  const ng = Buffer.alloc(32);
  ng.writeUInt32LE(0x0a0d0d0a, 0);
  assert.throws(() => conversationsOfPcap(ng, 'c.pcapng'), /pcapng/);
});

test('tuntcp report: a real kernel capture as a page (one arrow per segment) and as ASCII ladders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tuntcp-report-'));
  try {
    const out = join(dir, 'sack.html');
    const r = spawnSync(process.execPath, [CLI, 'report', fixturePath('kernel-sack.pcap'), '-o', out], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /wrote .*sack\.html: 1 connection\(s\), 31 segments/);
    const page = readFileSync(out, 'utf8');
    assert.is((page.match(/<line class="seg[ "]/g) ?? []).length, 31);
    assert.is((page.match(/<line class="seg[^"]*\bretrans\b/g) ?? []).length, 1);
    assert.is((page.match(/<line class="sackblk"/g) ?? []).length, 8); // the capture's 8 SACK blocks
    const l = spawnSync(process.execPath, [CLI, 'report', fixturePath('kernel-basic.pcap'), '--ladder'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.is(l.status, 0, l.stderr);
    const rows = l.stdout.split('\n');
    assert.is(rows.filter((x) => /\|(<-|--).*\[/.test(x)).length, 22);
    assert.ok(rows.every((x) => x.length <= 100));
    const bad = spawnSync(process.execPath, [CLI, 'report', CLI], { encoding: 'utf8' });
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /^tuntcp: report .*main\.js is not a pcap file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recorder in virtual time: segments, TCB states linked to their segments, cwnd/ssthresh/window/RTO samples', async () => {
  let tap: TapLink | null = null;
  const pair = simPair({
    latencyMs: 5,
    faults: { loss: 3, seed: 3 },
    wrapA: (link) => (tap = new TapLink(link)),
  });
  const rec = attachRecorder(pair.a, tap!);
  const srv = pair.b.createServer((s) => s.resume());
  srv.listen(9);
  const c = pair.a.connect({ port: 9, host: '10.0.0.2' });
  c.end(Buffer.alloc(200_000, 1));
  assert.ok(await pair.until(() => c.tcpState === 'TIME_WAIT' || c.tcpState === 'CLOSED', 120_000), 'the transfer finishes');
  const [conv] = rec.conversations();
  assert.ok(conv !== undefined);
  assert.is(conv.left.name, 'tuntcp');
  assert.is(conv.left.addr, '10.0.0.1');
  const synSent = conv.states.find((m) => m.to === 'SYN_SENT')!;
  assert.is(synSent.seg, 0);
  assert.ok(conv.segs[0]!.syn);
  const finWait = conv.states.find((m) => m.to === 'FIN_WAIT_1')!;
  assert.ok(finWait.seg === undefined || conv.segs[finWait.seg]!.fin);
  assert.ok(conv.cc.length > 10, `${conv.cc.length} samples`);
  const cwnds = new Set(conv.cc.map((s) => s.cwnd));
  assert.ok(cwnds.size > 3, 'cwnd moves');
  assert.ok(conv.cc.some((s) => s.ssthresh < 2 ** 30), 'a loss set ssthresh');
  assert.ok(conv.cc.every((s, i) => i === 0 || s.t >= conv.cc[i - 1]!.t));
  assert.ok(conv.segs.some((s) => s.retrans), 'losses were retransmitted');
  assert.ok(seqGraphLayout(conv)!.data.some((d) => d.cls === 'tx retrans'));
  await pair.a.close({ linger: 0 });
  await pair.b.close({ linger: 0 });
});

test.run();
