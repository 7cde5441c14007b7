/**
 * Helpers for kernel tests. The runner starts every test/kernel file under
 * `unshare --net`, so this process owns a private network namespace that
 * disappears with it: devices and addresses made here cannot leak, and all
 * traffic stays inside. `assertPrivateNamespace` refuses to run otherwise.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import type { Server, Socket as NetSocket } from 'node:net';

export function assertPrivateNamespace(): void {
  const ours = readlinkSync('/proc/self/ns/net');
  const init = (() => {
    try {
      return readlinkSync('/proc/1/ns/net');
    } catch {
      return '';
    }
  })();
  if (ours === init) {
    throw new Error('kernel tests must run in a private network namespace: use `npm test` (it runs them under unshare --net)');
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
}

/** Run a command to completion without blocking the event loop (the stack runs in this process). */
export function run(cmd: string, args: string[], timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolve when `child` prints a line on stderr matching `re`, reject on exit or timeout. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}; stderr so far: ${buf}`)), timeoutMs);
    child.stderr!.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(t);
        resolve(line);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited with ${code} before ${re}; stderr: ${buf}`));
    });
  });
}

/**
 * What a CLI test starts: its children are killed and its kernel servers and
 * accepted sockets closed after the suite, even when a test failed.
 */
export function ownedByTest(after: (fn: () => void) => void): { children: ChildProcess[]; servers: Server[]; accepted: NetSocket[] } {
  const o = { children: [] as ChildProcess[], servers: [] as Server[], accepted: [] as NetSocket[] };
  after(() => {
    for (const c of o.children) c.kill('SIGKILL');
    for (const s of o.servers) s.close();
    for (const s of o.accepted) s.destroy();
  });
  return o;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

import type { StackArgs } from '../../src/cli/options.js';

/** The CLI defaults, with overrides: for starting a stack in-process with startStack(). */
export function stackArgs(o: Partial<StackArgs> = {}): StackArgs {
  return {
    tun: 'tuntcp0', addr: '10.55.0.2', peer: '10.55.0.1/24', mtu: 1500, trace: false, absolute: false,
    loss: 0, duplicate: 0, reorder: 0, delay: 0, jitter: 0, corrupt: 0, rate: 0, seed: 1, msl: 30, cc: 'cubic', explain: false, lang: 'en',
    ...o,
  };
}

/** Path of the compiled CLI entry point. */
export const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** CLI flags for a stack at 10.<net>.0.2 on TUN `tun`, its peer 10.<net>.0.1/24. */
export function stackFlags(net: number, tun: string): string[] {
  return ['--tun', tun, '--addr', `10.${net}.0.2`, '--peer', `10.${net}.0.1/24`];
}

/** The child's exit code (-1 when a signal killed it). */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((res) => child.on('exit', (code, sig) => res(code ?? (sig ? -1 : null))));
}
