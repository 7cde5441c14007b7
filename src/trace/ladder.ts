/**
 * The ladder diagram in a terminal (`--ladder`): two vertical time lines, the
 * left one tuntcp's (or a capture's client), the right one the peer's; one
 * row per segment with an arrow from the sender's line to the receiver's and
 * the tcpdump summary on it; a row for each state change, written beside the
 * line of the side that changed ("(inferred)" when deduced from segments).
 *
 *          tuntcp 10.77.0.2:40312                                      peer 10.77.0.1:80
 *  +0.000s │ CLOSED -> SYN_SENT                                          LISTEN (inferred) │
 *  +0.000s │──── [S], seq 1791, win 64240, length 0 ────────────────────────────────────>│
 *
 * Unicode box drawing when the locale is UTF-8, ASCII otherwise; 100
 * columns. Pure: a conversation in, lines out.
 */
import type { Conversation, LadderSeg, StateMark } from './conversation.js';
import { allStates } from './state-tracker.js';

export interface LadderGlyphs {
  bar: string;
  line: string;
  right: string;
  left: string;
  lost: string;
}

export const UNICODE_GLYPHS: LadderGlyphs = { bar: '│', line: '─', right: '>', left: '<', lost: '╳' };
export const ASCII_GLYPHS: LadderGlyphs = { bar: '|', line: '-', right: '>', left: '<', lost: 'x' };

/** The locale says UTF-8 (LC_ALL, then LC_CTYPE, then LANG, as setlocale(3) reads them). */
export function utf8Locale(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
  return /utf-?8/i.test(v);
}

export interface LadderOptions {
  /** Unicode box drawing (default: utf8Locale()). */
  unicode?: boolean;
  /** Total width in columns (default 100). */
  width?: number;
}

/** Width of the time column: `+12.345s `. */
const TIME_W = 9;

/** Seconds as the time column shows them. */
function stamp(tMs: number): string {
  return `+${(tMs / 1000).toFixed(3)}s`.padEnd(TIME_W);
}

/** The arrow of one segment, exactly `w` columns between the two bars. */
export function arrow(s: LadderSeg, w: number, g: LadderGlyphs): string {
  let text = s.summary;
  if (s.retrans) text = `retransmission: ${text}`;
  if (s.dropped) text = `${text} (dropped)`;
  const room = w - 8; // at least 3 dashes before, 3 after, a head, spaces
  if (text.length > room) text = text.slice(0, room - 1) + '…'.replace('…', g === ASCII_GLYPHS ? '~' : '…');
  const label = ` ${text} `;
  const dashes = w - label.length - 1;
  const before = 3;
  const after = dashes - before;
  if (s.fromLeft) {
    const body = g.line.repeat(before) + label + g.line.repeat(after) + g.right;
    return s.dropped ? cutRight(body, w, g) : body;
  }
  const body = g.left + g.line.repeat(after) + label + g.line.repeat(before);
  return s.dropped ? cutLeft(body, w, g) : body;
}

/** A dropped segment's arrow stops short of the receiver with a cross. */
function cutRight(body: string, w: number, g: LadderGlyphs): string {
  const keep = Math.max(body.lastIndexOf(' ') + 2, Math.floor(w * 0.8));
  return (body.slice(0, keep) + g.lost).padEnd(w);
}

function cutLeft(body: string, w: number, g: LadderGlyphs): string {
  const start = Math.min(body.indexOf(' ') - 1, Math.ceil(w * 0.2));
  return ' '.repeat(start) + g.lost + body.slice(start + 1);
}

/** A state row: the left side's change after its bar, the right side's before its bar. */
function stateText(m: StateMark): string {
  return `${m.from} -> ${m.to}${m.inferred ? ' (inferred)' : ''}`;
}

/**
 * The ladder of one conversation as lines of at most `width` columns. Rows
 * are in time order; a state change at the same time as a segment comes
 * before it when its side sends (SYN_SENT, then the SYN), after it when its
 * side receives.
 */
export function ladderLines(conv: Conversation, o: LadderOptions = {}): string[] {
  const g = (o.unicode ?? utf8Locale()) ? UNICODE_GLYPHS : ASCII_GLYPHS;
  const width = o.width ?? 100;
  const inner = width - TIME_W - 2; // between the two bars
  const out: string[] = [];
  const leftHead = `${conv.left.name} ${conv.left.addr}:${conv.left.port}`;
  const rightHead = `${conv.right.name} ${conv.right.addr}:${conv.right.port}`;
  out.push(' '.repeat(TIME_W) + leftHead.padEnd(inner + 2 - rightHead.length) + rightHead);
  const rows = orderRows(conv.segs, allStates(conv));
  for (const r of rows) {
    if ('fromLeft' in r) {
      out.push(stamp(r.t) + g.bar + arrow(r, inner, g) + g.bar);
      continue;
    }
    const text = stateText(r);
    const cell = r.left ? ` ${text}`.padEnd(inner) : `${text} `.padStart(inner);
    // A change sent with the next segment takes that segment's time.
    const time = r.seg !== undefined ? ' '.repeat(TIME_W) : stamp(r.t);
    out.push(time + g.bar + cell.slice(0, inner) + g.bar);
  }
  return out;
}

/**
 * Segments and state changes in one time order. A change that a segment
 * caused on its sender (SYN_SENT, FIN_WAIT_1) comes just before that segment;
 * any other change comes after the segments of the same time.
 */
export function orderRows(segs: readonly LadderSeg[], marks: readonly StateMark[]): Array<LadderSeg | StateMark> {
  const rows: Array<{ key: number; ord: number; r: LadderSeg | StateMark }> = [];
  segs.forEach((s, i) => rows.push({ key: s.t, ord: 2 * i + 1, r: s }));
  for (const m of marks) {
    const ix = m.seg ?? -1;
    const after = m.afterSeg ?? segs.reduce((n, s, i) => (s.t <= m.t ? i : n), -1);
    rows.push({ key: m.t, ord: ix >= 0 ? 2 * ix : 2 * after + 1.5, r: m });
  }
  return rows.sort((a, b) => a.ord - b.ord || a.key - b.key).map((x) => x.r);
}

/** Every conversation's ladder, separated by a blank line. */
export function ladders(convs: readonly Conversation[], o: LadderOptions = {}): string[] {
  const out: string[] = [];
  for (const c of convs) {
    if (out.length > 0) out.push('');
    out.push(...ladderLines(c, o));
  }
  return out;
}
