/**
 * The state diagram of RFC 9293 (§3.3.2, Figure 5): the eleven states as
 * boxes, its transitions as arrows, and the transitions a run took
 * highlighted (class `taken`) with how often. A transition the figure does
 * not draw (an RST in ESTABLISHED, FIN_WAIT_1 straight to TIME_WAIT when the
 * FIN and the ACK of ours come together) is added as an arrow of its own.
 */
import { ALL_STATES, type TcpState } from '../tcp/state.js';
import type { StateMark } from './conversation.js';
import { esc, n } from './svg.js';

const W = 960;
const H = 600;
const BW = 140;
const BH = 34;

/** Box centres, placed as in the RFC's figure. */
export const STATE_POS: Record<TcpState, [number, number]> = {
  CLOSED: [480, 40],
  LISTEN: [480, 130],
  SYN_RECEIVED: [200, 220],
  SYN_SENT: [760, 220],
  ESTABLISHED: [480, 310],
  FIN_WAIT_1: [200, 400],
  CLOSE_WAIT: [760, 400],
  CLOSING: [480, 470],
  FIN_WAIT_2: [200, 500],
  LAST_ACK: [760, 500],
  TIME_WAIT: [480, 560],
};

/** A route: a bend (px, a quadratic curve) or points to pass through (around the boxes). */
type Route = number | Array<[number, number]>;

/** The figure's transitions with the event / action written beside them, and their route. */
export const RFC_TRANSITIONS: Array<[TcpState, TcpState, string, Route]> = [
  ['CLOSED', 'LISTEN', 'passive OPEN', 12],
  ['CLOSED', 'SYN_SENT', 'active OPEN / snd SYN', 40],
  ['LISTEN', 'SYN_RECEIVED', 'rcv SYN / snd SYN,ACK', 0],
  ['LISTEN', 'SYN_SENT', 'SEND / snd SYN', 0],
  ['LISTEN', 'CLOSED', 'CLOSE', 12],
  ['SYN_SENT', 'SYN_RECEIVED', 'rcv SYN / snd ACK', 20],
  ['SYN_SENT', 'ESTABLISHED', 'rcv SYN,ACK / snd ACK', 0],
  ['SYN_SENT', 'CLOSED', 'CLOSE', [[880, 220], [880, 47]]],
  ['SYN_RECEIVED', 'LISTEN', 'rcv RST', 14],
  ['SYN_RECEIVED', 'ESTABLISHED', 'rcv ACK of SYN', 0],
  ['SYN_RECEIVED', 'FIN_WAIT_1', 'CLOSE / snd FIN', 0],
  ['ESTABLISHED', 'FIN_WAIT_1', 'CLOSE / snd FIN', 0],
  ['ESTABLISHED', 'CLOSE_WAIT', 'rcv FIN / snd ACK', 0],
  ['FIN_WAIT_1', 'FIN_WAIT_2', 'rcv ACK of FIN', 0],
  ['FIN_WAIT_1', 'CLOSING', 'rcv FIN / snd ACK', 0],
  ['FIN_WAIT_2', 'TIME_WAIT', 'rcv FIN / snd ACK', 0],
  ['CLOSING', 'TIME_WAIT', 'rcv ACK of FIN', 0],
  ['CLOSE_WAIT', 'LAST_ACK', 'CLOSE / snd FIN', 0],
  ['LAST_ACK', 'CLOSED', 'rcv ACK of FIN', [[910, 500], [910, 33]]],
  ['TIME_WAIT', 'CLOSED', 'timeout = 2MSL', [[40, 560], [40, 40]]],
];

export interface DiagramEdge {
  from: TcpState;
  to: TcpState;
  label: string;
  /** How often the run took it. */
  count: number;
  /** In the RFC's figure. */
  rfc: boolean;
  d: string;
  mid: [number, number];
}

/** Count transitions: `marks` of one side or several. */
export function countTransitions(marks: readonly StateMark[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of marks) m.set(`${k.from}>${k.to}`, (m.get(`${k.from}>${k.to}`) ?? 0) + 1);
  return m;
}

/** Where the ray from a box's centre toward (tx, ty) leaves the box. */
function boxEdge(c: [number, number], tx: number, ty: number): [number, number] {
  const dx = tx - c[0];
  const dy = ty - c[1];
  if (dx === 0 && dy === 0) return c;
  const s = Math.min(Math.abs(dx) > 0 ? BW / 2 / Math.abs(dx) : Infinity, Math.abs(dy) > 0 ? BH / 2 / Math.abs(dy) : Infinity);
  return [c[0] + dx * s, c[1] + dy * s];
}

/** The edges with their paths and counts. */
export function diagramEdges(counts: ReadonlyMap<string, number>): DiagramEdge[] {
  const edges: DiagramEdge[] = [];
  const known = new Set<string>();
  const add = (from: TcpState, to: TcpState, label: string, route: Route, rfc: boolean): void => {
    const a = STATE_POS[from];
    const b = STATE_POS[to];
    let d: string;
    let mid: [number, number];
    if (typeof route !== 'number') {
      // Around the other boxes, through the given points.
      const first = route[0]!;
      const last = route[route.length - 1]!;
      const p = boxEdge(a, first[0], first[1]);
      const q = boxEdge(b, last[0], last[1]);
      d = `M${n(p[0])},${n(p[1])}` + route.map(([x, y]) => `L${n(x)},${n(y)}`).join('') + `L${n(q[0])},${n(q[1])}`;
      const k = Math.floor(route.length / 2);
      const m0 = route[k - 1] ?? p;
      const m1 = route[k]!;
      mid = [(m0[0] + m1[0]) / 2, (m0[1] + m1[1]) / 2];
    } else {
      // A quadratic curve bent `route` px to one side of the straight line.
      const mx = (a[0] + b[0]) / 2;
      const my = (a[1] + b[1]) / 2;
      const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
      const cx = mx + (route * (b[1] - a[1])) / len;
      const cy = my - (route * (b[0] - a[0])) / len;
      const p = boxEdge(a, cx, cy);
      const q = boxEdge(b, cx, cy);
      d = `M${n(p[0])},${n(p[1])}Q${n(cx)},${n(cy)} ${n(q[0])},${n(q[1])}`;
      mid = [0.25 * p[0] + 0.5 * cx + 0.25 * q[0], 0.25 * p[1] + 0.5 * cy + 0.25 * q[1]];
    }
    edges.push({ from, to, label, count: counts.get(`${from}>${to}`) ?? 0, rfc, d, mid });
    known.add(`${from}>${to}`);
  };
  for (const [from, to, label, route] of RFC_TRANSITIONS) add(from, to, label, route, true);
  for (const [key] of counts) {
    if (known.has(key)) continue;
    const [from, to] = key.split('>') as [TcpState, TcpState];
    if (from === to || !(from in STATE_POS) || !(to in STATE_POS)) continue;
    add(from, to, 'not in the figure', 60, false);
  }
  return edges;
}

/** The diagram as one `<svg>`: every state a box, taken transitions highlighted and counted. */
export function svgStateDiagram(marks: readonly StateMark[], title: string): string {
  const counts = countTransitions(marks);
  const edges = diagramEdges(counts);
  const visited = new Set<TcpState>();
  for (const m of marks) {
    visited.add(m.from);
    visited.add(m.to);
  }
  const out: string[] = [`<svg class="states" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  out.push('<defs><marker id="shead" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="context-stroke"/></marker></defs>');
  out.push(`<text class="title" x="10" y="16">${esc(title)}</text>`);
  for (const e of edges) {
    const cls = `edge${e.count > 0 ? ' taken' : ''}${e.rfc ? '' : ' extra'}`;
    const what = `${e.from} -> ${e.to}: ${e.label}${e.count > 0 ? `; taken ${e.count} time${e.count > 1 ? 's' : ''}` : ''}`;
    out.push(`<path class="${cls}" d="${e.d}" marker-end="url(#shead)"><title>${esc(what)}</title></path>`);
    if (e.count > 0) out.push(`<text class="count" x="${n(e.mid[0])}" y="${n(e.mid[1] - 3)}" text-anchor="middle">×${e.count}</text>`);
  }
  for (const s of ALL_STATES) {
    const [x, y] = STATE_POS[s];
    out.push(`<g class="box${visited.has(s) ? ' visited' : ''}"><rect x="${x - BW / 2}" y="${y - BH / 2}" width="${BW}" height="${BH}" rx="6"/><text x="${x}" y="${y + 5}" text-anchor="middle">${s}</text></g>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
