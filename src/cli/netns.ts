/**
 * An anonymous network namespace held open by a `sleep` child that gets
 * SIGKILL when this process dies (`setpriv --pdeathsig KILL unshare --net`),
 * so it can never outlive us. Commands run in it through `nsenter -t PID -n`.
 * Used by `tuntcp compare` and the kernel tests' labs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';

export interface HeldNamespace {
  readonly pid: number;
  readonly child: ChildProcess;
  close(): void;
}

export async function holdNetns(): Promise<HeldNamespace> {
  const ours = readlinkSync('/proc/self/ns/net');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--net', 'sleep', 'infinity'], { stdio: 'ignore' });
  child.unref();
  const pid = child.pid;
  const close = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  if (pid === undefined) throw new Error('could not start the namespace holder (setpriv/unshare from util-linux)');
  const end = Date.now() + 5000;
  for (;;) {
    let theirs = ours;
    try {
      theirs = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      // not there yet, or it died
    }
    if (theirs !== ours) break;
    if (child.exitCode !== null || Date.now() > end) {
      close();
      throw new Error(`namespace holder did not unshare (exit ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { pid, child, close };
}
