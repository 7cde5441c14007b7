/**
 * stdin into a socket, fast: `tuntcp connect HOST PORT < file` should move
 * data as fast as the socket API does. process.stdin.pipe() reads 64 KiB at a
 * time and waits for 'drain' after every chunk (the stream's high-water mark
 * is 16 KiB), so the stack sat idle between small reads (measured: 8.3 CPU
 * s/GB against the API's 4; scripts/bench/cli.ts).
 *
 * Here fs.read() (libuv's thread pool, one read in flight, so bytes stay in
 * order) fills two 1 MiB buffers in turn, as the kernel's send buffer fills
 * from write(2):
 *  - while the socket takes data (no write of ours waiting for its callback),
 *    whatever a read returned is written at once: an interactive peer behind
 *    a pipe never waits for a buffer to fill;
 *  - while the socket is full, reads append to the same buffer, and what they
 *    gathered is written when the socket calls back or the buffer is full: a
 *    pipe's 64 KiB reads become 1 MiB writes.
 * A region once written is never read into again until every write of its
 * buffer has called back (net.Socket's contract: the bytes are taken when
 * the callback runs; our Socket copies them into its send queue).
 *
 * Only where fs.read() may block: a regular file or a pipe. A terminal, a
 * socket, or a descriptor found non-blocking (EAGAIN) goes through
 * process.stdin.pipe().
 */
import { fstatSync, read } from 'node:fs';
import { isatty } from 'node:tty';
import type { Writable } from 'node:stream';

const CHUNK = 1024 * 1024;

/** A buffer and the part of it already handed to the socket. */
interface Slot {
  buf: Buffer;
  /** Bytes [0, written) are with the socket; [written, filled) are read and held. */
  written: number;
  filled: number;
  /** Writes of this buffer not yet called back. */
  owed: number;
}

/** Copy fd 0 into `out`, then end() it; `onError` gets a read error. (Tests pass `fd` of a file or a pipe.) */
export function pumpStdin(out: Writable, onError: (err: NodeJS.ErrnoException) => void, fd = 0): void {
  if (isatty(fd) || !isFileOrFifo(fd)) {
    process.stdin.pipe(out);
    return;
  }
  const slots: Slot[] = [0, 1].map(() => ({ buf: Buffer.allocUnsafe(CHUNK), written: 0, filled: 0, owed: 0 }));
  let cur = slots[0]!;
  let owed = 0;
  let reading = false;
  let done = false;

  /** Hand the held bytes of `cur` to the socket. */
  const flush = (): void => {
    if (cur.filled === cur.written) return;
    const slot = cur;
    const chunk = slot.buf.subarray(slot.written, slot.filled);
    slot.written = slot.filled;
    slot.owed++;
    owed++;
    out.write(chunk, (err) => {
      slot.owed--;
      owed--;
      if (err) done = true; // the socket is gone: its own 'error' says why
      if (done) return;
      // The socket wants more: what was gathered meanwhile goes now.
      if (owed === 0) flush();
      step();
    });
  };

  const step = (): void => {
    if (reading || done) return;
    if (cur.filled === CHUNK) {
      // Full and all handed over: read on into a buffer the socket has given back.
      const free = slots.find((s) => s.owed === 0);
      if (free === undefined) return; // the next callback steps on
      free.written = free.filled = 0;
      cur = free;
    }
    const slot = cur;
    reading = true;
    read(fd, slot.buf, slot.filled, CHUNK - slot.filled, null, (err, n) => {
      reading = false;
      if (done) return;
      if (err) {
        done = true;
        flush();
        // Non-blocking after all: Node's stream takes the descriptor from here on.
        if (err.code === 'EAGAIN') process.stdin.pipe(out);
        else onError(err);
        return;
      }
      slot.filled += n;
      if (n === 0) {
        done = true;
        flush();
        out.end();
        return;
      }
      if (owed === 0 || slot.filled === CHUNK) flush();
      step();
    });
  };
  step();
}

function isFileOrFifo(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFile() || st.isFIFO();
  } catch {
    return false;
  }
}
