/**
 * The loss section of `npm run bench`: loss.ts on the 20 ms / 1 % path
 * (tuntcp cubic, tuntcp bbr, Linux cubic, Linux bbr side by side), cubic
 * again with every 100th packet lost (the same losses for every sender, so
 * the cubic comparison is not a draw of luck), and the recovery time after
 * one loss on the same 20 ms paths (cubic), run as a
 * child in this namespace (it inherits the private-namespace marker, so it
 * does not re-execute itself), and the targets for it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LossRow, Target } from './results.js';

const LOSS_SCRIPT = fileURLToPath(new URL('./loss.js', import.meta.url));
const BBR_MBIT = 100;
const BBR_VS_LINUX = 0.8;
const RECOVERY_VS_LINUX = 2;
/** The path suffix of loss.ts --periodic rows. */
export const PERIODIC_SUFFIX = ', every 100th lost';

/** Runs loss.ts for `mb` MiB with both congestion controls on both sides, then the single-loss rows with cubic. */
export async function lossRows(mb: number): Promise<LossRow[]> {
  return [
    ...(await lossJson(['--mb', String(mb), '--only', 'tun,linux', '--cc', 'cubic,bbr'])),
    ...(await lossJson(['--mb', String(mb), '--only', 'tun,relay', '--cc', 'cubic', '--periodic'])),
    ...(await lossJson(['--only', 'recovery', '--cc', 'cubic'])),
  ];
}

function lossJson(args: string[]): Promise<LossRow[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOSS_SCRIPT, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`loss.js exited with ${code}`);
        resolve((JSON.parse(out) as { rows: LossRow[] }).rows);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

const ok = (r: LossRow): boolean => r.error === undefined && r.mbitPerSec > 0;

/**
 * tuntcp bbr >= 100 Mbit/s and >= 0.8x Linux bbr; tuntcp cubic >= Linux
 * cubic, with random and with periodic losses (Linux over the TUN relay: the
 * same 20 ms); recovery after one loss within 2x Linux's.
 */
export function lossTargets(rows: LossRow[]): Target[] {
  const row = (path: string): LossRow | undefined => rows.find((r) => r.path === path);
  const ours = { cubic: row('tuntcp (cubic) -> Linux (TUN)'), bbr: row('tuntcp (bbr) -> Linux (TUN)') };
  const linux = { cubic: row('Linux (cubic) -> Linux (TUN relay)'), bbr: row('Linux (bbr) -> Linux (TUN relay)') };
  const out: Target[] = [];
  const mbit = (r: LossRow): string => `${r.mbitPerSec.toFixed(1)} Mbit/s`;
  const bbr = ours.bbr;
  const name = 'loss: tuntcp bbr, 20 ms / 1 %';
  if (bbr !== undefined && ok(bbr)) out.push({ name, goal: `>= ${BBR_MBIT} Mbit/s`, measured: mbit(bbr), value: bbr.mbitPerSec, met: bbr.mbitPerSec >= BBR_MBIT });
  else out.push({ name, goal: `>= ${BBR_MBIT} Mbit/s`, measured: bbr?.error ?? 'no row', value: null, met: null });
  const cubicSame = { ours: row(`tuntcp (cubic) -> Linux (TUN)${PERIODIC_SUFFIX}`), linux: row(`Linux (cubic) -> Linux (TUN relay)${PERIODIC_SUFFIX}`) };
  for (const [cc, goal, a, b, same] of [
    ['bbr', BBR_VS_LINUX, ours.bbr, linux.bbr, false],
    ['cubic', 1, ours.cubic, linux.cubic, false],
    ['cubic', 1, cubicSame.ours, cubicSame.linux, true],
  ] as const) {
    const name = `loss: tuntcp ${cc} vs Linux ${cc} (TUN relay)${same ? ', the same losses (every 100th)' : ''}`;
    if (a === undefined || b === undefined || !ok(a) || !ok(b)) {
      const why = a === undefined || !ok(a) ? (a?.error ?? 'no tuntcp row') : (b?.error ?? `no Linux ${cc} row (modprobe tcp_${cc}?)`);
      out.push({ name, goal: `>= ${goal}x`, measured: why, value: null, met: null });
      continue;
    }
    const ratio = a.mbitPerSec / b.mbitPerSec;
    out.push({ name, goal: `>= ${goal}x`, measured: `${ratio.toFixed(2)}x (${mbit(a)} / ${mbit(b)})`, value: ratio, met: ratio >= goal });
  }
  out.push(recoveryTarget(row('tuntcp (cubic) -> Linux (TUN), one loss'), row('Linux (cubic) -> Linux (TUN relay), one loss')));
  return out;
}

/** Recovery time after one loss: tuntcp cubic within 2x Linux cubic. */
function recoveryTarget(a: LossRow | undefined, b: LossRow | undefined): Target {
  const name = 'loss: recovery time after one loss vs Linux (cubic)';
  const goal = `<= ${RECOVERY_VS_LINUX}x`;
  const good = (r: LossRow | undefined): r is LossRow => r !== undefined && r.error === undefined && (r.recoveryMs ?? 0) > 0;
  if (!good(a) || !good(b)) return { name, goal, measured: (good(a) ? b : a)?.error ?? 'no row', value: null, met: null };
  const ratio = a.recoveryMs! / b.recoveryMs!;
  return { name, goal, measured: `${ratio.toFixed(2)}x (${a.recoveryMs!.toFixed(1)} ms / ${b.recoveryMs!.toFixed(1)} ms)`, value: ratio, met: ratio <= RECOVERY_VS_LINUX };
}

export function lossLines(rows: LossRow[]): string[] {
  const err = (r: LossRow): string => (r.error !== undefined ? `  ERROR ${r.error}` : '');
  // JSON turns a NaN (a failed run) into null.
  const ms = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '-');
  const bulk = rows.filter((r) => r.recoveryMs === undefined);
  const one = rows.filter((r) => r.recoveryMs !== undefined);
  const width = Math.max(36, ...bulk.map((r) => r.path.length));
  return [
    'loss: one-way bulk, 1 % random loss each way, 20 ms (wall clock; see the load average)',
    ...bulk.map((r) => `  ${r.path.padEnd(width)} ${r.mbitPerSec.toFixed(1).padStart(7)} Mbit/s  RTT ${r.rttMs.toFixed(1)} ms  retransmits ${r.retransmits}${err(r)}`),
    ...(one.length === 0 ? [] : ['  one data segment dropped mid-transfer, 20 ms: from its send to the ACK covering it (median of 3), at the sender']),
    ...one.map((r) => `  ${r.path.padEnd(44)} ${ms(r.recoveryMs).padStart(6)} ms  (retransmitted after ${ms(r.detectMs)} ms)  retransmits ${r.retransmits}${err(r)}`),
  ];
}
