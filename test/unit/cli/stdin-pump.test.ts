// pumpStdin (src/cli/stdin-pump.ts) from a file and from a pipe into a
// Writable that plays a socket: it holds write callbacks as a full send
// buffer does, and checks that no byte of a chunk changes while it still owns
// it. Every byte arrives in order; a pipe's reads are gathered into larger
// writes while the socket is full, and nothing is held back while it is not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pumpStdin } from '../../../src/cli/stdin-pump.js';

const dir = mkdtempSync(join(tmpdir(), 'tuntcp-pump-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sink {
  out: Writable;
  chunks: number[];
  received(): Buffer;
  ended: Promise<void>;
  /** Chunks whose bytes changed between _write and its callback. */
  changed: number;
  /** Release the held callbacks, and call back at once from now on. */
  open(): void;
}

/** A Writable that calls back after `delay()` ms (null: hold until open()). */
function sink(delay: () => number | null): Sink {
  const got: Buffer[] = [];
  let held: Array<() => void> = [];
  let opened = false;
  let finished = (): void => undefined;
  const k: Sink = {
    chunks: [],
    changed: 0,
    received: () => Buffer.concat(got),
    ended: new Promise((r) => (finished = r)),
    open: () => {
      opened = true;
      for (const f of held) f();
      held = [];
    },
    out: new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        const copy = Buffer.from(chunk);
        got.push(copy);
        k.chunks.push(chunk.length);
        const back = (): void => {
          if (!chunk.equals(copy)) k.changed++;
          cb();
        };
        const ms = opened ? 0 : delay();
        if (ms === null) held.push(back);
        else if (ms === 0) back();
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

/** A FIFO opened at both ends (each open waits for the other). */
async function fifo(name: string): Promise<{ r: FileHandle; w: FileHandle }> {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const [r, w] = await Promise.all([open(path, 'r'), open(path, 'w')]);
  return { r, w };
}

test('a pipe while the socket is full: reads are gathered into writes larger than the pipe holds', async () => {
  const { r, w } = await fifo('full');
  const data = randomBytes(4 * 1024 * 1024 + 777);
  const k = sink(() => 5);
  const done = pump(r.fd, k);
  for (let at = 0; at < data.length; at += 32 * 1024) await w.write(data.subarray(at, at + 32 * 1024));
  await w.close();
  await done;
  await r.close();
  assert.is(k.changed, 0);
  assert.is(sha(k.received()), sha(data));
  assert.ok(Math.max(...k.chunks) > 64 * 1024, `largest write ${Math.max(...k.chunks)}`);
});

test('a pipe: bytes read while the socket was full go out when it calls back, though the next read waits', async () => {
  const { r, w } = await fifo('held');
  // The first write's callback is held (a full send buffer), the rest come back at once.
  let first = true;
  const k = sink(() => {
    if (!first) return 0;
    first = false;
    return null;
  });
  const done = pump(r.fd, k);
  await w.write(Buffer.from('request one\n'));
  while (k.chunks.length < 1) await sleep(5);
  // Read while the socket is full: held by the pump, whose next read then blocks.
  await w.write(Buffer.from('request two\n'));
  await sleep(50);
  k.open();
  // The writer sends nothing more until the second request is through, like a
  // client waiting for its answer: the pump must not wait for more input.
  const t0 = Date.now();
  while (k.received().length < 24 && Date.now() - t0 < 2000) await sleep(5);
  assert.is(k.received().toString(), 'request one\nrequest two\n');
  await w.close();
  await done;
  await r.close();
});

test.run();
