/**
 * slirp4netns, the userspace TCP/IP stack rootless containers use, measured
 * with the same Python peers and sizes as tuntcp.
 *
 * slirp4netns runs here (our private namespace) and gives a held namespace a
 * TAP device (tap0, 10.0.2.100). Connections from there to the gateway
 * 10.0.2.2 are terminated by slirp's TCP and re-opened as ordinary sockets
 * to 127.0.0.1 here, so host loopback must stay enabled (no
 * --disable-host-loopback). Connections go out from the slirp'd side only:
 *  - receive: the kernel peer in the held namespace connects and sends;
 *    slirp receives and forwards to a Python receiver on 127.0.0.1 here;
 *  - send: the kernel peer connects and receives; a Python sender on
 *    127.0.0.1 here feeds slirp, which sends.
 * The stack side's CPU is slirp4netns's (/proc/PID/stat) plus that of the
 * Python peer here, which slirp needs as its data source or sink.
 */
import type { ChildProcess } from 'node:child_process';
import { HeldNetns, spawnTied } from '../../test/kernel/netem.js';
import { peerTransfer } from './peer.js';
import { collect, procCpuSeconds, sleep, waitUntil } from './proc.js';
import { bulkRow, type BulkRow } from './results.js';

const GATEWAY = '10.0.2.2';
const PORT = 5201;

interface Slirp {
  ns: HeldNetns;
  child: ChildProcess;
  close(): void;
}

/** A held namespace with slirp4netns attached, configured and up. */
async function startSlirp(mtu: number): Promise<Slirp> {
  const ns = await HeldNetns.create();
  // fd 3 is the ready pipe: slirp writes "1" once tap0 is configured.
  const child = spawnTied('slirp4netns', ['--configure', `--mtu=${mtu}`, '--ready-fd=3', String(ns.pid), 'tap0'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const close = (): void => {
    child.kill('SIGKILL');
    ns.close();
  };
  try {
    const out = collect(child);
    let ready = false;
    child.stdio[3]!.on('data', () => (ready = true));
    await waitUntil(child, () => ready, 'slirp4netns', 10_000, out);
    // Settle: IPv6 DAD and the first ARP for the gateway.
    await sleep(100);
  } catch (err) {
    close();
    throw err;
  }
  return { ns, child, close };
}

/** Both directions through slirp4netns at one MTU. */
export async function slirpRows(bytes: number, mtu: number): Promise<BulkRow[]> {
  const s = await startSlirp(mtu);
  const rows: BulkRow[] = [];
  try {
    for (const direction of ['receive', 'send'] as const) {
      const rx = direction === 'receive';
      const port = rx ? PORT : PORT + 1;
      const retrans0 = s.ns.tcpCounters().RetransSegs;
      const slirp0 = procCpuSeconds(s.child.pid!);
      const p = await peerTransfer(
        { role: rx ? 'recv' : 'send', mode: 'listen', host: '127.0.0.1', port, bytes },
        { role: rx ? 'send' : 'recv', mode: 'connect', host: GATEWAY, port, bytes, ns: s.ns },
      );
      const slirpCpu = procCpuSeconds(s.child.pid!) - slirp0;
      const hostPeer = rx ? p.receiver : p.sender;
      const linuxPeer = rx ? p.sender : p.receiver;
      rows.push(bulkRow({
        path: 'slirp4netns', direction, mtu, expected: bytes, bytes: p.receiver?.bytes ?? 0, seconds: p.receiver?.secs ?? 0,
        stackCpu: hostPeer === null ? null : slirpCpu + hostPeer.cpu,
        peerCpu: linuxPeer?.cpu ?? null,
        // slirp's own retransmissions are not counted anywhere we can read.
        retransmits: rx ? s.ns.tcpCounters().RetransSegs - retrans0 : null,
        error: p.error,
      }));
    }
  } finally {
    s.close();
  }
  return rows;
}
