/**
 * What `npm run bench` measures, as the rows the table prints and `--json`
 * writes. Units are in the field names: GB is 10^9 bytes, Gbit is 10^9 bits.
 */
import type { MqRow } from './mq.js';

/** Which userspace stack (or Linux stand-in for one) a bulk row measures. */
/** 'tuntcp' is the default (offload on); 'tuntcp --no-offload' one packet per segment. */
export type BulkPath = 'tuntcp' | 'tuntcp --no-offload' | 'slirp4netns' | 'veth' | 'veth iperf3'
  /** The CLI (cli.ts): stdin from a file, or from a pipe, into the socket. */
  | 'tuntcp connect < file' | 'cat | tuntcp connect';

export interface BulkRow {
  path: BulkPath;
  /** From the stack's side: 'receive' is Linux -> stack, 'send' is stack -> Linux. */
  direction: 'receive' | 'send';
  mtu: number;
  bytes: number;
  /** Receiver's first byte to last byte. */
  seconds: number;
  gbitPerSec: number;
  /** CPU seconds per GB of the stack's side: the tuntcp process, or slirp4netns plus its
   * host-side peer, or for veth the Linux peer in the stack's place. */
  stackCpuPerGB: number | null;
  /** CPU seconds per GB of the Linux peer on the kernel side. */
  peerCpuPerGB: number | null;
  /** Segments the sender retransmitted, where it can be counted. */
  retransmits: number | null;
  /** Goodput of every run (Gbit/s, failed runs left out); the row is the median run. */
  runs: number[];
  note?: string;
  error?: string;
}

export interface InprocRow {
  mtu: number;
  /** Memory link with checksum and segmentation offload (like Linux loopback). */
  offload: boolean;
  bytes: number;
  seconds: number;
  gbitPerSec: number;
  /** Both stacks together, one process. */
  cpuPerGB: number;
  retransmits: number;
  error?: string;
}

/** One design of who owns a written Buffer (ownership.ts). */
export interface OwnershipRow {
  /** copy: into the send queue, callback at once; ack: callback when acknowledged. */
  design: 'copy' | 'ack';
  oneWayMs: number;
  bytes: number;
  gbitPerSec: number;
  /** null where the emulation's own polling would be measured. */
  cpuPerGB: number | null;
  error?: string;
}

export interface ConnRateResult {
  connectionsPerSec: number;
  connections: number;
  seconds: number;
  errors: number;
  clientProcesses: number;
  concurrencyPerProcess: number;
  /** tuntcp process CPU per connection, microseconds. */
  stackCpuMicrosPerConn: number;
  /** tuntcp process CPU over the window, percent of one core. */
  stackCpuPercent: number;
  /** Python clients' CPU (user + system) per connection, microseconds. */
  clientCpuMicrosPerConn: number;
  error?: string;
}

export interface MemoryRow {
  /** Connections asked for, and found ESTABLISHED on the tuntcp side. */
  connections: number;
  established: number;
  /** Linux processes holding them (each within its RLIMIT_NOFILE). */
  holderProcesses: number;
  rssBytesPerConn: number;
  heapBytesPerConn: number;
  /** Buffers outside the V8 heap (external + arrayBuffers). */
  externalBytesPerConn: number;
  openSeconds: number;
  /** Until the stack held no connection, after the client closed them all (paced). */
  closeSeconds: number;
  /** Connections the stack still held 60 s after the client closed them. */
  leftAfterClose: number;
  error?: string;
}

/** One row of loss.ts (its JSON). */
export interface LossRow {
  path: string;
  rttMs: number;
  mbitPerSec: number;
  seconds: number;
  retransmits: number;
  /** Rows of one single loss (loss.ts (d)): its recovery time and the part until the retransmission, ms. */
  recoveryMs?: number;
  detectMs?: number;
  error?: string;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  /** The number compared with the goal (ratio, Gbit/s, connections/s, bytes). */
  value: number | null;
  /** null: not measured in this run. */
  met: boolean | null;
}

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  python: string;
  slirp4netns: string;
  iperf3: string;
  /** net.ipv4.tcp_congestion_control of the namespaces the Linux peers run in. */
  linuxCongestionControl: string;
}

export interface BenchReport {
  date: string;
  machine: Machine;
  options: { mb: number; repeat: number; only: string[]; conns: number[] };
  bulk: BulkRow[];
  inproc: InprocRow[];
  ownership: { rows: OwnershipRow[]; copyCpuPerGB: number } | null;
  connrate: ConnRateResult | null;
  /** The same clients against the same server code on node:net (Linux's TCP), loopback. */
  connrateLinux: ConnRateResult | null;
  memory: MemoryRow[];
  /** --queues rows (mq.ts); absent in reports from before them. */
  mq?: MqRow[];
  /** The loss section (loss.ts): 20 ms / 1 % path; absent when not run. */
  loss?: LossRow[];
  targets: Target[];
  /** One line per row or section that was skipped, with the reason. */
  skipped: string[];
  /** Process warnings during the run, e.g. the stack's report of an internal error. */
  warnings: string[];
}

export interface BulkMeasure {
  path: BulkPath;
  direction: BulkRow['direction'];
  mtu: number;
  /** Bytes the sender was to send; fewer at the receiver is an error. */
  expected: number;
  bytes: number;
  seconds: number;
  stackCpu: number | null;
  peerCpu: number | null;
  retransmits: number | null;
  error?: string;
}

/** A bulk row from raw measurements: rates and CPU per GB. */
export function bulkRow(m: BulkMeasure): BulkRow {
  const gb = m.bytes / 1e9;
  const perGB = (cpu: number | null): number | null => (cpu === null || gb === 0 ? null : cpu / gb);
  const row: BulkRow = {
    path: m.path,
    direction: m.direction,
    mtu: m.mtu,
    bytes: m.bytes,
    seconds: m.seconds,
    gbitPerSec: m.seconds > 0 ? (m.bytes * 8) / m.seconds / 1e9 : 0,
    stackCpuPerGB: perGB(m.stackCpu),
    peerCpuPerGB: perGB(m.peerCpu),
    retransmits: m.retransmits,
    runs: [],
  };
  const error = m.error || (m.bytes !== m.expected ? `got ${m.bytes} of ${m.expected} bytes` : '');
  if (error) row.error = error;
  return row;
}

/** A row for a transfer that could not run at all. */
export function failedRow(path: BulkPath, direction: BulkRow['direction'], mtu: number, error: string): BulkRow {
  return bulkRow({ path, direction, mtu, expected: 0, bytes: 0, seconds: 0, stackCpu: null, peerCpu: null, retransmits: null, error });
}

/**
 * One row per path, direction and MTU out of repeated runs: the run with the
 * median goodput among those that worked (the lower middle of an even
 * count), carrying every run's goodput; a failed run only shows when all
 * failed.
 */
export function medianRows(rows: BulkRow[]): BulkRow[] {
  const groups = new Map<string, BulkRow[]>();
  for (const r of rows) {
    const key = `${r.path}|${r.direction}|${r.mtu}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const ok = g.filter((r) => r.error === undefined).sort((a, b) => a.gbitPerSec - b.gbitPerSec);
    if (ok.length === 0) return g[g.length - 1]!;
    const mid = ok[Math.floor((ok.length - 1) / 2)]!;
    const failed = g.length - ok.length;
    const note = [mid.note, failed > 0 ? `${failed} of ${g.length} runs failed: ${g.find((r) => r.error)!.error}` : ''].filter(Boolean).join('; ');
    return { ...mid, runs: g.filter((r) => r.error === undefined).map((r) => r.gbitPerSec), ...(note ? { note } : {}) };
  });
}
