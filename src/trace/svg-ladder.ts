/**
 * The ladder diagram as SVG, for the HTML page: one `<line class="seg ...">`
 * per segment (plus syn, fin, rst, data, ack, retrans, dropped as they apply)
 * from the sender's time line to the receiver's, with the full tcpdump line as
 * its hover title and the summary written on it; the states of both sides
 * beside their lines, tuntcp's with the RFC 9293 rule and the --explain text.
 *
 * Vertical positions follow the rows of the terminal ladder (ladder.ts
 * orderRows), a little further apart where more time passed. An arrow ends
 * where its arrival time falls when that is known (real slope), else a
 * fixed step lower. Pure: a conversation in, an SVG string out.
 */
import type { Conversation, LadderSeg, StateMark } from './conversation.js';
import { explainTransition, type Lang } from './explain.js';
import { orderRows } from './ladder.js';
import { allStates } from './state-tracker.js';
import { esc, n } from './svg.js';

export interface SvgLadderOptions {
  /** Total width in px (default 960). */
  width?: number;
  lang?: Lang;
  /** Notes for segments by index, drawn with class `differs` (compare). */
  notes?: ReadonlyMap<number, string>;
}

/** Where one segment's arrow was drawn: what the layout tests check. */
export interface ArrowGeom {
  seg: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  classes: string[];
  label: string;
}

export interface LadderLayout {
  width: number;
  height: number;
  leftX: number;
  rightX: number;
  arrows: ArrowGeom[];
  /** State labels: side, y, text. */
  states: Array<{ left: boolean; y: number; text: string; mark: StateMark }>;
  /** Time labels at the rows. */
  times: Array<{ y: number; text: string }>;
}

const TOP = 56;
const ROW = 26;
/** The drop of an arrow whose arrival time is unknown. */
const STEP = 14;
const LABEL_MAX = 74;
/** Width of a label character (11 px monospace). */
const CHAR_PX = 6.7;

/** The segment's classes: seg first, then what it carries. */
export function segClasses(s: LadderSeg): string[] {
  const c = ['seg'];
  if (s.syn) c.push('syn');
  if (s.fin) c.push('fin');
  if (s.rst) c.push('rst');
  if (s.len > 0) c.push('data');
  if (s.ackFlag) c.push('ack');
  if (s.retrans) c.push('retrans');
  if (s.dropped) c.push('dropped');
  return c;
}

/** Extra space for the time that passed between two rows: a log scale, capped. */
function gapPx(dtMs: number): number {
  return dtMs <= 0 ? 0 : Math.min(40, 10 * Math.log10(1 + dtMs));
}

/** The geometry of the ladder, without drawing it. */
export function layoutLadder(conv: Conversation, o: SvgLadderOptions = {}): LadderLayout {
  const width = o.width ?? 960;
  // Narrow ladders (compare's side by side) give the arrows more of the width.
  const leftX = Math.round(width * (width < 900 ? 0.21 : 0.24));
  const rightX = width - leftX;
  const marks = allStates(conv);
  const rows = orderRows(conv.segs, marks);
  const ys: number[] = [];
  let y = TOP;
  let prevT: number | null = null;
  for (const r of rows) {
    if (prevT !== null) y += ROW + gapPx(r.t - prevT);
    ys.push(y);
    prevT = r.t;
  }
  // Time -> y through the rows, for arrival times.
  const yAt = (t: number): number => {
    let best = TOP;
    for (let i = 0; i < rows.length; i++) {
      const a = rows[i]!;
      const b = rows[i + 1];
      if (a.t <= t) best = ys[i]!;
      if (b !== undefined && a.t <= t && t <= b.t && b.t > a.t) return ys[i]! + ((t - a.t) / (b.t - a.t)) * (ys[i + 1]! - ys[i]!);
    }
    return best;
  };
  const index = new Map(conv.segs.map((s, i) => [s, i]));
  const arrows: ArrowGeom[] = [];
  const states: LadderLayout['states'] = [];
  const times: LadderLayout['times'] = [];
  rows.forEach((r, i) => {
    const y1 = ys[i]!;
    if ('fromLeft' in r || r.seg === undefined) times.push({ y: y1, text: `+${(r.t / 1000).toFixed(3)}s` });
    if (!('fromLeft' in r)) {
      states.push({ left: r.left, y: y1, text: `${r.to}${r.inferred ? ' (inferred)' : ''}`, mark: r });
      return;
    }
    const seg = index.get(r)!;
    let y2 = r.tArrive !== null ? Math.max(y1 + 4, yAt(r.tArrive)) : y1 + STEP;
    const [xs, xr] = r.fromLeft ? [leftX, rightX] : [rightX, leftX];
    let x2 = xr;
    if (r.dropped) {
      // Lost on the way: the arrow stops two thirds across.
      x2 = xs + (xr - xs) * 0.66;
      y2 = y1 + (y2 - y1) * 0.66;
    }
    let label = r.summary;
    if (r.retrans) label = `retransmission: ${label}`;
    const room = Math.min(LABEL_MAX, Math.floor((rightX - leftX) / CHAR_PX));
    if (label.length > room) label = label.slice(0, room - 1) + '…';
    arrows.push({ seg, x1: xs, y1, x2, y2, classes: segClasses(r), label });
  });
  const height = (ys[ys.length - 1] ?? TOP) + ROW + 20;
  return { width, height, leftX, rightX, arrows, states, times };
}

/** The ladder as one `<svg>` element. */
export function svgLadder(conv: Conversation, o: SvgLadderOptions = {}): string {
  const L = layoutLadder(conv, o);
  const lang = o.lang ?? 'en';
  const out: string[] = [];
  out.push(`<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${n(L.height)}" viewBox="0 0 ${L.width} ${n(L.height)}">`);
  out.push('<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="context-stroke"/></marker></defs>');
  const head = (s: { name: string; addr: string; port: number }): string => `${esc(s.name)} ${esc(s.addr)}:${s.port}`;
  out.push(`<text class="who" x="${L.leftX}" y="20" text-anchor="middle">${head(conv.left)}</text>`);
  out.push(`<text class="who" x="${L.rightX}" y="20" text-anchor="middle">${head(conv.right)}</text>`);
  out.push(`<line class="timeline" x1="${L.leftX}" y1="30" x2="${L.leftX}" y2="${n(L.height - 8)}"/>`);
  out.push(`<line class="timeline" x1="${L.rightX}" y1="30" x2="${L.rightX}" y2="${n(L.height - 8)}"/>`);
  let lastTime = '';
  for (const t of L.times) {
    if (t.text === lastTime) continue;
    lastTime = t.text;
    out.push(`<text class="time" x="4" y="${n(t.y + 4)}">${t.text}</text>`);
  }
  for (const st of L.states) {
    const m = st.mark;
    const x = st.left ? L.leftX - 8 : L.rightX + 8;
    const anchor = st.left ? 'end' : 'start';
    const who = st.left ? conv.left.name : conv.right.name;
    const title = explainTransition(who, m.from, m.to, m.cause, lang);
    const rule = /\((RFC [^)]*)\)/.exec(m.cause)?.[1];
    const cls = `state${m.inferred ? ' inferred' : ''}`;
    out.push(`<g class="${cls}"><title>${esc(title)}</title><text x="${x}" y="${n(st.y + 4)}" text-anchor="${anchor}">${esc(st.text)}</text>`);
    if (rule !== undefined && !m.inferred) out.push(`<text class="rule" x="${x}" y="${n(st.y + 15)}" text-anchor="${anchor}">${esc(rule)}</text>`);
    out.push('</g>');
  }
  for (const a of L.arrows) {
    const seg = conv.segs[a.seg]!;
    const note = o.notes?.get(a.seg);
    const cls = note !== undefined ? [...a.classes, 'differs'] : a.classes;
    const title = note !== undefined ? `${seg.line}\n${note}` : seg.line;
    const headAttr = seg.dropped ? '' : ' marker-end="url(#head)"';
    out.push(`<line class="${cls.join(' ')}" x1="${n(a.x1)}" y1="${n(a.y1)}" x2="${n(a.x2)}" y2="${n(a.y2)}"${headAttr}><title>${esc(title)}</title></line>`);
    if (seg.dropped) {
      const x = a.x2;
      const y = a.y2;
      out.push(`<path class="lost" d="M${n(x - 6)},${n(y - 6)}L${n(x + 6)},${n(y + 6)}M${n(x - 6)},${n(y + 6)}L${n(x + 6)},${n(y - 6)}"/>`);
    }
    const mx = (L.leftX + L.rightX) / 2;
    const my = Math.min(a.y1, a.y2) - 3; // above the arrow, clear of its slope
    out.push(`<text class="label${note !== undefined ? ' differs' : ''}" x="${n(mx)}" y="${n(my)}" text-anchor="middle">${esc(a.label)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
