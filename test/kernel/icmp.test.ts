// ICMP errors from the real kernel (issue 11): connect to an address the
// kernel side cannot route fails at once with Linux's errno; a router with a
// smaller next-hop MTU (`mtu lock 1000`) sends "fragmentation needed" and a
// 4 MB upload still finishes intact; forged errors quoting sequence numbers
// outside the window change nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { assertPrivateNamespace, stackArgs } from './lab.js';
import { sh, startRouterLab, type RouterLab } from './netem.js';
import { hashServer, sha, upload } from './echo.js';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import type { NetStack } from '../../src/socket/net-stack.js';

assertPrivateNamespace();

setTimeout(() => {
  console.error('icmp.test: file time limit (300 s) reached, exiting');
  process.exit(1);
}, 300_000).unref();

function connectError(stack: NetStack, host: string, port: number): Promise<{ code: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = stack.connect({ host, port });
    const limit = setTimeout(() => { s.destroy(); resolve({ code: 'STILL-CONNECTING', ms: performance.now() - t0 }); }, 5000);
    s.on('connect', () => { clearTimeout(limit); s.destroy(); resolve({ code: 'CONNECTED', ms: performance.now() - t0 }); });
    s.on('error', (e: Error & { code?: string }) => { clearTimeout(limit); resolve({ code: e.code ?? '?', ms: performance.now() - t0 }); });
  });
}

test('connect to addresses the kernel side cannot reach fails within a second: ENETUNREACH, EHOSTUNREACH (unreachable, prohibit)', async () => {
  // The kernel side forwards; 10.77/16 has no route (net unreachable), the others a route that refuses.
  sh('tee', ['/proc/sys/net/ipv4/ip_forward'], '1');
  sh('ip', ['route', 'add', 'unreachable', '10.78.0.0/16']);
  sh('ip', ['route', 'add', 'prohibit', '10.79.0.0/16']);
  const cases = [['10.77.0.1', 'ENETUNREACH'], ['10.78.0.1', 'EHOSTUNREACH'], ['10.79.0.1', 'EHOSTUNREACH']] as const;
  for (const [i, [host, code]] of cases.entries()) {
    // A stack of its own each: the kernel rate-limits these errors per source (ip_error: 1 s a token).
    const r: RunningStack = startStack(stackArgs({ tun: `ti${i}`, addr: `10.6${i}.0.2`, peer: `10.6${i}.0.1/24` }));
    try {
      const res = await connectError(r.stack, host, 80);
      assert.is(res.code, code, host);
      assert.ok(res.ms < 1000, `${host}: took ${res.ms} ms`);
      assert.is(r.stack.counters.get('icmp_tcp_connect_failed'), 1);
    } finally {
      r.shutdown();
    }
  }
});


/** The router's route toward Linux takes 1000-byte datagrams; with `blackHole` its ICMP errors are dropped by nftables. */
function smallNextHop(lab: RouterLab, id: number, blackHole: boolean): void {
  lab.router.run('ip', ['route', 'replace', `${lab.linuxAddr.replace(/\.1$/, '.0')}/24`, 'dev', `tl${id}r`, 'mtu', 'lock', '1000']);
  if (blackHole) {
    lab.router.run('nft', ['-f', '-'], 'table inet blackhole {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    icmp type destination-unreachable counter drop\n  }\n}\n');
  }
}

for (const [id, blackHole, limitS] of [[1, false, 60], [3, true, 60]] as const) {
  const what = blackHole ? 'ICMP dropped by nftables (a black hole): RFC 4821 probing' : 'fragmentation needed lowers the path MTU and';
  test(`router lab, next hop \`mtu lock 1000\`, ${what} a 4 MB upload finishes intact within ${limitS} s`, async () => {
    const lab: RouterLab = await startRouterLab({ id });
    const stopServer = await hashServer(lab.linuxAddr, 7100);
    try {
      smallNextHop(lab, id, blackHole);
      const data = randomBytes(4 * 1024 * 1024);
      const sock = lab.stack.connect({ host: lab.linuxAddr, port: 7100, allowHalfOpen: true });
      const t0 = performance.now();
      const got = await upload(sock, data, limitS);
      const secs = (performance.now() - t0) / 1000;
      assert.is(got, sha(data));
      const c = lab.stack.counters;
      if (blackHole) {
        assert.is(c.get('ip_pmtu_lowered'), 0);
        assert.ok(c.get('tcp_mtu_black_holes') >= 1, 'black hole seen');
        assert.match(lab.router.run('nft', ['list', 'table', 'inet', 'blackhole']), /counter packets [1-9]/);
      } else {
        assert.ok(c.get('ip_pmtu_lowered') >= 1, 'ip_pmtu_lowered');
        assert.ok(c.get('tcp_pmtu_retransmits') >= 1, 'tcp_pmtu_retransmits');
      }
      const names = ['ip_pmtu_lowered', 'tcp_rto_expired', 'tcp_mtu_black_holes', 'tcp_mtu_probes', 'tcp_mtu_probe_success'];
      console.log(`  4 MB over a 1000-byte path MTU in ${secs.toFixed(2)} s; ${names.map((k) => `${k}=${c.get(k)}`).join(' ')}`);
    } finally {
      stopServer();
      lab.close();
    }
  });
}

test('forged fragmentation-needed and port-unreachable errors quoting out-of-window sequence numbers are ignored', async () => {
  const lab: RouterLab = await startRouterLab({ id: 2 });
  const stopServer = await hashServer(lab.linuxAddr, 7100);
  try {
    const sock = lab.stack.connect({ host: lab.linuxAddr, port: 7100, allowHalfOpen: true });
    await new Promise<void>((res, rej) => { sock.once('connect', () => res()); sock.once('error', rej); });
    const conn = [...lab.stack.connections()][0]!.conn;
    const mssBefore = conn.sndMss;
    // From the router, as an attacker on the path's side who does not see the sequence numbers would.
    const py = `
import socket, struct, sys
src, dst, sport, dport, una = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in [(una - 1) & 0xffffffff, (una + 100000) & 0xffffffff, (una + 0x80000000) & 0xffffffff]:
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 1500, 0, 0x4000, 64, 6, 0, socket.inet_aton(dst), socket.inet_aton(src))
    quote = ip + struct.pack('!HHI', dport, sport, seq)
    for typ, code, rest in [(3, 4, 576), (3, 3, 0), (3, 1, 0)]:
        h = struct.pack('!BBHI', typ, code, 0, rest) + quote
        h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
        s.sendto(h, (dst, 0))
`;
    const res = await lab.router.runAsync('python3', ['-c', py, lab.linuxAddr, lab.stackAddr, String(sock.remotePort), String(sock.localPort), String(conn.sndUna)]);
    assert.is(res.code, 0, res.stderr);
    const c = lab.stack.counters;
    for (let i = 0; i < 50 && c.get('icmp_tcp_out_of_window') < 9; i++) await new Promise((r) => setTimeout(r, 20));
    assert.is(c.get('icmp_tcp_out_of_window'), 9);
    assert.is(c.get('ip_pmtu_lowered'), 0);
    assert.is(conn.sndMss, mssBefore);
    assert.is(conn.softError, null);
    // The connection works as before.
    const data = randomBytes(256 * 1024);
    assert.is(await upload(sock, data, 20), sha(data));
  } finally {
    stopServer();
    lab.close();
  }
});

test.run();
