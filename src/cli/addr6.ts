/**
 * The IPv6 half of the CLI's address plan: --addr6, --peer6, --no-ipv6, and
 * the defaults derived from the IPv4 flags.
 *
 * The default rule: the unique-local (RFC 4193, fd00::/8) /64
 * fd00:0:HHHH:HHHH::/64 whose 32 bits HHHH:HHHH are --peer's IPv4 network,
 * --peer6 = that prefix + the host bits of --peer's address, --addr6 = that
 * prefix + the host bits of --addr:
 *
 *   --peer 10.55.0.1/24 --addr 10.55.0.2  ->  --peer6 fd00:0:a37::1/64 --addr6 fd00:0:a37::2
 *
 * When the host bits say nothing (--addr outside --peer's subnet, a /32, host
 * bits 0 or equal) the low 32 bits are the whole IPv4 addresses instead
 * (--peer 10.55.0.1/32 --addr 10.66.0.2 -> fd00:0:a37:1::a37:1/64, fd00:0:a37:1::a42:2).
 * Two stacks in one namespace already need different IPv4 --peer networks
 * (the kernel routes each network through one device), so their derived
 * IPv6 prefixes differ too.
 *
 * Only --peer6: --addr6 is the derived one's host bits in --peer6's prefix.
 * Only --addr6: --peer6 is the derived default.
 */
import { ip6ToBytes, ip6ToString } from '../wire/ipv6.js';

export interface IPv6Plan {
  /** The stack's address, e.g. 'fd00:0:a37::2'. */
  addr6: string;
  /** The kernel's address on the TUN with its prefix, e.g. 'fd00:0:a37::1/64'. */
  peer6: string;
}

export interface IPv6Flags {
  addr: string;
  peer: string;
  addr6?: string;
  peer6?: string;
  /** false: --no-ipv6. Absent: on. */
  ipv6?: boolean;
}

/** The IPv6 addresses for these flags, null when IPv6 is off, or an error
 * message for the first bad flag. The IPv4 flags must be valid already. */
export function planIPv6(f: IPv6Flags): IPv6Plan | null | string {
  if (f.ipv6 === false) {
    if (f.addr6 !== undefined || f.peer6 !== undefined) return '--no-ipv6 cannot be combined with --addr6 or --peer6';
    return null;
  }
  const derived = deriveDefaults(f.addr, f.peer);
  let addr6: Buffer;
  let peer6: Buffer;
  let len: number;
  if (f.peer6 !== undefined) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(f.peer6);
    const p = m === null ? null : ip6ToBytes(m[1]!);
    len = m === null ? 0 : Number(m[2]);
    if (p === null || len < 1 || len > 128) return `--peer6 ${f.peer6} is not IPv6/prefix (e.g. fd00:0:a37::1/64)`;
    const bad = unusable(p);
    if (bad !== null) return `--peer6 ${f.peer6} is ${bad}`;
    peer6 = p;
  } else {
    peer6 = derived.peer6;
    len = 64;
  }
  if (f.addr6 !== undefined) {
    const a = ip6ToBytes(f.addr6);
    if (a === null) return `--addr6 ${f.addr6} is not an IPv6 address`;
    const bad = unusable(a);
    if (bad !== null) return `--addr6 ${f.addr6} is ${bad}`;
    addr6 = a;
  } else if (f.peer6 === undefined) {
    addr6 = derived.addr6;
  } else {
    // The derived host bits inside the given prefix.
    addr6 = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) {
      const keep = Math.max(0, Math.min(8, len - 8 * i)); // prefix bits in this byte
      const mask = (0xff << (8 - keep)) & 0xff;
      addr6[i] = (peer6[i]! & mask) | (derived.addr6[i]! & ~mask & 0xff);
    }
    if (addr6.equals(peer6) || hostBitsZero(addr6, len)) {
      return `--peer6 ${f.peer6} leaves no host bits for the default --addr6: give --addr6 too`;
    }
  }
  if (addr6.equals(peer6)) return '--addr6 and --peer6 must differ';
  return { addr6: ip6ToString(addr6, 0), peer6: `${ip6ToString(peer6, 0)}/${len}` };
}

/** The default pair for IPv4 --addr and --peer (see the rule above). */
function deriveDefaults(addr: string, peer: string): { addr6: Buffer; peer6: Buffer } {
  const [peerIp = '', lenText = ''] = peer.split('/');
  const len = Number(lenText);
  const p = ipv4Number(peerIp);
  const a = ipv4Number(addr);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (p & mask) >>> 0;
  const hostP = (p & ~mask) >>> 0;
  const hostA = (a & ~mask) >>> 0;
  const inSubnet = ((a & mask) >>> 0) === net;
  const useWhole = !inSubnet || hostP === 0 || hostA === 0 || hostP === hostA;
  const make = (low: number): Buffer => {
    const b = Buffer.alloc(16);
    b[0] = 0xfd;
    b.writeUInt32BE(net, 4);
    b.writeUInt32BE(low, 12);
    return b;
  };
  return { peer6: make(useWhole ? p : hostP), addr6: make(useWhole ? a : hostA) };
}

function ipv4Number(s: string): number {
  return s.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function hostBitsZero(b: Uint8Array, len: number): boolean {
  for (let bit = len; bit < 128; bit++) if ((b[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  return true;
}

/** Why an address cannot be a unicast end of the link, or null. */
function unusable(b: Buffer): string | null {
  if (b[0] === 0xff) return 'a multicast address';
  let zeros = 0;
  while (zeros < 16 && b[zeros] === 0) zeros++;
  if (zeros === 16) return 'the unspecified address';
  if (zeros === 15 && b[15] === 1) return 'the loopback address';
  if (zeros === 10 && b[10] === 0xff && b[11] === 0xff) return 'an IPv4-mapped address (use --addr for IPv4)';
  return null;
}
