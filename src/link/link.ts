/**
 * A Link moves whole IP packets (IPv4 or IPv6, told apart by the version
 * nibble) between the stack and something else: a TUN
 * device, another stack in memory, or a fault injector wrapping either.
 *
 * Receive is push-based and batched: a link calls `onReceive` once per batch
 * (one poll wakeup of the TUN fd, one delivery tick of the memory link) with
 * every packet it has, so the stack can coalesce its replies per batch.
 */
import { SlabAllocator } from '../wire/slab.js';

export interface Link {
  /** Largest IPv4 packet this link carries, in bytes. */
  readonly mtu: number;
  /**
   * Checksum and segmentation offload, like a NIC's (Linux: NETIF_F_HW_CSUM,
   * NETIF_F_TSO). When true:
   * - outgoing TCP carries only the pseudo-header sum in its checksum field
   *   (the device completes it, or nothing needs it; IPv6: only TCP right
   *   behind the 40-byte fixed header, next header 6), and may be one
   *   super-segment of up to 64 KiB that the device cuts into `gsoSize`
   *   pieces where a real MTU requires it;
   * - incoming TCP may be such a super-segment too, and `trusted[i] === 1`
   *   marks packet i whose TCP checksum was vouched for (verified, or never
   *   computed because it never left this machine): the stack skips it.
   */
  readonly offload?: boolean;
  /** Set by the owner (the stack). Called with each received batch. The
   * buffers may be reused by the link after the call returns: copy what you
   * keep. `trusted` (offload links only) has an entry per packet, maybe more. */
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null;
  /**
   * Optional, for links that receive a batch into one buffer (TUN): the
   * owner sets this too, and the link then calls it instead of onReceive,
   * with packet i at pool[ranges[2i], ranges[2i + 1]) and no Buffer view made
   * per packet. The same rules hold: pool and ranges are the link's again
   * when the call returns.
   */
  onReceivePool?: ((pool: Buffer, ranges: Uint32Array, count: number, trusted?: Uint8Array) => void) | null;
  /** Send one IP packet. `payload`, if given, follows `header` on the wire
   * (written with writev by the TUN link, so the payload is never copied).
   * The caller may reuse `header` as soon as send returns, so a link that
   * keeps the packet must copy the header; `payload` is never mutated after
   * it was sent and may be kept as it is. `gsoSize` > 0 (offload links only):
   * a TCP super-segment to be cut into segments of that many payload bytes.
   * Never throws: a packet that cannot be sent is dropped and counted by the link. */
  send(header: Buffer, payload?: Buffer, gsoSize?: number): void;
  /** Stop delivering and release the device. Safe to call twice. */
  close(): void;
  /** Whether the device keeps the process alive (like socket.ref()/unref());
   * the stack calls these as its sockets come and go. Links without an event
   * loop handle of their own leave them out. */
  ref?(): void;
  unref?(): void;
}

const packets = new SlabAllocator(64 * 1024, 16 * 1024);

/** Concatenate header and optional payload: for links that must own one
 * buffer. From slabs: 0.27-0.29 µs per 1500-byte packet, against 0.46-0.58
 * for one Buffer.concat each. */
export function joinPacket(header: Buffer, payload?: Buffer): Buffer {
  const out = packets.alloc(header.length + (payload === undefined ? 0 : payload.length));
  out.set(header, 0);
  if (payload !== undefined && payload.length > 0) out.set(payload, header.length);
  return out;
}
