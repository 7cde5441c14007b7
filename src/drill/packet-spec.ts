/**
 * One packet line of a script, after its time:
 *
 *     < [ect0] S. 0:0(0) ack 1 win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
 *
 * direction, optional IP ECN field in brackets, flags (F S R P U . E W),
 * `seq:end(len)`, then `ack N`, `win N`, and options in angle brackets
 * (`<...>`: any options, outgoing only). Sequence numbers are relative, as
 * packetdrill writes them. Options we cannot build or check make the file SKIP.
 */
import { DrillSkip, DrillSyntaxError, type EcnSpec, type OptionSpec, type PacketSpec } from './ast.js';

const ECN_WORDS: Record<string, EcnSpec> = { noecn: 'noecn', ect0: 'ect0', ect1: 'ect1', ce: 'ce', ect01: 'ect01' };

export function parsePacket(text: string, line: number): PacketSpec {
  const bad = (why: string): never => {
    throw new DrillSyntaxError(line, `${why}: ${text}`);
  };
  const dir = text[0] as '<' | '>';
  let rest = text.slice(1).trim();
  let ecn: EcnSpec | undefined;
  const br = /^\[([a-z0-9]+)\]\s*/.exec(rest);
  if (br) {
    ecn = ECN_WORDS[br[1]!];
    if (ecn === undefined) throw new DrillSkip(`line ${line}: IP field [${br[1]}] is not supported`);
    rest = rest.slice(br[0].length);
  }
  if (/^(udp|icmp|UDP|ICMP)\b/.test(rest)) throw new DrillSkip(`line ${line}: only TCP packets are supported`);
  const head = /^([FSRPU.EWA]+|-)\s+(\d+):(\d+)\((\d+)\)/.exec(rest);
  if (!head) return bad('expected flags and seq:end(len)');
  const flags = head[1]!;
  const seq = Number(head[2]);
  const len = Number(head[4]);
  if ((Number(head[3]) - seq) >>> 0 !== len) bad('seq:end(len) does not add up');
  rest = rest.slice(head[0].length).trim();
  const spec: PacketSpec = { dir, ecn, flags, seq, len, options: dir === '<' ? [] : [], text: `${dir} ${text.slice(1).trim()}` };
  for (;;) {
    let m: RegExpExecArray | null;
    if ((m = /^ack\s+(\d+)/.exec(rest))) spec.ack = Number(m[1]);
    else if ((m = /^win\s+(\d+)/.exec(rest))) spec.win = Number(m[1]);
    else if ((m = /^urg\s+(\d+)/.exec(rest))) throw new DrillSkip(`line ${line}: urgent pointers are not supported`);
    else break;
    rest = rest.slice(m[0].length).trim();
  }
  if (rest.startsWith('<')) {
    const close = rest.lastIndexOf('>');
    if (close < 0) bad('unterminated options');
    const body = rest.slice(1, close).trim();
    rest = rest.slice(close + 1).trim();
    if (body === '...') {
      if (dir === '<') bad('<...> for options only on outgoing packets');
      spec.options = null;
    } else {
      spec.options = body === '' ? [] : body.split(',').map((o) => parseOption(o.trim(), line, text));
    }
  }
  if (rest !== '') bad(`unexpected "${rest}"`);
  return spec;
}

function parseOption(o: string, line: number, text: string): OptionSpec {
  let m: RegExpExecArray | null;
  if (o === 'nop') return { kind: 'nop' };
  if (o === 'eol') return { kind: 'eol' };
  if (o === 'sackOK') return { kind: 'sackOK' };
  if ((m = /^mss\s+(\d+)$/.exec(o))) return { kind: 'mss', value: Number(m[1]) };
  if ((m = /^wscale\s+(\d+)$/.exec(o))) return { kind: 'wscale', value: Number(m[1]) };
  if ((m = /^TS\s+val\s+(\d+)\s+ecr\s+(\d+)$/.exec(o))) return { kind: 'ts', val: Number(m[1]), ecr: Number(m[2]) };
  if ((m = /^sack((?:\s+\d+:\d+)*)$/.exec(o))) {
    const blocks = m[1]!.trim().split(/\s+/).filter((b) => b !== '').map((b) => b.split(':').map(Number) as [number, number]);
    return { kind: 'sack', blocks };
  }
  const name = o.split(/\s+/)[0];
  if (/^(FO|md5|exp|mptcp|tarr|AccECN|ae|unknown)/i.test(o)) throw new DrillSkip(`line ${line}: TCP option ${name} is not supported`);
  throw new DrillSyntaxError(line, `unknown TCP option "${o}": ${text}`);
}
