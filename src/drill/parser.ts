/**
 * packetdrill's grammar (google/packetdrill parser.y, lexer.l), written anew:
 * a script is `--option` lines, comments (`//`, `/* *\/`), and events
 *
 *     time  action
 *
 * where time is `t`, `+t`, `*`, `t1~t2` or `+t1~+t2` (seconds), and the
 * action is a packet (`<` in, `>` out, one line), a system call
 * (`name(args) = ret [ERRNO (note)]`, possibly over several lines, with
 * `...t` before the name for a blocking call), a `%{ python }%` block or a
 * `` `shell` `` command. Errors carry the line they are on.
 */
import { DrillSyntaxError, type Action, type DrillEvent, type DrillScript, type Expr, type SyscallSpec, type TimeSpec } from './ast.js';
import { parsePacket } from './packet-spec.js';

// `1.`, `1.5`, `.5`, `1`; a dot followed by another (`0...0.2`) is not the number's.
const NUM = String.raw`(?:\d+\.\d+|\.\d+|\d+\.(?!\.)|\d+)`;
const TIME_RE = new RegExp(String.raw`^(?:(\*)|(\+)?(${NUM})(?:[ \t]*~[ \t]*(\+)?(${NUM}))?)`);

const toUs = (s: string): number => Math.round(parseFloat(s) * 1e6);

export function parseScript(text: string): DrillScript {
  const options = new Map<string, string>();
  const events: DrillEvent[] = [];
  const p = new Cursor(text);
  for (;;) {
    p.skipBlank();
    if (p.done()) break;
    const line = p.line;
    if (p.startsWith('--')) {
      const opt = p.restOfLine().trim();
      const m = /^--([A-Za-z0-9_-]+)(?:=(.*))?$/.exec(opt);
      if (!m) throw new DrillSyntaxError(line, `bad option line: ${opt}`);
      options.set(m[1]!, (m[2] ?? '').trim());
      continue;
    }
    let time: TimeSpec = { kind: 'rel', us: 0 };
    if (!p.startsWith('`')) time = parseTime(p, line);
    p.skipSpaces();
    events.push({ line, time, action: parseAction(p, line) });
  }
  return { options, events };
}

function parseTime(p: Cursor, line: number): TimeSpec {
  const m = TIME_RE.exec(p.rest());
  if (!m || m[0] === '') throw new DrillSyntaxError(line, `expected a time, found: ${p.rest().split('\n')[0]}`);
  p.advance(m[0].length);
  if (m[1] === '*') return { kind: 'any', us: 0 };
  const us = toUs(m[3]!);
  if (m[5] === undefined) return { kind: m[2] ? 'rel' : 'abs', us };
  if (Boolean(m[2]) !== Boolean(m[4])) throw new DrillSyntaxError(line, 'a time range is either absolute or relative at both ends');
  return { kind: m[2] ? 'relRange' : 'absRange', us, endUs: toUs(m[5]) };
}

function parseAction(p: Cursor, line: number): Action {
  if (p.startsWith('<') || p.startsWith('>')) {
    const text = stripComment(p.restOfLine()).trim();
    return { type: 'packet', packet: parsePacket(text, line) };
  }
  if (p.startsWith('%{')) {
    const end = p.indexOf('}%');
    if (end < 0) throw new DrillSyntaxError(line, 'unterminated %{ block');
    const code = p.take(end).slice(2);
    p.advance(2);
    return { type: 'code', code };
  }
  if (p.startsWith('`')) {
    p.advance(1);
    const end = p.indexOf('`');
    if (end < 0) throw new DrillSyntaxError(line, 'unterminated ` command');
    const command = p.take(end);
    p.advance(1);
    return { type: 'command', command };
  }
  return { type: 'syscall', call: parseSyscall(p.takeSyscallText(), line) };
}

function stripComment(s: string): string {
  const i = s.indexOf('//');
  return i < 0 ? s : s.slice(0, i);
}

// ------------------------------------------------------------ system calls

type Tok = { k: 'num'; v: number } | { k: 'word'; v: string } | { k: 'str'; v: string } | { k: 'p'; v: string };

function tokenize(s: string, line: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (s.startsWith('...', i)) { out.push({ k: 'p', v: '...' }); i += 3; continue; }
    const num = /^(?:0x[0-9a-fA-F]+|\d+)/.exec(s.slice(i));
    if (num) { out.push({ k: 'num', v: Number(num[0]) }); i += num[0].length; continue; }
    const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(i));
    if (word) { out.push({ k: 'word', v: word[0] }); i += word[0].length; continue; }
    if (c === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) throw new DrillSyntaxError(line, 'unterminated string');
      out.push({ k: 'str', v: s.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    // Anything else is a token of its own: only a note after the result holds such.
    out.push({ k: 'p', v: c });
    i++;
  }
  return out;
}

class Toks {
  i = 0;
  constructor(readonly t: Tok[], readonly line: number) {}
  peek(): Tok | undefined { return this.t[this.i]; }
  isP(v: string): boolean { const t = this.t[this.i]; return t !== undefined && t.k === 'p' && t.v === v; }
  eatP(v: string): void {
    if (!this.isP(v)) throw new DrillSyntaxError(this.line, `expected '${v}' in system call`);
    this.i++;
  }
}

function parseSyscall(text: string, line: number): SyscallSpec {
  const ts = new Toks(tokenize(text, line), line);
  let endUs: number | undefined;
  if (ts.isP('...')) {
    ts.i++;
    // `...0.011`: the tokenizer read 0, '.', 011? Re-read the time from the text instead.
    const m = new RegExp(String.raw`^\s*\.\.\.\s*(${NUM})`).exec(text);
    if (!m) throw new DrillSyntaxError(line, 'expected an end time after ...');
    endUs = toUs(m[1]!);
    return { ...parseSyscall(text.slice(m[0].length), line), endUs, text: text.trim() };
  }
  const name = ts.peek();
  if (name?.k !== 'word') throw new DrillSyntaxError(line, `expected a system call, found: ${text.trim().split('\n')[0]}`);
  ts.i++;
  ts.eatP('(');
  const args = ts.isP(')') ? [] : exprList(ts, ')');
  ts.eatP(')');
  ts.eatP('=');
  const ret = expr(ts);
  let errno: string | undefined;
  const e = ts.peek();
  if (e?.k === 'word' && /^E[A-Z0-9]+$/.test(e.v)) {
    errno = e.v;
    ts.i++;
  }
  // What follows is a note in parentheses: free text.
  return { name: name.v, args, endUs, ret, errno, text: text.trim().replace(/\s+/g, ' ') };
}

function exprList(ts: Toks, close: string): Expr[] {
  const items: Expr[] = [];
  for (;;) {
    items.push(expr(ts));
    if (!ts.isP(',')) return items;
    ts.i++;
    if (ts.isP(close)) return items;
  }
}

function expr(ts: Toks): Expr {
  const first = term(ts);
  if (!ts.isP('|')) return first;
  const items = [first];
  while (ts.isP('|')) {
    ts.i++;
    items.push(term(ts));
  }
  return { t: 'or', items };
}

function term(ts: Toks): Expr {
  const t = ts.peek();
  if (t === undefined) throw new DrillSyntaxError(ts.line, 'system call ends too early');
  ts.i++;
  if (t.k === 'num') return { t: 'int', v: t.v };
  if (t.k === 'str') return { t: 'str', v: t.v };
  if (t.k === 'word') {
    let args: Expr[] | null = null;
    if (ts.isP('(')) {
      ts.i++;
      args = ts.isP(')') ? [] : exprList(ts, ')');
      ts.eatP(')');
    }
    if (ts.isP('=')) {
      // Inside a struct: `msg_flags=0`. At the top level `=` is the result; a
      // word there is never followed by `=` (the call's name is taken first).
      ts.i++;
      return { t: 'field', name: t.v, args, value: expr(ts) };
    }
    if (args !== null) return { t: 'field', name: t.v, args, value: { t: 'ellipsis' } };
    return { t: 'word', v: t.v };
  }
  switch (t.v) {
    case '...': return { t: 'ellipsis' };
    case '-': {
      const n = ts.peek();
      if (n?.k !== 'num') throw new DrillSyntaxError(ts.line, "expected a number after '-'");
      ts.i++;
      return { t: 'int', v: -n.v };
    }
    case '[': {
      const items = ts.isP(']') ? [] : exprList(ts, ']');
      ts.eatP(']');
      return { t: 'list', items };
    }
    case '{': {
      const items = ts.isP('}') ? [] : exprList(ts, '}');
      ts.eatP('}');
      return { t: 'struct', items };
    }
    default:
      throw new DrillSyntaxError(ts.line, `unexpected '${t.v}' in system call`);
  }
}

// ------------------------------------------------------------ the text

class Cursor {
  private i = 0;
  line = 1;
  constructor(private readonly s: string) {}

  done(): boolean { return this.i >= this.s.length; }
  rest(): string { return this.s.slice(this.i, this.i + 200); }
  startsWith(p: string): boolean { return this.s.startsWith(p, this.i); }
  indexOf(p: string): number { const j = this.s.indexOf(p, this.i); return j < 0 ? -1 : j - this.i; }

  advance(n: number): void {
    for (let k = 0; k < n && this.i < this.s.length; k++) if (this.s[this.i++] === '\n') this.line++;
  }

  take(n: number): string {
    const out = this.s.slice(this.i, this.i + n);
    this.advance(n);
    return out;
  }

  restOfLine(): string {
    const j = this.s.indexOf('\n', this.i);
    return this.take((j < 0 ? this.s.length : j) - this.i);
  }

  skipSpaces(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }

  /** Whitespace, newlines and comments between events. */
  skipBlank(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance(1);
      else if (this.startsWith('//')) this.restOfLine();
      else if (this.startsWith('/*')) {
        const end = this.indexOf('*/');
        this.advance(end < 0 ? this.s.length : end + 2);
      } else return;
    }
  }

  /** A system call: up to the end of the line on which its brackets balance. */
  takeSyscallText(): string {
    let depth = 0;
    let out = '';
    while (this.i < this.s.length) {
      if (this.startsWith('//')) { this.restOfLine(); continue; }
      if (this.startsWith('/*')) { const e = this.indexOf('*/'); this.advance(e < 0 ? this.s.length : e + 2); continue; }
      const c = this.s[this.i]!;
      if (c === '\n' && depth <= 0) break;
      if ('([{'.includes(c)) depth++;
      else if (')]}'.includes(c)) depth--;
      out += c;
      this.advance(1);
    }
    return out;
  }
}
