/**
 * Bulk goodput through TUN: Linux -> tuntcp and tuntcp -> Linux, with the
 * Python peer of peer.ts on the kernel side of the device (this process's
 * private namespace) and tuntcp in this process, so process.cpuUsage() is
 * tuntcp's CPU (its own read/write system calls included, and with them the
 * kernel work they trigger: a TUN write delivers the packet into the kernel's
 * TCP in our context).
 *
 * `offload` is passed through StackArgs (IFF_VNET_HDR: checksum offload and
 * TSO/GSO, tuntcp's default); ethtool, when installed, says whether the
 * device really has TSO on, so an offload row that is not offloaded says so.
 */
import { spawnSync } from 'node:child_process';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import { stackArgs } from '../../test/kernel/lab.js';
import { ownTcpCounters } from '../../test/kernel/netem.js';
import { pump, sink } from './flow.js';
import { startPeer } from './peer.js';
import { ownCpuSeconds } from './proc.js';
import { bulkRow, failedRow, type BulkPath, type BulkRow } from './results.js';

const ADDR = '10.55.0.2';
const LINUX = '10.55.0.1';
const PORT = 5001;

/** Both directions through one stack at one MTU, with or without offload. */
export async function tuntcpRows(bytes: number, mtu: number, offload: boolean, dev: string): Promise<BulkRow[]> {
  const path: BulkPath = offload ? 'tuntcp' : 'tuntcp --no-offload';
  let r: RunningStack;
  try {
    r = startStack(stackArgs({ tun: dev, addr: ADDR, peer: `${LINUX}/24`, mtu, msl: 1, offload }));
  } catch (err) {
    const msg = `cannot start the stack: ${(err as Error).message}`;
    return [failedRow(path, 'receive', mtu, msg), failedRow(path, 'send', mtu, msg)];
  }
  try {
    const note = offload ? tsoNote(dev) : undefined;
    const rows = [await receive(r, path, bytes, mtu), await send(r, path, bytes, mtu)];
    if (note !== undefined) for (const row of rows) row.note = note;
    return rows;
  } finally {
    r.shutdown();
  }
}

/** Linux sends, tuntcp counts. */
export async function receive(r: RunningStack, path: BulkPath, bytes: number, mtu: number): Promise<BulkRow> {
  const k = sink();
  const server = r.stack.createServer(k.handler);
  server.listen(PORT);
  try {
    const rtx0 = ownTcpCounters().RetransSegs;
    const cpu0 = process.cpuUsage();
    const peer = await startPeer({ role: 'send', mode: 'connect', host: ADDR, port: PORT, bytes });
    const res = await peer.result;
    const stackCpu = ownCpuSeconds(cpu0);
    return bulkRow({
      path, direction: 'receive', mtu, expected: bytes, bytes: k.bytes, seconds: k.secs(),
      stackCpu, peerCpu: res?.cpu ?? null, retransmits: ownTcpCounters().RetransSegs - rtx0,
      error: res === null ? peer.error() : undefined,
    });
  } finally {
    server.close();
  }
}

/** tuntcp sends, Linux counts. */
export async function send(r: RunningStack, path: BulkPath, bytes: number, mtu: number): Promise<BulkRow> {
  const peer = await startPeer({ role: 'recv', mode: 'listen', host: LINUX, port: PORT + 1, bytes });
  const rtx0 = r.stack.counters.get('tcp_retransmitted_segments');
  const cpu0 = process.cpuUsage();
  const s = r.stack.connect({ port: PORT + 1, host: LINUX });
  void pump(s, bytes);
  const res = await peer.result;
  const stackCpu = ownCpuSeconds(cpu0);
  s.destroy();
  return bulkRow({
    path, direction: 'send', mtu, expected: bytes, bytes: res?.bytes ?? 0, seconds: res?.secs ?? 0,
    stackCpu, peerCpu: res?.cpu ?? null, retransmits: r.stack.counters.get('tcp_retransmitted_segments') - rtx0,
    error: res === null ? peer.error() : undefined,
  });
}

/** ethtool's view of the device's TSO, or undefined when ethtool is missing. */
function tsoNote(dev: string): string | undefined {
  const r = spawnSync('ethtool', ['-k', dev], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const on = /^tcp-segmentation-offload: on/m.test(r.stdout);
  return on ? 'TSO on' : 'TSO off on the device: offload not in effect';
}
