/**
 * `tuntcp netstat` as pure functions: the rows a stack reports over its
 * control socket (control.ts), netstat's state spellings, the `netstat -antp`
 * table, and the `netstat -s` grouping of the stack's counters.
 *
 * Layout (net-tools netstat.c): `%-5s %6d %6d %-23s %-23s %-11s %s`. Two
 * choices of ours, both documented in `tuntcp netstat --help`:
 * - LISTEN rows: Recv-Q = connections still in SYN_RECV for that listener,
 *   Send-Q = the backlog (Linux shows its accept queue and backlog there).
 * - TIME_WAIT rows end with ` (timewait 57.3s)`: the time left until the TCB is
 *   deleted, after the PID/Program column (like the Timer column of `netstat -o`,
 *   which also comes last).
 */
import type { TcpState } from '../tcp/state.js';

/** One row as the control socket sends it (JSON). */
export interface SocketRow {
  proto: 'tcp' | 'tcp6';
  /** netstat's spelling (see netstatState). */
  state: string;
  recvQ: number;
  sendQ: number;
  localAddr: string;
  localPort: number;
  /** '0.0.0.0' (tcp6: '::') and port 0 for LISTEN (printed `0.0.0.0:*`, `:::*`). */
  remoteAddr: string;
  remotePort: number;
  /** TIME_WAIT only: milliseconds until the TCB is deleted. */
  timeWaitLeftMs?: number;
}

/** What one stack answers to `{"cmd":"sockets"}`. */
export interface StackSockets {
  pid: number;
  program: string;
  addr: string;
  /** The stack's network namespace (`readlink /proc/self/ns/net`). */
  netns?: string;
  sockets: SocketRow[];
}

/** What one stack answers to `{"cmd":"stats"}`. */
export interface StackStats {
  pid: number;
  program: string;
  addr: string;
  /** The stack's network namespace (`readlink /proc/self/ns/net`). */
  netns?: string;
  counters: Record<string, number>;
}

const NETSTAT_STATE: Record<TcpState, string> = {
  CLOSED: 'CLOSE',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN_SENT',
  SYN_RECEIVED: 'SYN_RECV',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN_WAIT1',
  FIN_WAIT_2: 'FIN_WAIT2',
  CLOSE_WAIT: 'CLOSE_WAIT',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST_ACK',
  TIME_WAIT: 'TIME_WAIT',
};

/** RFC 9293 state name → the spelling of Linux netstat (tcp_state_names in net-tools). */
export function netstatState(s: TcpState): string {
  return NETSTAT_STATE[s];
}

export const NETSTAT_HEADER =
  'Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name';

export const NO_STACKS_LINE = '(no tuntcp stacks running)';

/** net-tools tcp_do_one: an address too long for the column is cut so that address and port take at most 22 characters. */
function endpoint(addr: string, port: number): string {
  const p = port === 0 ? '*' : String(port);
  return `${addr.length + p.length > 22 ? addr.slice(0, 22 - p.length) : addr}:${p}`;
}

/** One table line, as `netstat -antp` prints it. */
export function formatSocketRow(row: SocketRow, pid: number, program: string): string {
  const line =
    `${row.proto.padEnd(5)} ${String(row.recvQ).padStart(6)} ${String(row.sendQ).padStart(6)} ` +
    `${endpoint(row.localAddr, row.localPort).padEnd(23)} ${endpoint(row.remoteAddr, row.remotePort).padEnd(23)} ` +
    `${row.state.padEnd(11)} ${pid}/${program}`;
  if (row.timeWaitLeftMs === undefined) return line;
  return `${line} (timewait ${(Math.max(0, row.timeWaitLeftMs) / 1000).toFixed(1)}s)`;
}

/** Listeners first, then connections, each by local then foreign port. */
export function sortRows(rows: readonly SocketRow[]): SocketRow[] {
  return [...rows].sort(
    (a, b) =>
      Number(b.state === 'LISTEN') - Number(a.state === 'LISTEN') ||
      a.localPort - b.localPort ||
      a.remoteAddr.localeCompare(b.remoteAddr) ||
      a.remotePort - b.remotePort,
  );
}

/** The whole table (header included) for every stack, sorted by pid. */
export function formatTable(stacks: readonly StackSockets[]): string[] {
  const lines = [NETSTAT_HEADER];
  if (stacks.length === 0) lines.push(NO_STACKS_LINE);
  for (const s of [...stacks].sort((a, b) => a.pid - b.pid)) {
    for (const row of sortRows(s.sockets)) lines.push(formatSocketRow(row, s.pid, s.program));
  }
  return lines;
}

/** Counters that are printed even when zero, so `-s` always has the same skeleton. */
const ALWAYS = [
  'ip_in', 'ip_out', 'icmp_in', 'icmp_echo_replied', 'tcp_in', 'tcp_out', 'tcp_active_opens', 'tcp_passive_opens',
  'tcp_rst_sent', 'tcp_rst_received', 'tcp_retransmitted_segments', 'tcp_fast_retransmits', 'tcp_rto_expired',
  'ip_bad_checksum', 'icmp_bad_checksum', 'tcp_bad_checksum', 'dropped',
];

/**
 * Reasons the stack drops a whole packet (Stack.drop and the wire parsers'
 * rejections). Each is counted together with `dropped`. Checksum failures are
 * drops too but get their own group.
 */
const DROP_REASONS = new Set([
  'ipv6_ignored', 'ip_not_for_us', 'ip_martian_source', 'udp_no_socket', 'ip_unknown_protocol', 'icmp_ignored',
  'tcp_rst_to_listener', 'tcp_no_syn_to_listener', 'tcp_v4mapped_source', 'tcp_listen_overflow', 'tcp_rst_no_connection',
  'ip_truncated', 'ip_bad_version', 'ip_bad_header_length', 'ip_bad_total_length', 'ip_fragment',
  'icmp_truncated', 'tcp_truncated', 'tcp_bad_header_length', 'tcp_bad_option',
  // IPv4 reassembly (stack/ip-reassembly.ts): a fragment or a whole datagram's fragments
  'ip_reasm_overlap', 'ip_reasm_duplicate', 'ip_reasm_malformed', 'ip_reasm_oversize', 'ip_reasm_evicted', 'ip_reasm_timeout', 'ip_reasm_bad', 'ip_reasm_ecn_mismatch',
  'icmp_tcp_not_ours', 'icmp_tcp_no_connection', 'icmp_tcp_out_of_window',
  // IPv6 (stack/stack-ip6.ts, wire/ipv6.ts walkIPv6, stack/ip6-reassembly.ts)
  'ip6_truncated', 'ip6_bad_payload_length', 'ip6_multicast_ignored', 'ip6_not_for_us', 'ip6_martian_source', 'ip6_jumbogram',
  'ip6_unknown_protocol', 'ip6_no_next_header', 'ip6_bad_padding', 'ip6_bad_option_length', 'ip6_too_many_options',
  'ip6_unknown_option', 'ip6_bad_jumbo', 'ip6_hbh_not_first', 'ip6_rthdr_multicast', 'ip6_rthdr_disabled',
  'ip6_rthdr_segments_left', 'ip6_nested_fragment', 'ip6_truncated_ext_header', 'ip6_incomplete_chain',
  'ip6_fragment_bad_length', 'ip6_fragment_too_long', 'ip6_frag_empty', 'ip6_frag_dead_datagram', 'ip6_frag_memory_full',
  'ip6_frag_too_many_queues', 'ip6_frag_too_many_fragments', 'ip6_frag_bad_end', 'ip6_frag_duplicate', 'ip6_frag_overlap',
  'ip6_frag_oversize', 'ip6_frag_ecn_mismatch', 'ip6_frag_timeout',
  'icmp6_truncated', 'icmp6_ignored', 'icmp6_tcp_not_ours', 'icmp6_tcp_no_connection',
]);

export const STAT_GROUPS = ['ip', 'ip6', 'icmp', 'icmp6', 'tcp', 'rst', 'retransmissions', 'checksum errors', 'drops', 'other'] as const;
export type StatGroup = (typeof STAT_GROUPS)[number];

/** Which `-s` group a counter is printed in. Every counter is in exactly one. */
export function statGroup(name: string): StatGroup {
  if (name.endsWith('_bad_checksum')) return 'checksum errors';
  if (name === 'dropped' || DROP_REASONS.has(name)) return 'drops';
  if (name === 'tcp_rst_sent' || name === 'tcp_rst_received' || name === 'tcp_rst_ratelimited') return 'rst';
  if (/retransmit|^tcp_rto_|^tcp_tlp_|^tcp_rack_|^tcp_timeouts_/.test(name)) return 'retransmissions';
  if (name.startsWith('ip_')) return 'ip';
  if (name.startsWith('ip6_')) return 'ip6';
  if (name.startsWith('icmp_')) return 'icmp';
  if (name.startsWith('icmp6_')) return 'icmp6';
  if (name.startsWith('tcp_')) return 'tcp';
  return 'other';
}

/** Counters grouped for `-s`, with the ALWAYS ones filled in as 0; empty groups left out. */
export function groupCounters(counters: Record<string, number>): Array<{ group: StatGroup; entries: Array<[string, number]> }> {
  const all: Record<string, number> = {};
  for (const k of ALWAYS) all[k] = 0;
  Object.assign(all, counters);
  const names = Object.keys(all).sort();
  const out: Array<{ group: StatGroup; entries: Array<[string, number]> }> = [];
  for (const group of STAT_GROUPS) {
    let entries: Array<[string, number]> = names.filter((n) => statGroup(n) === group).map((n) => [n, all[n] ?? 0]);
    if (group === 'drops') {
      // the total first, then each reason
      entries = [...entries.filter(([n]) => n === 'dropped'), ...entries.filter(([n]) => n !== 'dropped')];
    }
    if (entries.length > 0) out.push({ group, entries });
  }
  return out;
}

/** `netstat -s` text for every stack: a heading per stack, a line per group, `name: value` lines. */
export function formatStats(stacks: readonly StackStats[]): string[] {
  const lines: string[] = [];
  if (stacks.length === 0) lines.push(NO_STACKS_LINE);
  for (const s of [...stacks].sort((a, b) => a.pid - b.pid)) {
    if (lines.length > 0) lines.push('');
    lines.push(`${s.pid}/${s.program} ${s.addr}:`);
    for (const { group, entries } of groupCounters(s.counters)) {
      lines.push(`${group}:`);
      for (const [n, v] of entries) lines.push(`    ${n}: ${v}`);
    }
  }
  return lines;
}
