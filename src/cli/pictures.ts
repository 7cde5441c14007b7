/**
 * `--ladder` and `--html FILE` for the commands that run a stack (demo,
 * connect, listen; compare draws its captures itself): record the run
 * (trace/recorder.ts), read the kernel's states with `ss` where the lab runs
 * the kernel's side in our namespace, and print or write the pictures at the
 * end.
 *
 * For other commands (e.g. `drill --verbose`): `startPictures(stack, tap,
 * { ladder: true })` before the first connection, `finishPictures(p)` after
 * the last segment.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Options } from 'yargs';
import type { PacketObserver } from '../link/tap.js';
import type { Stack } from '../stack/stack.js';
import type { TcpState } from '../tcp/state.js';
import type { Lang } from '../trace/explain.js';
import { htmlReport } from '../trace/html-report.js';
import { ladders, utf8Locale } from '../trace/ladder.js';
import { attachRecorder, type RunRecorder } from '../trace/recorder.js';
import { MAX_SEGMENTS } from '../trace/conversation.js';

export const ladderOption = {
  ladder: { type: 'boolean', default: false, describe: 'at the end, draw every connection as a ladder diagram (one row per segment, states beside)' },
} satisfies Record<string, Options>;

export const htmlOption = {
  html: { type: 'string', describe: 'at the end, write one self-contained HTML page: ladders, time-sequence graphs, cwnd/RTO, the state diagram' },
} satisfies Record<string, Options>;

export interface PictureArgs {
  ladder?: boolean;
  html?: string;
  lang?: Lang;
}

export interface Pictures {
  rec: RunRecorder;
  args: PictureArgs;
  stack: Stack;
  /** Stop reading `ss`. */
  stopSs(): void;
}

/** Record the run when --ladder or --html asks for it; null otherwise (nothing recorded, no cost). */
export function startPictures(stack: Stack, tap: { observe(o: PacketObserver): void }, args: PictureArgs, opts: { ss?: boolean } = {}): Pictures | null {
  if (!args.ladder && args.html === undefined) return null;
  const rec = attachRecorder(stack, tap);
  let stopSs = (): void => {};
  if (opts.ss === true) stopSs = pollSs((r, t0, t1) => rec.ssReading(r[1], r[2], r[3], r[4], r[0], t0, t1), () => stack.clock.now());
  return { rec, args, stack, stopSs };
}

/** Print the ladders (to `out`) and write the HTML page, as asked. */
export function finishPictures(p: Pictures | null, o: { title?: string; intro?: string[]; out?: NodeJS.WritableStream } = {}): void {
  if (p === null) return;
  p.stopSs();
  const convs = p.rec.conversations();
  const out = o.out ?? process.stdout;
  if (p.rec.set.omitted > 0) out.write(`${p.rec.set.omitted} segments past the first ${MAX_SEGMENTS} are not drawn\n`);
  if (p.args.ladder) out.write('\n' + ladders(convs, { unicode: utf8Locale() }).join('\n') + '\n');
  if (p.args.html !== undefined) {
    const html = htmlReport({ title: o.title ?? 'tuntcp run', lang: p.args.lang, intro: o.intro, conversations: convs });
    writeFileSync(p.args.html, html);
    out.write(`wrote ${p.args.html}: ${convs.length} connection(s), ${convs.reduce((s, c) => s + c.segs.length, 0)} segments\n`);
  }
}

/** ss -tan state names -> RFC 9293's. */
const SS_STATES: Record<string, TcpState> = {
  'SYN-SENT': 'SYN_SENT', 'SYN-RECV': 'SYN_RECEIVED', ESTAB: 'ESTABLISHED', 'FIN-WAIT-1': 'FIN_WAIT_1', 'FIN-WAIT-2': 'FIN_WAIT_2',
  'CLOSE-WAIT': 'CLOSE_WAIT', 'LAST-ACK': 'LAST_ACK', CLOSING: 'CLOSING', 'TIME-WAIT': 'TIME_WAIT', LISTEN: 'LISTEN', CLOSED: 'CLOSED',
};

/** One `ss -tanH` line: (state, local addr, local port, peer addr, peer port). */
export type SsLine = [TcpState, string, number, string, number];

/** One `ss -tanH` line as an SsLine, or null. */
export function parseSsLine(line: string): SsLine | null {
  const f = line.trim().split(/\s+/);
  const state = SS_STATES[f[0] ?? ''];
  const a = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(f[3] ?? '');
  const b = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(f[4] ?? '');
  if (state === undefined || a === null || b === null) return null;
  return [state, a[1]!, Number(a[2]), b[1]!, Number(b[2])];
}

/**
 * Read the kernel's sockets with `ss -tanH` about every 10 ms from one shell
 * loop (forking `ss` from this process per packet would stall the stack for
 * milliseconds). A reading is known only to lie between the marker before it
 * and the one after, so it names that span; the tracker trusts a state only
 * when it held throughout (state-tracker.ts confirmWithSs). `now` stamps
 * the markers; `nsPid` reads another namespace (nsenter -t PID -n), as
 * compare does for its kernel client. Returns a function that stops it.
 */
export function pollSs(onReading: (r: SsLine, t0: number, t1: number) => void, now: () => number, nsPid?: number): () => void {
  const MARK = '@@tuntcp-ss@@';
  // The loop dies with us, however we end (setpriv --pdeathsig, and 'exit').
  const loop = `while :; do echo ${MARK}; ss -tanH; sleep 0.01; done`;
  const ns = nsPid === undefined ? [] : ['nsenter', '-t', String(nsPid), '-n'];
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...ns, 'sh', '-c', loop], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => {}); // no setpriv, sh or ss: every kernel state stays inferred
  let buf = '';
  let lines: string[] = [];
  let since = -1;
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) {
      if (line !== MARK) {
        lines.push(line);
        continue;
      }
      const t = now();
      if (since >= 0) {
        for (const l of lines) {
          const r = parseSsLine(l);
          if (r !== null) onReading(r, since, t);
        }
      }
      lines = [];
      since = t;
    }
  });
  child.unref();
  const stop = (): void => {
    child.stdout.destroy();
    child.kill('SIGKILL');
  };
  process.once('exit', stop);
  return () => {
    process.off('exit', stop);
    stop();
  };
}
