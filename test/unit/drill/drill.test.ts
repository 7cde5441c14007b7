// `tuntcp drill`: the packetdrill parser, the %{ }% evaluator, and the
// runner, which must PASS every script of test/drill/ (our own scripts,
// written from the RFCs) and must FAIL or SKIP where a script says so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScript } from '../../../src/drill/parser.js';
import { PyAssertion, PyBlock } from '../../../src/drill/python.js';
import { runDrillFile } from '../../../src/drill/runner.js';
import { readCommand, type SysctlEffect } from '../../../src/drill/sysctl.js';
import { DrillSkip } from '../../../src/drill/ast.js';
import { attachRecorder, type RunRecorder } from '../../../src/trace/recorder.js';
import { ladders } from '../../../src/trace/ladder.js';
import type { Stack } from '../../../src/stack/stack.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', '..');
const scripts = join(root, 'test', 'drill');
const tmp = mkdtempSync(join(tmpdir(), 'tuntcp-drill-'));

function script(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

for (const name of readdirSync(scripts).filter((f) => f.endsWith('.pkt')).sort()) {
  test(`test/drill/${name} passes`, () => {
    const r = runDrillFile(join(scripts, name));
    assert.is(r.status, 'PASS', `${r.status} ${name}:${r.line ?? ''}: ${r.message ?? ''}`);
  });
}

test('parser: times, ranges, blocking calls, packets, options, multi-line calls', () => {
  const s = parseScript(`--tolerance_usecs=10000
// comment
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+.01...0.011 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
0.1~0.2 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1~+.2 < . 1:1001(1000) ack 1 win 257 <nop,nop,sack 1001:2001>
* > P. 1:11(10) ack 1 <...>
+0 sendmsg(4, {msg_name(...)=...,
               msg_iov(2)=[{..., 40}, {..., 60}], msg_flags=0}, 0) = 100
+0 %{ assert tcpi_snd_cwnd == 10 }%
`);
  assert.is(s.options.get('tolerance_usecs'), '10000');
  const [sock, conn, synack, data, any, msg, code] = s.events;
  assert.equal(sock!.time, { kind: 'abs', us: 0 });
  assert.equal(conn!.time, { kind: 'rel', us: 10_000 });
  assert.is(conn!.action.type === 'syscall' && conn!.action.call.endUs, 11_000);
  assert.is(conn!.action.type === 'syscall' && conn!.action.call.errno, 'EINPROGRESS');
  assert.equal(synack!.time, { kind: 'absRange', us: 100_000, endUs: 200_000 });
  assert.ok(synack!.action.type === 'packet');
  if (synack!.action.type === 'packet') {
    assert.is(synack!.action.packet.flags, 'S.');
    assert.is(synack!.action.packet.win, undefined);
    assert.equal(synack!.action.packet.options, [{ kind: 'mss', value: 1460 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOK' }, { kind: 'nop' }, { kind: 'wscale', value: 8 }]);
  }
  assert.equal(data!.time, { kind: 'relRange', us: 100_000, endUs: 200_000 });
  if (data!.action.type === 'packet') assert.equal(data!.action.packet.options?.[2], { kind: 'sack', blocks: [[1001, 2001]] });
  assert.is(any!.time.kind, 'any');
  assert.is(any!.action.type === 'packet' && any!.action.packet.options, null);
  assert.is(msg!.line, 8);
  assert.is(msg!.action.type === 'syscall' && msg!.action.call.name, 'sendmsg');
  assert.is(code!.action.type, 'code');
});

test('%{ }%: assertions, variables across blocks, formatting, unknown tcpi_ fields skip', () => {
  const printed: string[] = [];
  const py = new PyBlock((n) => (n === 'tcpi_snd_cwnd' ? 12 : undefined), (s) => printed.push(s));
  py.run('cwnd = 10; cwnd += 2\nassert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd');
  py.run("print(tcpi_snd_cwnd); assert 1 < cwnd <= 12 and not cwnd // 5 == 3, 'cwnd=%d' % cwnd");
  assert.equal(printed, ['12']);
  assert.throws(() => py.run("assert tcpi_snd_cwnd == 11, 'cwnd=%d' % tcpi_snd_cwnd"), (e: unknown) => e instanceof PyAssertion && /cwnd=12/.test((e as Error).message));
  assert.throws(() => py.run('assert tcpi_sndbuf_limited == 0'), (e: unknown) => e instanceof DrillSkip && /tcpi_sndbuf_limited/.test((e as Error).message));
});

test('sysctl lines are read, never run: known knobs map, the rest is listed as ignored', () => {
  const e: SysctlEffect = { tcp: {}, ignored: [] };
  readCommand(e, 'sysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))"\nsysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_ecn=1 net.ipv4.tcp_early_retrans=0 net.ipv4.tcp_recovery=0 net.ipv4.tcp_frto=0\n../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0\nethtool -K tun0 tso off', tmp);
  assert.equal(e.tcp, { tcpRmem: [4096, 540000, 15 * 1024 * 1024], sack: false, ecn: 'on', tlp: false, rack: false, frto: false, timestamps: false });
  assert.equal(e.ignored, ['command: ethtool -K tun0 tso off']);
  // The fq qdisc paces TCP; a FIFO does not; one that drops everything cannot be modelled.
  const q: SysctlEffect = { tcp: {}, ignored: [] };
  readCommand(q, 'tc qdisc replace dev tun0 root fq', tmp);
  assert.equal(q.tcp, { pacing: true });
  readCommand(q, 'tc qdisc delete dev tun0 root 2>/dev/null ; tc qdisc add dev tun0 root pfifo', tmp);
  assert.equal(q.tcp, { pacing: false });
  assert.throws(() => readCommand(q, 'tc qdisc replace dev tun0 root pfifo limit 0', tmp), (err: Error) => err instanceof DrillSkip && /local congestion/.test(err.message));
  // A backslash continues a command on the next line (slow_start/slow-start-after-idle.pkt).
  const c: SysctlEffect = { tcp: {}, ignored: [] };
  readCommand(c, '../common/set_sysctls.py /proc/sys/net/ipv4/tcp_frto=0 \\\n\t\t /proc/sys/net/ipv4/tcp_min_tso_segs=10', tmp);
  assert.equal(c.tcp, { frto: false, minTsoSegs: 10 });
  assert.equal(c.ignored, []);
});

test('ip route lines set advmss, mtu and initcwnd; backslash lines continue; tcp_mtu_probing=2 and the search sysctls map', () => {
  const e: SysctlEffect = { tcp: {}, ignored: [] };
  readCommand(e, '../common/set_sysctls.py \\\n\t/proc/sys/net/ipv4/tcp_mtu_probing=2 \\\n\t/proc/sys/net/ipv4/tcp_base_mss=512\nsysctl -q net.ipv4.tcp_probe_threshold=16 net.ipv4.tcp_probe_interval=30\n ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11', tmp);
  assert.equal(e.tcp, { mtuProbing: 'always', mtuSearch: { baseMss: 512, threshold: 16, interval: 30_000 }, advMss: 600, initCwnd: 11, routeMtu: 640 });
  assert.is(e.routeMtu, 640);
  assert.equal(e.ignored, []);
  readCommand(e, 'ip -6 route change 2001:DB8::1 via fd3d:fa7b:d17d:8888::0 dev tun0 advmss 1480 mtu 1520', tmp);
  assert.equal([e.tcp.advMss, e.tcp.routeMtu, e.tcp.initCwnd], [1480, 1520, 10]);
});

test('a wrong expectation FAILs at its line with the expected and the actual packet', () => {
  const p = script('wrong-ack.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 2 <...>
`);
  const r = runDrillFile(p);
  assert.is(r.status, 'FAIL');
  assert.is(r.line, 5);
  assert.match(r.message!, /expected: > S\. 0:0\(0\) ack 2 <\.\.\.> at 0\.000; actual: > S\. 0:0\(0\) ack 1 win \d+ <mss 1460.*\(ack\)/);
});

test('timing: a packet outside the tolerance FAILs; a wrong return value FAILs; unsupported calls SKIP', () => {
  const late = script('late.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000>
+.01 > S. 0:0(0) ack 1 <...>
`);
  assert.match(runDrillFile(late).message!, /outside the 4000 us tolerance/);
  const ret = script('ret.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 write(3, ..., 10) = 10
`);
  const r = runDrillFile(ret);
  assert.is(r.status, 'FAIL');
  assert.match(r.message!, /expected 10, got -1 EPIPE/);
  const skip = script('skip.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 epoll_create(1) = 4
`);
  assert.equal([runDrillFile(skip).status, runDrillFile(skip).message], ['SKIP', 'system call epoll_create() is not supported']);
});

test('IP_MTU_DISCOVER IP_PMTUDISC_DONT: DF clear and a smaller path MTU leaves the MSS; IP_TOS sets the TOS byte above ECN', () => {
  const path = script('pmtudisc.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_IP, IP_MTU_DISCOVER, [IP_PMTUDISC_DONT], 1) = 0
+0 setsockopt(3, SOL_IP, IP_TOS, [0x13], 1) = 0
+0...0.01 connect(3, ..., ...) = 0
+0 > S 0:0(0) <...>
+.01 < S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 > . 1:1(0) ack 1
+0 write(3, ..., 100) = 100
+0 > P. 1:101(100) ack 1
`);
  const out: Buffer[] = [];
  let stack: Stack | null = null;
  const r = runDrillFile(path, { onStack: (st, tap) => { stack = st; tap.observe((dir, p) => { if (dir === 'out') out.push(Buffer.from(p)); }); } });
  assert.is(r.status, 'PASS', r.message);
  assert.ok(out.length >= 3);
  for (const p of out) {
    assert.is(p[6]! & 0x40, 0, 'DF clear');
    assert.is(p[1], 0x10, 'TOS 0x13 less its ECN bits');
  }
  const ep = [...stack!.connections()][0]!;
  const mss = ep.conn.effMss;
  ep.conn.pathMtuChanged(576, 1000);
  assert.is(ep.conn.effMss, mss, 'the MSS stays');
  const skip = script('pmtuprobe.pkt', `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_IP, IP_MTU_DISCOVER, [IP_PMTUDISC_PROBE], 1) = 0
`);
  assert.match(runDrillFile(skip).message!, /IP_MTU_DISCOVER IP_PMTUDISC_PROBE is not supported/);
});

test.run();

test('--ladder: a script draws its ladder; a change by receiving sits right after the segment that caused it', () => {
  let rec: RunRecorder | null = null;
  const r = runDrillFile(join(scripts, 'close-time-wait.pkt'), { onStack: (stack, tap) => (rec = attachRecorder(stack, tap)) });
  assert.is(r.status, 'PASS');
  const lines = ladders(rec!.conversations(), { unicode: false });
  const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
  // The peer's ACK at 0.010 completes the handshake; the script's close() then sends our FIN.
  assert.ok(at(/\[\.\], ack 1, win 257/) < at(/SYN_RECEIVED -> ESTABLISHED/));
  assert.ok(at(/SYN_RECEIVED -> ESTABLISHED/) < at(/ESTABLISHED -> FIN_WAIT_1/));
  assert.ok(at(/ESTABLISHED -> FIN_WAIT_1/) < at(/\[F\.\], seq 1, ack 1/));
});
