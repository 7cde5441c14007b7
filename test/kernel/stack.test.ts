// Issue 2 proofs against the real kernel, in this process's private netns:
// ping is answered, closed ports refuse at once, malformed packets are
// survived, and the stack's pcap equals tcpdump's capture on the TUN.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPrivateNamespace, run, sleep, stackArgs, waitForLine, linkExists, CLI } from './lab.js';
import { startStack, type RunningStack } from '../../src/cli/start-stack.js';
import { readPcapIPv4 } from '../../src/trace/pcap.js';

assertPrivateNamespace();
const dir = mkdtempSync(join(tmpdir(), 'tuntcp-test-'));
let r: RunningStack | null = null;

test.after(() => {
  r?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function refusedConnect(host: string, port: number): Promise<{ code: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect({ host, port });
    s.on('connect', () => { s.destroy(); resolve({ code: 'CONNECTED', ms: performance.now() - t0 }); });
    s.on('error', (e: Error & { code?: string }) => resolve({ code: e.code ?? '?', ms: performance.now() - t0 }));
  });
}

test('ping -c 3 from the kernel side gets 3 replies', async () => {
  r = startStack(stackArgs({ tun: 'tt0', pcap: join(dir, 'stack.pcap') }));
  const p = await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.55.0.2']);
  assert.is(p.code, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /3 packets transmitted, 3 received/);
  assert.is(r.stack.counters.get('icmp_echo_replied'), 3);
});

test('a kernel connect to a closed port fails with ECONNREFUSED at once', async () => {
  const res = await refusedConnect('10.55.0.2', 9999);
  assert.is(res.code, 'ECONNREFUSED');
  assert.ok(res.ms < 1000, `took ${res.ms} ms`);
  assert.ok(r!.stack.counters.get('tcp_rst_sent') >= 1);
});

test('a burst of malformed packets written to the TUN is survived and counted', async () => {
  const before = r!.stack.counters.get('dropped');
  const inBefore = r!.stack.counters.get('ip_in');
  // AF_PACKET on the TUN device hands the bytes to our reader unrepaired.
  const py = `
import socket, random, struct, time
random.seed(7)
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind(('tt0', 0x0800))
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff
def ip(proto, payload, ihl=5, ver=4, tot=None, frag=0, good=True, opts=b''):
    tot = 20 + len(opts) + len(payload) if tot is None else tot
    h = struct.pack('!BBHHHBBH4s4s', (ver<<4)|ihl, 0, tot, 1, frag, 64, proto, 0, socket.inet_aton('10.55.0.1'), socket.inet_aton('10.55.0.2')) + opts
    c = csum(h) if good else 0x1234
    return h[:10] + struct.pack('!H', c) + h[12:] + payload
n = 0
for i in range(3000):
    k = i % 10
    if k == 0: p = bytes(random.getrandbits(8) for _ in range(random.randint(0, 80)))
    elif k == 1: p = ip(6, b'\\x00' * 20, ver=6)
    elif k == 2: p = ip(6, b'\\x00' * 20, ihl=3)
    elif k == 3: p = ip(6, b'\\x00' * 20, tot=400)
    elif k == 4: p = ip(6, b'\\x00' * 20, good=False)
    elif k == 5: p = ip(6, b'\\x00' * 20, frag=0x2000)
    elif k == 6: p = ip(6, b'\\x00' * 10)
    elif k == 7: p = ip(6, struct.pack('!HHIIBBHHH', 4000, 80, 1, 0, 0x50, 2, 1000, 0, 0) + b'xx')
    elif k == 8: p = ip(6, struct.pack('!HHIIBBHHH', 4000, 80, 1, 0, 0x70, 2, 1000, 0, 0) + b'\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00')
    else: p = ip(1, b'\\x08\\x00\\x12\\x34' + b'abcdefgh', ihl=6, opts=b'\\x01\\x01\\x01\\x00')
    try:
        s.send(p); n += 1
    except OSError:
        pass
    if i % 200 == 199: time.sleep(0.01)  # stay under the TUN queue length
print(n)
`;
  const res = await run('python3', ['-c', py]);
  assert.is(res.code, 0, res.stderr);
  const sent = Number(res.stdout.trim());
  assert.ok(sent > 2500, `sent ${sent}`);
  await sleep(300);
  const c = r!.stack.counters;
  const dropped = c.get('dropped') - before;
  const arrived = c.get('ip_in') - inBefore;
  assert.ok(arrived >= sent * 0.9, `only ${arrived} of ${sent} reached the stack`);
  // Every one of them is dropped and counted (k == 7 and k == 8 carry bad TCP checksums too), but
  // the first of the identical fragments (k == 5), held for reassembly: the others are its duplicates.
  assert.is(r!.stack.reassembly.pending, 1);
  assert.is(dropped + 1, arrived, JSON.stringify(c.snapshot()));
  for (const reason of ['ip_bad_version', 'ip_bad_header_length', 'ip_bad_total_length', 'ip_bad_checksum', 'ip_reasm_duplicate', 'tcp_truncated', 'tcp_bad_checksum', 'icmp_bad_checksum']) {
    assert.ok(c.get(reason) > 0, `counter ${reason} is ${c.get(reason)}`);
  }
  assert.is(c.get('stack_internal_error'), 0);
  const p = await run('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.55.0.2']);
  assert.is(p.code, 0, 'still answers ping');
});

test("the stack's pcap equals tcpdump's capture on the TUN", async () => {
  r!.shutdown();
  r = startStack(stackArgs({ tun: 'tt1', addr: '10.56.0.2', peer: '10.56.0.1/24', pcap: join(dir, 'stack.pcap') }));
  const capFile = join(dir, 'tcpdump.pcap');
  const dump = spawn('tcpdump', ['-i', 'tt1', '-n', '--immediate-mode', '-U', '-w', capFile]);
  await waitForLine(dump, /listening on/);
  await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.56.0.2']);
  await refusedConnect('10.56.0.2', 7);
  await refusedConnect('10.56.0.2', 8);
  await sleep(300);
  dump.kill('SIGINT');
  await new Promise((res) => dump.on('close', res));
  r.shutdown();
  r = null;
  const v4 = (b: Buffer): boolean => b.length > 0 && b[0]! >> 4 === 4;
  const ours = readPcapIPv4(readFileSync(join(dir, 'stack.pcap'))).filter(v4).map((b) => b.toString('hex'));
  const theirs = readPcapIPv4(readFileSync(capFile)).filter(v4).map((b) => b.toString('hex'));
  assert.is(ours.length, 3 * 2 + 2 * 2, 'ping 3 + 3, two SYN + RST pairs');
  assert.equal([...ours].sort(), [...theirs].sort());
});

test('tuntcp up: ready on stderr, answers ping and refuses ports, SIGINT removes the device, exit 0', async () => {
  const child = spawn(process.execPath, [CLI, 'up', '--tun', 'tt2', '--addr', '10.57.0.2', '--peer', '10.57.0.1/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await waitForLine(child, /^ready/);
  assert.match(line, /^ready/);
  assert.ok(linkExists('tt2'));
  const p = await run('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.57.0.2']);
  assert.match(p.stdout, /3 received/);
  assert.is((await refusedConnect('10.57.0.2', 80)).code, 'ECONNREFUSED');
  child.kill('SIGINT');
  const code = await new Promise((res) => child.on('exit', (c) => res(c)));
  assert.is(code, 0);
  assert.not.ok(linkExists('tt2'), 'device removed');
});

test('tuntcp up reports a taken device name in one line with a code', async () => {
  const a = spawn(process.execPath, [CLI, 'up', '--tun', 'tt3', '--addr', '10.58.0.2', '--peer', '10.58.0.1/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(a, /^ready/);
  const b = await run(process.execPath, [CLI, 'up', '--tun', 'tt3', '--addr', '10.59.0.2', '--peer', '10.59.0.1/24']);
  a.kill('SIGINT');
  await new Promise((res) => a.on('exit', res));
  assert.is(b.code, 1);
  const lines = b.stderr.trim().split('\n');
  assert.is(lines.length, 1, b.stderr);
  assert.match(lines[0]!, /^tuntcp: up .*EBUSY/);
});

test.run();
