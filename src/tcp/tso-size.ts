/**
 * How large one offloaded super-segment may be. Linux does not fill its
 * 64 KB GSO limit blindly: tcp_write_xmit cuts each TSO packet to
 *
 * - tcp_tso_autosize: about a millisecond at the pacing rate (which Linux
 *   computes whether it paces or not: tcp_update_pacing_rate, 200 % of
 *   cwnd/SRTT in slow start, 120 % after), at least tcp_min_tso_segs
 *   (TcpConfig.minTsoSegs, 2) segments; on short paths a share of the GSO
 *   limit is added (gso_max_size >> (min_rtt_us >> tcp_tso_rtt_log), log 9),
 *   so a sub-millisecond path still gets full-sized packets;
 * - tcp_cwnd_test: half the congestion window, so at least two TSO packets
 *   are in flight.
 *
 * The count matters on the wire: Linux forces PSH on every packet of more
 * than one segment (push-points.ts), so the cut decides where PSH goes.
 */
import { PACING_CA_RATIO, PACING_SS_RATIO } from './pacing.js';

/** Linux GSO_LEGACY_MAX_SIZE: a device's default gso_max_size. */
const GSO_MAX_SIZE = 65536;
/** Linux net.ipv4.tcp_tso_rtt_log default. */
const TSO_RTT_LOG = 9;

/**
 * Segments one super-segment may carry. cwnd and inFlight in bytes, srtt and
 * minRtt in ms (0 or non-finite: not measured yet, no limit from the rate).
 */
export function tsoSegs(mss: number, cwnd: number, ssthresh: number, inFlight: number, srtt: number, minRtt: number, minSegs: number): number {
  let bytes = GSO_MAX_SIZE;
  if (srtt > 0 && Number.isFinite(srtt)) {
    const ratio = cwnd < ssthresh / 2 ? PACING_SS_RATIO : PACING_CA_RATIO;
    const ratePerSec = ((ratio / 100) * Math.max(cwnd, inFlight) * 1000) / srtt;
    bytes = Math.floor(ratePerSec / 1024); // sk_pacing_rate >> sk_pacing_shift (10)
    const r = Number.isFinite(minRtt) && minRtt >= 0 ? Math.floor((minRtt * 1000) / 2 ** TSO_RTT_LOG) : 32;
    if (r < 32) bytes += Math.floor(GSO_MAX_SIZE / 2 ** r);
    bytes = Math.min(bytes, GSO_MAX_SIZE);
  }
  const segs = Math.max(Math.floor(bytes / mss), minSegs);
  // tcp_cwnd_test: at most half the congestion window (in segments, at least one).
  const halfCwnd = Math.max(Math.floor(cwnd / mss) >> 1, 1);
  return Math.min(segs, halfCwnd);
}
