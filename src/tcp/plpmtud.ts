/**
 * Packetization-layer path MTU discovery (RFC 4821) for paths that drop
 * ICMP, the search state as Linux keeps it (icsk_mtup, tcp_mtu_probing=1,
 * which tuntcp turns on by default): MTUs, not MSSs.
 *
 *  - Black hole: repeated timeouts of full-sized segments with no sign of
 *    delivery mean the big ones vanish. The first time, search from Linux's
 *    tcp_base_mss (1024) down; each time after, halve (RFC 4821 §7.7), but
 *    not below an MSS of 512.
 *  - Probing up (§7.3): while data flows, one segment of the size halfway
 *    between what works (searchLow) and what may not (searchHigh); its ACK
 *    raises searchLow, its loss lowers searchHigh (§7.5). The search stops
 *    once they are within PROBE_THRESHOLD and starts over after
 *    PROBE_INTERVAL_MS (§7.7, Linux tcp_probe_interval).
 *  - tcp_mtu_probing=2 (TcpConfig.mtuProbing 'always'): the search runs
 *    from the start, between tcp_base_mss and the handshake's MSS (start).
 *
 * The three Linux sysctls are TcpConfig.mtuSearch; the constants below are
 * their defaults.
 */

/** Linux tcp_base_mss: where the search starts once a black hole is seen. */
export const BASE_MSS = 1024;
/**
 * A black hole never takes the MSS below this: 512, the MSS of Linux's
 * smallest believed path MTU (ip_rt_min_pmtu, 552), as for ICMP. Linux's
 * tcp_mtu_probe_floor is 48, but on a path that merely loses a lot a
 * false detection would then cost a factor of 30 in packets; here at most 3.
 */
export const BLACK_HOLE_FLOOR_MSS = 512;
/** Linux tcp_probe_threshold: stop searching when the bounds are this close. */
export const PROBE_THRESHOLD = 8;
/** Linux tcp_probe_interval: search up again after this long. */
export const PROBE_INTERVAL_MS = 600_000;
/**
 * Timeouts in a row that mean a black hole: Linux's test (3 s of
 * retransmissions, tcp_retries1 = 3 modelled with a 200 ms RTO) first holds
 * at the fifth timeout.
 */
export const BLACK_HOLE_TIMEOUTS = 5;
/** IPv4 + TCP headers without options (IPv6: 60, the constructor's `headers`). */
const HEADERS = 40;

export class MtuSearch {
  /** A black hole was seen: the MTU is min(path MTU, searchLow) from now on. */
  enabled = false;
  /** Largest MTU known to work. */
  searchLow: number;
  /** Smallest MTU not known to fail, less one. */
  searchHigh = 0;
  /** MTU of the probe in flight, 0 when none. */
  probeSize = 0;
  /** The probe's sequence range [probeStart, probeEnd). */
  probeStart = 0;
  probeEnd = 0;
  /** When the last search step succeeded or began (re-search after PROBE_INTERVAL_MS). */
  private stamp = 0;

  constructor(
    private readonly headers = HEADERS,
    private readonly params = { baseMss: BASE_MSS, threshold: PROBE_THRESHOLD, interval: PROBE_INTERVAL_MS },
  ) {
    this.searchLow = params.baseMss + headers;
  }

  /**
   * Probing from the start (Linux tcp_mtup_init with tcp_mtu_probing=2):
   * from tcp_base_mss up to `high`, the MTU of the handshake's MSS.
   */
  start(high: number, now: number): void {
    this.enabled = true;
    this.searchLow = this.params.baseMss + this.headers;
    this.searchHigh = high;
    this.probeSize = 0;
    this.stamp = now;
  }

  /** The MTU to send for on a path whose MTU is at most `pathMtu`. */
  mtu(pathMtu: number): number {
    return this.enabled ? Math.min(pathMtu, this.searchLow) : pathMtu;
  }

  /** Another timeout of full-sized segments (Linux tcp_mtu_probing); true when the MTU to send for fell. */
  blackHole(pathMtu: number, now: number): boolean {
    const before = this.mtu(pathMtu);
    if (!this.enabled) {
      this.enabled = true;
      this.searchHigh = pathMtu;
      this.stamp = now;
    } else {
      const mss = Math.max(BLACK_HOLE_FLOOR_MSS, Math.min(this.params.baseMss, (this.mtu(pathMtu) - this.headers) >> 1));
      this.searchLow = mss + this.headers;
    }
    this.probeSize = 0;
    if (this.mtu(pathMtu) >= before) return false; // at the floor: not the MTU's fault
    // What just failed is an upper bound (RFC 4821 §7.5).
    this.searchHigh = Math.min(this.searchHigh, before - 1);
    return true;
  }

  /** The MTU of the next probe, or 0 if none is due. `pathMtu`: the most the path may take. */
  nextProbe(pathMtu: number, now: number): number {
    if (!this.enabled || this.probeSize !== 0) return 0;
    // The path bounds this probe, not the search: a route that grows again lets it go back up.
    let high = Math.min(this.searchHigh, pathMtu);
    if (high - this.searchLow < this.params.threshold) {
      // Linux tcp_mtu_check_reprobe: after a while the path may have grown again.
      if (now - this.stamp < this.params.interval || this.searchLow >= pathMtu) return 0;
      this.searchHigh = high = pathMtu;
      this.stamp = now;
    }
    return (this.searchLow + high) >> 1;
  }

  /** The probe [start, end) of `size` bytes of MTU went out. */
  probeSent(size: number, start: number, end: number): void {
    this.probeSize = size;
    this.probeStart = start;
    this.probeEnd = end;
  }

  /** RFC 4821 §7.6.1: the probe arrived: its size works. */
  probeAcked(now: number): void {
    this.searchLow = this.probeSize;
    this.probeSize = 0;
    this.stamp = now;
  }

  /** RFC 4821 §7.6.2: the probe was lost: its size may not work. */
  probeLost(): void {
    this.searchHigh = this.probeSize - 1;
    this.probeSize = 0;
  }
}
