/**
 * The CLI's own data path: `tuntcp connect HOST PORT < file` and
 * `cat file | tuntcp connect HOST PORT` into the kernel-side Python receiver
 * (peer.ts), in this process's private namespace, next to the API's send row
 * of bulk.ts (same MTU, offload on as the CLI's default).
 *
 * Goodput is the receiver's, first byte to last; the stack's CPU is what the
 * CLI reports in its --json summary (its own user + system time from the
 * connection's start to its close: node's start-up and the device's creation
 * are left out, as the API row leaves them out). For the pipe, cat's CPU is
 * not counted: it is the producer, not the stack.
 *
 * TUNTCP_CLI_NODE_FLAGS (space-separated) goes to the CLI's node, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { CLI } from '../../test/kernel/lab.js';
import { spawnTied } from '../../test/kernel/netem.js';
import { startPeer } from './peer.js';
import { collect, exited, lastJson } from './proc.js';
import { bulkRow, type BulkPath, type BulkRow } from './results.js';

const ADDR = '10.55.9.2';
const LINUX = '10.55.9.1';
const PORT = 5101;

let file: { path: string; bytes: number } | null = null;

/** A file of `bytes` random bytes, made once per run and removed at exit. */
function inputFile(bytes: number): string {
  if (file !== null && file.bytes === bytes) return file.path;
  const path = join(tmpdir(), `tuntcp-bench-cli-${process.pid}.bin`);
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let left = bytes; left > 0; left -= chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    }
  } finally {
    closeSync(fd);
  }
  if (file === null) process.on('exit', () => rmSync(path, { force: true }));
  file = { path, bytes };
  return path;
}

/** One transfer through the CLI: stdin from the file (`pipe`: through cat). */
export async function cliRow(bytes: number, mtu: number, pipe: boolean, dev: string): Promise<BulkRow> {
  const path: BulkPath = pipe ? 'cat | tuntcp connect' : 'tuntcp connect < file';
  const input = inputFile(bytes);
  // The device (and LINUX on it) appears only when the CLI starts: listen on every address.
  const peer = await startPeer({ role: 'recv', mode: 'listen', host: '0.0.0.0', port: PORT, bytes });
  const flags = (process.env.TUNTCP_CLI_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...flags, CLI, 'connect', LINUX, String(PORT), '--json', '--tun', dev, '--addr', ADDR, '--peer', `${LINUX}/24`, '--mtu', String(mtu), '--msl', '1'];
  const quoted = [process.execPath, ...args].map((a) => `'${a}'`).join(' ');
  // Through sh either way, so the two differ only in what fd 0 is.
  const child = spawnTied('sh', ['-c', pipe ? `cat '${input}' | ${quoted}` : `${quoted} < '${input}'`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = collect(child);
  const [code, res] = await Promise.all([exited(child, 120), peer.result]);
  const summary = lastJson<{ bytesWritten: number; cpuSeconds: number; exitCode: number }>(out.stderr);
  let error: string | undefined;
  if (res === null) error = peer.error();
  else if (code !== 0 || summary === null) error = `tuntcp connect exit ${code}: ${out.lastError()}`;
  return bulkRow({
    path, direction: 'send', mtu, expected: bytes, bytes: res?.bytes ?? 0, seconds: res?.secs ?? 0,
    stackCpu: summary?.cpuSeconds ?? null, peerCpu: res?.cpu ?? null, retransmits: null, error,
  });
}
