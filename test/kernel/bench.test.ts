// `npm run bench` end to end, small: every section it is asked for gives
// numbers (or, for a tool that is not installed, one skip line), and the
// JSON has the rows the table prints. Speed targets are the benchmark's
// business, never this test's: it checks only that the harness works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPrivateNamespace } from './lab.js';
import type { BenchReport } from '../../scripts/bench/results.js';

assertPrivateNamespace();

test('npm run bench --only tun,slirp,connrate,memory with small sizes: rows, targets and JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tuntcp-bench-'));
  try {
    const json = join(dir, 'bench.json');
    const args = ['--expose-gc', 'dist/scripts/bench/run.js', '--only', 'tun,slirp,connrate,memory', '--mb', '4', '--repeat', '1', '--seconds', '1', '--conns', '300', '--json', json];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 240_000 });
    assert.is(r.status, 0, `exit ${r.status}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /^targets$/m);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    const tun = rep.bulk.filter((b) => b.path === 'tuntcp' || b.path === 'tuntcp --no-offload');
    assert.is(tun.length, 8, 'tuntcp with and without offload x receive and send x MTU 1500 and 65520');
    for (const b of tun) {
      assert.is(b.error, undefined, `${b.path} ${b.direction} ${b.mtu}: ${b.error}`);
      assert.is(b.bytes, 4 * 2 ** 20);
      assert.ok(b.gbitPerSec > 0 && b.stackCpuPerGB !== null && b.stackCpuPerGB > 0);
    }
    const slirp = rep.bulk.filter((b) => b.path === 'slirp4netns');
    if (slirp.length === 0) assert.ok(rep.skipped.some((s) => /slirp4netns is not installed/.test(s)), rep.skipped.join('\n'));
    else assert.ok(slirp.every((b) => b.error === undefined && b.gbitPerSec > 0));
    assert.ok(rep.connrate !== null && rep.connrate.connections > 0 && rep.connrate.errors === 0, JSON.stringify(rep.connrate));
    assert.is(rep.memory.length, 1);
    assert.is(rep.memory[0]!.established, 300);
    assert.ok(rep.memory[0]!.heapBytesPerConn > 0);
    assert.ok(rep.targets.length >= 8);
    assert.equal(rep.warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
