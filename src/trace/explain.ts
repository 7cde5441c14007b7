/**
 * Explanations of state changes for people learning TCP, in English or
 * Chinese. The state descriptions follow the meaning of the state table in
 * the project's seed notes (own wording); the cause comes from the
 * connection itself (which segment or call, which RFC 9293 rule).
 */
import type { TcpState } from '../tcp/state.js';

export type Lang = 'en' | 'zh';

const STATE_EN: Record<TcpState, string> = {
  CLOSED: 'no connection',
  LISTEN: 'waiting for a connection request',
  SYN_SENT: 'our SYN is out, waiting for the peer to answer',
  SYN_RECEIVED: 'got a SYN and answered with SYN,ACK; waiting for the ACK of ours',
  ESTABLISHED: 'open: data flows both ways',
  FIN_WAIT_1: 'we closed and sent FIN; neither its ACK nor a FIN has come yet',
  FIN_WAIT_2: 'our FIN is acknowledged; waiting for the peer to close its side',
  CLOSE_WAIT: 'the peer closed (FIN received); waiting for our side to close',
  CLOSING: 'both sides sent FIN at once; waiting for the ACK of ours',
  LAST_ACK: 'the peer closed first, then we sent FIN; waiting for its ACK',
  TIME_WAIT: 'all four FIN/ACKs done; waiting 2MSL so late segments die out',
};

const STATE_ZH: Record<TcpState, string> = {
  CLOSED: '没有连接',
  LISTEN: '等待连接请求',
  SYN_SENT: '已发出 SYN，等待对方回应',
  SYN_RECEIVED: '收到 SYN 并回了 SYN,ACK，等待对方确认',
  ESTABLISHED: '连接已建立，双方可以收发数据',
  FIN_WAIT_1: '本方已关闭并发出 FIN，尚未收到确认或对方的 FIN',
  FIN_WAIT_2: '本方的 FIN 已被确认，等待对方关闭',
  CLOSE_WAIT: '对方已关闭（收到 FIN），等待本方关闭',
  CLOSING: '双方同时发出 FIN，等待对本方 FIN 的确认',
  LAST_ACK: '对方先关闭，本方随后发出 FIN，等待最后的确认',
  TIME_WAIT: '四次挥手完成，等待 2MSL 让迟到的报文消失',
};

/** Chinese for the recurring phrases of the connection's cause strings. */
const CAUSE_ZH: Array<[RegExp, string]> = [
  [/^user connect: SYN sent/, '应用调用 connect：发出 SYN'],
  [/^rcv SYN on a listening port: SYN,ACK sent/, '监听端口收到 SYN：回复 SYN,ACK'],
  [/^rcv SYN,ACK that acknowledges our SYN: ACK sent/, '收到确认本方 SYN 的 SYN,ACK：回复 ACK'],
  [/^rcv ACK of our SYN,ACK: handshake complete/, '收到对 SYN,ACK 的确认：三次握手完成'],
  [/^rcv ACK with a valid SYN cookie/, '收到带有效 SYN cookie 的 ACK：据此重建连接'],
  [/^rcv SYN while in SYN_SENT: simultaneous open/, 'SYN_SENT 状态收到 SYN：同时打开'],
  [/^rcv SYN,ACK in SYN_RECEIVED: simultaneous open complete/, '同时打开完成'],
  [/^user close: FIN sent/, '应用关闭：发出 FIN'],
  [/^user close in CLOSE_WAIT: FIN sent/, 'CLOSE_WAIT 中应用关闭：发出 FIN'],
  [/^rcv ACK of our FIN in CLOSING/, 'CLOSING 中收到对本方 FIN 的确认：等待 2MSL'],
  [/^rcv ACK of our FIN in LAST_ACK/, 'LAST_ACK 中收到对本方 FIN 的确认'],
  [/^rcv ACK of our FIN/, '收到对本方 FIN 的确认'],
  [/^rcv FIN: the peer closed its side/, '收到 FIN：对方关闭了它的一侧'],
  [/^rcv FIN and our FIN is acked/, '收到 FIN，且本方 FIN 已被确认：等待 2MSL'],
  [/^rcv FIN before the ACK of ours: simultaneous close/, '在本方 FIN 被确认前收到 FIN：同时关闭'],
  [/^rcv FIN in FIN_WAIT_2/, 'FIN_WAIT_2 中收到 FIN：等待 2MSL'],
  [/^2MSL timer expired/, '2MSL 计时器到期'],
  [/^rcv RST,ACK for our SYN: connection refused/, '收到对本方 SYN 的 RST,ACK：连接被拒绝'],
  [/^rcv RST/, '收到 RST：连接被重置'],
  [/^user abort: RST sent/, '应用中止连接：发出 RST'],
  [/^no ACK after/, '多次重传无应答：放弃'],
  // loss recovery (tcp/recovery.ts)
  [/^three duplicate ACKs: fast retransmit/, '三个重复 ACK：快速重传，NewReno 恢复'],
  [/^duplicate ACKs and SACK show a segment lost/, '重复 ACK 与 SACK 表明报文丢失：快速重传'],
  [/^RACK: a segment sent well before/, 'RACK：早于已送达报文发出的报文判定丢失：快速恢复'],
  [/^RACK reorder timer/, 'RACK 乱序计时器到期：乱序窗口已过，报文判定丢失：快速恢复'],
  [/^retransmission timeout/, '重传超时：在途数据均视为丢失'],
  [/^the path MTU fell/, '路径 MTU 变小：重发放不下的报文'],
  [/^the recovery point is acknowledged/, '恢复点已被确认：恢复结束'],
  [/^everything sent before the timeout is acknowledged/, '超时前发出的数据均已确认'],
  [/^the timeout was spurious/, '超时是虚假的：回到正常状态'],
  [/^every retransmission came back as a D-SACK/, '每个重传都收到 D-SACK：撤销窗口缩减'],
  [/^F-RTO: data sent only once is acknowledged/, 'F-RTO：超时后只发过一次的数据被确认：虚假超时，撤销窗口缩减'],
  [/^F-RTO: the ACK after the timeout advances/, 'F-RTO：超时后的 ACK 推进：发送新数据而非重传'],
  [/^a partial ACK echoes a timestamp older than the retransmission/, '部分确认的 ACK 回显的时间戳早于重传且无重传在途：虚假重传，撤销窗口缩减，恢复结束'],
  [/^the ACK echoes a timestamp older than the retransmission/, 'ACK 回显的时间戳早于重传：虚假重传，撤销窗口缩减'],
];

/** Loss recovery's phases, as --explain names them. */
const PHASE: Record<Lang, Record<'open' | 'recovery' | 'loss', string>> = {
  en: { open: 'open', recovery: 'fast recovery', loss: 'loss (after a timeout)' },
  zh: { open: '正常', recovery: '快速恢复', loss: '超时丢失恢复' },
};

export function describeState(state: TcpState, lang: Lang = 'en'): string {
  return (lang === 'zh' ? STATE_ZH : STATE_EN)[state];
}

/** The RFC reference at the end of a cause, e.g. "RFC 9293 §3.10.7.3". */
function ruleOf(cause: string): string {
  return /\(((?:RFC|draft-)[^)]*)\)\s*$/.exec(cause)?.[1] ?? '';
}

function causeIn(cause: string, lang: Lang): string {
  const plain = cause.replace(/\s*\((?:RFC|draft-)[^)]*\)\s*$/, '');
  if (lang === 'en') return plain;
  for (const [re, zh] of CAUSE_ZH) if (re.test(plain)) return zh;
  return plain;
}

/**
 * One line for a state change, e.g.
 * `:40312 SYN_SENT -> ESTABLISHED  rcv SYN,ACK that acknowledges our SYN: ACK sent [RFC 9293 §3.10.7.3]; now: open: data flows both ways`
 */
export function explainTransition(who: string, from: TcpState, to: TcpState, cause: string, lang: Lang = 'en'): string {
  const rule = ruleOf(cause);
  const now = lang === 'zh' ? '现在' : 'now';
  return `${who} ${from} -> ${to}  ${causeIn(cause, lang)}${rule ? ` [${rule}]` : ''}; ${now}: ${describeState(to, lang)}`;
}

/** A congestion-control change (HyStart++ exit, BBR state): not a TCP state, so no state description. */
export function explainCc(who: string, cause: string, lang: Lang = 'en'): string {
  const rule = ruleOf(cause);
  return `${who} ${lang === 'zh' ? '拥塞控制' : 'congestion control'}: ${causeIn(cause, lang)}${rule ? ` [${rule}]` : ''}`;
}

/**
 * One line for a change of loss recovery, e.g.
 * `:40312 recovery: fast recovery  RACK reorder timer: ... [RFC 8985 §6.3]`
 */
export function explainRecovery(who: string, phase: 'open' | 'recovery' | 'loss', cause: string, lang: Lang = 'en'): string {
  const rule = ruleOf(cause);
  return `${who} ${lang === 'zh' ? '丢包恢复' : 'recovery'}: ${PHASE[lang][phase]}  ${causeIn(cause, lang)}${rule ? ` [${rule}]` : ''}`;
}

/** Headings and fixed phrases of the demo. */
export const TEXT = {
  en: {
    title: 'tuntcp demo: the whole life of TCP connections, between tuntcp and the Linux kernel',
    lab: 'A private network namespace holds a TUN device; the kernel side is %PEER%, tuntcp is %ADDR%.',
    msl: 'MSL is shortened to %MSL% s for the demo, so TIME_WAIT lasts %TW% s (Linux: 60 s).',
    legend: 'Lines: "<" a segment tuntcp received, ">" one it sent (tcpdump format); "*" a state change of tuntcp and why.',
    step1: '1. tuntcp connects to the kernel\'s HTTP server, sends GET /, and closes first',
    step2: '2. The kernel connects to a tuntcp server and closes first',
    step3: '3. A segment is lost on purpose: watch tuntcp send it again',
    table: 'netstat view of tuntcp (%WHEN%)',
    afterConnect: 'after connect',
    afterResponse: 'after the response',
    afterClose: 'after close',
    response: 'Response from the kernel\'s server:',
    kernelSays: 'The kernel\'s view (ss -tan):',
    drop: '! dropped on purpose: %SEG%',
    rtx: '! retransmission: %SEG% is sent again because its first copy got no ACK (RFC 6298 timer / RFC 8985 probe)',
    done: 'Done: every connection closed, the namespace and the TUN device vanish with this process.',
    pictures: 'See it drawn: add --ladder for ladder diagrams here, or --html FILE for one page with ladders, time-sequence graphs and the state diagram (sudo npm start -- --ladder --html demo.html).',
  },
  zh: {
    title: 'tuntcp 演示：tuntcp 与 Linux 内核之间 TCP 连接的完整生命周期',
    lab: '一个私有网络命名空间中有一个 TUN 设备；内核一侧是 %PEER%，tuntcp 是 %ADDR%。',
    msl: '演示中 MSL 缩短为 %MSL% 秒，因此 TIME_WAIT 持续 %TW% 秒（Linux 为 60 秒）。',
    legend: '说明："<" 为 tuntcp 收到的报文，">" 为其发出的报文（tcpdump 格式）；"*" 为 tuntcp 的状态变化及原因。',
    step1: '1. tuntcp 连接内核的 HTTP 服务器，发送 GET /，并主动关闭',
    step2: '2. 内核连接 tuntcp 的服务器，并由内核主动关闭',
    step3: '3. 故意丢弃一个报文：观察 tuntcp 重传',
    table: 'tuntcp 的 netstat 视图（%WHEN%）',
    afterConnect: '连接建立后',
    afterResponse: '收到响应后',
    afterClose: '关闭后',
    response: '内核服务器的响应：',
    kernelSays: '内核的视图（ss -tan）：',
    drop: '! 故意丢弃：%SEG%',
    rtx: '! 重传：%SEG% 的第一份没有得到确认，因此再次发送（RFC 6298 计时器 / RFC 8985 探测）',
    done: '完成：所有连接均已关闭，命名空间和 TUN 设备随本进程一起消失。',
    pictures: '画出来看：加 --ladder 在终端画出梯形图，或加 --html FILE 生成一个网页，含梯形图、时间-序号图和状态图（sudo npm start -- --ladder --html demo.html）。',
  },
} as const;
