/**
 * A script's backtick shell lines, read and never run: the sysctl settings
 * they make (`sysctl -q net.ipv4.tcp_sack=1`, `set_sysctls.py
 * /proc/sys/net/ipv4/tcp_timestamps=0`, `echo 0 > /proc/sys/net/ipv4/...`,
 * and those of a shell file they name, like gtests' common/defaults.sh) are
 * mapped onto tuntcp's TcpConfig where tuntcp has the same knob, and so is
 * `ip route change|replace|add` to the remote (a script has one peer):
 * advmss (the MSS we announce), mtu [lock] (the path MTU) and initcwnd.
 * Everything else is listed as ignored (shown under --verbose).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../tcp/config.js';
import { DrillSkip } from './ast.js';

export interface SysctlEffect {
  tcp: Partial<TcpConfig>;
  /** Linux tcp_syncookies (0: off). */
  synCookies?: boolean;
  /** Settings and commands that have no meaning here. */
  ignored: string[];
  /** An `ip route` line set this route MTU (0: none): live connections are told (runner.ts). */
  routeMtu?: number;
}

/** Apply `name=value` (name without the net.ipv4. prefix) to `e`. */
function apply(e: SysctlEffect, name: string, value: string): void {
  const n = Number(value);
  const words = value.trim().split(/\s+/).map(Number);
  switch (name) {
    case 'tcp_timestamps': e.tcp.timestamps = n !== 0; return;
    case 'tcp_sack': e.tcp.sack = n !== 0; return;
    case 'tcp_window_scaling': e.tcp.windowScaling = n !== 0; return;
    case 'tcp_syn_retries': e.tcp.synRetries = n; return;
    case 'tcp_min_tso_segs': if (n >= 1) e.tcp.minTsoSegs = n; return;
    case 'tcp_synack_retries': e.tcp.synAckRetries = n; return;
    case 'tcp_retries2': e.tcp.retries = n; return;
    case 'tcp_orphan_retries': e.tcp.orphanRetries = n === 0 ? 8 : n; return; // 0 means 8 in Linux
    case 'tcp_fin_timeout': e.tcp.finTimeout = n * 1000; return;
    case 'tcp_early_retrans': e.tcp.tlp = n >= 3; return; // 3, 4: TLP on; 0 (and the old 1, 2): off
    case 'tcp_frto': e.tcp.frto = n !== 0; return; // F-RTO (RFC 5682); Linux treats 1 and 2 alike
    case 'tcp_recovery': e.tcp.rack = (n & 1) !== 0; return; // bit 0: RACK loss detection
    case 'tcp_mtu_probing': e.tcp.mtuProbing = n === 0 ? false : n === 1 ? true : 'always'; return;
    case 'tcp_base_mss': e.tcp.mtuSearch = { ...searchOf(e), baseMss: n }; return;
    case 'tcp_probe_threshold': e.tcp.mtuSearch = { ...searchOf(e), threshold: n }; return;
    case 'tcp_probe_interval': e.tcp.mtuSearch = { ...searchOf(e), interval: n * 1000 }; return;
    case 'tcp_syncookies': e.synCookies = n !== 0; return;
    case 'tcp_ecn': e.tcp.ecn = n === 1 ? 'on' : n === 2 ? 'passive' : 'off'; return;
    case 'tcp_congestion_control':
      if (value === 'cubic') e.tcp.cc = 'cubic';
      else if (value === 'reno') e.tcp.cc = 'newreno';
      else if (value === 'bbr') e.tcp.cc = 'bbr';
      else e.ignored.push(`${name}=${value} (no such algorithm here)`);
      return;
    case 'tcp_rmem':
      // Linux's three values: the initial buffer, window and scale come from them and autotuning grows to the last.
      if (words.length === 3 && words.every((w) => Number.isInteger(w) && w > 0)) e.tcp.tcpRmem = [words[0]!, words[1]!, words[2]!];
      return;
    case 'tcp_wmem':
      if (words.length === 3 && words.every(Number.isFinite)) {
        e.tcp.sndBuf = words[1]!;
        e.tcp.sndBufMax = words[2]!; // autotuning grows the buffer up to it (tcp_sndbuf_expand)
      }
      return;
    default:
      e.ignored.push(`${name}=${value}`);
  }
}

function searchOf(e: SysctlEffect): TcpConfig['mtuSearch'] {
  return e.tcp.mtuSearch ?? DEFAULT_TCP_CONFIG.mtuSearch;
}

/**
 * `ip [-6] route change|replace|add DST ... advmss N mtu [lock] M initcwnd K`
 * (ip-route(8)); true when `t` is one. The route's other words (via, dev)
 * have no meaning here: the drill's peer is reached directly.
 */
function readRoute(e: SysctlEffect, t: string): boolean {
  if (!/^ip\s+(-6\s+)?route\s+(change|replace|add)\s/.test(t)) return false;
  const num = (key: string): number | undefined => {
    const m = new RegExp(`\\s${key}\\s+(?:lock\\s+)?(\\d+)\\b`).exec(t);
    return m ? Number(m[1]) : undefined;
  };
  const advmss = num('advmss');
  const mtu = num('mtu');
  const initcwnd = num('initcwnd');
  e.tcp.advMss = advmss ?? 0;
  // `change` and `replace` set the whole route: what the line leaves out is back to the default.
  e.tcp.initCwnd = initcwnd !== undefined && initcwnd > 0 ? initcwnd : DEFAULT_TCP_CONFIG.initCwnd;
  e.routeMtu = mtu ?? 0;
  e.tcp.routeMtu = e.routeMtu;
  return true;
}

/** Settings made by one shell line; `dir` resolves files it names. */
function readLine(e: SysctlEffect, line: string, dir: string, depth: number): void {
  const t = line.replace(/#.*$/, '').trim();
  if (t === '') return;
  // Commands joined by `;` or `&&` (`tc qdisc delete ...; tc qdisc add ...`): each on its own.
  if (/^tc\s/.test(t) && /;|&&/.test(t)) {
    for (const part of t.split(/;|&&/)) readLine(e, part, dir, depth);
    return;
  }
  if (/^tc\s+qdisc\s+del(ete)?\s/.test(t)) return; // back to the default FIFO: nothing to undo here
  if (readRoute(e, t)) return;
  const sets = [...t.matchAll(/(?:net\.ipv4\.|\/proc\/sys\/net\/ipv4\/)([a-z0-9_]+)\s*=\s*("([^"]*)"|'([^']*)'|\S+)/g)];
  if (/^(sudo\s+)?sysctl\b/.test(t) || /set_sysctls\.py/.test(t)) {
    for (const m of sets) apply(e, m[1]!, m[3] ?? m[4] ?? m[2]!);
    return;
  }
  const tc = /^tc\s+qdisc\s+(add|replace)\s+dev\s+\S+\s+root\s+(\S+)(.*?)(\s+2>\S+)?$/.exec(t);
  if (tc) {
    // The device's queueing discipline: fq paces TCP (Linux's fq honours sk_pacing_rate); a plain FIFO does not.
    if (/\blimit\s+0\b/.test(tc[3]!)) throw new DrillSkip(`a qdisc that drops every packet (${t}): local congestion is not modelled`);
    if (tc[2] === 'fq') e.tcp.pacing = true;
    else if (tc[2] === 'pfifo' || tc[2] === 'pfifo_fast') e.tcp.pacing = false;
    else e.ignored.push(`command: ${t}`);
    return;
  }
  const echo = /^echo\s+("?)([^">]*)\1\s*>\s*\/proc\/sys\/net\/ipv4\/([a-z0-9_]+)/.exec(t);
  if (echo) return apply(e, echo[3]!, echo[2]!.replace(/\$\(\(([^)]*)\)\)/g, '$1'));
  const file = /^(?:source\s+|\.\s+)?(\S+\.sh)\b/.exec(t);
  if (file && depth < 4) {
    const path = resolve(dir, file[1]!);
    if (existsSync(path)) return readShell(e, readFileSync(path, 'utf8'), dirname(path), depth + 1);
  }
  e.ignored.push(`command: ${t}`);
}

function readShell(e: SysctlEffect, text: string, dir: string, depth: number): void {
  // A backslash before the newline continues the command on the next line.
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) readLine(e, evalArith(line), dir, depth);
}

/** `$((15*1024*1024))` as the shell would expand it: only + - * of integers. */
function evalArith(line: string): string {
  return line.replace(/\$\(\(([0-9+*\- ]+)\)\)/g, (_, expr: string) => {
    const terms = expr.replace(/\s/g, '').split(/(?=[+-])/);
    return String(terms.reduce((sum, term) => sum + term.replace(/^\+/, '').split('*').reduce((p, f) => p * Number(f), 1), 0));
  });
}

/** Read a backtick command (several lines maybe) of a script in `scriptDir`. */
export function readCommand(e: SysctlEffect, command: string, scriptDir: string): void {
  readShell(e, command, scriptDir, 0);
}
