// Kernel offloads on the TUN device (IFF_VNET_HDR, TUN_F_CSUM | TUN_F_TSO4):
// data stays intact both ways when the kernel hands us 64 KiB super-segments
// with only the pseudo-header summed and takes ours the same way, both when
// the kernel delivers locally (nothing is ever cut or summed) and when it
// routes on through a veth whose MTU makes its GSO cut our super-segments
// into 1500-byte packets and complete each checksum, with 2 % loss. The CLI
// has offload on by default and off with --no-offload or fault flags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { assertPrivateNamespace, run, stackArgs, waitForLine, CLI } from './lab.js';
import type { StackStats } from '../../src/trace/netstat.js';
import { offloadWanted } from '../../src/cli/options.js';
import { echoThrough, listenKernel, sha, type AnySocket } from './echo.js';
import { startRouterLab } from './netem.js';
import { startStack } from '../../src/cli/start-stack.js';
import type { NetStack } from '../../src/socket/net-stack.js';

assertPrivateNamespace();

const data = randomBytes(16 * 1024 * 1024);
const dataSha = sha(data);
const LIMIT_S = 90;

function stats(stack: NetStack): string {
  const c = stack.counters;
  return ['tcp_gso_in', 'tcp_gso_out', 'tcp_bad_checksum', 'tcp_retransmitted_segments'].map((k) => `${k}=${c.get(k)}`).join(' ');
}

/** Echo 16 MiB one way through `stack` and back, as client or server. */
async function echo(stack: NetStack, kernelAddr: string, stackAddr: string, tuntcpClient: boolean): Promise<number> {
  const sockets: AnySocket[] = [];
  const ks = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.pipe(s);
  });
  try {
    let sock: AnySocket;
    if (tuntcpClient) {
      await listenKernel(ks, 7007, kernelAddr);
      sock = stack.connect({ port: 7007, host: kernelAddr, allowHalfOpen: true });
    } else {
      stack.createServer({ allowHalfOpen: true }, (s) => {
        sockets.push(s);
        s.pipe(s);
      }).listen(7);
      sock = connect({ host: stackAddr, port: 7, allowHalfOpen: true });
    }
    sockets.push(sock);
    const { got, secs } = await echoThrough(sock, data, LIMIT_S, () => stats(stack));
    assert.is(sha(got), dataSha);
    return secs;
  } finally {
    for (const s of sockets) s.destroy();
    ks.close();
  }
}

test('offload, delivered locally: 16 MiB echo intact both ways, super-segments in and out', async () => {
  const r = startStack(stackArgs({ tun: 'toff0', addr: '10.57.0.2', peer: '10.57.0.1/24', offload: true }));
  try {
    const a = await echo(r.stack, '10.57.0.1', '10.57.0.2', false);
    const b = await echo(r.stack, '10.57.0.1', '10.57.0.2', true);
    const c = r.stack.counters;
    assert.ok(c.get('tcp_gso_in') > 0, stats(r.stack));
    assert.ok(c.get('tcp_gso_out') > 0, stats(r.stack));
    assert.is(c.get('tcp_bad_checksum'), 0);
    console.log(`  offload, local: Linux client ${a.toFixed(2)} s, tuntcp client ${b.toFixed(2)} s; ${stats(r.stack)}`);
  } finally {
    r.shutdown();
  }
});

test('offload, routed at MTU 1500 with 2 % loss each way: 16 MiB echo intact both ways', async () => {
  const lab = await startRouterLab({ id: 7, loss: 2, stack: { offload: true } });
  try {
    const a = await echo(lab.stack, lab.linuxAddr, lab.stackAddr, false);
    const b = await echo(lab.stack, lab.linuxAddr, lab.stackAddr, true);
    assert.ok(lab.stack.counters.get('tcp_gso_out') > 0, stats(lab.stack));
    assert.is(lab.stack.counters.get('tcp_bad_checksum'), 0);
    const d = lab.drops();
    assert.ok(d.toStack > 0 && d.toLinux > 0, JSON.stringify(d));
    console.log(`  offload, routed, 2 % loss: Linux client ${a.toFixed(2)} s, tuntcp client ${b.toFixed(2)} s; ${stats(lab.stack)}; drops ${JSON.stringify(d)}`);
  } finally {
    lab.close();
  }
});

/** `tuntcp listen 7 --echo` with `flags`, 4 MiB echoed by a kernel client: the stack's counters. */
async function cliEcho(n: number, flags: string[]): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [CLI, 'listen', '7', '--echo', '--tun', `toffc${n}`, '--addr', `10.57.${n}.2`, '--peer', `10.57.${n}.1/24`, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForLine(child, /^ready/);
    const sock = connect({ host: `10.57.${n}.2`, port: 7, allowHalfOpen: true });
    const { got } = await echoThrough(sock, data.subarray(0, 4 * 1024 * 1024), LIMIT_S, () => flags.join(' '));
    assert.is(sha(got), sha(data.subarray(0, 4 * 1024 * 1024)));
    sock.destroy();
    const r = await run(process.execPath, [CLI, 'netstat', '-s', '--json']);
    const mine = (JSON.parse(r.stdout) as { stacks: StackStats[] }).stacks.find((s) => s.pid === child.pid);
    assert.ok(mine, r.stdout);
    return mine!.counters;
  } finally {
    child.kill('SIGKILL');
  }
}

test('the CLI offloads by default; --no-offload sends one packet per segment', async () => {
  const on = await cliEcho(11, []);
  assert.ok((on.tcp_gso_out ?? 0) > 0 && (on.tcp_gso_in ?? 0) > 0, JSON.stringify(on));
  const off = await cliEcho(12, ['--no-offload']);
  assert.is(off.tcp_gso_out ?? 0, 0);
  assert.is(off.tcp_gso_in ?? 0, 0);
});

test('offload is on by default, off with fault flags or when asked', () => {
  assert.is(offloadWanted(stackArgs()), true);
  assert.is(offloadWanted(stackArgs({ loss: 1 })), false);
  assert.is(offloadWanted(stackArgs({ delay: 5 })), false);
  assert.is(offloadWanted(stackArgs({ offload: false })), false);
});

test('offload with fault injection is refused with one line', () => {
  assert.throws(() => startStack(stackArgs({ tun: 'toff1', addr: '10.57.1.2', peer: '10.57.1.1/24', offload: true, loss: 1 })), /offload cannot be combined with fault injection/);
});

test.run();
