/**
 * The targets, checked against one run's results. Reported, never
 * asserted: a slow or busy machine must not fail anything.
 */
import type { BenchReport, BulkRow, Target } from './results.js';
import { mqTargets } from './mq.js';
import { lossTargets } from './loss-section.js';

const SLIRP_RATIO = 1.5;
const INPROC_GBIT = 5;
const CONN_PER_SEC = 5000;
const IDLE_HEAP_BYTES = 4096;
/** `tuntcp connect < file` against the API's send row (issue 15). */
const CLI_OF_API = 0.8;

/** The row of `path` in the same direction at the same MTU, if it produced a number. */
export function sibling(rows: BulkRow[], of: BulkRow, path: BulkRow['path']): BulkRow | undefined {
  return rows.find((r) => r.path === path && r.direction === of.direction && r.mtu === of.mtu && r.error === undefined && r.gbitPerSec > 0);
}

export function targets(rep: Omit<BenchReport, 'targets'>): Target[] {
  const out: Target[] = [];
  const tuntcp = rep.bulk.filter((r) => r.path === 'tuntcp' || r.path === 'tuntcp --no-offload');
  if (tuntcp.length > 0 && !rep.bulk.some((r) => r.path === 'slirp4netns')) {
    out.push({ name: 'tuntcp vs slirp4netns, each direction and MTU', goal: `>= ${SLIRP_RATIO}x`, measured: 'no slirp4netns rows', value: null, met: null });
  }
  for (const row of tuntcp) {
    const slirp = sibling(rep.bulk, row, 'slirp4netns');
    const name = `${row.path} ${row.direction} MTU ${row.mtu} vs slirp4netns`;
    const goal = `>= ${SLIRP_RATIO}x`;
    if (!rep.bulk.some((r) => r.path === 'slirp4netns')) break;
    if (slirp === undefined || row.error !== undefined) {
      out.push({ name, goal, measured: row.error !== undefined ? 'tuntcp row failed' : 'no slirp4netns row', value: null, met: null });
      continue;
    }
    const ratio = row.gbitPerSec / slirp.gbitPerSec;
    const measured = `${ratio.toFixed(2)}x (${row.gbitPerSec.toFixed(2)} / ${slirp.gbitPerSec.toFixed(2)} Gbit/s)`;
    out.push({ name, goal, measured, value: ratio, met: ratio >= SLIRP_RATIO });
  }
  for (const row of rep.bulk.filter((r) => r.path === 'tuntcp connect < file')) {
    const api = sibling(rep.bulk, row, 'tuntcp');
    const name = `tuntcp connect < file vs the API, ${row.direction} MTU ${row.mtu}`;
    const goal = `>= ${CLI_OF_API * 100} %`;
    if (api === undefined || row.error !== undefined) {
      out.push({ name, goal, measured: row.error !== undefined ? 'CLI row failed' : 'no API row (--only tun)', value: null, met: null });
      continue;
    }
    const ratio = row.gbitPerSec / api.gbitPerSec;
    const measured = `${(ratio * 100).toFixed(0)} % (${row.gbitPerSec.toFixed(2)} / ${api.gbitPerSec.toFixed(2)} Gbit/s; CPU s/GB ${row.stackCpuPerGB?.toFixed(2) ?? '-'} / ${api.stackCpuPerGB?.toFixed(2) ?? '-'})`;
    out.push({ name, goal, measured, value: ratio, met: ratio >= CLI_OF_API });
  }
  for (const row of rep.inproc) {
    out.push({
      name: `in-process tuntcp <-> tuntcp MTU ${row.mtu}${row.offload ? ' +offload' : ''}`,
      goal: `>= ${INPROC_GBIT} Gbit/s`,
      measured: `${row.gbitPerSec.toFixed(2)} Gbit/s`,
      value: row.gbitPerSec,
      met: row.error === undefined ? row.gbitPerSec >= INPROC_GBIT : null,
    });
  }
  if (rep.connrate !== null) {
    const c = rep.connrate;
    out.push({
      name: 'connections/s (kernel clients -> tuntcp server)',
      goal: `>= ${CONN_PER_SEC}/s`,
      measured: `${c.connectionsPerSec.toFixed(0)}/s`,
      value: c.connectionsPerSec,
      met: c.error === undefined ? c.connectionsPerSec >= CONN_PER_SEC : null,
    });
  }
  if (rep.connrate !== null && rep.connrateLinux !== null) {
    const [c, l] = [rep.connrate, rep.connrateLinux];
    out.push({
      name: 'connections/s, tuntcp vs Linux (same clients, same server code on node:net)',
      goal: '>= Linux',
      measured: `${c.connectionsPerSec.toFixed(0)}/s vs ${l.connectionsPerSec.toFixed(0)}/s`,
      value: l.connectionsPerSec > 0 ? c.connectionsPerSec / l.connectionsPerSec : null,
      met: c.error === undefined && l.error === undefined ? c.connectionsPerSec >= l.connectionsPerSec : null,
    });
  }
  for (const m of rep.memory) {
    out.push({
      name: `idle connection heap, ${m.connections.toLocaleString('en-US')} open`,
      goal: `< ${IDLE_HEAP_BYTES / 1024} KiB`,
      measured: `${(m.heapBytesPerConn / 1024).toFixed(2)} KiB heap (+ ${(m.externalBytesPerConn / 1024).toFixed(2)} KiB buffers)`,
      value: m.heapBytesPerConn,
      met: m.error === undefined ? m.heapBytesPerConn < IDLE_HEAP_BYTES : null,
    });
  }
  out.push(...mqTargets(rep.mq ?? []));
  if (rep.loss !== undefined) out.push(...lossTargets(rep.loss));
  return out;
}
