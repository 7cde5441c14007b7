/**
 * The subset of Python that packetdrill's `%{ ... }%` blocks use, evaluated
 * here without eval: statements `assert e[, msg]`, `print(e, ...)`,
 * `name = e`, `name += e` (-=, *=), separated by `;` or newlines, `#`
 * comments; expressions with or/and/not, chained comparisons, + - * / // %
 * (and `'fmt %d' % x`), unary minus, parentheses, int/float/string literals,
 * names, and the calls int, abs, min, max. Names are the block's variables
 * (kept for the whole script, as packetdrill keeps one Python namespace),
 * then `lookup` (the tcpi_* fields of TCP_INFO).
 */
import { DrillSkip } from './ast.js';

export type PyValue = number | string | boolean;

/** An `assert` in a block failed. */
export class PyAssertion extends Error {}

const TCP_CA: Record<string, number> = {
  TCP_CA_Open: 0, TCP_CA_Disorder: 1, TCP_CA_CWR: 2, TCP_CA_Recovery: 3, TCP_CA_Loss: 4,
};

type Tok = { k: 'num'; v: number } | { k: 'str'; v: string } | { k: 'name'; v: string } | { k: 'op'; v: string } | { k: 'end' };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\' && src[i + 1] === '\n') { i += 2; continue; } // line continuation
    if (c === '#') { while (i < src.length && src[i] !== '\n') i++; continue; }
    if (c === '\n' || c === ';') { out.push({ k: 'end' }); i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^(?:0x[0-9a-fA-F]+|\d+\.\d*(?:e[-+]?\d+)?|\.\d+|\d+)/.exec(rest))) { out.push({ k: 'num', v: Number(m[0]) }); i += m[0].length; continue; }
    if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) { out.push({ k: 'name', v: m[0] }); i += m[0].length; continue; }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new SyntaxError('unterminated string');
      out.push({ k: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if ((m = /^(?:\/\/|==|!=|<=|>=|\+=|-=|\*=|[-+*/%<>=(),])/.exec(rest))) { out.push({ k: 'op', v: m[0] }); i += m[0].length; continue; }
    throw new SyntaxError(`unexpected '${c}'`);
  }
  out.push({ k: 'end' });
  return out;
}

export class PyBlock {
  private readonly vars = new Map<string, PyValue>();
  private toks: Tok[] = [];
  private i = 0;

  /** `lookup` returns a field's value, or undefined when the name is unknown. */
  constructor(private readonly lookup: (name: string) => number | undefined, private readonly print: (s: string) => void) {}

  run(src: string): void {
    this.toks = tokenize(src);
    this.i = 0;
    while (this.peek().k !== 'end' || this.i < this.toks.length - 1) {
      if (this.peek().k === 'end') { this.i++; continue; }
      this.statement();
      const t = this.peek();
      if (t.k !== 'end') throw new SyntaxError(`unexpected ${describe(t)}`);
    }
  }

  private peek(): Tok { return this.toks[this.i]!; }
  private isOp(v: string): boolean { const t = this.peek(); return t.k === 'op' && t.v === v; }
  private isName(v: string): boolean { const t = this.peek(); return t.k === 'name' && t.v === v; }
  private eat(v: string): void {
    if (!this.isOp(v)) throw new SyntaxError(`expected '${v}', found ${describe(this.peek())}`);
    this.i++;
  }

  private statement(): void {
    const t = this.peek();
    if (t.k === 'name' && t.v === 'assert') {
      this.i++;
      const ok = truthy(this.expr());
      let msg = '';
      if (this.isOp(',')) { this.i++; msg = str(this.expr()); }
      if (!ok) throw new PyAssertion(msg === '' ? 'AssertionError' : `AssertionError: ${msg}`);
      return;
    }
    if (t.k === 'name' && t.v === 'pass') { this.i++; return; }
    const next = this.toks[this.i + 1];
    if (t.k === 'name' && next?.k === 'op' && ['=', '+=', '-=', '*='].includes(next.v)) {
      this.i += 2;
      const v = this.expr();
      if (next.v === '=') { this.vars.set(t.v, v); return; }
      const old = this.name(t.v);
      this.vars.set(t.v, arith(next.v[0]!, old, v));
      return;
    }
    this.expr(); // print(...) and other expression statements
  }

  private expr(): PyValue {
    let v = this.and();
    while (this.isName('or')) { this.i++; const r = this.and(); v = truthy(v) ? v : r; }
    return v;
  }

  private and(): PyValue {
    let v = this.not();
    while (this.isName('and')) { this.i++; const r = this.not(); v = truthy(v) ? r : v; }
    return v;
  }

  private not(): PyValue {
    if (this.isName('not')) { this.i++; return !truthy(this.not()); }
    return this.comparison();
  }

  private comparison(): PyValue {
    let left = this.sum();
    let result = true;
    let any = false;
    for (;;) {
      const t = this.peek();
      if (t.k !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(t.v)) break;
      this.i++;
      const right = this.sum();
      any = true;
      result &&= compare(t.v, left, right);
      left = right;
    }
    return any ? result : left;
  }

  private sum(): PyValue {
    let v = this.product();
    while (this.isOp('+') || this.isOp('-')) { const op = (this.peek() as { v: string }).v; this.i++; v = arith(op, v, this.product()); }
    return v;
  }

  private product(): PyValue {
    let v = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) {
      const op = (this.peek() as { v: string }).v;
      this.i++;
      const r = this.unary();
      v = op === '%' && typeof v === 'string' ? format(v, r) : arith(op, v, r);
    }
    return v;
  }

  private unary(): PyValue {
    if (this.isOp('-')) { this.i++; return -num(this.unary()); }
    if (this.isOp('+')) { this.i++; return num(this.unary()); }
    return this.atom();
  }

  private atom(): PyValue {
    const t = this.peek();
    this.i++;
    if (t.k === 'num' || t.k === 'str') return t.v;
    if (t.k === 'op' && t.v === '(') { const v = this.expr(); this.eat(')'); return v; }
    if (t.k === 'name') {
      if (this.isOp('(')) return this.call(t.v);
      if (t.v === 'True') return true;
      if (t.v === 'False') return false;
      return this.name(t.v);
    }
    throw new SyntaxError(`unexpected ${describe(t)}`);
  }

  private call(fn: string): PyValue {
    this.eat('(');
    const args: PyValue[] = [];
    while (!this.isOp(')')) {
      args.push(this.expr());
      if (!this.isOp(',')) break;
      this.i++;
    }
    this.eat(')');
    switch (fn) {
      case 'print': this.print(args.map(str).join(' ')); return 0;
      case 'int': return Math.trunc(num(args[0]!));
      case 'abs': return Math.abs(num(args[0]!));
      case 'min': return Math.min(...args.map(num));
      case 'max': return Math.max(...args.map(num));
      default: throw new DrillSkip(`%{ }% calls ${fn}(), which is not supported`);
    }
  }

  private name(n: string): PyValue {
    const v = this.vars.get(n);
    if (v !== undefined) return v;
    if (n in TCP_CA) return TCP_CA[n]!;
    const f = this.lookup(n);
    if (f !== undefined) return f;
    if (n.startsWith('tcpi_')) throw new DrillSkip(`TCP_INFO field ${n} is not known to tuntcp`);
    throw new SyntaxError(`name '${n}' is not defined`);
  }
}

function describe(t: Tok): string {
  return t.k === 'end' ? 'end of statement' : `'${String(t.v)}'`;
}

function truthy(v: PyValue): boolean {
  return typeof v === 'string' ? v !== '' : Boolean(v);
}

function num(v: PyValue): number {
  if (typeof v === 'string') throw new SyntaxError(`a number was expected, not '${v}'`);
  return Number(v);
}

function str(v: PyValue): string {
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}

function compare(op: string, a: PyValue, b: PyValue): boolean {
  const x = typeof a === 'boolean' ? Number(a) : a;
  const y = typeof b === 'boolean' ? Number(b) : b;
  switch (op) {
    case '==': return x === y;
    case '!=': return x !== y;
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    default: return x >= y;
  }
}

function arith(op: string, a: PyValue, b: PyValue): PyValue {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  const x = num(a);
  const y = num(b);
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
    case '//': return Math.floor(x / y);
    default: return x - Math.floor(x / y) * y; // Python's %: the sign of the divisor
  }
}

/** `'fmt' % value` with %d, %s, %u, %x. */
function format(fmt: string, v: PyValue): string {
  return fmt.replace(/%([dsux%])/g, (_, c: string) => (c === '%' ? '%' : c === 'x' ? num(v).toString(16) : c === 's' ? str(v) : String(Math.trunc(num(v)))));
}
