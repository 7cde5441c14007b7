/**
 * Typed access to the C addon in native/tun.c (built by `npm install` through
 * node-gyp into build/Release/tuntcp_native.node).
 *
 * The addon is loaded lazily, on the first call to `loadNative()`, so code that
 * never touches a TUN device (the memory link, simulations, unit tests) works
 * without it. If it is missing the error has code 'ENOADDON' and says what to
 * run.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Opaque handle to one open TUN fd (an N-API external). */
export interface TunHandle {
  readonly __tunHandle: unique symbol;
}

/**
 * Called once per poll wakeup. `count` packets were read into the pool; packet
 * i is at pool[meta[2i] .. meta[2i] + meta[2i+1]). `errno` is 0, or a negative
 * errno when the device failed (it is no longer polled after that).
 */
export type BatchCallback = (count: number, errno: number) => void;

export interface NativeTun {
  /** Create (exclusive: fail with EBUSY if the name exists) or attach to a TUN
   * device with IFF_TUN | IFF_NO_PI, fd O_NONBLOCK | O_CLOEXEC; with `offload`,
   * also IFF_VNET_HDR and TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6. An empty name or
   * one containing '%d' lets the kernel choose; `name` is the actual one.
   * `multiQueue`: IFF_MULTI_QUEUE, the fd is one queue of the device; open the
   * name again (not exclusive) for each further queue. */
  open(name: string, exclusive: boolean, offload?: boolean, multiQueue?: boolean): { handle: TunHandle; name: string };
  /** Start reading. `pool` must hold at least READ_MAX bytes; `meta` holds
   * 2 entries per packet and its length sets the batch cap (<= BATCH_MAX). */
  start(handle: TunHandle, pool: Uint8Array, meta: Uint32Array, onBatch: BatchCallback): void;
  /** Write one packet from one to three pieces with writev(2). Returns bytes
   * written or -errno (-EAGAIN: queue full). */
  writev(handle: TunHandle, a: Uint8Array, b?: Uint8Array, c?: Uint8Array): number;
  /** Start the writer thread (native/tx-thread.c): from now on txPush queues
   * packets for it. The thread updates `state` (5 words: head, packets,
   * EAGAIN drops, errors, wake-ups); `keep` is the array that holds queued
   * payloads, referenced by the addon until the thread is joined. */
  txStart(handle: TunHandle, state: Uint32Array, keep: unknown[]): void;
  /** Queue one packet: a and b copied (TX_HDR_MAX bytes together at most), c
   * (the payload) not: keep it unchanged and referenced until the state's head
   * passes it. 1: queued; 2: queued, and the thread sleeps (call txKick
   * after the burst); 0: ring full; -errno: closed (-EBADF) or too long. */
  txPush(handle: TunHandle, a: Uint8Array | undefined, b: Uint8Array, c?: Uint8Array): number;
  /** Wake the writer thread if it sleeps. */
  txKick(handle: TunHandle): void;
  /** Stop polling and close the fd (after the writer thread wrote what was
   * queued and exited). Idempotent; no onBatch call after it. */
  close(handle: TunHandle): void;
  /** false: the open device does not keep the event loop alive. */
  setRef(handle: TunHandle, ref: boolean): void;
  /** Room one read needs: a maximum IPv6 packet (40 + 65535) plus slack. */
  readonly READ_MAX: number;
  /** Upper bound on packets delivered per wakeup. */
  readonly BATCH_MAX: number;
  /** Descriptors in the writer thread's ring (a power of two). */
  readonly TX_SLOTS: number;
  /** Header bytes a ring slot holds (txPush's a and b together). */
  readonly TX_HDR_MAX: number;
}

const ADDON_FILE = 'tuntcp_native.node';

/** The package root: the nearest directory above this file with package.json
 * (dist/src/link/ when compiled, src/link/ when run from source). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export class NativeAddonError extends Error {
  readonly code = 'ENOADDON';
  constructor(message: string) {
    super(message);
    this.name = 'NativeAddonError';
  }
}

let cached: NativeTun | null = null;

/** Load the addon once. Throws NativeAddonError (code 'ENOADDON'). */
export function loadNative(): NativeTun {
  if (cached !== null) return cached;
  const root = packageRoot();
  const candidates = [join(root, 'build', 'Release', ADDON_FILE), join(root, 'build', 'Debug', ADDON_FILE)];
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new NativeAddonError(
      `native addon ${ADDON_FILE} is not built (looked in ${join(root, 'build')}): run \`npm install\` in ${root} to compile native/tun.c`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as NativeTun;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new NativeAddonError(`cannot load native addon ${path} (${why}): run \`npm install\` to rebuild it`);
  }
  return cached;
}

/** True when the addon can be loaded (for skipping, not for control flow). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
