/**
 * A router right behind a stack's link whose next hop takes at most `mtu`
 * bytes from virtual time `at` on (issue 11's "MTU drop in mid-transfer").
 * Larger datagrams with DF are dropped and, unless the router filters ICMP
 * (a PMTU black hole), answered with "fragmentation needed" carrying the
 * next-hop MTU (RFC 1191 §4), a millisecond later.
 */
import type { Link } from '../../src/link/link.js';
import type { Clock } from '../../src/stack/clock.js';
import { joinPacket } from '../../src/link/link.js';
import { buildIcmpPacket, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED } from '../../src/wire/icmp.js';
import { bytesToIp, IPPROTO_ICMP } from '../../src/wire/ipv4.js';
import { buildIcmp6Packet, ICMP6_PACKET_TOO_BIG } from '../../src/wire/icmp6.js';

export interface PathMtuOptions {
  mtu: number;
  /** Virtual time from which the limit holds. */
  at: number;
  /** false: drop silently (ICMP filtered). */
  icmp: boolean;
  /** The router's address. */
  router?: string;
  router6?: string;
}

export class PathMtuLink implements Link {
  onReceive: ((packets: Buffer[], trusted?: Uint8Array) => void) | null = null;
  dropped = 0;
  icmpSent = 0;

  constructor(private readonly inner: Link, private readonly o: PathMtuOptions, private readonly clock: Clock) {
    inner.onReceive = (packets, trusted) => this.onReceive?.(packets, trusted);
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  send(header: Buffer, payload?: Buffer, gsoSize?: number): void {
    const len = header.length + (payload?.length ?? 0);
    if (header[0]! >> 4 === 6) return this.send6(header, len, payload, gsoSize);
    const df = (header[6]! & 0x40) !== 0;
    if (len <= this.o.mtu || !df || this.clock.now() < this.o.at) return this.inner.send(header, payload, gsoSize);
    this.dropped++;
    if (!this.o.icmp) return;
    const quote = Buffer.from(joinPacket(header, payload).subarray(0, 28));
    const icmp = buildIcmpPacket({ src: this.o.router ?? '10.0.0.254', dst: bytesToIp(header, 12), protocol: IPPROTO_ICMP, ttl: 64 }, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, this.o.mtu, quote);
    this.icmpSent++;
    this.clock.at(this.clock.now() + 1, () => this.onReceive?.([icmp]));
  }

  /** IPv6 routers never fragment (RFC 8200 §5): too big is dropped, answered with packet too big. */
  private send6(header: Buffer, len: number, payload?: Buffer, gsoSize?: number): void {
    if (len <= this.o.mtu || this.clock.now() < this.o.at) return this.inner.send(header, payload, gsoSize);
    this.dropped++;
    if (!this.o.icmp) return;
    const quote = Buffer.from(joinPacket(header, payload).subarray(0, 1232)); // RFC 4443 §2.4(c): up to 1280 bytes in all
    const icmp = buildIcmp6Packet({ src: this.o.router6 ?? 'fd00::fe', dst: header.subarray(8, 24) }, ICMP6_PACKET_TOO_BIG, 0, this.o.mtu, quote);
    this.icmpSent++;
    this.clock.at(this.clock.now() + 1, () => this.onReceive?.([icmp]));
  }

  close(): void {
    this.inner.close();
  }
}
