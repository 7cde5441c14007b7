// ECN (RFC 3168) against the Linux kernel, in this test's own namespace
// (net.ipv4.tcp_ecn is per namespace, so the sysctls set here touch nothing
// else): a kernel client with tcp_ecn=1 negotiates ECN with `tuntcp listen`,
// and `tuntcp connect --ecn` with a kernel server at the default tcp_ecn=2.
// tcpdump -v reads the pcap the stack wrote: the handshake's flags, ECT(0) on
// data and never on pure ACKs; `ss -tei` shows the kernel socket's ecn; with
// `--ce` marks both sides echo ECE and answer with CWR.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcap as readPcapRecords, recordToIPv4 } from '../../src/trace/pcap.js';
import { TcpdumpFormatter } from '../../src/trace/tcpdump.js';
import { assertPrivateNamespace, waitForLine, run, exitOf, stackFlags, CLI } from './lab.js';

assertPrivateNamespace();
const children: ChildProcess[] = [];
test.after(() => {
  for (const c of children) c.kill('SIGKILL');
});
const dir = mkdtempSync(join(tmpdir(), 'tuntcp-ecn-'));
const hasTools = spawnSync('tcpdump', ['--version']).status === 0 && spawnSync('ss', ['-V']).status === 0;

function setEcn(v: number): void {
  writeFileSync('/proc/sys/net/ipv4/tcp_ecn', `${v}\n`); // this namespace only
}

/** One packet as `tcpdump -nn -v` shows it: the IP line's tos part and the TCP line. */
interface Pkt {
  tos: string;
  line: string;
}

/** The pcap through the real tcpdump -v: its two-line records, TCP only. */
async function readPcap(file: string): Promise<Pkt[]> {
  const r = await run('tcpdump', ['-nn', '-v', '-r', file]);
  assert.is(r.code, 0, r.stderr);
  const out: Pkt[] = [];
  const lines = r.stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const m = /^\S+ IP \(tos (0x[0-9a-f]+(?:,[A-Z0-9()]+)?),.*proto TCP/.exec(lines[i]!);
    if (m !== null) out.push({ tos: m[1]!, line: lines[i + 1]!.trim() });
  }
  return out;
}

/** `--trace` prints what tcpdump -nn prints: every line of the pcap compared. */
async function traceMatchesTcpdump(file: string): Promise<void> {
  const r = await run('tcpdump', ['-nn', '-r', file]);
  assert.is(r.code, 0, r.stderr);
  const want = r.stdout.trimEnd().split('\n').map((l) => l.slice(l.indexOf(' ') + 1));
  const f = new TcpdumpFormatter();
  const mine = readPcapRecords(readFileSync(file)).map((rec) => f.format(recordToIPv4(rec) ?? rec.data));
  assert.is(mine.length, want.length);
  // IPv4 only: the kernel's IPv6 router solicitations are another helper's part (issue 11).
  for (let i = 0; i < want.length; i++) if (want[i]!.startsWith('IP ')) assert.is(mine[i], want[i], `packet ${i + 1}`);
}

const from = (pkts: Pkt[], addr: string): Pkt[] => pkts.filter((p) => p.line.startsWith(`${addr}.`));
const hasData = (p: Pkt): boolean => /length [1-9]/.test(p.line);

if (!hasTools) {
  test.skip('ECN against the kernel (tcpdump or ss is not installed)', () => {});
} else {
  test('kernel client with tcp_ecn=1 -> tuntcp listen: ECN negotiated, ECT(0) on data, CE echoed and answered with CWR', async () => {
    setEcn(1);
    const pcap = join(dir, 'listen.pcap');
    const child = spawn(process.execPath, [CLI, 'listen', '7', '--echo', '--ce', '3', '--seed', '5', '--pcap', pcap, ...stackFlags(91, 'te0')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    await waitForLine(child, /^ready/);
    const data = randomBytes(400_000);
    const got: Buffer[] = [];
    let n = 0;
    let ssOut = '';
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '10.91.0.2', port: 7 });
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        got.push(d);
        n += d.length;
        if (n === data.length) {
          // All echoed, still open: what the kernel thinks of the connection.
          void run('ss', ['-tein', 'dst', '10.91.0.2']).then((r) => {
            ssOut = r.stdout;
            s.end();
          });
        }
      });
      s.on('close', () => resolve());
      s.write(data);
    });
    const h = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.is(h(Buffer.concat(got)), h(data), 'echo intact');
    assert.match(ssOut, /\becn\b/, `ss -tei shows ecn:\n${ssOut}`);
    child.kill('SIGINT');
    assert.is(await exitOf(child), 0);

    const pkts = await readPcap(pcap);
    const kernel = from(pkts, '10.91.0.1');
    const ours = from(pkts, '10.91.0.2');
    assert.match(kernel[0]!.line, /Flags \[SEW\]/, 'the kernel SYN asks');
    assert.is(kernel[0]!.tos, '0x0', 'SYN Not-ECT');
    assert.match(ours[0]!.line, /Flags \[S\.E\]/, 'our SYN,ACK grants');
    assert.is(ours[0]!.tos, '0x0', 'SYN,ACK Not-ECT');
    // Our new data ECT(0); pure ACKs never.
    assert.ok(ours.some((p) => hasData(p) && p.tos === '0x2,ECT(0)'), 'our data is ECT(0)');
    assert.ok(ours.every((p) => hasData(p) || p.tos === '0x0'), 'our pure ACKs are Not-ECT');
    // The kernel's data arrived marked CE (the fault link, before our tap): we echoed ECE, it answered CWR.
    assert.ok(kernel.some((p) => p.tos === '0x3,CE'), 'kernel data marked CE');
    assert.ok(ours.some((p) => /Flags \[\.E\]/.test(p.line)), 'our ACK with ECE: [.E]');
    assert.ok(kernel.some((p) => /Flags \[[^\]]*W[^\]]*\]/.test(p.line)), 'the kernel answered with CWR');
    // Our data, marked on its way out, was echoed by the kernel: we reduced and sent CWR.
    assert.ok(kernel.some((p) => /Flags \[\.E\]/.test(p.line)), 'the kernel echoed ECE');
    assert.ok(ours.some((p) => hasData(p) && /Flags \[[^\]]*W[^\]]*\]/.test(p.line)), 'our data with CWR');
    await traceMatchesTcpdump(pcap);
  });

  test('tuntcp connect --ecn -> kernel server with tcp_ecn=2 (the default): ECN negotiated; without --ecn: not asked', async () => {
    setEcn(2);
    for (const [i, ask] of [[0, true], [1, false]] as const) {
      const port = 9100 + i;
      let ssOut = '';
      const srv = createServer({ allowHalfOpen: true }, (s) => {
        s.resume();
        s.on('end', () => {
          void run('ss', ['-tein', 'sport', `= :${port}`]).then((r) => {
            ssOut = r.stdout;
            s.end('x'.repeat(50_000));
          });
        });
      });
      await new Promise<void>((res) => srv.listen(port, '0.0.0.0', res));
      const pcap = join(dir, `connect${i}.pcap`);
      const net = 92 + i;
      const child = spawn(process.execPath, [CLI, 'connect', `10.${net}.0.1`, String(port), ...(ask ? ['--ecn'] : []), '--pcap', pcap, ...stackFlags(net, `te${1 + i}`)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.push(child);
      let outBytes = 0;
      child.stdout!.on('data', (d: Buffer) => (outBytes += d.length));
      await waitForLine(child, /^connected/);
      child.stdin!.end('y'.repeat(20_000));
      assert.is(await exitOf(child), 0);
      srv.close();
      assert.is(outBytes, 50_000);
      const pkts = await readPcap(pcap);
      const ours = from(pkts, `10.${net}.0.2`);
      const kernel = from(pkts, `10.${net}.0.1`);
      if (ask) {
        assert.match(ssOut, /\becn\b/, `ss -tei shows ecn:\n${ssOut}`);
        assert.match(ours[0]!.line, /Flags \[SEW\]/, 'our SYN asks');
        assert.match(kernel[0]!.line, /Flags \[S\.E\]/, 'the kernel grants');
        assert.ok(ours.some((p) => hasData(p) && p.tos === '0x2,ECT(0)'), 'our data ECT(0)');
        assert.ok(kernel.some((p) => hasData(p) && p.tos === '0x2,ECT(0)'), 'the kernel data ECT(0)');
        assert.ok(ours.every((p) => hasData(p) || p.tos === '0x0'), 'our pure ACKs, SYN and FIN Not-ECT');
      } else {
        assert.not.match(ssOut, /\becn\b/, `no ecn:\n${ssOut}`);
        assert.match(ours[0]!.line, /Flags \[S\]/);
        assert.match(kernel[0]!.line, /Flags \[S\.\]/);
        assert.ok(pkts.every((p) => p.tos === '0x0'), 'nothing ECT');
      }
    }
  });
}

test.run();
