// `tuntcp compare`: the kernel as the client (from its own namespace over a
// veth) and tuntcp as the client (TUN), against the same kernel server, both
// captured by a real tcpdump. runCompare runs in this test's private netns;
// the command handler runs in a child (inheriting that netns) via its module,
// since main.ts registration is separate.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { conversationsWithSs, runCompare, formatResult, type CompareResult, type SsSample } from '../../src/cli/compare.js';
import { allStates } from '../../src/trace/state-tracker.js';
import type { TcpState } from '../../src/tcp/state.js';
import { segmentKey } from '../../src/trace/compare.js';
import { assertPrivateNamespace, linkExists } from './lab.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

assertPrivateNamespace();

const flows = (r: CompareResult): [string, string] => [r.kernel.map(segmentKey).join(' '), r.tuntcp.map(segmentKey).join(' ')];

test('handshake: both clients do SYN / SYN-ACK / ACK and a FIN exchange; differences noted', async () => {
  const t0 = Date.now();
  const r = await runCompare('handshake');
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  for (const flow of flows(r)) {
    assert.ok(flow.startsWith('>S <S. >.'), flow);
    assert.ok(/>F\..*<F\..*>\.$|>F\..*<F\. >\.$/.test(flow), `no FIN exchange ending in our ACK: ${flow}`);
  }
  for (const segs of [r.kernel, r.tuntcp]) {
    assert.ok(segs.some((s) => s.dir === '>' && s.flags === 'F.'), 'client FIN');
    assert.ok(segs.some((s) => s.dir === '<' && s.flags === 'F.'), 'server FIN');
    assert.not.ok(segs.some((s) => s.flags.includes('R')), 'no RST');
  }
  const summary = r.summary.join('\n');
  // Linux and tuntcp both send mss,sackOK,TS,nop,wscale on the SYN (what is true today).
  assert.match(summary, 'SYN options: same layout in both (mss,sackOK,TS,nop,wscale)');
  // tcp_select_initial_window from this host's tcp_rmem: the same SYN window and scale (64240, 7 or 10).
  assert.match(summary, /SYN: win 64240 vs 64240, mss 1460 vs 1460, wscale (\d+) vs \1/);
  assert.match(summary, 'client receive window after the handshake: kernel');
  assert.match(summary, 'RST sent by: nobody (both runs)');
  // The two stacks advertise different windows (Linux 64240 on the SYN; tuntcp its own).
  assert.ok(r.pairs.some((p) => p.notes.some((n) => n.startsWith('win '))), 'a window difference is noted');
  const out = formatResult(r).join('\n');
  assert.match(out, 'kernel client');
  assert.match(out, '| tuntcp client');
  assert.match(out, 'Flags [S.]');
  assert.not.ok(linkExists('tcmp0'), 'the TUN device is gone');
  assert.not.ok(linkExists('tcmpk'), 'the veth is gone');
});

test('refused: both show SYN and RST,ACK from the kernel server', async () => {
  const t0 = Date.now();
  const r = await runCompare('refused');
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  const [k, t] = flows(r);
  assert.is(k, '>S <R.');
  assert.is(t, '>S <R.');
  assert.match(r.summary.join('\n'), 'RST sent by: server (both runs)');
});

test('loss: the first data segment is dropped by the server kernel and both clients send it again', async () => {
  const r = await runCompare('loss');
  for (const segs of [r.kernel, r.tuntcp]) {
    const data = segs.filter((s) => s.dir === '>' && s.flags === 'P.');
    assert.is(data.length, 2, 'the lost copy (captured before netfilter) and its retransmission');
    assert.is(data[0]!.line.match(/seq (\d+:\d+)/)?.[1], data[1]!.line.match(/seq (\d+:\d+)/)?.[1], 'the same bytes again');
    assert.ok(segs.some((s) => s.dir === '<' && s.flags === 'F.'), 'the server still closes');
  }
});

test('pictures: the kernel\'s states are read with ss in the namespace of each kernel socket, in both runs', async () => {
  let got: [Buffer, Buffer, SsSample[]] | null = null;
  const seen = async (scenario: 'http' | 'handshake'): Promise<Array<[string, boolean, TcpState, boolean]>> => {
    await runCompare(scenario, { onPcaps: (k, t, ss) => (got = [k, t, ss]) });
    assert.ok(got !== null && got[2].length > 0, 'no ss readings');
    const [k, t, ss] = got!;
    const marks = (run: string, pcap: Buffer): Array<[string, boolean, TcpState, boolean]> =>
      conversationsWithSs(pcap, run, ['client', 'server'], ss).flatMap((c) => allStates(c).map((m): [string, boolean, TcpState, boolean] => [run, m.left, m.to, m.inferred]));
    return [...marks('kernel', k), ...marks('tuntcp', t)];
  };
  // http: the server closes first, so its socket (in the lab's namespace) sits in TIME_WAIT after both runs.
  const http = await seen('http');
  for (const run of ['kernel', 'tuntcp']) assert.ok(http.some(([r, left, to, inf]) => r === run && !left && to === 'TIME_WAIT' && !inf), `${run} run: server TIME_WAIT not seen with ss`);
  assert.not.ok(http.some(([r, left, , inf]) => r === 'tuntcp' && left && !inf), 'ss cannot see tuntcp: its states stay inferred in the capture');
  // handshake: the kernel client closes first: its TIME_WAIT is in the client's namespace.
  const hs = await seen('handshake');
  assert.ok(hs.some(([r, left, to, inf]) => r === 'kernel' && left && to === 'TIME_WAIT' && !inf), 'kernel client TIME_WAIT not seen with ss');
});

test('the command: --json prints the structured comparison, exit 0; an unknown scenario is one line, exit 1', async () => {
  const mod = new URL('../../src/cli/compare.js', import.meta.url).href;
  const script = (argv: string[]): string =>
    `const y = (await import('yargs')).default; const { compareCommand } = await import(${JSON.stringify(mod)});` +
    `await y(${JSON.stringify(argv)}).command(compareCommand).strict().parseAsync();`;
  // The env guard says "already in a private namespace": the child stays in this test's.
  const env = { ...process.env, TUNTCP_COMPARE_NETNS: '1' };
  const r = await runEnv(['--input-type=module', '-e', script(['compare', 'refused', '--json'])], env);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as CompareResult;
  assert.is(j.scenario, 'refused');
  assert.equal(j.pairs.map((p) => p.kernel?.flags), ['S', 'R.']);
  const bad = await runEnv(['--input-type=module', '-e', script(['compare', 'nosuch'])], env);
  assert.is(bad.code, 1);
  assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, "unknown scenario 'nosuch'");
});

/** Run node with `args` and `env`, from the repository root (so `yargs` resolves). */
function runEnv(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

test.run();
