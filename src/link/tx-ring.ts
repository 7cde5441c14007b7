/**
 * The JavaScript half of the TUN writer thread (native/tx-thread.c): packets
 * go into a ring of descriptors in the addon, and a thread of its own does
 * the writev(2)s, so the kernel's receive path (which a TUN write runs in the
 * writer's context) no longer runs on the stack's thread.
 *
 * Who owns the bytes: the addon copies the headers (virtio + IP + TCP) into
 * the slot, since the stack reuses its header buffer at once. The payload is
 * not copied: the Link contract says a payload is never changed after send
 * (the send queue only appends to its blocks), so it is enough to keep the
 * Buffer referenced, here in `keep`, until the writer's consumer index (the
 * state's head) has passed its slot; the addon references `keep` too, so it
 * outlives the thread even if the link is collected without close().
 *
 * A full ring drops the packet and counts it (tun_tx_ring_full), as EAGAIN
 * does for a synchronous write: TCP retransmits, nothing blocks.
 */
import { joinPacket } from './link.js';
import type { NativeTun, TunHandle } from './native.js';

/** Words of the state array the writer thread updates (tx-thread.h). */
const HEAD = 0;
const PACKETS = 1;
const AGAIN = 2;
const ERRORS = 3;
const WAKEUPS = 4;
const STATE_WORDS = 5;

export type TxAddon = Pick<NativeTun, 'txStart' | 'txPush' | 'txKick' | 'TX_SLOTS' | 'TX_HDR_MAX'>;

export class TxRing {
  private readonly state = new Uint32Array(STATE_WORDS);
  /** keep[i & mask]: the payload of descriptor i, until the head passes i. */
  private readonly keep: (Buffer | undefined)[];
  private readonly mask: number;
  /** Descriptors queued (the ring's tail, mod 2^32), and released from keep. */
  private tail = 0;
  private released = 0;
  private nRingFull = 0;
  private nRefused = 0;
  /** A kick is queued for the end of this task. */
  private kickPending = false;
  private readonly kick = (): void => {
    this.kickPending = false;
    this.addon.txKick(this.handle);
  };

  constructor(
    private readonly addon: TxAddon,
    private readonly handle: TunHandle,
  ) {
    this.mask = addon.TX_SLOTS - 1;
    this.keep = new Array<Buffer | undefined>(addon.TX_SLOTS).fill(undefined);
    addon.txStart(handle, this.state, this.keep);
  }

  /** Queue one packet: `vnet` (offload's virtio header, or undefined), `header`, `body`.
   * Returns false when it was dropped (ring full, or the device is closed). */
  push(vnet: Buffer | undefined, header: Buffer, body: Buffer | undefined): boolean {
    // Atomics: the head is the writer's release store; no body is dropped before it.
    const head = Atomics.load(this.state, HEAD);
    const keep = this.keep;
    const mask = this.mask;
    // Payloads the writer is done with: let them go (nothing stays pinned past the next send).
    for (let i = this.released; i !== head; i = (i + 1) >>> 0) keep[i & mask] = undefined;
    this.released = head;
    // Our own view of fullness, from the same head: a slot is reused only after it was released above.
    if (((this.tail - head) >>> 0) >= keep.length) {
      this.nRingFull++;
      return false;
    }
    const hdrLen = (vnet === undefined ? 0 : vnet.length) + header.length;
    if (hdrLen > this.addon.TX_HDR_MAX) {
      // A complete packet built elsewhere (ICMP): its own copy, kept like a payload.
      body = joinPacket(header, body);
      header = body.subarray(0, 0);
      if (vnet !== undefined) {
        // Still one header piece: copy the virtio header alone.
        header = vnet;
        vnet = undefined;
      }
    }
    const r = this.addon.txPush(this.handle, vnet, header, body);
    if (r >= 1) {
      keep[this.tail & mask] = body;
      this.tail = (this.tail + 1) >>> 0;
      // The thread sleeps: wake it once, when this task has sent what it will
      // (a wake-up is a system call and a cross-CPU interrupt; one per packet
      // cost as much as the write itself). A microtask runs before the event
      // loop goes on: after the batch being processed, before any timer or I/O.
      if (r === 2 && !this.kickPending) {
        this.kickPending = true;
        queueMicrotask(this.kick);
      }
      return true;
    }
    if (r === 0) this.nRingFull++;
    else this.nRefused++;
    return false;
  }

  /** Packets the thread wrote. */
  get packets(): number {
    return Atomics.load(this.state, PACKETS);
  }
  /** Queued but not yet written. */
  get queued(): number {
    return (this.tail - Atomics.load(this.state, HEAD)) >>> 0;
  }
  /** Dropped because the ring was full. */
  get ringFull(): number {
    return this.nRingFull;
  }
  /** The thread's writev said EAGAIN or ENOBUFS. */
  get again(): number {
    return Atomics.load(this.state, AGAIN);
  }
  /** The thread's writev failed otherwise, or the addon refused the packet. */
  get errors(): number {
    return Atomics.load(this.state, ERRORS) + this.nRefused;
  }
  /** How often a send had to wake the sleeping thread (one system call each). */
  get wakeups(): number {
    return Atomics.load(this.state, WAKEUPS);
  }
}
