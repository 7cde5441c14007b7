/**
 * The printed form of a BenchReport: one block per section, rows of the
 * same MTU and direction next to each other so the ratios read down a
 * column, then the targets, then what was skipped and why.
 */
import type { BenchReport, BulkRow } from './results.js';
import { sibling } from './targets.js';
import { ownershipLines } from './ownership.js';
import { mqBlock } from './mq.js';
import { lossLines } from './loss-section.js';

/** Left-align the first `left` columns, right-align the rest. */
function columns(head: string[], rows: string[][], left = 1): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

const fix = (v: number | null, digits: number): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;
const count = (n: number): string => n.toLocaleString('en-US');

function ratio(row: BulkRow, of: BulkRow | undefined): string {
  if (of === undefined || row.error !== undefined) return '';
  return `${(row.gbitPerSec / of.gbitPerSec).toFixed(2)}x`;
}

function bulkBlock(rep: BenchReport): string[] {
  const order: BulkRow['path'][] = ['tuntcp', 'tuntcp connect < file', 'cat | tuntcp connect', 'tuntcp --no-offload', 'slirp4netns', 'veth', 'veth iperf3'];
  const rows = [...rep.bulk].sort(
    (a, b) => a.mtu - b.mtu || a.direction.localeCompare(b.direction) || order.indexOf(a.path) - order.indexOf(b.path),
  );
  const cells = rows.map((r) => {
    const remark = r.error !== undefined ? `ERROR: ${r.error}` : (r.note ?? '');
    return [
      r.path, r.direction, String(r.mtu),
      r.error !== undefined ? '-' : fix(r.gbitPerSec, 2),
      r.runs.length > 1 ? `${fix(Math.min(...r.runs), 2)}-${fix(Math.max(...r.runs), 2)}` : '',
      fix(r.stackCpuPerGB, 2), fix(r.peerCpuPerGB, 2),
      r.retransmits === null ? '-' : String(r.retransmits),
      r.path === 'slirp4netns' ? '' : ratio(r, sibling(rep.bulk, r, 'slirp4netns')),
      r.path.startsWith('veth') ? '' : ratio(r, sibling(rep.bulk, r, 'veth')),
      remark,
    ];
  });
  const runs = rep.options.repeat;
  return [
    `bulk goodput: ${Math.round(rep.options.mb)} MiB per transfer, ${runs > 1 ? `median of ${runs} runs` : 'one run'}`,
    ...columns(['path', 'direction', 'MTU', 'Gbit/s', 'runs', 'CPU s/GB stack', 'CPU s/GB Linux', 'retrans', 'vs slirp', 'vs veth', ''], cells, 2),
    '  Gbit/s: at the receiver, first byte to last; runs: the range of all runs (CPU and retrans: the median run).',
    '  receive = Linux -> stack, send = stack -> Linux; vs: goodput over the slirp4netns or veth row of the same',
    '  direction and MTU. CPU s/GB (GB = 10^9 bytes): stack = the tuntcp process, or slirp4netns + its host-side',
    "  peer, or the Linux peer in the stack's place (veth); Linux = the kernel-side Python peer. Each counts its own",
    "  user + system time, so kernel work counts where the kernel does it: a TUN or veth write delivers the packet",
    "  to the receiving TCP in the writer's context.",
  ];
}

function inprocBlock(rep: BenchReport): string[] {
  const cells = rep.inproc.map((r) => [
    String(r.mtu), r.offload ? 'yes' : 'no', fix(r.gbitPerSec, 2), fix(r.cpuPerGB, 2), count(Math.round(r.bytes / 2 ** 20)), fix(r.seconds, 2), String(r.retransmits), r.error ?? '',
  ]);
  return [
    'in-process tuntcp <-> tuntcp (memory link, real clock, one process)',
    ...columns(['MTU', 'offload', 'Gbit/s', 'CPU s/GB', 'MiB', 'seconds', 'retrans', ''], cells),
  ];
}

function connrateBlock(rep: BenchReport): string[] {
  const lines = ['connection rate (kernel clients: connect, 100 B request, 100 B reply, client closes)'];
  for (const [who, c] of [['tuntcp', rep.connrate], ['Linux', rep.connrateLinux]] as const) {
    if (c === null) continue;
    lines.push(
      `  ${who}: ${count(Math.round(c.connectionsPerSec))} connections/s: ${count(c.connections)} in ${c.seconds} s, ` +
        `${c.clientProcesses} client processes x ${c.concurrencyPerProcess} in flight, ${c.errors} errors`,
      `    server process CPU ${c.stackCpuPercent.toFixed(0)} % of a core, ${c.stackCpuMicrosPerConn.toFixed(0)} µs/connection; ` +
        `clients ${c.clientCpuMicrosPerConn.toFixed(0)} µs/connection${c.error !== undefined ? `   ERROR: ${c.error}` : ''}`,
    );
  }
  if (rep.connrateLinux !== null) {
    lines.push('  Linux: the same server code on node:net over loopback (its TCP work partly in the clients\' system calls).');
  }
  return lines;
}

function memoryBlock(rep: BenchReport): string[] {
  const cells = rep.memory.map((m) => [
    count(m.connections), count(m.established), kib(m.rssBytesPerConn), kib(m.heapBytesPerConn), kib(m.externalBytesPerConn),
    fix(m.openSeconds, 1), fix(m.closeSeconds, 1),
    m.error ?? (m.leftAfterClose > 0 ? `${count(m.leftAfterClose)} still open 60 s after the client closed` : ''),
  ]);
  return [
    'memory per idle established connection (tuntcp process, after a full GC)',
    ...columns(['open', 'established', 'RSS/conn', 'heap/conn', 'buffers/conn', 'open s', 'close s', ''], cells),
  ];
}

function targetBlock(rep: BenchReport): string[] {
  const verdict = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'met' : 'NOT met');
  return ['targets', ...columns(['target', 'goal', 'measured', 'result'], rep.targets.map((t) => [t.name, t.goal, t.measured, verdict(t.met)]), 3)];
}

export function renderTable(rep: BenchReport): string {
  const m = rep.machine;
  const out: string[] = [
    `tuntcp bench ${rep.date}: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}`,
    `  ${m.python}; Linux congestion control ${m.linuxCongestionControl}; slirp4netns ${m.slirp4netns || 'not installed'}; iperf3 ${m.iperf3 || 'not installed'}`,
  ];
  const blocks: string[][] = [];
  if (rep.bulk.length > 0) blocks.push(bulkBlock(rep));
  if (rep.inproc.length > 0) blocks.push(inprocBlock(rep));
  if (rep.ownership !== null) blocks.push(ownershipLines(rep.ownership.rows, rep.ownership.copyCpuPerGB));
  if (rep.connrate !== null || rep.connrateLinux !== null) blocks.push(connrateBlock(rep));
  if (rep.memory.length > 0) blocks.push(memoryBlock(rep));
  if (rep.mq !== undefined && rep.mq.length > 0) blocks.push(mqBlock(rep.mq));
  if (rep.loss !== undefined) blocks.push(lossLines(rep.loss));
  if (rep.targets.length > 0) blocks.push(targetBlock(rep));
  if (rep.skipped.length > 0) blocks.push(['skipped', ...rep.skipped.map((s) => `  ${s}`)]);
  if (rep.warnings.length > 0) blocks.push(['warnings', ...rep.warnings.map((s) => `  ${s}`)]);
  for (const b of blocks) out.push('', ...b);
  return out.join('\n');
}
