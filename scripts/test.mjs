#!/usr/bin/env node
// Test runner: builds, then runs every compiled test file in its own Node
// process and adds up uvu's totals into one last line "N passed, N failed, N skipped".
//
// Kernel tests (test/kernel/) need root and /dev/net/tun. Each file runs under
// `unshare --net`: a private network namespace that exists only as long as the
// process, so its TUN devices and addresses vanish even if the test crashes.
// Without root or TUN they are counted as skipped with the reason, never passed.
//
// Usage: node scripts/test.mjs [filter...]   (substring match on the file path)
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, accessSync, constants } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const filters = process.argv.slice(2);

if (!process.env.TUNTCP_NO_BUILD) {
  const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) {
    console.log('build failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = ['unit', 'sim', 'kernel']
  .flatMap((level) => walk(join(root, 'dist', 'test', level)))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));

function kernelSkipReason() {
  if (process.getuid && process.getuid() !== 0) return 'needs root (run: sudo npm test)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'no /dev/net/tun';
  }
  const u = spawnSync('unshare', ['--net', 'true']);
  if (u.status !== 0) return 'cannot create a network namespace (unshare --net failed)';
  return null;
}
const kernelSkip = kernelSkipReason();

function runFile(file) {
  const rel = relative(join(root, 'dist'), file);
  const isKernel = rel.startsWith(join('test', 'kernel'));
  if (isKernel && kernelSkip) {
    console.log(`SKIP ${rel}: ${kernelSkip}`);
    return Promise.resolve({ passed: 0, failed: 0, skipped: 1 });
  }
  const cmd = isKernel ? 'unshare' : process.execPath;
  const args = isKernel ? ['--net', process.execPath, file] : [file];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => process.stderr.write(d));
    const limit = setTimeout(() => child.kill('SIGKILL'), Number(process.env.TUNTCP_TEST_TIMEOUT ?? 600) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      let failed = Math.max(0, total - passed - skipped);
      if ((code !== 0 || signal) && failed === 0) {
        console.log(`FAIL ${rel}: exited with ${signal ?? code}`);
        failed = 1;
      }
      resolve({ passed, failed, skipped });
    });
  });
}

let passed = 0, failed = 0, skipped = 0;
for (const f of files) {
  const r = await runFile(f);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
