// pumpStdin (src/cli/stdin-pump.ts) from a file into a Writable that plays a
// socket: it holds write callbacks as a full send buffer does, and checks
// that no byte of a chunk changes while it still owns it. Every byte arrives
// in order, in 1 MiB writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pumpStdin } from '../../../src/cli/stdin-pump.js';

const dir = mkdtempSync(join(tmpdir(), 'tuntcp-pump-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Sink {
  out: Writable;
  chunks: number[];
  received(): Buffer;
  ended: Promise<void>;
  /** Chunks whose bytes changed between _write and its callback. */
  changed: number;
  /** The ArrayBuffers the chunks were views of. */
  arrays: Set<ArrayBufferLike>;
}

/** A Writable that calls back after `delay()` ms, as a socket whose send buffer is full. */
function sink(delay: () => number): Sink {
  const got: Buffer[] = [];
  let finished = (): void => undefined;
  const k: Sink = {
    chunks: [],
    changed: 0,
    arrays: new Set(),
    received: () => Buffer.concat(got),
    ended: new Promise((r) => (finished = r)),
    out: new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        const copy = Buffer.from(chunk);
        got.push(copy);
        k.chunks.push(chunk.length);
        k.arrays.add(chunk.buffer);
        const back = (): void => {
          if (!chunk.equals(copy)) k.changed++;
          cb();
        };
        const ms = delay();
        if (ms === 0) back();
        else setTimeout(back, ms);
      },
      final(cb) {
        cb();
        finished();
      },
    }),
  };
  return k;
}

function pump(fd: number, k: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    pumpStdin(k.out, reject, fd);
    void k.ended.then(resolve);
  });
}

test('a file: every byte in order, no chunk changed while the socket held it', async () => {
  const data = randomBytes(5 * 1024 * 1024 + 12345);
  const path = join(dir, 'in.bin');
  writeFileSync(path, data);
  for (const delay of [() => 0, () => Math.floor(Math.random() * 3)]) {
    const fh = await open(path, 'r');
    const k = sink(delay);
    await pump(fh.fd, k);
    await fh.close();
    assert.is(k.changed, 0);
    assert.is(sha(k.received()), sha(data));
    assert.ok(k.chunks.length <= 7, `1 MiB reads: ${k.chunks.length} writes`);
  }
});

test('a file read from its current offset, as cat would (`(head -c 1000; tuntcp connect ...) < file`)', async () => {
  const data = randomBytes(3 * 1024 * 1024);
  const path = join(dir, 'offset.bin');
  writeFileSync(path, data);
  const fh = await open(path, 'r');
  await fh.read(Buffer.alloc(1000), 0, 1000, null);
  const k = sink(() => 0);
  await pump(fh.fd, k);
  await fh.close();
  assert.is(sha(k.received()), sha(data.subarray(1000)));
});

test('a pipe (`cat file | tuntcp connect`): every byte in order, in a few buffers of our own, none changed while held', async () => {
  const data = randomBytes(5 * 1024 * 1024 + 4321);
  const path = join(dir, 'pipe.bin');
  const fifo = join(dir, 'fifo');
  writeFileSync(path, data);
  execFileSync('mkfifo', [fifo]);
  for (const delay of [() => 0, () => Math.floor(Math.random() * 3)]) {
    const cat = spawn('sh', ['-c', `cat '${path}' > '${fifo}'`], { stdio: 'ignore' });
    const catExited = new Promise((r) => cat.once('exit', r));
    // Blocks until cat has the other end. A plain fd: the pump's net.Socket owns it from here on.
    const fd = openSync(fifo, 'r');
    const k = sink(delay);
    await pump(fd, k);
    await catExited;
    assert.is(k.changed, 0);
    assert.is(sha(k.received()), sha(data));
    // process.stdin would give each read (64 KiB at most) an ArrayBuffer of its own.
    assert.ok(k.arrays.size <= 4, `${k.arrays.size} ArrayBuffers for ${k.chunks.length} reads`);
  }
});

test.run();
