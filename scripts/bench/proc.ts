/**
 * Child processes of the benchmarks: started tied to our life (setpriv
 * --pdeathsig, via test/kernel/netem.ts), awaited with a time limit, their
 * output collected, their CPU time read from /proc; and the re-execution of a
 * bench script in a private network namespace of its own.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NETNS_ENV = 'TUNTCP_BENCH_NETNS';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Outside a private namespace: run this same script (node flags included,
 * e.g. --expose-gc) under `unshare --net` and exit with its status. Inside:
 * return, and the caller runs. Devices, addresses, sysctls and traffic then
 * live in a namespace that vanishes with the process.
 */
export function reexecInPrivateNetns(scriptUrl: string, name: string): void {
  if (process.env[NETNS_ENV] === '1') return;
  if (process.getuid !== undefined && process.getuid() !== 0) {
    process.stderr.write(`${name}: needs root (it creates TUN devices and network namespaces)\n`);
    process.exit(2);
  }
  const self = fileURLToPath(scriptUrl);
  const r = spawnSync('unshare', ['--net', process.execPath, ...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [NETNS_ENV]: '1' },
  });
  if (r.error !== undefined) {
    process.stderr.write(`${name}: cannot run unshare: ${r.error.message}\n`);
    process.exit(2);
  }
  process.exit(r.status ?? 1);
}

/** Resolves with the exit code; SIGKILLs the child after `limitS` seconds. */
export function exited(child: ChildProcess, limitS: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** What a child wrote so far on stdout and stderr (both must be pipes). */
export interface Output {
  stdout: string;
  stderr: string;
  /** The child exited and its pipes are drained. */
  closed: boolean;
  /** The last non-empty line of stderr, for one-line error messages. */
  lastError(): string;
}

export function collect(child: ChildProcess): Output {
  const o: Output = {
    stdout: '',
    stderr: '',
    closed: false,
    lastError: () => o.stderr.trim().split('\n').pop() ?? '',
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => (o.stdout += d));
  child.stderr?.on('data', (d: string) => (o.stderr += d));
  child.on('close', () => (o.closed = true));
  return o;
}

/**
 * Wait until `ready()` holds; throws if the child exits first (with its last
 * line on stderr) or the time runs out. Its output is read to the end
 * before an exit counts: 'exit' may come before the last lines.
 */
export async function waitUntil(child: ChildProcess, ready: () => boolean, what: string, timeoutMs: number, out: Output): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (out.closed) {
      const why = out.lastError();
      throw new Error(`${what}: exited (${child.exitCode ?? child.signalCode}) before it was ready${why ? `: ${why}` : ''}`);
    }
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

/** The last line of `text` parsed as JSON, or null. */
export function lastJson<T>(text: string): T | null {
  const line = text.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}

let clockTicks = 0;

/** User + system CPU seconds of another process so far (/proc/PID/stat utime + stime). */
export function procCpuSeconds(pid: number): number {
  if (clockTicks === 0) clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clockTicks;
}

/** User + system CPU seconds of this process since `since` (process.cpuUsage()). */
export function ownCpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** Whether `cmd` is on PATH (or an absolute path that runs). */
export function installed(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** First line of `cmd args` (a version string), or '' when it fails. */
export function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}
