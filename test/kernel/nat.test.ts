// `tuntcp connect --nat` (issue #5 point 5) with no internet: this test's
// namespace ("client ns", where the CLI runs) gets a veth to a held second
// namespace ("server ns") and a default route through it, so the server ns
// plays the internet. The server is a kernel web server that answers with the
// client address it sees: with masquerading it sees 10.200.0.1, the client
// ns's address on the veth, never the stack's 10.55.0.2 behind the TUN.
//
//   client ns (this process)                          server ns (held)
//   tuntcp 10.55.0.2 --TUN tn0-- 10.55.0.1
//                                10.200.0.1 --veth-- 10.200.0.2:8080 python http.server
//   default via 10.200.0.2, forward + masquerade out of the veth
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { assertPrivateNamespace, waitForLine, CLI } from './lab.js';
import { HeldNetns, sh } from './netem.js';

assertPrivateNamespace();
const children: ChildProcess[] = [];
let server: HeldNetns | null = null;
test.after(() => {
  for (const c of children) c.kill('SIGKILL');
  server?.close();
});

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const readForward = (): string => readFileSync(IP_FORWARD, 'utf8').trim();
const ourTables = (): string[] => sh('nft', ['list', 'tables']).split('\n').filter((l) => l.includes('tuntcp_nat'));

function runCli(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

// Answers every GET with the peer address the kernel server saw.
const PY_SERVER = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("client %s:%d\\n" % self.client_address[:2]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("10.200.0.2", 8080), H)
print("ready", flush=True)
s.serve_forever()
`;

test('--nat with no default route: one-line ENONET error, exit 1, nothing left behind', async () => {
  const before = readForward();
  const r = await runCli(['connect', '10.200.0.2', '8080', '--nat', '--tun', 'tn1', '--addr', '10.57.0.2', '--peer', '10.57.0.1/24'], '');
  assert.is(r.code, 1);
  assert.is(r.stderr, 'tuntcp: connect --nat ENONET no default route\n');
  assert.equal(ourTables(), []);
  assert.is(readForward(), before);
});

test('--nat: the stack reaches a host beyond the default route, masqueraded; table and ip_forward restored on exit', async () => {
  server = await HeldNetns.create();
  sh('ip', ['link', 'add', 'nv0', 'type', 'veth', 'peer', 'name', 'nv1', 'netns', String(server.pid)]);
  sh('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'nv0']);
  sh('ip', ['link', 'set', 'nv0', 'up']);
  server.run('ip', ['addr', 'add', '10.200.0.2/24', 'dev', 'nv1']);
  server.run('ip', ['link', 'set', 'nv1', 'up']);
  sh('ip', ['route', 'add', 'default', 'via', '10.200.0.2', 'dev', 'nv0']);

  const py = server.spawn('python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(py);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`python server did not start: ${err}`)), 10_000);
    py.stderr!.on('data', (d: Buffer) => (err += d));
    py.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    py.on('exit', (code) => reject(new Error(`python server exited ${code}: ${err}`)));
  });

  const before = readForward();
  const r = await runCli(
    ['connect', '10.200.0.2', '8080', '--nat', '--tun', 'tn0', '--addr', '10.55.0.2', '--peer', '10.55.0.1/24'],
    'GET / HTTP/1.0\r\n\r\n',
  );
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/1\.0 200 OK\r\n/);
  assert.match(r.stdout, /\r\n\r\nclient 10\.200\.0\.1:\d+\n$/, 'the server saw the masqueraded address');
  assert.not.match(r.stdout, '10.55.0.2');
  assert.equal(ourTables(), [], 'the nat table is gone');
  assert.is(readForward(), before, 'ip_forward restored');
});

test('--nat: while connected the table and forwarding are in place; SIGINT removes the table and restores ip_forward', async () => {
  const before = readForward();
  assert.is(before, '0', 'a fresh namespace does not forward');
  const child = spawn(process.execPath, [CLI, 'connect', '10.200.0.2', '8080', '--nat', '--tun', 'tn2', '--addr', '10.58.0.2', '--peer', '10.58.0.1/24'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  await waitForLine(child, /^connected 10\.58\.0\.2:\d+ -> 10\.200\.0\.2:8080/);
  assert.equal(ourTables(), [`table ip tuntcp_nat_${child.pid}`]);
  assert.match(sh('nft', ['list', 'table', 'ip', `tuntcp_nat_${child.pid}`]), 'ip saddr 10.58.0.0/24 oifname "nv0" masquerade');
  assert.is(readForward(), '1');
  const exited = new Promise((res) => child.on('exit', (c) => res(c)));
  child.kill('SIGINT');
  assert.is(await exited, 130);
  assert.equal(ourTables(), []);
  assert.is(readForward(), before);
});

const IP6_ALL_FORWARD = '/proc/sys/net/ipv6/conf/all/forwarding';
const forward6 = (dev: string): string => readFileSync(`/proc/sys/net/ipv6/conf/${dev}/forwarding`, 'utf8').trim();

test('--nat with an IPv6 default route too: an ip6 table and IPv6 forwarding while connected; every forwarding switch restored on exit', async () => {
  // The veth of the test above gets IPv6 and a default route through it.
  sh('ip', ['-6', 'addr', 'add', 'fd00:200::1/64', 'dev', 'nv0', 'nodad']);
  server!.run('ip', ['-6', 'addr', 'add', 'fd00:200::2/64', 'dev', 'nv1', 'nodad']);
  sh('ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:200::2', 'dev', 'nv0']);
  // A device that forwards on its own while `all` does not: writing `all` would overwrite it.
  writeFileSync('/proc/sys/net/ipv6/conf/lo/forwarding', '1');
  assert.is(readFileSync(IP6_ALL_FORWARD, 'utf8').trim(), '0');
  const child = spawn(process.execPath, [CLI, 'connect', '10.200.0.2', '8080', '--nat', '--tun', 'tn3', '--addr', '10.59.0.2', '--peer', '10.59.0.1/24'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  await waitForLine(child, /^connected 10\.59\.0\.2:\d+ -> 10\.200\.0\.2:8080/);
  assert.equal(ourTables().sort(), [`table ip tuntcp_nat_${child.pid}`, `table ip6 tuntcp_nat_${child.pid}`]);
  assert.match(sh('nft', ['list', 'table', 'ip6', `tuntcp_nat_${child.pid}`]), 'ip6 saddr fd00:0:a3b::/64 oifname "nv0" masquerade');
  assert.is(readFileSync(IP6_ALL_FORWARD, 'utf8').trim(), '1');
  assert.is(forward6('nv0'), '1');
  const exited = new Promise((res) => child.on('exit', (c) => res(c)));
  child.kill('SIGINT');
  assert.is(await exited, 130);
  assert.equal(ourTables(), []);
  assert.is(readFileSync(IP6_ALL_FORWARD, 'utf8').trim(), '0');
  assert.is(forward6('default'), '0');
  assert.is(forward6('nv0'), '0');
  assert.is(forward6('lo'), '1', "a device's own switch survives");
  assert.is(readForward(), '0');
});

test('--nat over IPv6: the stack reaches an IPv6 host beyond the default route, masqueraded behind the host\'s address', async () => {
  const py6 = server!.spawn('python3', ['-c', PY_SERVER.replace('http.server.HTTPServer(("10.200.0.2", 8080), H)', 'S(("fd00:200::2", 8080), H)').replace('import http.server, sys', 'import http.server, socket, sys\nclass S(http.server.HTTPServer):\n    address_family = socket.AF_INET6')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(py6);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`python server did not start: ${err}`)), 10_000);
    py6.stderr!.on('data', (d: Buffer) => (err += d));
    py6.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    py6.on('exit', (code) => reject(new Error(`python server exited ${code}: ${err}`)));
  });
  const r = await runCli(['connect', 'fd00:200::2', '8080', '--nat', '--tun', 'tn4', '--addr', '10.60.0.2', '--peer', '10.60.0.1/24'], 'GET / HTTP/1.0\r\n\r\n');
  py6.kill('SIGKILL');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/1\.0 200 OK\r\n/);
  assert.match(r.stdout, /\r\n\r\nclient fd00:200::1:\d+\n$/, 'the server saw the masqueraded address');
  assert.match(r.stderr, /^connected \[fd00:0:a3c::2\]:\d+ -> \[fd00:200::2\]:8080$/m);
  assert.equal(ourTables(), []);
  assert.is(readFileSync(IP6_ALL_FORWARD, 'utf8').trim(), '0');
});

test.run();
