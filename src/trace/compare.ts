/**
 * Compare two TCP conversations captured by tcpdump: the Linux kernel as the
 * client and tuntcp as the client, against the same kernel server
 * (`tuntcp compare`). Pure: lines in tcpdump -nn format (relative sequence
 * numbers, as TcpdumpFormatter prints them) with capture times go in; the
 * segment-by-segment alignment, a note per pair and a short summary come out.
 *
 * Alignment is a longest common subsequence on "direction + flags" (e.g.
 * `>S`, `<S.`, `>.`): segments with the same role in both conversations are
 * paired, and what only one side sent stays alone in its column.
 */

/** Client to server ('>') or server to client ('<'). */
export type Dir = '>' | '<';

export interface TraceLine {
  /** Capture time in microseconds. */
  timeUs: number;
  /** tcpdump -nn line without the timestamp. */
  line: string;
}

export interface Segment {
  dir: Dir;
  /** Flags as tcpdump prints them inside the brackets: 'S', 'S.', 'F.', 'R.', 'P.', '.'. */
  flags: string;
  /** The seq field as printed (absolute for a SYN, relative after), or null. */
  seq: string | null;
  win: number | null;
  /** Option names in order: mss, sackOK, TS, nop, wscale, sack, eol, ... */
  options: string[];
  /** The text inside `options [...]`, or null. */
  optionsText: string | null;
  /** Payload length. */
  length: number;
  /** Milliseconds since the first segment of this conversation. */
  tMs: number;
  /** Milliseconds since the previous segment of this conversation. */
  deltaMs: number;
  /** The whole tcpdump line. */
  line: string;
}

export interface Pair {
  kernel: Segment | null;
  tuntcp: Segment | null;
  /** Short notes on what differs; empty when the two segments look alike. */
  notes: string[];
}

export interface Comparison {
  kernel: Segment[];
  tuntcp: Segment[];
  pairs: Pair[];
  summary: string[];
}

export interface CompareOptions {
  /** Timing differences (between consecutive segments) below this are not noted. Default 5 ms. */
  timingMs?: number;
}

const LINE_RE = /^IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\](.*)$/;

/** TCP segments of one capture, oriented by the client's address. Other lines (ICMP, ARP, IPv6) are skipped. */
export function parseSegments(lines: readonly TraceLine[], clientAddr: string): Segment[] {
  const out: Segment[] = [];
  let first: number | null = null;
  let prev = 0;
  for (const { timeUs, line } of lines) {
    const m = LINE_RE.exec(line);
    if (m === null) continue;
    const [, src, , dst, , flags = '', rest = ''] = m;
    if (src !== clientAddr && dst !== clientAddr) continue;
    const optionsText = /options \[([^\]]*)\]/.exec(rest)?.[1] ?? null;
    const win = /, win (\d+)/.exec(rest);
    const len = /, length (\d+)/.exec(rest);
    if (first === null) {
      first = timeUs;
      prev = timeUs;
    }
    out.push({
      dir: src === clientAddr ? '>' : '<',
      flags,
      seq: /, seq ([\d:]+)/.exec(rest)?.[1] ?? null,
      win: win === null ? null : Number(win[1]),
      options: optionsText === null ? [] : optionsText.split(',').map((o) => o.trim().split(' ')[0] ?? ''),
      optionsText,
      length: len === null ? 0 : Number(len[1]),
      tMs: (timeUs - first) / 1000,
      deltaMs: (timeUs - prev) / 1000,
      line,
    });
    prev = timeUs;
  }
  return out;
}

/** The alignment key of a segment: direction and flags. */
export function segmentKey(s: Segment): string {
  return `${s.dir}${s.flags}`;
}

/** Value of option `name` (the text after its name), or null when absent. */
function optionValue(s: Segment, name: string): string | null {
  if (s.optionsText === null) return null;
  for (const o of s.optionsText.split(',')) {
    const t = o.trim();
    if (t === name || t.startsWith(name + ' ')) return t.slice(name.length).trim();
  }
  return null;
}

const ms = (x: number): string => `${x.toFixed(x < 10 ? 3 : 1)} ms`;

/** What differs between two segments with the same role. */
export function pairNotes(k: Segment, t: Segment, o: CompareOptions = {}): string[] {
  const notes: string[] = [];
  const kl = k.options.join(',');
  const tl = t.options.join(',');
  if (kl !== tl) notes.push(`options ${kl || '(none)'} vs ${tl || '(none)'}`);
  for (const name of ['mss', 'wscale']) {
    const kv = optionValue(k, name);
    const tv = optionValue(t, name);
    if (kv !== null && tv !== null && kv !== tv) notes.push(`${name} ${kv} vs ${tv}`);
  }
  if (k.win !== t.win) notes.push(`win ${k.win ?? '-'} vs ${t.win ?? '-'}`);
  if (k.length !== t.length) notes.push(`length ${k.length} vs ${t.length}`);
  const limit = o.timingMs ?? 5;
  if (Math.abs(k.deltaMs - t.deltaMs) >= limit) notes.push(`after ${ms(k.deltaMs)} vs ${ms(t.deltaMs)}`);
  return notes;
}

/** Pair the segments of two conversations: LCS on direction + flags. */
export function align(kernel: readonly Segment[], tuntcp: readonly Segment[], o: CompareOptions = {}): Pair[] {
  const n = kernel.length;
  const m = tuntcp.length;
  // lcs[i][j]: length of the LCS of kernel[i..] and tuntcp[j..].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = segmentKey(kernel[i]!) === segmentKey(tuntcp[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const pairs: Pair[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    const k = kernel[i];
    const t = tuntcp[j];
    if (k !== undefined && t !== undefined && segmentKey(k) === segmentKey(t)) {
      pairs.push({ kernel: k, tuntcp: t, notes: pairNotes(k, t, o) });
      i++;
      j++;
    } else if (k !== undefined && (t === undefined || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      pairs.push({ kernel: k, tuntcp: null, notes: ['only the kernel client run has this segment'] });
      i++;
    } else if (t !== undefined) {
      pairs.push({ kernel: null, tuntcp: t, notes: ['only the tuntcp client run has this segment'] });
      j++;
    }
  }
  return pairs;
}

const sideName = (d: Dir): string => (d === '>' ? 'client' : 'server');

function rstSenders(segs: readonly Segment[]): string {
  const who = [...new Set(segs.filter((s) => s.flags.includes('R')).map((s) => sideName(s.dir)))];
  return who.length === 0 ? 'nobody' : who.join(' and ');
}

/**
 * The client's advertised window in its last segment after the SYN, as
 * `win << wscale = bytes` when both SYNs carried wscale (RFC 7323 §2.2), or
 * null without such a segment.
 */
export function effectiveWindow(segs: readonly Segment[]): string | null {
  const syn = segs.find((s) => s.dir === '>' && s.flags === 'S');
  const synAck = segs.find((s) => s.dir === '<' && s.flags === 'S.');
  const last = [...segs].reverse().find((s) => s.dir === '>' && !s.flags.includes('S') && !s.flags.includes('R'));
  if (syn === undefined || last === undefined || last.win === null) return null;
  const cs = syn.optionsText === null ? null : optionValue(syn, 'wscale');
  const ss = synAck === undefined || synAck.optionsText === null ? null : optionValue(synAck, 'wscale');
  if (cs === null || ss === null) return `${last.win} bytes (unscaled)`;
  const shift = Number(cs);
  return `${last.win}<<${shift} = ${last.win * 2 ** shift} bytes`;
}

/** A few lines on what differs between the two conversations. */
export function summarize(kernel: readonly Segment[], tuntcp: readonly Segment[], pairs: readonly Pair[]): string[] {
  const out: string[] = [];
  const flow = (segs: readonly Segment[]): string => segs.map(segmentKey).join(' ');
  const onlyK = pairs.filter((p) => p.tuntcp === null).length;
  const onlyT = pairs.filter((p) => p.kernel === null).length;
  if (onlyK === 0 && onlyT === 0) out.push(`segments: ${kernel.length} each, same direction and flags in the same order (${flow(kernel)})`);
  else {
    out.push(`segments: kernel client ${kernel.length}, tuntcp client ${tuntcp.length}; ${onlyK} only in the kernel run, ${onlyT} only in the tuntcp run`);
    out.push(`  kernel: ${flow(kernel)}`);
    out.push(`  tuntcp: ${flow(tuntcp)}`);
  }
  const kSyn = kernel.find((s) => s.dir === '>' && s.flags === 'S');
  const tSyn = tuntcp.find((s) => s.dir === '>' && s.flags === 'S');
  if (kSyn !== undefined && tSyn !== undefined) {
    const ko = kSyn.options.join(',');
    const to = tSyn.options.join(',');
    out.push(ko === to ? `SYN options: same layout in both (${ko || 'none'})` : `SYN options differ: kernel ${ko || '(none)'}, tuntcp ${to || '(none)'}`);
    const vals = ['mss', 'wscale'].map((n) => `${n} ${optionValue(kSyn, n) ?? '-'} vs ${optionValue(tSyn, n) ?? '-'}`).join(', ');
    out.push(`SYN: win ${kSyn.win ?? '-'} vs ${tSyn.win ?? '-'}, ${vals}`);
    out.push(`ISN (absolute seq of the SYN): kernel ${kSyn.seq ?? '-'}, tuntcp ${tSyn.seq ?? '-'}; one sample each, both chosen per connection (RFC 6528 style), so they are expected to differ`);
  }
  const paired = pairs.filter((p) => p.kernel !== null && p.tuntcp !== null);
  const winDiff = paired.filter((p) => p.kernel!.dir === '>' && p.kernel!.win !== p.tuntcp!.win);
  if (winDiff.length > 0) out.push(`client window differs in ${winDiff.length} of ${paired.filter((p) => p.kernel!.dir === '>').length} paired client segments`);
  const optDiff = paired.filter((p) => p.kernel!.options.join(',') !== p.tuntcp!.options.join(','));
  if (optDiff.length > 0) out.push(`options layout differs in ${optDiff.length} of ${paired.length} paired segments`);
  const kEff = effectiveWindow(kernel);
  const tEff = effectiveWindow(tuntcp);
  if (kEff !== null || tEff !== null) out.push(`client receive window after the handshake: kernel ${kEff ?? '-'}, tuntcp ${tEff ?? '-'}`);
  const kr = rstSenders(kernel);
  const tr = rstSenders(tuntcp);
  out.push(kr === tr ? `RST sent by: ${kr} (both runs)` : `RST sent by: ${kr} in the kernel run, ${tr} in the tuntcp run`);
  const dur = (segs: readonly Segment[]): number => segs[segs.length - 1]?.tMs ?? 0;
  out.push(`first to last segment: kernel ${ms(dur(kernel))}, tuntcp ${ms(dur(tuntcp))}`);
  return out;
}

export function compareTraces(
  kernelLines: readonly TraceLine[],
  kernelClient: string,
  tuntcpLines: readonly TraceLine[],
  tuntcpClient: string,
  o: CompareOptions = {},
): Comparison {
  const kernel = parseSegments(kernelLines, kernelClient);
  const tuntcp = parseSegments(tuntcpLines, tuntcpClient);
  const pairs = align(kernel, tuntcp, o);
  return { kernel, tuntcp, pairs, summary: summarize(kernel, tuntcp, pairs) };
}

/** A segment in a column: time, direction, the tcpdump line after the addresses, TS values elided. */
export function cell(s: Segment | null): string {
  if (s === null) return '';
  const body = s.line.replace(/^IP [^:]*: /, '').replace(/TS val \d+ ecr \d+/, 'TS');
  return `+${s.tMs.toFixed(3).padStart(7)}ms ${s.dir} ${body}`;
}

/** Two columns, `kernel client | tuntcp client`, one row per pair, notes under the row. */
export function formatSideBySide(pairs: readonly Pair[]): string[] {
  const left = pairs.map((p) => cell(p.kernel));
  const width = Math.max('kernel client'.length, ...left.map((l) => l.length));
  const out = [`${'kernel client'.padEnd(width)} | tuntcp client`, `${'-'.repeat(width)}-+-${'-'.repeat(13)}`];
  pairs.forEach((p, i) => {
    out.push(`${left[i]!.padEnd(width)} | ${cell(p.tuntcp)}`);
    if (p.notes.length > 0) out.push(`${''.padEnd(width)} |   ^ ${p.notes.join('; ')}`);
  });
  return out;
}
