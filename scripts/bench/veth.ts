/**
 * The Linux reference: the same transfers between two Linux TCP stacks over
 * a veth pair, this namespace and a held one, with the same Python peers
 * and sizes as the tuntcp rows. The peer in the held namespace stands where
 * tuntcp stands: it listens and receives, or connects and sends. veth keeps
 * its default offloads (GSO/GRO), as a Linux host would.
 *
 * With iperf3 installed, iperf3 over the same veth is an extra reference
 * (its CPU figures are its own cpu_utilization_percent).
 */
import { HeldNetns, ownTcpCounters, sh, spawnTied } from '../../test/kernel/netem.js';
import { peerTransfer } from './peer.js';
import { collect, exited, waitUntil } from './proc.js';
import { bulkRow, failedRow, type BulkRow } from './results.js';

const HERE = '10.57.0.1';
const THERE = '10.57.0.2';
const PORT = 5101;

export interface VethLab {
  ns: HeldNetns;
  setMtu(mtu: number): void;
  close(): void;
}

export async function startVeth(): Promise<VethLab> {
  const ns = await HeldNetns.create();
  try {
    sh('ip', ['link', 'add', 'bv0', 'type', 'veth', 'peer', 'name', 'bv1', 'netns', String(ns.pid)]);
    sh('ip', ['addr', 'add', `${HERE}/24`, 'dev', 'bv0']);
    sh('ip', ['link', 'set', 'dev', 'bv0', 'up']);
    ns.run('ip', ['addr', 'add', `${THERE}/24`, 'dev', 'bv1']);
    ns.run('ip', ['link', 'set', 'dev', 'bv1', 'up']);
  } catch (err) {
    ns.close();
    throw err;
  }
  return {
    ns,
    setMtu: (mtu) => {
      sh('ip', ['link', 'set', 'dev', 'bv0', 'mtu', String(mtu)]);
      ns.run('ip', ['link', 'set', 'dev', 'bv1', 'mtu', String(mtu)]);
    },
    // The pair goes with the namespace.
    close: () => ns.close(),
  };
}

/** Linux -> Linux both ways at one MTU. Retransmissions from the sender's namespace. */
export async function vethRows(lab: VethLab, bytes: number, mtu: number): Promise<BulkRow[]> {
  lab.setMtu(mtu);
  const rows: BulkRow[] = [];
  for (const direction of ['receive', 'send'] as const) {
    // receive: we send to the held namespace; send: it sends to us.
    const there = direction === 'receive';
    const retrans = (): number => (there ? ownTcpCounters() : lab.ns.tcpCounters()).RetransSegs;
    const before = retrans();
    const host = there ? THERE : HERE;
    const port = there ? PORT : PORT + 1;
    const p = await peerTransfer(
      { role: 'recv', mode: 'listen', host, port, bytes, ns: there ? lab.ns : null },
      { role: 'send', mode: 'connect', host, port, bytes, ns: there ? null : lab.ns },
    );
    const stackSide = there ? p.receiver : p.sender;
    const linuxSide = there ? p.sender : p.receiver;
    rows.push(bulkRow({
      path: 'veth', direction, mtu, expected: bytes, bytes: p.receiver?.bytes ?? 0, seconds: p.receiver?.secs ?? 0,
      stackCpu: stackSide?.cpu ?? null, peerCpu: linuxSide?.cpu ?? null, retransmits: retrans() - before, error: p.error,
    }));
  }
  return rows;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bytes: number; seconds: number; bits_per_second: number };
    cpu_utilization_percent?: { host_total: number; remote_total: number };
    sum_sent?: { retransmits?: number };
  };
}

/**
 * iperf3 over the same veth: the server in the held namespace (tuntcp's
 * place), the client here; `-R` makes the server the sender.
 */
export async function iperfRows(lab: VethLab, bytes: number, mtu: number): Promise<BulkRow[]> {
  lab.setMtu(mtu);
  const rows: BulkRow[] = [];
  for (const direction of ['receive', 'send'] as const) {
    const port = String(PORT + 2);
    const server = lab.ns.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', THERE, '-p', port], { stdio: ['ignore', 'pipe', 'pipe'] });
    const so = collect(server);
    try {
      await waitUntil(server, () => so.stdout.includes('listening'), 'iperf3 server', 10_000, so);
      const client = spawnTied(
        'iperf3', ['-c', THERE, '-p', port, '-n', String(bytes), '-J', ...(direction === 'send' ? ['-R'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      const co = collect(client);
      await exited(client, 120);
      const j = iperfJson(co.stdout);
      const end = j?.end;
      const recv = end?.sum_received;
      if (j === null || recv === undefined) {
        rows.push(failedRow('veth iperf3', direction, mtu, `iperf3: ${j?.error ?? (co.lastError() || 'no result')}`));
        continue;
      }
      // host = the client here (Linux peer), remote = the server (the stack's place).
      const cpu = end!.cpu_utilization_percent;
      const toCpu = (pct: number | undefined): number | null => (pct === undefined ? null : (pct / 100) * recv.seconds);
      rows.push(bulkRow({
        path: 'veth iperf3', direction, mtu, expected: recv.bytes, bytes: recv.bytes, seconds: recv.seconds,
        stackCpu: toCpu(cpu?.remote_total), peerCpu: toCpu(cpu?.host_total), retransmits: end!.sum_sent?.retransmits ?? null,
      }));
    } finally {
      await exited(server, 5);
    }
  }
  return rows;
}

/** iperf3 -J prints one JSON document over many lines. */
function iperfJson(text: string): IperfJson | null {
  try {
    return JSON.parse(text) as IperfJson;
  } catch {
    return null;
  }
}
