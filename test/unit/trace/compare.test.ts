// The comparison of two tcpdump conversations (tuntcp compare) on synthetic
// lines: parsing, LCS alignment by direction + flags, notes per pair, summary.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  align, cell, compareTraces, effectiveWindow, formatSideBySide, pairNotes, parseSegments, segmentKey, summarize, type TraceLine,
} from '../../../src/trace/compare.js';

const K = '10.79.1.2';
const T = '10.79.0.2';
const S = '10.79.0.1';

/** Lines `ms apart` apart, client `c` on port 40000 talking to the server on 8080. */
function conv(c: string, spec: Array<[number, string, string]>): TraceLine[] {
  return spec.map(([ms, dir, rest]) => ({
    timeUs: 1_700_000_000_000_000 + ms * 1000,
    line: dir === '>' ? `IP ${c}.40000 > ${S}.8080: ${rest}` : `IP ${S}.8080 > ${c}.40000: ${rest}`,
  }));
}

const KSYN = 'Flags [S], seq 799341663, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 10], length 0';
const TSYN = 'Flags [S], seq 4089149082, win 65535, options [mss 1460,sackOK,TS val 9 ecr 0,nop,wscale 3], length 0';
const SYNACK = 'Flags [S.], seq 2083947859, ack 799341664, win 65160, options [mss 1460,sackOK,TS val 2 ecr 1,nop,wscale 10], length 0';

const kernelHandshake = conv(K, [
  [0, '>', KSYN],
  [0.026, '<', SYNACK],
  [0.044, '>', 'Flags [.], ack 1, win 63, options [nop,nop,TS val 3 ecr 2], length 0'],
  [0.15, '>', 'Flags [F.], seq 1, ack 1, win 63, options [nop,nop,TS val 3 ecr 2], length 0'],
  [0.207, '<', 'Flags [.], ack 2, win 64, options [nop,nop,TS val 4 ecr 3], length 0'],
  [2.584, '<', 'Flags [F.], seq 1, ack 2, win 64, options [nop,nop,TS val 5 ecr 3], length 0'],
  [2.634, '>', 'Flags [.], ack 2, win 63, options [nop,nop,TS val 6 ecr 5], length 0'],
]);
const tuntcpHandshake = conv(T, [
  [0, '>', TSYN],
  [0.044, '<', SYNACK],
  [10.634, '>', 'Flags [.], ack 1, win 32768, options [nop,nop,TS val 10 ecr 2], length 0'],
  [11.274, '>', 'Flags [F.], seq 1, ack 1, win 32768, options [nop,nop,TS val 10 ecr 2], length 0'],
  [11.421, '<', 'Flags [.], ack 2, win 64, options [nop,nop,TS val 4 ecr 10], length 0'],
  [12.619, '<', 'Flags [F.], seq 1, ack 2, win 64, options [nop,nop,TS val 5 ecr 10], length 0'],
  [13.024, '>', 'Flags [.], ack 2, win 32768, options [nop,nop,TS val 11 ecr 5], length 0'],
]);

test('parseSegments: direction by client address, flags, options in order, win, length, times', () => {
  const segs = parseSegments([...kernelHandshake, { timeUs: 0, line: 'ARP, Request who-has 10.79.1.1 tell 10.79.1.2, length 28' }], K);
  assert.is(segs.length, 7);
  assert.equal(segs.map(segmentKey), ['>S', '<S.', '>.', '>F.', '<.', '<F.', '>.']);
  assert.equal(segs[0]!.options, ['mss', 'sackOK', 'TS', 'nop', 'wscale']);
  assert.is(segs[0]!.seq, '799341663');
  assert.is(segs[0]!.win, 64240);
  assert.is(segs[2]!.options.join(','), 'nop,nop,TS');
  assert.is(segs[0]!.tMs, 0);
  assert.ok(Math.abs(segs[6]!.tMs - 2.634) < 1e-6);
  assert.ok(Math.abs(segs[6]!.deltaMs - 0.05) < 1e-6);
  const data = parseSegments(conv(K, [[0, '>', 'Flags [P.], seq 1:36, ack 1, win 63, length 35: HTTP: GET / HTTP/1.0']]), K);
  assert.is(data[0]!.length, 35);
  assert.equal(data[0]!.options, []);
  assert.is(data[0]!.optionsText, null);
});

test('pairNotes: option values, window, length, timing above the threshold only', () => {
  const [k] = parseSegments(conv(K, [[0, '>', KSYN]]), K);
  const [t] = parseSegments(conv(T, [[0, '>', TSYN]]), T);
  assert.equal(pairNotes(k!, t!), ['wscale 10 vs 3', 'win 64240 vs 65535']);
  const [a] = parseSegments(conv(K, [[0, '>', 'Flags [S], seq 1, win 100, options [mss 1460,nop,wscale 7,sackOK,TS val 1 ecr 0], length 0']]), K);
  assert.equal(pairNotes(k!, a!), ['options mss,sackOK,TS,nop,wscale vs mss,nop,wscale,sackOK,TS', 'wscale 10 vs 7', 'win 64240 vs 100']);
  const ks = parseSegments(kernelHandshake, K);
  const ts = parseSegments(tuntcpHandshake, T);
  assert.equal(pairNotes(ks[2]!, ts[2]!), ['win 63 vs 32768', 'after 0.018 ms vs 10.6 ms']);
  assert.equal(pairNotes(ks[2]!, ts[2]!, { timingMs: 20 }), ['win 63 vs 32768']);
  assert.equal(pairNotes(ks[1]!, ts[1]!), []);
});

test('align: same flag sequence pairs one to one', () => {
  const pairs = align(parseSegments(kernelHandshake, K), parseSegments(tuntcpHandshake, T));
  assert.is(pairs.length, 7);
  assert.ok(pairs.every((p) => p.kernel !== null && p.tuntcp !== null && segmentKey(p.kernel) === segmentKey(p.tuntcp)));
});

test('align: extra and missing segments stay alone in their column (LCS)', () => {
  const k = parseSegments(conv(K, [[0, '>', KSYN], [1, '<', SYNACK], [2, '>', 'Flags [.], ack 1, win 63, length 0'], [3, '<', 'Flags [F.], seq 1, ack 1, win 64, length 0'], [4, '>', 'Flags [F.], seq 1, ack 2, win 63, length 0'], [5, '<', 'Flags [.], ack 2, win 64, length 0']]), K);
  const t = parseSegments(conv(T, [[0, '>', TSYN], [1, '<', SYNACK], [2, '>', 'Flags [.], ack 1, win 9, length 0'], [3, '<', 'Flags [F.], seq 1, ack 1, win 64, length 0'], [4, '>', 'Flags [.], ack 2, win 9, length 0'], [5, '>', 'Flags [F.], seq 1, ack 2, win 9, length 0'], [6, '<', 'Flags [.], ack 2, win 64, length 0']]), T);
  const pairs = align(k, t);
  assert.equal(pairs.map((p) => [p.kernel === null ? null : segmentKey(p.kernel), p.tuntcp === null ? null : segmentKey(p.tuntcp)]), [
    ['>S', '>S'], ['<S.', '<S.'], ['>.', '>.'], ['<F.', '<F.'], [null, '>.'], ['>F.', '>F.'], ['<.', '<.'],
  ]);
  assert.equal(pairs[4]!.notes, ['only the tuntcp client run has this segment']);
  const back = align(t, k);
  assert.is(back.filter((p) => p.tuntcp === null).length, 1);
  assert.equal(align([], []), []);
  assert.equal(align(k, []).map((p) => p.notes[0]), k.map(() => 'only the kernel client run has this segment'));
});

test('summarize: same layout, windows, ISNs, RST sender, extra segments', () => {
  const c = compareTraces(kernelHandshake, K, tuntcpHandshake, T);
  const s = c.summary.join('\n');
  assert.match(s, 'segments: 7 each, same direction and flags in the same order (>S <S. >. >F. <. <F. >.)');
  assert.match(s, 'SYN options: same layout in both (mss,sackOK,TS,nop,wscale)');
  assert.match(s, 'SYN: win 64240 vs 65535, mss 1460 vs 1460, wscale 10 vs 3');
  assert.match(s, 'kernel 799341663, tuntcp 4089149082');
  assert.match(s, 'client window differs in 4 of 4 paired client segments');
  assert.match(s, 'client receive window after the handshake: kernel 63<<10 = 64512 bytes, tuntcp 32768<<3 = 262144 bytes');
  assert.match(s, 'RST sent by: nobody (both runs)');

  const kr = conv(K, [[0, '>', KSYN], [0.02, '<', 'Flags [R.], seq 0, ack 799341664, win 0, length 0']]);
  const tr = conv(T, [[0, '>', TSYN], [0.04, '<', 'Flags [R.], seq 0, ack 4089149083, win 0, length 0']]);
  assert.match(compareTraces(kr, K, tr, T).summary.join('\n'), 'RST sent by: server (both runs)');
  const tr2 = conv(T, [[0, '>', 'Flags [S], seq 5, win 65535, options [mss 1460,nop,wscale 3], length 0'], [1, '>', 'Flags [R], seq 6, win 0, length 0']]);
  const s2 = compareTraces(kr, K, tr2, T).summary.join('\n');
  assert.match(s2, 'RST sent by: server in the kernel run, client in the tuntcp run');
  assert.match(s2, 'SYN options differ: kernel mss,sackOK,TS,nop,wscale, tuntcp mss,nop,wscale');
  assert.match(s2, 'segments: kernel client 2, tuntcp client 2; 1 only in the kernel run, 1 only in the tuntcp run');
  assert.equal(summarize([], [], []).slice(-1), ['first to last segment: kernel 0.000 ms, tuntcp 0.000 ms']);
});

test('effectiveWindow: scaled only when both SYNs carry wscale', () => {
  const noScale = parseSegments(conv(K, [[0, '>', 'Flags [S], seq 1, win 100, options [mss 1460], length 0'], [1, '<', SYNACK], [2, '>', 'Flags [.], ack 1, win 500, length 0']]), K);
  assert.is(effectiveWindow(noScale), '500 bytes (unscaled)');
  assert.is(effectiveWindow([]), null);
});

test('formatSideBySide: two aligned columns, notes under the row, TS values elided', () => {
  const c = compareTraces(kernelHandshake, K, tuntcpHandshake, T);
  const lines = formatSideBySide(c.pairs);
  assert.ok(lines[0]!.startsWith('kernel client '));
  assert.ok(lines[0]!.endsWith(' | tuntcp client'));
  const bar = lines[0]!.indexOf('|');
  assert.ok(lines.slice(2).every((l) => l.indexOf('|') === bar || l.indexOf(' | ') === bar - 1), 'the columns line up');
  assert.is(lines[2], `${cell(c.pairs[0]!.kernel).padEnd(bar - 1)} | ${cell(c.pairs[0]!.tuntcp)}`);
  assert.is(cell(c.pairs[0]!.kernel), '+  0.000ms > Flags [S], seq 799341663, win 64240, options [mss 1460,sackOK,TS,nop,wscale 10], length 0');
  assert.match(lines[3]!, /\|   \^ wscale 10 vs 3; win 64240 vs 65535$/);
  assert.is(cell(null), '');
});

test.run();
