/**
 * stdin into a socket, fast: `tuntcp connect HOST PORT < file` should move
 * data as fast as the socket API does. process.stdin.pipe() reads a file
 * 64 KiB at a time, one read in flight, each in a fresh Buffer (measured:
 * 8.3 CPU s/GB where the API takes 4; scripts/bench/cli.ts). Here two 1 MiB
 * buffers alternate: one is read (in libuv's thread pool) while the other is
 * being written, and a buffer is read into again only after its write
 * callback ran, when the socket has taken its bytes (net.Socket's contract;
 * our Socket copies them into its send queue).
 *
 * Only for a regular file. A read of a pipe or a terminal may block for
 * ever, and Node waits for the thread pool's reads when the process exits:
 * a peer's reset would then hang `connect` (test/kernel/cli-stdin.test.ts).
 * Those go through process.stdin.pipe(), which reads them without blocking.
 */
import { fstatSync, read } from 'node:fs';
import type { Writable } from 'node:stream';

const CHUNK = 1024 * 1024;
const BUFFERS = 2;

/** Copy fd 0 into `out`, then end() it; `onError` gets a read error. (Tests pass the `fd` of a file.) */
export function pumpStdin(out: Writable, onError: (err: NodeJS.ErrnoException) => void, fd = 0): void {
  if (!isFile(fd)) {
    process.stdin.pipe(out);
    return;
  }
  const free = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafe(CHUNK));
  let reading = false;
  let done = false;
  // One read at a time keeps the order; it runs while earlier chunks are sent.
  const step = (): void => {
    if (reading || done) return;
    const buf = free.pop();
    if (buf === undefined) return; // both are with the socket: the first write callback reads on
    reading = true;
    read(fd, buf, 0, CHUNK, null, (err, n) => {
      reading = false;
      if (done) return; // the socket failed meanwhile
      if (err) {
        done = true;
        onError(err);
        return;
      }
      if (n === 0) {
        done = true;
        out.end();
        return;
      }
      out.write(buf.subarray(0, n), (werr) => {
        if (werr) done = true; // the socket is gone: its own 'error' says why
        free.push(buf);
        step();
      });
      step();
    });
  };
  step();
}

function isFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}
