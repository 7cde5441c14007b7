/**
 * The path MTU cache (RFC 1191 §6.3, RFC 8201's IPv4 sibling): what
 * "fragmentation needed" said about each destination, for at most 10
 * minutes, after which the stack tries the link MTU again. Bounded: a flood
 * of errors naming many destinations evicts the oldest entries, never grows
 * the table. Only ICMP errors that a connection has validated (RFC 5927)
 * reach it.
 */

/** RFC 1191 §6.3: a PMTU estimate is raised again after 10 minutes (Linux ip_rt_mtu_expires). */
export const PMTU_EXPIRES_MS = 10 * 60_000;
/** Smallest path MTU believed (Linux ip_rt_min_pmtu, 512 + 20 + 20): a router claiming less gets this. */
export const MIN_PMTU = 552;
/** Destinations remembered at most. */
export const PMTU_CACHE_MAX = 4096;

/** A destination: an IPv4 address as a number, an IPv6 address as its text. */
export type PmtuKey = number | string;

interface Entry {
  mtu: number;
  expires: number;
}

export class PmtuCache {
  /** In insertion order, which is expiry order (every entry lives PMTU_EXPIRES_MS). */
  private readonly entries = new Map<PmtuKey, Entry>();

  constructor(private readonly max = PMTU_CACHE_MAX) {}

  get size(): number {
    return this.entries.size;
  }

  /** The path MTU to `dst`, or undefined when nothing (unexpired) is known. */
  get(dst: PmtuKey, now: number): number | undefined {
    const e = this.entries.get(dst);
    if (e === undefined) return undefined;
    if (e.expires > now) return e.mtu;
    this.entries.delete(dst);
    return undefined;
  }

  /**
   * Fragmentation needed said `reported` (0: an old router that does not
   * say). Returns the new, lower path MTU to `dst`, or 0 when it lowers
   * nothing (RFC 1191 §6.1: a PMTU never rises because of an ICMP message).
   * `min`: IPv6 passes 1280 (RFC 8201 §4, Linux __ip6_rt_update_pmtu).
   */
  lower(dst: PmtuKey, reported: number, linkMtu: number, now: number, min = MIN_PMTU): number {
    const current = this.get(dst, now) ?? linkMtu;
    // Linux __ip_rt_update_pmtu: below the minimum (0 included) means the minimum.
    const mtu = Math.max(min, reported);
    if (mtu >= current) return 0;
    this.entries.delete(dst);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(dst, { mtu, expires: now + PMTU_EXPIRES_MS });
    return mtu;
  }

  /** When the oldest entry expires (Infinity when empty). */
  nextExpiry(): number {
    for (const e of this.entries.values()) return e.expires;
    return Infinity;
  }

  /** Forget the entries expired by `now`; returns their destinations. */
  expire(now: number): PmtuKey[] {
    const gone: PmtuKey[] = [];
    for (const [dst, e] of this.entries) {
      if (e.expires > now) break;
      this.entries.delete(dst);
      gone.push(dst);
    }
    return gone;
  }
}
