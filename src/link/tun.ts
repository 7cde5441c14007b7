/**
 * TunLink: the Link to the Linux kernel, through a TUN device and the C addon.
 *
 * Receive: the addon reads every queued packet on each poll wakeup into one
 * pooled buffer and calls us once; we hand the owner the pool and where each
 * packet lies in it (onReceivePool: no object per packet), or, to an owner
 * that only set onReceive, an array of Buffer views into the pool. The pool is
 * overwritten on the next wakeup, which the Link contract allows (the owner
 * copies what it keeps).
 *
 * Send: one writev(2) per packet, header and payload as separate pieces so the
 * payload is never copied. A full device queue (EAGAIN) drops the packet and
 * counts it: TCP retransmits, nothing blocks, nothing throws. With `txThread`
 * the writev(2)s run on a writer thread of the addon instead (tx-ring.ts).
 *
 * Offload (IFF_VNET_HDR + TUNSETOFFLOAD, opt-in): every packet both ways
 * starts with a 10-byte struct virtio_net_hdr (include/uapi/linux/virtio_net.h,
 * little-endian here). The kernel then sends us TCP of up to 64 KiB per read
 * with only the pseudo-header summed (VIRTIO_NET_HDR_F_NEEDS_CSUM), and takes
 * ours the same way: we mark TCP NEEDS_CSUM and, for a super-segment,
 * GSO_TCPV4 (GSO_TCPV6 for IPv6) with the segment size. Locally delivered, the kernel never cuts
 * or sums it at all; routed on, its GSO does, at the real MTU.
 *
 * The device itself is configured (address, MTU, up, route) by netdev.ts.
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { Link } from './link.js';
import { loadNative, type NativeTun, type TunHandle } from './native.js';
import { TxRing } from './tx-ring.js';

export interface TunOpenOptions {
  /** Interface name, at most 15 bytes; '' or 'tun%d' lets the kernel pick. */
  name: string;
  /** Largest packet the stack will send; also sizes the receive pool. */
  mtu: number;
  /** Fail with EBUSY if the name is taken (default true). false attaches to an
   * existing persistent TUN device of that name. */
  exclusive?: boolean;
  /** Most packets delivered per onReceive call (default 256). */
  maxBatch?: number;
  /** Kernel checksum and segmentation offload (see above). Default false. */
  offload?: boolean;
  /** One queue of a multi-queue device (IFF_MULTI_QUEUE, src/shard/): the
   * first open creates the device, each open of the same name with
   * exclusive false attaches one more queue. Default false. */
  multiQueue?: boolean;
  /** Write packets from a thread of the addon (native/tx-thread.c) instead
   * of the JavaScript thread: the kernel's receive path, which a TUN write
   * runs, then runs beside the stack. Default false. */
  txThread?: boolean;
}

/** Snapshot of a TunLink's counters, named as `netstat -s` prints them. */
export interface TunCounters {
  tun_rx_packets: number;
  tun_rx_batches: number;
  tun_rx_unclaimed: number;
  tun_tx_packets: number;
  tun_tx_dropped: number;
  tun_tx_errors: number;
  /** Dropped: the writer thread's ring was full (txThread only). */
  tun_tx_ring_full: number;
  /** Sends that woke the sleeping writer thread (txThread only). */
  tun_tx_wakeups: number;
}

const DEFAULT_MAX_BATCH = 256;
/** Pool size beyond one maximum read; bounds memory when the MTU is large. */
const POOL_BATCH_BYTES_MAX = 4 * 1024 * 1024;

/** struct virtio_net_hdr: flags u8, gso_type u8, hdr_len, gso_size, csum_start, csum_offset (u16 LE). */
const VNET_HDR_LEN = 10;
const VNET_F_NEEDS_CSUM = 1;
const VNET_F_DATA_VALID = 2;
const VNET_GSO_TCPV4 = 1;
const VNET_GSO_TCPV6 = 4;
/** Largest packet one read can return with offload on: an IPv6 maximum
 * (40-byte header + 65535, no jumbograms), above IPv4's 65535. */
const GSO_PACKET_MAX = 40 + 65535;

const EAGAIN = osConstants.errno.EAGAIN;
const ENOBUFS = osConstants.errno.ENOBUFS;

function errnoName(errno: number): string {
  let name = '';
  try {
    name = getSystemErrorName(-errno);
  } catch {
    // not a known errno
  }
  return /^E[A-Z0-9]+$/.test(name) ? name : `ERRNO${errno}`;
}

export class TunLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly offload: boolean;
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  onReceivePool: ((pool: Buffer, ranges: Uint32Array, count: number, trusted?: Uint8Array) => void) | null = null;
  /** Called once if the device fails after open (e.g. it was deleted); the
   * link stops receiving. Without a handler a process warning is emitted. */
  onError: ((err: Error) => void) | null = null;

  private readonly addon: NativeTun;
  private readonly handle: TunHandle;
  private readonly pool: Buffer;
  private readonly meta: Uint32Array;
  /** Per received packet: where its IPv4 packet starts and ends in the pool. */
  private readonly ranges: Uint32Array;
  /** Per received packet: 1 when the kernel vouches for its TCP checksum. */
  private readonly trusted: Uint8Array;
  /** The virtio header in front of each packet we write (offload only). */
  private readonly vnetHdr = Buffer.alloc(VNET_HDR_LEN);
  /** The writer thread's ring, with txThread. */
  private readonly tx: TxRing | null;
  private isClosed = false;
  private failure: Error | null = null;
  private nRxPackets = 0;
  private nRxBatches = 0;
  private nRxUnclaimed = 0;
  private nTxPackets = 0;
  private nTxDropped = 0;
  private nTxErrors = 0;

  private constructor(addon: NativeTun, handle: TunHandle, name: string, mtu: number, maxBatch: number, offload: boolean, txThread: boolean) {
    this.addon = addon;
    this.handle = handle;
    this.name = name;
    this.mtu = mtu;
    this.offload = offload;
    this.trusted = new Uint8Array(maxBatch);
    const slot = ((offload ? GSO_PACKET_MAX + VNET_HDR_LEN : mtu) + 7) & ~7;
    const batchBytes = Math.min(maxBatch * slot, POOL_BATCH_BYTES_MAX);
    // allocUnsafeSlow: a buffer of its own (not a slice of Node's shared pool)
    // that C can keep a pointer to for the life of the device.
    this.pool = Buffer.allocUnsafeSlow(addon.READ_MAX + batchBytes);
    this.meta = new Uint32Array(2 * maxBatch);
    this.ranges = new Uint32Array(2 * maxBatch);
    addon.start(handle, this.pool, this.meta, (count, errno) => this.deliver(count, errno));
    this.tx = txThread ? new TxRing(addon, handle) : null;
  }

  /** Open the device and start receiving. Throws an Error with `code`:
   * ENOADDON, ENOTUN, EPERM, EBUSY, EINVAL. */
  static open(opts: TunOpenOptions): TunLink {
    const mtu = opts.mtu;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw Object.assign(new Error(`mtu ${mtu} is out of range 68..65535`), { code: 'EINVAL' });
    }
    const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    const addon = loadNative();
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > addon.BATCH_MAX) {
      throw Object.assign(new Error(`maxBatch ${maxBatch} is out of range 1..${addon.BATCH_MAX}`), { code: 'EINVAL' });
    }
    const offload = opts.offload ?? false;
    const { handle, name } = addon.open(opts.name, opts.exclusive ?? true, offload, opts.multiQueue ?? false);
    try {
      return new TunLink(addon, handle, name, mtu, maxBatch, offload, opts.txThread ?? false);
    } catch (err) {
      addon.close(handle);
      throw err;
    }
  }

  get rxPackets(): number { return this.nRxPackets; }
  get rxBatches(): number { return this.nRxBatches; }
  /** Packets written (with txThread: by the thread, so far). */
  get txPackets(): number { return this.nTxPackets + (this.tx?.packets ?? 0); }
  /** Packets not written because the device queue (EAGAIN) or the writer
   * thread's ring was full, or the link was closed. */
  get txDropped(): number { return this.nTxDropped + (this.tx === null ? 0 : this.tx.again + this.tx.ringFull); }
  /** Packets the kernel refused for another reason (e.g. EINVAL: not IP). */
  get txErrors(): number { return this.nTxErrors + (this.tx?.errors ?? 0); }
  /** Whether packets are written by the addon's writer thread. */
  get txThread(): boolean { return this.tx !== null; }
  /** With txThread: packets queued for the thread, not yet written. */
  get txQueued(): number { return this.tx?.queued ?? 0; }
  get closed(): boolean { return this.isClosed; }
  /** The error that stopped receiving, if any. */
  get error(): Error | null { return this.failure; }

  counters(): TunCounters {
    return {
      tun_rx_packets: this.nRxPackets,
      tun_rx_batches: this.nRxBatches,
      tun_rx_unclaimed: this.nRxUnclaimed,
      tun_tx_packets: this.txPackets,
      tun_tx_dropped: this.txDropped,
      tun_tx_errors: this.txErrors,
      tun_tx_ring_full: this.tx?.ringFull ?? 0,
      tun_tx_wakeups: this.tx?.wakeups ?? 0,
    };
  }

  send(header: Buffer, payload?: Buffer, gsoSize = 0): void {
    if (this.isClosed) {
      this.nTxDropped++;
      return;
    }
    const body = payload !== undefined && payload.length > 0 ? payload : undefined;
    if (this.offload) this.fillVnetHdr(header, gsoSize);
    if (this.tx !== null) {
      this.tx.push(this.offload ? this.vnetHdr : undefined, header, body); // counts its own drops
      return;
    }
    let r: number;
    if (this.offload) {
      r = this.addon.writev(this.handle, this.vnetHdr, header, body);
    } else {
      r = this.addon.writev(this.handle, header, body);
    }
    if (r >= 0) this.nTxPackets++;
    else if (r === -EAGAIN || r === -ENOBUFS) this.nTxDropped++;
    else this.nTxErrors++;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.addon.close(this.handle);
  }

  /** TCP: checksum from the transport header on (the stack summed only the
   * pseudo-header), and for a super-segment the size to cut it into. IPv6
   * TCP counts only right behind the fixed header (next header 6), as the
   * stack sends it; anything else goes as it is, complete. */
  private fillVnetHdr(header: Buffer, gsoSize: number): void {
    // Byte stores, not fill() and writeUInt16LE(): this runs for every packet sent.
    const h = this.vnetHdr;
    for (let i = 0; i < VNET_HDR_LEN; i++) h[i] = 0;
    // TCP over IPv6 comes from the stack with the fixed header alone (40 bytes, next header 6).
    const v6 = header.length >= 40 && header[0]! >> 4 === 6;
    if (v6 ? header[6] !== 6 : header.length < 20 || header[9] !== 6) return; // not TCP: complete as it is
    const ihl = v6 ? 40 : (header[0]! & 0x0f) * 4;
    h[0] = VNET_F_NEEDS_CSUM;
    h[6] = ihl; // csum_start (LE; < 256)
    h[8] = 16; // csum_offset: the TCP checksum field
    if (gsoSize > 0 && header.length >= ihl + 20) {
      const hdrLen = ihl + (header[ihl + 12]! >> 4) * 4;
      h[1] = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
      h[2] = hdrLen & 0xff; // hdr_len
      h[3] = hdrLen >>> 8;
      h[4] = gsoSize & 0xff; // gso_size
      h[5] = (gsoSize >>> 8) & 0xff;
    }
  }

  /** Let the process exit while the device is open (like socket.unref()). */
  unref(): this {
    if (!this.isClosed) this.addon.setRef(this.handle, false);
    return this;
  }

  ref(): this {
    if (!this.isClosed) this.addon.setRef(this.handle, true);
    return this;
  }

  private deliver(count: number, errno: number): void {
    if (count > 0 && !this.isClosed) {
      const pool = this.pool;
      const meta = this.meta;
      // The IPv4 packets' places in the pool: behind the virtio header with offload.
      const ranges = this.ranges;
      if (this.offload) {
        const trusted = this.trusted;
        for (let i = 0; i < count; i++) {
          const off = meta[2 * i]!;
          // NEEDS_CSUM: only the pseudo-header is summed (it never left this
          // machine); DATA_VALID: the kernel checked it. Either way, trust it.
          trusted[i] = pool[off]! & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID) ? 1 : 0;
          ranges[2 * i] = off + VNET_HDR_LEN;
          ranges[2 * i + 1] = off + Math.max(meta[2 * i + 1]!, VNET_HDR_LEN);
        }
      } else {
        for (let i = 0; i < count; i++) {
          const off = meta[2 * i]!;
          ranges[2 * i] = off;
          ranges[2 * i + 1] = off + meta[2 * i + 1]!;
        }
      }
      this.nRxPackets += count;
      this.nRxBatches++;
      const trusted = this.offload ? this.trusted : undefined;
      if (this.onReceivePool !== null) {
        this.onReceivePool(pool, ranges, count, trusted);
      } else if (this.onReceive !== null) {
        const packets = new Array<Buffer>(count);
        for (let i = 0; i < count; i++) packets[i] = pool.subarray(ranges[2 * i]!, ranges[2 * i + 1]!);
        this.onReceive(packets, trusted);
      } else {
        this.nRxUnclaimed += count;
      }
    }
    if (errno !== 0 && !this.isClosed) this.fail(-errno);
  }

  private fail(errno: number): void {
    const code = errnoName(errno);
    const err = Object.assign(new Error(`tun device ${this.name} stopped: ${code} (the device was deleted or failed)`), {
      code,
      errno: -errno,
    });
    this.failure = err;
    if (this.onError !== null) this.onError(err);
    else process.emitWarning(err.message, { code: 'TUNTCP_TUN_FAILED' });
  }
}
