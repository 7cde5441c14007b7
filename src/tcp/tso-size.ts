/**
 * How large one TSO packet may be, as Linux 6.18 decides it in
 * tcp_write_xmit. One function serves both users, as in Linux: the sender
 * cuts its super-segments with it, and the send-buffer model (wmem.ts) cuts
 * its skbs where those packets end.
 *
 * - tcp_tso_autosize: about a millisecond at the pacing rate (which Linux
 *   keeps whether it paces or not: tcp_update_pacing_rate, pacing.ts), at
 *   least tcp_min_tso_segs (TcpConfig.minTsoSegs) segments; on short paths
 *   a share of the GSO limit is added (gso_max_size >> (min_rtt_us >>
 *   tcp_tso_rtt_log), log 9), so a sub-millisecond path still gets
 *   full-sized packets. Before any RTT sample the rate is unknown
 *   (sk_pacing_rate starts at ~0UL): the whole GSO limit.
 * - tcp_cwnd_test: half the congestion window, so at least two TSO packets
 *   are in flight.
 *
 * The count matters on the wire: Linux forces PSH on every packet of more
 * than one segment (push-points.ts), so the cut decides where PSH goes.
 */

/** Linux GSO_LEGACY_MAX_SIZE: a device's default gso_max_size. */
export const GSO_MAX_SIZE = 65536;
/** Linux net.ipv4.tcp_tso_rtt_log default. */
const TSO_RTT_LOG = 9;
/** Linux sk_pacing_shift default: the autosize is rate >> 10, about a millisecond. */
const PACING_SHIFT = 10;

/**
 * Segments one TSO packet may carry. cwnd in bytes; pacingRate in bytes per
 * ms (0: unknown, no limit from the rate); minRtt in ms (Infinity: none).
 */
export function tsoSegs(mss: number, cwnd: number, pacingRate: number, minRtt: number, minSegs: number): number {
  let bytes = GSO_MAX_SIZE;
  if (pacingRate > 0) {
    bytes = Math.floor((pacingRate * 1000) / 2 ** PACING_SHIFT); // sk_pacing_rate (bytes/s) >> sk_pacing_shift
    const r = Number.isFinite(minRtt) && minRtt >= 0 ? Math.floor((minRtt * 1000) / 2 ** TSO_RTT_LOG) : 32;
    if (r < 32) bytes += Math.floor(GSO_MAX_SIZE / 2 ** r);
    bytes = Math.min(bytes, GSO_MAX_SIZE);
  }
  const segs = Math.max(Math.floor(bytes / mss), minSegs);
  // tcp_cwnd_test: at most half the congestion window (in segments, at least one).
  const halfCwnd = Math.max(Math.floor(cwnd / mss) >> 1, 1);
  return Math.min(segs, halfCwnd);
}

/** BBR's own tcp_min_tso_segs (bbr_min_tso_segs): 1 below 1.2 Mbit/s, else 2. */
export function bbrMinTsoSegs(pacingRate: number): number {
  return pacingRate * 1000 < 1_200_000 / 8 ? 1 : 2;
}
