/**
 * The one kernel-side bulk peer of every benchmark: a Python process (so it
 * never shares our event loop) that sends or receives a number of bytes over
 * one TCP connection, as the connecting or the listening side, and reports
 * its own view as one JSON line: bytes, seconds and its own CPU seconds
 * (time.process_time: user + system, so the kernel's TCP work done in its
 * system calls counts too).
 *
 *  - receiver: seconds from the first byte to the last byte it read (the
 *    goodput every bulk row reports is measured at the receiver);
 *  - sender: seconds from connect/accept until the receiver's FIN, which it
 *    waits for after its own, so its exit means everything arrived.
 *
 * Used by run.ts's bulk rows (TUN, veth, slirp4netns) and by loss.ts.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawnTied, type HeldNetns } from '../../test/kernel/netem.js';
import { collect, exited, lastJson, waitUntil, type Output } from './proc.js';

const PEER_PY = `
import socket, sys, time, json
role, mode, host, port, n, cc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = socket.socket()
if cc: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
if mode == 'listen':
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); print('listening', flush=True)
    srv = s; s, _ = srv.accept(); srv.close()
    c0 = time.process_time(); w0 = time.monotonic()
else:
    c0 = time.process_time(); w0 = time.monotonic()
    s.connect((host, port))
if role == 'send':
    buf = memoryview(b'x' * 262144); left = n
    while left > 0:
        left -= s.send(buf[:min(left, len(buf))])
    s.shutdown(socket.SHUT_WR); s.recv(1)
    total = n; secs = time.monotonic() - w0
else:
    buf = bytearray(1 << 20); total = 0; first = last = time.monotonic()
    while True:
        k = s.recv_into(buf)
        if not k: break
        last = time.monotonic()
        if total == 0: first = last
        total += k
    secs = last - first
s.close()
print(json.dumps({'bytes': total, 'secs': secs, 'cpu': time.process_time() - c0}), flush=True)
`;

export interface PeerSpec {
  role: 'send' | 'recv';
  mode: 'connect' | 'listen';
  /** Address to connect to, or to listen on. */
  host: string;
  port: number;
  /** Bytes to send (the receiver counts whatever comes). */
  bytes: number;
  /** Linux congestion control for this socket (TCP_CONGESTION); default: the namespace's. */
  cc?: string;
  /** Namespace to run in; this process's own when absent. */
  ns?: HeldNetns | null;
  /** Wall-clock limit in seconds before the peer is killed (default 120). */
  limitS?: number;
}

export interface PeerResult {
  bytes: number;
  secs: number;
  cpu: number;
}

export interface Peer {
  child: ChildProcess;
  /** The peer's report, or null when it failed (see error()). */
  result: Promise<PeerResult | null>;
  /** Its exit code (null: killed, e.g. at the time limit). */
  exitCode: Promise<number | null>;
  /** Why it failed: exit code and its last line on stderr. */
  error(): string;
}

/** Start a peer; a listening peer is listening when this resolves. */
export async function startPeer(p: PeerSpec): Promise<Peer> {
  const args = ['-c', PEER_PY, p.role, p.mode, p.host, String(p.port), String(p.bytes), p.cc ?? ''];
  const opts: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'] };
  const child = p.ns ? p.ns.spawn('python3', args, opts) : spawnTied('python3', args, opts);
  const out: Output = collect(child);
  const code = exited(child, p.limitS ?? 120);
  if (p.mode === 'listen') await waitUntil(child, () => out.stdout.includes('listening'), `python ${p.role} peer on ${p.host}:${p.port}`, 10_000, out);
  let exitCode: number | null = null;
  const result = code.then((c) => {
    exitCode = c;
    const r = lastJson<PeerResult>(out.stdout);
    return c === 0 && r !== null && typeof r.bytes === 'number' ? r : null;
  });
  return { child, result, exitCode: code, error: () => `python ${p.role} peer exit ${exitCode}${out.lastError() ? `: ${out.lastError()}` : ''}` };
}

export interface PairResult {
  sender: PeerResult | null;
  receiver: PeerResult | null;
  /** Empty when both reported and the receiver got every byte. */
  error: string;
}

/** One transfer between two Python peers: the listening one starts first. */
export async function peerTransfer(listener: PeerSpec, connector: PeerSpec): Promise<PairResult> {
  const l = await startPeer(listener);
  const c = await startPeer(connector);
  const [lr, cr] = await Promise.all([l.result, c.result]);
  const sender = listener.role === 'send' ? lr : cr;
  const receiver = listener.role === 'recv' ? lr : cr;
  const bytes = listener.role === 'send' ? listener.bytes : connector.bytes;
  let error = '';
  if (lr === null) error = l.error();
  else if (cr === null) error = c.error();
  else if (receiver!.bytes !== bytes) error = `receiver got ${receiver!.bytes} of ${bytes} bytes`;
  return { sender, receiver, error };
}
