/**
 * One self-contained HTML page for a run or a capture (`--html FILE`,
 * `tuntcp report`): inline SVG and CSS only, no scripts, no fonts or
 * anything else fetched, so it works from a USB stick with no network.
 * Per conversation: the ladder (svg-ladder.ts), for transfers the
 * time-sequence graph and the stack's cwnd/ssthresh/window/RTO
 * (seqgraph.ts); then the RFC 9293 state diagram with the transitions taken
 * (state-diagram.ts). For `compare`, the two runs' ladders side by side with
 * differing segments marked.
 */
import type { Conversation, StateMark } from './conversation.js';
import type { Lang } from './explain.js';
import { svgCcPlots, svgSeqGraph } from './seqgraph.js';
import { allStates } from './state-tracker.js';
import { svgStateDiagram } from './state-diagram.js';
import { svgLadder } from './svg-ladder.js';
import { esc } from './svg.js';

export interface CompareSection {
  leftTitle: string;
  rightTitle: string;
  left: Conversation[];
  right: Conversation[];
  /** Notes by segment index of each side's first conversation (differing segments). */
  leftNotes: ReadonlyMap<number, string>;
  rightNotes: ReadonlyMap<number, string>;
  /** The text output's summary lines. */
  summary: string[];
}

export interface ReportInput {
  title: string;
  lang?: Lang;
  /** Paragraphs under the title. */
  intro?: string[];
  conversations: Conversation[];
  compare?: CompareSection;
  /** Whose transitions the state diagram counts: 'left' (tuntcp's, a live
   * run) or 'both' (a capture: both sides, inferred). */
  diagramSides?: 'left' | 'both';
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:18px 0 4px}
p.note,li{color:#444}nav a{margin-right:12px}
svg{display:block;margin:6px 0;background:#fcfcfd;border:1px solid #e4e4e8;border-radius:4px}
svg text{font:11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#222}
svg .who{font-weight:bold;font-size:12px}svg .title{font-size:12px;fill:#333}
.timeline{stroke:#444;stroke-width:2}.time,.tick{fill:#777}.grid{stroke:#eee}.axis{stroke:#444;fill:none}
.seg{stroke:#555;stroke-width:1.6}.seg.data{stroke:#111;stroke-width:2}.seg.syn{stroke:#1f6feb}.seg.fin{stroke:#8250df}
.seg.rst{stroke:#d1242f}.seg.retrans{stroke:#e36209;stroke-dasharray:6 3}.seg.dropped{stroke:#999;stroke-dasharray:3 3}
.seg.differs{stroke-width:3.5}.label.differs{fill:#b35900;font-weight:bold}.lost{stroke:#d1242f;stroke-width:2.5;fill:none}
.state text{fill:#0a3069;font-weight:bold;font-size:10px}.state.inferred text{fill:#6e7781;font-style:italic;font-weight:normal}.rule{font-size:9px;fill:#57606a}
.tx{stroke:#111;stroke-width:2}.tx.retrans{stroke:#d1242f;stroke-width:3}.tx.dropped{stroke:#999}
.ackline{stroke:#1a7f37;fill:none;stroke-width:1.5}.winline{stroke:#bf8700;fill:none;stroke-width:1.2}.sackblk{stroke:#2da44e;stroke-width:4;opacity:.7}
.cwnd{stroke:#1f6feb;fill:none;stroke-width:2}.ssthresh{stroke:#d1242f;fill:none;stroke-dasharray:5 3;stroke-width:1.5}
.rwnd{stroke:#bf8700;fill:none;stroke-width:1.5}.rto{stroke:#8250df;fill:none;stroke-width:1.5}
.key{fill:none;stroke-dasharray:none}
.edge{stroke:#c8c8d0;fill:none;stroke-width:1.2}.edge.taken{stroke:#1f6feb;stroke-width:3}.edge.extra{stroke-dasharray:4 3}
.count{fill:#1f6feb;font-weight:bold;font-size:12px}
.box rect{fill:#fff;stroke:#999}.box.visited rect{fill:#ddf4ff;stroke:#1f6feb;stroke-width:2}.box text{font-size:12px}
.pair{display:flex;gap:16px;flex-wrap:wrap}.pair>div{flex:1 1 0;min-width:0}
ul.summary{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
`;

/** The page's fixed text in each language (explain.ts translates the state explanations). */
const TEXT: Record<Lang, {
  segments: (n: number) => string;
  seqGraph: string;
  ccPlots: string;
  sideBySide: string;
  sideBySideNote: string;
  summary: string;
  navSides: string;
  navStates: string;
  diagram: string;
  taken: (whose: string) => string;
  bothSides: string;
  tcbOf: (name: string) => string;
  footer: string;
}> = {
  en: {
    segments: (n) => `${n} segments. Hover an arrow for its full tcpdump line, a state for its cause and RFC rule.`,
    seqGraph: 'Time-sequence graph',
    ccPlots: "Congestion window, ssthresh, receive window and RTO (tuntcp's TCB)",
    sideBySide: 'The two runs side by side',
    sideBySideNote: 'Segments the text output notes (different options, window, length or timing, or present in one run only) are drawn thicker, their labels in orange; hover for the note.',
    summary: 'Summary',
    navSides: 'side by side',
    navStates: 'state diagram',
    diagram: 'RFC 9293 state diagram',
    taken: (whose) => `transitions taken by ${whose}: blue, with counts`,
    bothSides: 'both sides of every conversation (inferred from the segments)',
    tcbOf: (name) => `${name}'s connections (from its TCB)`,
    footer:
      'States written in grey italics with "(inferred)" were deduced from the segments by a passive tracker (src/trace/state-tracker.ts), ' +
      'not read from the host. Arrows: blue SYN, purple FIN, red RST, black data, orange dashed retransmission, grey dashed with a cross: dropped.',
  },
  zh: {
    segments: (n) => `共 ${n} 个报文段。鼠标悬停在箭头上可看完整的 tcpdump 行，悬停在状态上可看原因和 RFC 规则。`,
    seqGraph: '时间-序号图',
    ccPlots: '拥塞窗口、ssthresh、接收窗口和 RTO（tuntcp 的 TCB）',
    sideBySide: '两次运行并排对照',
    sideBySideNote: '文字输出中标注的报文段（选项、窗口、长度或时间不同，或只出现在一次运行中）画得更粗，标签为橙色；悬停可看说明。',
    summary: '小结',
    navSides: '并排对照',
    navStates: '状态图',
    diagram: 'RFC 9293 状态图',
    taken: (whose) => `${whose}经过的状态转换：蓝色，附次数`,
    bothSides: '每个连接的双方（由报文段推断）',
    tcbOf: (name) => `${name} 的连接（来自其 TCB）`,
    footer:
      '灰色斜体并带 "(inferred)" 的状态是被动跟踪器（src/trace/state-tracker.ts）根据报文段推断的，并非从主机读取。' +
      '箭头：蓝色 SYN，紫色 FIN，红色 RST，黑色数据，橙色虚线为重传，带叉的灰色虚线为被丢弃。',
  },
};

function section(conv: Conversation, i: number, lang: Lang): string {
  const h = `${esc(conv.left.name)} ${esc(conv.left.addr)}:${conv.left.port} ⇄ ${esc(conv.right.name)} ${esc(conv.right.addr)}:${conv.right.port}`;
  const out = [`<section class="conn" id="c${i + 1}"><h2>${i + 1}. ${h}</h2>`, `<p class="note">${esc(TEXT[lang].segments(conv.segs.length))}</p>`];
  out.push(svgLadder(conv, { lang }));
  const seq = svgSeqGraph(conv);
  if (seq !== '') out.push(`<h3>${esc(TEXT[lang].seqGraph)}</h3>`, seq);
  if (conv.cc.length > 0 && seq !== '') {
    out.push(`<h3>${esc(TEXT[lang].ccPlots)}</h3>`);
    out.push(svgCcPlots(conv.cc, conv.segs[0]!.t, conv.segs[conv.segs.length - 1]!.t));
  }
  out.push('</section>');
  return out.join('\n');
}

function compareSection(c: CompareSection, lang: Lang): string {
  const t = TEXT[lang];
  const out = [`<section class="compare" id="compare"><h2>${esc(t.sideBySide)}</h2>`];
  out.push(`<p class="note">${esc(t.sideBySideNote)}</p>`);
  out.push('<div class="pair">');
  const col = (title: string, convs: Conversation[], notes: ReadonlyMap<number, string>): void => {
    out.push(`<div><h3>${esc(title)}</h3>`);
    convs.forEach((conv, i) => out.push(svgLadder(conv, { lang, width: 720, notes: i === 0 ? notes : undefined })));
    out.push('</div>');
  };
  col(c.leftTitle, c.left, c.leftNotes);
  col(c.rightTitle, c.right, c.rightNotes);
  out.push('</div>', `<h3>${esc(t.summary)}</h3>`, '<ul class="summary">', ...c.summary.map((l) => `<li>${esc(l)}</li>`), '</ul></section>');
  return out.join('\n');
}

/** The whole page. */
export function htmlReport(r: ReportInput): string {
  const lang = r.lang ?? 'en';
  const t = TEXT[lang];
  const body: string[] = [`<h1>${esc(r.title)}</h1>`];
  for (const p of r.intro ?? []) body.push(`<p>${esc(p)}</p>`);
  const convs = r.conversations;
  if (convs.length > 1 || r.compare !== undefined) {
    const links = convs.map((c, i) => `<a href="#c${i + 1}">${i + 1}. :${c.left.port} ⇄ :${c.right.port}</a>`);
    if (r.compare !== undefined) links.unshift(`<a href="#compare">${esc(t.navSides)}</a>`);
    body.push(`<nav>${links.join(' ')} <a href="#states">${esc(t.navStates)}</a></nav>`);
  }
  if (r.compare !== undefined) body.push(compareSection(r.compare, lang));
  convs.forEach((c, i) => body.push(section(c, i, lang)));
  const both = (r.diagramSides ?? 'left') === 'both';
  const marks: StateMark[] = convs.flatMap((c) => allStates(c).filter((m) => both || (m.left && !m.inferred)));
  const whose = both ? t.bothSides : t.tcbOf(convs[0]?.left.name ?? 'tuntcp');
  body.push(`<section id="states"><h2>${esc(t.diagram)}</h2>`);
  body.push(svgStateDiagram(marks, t.taken(whose)));
  body.push('</section>');
  body.push(`<footer><p class="note">${esc(t.footer)}</p></footer>`);
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh' : 'en'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(r.title)}</title>
<style>${CSS}</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}
