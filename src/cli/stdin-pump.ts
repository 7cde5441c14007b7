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
 * A pipe or a socket (`cat file | tuntcp connect`) is read by the event loop
 * instead, without blocking, into buffers of our own (pumpStream); a
 * terminal goes through process.stdin.pipe().
 */
import { fstatSync, read } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

const CHUNK = 1024 * 1024;
const BUFFERS = 2;
/** A pipe gives at most its capacity per read (64 KiB unless the writer raised it). */
const STREAM_CHUNK = 256 * 1024;
const STREAM_BUFFERS = 4;

/** Copy fd 0 into `out`, then end() it; `onError` gets a read error. (Tests pass the `fd` of a file.) */
export function pumpStdin(out: Writable, onError: (err: NodeJS.ErrnoException) => void, fd = 0): void {
  const kind = kindOf(fd);
  if (kind === 'stream') return pumpStream(out, onError, fd);
  if (kind !== 'file') {
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

function kindOf(fd: number): 'file' | 'stream' | 'other' {
  try {
    const st = fstatSync(fd);
    if (st.isFile()) return 'file';
    return st.isFIFO() || st.isSocket() ? 'stream' : 'other';
  } catch {
    return 'other';
  }
}

/**
 * A pipe or socket on `fd`, read by a net.Socket with `onread`: libuv reads
 * into our buffers, where process.stdin would hand out a fresh 64 KiB
 * ArrayBuffer per read, and those, memory outside V8's heap, brought a full
 * mark-compact every 9 MB or so (23 in a 200 MiB `cat | tuntcp connect`,
 * against 1 from a file: --trace-gc). A buffer is read into again only after
 * its write callback ran, as in pumpStdin. Node asks `next` for the buffer of
 * the following read right after each `onData`, paused or not, so one free
 * buffer is always kept for it: reading pauses when that would take the last.
 */
function pumpStream(out: Writable, onError: (err: NodeJS.ErrnoException) => void, fd: number): void {
  const free: Buffer[] = Array.from({ length: STREAM_BUFFERS }, () => Buffer.allocUnsafe(STREAM_CHUNK));
  let paused = false;
  let done = false;
  const next = (): Buffer => free.pop()!;
  const onData = (n: number, buf: Uint8Array): boolean => {
    const b = buf as Buffer;
    out.write(b.subarray(0, n), (werr) => {
      free.push(b);
      if (werr) {
        // The socket is gone: its own 'error' says why.
        done = true;
        src.destroy();
        return;
      }
      if (paused && !done && out.writableLength === 0) {
        paused = false;
        src.read(0); // reads again (the 'false' below stopped the handle)
      }
    });
    // The socket holds bytes it has not taken yet, or `next` is about to get the last buffer.
    if (out.writableLength > 0 || free.length <= 1) paused = true;
    return !paused;
  };
  // `onread` is net.Socket's (Node >= 12), missing from @types/node's constructor options.
  // allowHalfOpen: EOF must not end() the handle, whose shutdown(SHUT_WR) would
  // half-close a socket that is stdout too (inetd-style fd 0 and 1).
  const opts = { fd, readable: true, writable: false, allowHalfOpen: true, onread: { buffer: next, callback: onData } };
  const src = new Socket(opts as ConstructorParameters<typeof Socket>[0]);
  src.on('end', () => {
    done = true;
    out.end();
  });
  src.on('error', (err: NodeJS.ErrnoException) => {
    if (done) return;
    done = true;
    onError(err);
  });
}
