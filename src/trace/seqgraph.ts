/**
 * The time-sequence graph (Stevens, TCP/IP Illustrated; tcptrace's "time
 * sequence graph"): sequence number against time for the direction that
 * carried more data. Each data segment is a vertical bar from its first to
 * its last byte at the time it was sent (retransmissions red, dropped ones
 * crossed out); the ACK line and the window line (ACK + scaled window) are
 * steps from the receiver's segments; SACK blocks are green bars. Below it,
 * from the stack's own state (recorder.ts): cwnd, ssthresh and the receive
 * window in bytes, and the RTO in ms, on the same time axis.
 *
 * Pure: a conversation in, SVG out; `seqGraphLayout` gives the marks'
 * coordinates for tests.
 */
import { bytesEachWay, isnOf, wscaleOf, type CcSample, type Conversation } from './conversation.js';
import { seqSub } from '../wire/seq.js';
import { bytesLabel, esc, n, tickStep } from './svg.js';

const W = 900;
const H = 300;
const M = { l: 70, r: 20, t: 24, b: 34 };

export interface SeqMark {
  /** Segment index in the conversation. */
  seg: number;
  x: number;
  y1: number;
  y2: number;
  cls: string;
}

export interface SeqLayout {
  /** The sender drawn: true when the left side sent more. */
  fromLeft: boolean;
  t0: number;
  t1: number;
  /** Highest relative sequence number on the axis. */
  top: number;
  data: SeqMark[];
  sack: SeqMark[];
  /** Step paths through (x, y) points. */
  ackLine: Array<[number, number]>;
  winLine: Array<[number, number]>;
}

/** Scales from data to plot coordinates. */
function scales(t0: number, t1: number, top: number, w = W, h = H): { x: (t: number) => number; y: (v: number) => number } {
  const span = t1 > t0 ? t1 - t0 : 1;
  return {
    x: (t) => M.l + ((t - t0) / span) * (w - M.l - M.r),
    y: (v) => h - M.b - (top > 0 ? v / top : 0) * (h - M.t - M.b),
  };
}

/** The marks of the graph, or null when no data went either way. */
export function seqGraphLayout(conv: Conversation): SeqLayout | null {
  const [l, r] = bytesEachWay(conv);
  if (l === 0 && r === 0) return null;
  const fromLeft = l >= r;
  const isn = isnOf(conv, fromLeft);
  if (isn === null) return null;
  const shift = wscaleOf(conv, !fromLeft);
  const rel = (seq: number): number => seqSub(seq, isn);
  const segs = conv.segs;
  const t0 = segs[0]!.t;
  const t1 = segs[segs.length - 1]!.t;
  // The axis holds the data; the window line may reach a fifth above it.
  let top = 1;
  for (const s of segs) if (s.fromLeft === fromLeft) top = Math.max(top, rel(s.seq) + s.len);
  let edge = top;
  for (const s of segs) if (s.fromLeft !== fromLeft && s.ackFlag && !s.syn) edge = Math.max(edge, rel(s.ack) + s.win * 2 ** shift);
  top = Math.min(edge, Math.ceil(top * 1.2));
  const { x, y } = scales(t0, t1, top);
  const data: SeqMark[] = [];
  const sack: SeqMark[] = [];
  const ackLine: Array<[number, number]> = [];
  const winLine: Array<[number, number]> = [];
  segs.forEach((s, i) => {
    if (s.fromLeft === fromLeft) {
      if (s.len === 0) return;
      const cls = s.dropped ? 'tx dropped' : s.retrans ? 'tx retrans' : 'tx';
      data.push({ seg: i, x: x(s.t), y1: y(rel(s.seq)), y2: y(rel(s.seq) + s.len), cls });
      return;
    }
    if (!s.ackFlag || s.dropped || s.rst) return;
    const a = rel(s.ack);
    if (a < 0 || a > top * 4) return; // the ACK of the SYN's ISN before it is known
    ackLine.push([x(s.t), y(a)]);
    winLine.push([x(s.t), y(Math.min(top, a + s.win * 2 ** shift))]);
    for (const [bl, br] of s.sack) sack.push({ seg: i, x: x(s.t), y1: y(rel(bl)), y2: y(rel(br)), cls: 'sackblk' });
  });
  return { fromLeft, t0, t1, top, data, sack, ackLine, winLine };
}

/** A step path: horizontal to the next x, then vertical to its y. */
function steps(points: ReadonlyArray<[number, number]>, xEnd: number): string {
  if (points.length === 0) return '';
  let d = `M${n(points[0]![0])},${n(points[0]![1])}`;
  for (let i = 1; i < points.length; i++) d += `H${n(points[i]![0])}V${n(points[i]![1])}`;
  return d + `H${n(xEnd)}`;
}

function axes(t0: number, t1: number, top: number, yLabel: (v: number) => string, w = W, h = H): string[] {
  const { x, y } = scales(t0, t1, top, w, h);
  const out = [`<path class="axis" d="M${M.l},${M.t}V${h - M.b}H${w - M.r}"/>`];
  const ts = tickStep(t1 - t0);
  for (let t = Math.ceil(t0 / ts) * ts; t <= t1 + 1e-9; t += ts) {
    out.push(`<text class="tick" x="${n(x(t))}" y="${h - M.b + 14}" text-anchor="middle">${(t / 1000).toFixed(ts < 1 ? 4 : 3)}s</text>`);
  }
  const vs = tickStep(top, 4);
  for (let v = 0; v <= top + 1e-9; v += vs) {
    out.push(`<text class="tick" x="${M.l - 6}" y="${n(y(v) + 4)}" text-anchor="end">${yLabel(v)}</text>`);
    out.push(`<line class="grid" x1="${M.l}" y1="${n(y(v))}" x2="${w - M.r}" y2="${n(y(v))}"/>`);
  }
  return out;
}

/** The time-sequence graph as one `<svg>`, or '' when no data went either way. */
export function svgSeqGraph(conv: Conversation): string {
  const L = seqGraphLayout(conv);
  if (L === null) return '';
  const sender = L.fromLeft ? conv.left : conv.right;
  const out: string[] = [`<svg class="seqgraph" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  out.push(`<text class="title" x="${M.l}" y="14">sequence numbers sent by ${esc(sender.name)} ${esc(sender.addr)}:${sender.port} (relative) against time</text>`);
  out.push(...axes(L.t0, L.t1, L.top, bytesLabel));
  const xEnd = W - M.r;
  if (L.winLine.length > 0) out.push(`<path class="winline" d="${steps(L.winLine, xEnd)}"><title>window: ACK + advertised window</title></path>`);
  if (L.ackLine.length > 0) out.push(`<path class="ackline" d="${steps(L.ackLine, xEnd)}"><title>ACK: highest byte acknowledged</title></path>`);
  for (const s of L.sack) out.push(`<line class="${s.cls}" x1="${n(s.x)}" y1="${n(s.y1)}" x2="${n(s.x)}" y2="${n(s.y2)}"><title>${esc(conv.segs[s.seg]!.line)}</title></line>`);
  for (const d of L.data) {
    out.push(`<line class="${d.cls}" x1="${n(d.x)}" y1="${n(d.y1)}" x2="${n(d.x)}" y2="${n(Math.min(d.y2, d.y1 - 2))}"><title>${esc(conv.segs[d.seg]!.line)}</title></line>`);
    if (d.cls.includes('dropped')) out.push(`<path class="lost" d="M${n(d.x - 4)},${n(d.y1 - 4)}l8,-8m-8,0l8,8"/>`);
  }
  out.push(legend([['tx', 'data sent'], ['retrans', 'retransmitted'], ['ackline', 'ACK'], ['winline', 'window'], ['sackblk', 'SACK']]));
  out.push('</svg>');
  return out.join('\n');
}

function legend(items: Array<[string, string]>, y = H - 6): string {
  let x = M.l;
  const parts: string[] = [];
  for (const [cls, text] of items) {
    parts.push(`<line class="${cls} key" x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}"/><text class="tick" x="${x + 22}" y="${y}">${esc(text)}</text>`);
    x += 34 + text.length * 7;
  }
  return `<g class="legend">${parts.join('')}</g>`;
}

/** ssthresh before the first loss is "infinite": not drawn above this. */
const SSTHRESH_MAX = 2 ** 30;

/** cwnd, ssthresh, the receive window and the RTO over time, or '' without samples. */
export function svgCcPlots(samples: readonly CcSample[], t0: number, t1: number): string {
  if (samples.length === 0) return '';
  const h = 200;
  let top = 1;
  for (const s of samples) top = Math.max(top, s.cwnd, s.rcvWnd, s.ssthresh < SSTHRESH_MAX ? s.ssthresh : 0);
  const end = Math.max(t1, samples[samples.length - 1]!.t);
  const { x, y } = scales(t0, end, top, W, h);
  const pts = (f: (s: CcSample) => number | null): Array<[number, number]> =>
    samples.flatMap((s) => {
      const v = f(s);
      return v === null ? [] : [[x(s.t), y(v)] as [number, number]];
    });
  const out: string[] = [`<svg class="ccplot" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`];
  out.push(`<text class="title" x="${M.l}" y="14">tuntcp's cwnd, ssthresh and receive window (bytes), from the TCB</text>`);
  out.push(...axes(t0, end, top, bytesLabel, W, h));
  out.push(`<path class="rwnd" d="${steps(pts((s) => s.rcvWnd), W - M.r)}"><title>RCV.WND: the window tuntcp advertises</title></path>`);
  out.push(`<path class="ssthresh" d="${steps(pts((s) => (s.ssthresh < SSTHRESH_MAX ? s.ssthresh : null)), W - M.r)}"><title>ssthresh</title></path>`);
  out.push(`<path class="cwnd" d="${steps(pts((s) => s.cwnd), W - M.r)}"><title>cwnd</title></path>`);
  out.push(legend([['cwnd', 'cwnd'], ['ssthresh', 'ssthresh'], ['rwnd', 'receive window']], h - 6));
  out.push('</svg>');
  let rtoTop = 1;
  for (const s of samples) rtoTop = Math.max(rtoTop, s.rto);
  const hr = 150;
  const sr = scales(t0, end, rtoTop, W, hr);
  const rto = samples.map((s) => [sr.x(s.t), sr.y(s.rto)] as [number, number]);
  out.push(`<svg class="rtoplot" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${hr}" viewBox="0 0 ${W} ${hr}">`);
  out.push(`<text class="title" x="${M.l}" y="14">tuntcp's retransmission timeout (RTO, ms, RFC 6298)</text>`);
  out.push(...axes(t0, end, rtoTop, (v) => `${Math.round(v)}`, W, hr));
  out.push(`<path class="rto" d="${steps(rto, W - M.r)}"><title>RTO</title></path>`);
  out.push('</svg>');
  return out.join('\n');
}
