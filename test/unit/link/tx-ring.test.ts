/**
 * TxRing, the JavaScript half of the TUN writer thread, against a fake addon
 * that plays the thread: which payloads stay referenced (a payload let go
 * while its descriptor is queued would be written from freed memory), when
 * the ring counts as full, and what goes as a copy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TxRing, type TxAddon } from '../../../src/link/tx-ring.js';
import type { TunHandle } from '../../../src/link/native.js';

const SLOTS = 8;

/** The addon's ring, with the writer thread advanced by hand. */
class FakeAddon implements TxAddon {
  readonly TX_SLOTS = SLOTS;
  readonly TX_HDR_MAX = 160;
  state!: Uint32Array;
  keep!: unknown[];
  queued: { a?: Uint8Array; b: Buffer; c?: Uint8Array }[] = [];
  tail = 0;
  txStart(_h: TunHandle, state: Uint32Array, keep: unknown[]): void {
    this.state = state;
    this.keep = keep;
  }
  /** The thread sleeps (txPush says 2) until kicked. */
  sleeping = false;
  kicks = 0;
  txPush(_h: TunHandle, a: Uint8Array | undefined, b: Uint8Array, c?: Uint8Array): number {
    if (this.tail - this.state[0]! >= SLOTS) return 0;
    this.queued.push({ a, b: Buffer.from(b), c });
    this.tail++;
    return this.sleeping ? 2 : 1;
  }
  txKick(): void {
    this.kicks++;
    this.sleeping = false;
  }
  /** The thread writes n descriptors. */
  write(n: number): void {
    this.state[0] += n;
    this.state[1] += n;
  }
}

function rig(): { addon: FakeAddon; ring: TxRing } {
  const addon = new FakeAddon();
  return { addon, ring: new TxRing(addon, {} as TunHandle) };
}

const header = Buffer.alloc(40, 0x45);

test('a payload stays referenced until the writer has passed its descriptor, then is let go', () => {
  const { addon, ring } = rig();
  const p = [0, 1, 2].map((i) => Buffer.alloc(100, i));
  for (const x of p) assert.ok(ring.push(undefined, header, x));
  assert.equal(addon.keep.slice(0, 3), p);
  assert.is(ring.queued, 3);
  addon.write(2);
  assert.is(ring.packets, 2);
  assert.is(ring.queued, 1);
  ring.push(undefined, header, undefined); // the next send lets the written ones go
  assert.equal(addon.keep.slice(0, 4), [undefined, undefined, p[2], undefined]);
});

test('full by its own view of the head: dropped and counted, no slot reused while queued', () => {
  const { addon, ring } = rig();
  const p = Array.from({ length: SLOTS + 1 }, (_, i) => Buffer.alloc(10, i));
  for (let i = 0; i < SLOTS; i++) assert.ok(ring.push(undefined, header, p[i]));
  assert.not.ok(ring.push(undefined, header, p[SLOTS]));
  assert.is(ring.ringFull, 1);
  assert.is(addon.queued.length, SLOTS, 'the addon was not asked');
  assert.equal(addon.keep, p.slice(0, SLOTS));
  addon.write(1);
  assert.ok(ring.push(undefined, header, p[SLOTS]));
  assert.is(addon.keep[0], p[SLOTS], 'slot 0 reused only once descriptor 0 was written');
  assert.equal(addon.keep.slice(1), p.slice(1, SLOTS));
  addon.write(SLOTS);
  assert.is(ring.queued, 0);
});

test('a first piece longer than a slot holds goes as a copy, kept like a payload', () => {
  const { addon, ring } = rig();
  const whole = Buffer.alloc(600, 7);
  assert.ok(ring.push(undefined, whole, undefined));
  const q = addon.queued[0]!;
  assert.is(q.b.length, 0);
  assert.equal(q.c, Buffer.alloc(600, 7));
  whole.fill(0); // the caller reuses it
  assert.equal(q.c, Buffer.alloc(600, 7));
  assert.is(addon.keep[0], q.c);
  // With offload's virtio header: that goes as the one header piece.
  const vnet = Buffer.alloc(10, 1);
  assert.ok(ring.push(vnet, Buffer.alloc(200, 2), Buffer.alloc(5, 3)));
  const v = addon.queued[1]!;
  assert.is(v.a, undefined);
  assert.equal(v.b, vnet);
  assert.equal(v.c, Buffer.concat([Buffer.alloc(200, 2), Buffer.alloc(5, 3)]));
});

test('refused by the addon (closed): an error, not a queued packet', () => {
  const { addon, ring } = rig();
  addon.txPush = () => -9; // -EBADF
  assert.not.ok(ring.push(undefined, header, Buffer.alloc(1)));
  assert.is(ring.errors, 1);
  assert.is(ring.queued, 0);
  assert.equal(addon.keep.slice(0, 1), [undefined]);
});

test('a sleeping thread is kicked once per task, after the burst', async () => {
  const { addon, ring } = rig();
  addon.sleeping = true;
  for (let i = 0; i < 5; i++) ring.push(undefined, header, undefined);
  assert.is(addon.kicks, 0, 'not in the middle of the burst');
  await Promise.resolve();
  assert.is(addon.kicks, 1);
  ring.push(undefined, header, undefined); // awake now: no kick
  await Promise.resolve();
  assert.is(addon.kicks, 1);
  addon.write(6);
  addon.sleeping = true;
  ring.push(undefined, header, undefined);
  await Promise.resolve();
  assert.is(addon.kicks, 2);
});

test.run();
