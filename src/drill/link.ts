/**
 * The drill's link: the stack's side of packetdrill's TUN device, in memory.
 * It offloads like a TUN device with TSO (super-segments go out whole, with
 * their segment size) and keeps every packet the stack sends, decoded, with
 * the virtual time it left at, for the runner to check against the script.
 */
import type { Link } from '../link/link.js';
import type { VirtualClock } from '../stack/clock.js';
import { decodeIPv4 } from '../wire/ipv4.js';
import { decodeTcp, readTcp, type TcpSegment } from '../wire/tcp.js';
import { decodeIPv6Header } from '../wire/ipv6.js';

export interface OutPacket {
  /** Virtual time it was sent, ms. */
  at: number;
  seg: TcpSegment;
  /** The IP header's ECN field. */
  ecn: number;
  /** Segment size of a super-segment (0: one segment). */
  gso: number;
  raw: Buffer;
}

export class DrillLink implements Link {
  readonly offload = true;
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  /** Sent and not yet matched by the script, oldest first. */
  readonly out: OutPacket[] = [];
  onSend: ((p: OutPacket) => void) | null = null;

  constructor(
    readonly mtu: number,
    private readonly clock: VirtualClock,
  ) {}

  send(header: Buffer, payload?: Buffer, gsoSize = 0): void {
    const raw = Buffer.concat(payload === undefined ? [header] : [header, payload]);
    let seg: TcpSegment | string;
    let ecn: number;
    if (raw[0]! >> 4 === 6) {
      const ip6 = decodeIPv6Header(raw);
      if (typeof ip6 === 'string' || ip6.nextHeader !== 6) return; // only TCP is scripted
      seg = readTcp(raw, 40, 40 + ip6.payloadLength, 0, 0, false, true); // with the options list
      ecn = ip6.trafficClass & 3;
    } else {
      const ip = decodeIPv4(raw, { verifyChecksum: false });
      if (typeof ip === 'string' || ip.protocol !== 6) return;
      seg = decodeTcp(ip, false);
      ecn = ip.tos & 3;
    }
    if (typeof seg === 'string') return;
    const p: OutPacket = { at: this.clock.now(), seg, ecn, gso: gsoSize, raw };
    this.out.push(p);
    this.onSend?.(p);
  }

  close(): void {}
}
